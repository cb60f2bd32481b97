"""The `names` preset against its own maximum-likelihood start, on the census first names.

    python benchmarks/census_names.py [--seeds 0 1 2 3 4] [--weights W ...] [--out benchmarks/names.jsonl]

Each seed trains the preset (`kgan train --preset names --seed S`) once for each likelihood weight
(`--mle-weight`; default: the preset's and 0, the adversarial loss alone) and scores each run with
`kgan evaluate RUN`: uniqueness and novelty of 1,000 samples, NLL-test, the bigram distance to
the held-out names, and both models' quality-diversity curves (BLEU-4 against NLL-test over
sampling temperatures 0.7 to 1.2, `kgan.quality_diversity`) with the gap between them. The MLE
model is the run's generator when its game starts (`RUN/mle.keras`): the same for every weight of
a seed. Each invocation appends a line to `--out`, which the documentation's Benchmarks page
draws (`section`).
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FIGURES = (("uniqueness", "unique", 100, ".1f"), ("novelty", "novel", 100, ".1f"), ("nll_test", "NLL-test", 1, ".3f"),
           ("bigram_distance", "bigram distance", 1, ".4f"), ("bleu_4", "BLEU-4", 1, ".3f"))


def _at(points, temperature=1.0):
    return next(p for p in points if p["temperature"] == temperature)


def measure(seeds, weights, log=print):
    import kgan
    from kgan.evaluate import evaluate
    from kgan.runtime.text import decode

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for weight in weights:
                out = os.path.join(tmp, f"s{seed}_w{weight}")
                started = time.time()
                result = kgan.train(kgan.get_preset("names").replace(out=out, export=False, seed=seed, mle_weight=weight),
                                    verbose=0, log=lambda *_: None)
                seconds = time.time() - started
                report = evaluate(out, samples=1000)
                spec = result.gan.sample_spec
                examples = decode(result.gan.generate(12, seed=0), spec.vocabulary, spec.separator or "")
                curves = report["curves"]
                run = {"seed": seed, "mle_weight": weight, "seconds": round(seconds, 1), "curves": curves,
                       "gan": _at(curves["gan"]), "mle": _at(curves["mle"]), "examples": list(examples)}
                log(f"seed {seed} weight {weight}: {seconds:.0f} s, unique {run['gan']['uniqueness']:.3f} (MLE "
                    f"{run['mle']['uniqueness']:.3f}), gap {curves['gap']} worst {curves['worst']}")
                runs.append(run)
    return {"samples": 1000, "seeds": list(seeds), "weights": list(weights), "runs": runs}


def section(row):
    """The Benchmarks page's Names section, from one result line."""
    import numpy as np

    from record import source

    def cell(values, scale, fmt):
        values = scale * np.asarray(values, np.float64)
        spread = fmt.lstrip("+")
        return f"{values.mean():{fmt}} ± {values.std():{spread}}" if len(values) > 1 else f"{values[0]:{fmt}}"

    runs, seeds = row["runs"], row["seeds"]
    header = "| model | " + " | ".join(label for _, label, _, _ in FIGURES) + " | curve gap (BLEU-4) | least gap |"
    lines = [header, "| --- |" + " ---: |" * (len(FIGURES) + 2)]
    first = [r for r in runs if r["mle_weight"] == row["weights"][0]]
    lines.append("| MLE start (temperature 1) | " + " | ".join(
        cell([r["mle"][key] for r in first], scale, fmt) for key, _, scale, fmt in FIGURES) + " | | |")
    for weight in row["weights"]:
        mine = [r for r in runs if r["mle_weight"] == weight]
        name = f"GAN, mle_weight {weight:g}" + (" (the preset)" if weight == row.get("preset_weight") else "")
        gaps = [r["curves"]["gap"] for r in mine if r["curves"]["gap"] is not None]
        worst = [r["curves"]["worst"] for r in mine if r["curves"]["worst"] is not None]
        gap = f"{cell(gaps, 1, '+.3f')} | {min(worst):+.3f}" if gaps else "no overlap |"
        lines.append(f"| {name} | " + " | ".join(cell([r["gan"][key] for r in mine], scale, fmt)
                                                for key, _, scale, fmt in FIGURES) + f" | {gap} |")
    preset = next((r for r in runs if r["mle_weight"] == row.get("preset_weight")), runs[0])
    return "\n\n".join([source(row), (
        f"Seeds {', '.join(map(str, seeds))} (mean ± standard deviation over seeds), each figure at sampling temperature 1 "
        "on 1,000 samples (BLEU-4 on the first 200). Unique and novel in percent; NLL-test is the model's own "
        "negative log-likelihood a character of the 516 held-out names; the bigram distance is the Jensen-Shannon "
        "divergence of character pairs to theirs. The curve gap is the BLEU-4 the GAN's curve is ahead of its MLE "
        "start's at equal NLL-test, averaged over the NLL-test both reach across temperatures 0.7 to 1.2; the "
        "least gap is the worst point of any seed:"), "\n".join(lines),
        f"Twelve of the preset's samples (seed {preset['seed']}): {', '.join(preset['examples'])}."])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--weights", type=float, nargs="+", help="likelihood weights (default: the preset's, and 0)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "names.jsonl"))
    args = parser.parse_args()
    import kgan
    from record import append

    preset_weight = kgan.get_preset("names").mle_weight
    weights = args.weights or [preset_weight, 0.0]
    row = measure(args.seeds, weights)
    print(section(append(args.out, dict(row, preset_weight=preset_weight))))


if __name__ == "__main__":
    main()
