"""The video preset's clips against real ones: `kgan evaluate` on an export of `moving-digits`.

    python benchmarks/video.py EXPORT_DIR [--samples 500] [--out benchmarks/video.jsonl]

Scores `--samples` generated clips (labels cycling through the classes) against as many real
clips of the held-out digits, in the features of the frame classifier `kgan evaluate` trains on
the other digits (cached under `saved_models/_features/`), each metric beside its floor: the same
metric on real clips of the training digits. Each run appends a line to `--out`, which the
documentation's Benchmarks page draws (`section`). `python docs/figures.py --only moving-digits`
trains the preset and exports it to `runs/figures/export/moving-digits`.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

METRICS = (
    ("frame_fid", "frame FID", "frames against held-out real frames", "{:.2f}"),
    ("content_consistency", "content consistency",
     "clips whose every frame the classifier gives one class, each with probability > 0.8", "percent"),
    ("acd", "ACD", "mean pairwise L2 between a clip's frames' classifier features", "{:.2f}"),
    ("motion_w1", "motion W1", "1-Wasserstein distance of per-frame centroid speeds (pixels a frame) to held-out "
     "real clips", "{:.3f}"),
    ("class_accuracy", "class accuracy", "frames the classifier gives the clip's label", "percent"),
)


def measure(export_dir, samples):
    from kgan.evaluate import evaluate

    report = evaluate(export_dir, samples=samples)
    with open(os.path.join(export_dir, "manifest.json")) as handle:
        manifest = json.load(handle)
    return {"export": export_dir, "samples": samples, "preset": manifest.get("preset"),
            "report": {k: v for k, v in report.items() if isinstance(v, (int, float, str))}}


def section(row):
    """The Benchmarks page's video table, from one result line."""
    from record import source

    report = row["report"]
    lines = [f"| metric | what it says | `{row['preset']}` | real floor |", "| --- | --- | ---: | ---: |"]
    def shown(value, form):
        return "" if value is None else f"{100 * value:.1f} %" if form == "percent" else form.format(value)

    for key, name, meaning, form in METRICS:
        if key in report:
            lines.append(f"| {name} | {meaning} | {shown(report[key], form)} | {shown(report.get(key + '_floor'), form)} |")
    return "\n\n".join([source(row), (
        f"{row['samples']} generated clips of the `{row['preset']}` preset's export, labels cycling through the "
        "classes, against as many real clips of the held-out digits; each floor is the same metric on real clips "
        "of the training digits:"), "\n".join(lines)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "video.jsonl"))
    args = parser.parse_args()
    from record import append

    print(section(append(args.out, measure(args.export_dir, args.samples))))


if __name__ == "__main__":
    main()
