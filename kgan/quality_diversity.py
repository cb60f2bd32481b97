"""Quality-diversity curves of a text GAN beside its maximum-likelihood start, over the sampling
temperature (Caccia et al., "Language GANs falling short", ICLR 2020).

A temperature below 1 makes a language model's samples more typical and less varied; above 1,
the reverse. One temperature flatters whichever model sits at the better end of that trade, so
each model is swept over temperatures and drawn as a curve: a quality figure of its samples
against a diversity figure. The GAN is ahead where its curve passes the MLE model's at equal
diversity; the summary is the mean gap between the curves where both reach the same diversity.

- Diversity: NLL-test, the model's own negative log-likelihood a token of the held-out
  sequences (lower: it gives more of the real data high likelihood).
- Quality on the oracle: NLL-oracle, the oracle's negative log-likelihood a token of 5,000
  samples (lower is better); the gap is in percent of the MLE model's NLL-oracle.
- Quality on text that ends (names, text files): BLEU-4 of 200 samples against the held-out
  texts (higher is better); the gap is in BLEU-4. Each temperature also reports the share of
  1,000 samples that are distinct and not training texts, and their bigram distance to the
  held-out texts.

Example:
    >>> curves = quality_diversity(gan.sampling_generator, mle_generator, text_source("names"))
    >>> curves["gap"]  # BLEU-4 the GAN gains at equal NLL-test (positive: GAN ahead)
"""

import io

import numpy as np

from kgan.data.text import decode
from kgan.errors import KganError
from kgan.mle import nll
from kgan.runtime.images import atomic_write_bytes
from kgan.runtime.metrics.text import bigram_distance, bleu, novelty, uniqueness
from kgan.runtime.text import split_tokens

__all__ = ["TEMPERATURES", "sweep", "frontier", "curve_gap", "quality_diversity", "draw"]

TEMPERATURES = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2)
ORACLE_SAMPLES, TEXT_SAMPLES, BLEU_SAMPLES = 5000, 1000, 200


def _tokens(generator, n, seed):
    u = np.random.default_rng(10_000 + seed).random((n, generator.length), dtype=np.float32)
    return np.concatenate([np.asarray(generator(u[i : i + 1000])) for i in range(0, n, 1000)])


def sweep(generator, text, temperatures=TEMPERATURES, seed=0):
    """A sequence generator's figures at each sampling temperature (the generator is left as it was).

    Args:
        generator: a `SequenceGenerator` (its `temperature` is set for each point, then restored).
        text: the `kgan.data.text.TextData` it was trained on.
        temperatures: sampling temperatures.
        seed: the uniforms' seed (the same draws at every temperature).

    Returns:
        One dict a temperature: `temperature`, `nll_test` and `quality` (`nll_oracle` on the oracle,
        `bleu_4` on text that ends, with `uniqueness`, `novelty` and `bigram_distance`).
    """
    if not temperatures or any(not float(t) > 0 for t in temperatures):
        raise KganError(f"temperatures must be positive numbers, got {list(temperatures)}")
    ended = text.vocabulary[0] == ""
    if text.oracle is None and not ended:
        raise KganError("a quality-diversity curve needs the oracle or text that ends (names, text files)")
    def tokens_of(texts):
        return [split_tokens(t, text.separator) for t in texts]

    references = tokens_of(decode(text.held_out, text.vocabulary, text.separator)) if ended else None
    training = decode(text.train, text.vocabulary, text.separator) if ended else None
    saved, points = generator.temperature, []
    try:
        for temperature in sorted(float(t) for t in temperatures):
            generator.temperature = temperature
            point = {"temperature": temperature, "nll_test": nll(generator, text.held_out)}
            if text.oracle is not None:
                point["quality"] = point["nll_oracle"] = text.oracle.nll(_tokens(generator, ORACLE_SAMPLES, seed))
            else:
                shown = decode(_tokens(generator, TEXT_SAMPLES, seed), text.vocabulary, text.separator)
                split = tokens_of(shown)
                point["quality"] = point["bleu_4"] = bleu(split[:BLEU_SAMPLES], references, orders=(4,))[4]
                point.update(uniqueness=uniqueness(shown), novelty=novelty(shown, training),
                             bigram_distance=bigram_distance(split, references))
            points.append(point)
    finally:
        generator.temperature = saved
    return points


def frontier(points, higher_is_better):
    """`(nll_test, quality)` of the points no other point beats on both, by rising NLL-test: past the
    temperature of its lowest NLL-test a model loses quality and diversity together.

    Args:
        points: dicts with `nll_test` and `quality`, as `sweep` gives them.
        higher_is_better: whether a higher quality figure is better.
    """
    kept, best = [], None
    for x, y in sorted((p["nll_test"], p["quality"]) for p in points):
        if best is None or (y > best if higher_is_better else y < best):
            kept.append((x, y))
            best = y
    return kept


def curve_gap(model, baseline, higher_is_better, relative=False, grid=50):
    """How far `model`'s curve is ahead of `baseline`'s at equal diversity.

    Args:
        model: the compared model's points with `nll_test` (diversity) and `quality`, as `sweep` gives
            them; its curve is their `frontier`.
        baseline: the points it is compared with (the MLE model's), likewise.
        higher_is_better: whether a higher quality figure is better.
        relative: the gap in percent of the baseline's quality figure, not in its units.
        grid: diversity values the curves are compared at, evenly over the overlap.

    Returns:
        `{"gap", "worst", "overlap"}`: the mean and the least favourable signed gap (positive: the
        model is ahead), and the NLL-test range both curves reach; None when they share none.
    """
    def line(points):
        x, y = zip(*frontier(points, higher_is_better))
        return np.asarray(x), np.asarray(y)

    (mx, my), (bx, by) = line(model), line(baseline)
    low, high = max(mx[0], bx[0]), min(mx[-1], bx[-1])
    if not low < high:
        return None
    x = np.linspace(low, high, grid)
    ours, theirs = np.interp(x, mx, my), np.interp(x, bx, by)
    gap = (ours - theirs) if higher_is_better else (theirs - ours)
    if relative:
        gap = 100.0 * gap / np.abs(theirs)
    return {"gap": float(gap.mean()), "worst": float(gap.min()), "overlap": [float(low), float(high)]}


def quality_diversity(generator, mle_generator, text, temperatures=TEMPERATURES, seed=0):
    """Both models' sweeps and the gap between their curves (see the module docstring).

    Args:
        generator: the GAN's sampling generator (a `SequenceGenerator`).
        mle_generator: the maximum-likelihood model to compare with (the run's `mle.keras`).
        text: the `kgan.data.text.TextData` both were trained on.
        temperatures: sampling temperatures of the sweeps.
        seed: the uniforms' seed.

    Returns:
        `{"quality", "gan", "mle", "gap", "worst", "overlap", "gap_unit"}`: the quality figure's name, the
        two sweeps, and `curve_gap` of the GAN against the MLE model (None where the curves do not overlap).
    """
    gan, mle = sweep(generator, text, temperatures, seed), sweep(mle_generator, text, temperatures, seed)
    oracle = text.oracle is not None
    gap = curve_gap(gan, mle, higher_is_better=not oracle, relative=oracle) or {"gap": None, "worst": None,
                                                                                 "overlap": None}
    return {"quality": "nll_oracle" if oracle else "bleu_4", "gan": gan, "mle": mle,
            "gap_unit": "% of NLL-oracle" if oracle else "BLEU-4", **gap}


def draw(curves, path, title=None):
    """Draws both curves of `quality_diversity` into a PNG (matplotlib).

    Args:
        curves: what `quality_diversity` returns.
        path: the PNG to write.
        title: the plot's title (default: the gap).
    """
    try:
        import matplotlib
    except ImportError:
        raise KganError("drawing the curves needs matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label = {"nll_oracle": "NLL-oracle (lower is better)", "bleu_4": "BLEU-4 against held-out text (higher is better)"}
    figure, axes = plt.subplots(figsize=(5.5, 4), dpi=110)
    for name, points, style in (("GAN", curves["gan"], "o-"), ("MLE", curves["mle"], "s--")):
        x, y = [p["nll_test"] for p in points], [p["quality"] for p in points]
        axes.plot(x, y, style, label=name)
        for p in points:
            axes.annotate(f"{p['temperature']:g}", (p["nll_test"], p["quality"]), fontsize=7,
                          textcoords="offset points", xytext=(3, 3))
    axes.set_xlabel("NLL-test (lower: more diverse)")
    axes.set_ylabel(label[curves["quality"]])
    if curves.get("gap") is not None:
        axes.set_title(title or f"GAN ahead by {curves['gap']:+.3g} {curves['gap_unit']} at equal NLL-test",
                       fontsize=9)
    axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
