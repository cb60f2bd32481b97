"""R3GAN against DCGAN at the same training time: the digits' FID and stacked digits' modes, 3 seeds.

    python benchmarks/r3gan.py [--datasets digits stacked-digits] [--variants dcgan rpgan r3gan]
                               [--seeds 0 1 2] [--jobs 2] [--out benchmarks/r3gan.jsonl]

Three variants a data set, each trained from scratch in a fresh process (one TensorFlow thread,
`--jobs` at a time, as the presets' other benchmarks run):

- `dcgan`: the DCGAN preset as `kgan train --preset digits` (or `stacked-digits`) runs it (on stacked
  digits, the runs `benchmarks/quality.py` recorded of the same preset, `earlier_rows`);
- `rpgan`: the same networks, batch and steps on R3GAN's loss alone: the pairing loss with R1 and
  R2 (gamma 1), no label smoothing;
- `r3gan`: the `digits-r3gan` (or `stacked-r3gan`) preset, whose step count was set so that it
  trains in the DCGAN preset's time.

Each run is scored by `kgan.evaluate` on its saved model: on the digits, FID in the digit
classifier's features against the held-out digits, with the real-vs-real floor (1,000 samples);
on stacked digits, the modes of 1,000 covered and the KL of their histogram to uniform (26,000
samples, as PacGAN's Table 2). Every finished run is appended to `--out`, so an interrupted run
starts again where it stopped; the documentation's Benchmarks page draws its table from the file.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import tempfile

import numpy as np

from record import provenance  # benchmarks/record.py

PRESETS = {("digits", "dcgan"): "digits", ("digits", "rpgan"): "digits", ("digits", "r3gan"): "digits-r3gan",
           ("stacked-digits", "dcgan"): "stacked-digits", ("stacked-digits", "rpgan"): "stacked-digits",
           ("stacked-digits", "r3gan"): "stacked-r3gan"}
SAMPLES = {"digits": 1000, "stacked-digits": 26_000}
VARIANTS = ("dcgan", "rpgan", "r3gan")
NAMES = {"dcgan": "DCGAN preset", "rpgan": "DCGAN networks, `rpgan` + R1 + R2 (γ 1)", "r3gan": "**r3gan preset**"}


def variant_config(dataset, variant):
    """The configuration a (data set, variant) trains."""
    import kgan

    config = kgan.get_preset(PRESETS[dataset, variant])
    if variant == "rpgan":
        config = config.replace(loss="rpgan", label_smoothing=0.0, r1_penalty=1.0, r2_penalty=1.0)
    return config


def run_one(dataset, variant, seed):
    """Trains and scores one run; in a worker process with one TensorFlow thread."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    import kgan
    from kgan.evaluate import evaluate

    config = variant_config(dataset, variant)
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "run")
        result = kgan.train(config.replace(seed=seed, out=out, export=False), verbose=0, log=lambda *_: None)
        report = evaluate(out, samples=SAMPLES[dataset], seed=0)
    keys = ("fid", "fid_floor", "kid", "precision", "recall", "coverage", "modes", "kl")
    return {"dataset": dataset, "variant": variant, "seed": seed, "preset": config.preset, "model": config.model,
            "loss": config.loss, "seconds": round(result.seconds, 1), "steps": int(result.gan.g_optimizer.iterations),
            "params": int(result.gan.generator.count_params() + result.gan.discriminator.count_params()),
            **{k: report[k] for k in keys if k in report}}


def earlier_rows(seeds=(0, 1, 2)):
    """The stacked-digits DCGAN preset's runs that `benchmarks/quality.py` recorded ("kgan preset" at batch
    64, the same configuration, machine and protocol), in this file's form: not trained again."""
    from record import rows

    return [{**r, "variant": "dcgan", "preset": "stacked-digits", "params": r.get("g_params", 0) + r.get("d_params", 0)}
            for r in rows("quality.jsonl") if r["dataset"] == "stacked-digits" and r["variant"] == "kgan preset"
            and r.get("batch_size") == 64 and r["seed"] in seeds]


def _mean_se(values):
    values = np.asarray(values, np.float64)
    return values.mean(), (values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0)


def table(rows):
    """The Markdown table of the runs: a line a variant, a column group a data set (mean ± s.e., worst seed)."""
    lines = ["| variant | digits: FID ÷ floor (worst) | train time | stacked digits: modes / KL (worst KL) | train time | "
             "seeds | parameters |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for variant in VARIANTS:
        cells, seeds, params = [], set(), set()
        for dataset in ("digits", "stacked-digits"):
            runs = [r for r in rows if r["dataset"] == dataset and r["variant"] == variant]
            seeds |= {r["seed"] for r in runs}
            params |= {r["params"] for r in runs}
            if not runs:
                cells += ["", ""]
                continue
            seconds = f"{np.mean([r['seconds'] for r in runs]):.0f} s"
            if dataset == "digits":
                ratios = [r["fid"] / r["fid_floor"] for r in runs]
                cells += ["{:.2f} ± {:.2f}× ({:.2f}×)".format(*_mean_se(ratios), max(ratios)), seconds]
            else:
                kls = [r["kl"] for r in runs]
                cells += ["{:.0f} / {:.3f} ± {:.3f} ({:.3f})".format(
                    np.mean([r["modes"] for r in runs]), *_mean_se(kls), max(kls)), seconds]
        counts = ", ".join(f"{p:,}" for p in sorted(params) if p)
        lines.append(f"| {NAMES[variant]} | " + " | ".join(cells) + f" | {len(seeds)} | {counts} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "stacked-digits"], choices=list(SAMPLES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "r3gan.jsonl"))
    args = parser.parse_args()
    done = []
    if os.path.isfile(args.out):
        with open(args.out) as handle:
            done = [json.loads(line) for line in handle if line.strip()]
    finished = {(r["dataset"], r["variant"], r["seed"], r["preset"], r["steps"]) for r in done + earlier_rows()}
    todo = []
    for variant in args.variants:
        for dataset in args.datasets:
            config = variant_config(dataset, variant)
            config.validate()
            steps = config.epochs * config.steps_per_epoch if config.steps_per_epoch else None
            todo += [(dataset, variant, s) for s in args.seeds
                     if not any(f[:4] == (dataset, variant, s, config.preset) and (steps is None or f[4] == steps)
                                for f in finished)]
    from kgan.features import DomainFeatures

    DomainFeatures("digits").held_out_accuracy  # train the cached digit classifier once, before the workers
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=context, max_tasks_per_child=1) as pool:
        for future in concurrent.futures.as_completed([pool.submit(run_one, *job) for job in todo]):
            row = {**provenance(), **future.result()}
            done.append(row)
            with open(args.out, "a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    print(table(done + earlier_rows(args.seeds)))


if __name__ == "__main__":
    main()
