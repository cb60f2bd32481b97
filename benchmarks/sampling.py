"""The discriminator's samplers against plain sampling, through onnxruntime.

    python benchmarks/sampling.py [--datasets grid25 ring8 digits] [--seeds 0 1 2 3 4]
                                  [--variants weak ...] [--samplers plain topk drs mh langevin ...]
                                  [--runs benchmarks/runs] [--refit-steps 0 5000 auto] [--jobs 2]

The runs: on grid25 the "GAN" and "PacGAN2-4" rows of `quality.py`, on ring8 its "GAN"
row, on digits the `digits` preset; "preset" the data set's preset, "weak" the preset cut to
10 of its epochs (grid25: 2,000 of 12,000 steps; digits: 280 of 4,200); each trained once per seed into
`--runs/<data set>/<variant>-s<seed>` (kept: a second call only scores; the GAN rows are
the ones `ensemble_quality.py` keeps) and exported there with `kgan export`, which
calibrates the discriminator on the data set: once with the discriminator as trained
(`export`) and once refit against the fixed generator for `--refit-steps` steps first
(`export-refit<N>`, `kgan export --refit-steps N`; `auto` is `kgan export`'s default, and the rows
record the steps it took). Every sampler then draws from each export
with onnxruntime and `kgan.evaluate` scores what it chose, as `kgan evaluate --sampler`
does: modes / high quality / reverse KL on the mixtures (2,500 samples), FID, precision
and recall in the domain classifier's features on digits (1,000 samples). Rows go to
`benchmarks/sampling.jsonl`, from which the documentation's Benchmarks page draws the table.
Samples per second are the sampler's own wall time (proposals, scoring, choosing) on one
onnxruntime thread pool while nothing else runs.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import sys

import numpy as np

from record import provenance  # benchmarks/record.py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import quality  # noqa: E402

VARIANTS = {"grid25": ("GAN", "PacGAN2", "PacGAN3", "PacGAN4", "preset", "weak"), "ring8": ("GAN",), "digits": ("preset", "weak")}
# "weak": the preset cut to these epochs (grid25: 2,000 of its 12,000 steps; digits: 280 of its 4,200)
WEAK_EPOCHS = {"grid25": 10, "digits": 10}
SAMPLERS = {"plain": None, "topk": "topk:k=4", "drs": "drs", "mh": "mh:k=32", "langevin": "langevin",
            "drs-q99": "drs:q=99", "mh-k128": "mh:k=128"}
SAMPLES = {"grid25": 2500, "ring8": 2500, "digits": 1000}


def config_for(dataset, variant):
    import kgan

    if variant == "preset":
        return kgan.get_preset(dataset)
    if variant == "weak":
        return kgan.get_preset(dataset).replace(epochs=WEAK_EPOCHS[dataset])
    return quality.variant_config(dataset, variant)


def export_dir(run_dir, refit):
    return os.path.join(run_dir, f"export-refit{refit}" if refit != 0 else "export")


def train(dataset, variant, seed, run_dir, refits):
    """Trains one run (one TensorFlow thread) and exports it, calibrated on its data set, with
    the discriminator as trained and refit for each of `refits` steps."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    import kgan
    from kgan.export import export_model

    if not os.path.isfile(os.path.join(run_dir, "model.keras")):
        kgan.train(config_for(dataset, variant).replace(seed=seed, out=run_dir, export=False), verbose=0,
                   log=lambda *_: None)
    for refit in refits:
        if not os.path.isfile(os.path.join(export_dir(run_dir, refit), "latent_energy.onnx")):
            export_model(run_dir, out_dir=export_dir(run_dir, refit), refit_steps=refit)
    return {"dataset": dataset, "variant": variant, "seed": seed, "refits": list(refits)}


def score(dataset, variant, seed, run_dir, refit, samplers):
    from kgan.errors import KganError
    from kgan.evaluate import evaluate

    rows = []
    for name in samplers:
        try:
            report = evaluate(export_dir(run_dir, refit), samples=SAMPLES[dataset], seed=seed,
                              sampler=SAMPLERS[name])
        except KganError as error:  # a sampler that ran out of its budget: a row that says so
            row = {"dataset": dataset, "variant": variant, "seed": seed, "refit": refit, "sampler": name,
                   "error": str(error)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            continue
        keep = ("modes", "high_quality", "reverse_kl", "fid", "precision", "recall")
        with open(os.path.join(export_dir(run_dir, refit), "manifest.json")) as handle:
            calibration = json.load(handle).get("calibration") or {}
        row = {"dataset": dataset, "variant": variant, "seed": seed, "refit": refit, "sampler": name,
               "refit_steps": calibration.get("refit_steps", 0), "calibration_accuracy": calibration.get("accuracy"),
               **{k: report[k] for k in keep if k in report}}
        if "sampling" in report:
            row.update({k: report["sampling"][k] for k in ("acceptance_rate", "samples_per_second", "proposals")})
            row["sampler_spec"] = report["sampling"]["sampler"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def _mean_se(values):
    values = np.asarray(values, float)
    return values.mean(), (values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0)


def table(rows):
    out = []
    for dataset in VARIANTS:
        mine = [r for r in rows if r["dataset"] == dataset]
        if not mine:
            continue
        mixture = dataset != "digits"
        header = "modes / high quality / reverse KL" if mixture else "FID / precision / recall"
        out += [f"**{dataset}** ({header}; mean ± standard error over seeds)", "",
                "| run | discriminator | sampler | figures | seeds | acceptance | samples/s |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        refits = sorted({r.get("refit", 0) for r in mine}, key=lambda f: (f == "auto", f if f != "auto" else 0))
        for variant, refit, sampler in [(v, f, s) for v in VARIANTS[dataset] for f in refits for s in SAMPLERS]:
            if refit != 0 and sampler == "plain":
                continue  # the same generator's samples as the row above
            every = [r for r in mine if r["variant"] == variant and r["sampler"] == sampler and r.get("refit", 0) == refit]
            runs = [r for r in every if "error" not in r]
            which = f"refit {refit} steps" if refit != 0 else "as trained"
            if refit == "auto":
                steps = sorted({r.get("refit_steps", 0) for r in runs})
                which = f"refit auto ({'/'.join(map(str, steps))} steps)"
            failed = len(every) - len(runs)
            if not runs:
                if failed:
                    out.append(f"| {variant} | {which} | `{SAMPLERS[sampler]}` | over its budget in every seed | "
                               f"0 of {failed} | | |")
                continue
            if mixture:
                modes, hq, kl = (_mean_se([r[k] for r in runs]) for k in ("modes", "high_quality", "reverse_kl"))
                figures = (f"{modes[0]:.1f} ± {modes[1]:.1f} / {100 * hq[0]:.1f} ± {100 * hq[1]:.1f} % / "
                           f"{kl[0]:.3f} ± {kl[1]:.3f}")
            else:
                fid, precision, recall = (_mean_se([r[k] for r in runs]) for k in ("fid", "precision", "recall"))
                figures = (f"{fid[0]:.2f} ± {fid[1]:.2f} / {precision[0]:.3f} ± {precision[1]:.3f} / "
                           f"{recall[0]:.3f} ± {recall[1]:.3f}")
            spec = runs[0].get("sampler_spec", "plain").split(",budget")[0]
            rate = "" if sampler == "plain" else f"{np.mean([r['acceptance_rate'] for r in runs]):.3f}"
            speed = "" if sampler == "plain" else f"{np.median([r['samples_per_second'] for r in runs]):,.0f}"
            seeds = f"{len(runs)}" + (f" ({failed} over budget)" if failed else "")
            out.append(f"| {variant} | {which if sampler != 'plain' else ''} | `{spec}` | {figures} | {seeds} | {rate} | "
                       f"{speed} |")
        out.append("")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--variants", nargs="+", help="only these runs (e.g. PacGAN2 preset)")
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=list(SAMPLERS))
    parser.add_argument("--runs", default=os.path.join(os.path.dirname(__file__), "runs"))
    parser.add_argument("--refit-steps", type=lambda t: t if t == "auto" else int(t), nargs="+", default=[0, 5000],
                        help="export each run with the discriminator refit for these steps (0: as trained; auto: "
                        "`kgan export`'s default)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "sampling.jsonl"))
    parser.add_argument("--tables-only", action="store_true", help="score nothing: the table of finished rows")
    parser.add_argument("--train-only", action="store_true", help="train and export the missing runs, score nothing")
    args = parser.parse_args()

    def run_dir(dataset, variant, seed):
        return os.path.join(args.runs, dataset, f"{variant}-s{seed}")

    todo = [(d, v, s) for d in args.datasets for v in VARIANTS[d] for s in args.seeds
            if not args.variants or v in args.variants]
    done = []
    if os.path.isfile(args.results):
        with open(args.results) as handle:
            done = [json.loads(line) for line in handle if line.strip()]
    if not args.tables_only:
        missing = [t for t in todo if not all(os.path.isfile(os.path.join(export_dir(run_dir(*t), f), "latent_energy.onnx"))
                                              for f in args.refit_steps)]
        if "digits" in {d for d, _, _ in missing} or "digits" in args.datasets:
            from kgan.features import DomainFeatures

            DomainFeatures("digits").held_out_accuracy  # the cached digit classifier, before the workers
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=context, max_tasks_per_child=1) as pool:
            futures = [pool.submit(train, *t, run_dir(*t), args.refit_steps) for t in missing]
            for future in concurrent.futures.as_completed(futures):
                print(json.dumps(future.result()), flush=True)
        if args.train_only:
            return
        for t, refit in [(t, f) for t in todo for f in args.refit_steps]:  # one at a time: speed on an idle machine
            have = {r["sampler"] for r in done if (r["dataset"], r["variant"], r["seed"], r.get("refit", 0)) == (*t, refit)}
            wanted = [s for s in args.samplers if s not in have and not (refit and s == "plain")]
            if wanted:
                rows = [{**provenance(), **row} for row in score(*t, run_dir(*t), refit, wanted)]
                with open(args.results, "a") as handle:
                    for row in rows:
                        handle.write(json.dumps(row) + "\n")
                done += rows
    text = table([r for r in done if r["dataset"] in args.datasets and r["seed"] in args.seeds])
    print(text)


if __name__ == "__main__":
    main()
