"""Maximum likelihood against kgan's sequence GAN on SeqGAN's oracle, with a temperature sweep.

    python benchmarks/text.py [--seeds 0 1 2 3 4] [--out benchmarks/text.jsonl]

Each seed trains the `oracle` preset with `kgan.train`. The MLE model is the generator
when the adversarial phase starts (after the preset's maximum-likelihood pretraining);
the GAN is the generator when it ends: one run gives both, from the same start. Each is
measured by NLL-oracle (the oracle's mean negative log-likelihood a token of 5,000
samples: quality, lower is better) and NLL-test (the model's of the 2,000 held-out oracle
sequences: diversity, lower is better), at sampling temperature 1 and over a sweep of
temperatures (Caccia et al., ICLR 2020: a temperature trades one for the other, so a model
is better only if no temperature of the other matches it on both). Results go to
`--out`; `python docs/figures.py --only text-temperature` draws the sweep. The documentation's Benchmarks page draws the table from `--out`.
"""

import argparse
import json
import os
import sys

import numpy as np

from record import provenance  # benchmarks/record.py

TEMPERATURES = (0.7, 0.8, 0.9, 1.0, 1.1)
SAMPLES = 5000


def measure(generator, text, seed):
    """`{temperature: (nll_oracle, nll_test)}` of a sequence generator."""
    from kgan.mle import nll

    saved = generator.temperature
    out = {}
    try:
        for temperature in TEMPERATURES:
            generator.temperature = temperature
            u = np.random.default_rng(10_000 + seed).random((SAMPLES, generator.length), dtype=np.float32)
            tokens = np.concatenate([np.asarray(generator(u[i:i + 1000])) for i in range(0, SAMPLES, 1000)])
            out[temperature] = (text.oracle.nll(tokens), nll(generator, text.held_out))
    finally:
        generator.temperature = saved
    return out


def run(seed, log=print):
    import keras

    import kgan
    from kgan.data.text import text_source

    text = text_source("oracle")
    found = {}

    class Measure(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            found["mle"] = measure(self.model.sampling_generator, text, seed)

        def on_train_end(self, logs=None):
            found["gan"] = measure(self.model.sampling_generator, text, seed)

    config = kgan.get_preset("oracle").replace(seed=seed, export=False, out=os.path.join("benchmarks", "runs",
                                                                                         "oracle", f"s{seed}"))
    result = kgan.train(config, callbacks=[Measure()], verbose=0, log=lambda *_: None)
    row = {"seed": seed, "seconds": round(result.seconds, 1),
           **{f"{model}_{key}": {str(t): v[i] for t, v in found[model].items()}
              for model in ("mle", "gan") for i, key in enumerate(("nll_oracle", "nll_test"))}}
    log(json.dumps(row))
    return row


def tempered_mle(row):
    """The MLE model's NLL-test at the GAN's NLL-oracle (temperature 1), interpolated linearly
    along the MLE's temperature sweep: below the GAN's NLL-test, a temperature of the MLE model
    matches the GAN on both axes."""
    sweep = sorted((row["mle_nll_oracle"][str(t)], row["mle_nll_test"][str(t)]) for t in TEMPERATURES)
    quality, diversity = zip(*sweep)
    return float(np.interp(row["gan_nll_oracle"]["1.0"], quality, diversity))


def curve_gap(row):
    """`kgan.quality_diversity.curve_gap` of a row's sweeps: how far below the MLE model's NLL-oracle the
    GAN's is at equal NLL-test, in percent, on average and at its least over the NLL-test both reach."""
    from kgan.quality_diversity import curve_gap as gap

    def points(model):
        return [{"temperature": float(t), "quality": row[f"{model}_nll_oracle"][t], "nll_test": row[f"{model}_nll_test"][t]}
                for t in row[f"{model}_nll_oracle"]]

    return gap(points("gan"), points("mle"), higher_is_better=False, relative=True)


def table(rows):
    def at_one(row, key):
        return row[key]["1.0"]

    def ahead(found):
        return f"{found['gap']:.1f} % ({found['worst']:.1f} %)" if found else "no overlap"

    lines = ["| seed | MLE NLL-oracle | GAN NLL-oracle | change | MLE NLL-test | GAN NLL-test | "
             "tempered MLE's NLL-test at the GAN's NLL-oracle | GAN's curve below MLE's (least) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        mle, gan = at_one(row, "mle_nll_oracle"), at_one(row, "gan_nll_oracle")
        lines.append(f"| {row['seed']} | {mle:.3f} | {gan:.3f} | {100 * (gan / mle - 1):+.1f} % | "
                     f"{at_one(row, 'mle_nll_test'):.3f} | {at_one(row, 'gan_nll_test'):.3f} | "
                     f"{tempered_mle(row):.3f} | {ahead(curve_gap(row))} |")
    gaps = [curve_gap(r) for r in rows]
    mle = np.array([at_one(r, "mle_nll_oracle") for r in rows])
    gan = np.array([at_one(r, "gan_nll_oracle") for r in rows])
    tests = {k: np.array([at_one(r, f"{k}_nll_test") for r in rows]) for k in ("mle", "gan")}
    lines.append(f"| mean ± sd | {mle.mean():.3f} ± {mle.std(ddof=1) if len(rows) > 1 else 0:.3f} | "
                 f"{gan.mean():.3f} ± {gan.std(ddof=1) if len(rows) > 1 else 0:.3f} | "
                 f"{100 * (gan.mean() / mle.mean() - 1):+.1f} % | {tests['mle'].mean():.3f} | {tests['gan'].mean():.3f} | "
                 f"{np.mean([tempered_mle(r) for r in rows]):.3f} | "
                 + (f"{np.mean([g['gap'] for g in gaps]):.1f} % ({min(g['worst'] for g in gaps):.1f} %) |"
                    if all(gaps) else "|"))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", default=os.path.join("benchmarks", "text.jsonl"))
    args = parser.parse_args(argv)
    done = {}
    if os.path.exists(args.out):
        with open(args.out) as handle:
            done = {row["seed"]: row for row in map(json.loads, handle)}
    for seed in args.seeds:
        if seed not in done:
            done[seed] = {**provenance(), **run(seed)}
            with open(args.out, "a") as handle:
                handle.write(json.dumps(done[seed]) + "\n")
    rows = [done[s] for s in args.seeds]
    print(table(rows))  # the sweeps' figure: python docs/figures.py --only text-temperature
    return 0


if __name__ == "__main__":
    sys.exit(main())
