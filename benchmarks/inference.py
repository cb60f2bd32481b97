"""Generator latency: Keras, SavedModel and onnxruntime side by side, plus edge costs.

    python benchmarks/inference.py [--run saved_models/digits] [--repeats 50] [--out benchmarks/inference.jsonl]

Exports the run (with fp16 and int8 variants) into a temporary folder, then times
each runtime on batches of 1 and 64, interleaving them round by round (in a new random
order each round) so that load on the machine touches all alike; prints medians and
ratios to ORT fp32. An onnxruntime call timed right after a TensorFlow call is slower
than on its own, so the onnxruntime models are also timed interleaved only with each
other: what an edge install, which has no TensorFlow, sees. Also times `import
kgan.runtime.inference` plus session creation in fresh processes, and sums the installed size of
the edge environment (numpy, Pillow, onnxruntime and what they need) against the
training one (kgan's dependencies). Each run appends a line to `--out`, which the documentation's
Benchmarks page draws (`section`).
"""

import argparse
import importlib.metadata as metadata
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def _timed(fn):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def runtimes(run_dir, out_dir):
    import keras
    import onnxruntime as ort
    import tensorflow as tf

    from kgan.export import export_model

    result = export_model(run_dir, out_dir=out_dir, saved_model_dir=os.path.join(out_dir, "saved_model"),
                          fp16=True, int8=True)
    gan = keras.models.load_model(os.path.join(run_dir, "model.keras"))
    serving = tf.saved_model.load(result.saved_model_dir).signatures["serving_default"]
    sessions = {
        name: ort.InferenceSession(os.path.join(out_dir, file), providers=["CPUExecutionProvider"])
        for name, file in (("ORT fp32", "generator.onnx"), ("ORT fp16", "generator.fp16.onnx"),
                           ("ORT int8", "generator.int8.onnx"))
    }
    if gan.conditional:
        raise SystemExit("benchmark an unconditional run (the digits preset)")

    def make(batch):
        z = gan.latents(batch, seed=0)
        tz = tf.constant(z)
        fns = {
            "Keras eager call": lambda: gan.generator(tz, training=False).numpy(),
            "Keras predict": lambda: gan.generator.predict(z, verbose=0, batch_size=batch),
            "SavedModel": lambda: serving(z=tz)["image"].numpy(),
        }
        for name, session in sessions.items():
            fns[name] = lambda s=session: s.run(None, {"z": z})
        return fns

    return make


def measure(make, batches, repeats, only=None, seed=0):
    """Median ms of each runtime (or of those named in `only`), in a shuffled order each round."""
    rng = np.random.default_rng(seed)
    table = {}
    for batch in batches:
        fns = {name: fn for name, fn in make(batch).items() if only is None or name in only}
        for fn in fns.values():  # warm up: tracing, graph building, allocations
            fn(), fn()
        times = {name: [] for name in fns}
        for _ in range(repeats):
            for name in rng.permutation(list(fns)):
                times[name].append(_timed(fns[name]))
        table[batch] = {name: statistics.median(values) for name, values in times.items()}
    return table


def markdown_table(table):
    """A latency table (`{batch: {runtime: ms}}`) in Markdown, with ratios to ORT fp32."""
    table = {int(batch): row for batch, row in table.items()}
    lines = ["| runtime | batch 1 (ms) | ratio | batch 64 (ms) | ratio |", "| --- | ---: | ---: | ---: | ---: |"]
    for name in table[1]:
        one, many = table[1][name], table[64][name]
        lines.append(f"| {name} | {one:.3f} | {one / table[1]['ORT fp32']:.1f} | {many:.3f} | "
                     f"{many / table[64]['ORT fp32']:.1f} |")
    return "\n".join(lines)


def section(row):
    """The Benchmarks page's Inference section, from one result line."""
    from record import source

    return "\n\n".join([
        source(row),
        f"The digits generator, medians of {row['repeats']} runs interleaved in a new random order each round, "
        "ratio to onnxruntime fp32:",
        markdown_table(row["latency"]),
        "An onnxruntime call right after a TensorFlow call can be slower than on its own, so the same run also "
        "times the three ONNX models interleaved only with each other, as an edge install without TensorFlow "
        "runs them:",
        markdown_table(row["onnxruntime_alone"]),
        f"`import kgan.runtime.inference` plus session creation: {row['import_and_load_s']:.3f} s (median of 5 "
        f"fresh processes). Installed size: the edge environment (numpy, Pillow, onnxruntime and what they "
        f"need) {row['edge_mb']:,.0f} MB, the training one (TensorFlow, Keras, numpy, Pillow, scikit-learn and "
        f"theirs) {row['training_mb']:,.0f} MB. What the variants cost, from the export's manifest (64 samples "
        f"against fp32, outputs in [-1, 1]): fp16 max |error| {row['fp16_max_error']:.1e}, int8 (static QDQ) "
        f"{row['int8_max_error']:.2f}.",
    ])


def import_and_load_seconds(export_dir, runs=5):
    code = (
        "import time; t = time.perf_counter(); import kgan.runtime.inference as k; "
        f"k.GeneratorRuntime({export_dir!r}); print(time.perf_counter() - t)"
    )
    values = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        values.append(float(out.stdout.strip()))
    return statistics.median(values)


def _closure(names):
    seen, stack = {}, list(names)
    while stack:
        name = re.split(r"[\s<>=!~;\[(]", stack.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if not name or name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                stack.append(requirement)
    return seen


def installed_mb(names):
    total = 0
    for dist in _closure(names).values():
        for file in dist.files or []:
            path = dist.locate_file(file)
            if os.path.isfile(path):
                total += os.path.getsize(path)
    return total / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="saved_models/digits")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "inference.jsonl"))
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.run, "model.keras")):
        raise SystemExit(f"no {args.run}/model.keras: run `kgan train` first")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "export")
        make = runtimes(args.run, out)
        table = measure(make, (1, 64), args.repeats)
        alone = measure(make, (1, 64), args.repeats, only=("ORT fp32", "ORT fp16", "ORT int8"))
        load = import_and_load_seconds(out)
        with open(os.path.join(out, "manifest.json")) as handle:
            variants = json.load(handle)["variants"]
    from record import append

    row = append(args.out, {
        "run": args.run, "repeats": args.repeats, "latency": table, "onnxruntime_alone": alone,
        "import_and_load_s": load, "edge_mb": installed_mb(["numpy", "pillow", "onnxruntime"]),
        "training_mb": installed_mb(["tensorflow", "keras", "numpy", "pillow", "scikit-learn"]),
        "fp16_max_error": _variant_error(variants, "fp16"), "int8_max_error": _variant_error(variants, "int8"),
    })
    print(section(row))


def _variant_error(variants, precision):
    """The generator variant's largest error against fp32, as its export measured it."""
    return variants[precision]["max_abs_error_vs_fp32"]


if __name__ == "__main__":
    main()
