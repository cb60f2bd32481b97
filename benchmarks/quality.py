"""PacGAN's Tables 1 and 2 with kgan: mode coverage of a vanilla GAN, PacGAN2-4 and kgan's presets.

    python benchmarks/quality.py [--datasets ring8 grid25 stacked-digits] [--seeds 0 1 2 3 4]
                                 [--jobs 2] [--results quality.jsonl]

Every row trains the data set's preset networks with its batch and optimizer: "GAN" is
the preset without its stabilizers (no packing, R1 penalty or weight averaging) for
BASELINE_EPOCHS x 200 steps, "PacGANm" is that GAN with m samples packed into the
discriminator, and "kgan preset" is the preset as `kgan train --preset NAME` runs it
(its own number of steps, shown in the tables). Each run is scored by
`kgan.evaluate` on its saved model: 2,500 samples for ring8 / grid25 (modes, % high
quality, reverse KL), 26,000 for stacked digits (modes of 1,000, KL to uniform), as in
the paper. Figures are mean ± standard error over the seeds. A "real data" row scores
the data set's own samples the same way (seeds 1000 + seed): the best a generator can
reach under this protocol, e.g. the KL that 26,000 draws of a uniform 1,000 modes give.

Runs go to a pool of `--jobs` processes with one TensorFlow thread each, in the order
of `--variants`, and every finished run is appended to `--results` (JSON lines,
`benchmarks/quality.jsonl` by default, kept in the repository), so an interrupted
benchmark starts again where it stopped. The documentation's Benchmarks page draws the tables from it
(`tables`), with the real data's rows, which are recorded there too.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import tempfile
import time

import numpy as np

from record import provenance  # benchmarks/record.py

# The paper's figures (Lin et al., "PacGAN", NeurIPS 2018): Table 1 (2-D mixtures,
# mean ± s.e. over 10 runs) and Table 2 (stacked MNIST, mean ± s.e.).
PUBLISHED = {
    "ring8": {
        "GAN": "6.3 ± 0.5 / 98.2 ± 0.2 % / 0.45 ± 0.09",
        "PacGAN2": "7.9 ± 0.1 / 95.6 ± 2.0 % / 0.07 ± 0.03",
        "PacGAN3": "7.8 ± 0.1 / 97.7 ± 0.3 % / 0.10 ± 0.02",
        "PacGAN4": "7.8 ± 0.1 / 95.9 ± 1.4 % / 0.07 ± 0.02",
    },
    "grid25": {
        "GAN": "17.3 ± 0.8 / 94.8 ± 0.7 % / 0.70 ± 0.07",
        "PacGAN2": "23.8 ± 0.7 / 91.3 ± 0.8 % / 0.13 ± 0.04",
        "PacGAN3": "24.6 ± 0.4 / 94.2 ± 0.4 % / 0.06 ± 0.02",
        "PacGAN4": "24.8 ± 0.2 / 93.6 ± 0.6 % / 0.04 ± 0.01",
    },
    "stacked-digits": {
        "GAN": "99.0 / 3.40 (DCGAN)",
        "PacGAN2": "1000.0 ± 0.0 / 0.06 ± 0.003",
        "PacGAN3": "1000.0 ± 0.0 / 0.06 ± 0.003",
        "PacGAN4": "1000.0 ± 0.0 / 0.07 ± 0.005",
    },
}
# The preset with a faster update (kgan.GAN's `update`), on the 2-D mixtures.
SPEED_VARIANTS = ("preset reuse_fakes", "preset simultaneous")
# MGAN (Hoang et al., ICLR 2018): the GAN row's networks, loss and steps, K generators and a member head.
# "shared": every member but its first layer is member 0's (MGAN's own parameter sharing).
MGAN_VARIANTS = ("MGAN4", "MGAN8", "MGAN4 shared", "MGAN8 shared")
DIVERSITY = 1.0  # a 3,000-step pilot on grid25 (seed 0): beta 1 gave 81 % high quality, beta 0.125 30 %
VARIANTS = ("GAN", "PacGAN2", "PacGAN3", "PacGAN4", *MGAN_VARIANTS, "kgan preset", *SPEED_VARIANTS)
# Epochs (of 200 steps) of the GAN and PacGAN rows; the presets may train longer.
BASELINE_EPOCHS = {"ring8": 45, "grid25": 45, "stacked-digits": 30}
# Their batch: the ring8 preset has since halved its own (nearly the same figures for half the work a step).
BASELINE_BATCH = {"ring8": 512, "grid25": 512, "stacked-digits": 64}
SAMPLES = {"ring8": 2500, "grid25": 2500, "stacked-digits": 26_000}


def variant_config(dataset, variant):
    """The preset of `dataset` changed as `variant` says."""
    import kgan

    preset = kgan.get_preset(dataset)
    if variant == "kgan preset":
        return preset
    if variant in SPEED_VARIANTS:
        return preset.replace(update=variant.split()[1])
    if variant in MGAN_VARIANTS:
        k, *shared = variant.removeprefix("MGAN").split()
        return variant_config(dataset, "GAN").replace(mixture=int(k), diversity=DIVERSITY, shared_members=bool(shared))
    pack = 1 if variant == "GAN" else int(variant.removeprefix("PacGAN"))
    # Packs split the batch evenly: PacGAN3 trains on 510 (ring8, grid25) or 63 (stacked) samples a step.
    return preset.replace(pack=pack, batch_size=BASELINE_BATCH[dataset] // pack * pack, epochs=BASELINE_EPOCHS[dataset],
                          ema=0.0, r1_penalty=0.0)


def _same_as_gan(dataset, variant):
    """True when the preset has no stabilizer, so its row is the GAN row."""
    return variant == "kgan preset" and variant_config(dataset, variant) == variant_config(dataset, "GAN")


def run_one(dataset, variant, seed):
    """Trains and scores one (data set, variant, seed); runs in a worker process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    import kgan
    from kgan.evaluate import evaluate

    config = variant_config(dataset, variant)
    with tempfile.TemporaryDirectory() as tmp:
        result = kgan.train(config.replace(seed=seed, out=os.path.join(tmp, "run"), export=False),
                            verbose=0, log=lambda *_: None)
        report = evaluate(os.path.join(tmp, "run"), samples=SAMPLES[dataset])
    keys = ("modes", "high_quality", "reverse_kl", "kl")
    return {"dataset": dataset, "variant": variant, "seed": seed, "seconds": round(result.seconds, 1),
            "steps": int(result.gan.g_optimizer.iterations), "pack": config.pack, "batch_size": config.batch_size, "ema": config.ema, "r1_penalty": config.r1_penalty, "update": config.update,
            "mixture": config.mixture, "diversity": config.diversity, "shared_members": config.shared_members,
            "g_params": int(result.gan.generator.count_params()), "d_params": int(result.gan.discriminator.count_params()),
            **{k: report[k] for k in keys if k in report}}


def real_rows(dataset, seeds):
    """The data set's own samples scored as a generator's are: the floor of each figure."""
    from kgan.data import MIXTURES, load_arrays, mixture_means, mixture_std
    from kgan.evaluate import stacked_mode_metrics
    from kgan.runtime.metrics import mixture_mode_metrics
    from kgan.features import DomainFeatures

    rows, digits = [], None if dataset in MIXTURES else DomainFeatures("digits")
    for seed in seeds:
        x = load_arrays(dataset, num_examples=SAMPLES[dataset], seed=1000 + seed)[0]
        if digits is None:
            report = mixture_mode_metrics(x, mixture_means(dataset), mixture_std(dataset))
        else:
            report = stacked_mode_metrics(x, digits)
        rows.append({"dataset": dataset, "variant": "real data", "seed": seed, **report})
    return rows


def _done(path):
    if not path or not os.path.isfile(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _mean_se(values):
    values = np.asarray(values, np.float64)
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return values.mean(), se


def _stabilizers(row):
    parts = [f"pack {row['pack']}"] if row["pack"] > 1 else []
    parts += [f"R1 {row['r1_penalty']:g}"] if row.get("r1_penalty") else []
    parts += [f"EMA {row['ema']:g}"] if row["ema"] else []
    return ", ".join(parts) or "no stabilizer"


def tables(rows, seeds):
    """Markdown tables of `rows` (the results), the paper's figures beside ours."""
    out = []
    for dataset in ("ring8", "grid25", "stacked-digits"):
        mine = [r for r in rows if r["dataset"] == dataset and r["seed"] in seeds]
        stacked = dataset == "stacked-digits"
        total = 1000 if stacked else {"ring8": 8, "grid25": 25}[dataset]
        title = "Table 2, stacked digits" if stacked else f"Table 1, {dataset}"
        header = "modes / KL" if stacked else "modes / high quality / reverse KL"
        out += [f"**{title}** ({total} modes; {header}; mean ± standard error)", "",
                "| | kgan | seeds | steps | train time / run | paper |", "| --- | --- | --- | --- | --- | --- |"]
        for variant in ("real data", *VARIANTS):
            same = _same_as_gan(dataset, variant)
            runs = [r for r in mine if r["variant"] == ("GAN" if same else variant)]
            published = PUBLISHED[dataset].get(variant, "")
            if not runs and (variant == "real data" or variant in SPEED_VARIANTS or variant in MGAN_VARIANTS):
                continue
            if not runs:
                out.append(f"| {variant} | not run yet | 0 | | | {published} |")
                continue
            batch = None if variant == "real data" else variant_config(dataset, "GAN" if same else variant).batch_size
            for earlier in sorted({r["batch_size"] for r in runs if r.get("batch_size", batch) != batch}):
                group = [r for r in runs if r.get("batch_size") == earlier]
                out.append(_row(dataset, variant, same, group, published, earlier))
            runs = [r for r in runs if r.get("batch_size", batch) == batch]
            if runs:
                out.append(_row(dataset, variant, same, runs, published))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _row(dataset, variant, same, runs, published, earlier_batch=None):
    """One table row: `runs` of `variant` (trained at `earlier_batch` when the variant's batch has changed since)."""
    stacked = dataset == "stacked-digits"
    modes = "{:.1f} ± {:.1f}".format(*_mean_se([r["modes"] for r in runs]))
    if stacked:
        figures = modes + " / {:.3f} ± {:.3f}".format(*_mean_se([r["kl"] for r in runs]))
    else:
        hq = _mean_se([100 * r["high_quality"] for r in runs])
        kl = _mean_se([r["reverse_kl"] for r in runs])
        figures = f"{modes} / {hq[0]:.1f} ± {hq[1]:.1f} % / {kl[0]:.3f} ± {kl[1]:.3f}"
    if variant == "real data":
        name, steps, seconds = "real data (the floor)", "", "no training"
    else:
        config = variant_config(dataset, "GAN" if same else variant)
        name = variant
        if variant == "kgan preset":
            name = f"kgan `{dataset}` preset ({'the GAN row' if same else _stabilizers(runs[0])})"
        if variant in SPEED_VARIANTS:
            name = f"the preset, `update=\"{config.update}\"`"
        if variant in MGAN_VARIANTS:
            params = next((r["g_params"] for r in runs if r.get("g_params")), None)
            name = (f"MGAN, {config.mixture} generators{' sharing all but their first layer' if config.shared_members else ''}, beta {config.diversity:g}"
                    + (f" ({params:,} generator parameters)" if params else ""))
        steps = " / ".join(f"{s:,}" for s in sorted({r["steps"] for r in runs}))  # as the runs trained
        seconds = "{:.0f} s".format(np.mean([r["seconds"] for r in runs]))
        if earlier_batch:
            name += f", an earlier setting: batch {earlier_batch}"
        elif config.batch_size != BASELINE_BATCH[dataset]:
            name += f" (batch {config.batch_size})"
    return f"| {name} | {figures} | {len(runs)} | {steps} | {seconds} | {published} |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["ring8", "grid25", "stacked-digits"],
                        choices=["ring8", "grid25", "stacked-digits"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2, help="runs at once, one TensorFlow thread each")
    parser.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "quality.jsonl"),
                        help="finished runs, one JSON line each (default: benchmarks/quality.jsonl)")
    parser.add_argument("--tables-only", action="store_true", help="train nothing: tables of the finished runs")
    args = parser.parse_args()

    done = _done(args.results)
    # A run is finished at the variant's current batch: a row of an earlier setting stays a row of its own.
    finished = {(r["dataset"], r["variant"], r["seed"], r.get("batch_size")) for r in done}
    # In the order given: variants first, so the rows named first fill first.
    todo = [(d, v, s) for v in args.variants for d in args.datasets for s in args.seeds
            if (d, v, s, variant_config(d, v).batch_size) not in finished and not _same_as_gan(d, v)
            and not args.tables_only
            and not (v in SPEED_VARIANTS and d == "stacked-digits")]
    for dataset, variant in {(d, v) for d, v, _ in todo}:
        variant_config(dataset, variant).validate()  # a bad configuration stops the benchmark before any run
    if "stacked-digits" in {d for d, _, _ in todo}:
        from kgan.features import DomainFeatures

        DomainFeatures("digits").held_out_accuracy  # train the cached digit classifier once, before the workers
    started = time.time()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=context, max_tasks_per_child=1) as pool:
        futures = {pool.submit(run_one, *job): job for job in todo}
        for future in concurrent.futures.as_completed(futures):
            row = {**provenance(), **future.result()}  # with the command, date, commit and machine
            done.append(row)
            with open(args.results, "a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    print(f"{len(todo)} runs in {time.time() - started:.0f} s with {args.jobs} jobs", flush=True)
    real = {(r["dataset"], r["seed"]) for r in done if r["variant"] == "real data"}
    for dataset in args.datasets:  # the floors, recorded once beside the runs
        missing = [s for s in args.seeds if (dataset, s) not in real]
        if missing:
            new = [{**provenance(), **row} for row in real_rows(dataset, missing)]
            done += new
            with open(args.results, "a") as handle:
                handle.writelines(json.dumps(row) + "\n" for row in new)
    rows = [r for r in done if r["dataset"] in args.datasets and r["variant"] in (*args.variants, "real data")]
    text = tables(rows, set(args.seeds))
    print(text)


if __name__ == "__main__":
    main()
