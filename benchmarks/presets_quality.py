"""The image presets as `kgan train` runs them, scored by `kgan evaluate`: one JSON line a run.

    python benchmarks/presets_quality.py [--presets digits digits-conditional] [--seeds 0]
                                         [--samples 1000] [--jobs 2] [--out benchmarks/presets.jsonl]

Each run trains the preset from scratch in a fresh process (one TensorFlow thread, `--jobs`
at a time), then `kgan.evaluate` scores its saved model on `--samples` samples against the
held-out digits, in the features of the digit classifier. Every line records the command
that reproduces it, the date and the machine; the documentation's Benchmarks page draws its
table from the file.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import tempfile

from record import provenance  # benchmarks/record.py

FIGURES = ("fid", "fid_floor", "kid", "kid_std", "precision", "recall", "density", "coverage", "class_accuracy")


def run(preset, seed, samples):
    os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
    import kgan
    from kgan.evaluate import evaluate

    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, preset)
        result = kgan.train(kgan.get_preset(preset).replace(out=out, seed=seed, export=False), verbose=0,
                            log=lambda *_: None)
        report = evaluate(out, samples=samples, seed=0)
    return {"preset": preset, "seed": seed, "samples": samples, "train_seconds": round(result.seconds, 1),
            **{k: report[k] for k in FIGURES if k in report},
            "command": f"kgan train --preset {preset} --seed {seed} && kgan evaluate saved_models/{preset} "
                       f"--samples {samples}"}


def table(rows):
    """A Markdown table of the runs, newest first for each preset."""
    lines = ["| preset | seed | FID | floor | KID ± std | precision | recall | coverage | class accuracy | train time | date |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in sorted(rows, key=lambda r: (r["preset"], r["seed"], r["date"])):
        accuracy = f"{100 * r['class_accuracy']:.1f} %" if "class_accuracy" in r else ""
        lines.append(f"| `{r['preset']}` | {r['seed']} | {r['fid']:.2f} | {r['fid_floor']:.2f} | "
                     f"{r['kid']:.3f} ± {r['kid_std']:.3f} | {r['precision']:.2f} | {r['recall']:.2f} | "
                     f"{r['coverage']:.2f} | {accuracy} | {r['train_seconds']:.0f} s | {r['date']} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["digits", "digits-conditional"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "presets.jsonl"))
    args = parser.parse_args()
    from kgan.features import DomainFeatures

    DomainFeatures("digits").held_out_accuracy  # the cached digit classifier, before the workers
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=context, max_tasks_per_child=1) as pool:
        futures = [pool.submit(run, p, s, args.samples) for p in args.presets for s in args.seeds]
        for future in concurrent.futures.as_completed(futures):
            row = future.result()
            with open(args.out, "a") as handle:
                handle.write(json.dumps({**provenance(), **row}) + "\n")
            print(json.dumps(row), flush=True)
    with open(args.out) as handle:
        print(table([json.loads(line) for line in handle if line.strip()]))


if __name__ == "__main__":
    main()
