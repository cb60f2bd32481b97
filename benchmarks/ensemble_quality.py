"""An ensemble assembled from the GAN row's seeds against its best single member.

    python benchmarks/ensemble_quality.py [--datasets grid25 stacked-digits] [--seeds 0 1 2 3 4]
                                          [--runs benchmarks/runs] [--jobs 2]

For each data set, the "GAN" row of `quality.py` (the preset's networks without
stabilizers) is trained once per seed into `--runs/<data set>/GAN-s<seed>` (kept, so a
second call only scores), then `kgan.ensemble.assemble` builds the mixture of the seeds'
generators with uniform and with fitted weights. Every model is scored by
`kgan.evaluate` as `quality.py` scores its rows. Results go to
`benchmarks/ensemble.jsonl`, from which the documentation's Benchmarks page draws the table.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import quality  # noqa: E402
from record import provenance  # noqa: E402  (benchmarks/record.py)


def train_member(dataset, seed, out):
    """Trains the GAN row of `dataset` for `seed` into `out` (one TensorFlow thread)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    import kgan

    config = quality.variant_config(dataset, "GAN").replace(seed=seed, out=out, export=False)
    result = kgan.train(config, verbose=0, log=lambda *_: None)
    return {"dataset": dataset, "seed": seed, "seconds": round(result.seconds, 1)}


def score(path, dataset):
    from kgan.evaluate import evaluate

    report = evaluate(path, samples=quality.SAMPLES[dataset])
    return {k: report[k] for k in ("modes", "high_quality", "reverse_kl", "kl") if k in report}


def figures(dataset, row):
    if dataset == "stacked-digits":
        return f"{row['modes']} / {row['kl']:.3f}"
    return f"{row['modes']} / {100 * row['high_quality']:.1f} % / {row['reverse_kl']:.3f}"


def best(dataset, rows):
    """The best single member: most modes, then the lowest KL."""
    kl = "kl" if dataset == "stacked-digits" else "reverse_kl"
    return min(rows, key=lambda r: (-r["modes"], r[kl]))


def table(results):
    out = []
    for dataset, rows in results.items():
        header = "modes / KL" if dataset == "stacked-digits" else "modes / high quality / reverse KL"
        members = [r for r in rows if r["model"] == "member"]
        top = best(dataset, members)
        out += [f"**{dataset}** ({header}; members are the GAN row's seeds {', '.join(str(r['seed']) for r in members)})",
                "", "| model | figures | weights |", "| --- | --- | --- |"]
        out.append(f"| best single member (seed {top['seed']}) | {figures(dataset, top)} | |")
        for r in rows:
            if r["model"] != "member":
                out.append(f"| ensemble, {r['model']} weights | {figures(dataset, r)} | "
                           f"{', '.join(f'{w:.2f}' for w in r['weights'])} |")
        out.append("")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["grid25", "stacked-digits"],
                        choices=["ring8", "grid25", "stacked-digits"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--runs", default=os.path.join(os.path.dirname(__file__), "runs"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "ensemble.jsonl"))
    args = parser.parse_args()

    def run_dir(dataset, seed):
        return os.path.join(args.runs, dataset, f"GAN-s{seed}")

    todo = [(d, s) for d in args.datasets for s in args.seeds
            if not os.path.isfile(os.path.join(run_dir(d, s), "model.keras"))]
    if "stacked-digits" in {d for d, _ in todo}:
        from kgan.features import DomainFeatures

        DomainFeatures("digits").held_out_accuracy  # the cached digit classifier, before the workers
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=context, max_tasks_per_child=1) as pool:
        for done in concurrent.futures.as_completed([pool.submit(train_member, d, s, run_dir(d, s)) for d, s in todo]):
            print(json.dumps(done.result()), flush=True)

    from kgan.ensemble import assemble

    results = {}
    for dataset in args.datasets:
        members = [run_dir(dataset, s) for s in args.seeds]
        rows = [dict(dataset=dataset, model="member", seed=s, **score(path, dataset)) for s, path in zip(args.seeds, members)]
        for weights in ("uniform", "fit"):
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "ensemble")
                report = assemble(members, out, weights=weights, log=lambda *_: None)
                rows.append(dict(dataset=dataset, model=weights, seeds=args.seeds, weights=report["weights"],
                                 **score(out, dataset)))
        results[dataset] = rows
        with open(args.results, "a") as handle:
            for row in rows:
                handle.write(json.dumps({**provenance(), **row}) + "\n")
    text = table(results)
    print(text)


if __name__ == "__main__":
    main()
