"""Replicas, precision and resume cost of `kgan train`, each variant in a fresh process.

    python benchmarks/scale.py [--preset digits] [--epochs 4] [--results benchmarks/scale.jsonl]

1 vs 2 replicas (MirroredStrategy over 2 logical CPU devices on a CPU-only host:
on 2 cores the point is correctness, not speed), float32 vs mixed_bfloat16 step
time, and the cost of a resume: seconds from launching the process to its first
training step, fresh vs resumed from a backup. Each run appends a line to `--results`, which the
documentation's Benchmarks page draws (`section`).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    import kgan

    launched = float(os.environ["KGAN_BENCH_LAUNCHED"])
    marks = {}

    class Clock(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            marks.setdefault("first_step", time.time() - launched)

        def on_epoch_begin(self, epoch, logs=None):
            marks.setdefault("epochs", []).append(time.perf_counter())

        def on_train_end(self, logs=None):
            marks["end"] = time.perf_counter()

    config = kgan.TrainConfig.from_run(args.out) if args.resume else kgan.get_preset(args.preset).with_flags(
        epochs=args.epochs, out=args.out, export=False, strategy=args.strategy,
        devices=2 if args.strategy == "mirrored" else None, precision=args.precision)
    if args.resume:
        config = config.with_flags(epochs=args.epochs)
    result = kgan.train(config, callbacks=[Clock()], verbose=0, log=lambda *_: None, resume=args.resume)
    # Steady state: every epoch after the first (tracing) one.
    starts = marks["epochs"] + [marks["end"]]
    epoch_seconds = [b - a for a, b in zip(starts[1:], starts[2:])] or [starts[-1] - starts[0]]
    steps = config.steps_per_epoch or result.info.num_examples // config.batch_size
    seconds_per_step = statistics.median(epoch_seconds) / steps
    print(json.dumps({"first_step": marks["first_step"], "step_ms": 1000 * seconds_per_step,
                      "images_per_s": config.batch_size / seconds_per_step}))


def run(*extra):
    env = dict(os.environ, KGAN_BENCH_LAUNCHED=str(time.time()), PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, __file__, "--child", *extra], capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def resume_cost(common, out):
    """Kills a run after its second epoch, then times the resumed process."""
    env = dict(os.environ, KGAN_BENCH_LAUNCHED=str(time.time()), PYTHONPATH=ROOT)
    process = subprocess.Popen([sys.executable, __file__, "--child", *common, "--out", out],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    history = os.path.join(out, "history.json")
    while process.poll() is None:
        try:
            with open(history) as handle:
                if len(json.load(handle)["epoch"]) >= 2:
                    break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    process.kill()
    process.wait()
    return run(*common, "--out", out, "--resume")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="digits")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--strategy", default="default")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--out")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "scale.jsonl"))
    args = parser.parse_args()
    if args.child:
        return child(args)
    common = ["--preset", args.preset, "--epochs", str(args.epochs)]
    with tempfile.TemporaryDirectory() as tmp:
        one = run(*common, "--out", os.path.join(tmp, "one"))
        two = run(*common, "--out", os.path.join(tmp, "two"), "--strategy", "mirrored")
        bf16 = run(*common, "--out", os.path.join(tmp, "bf16"), "--precision", "mixed_bfloat16")
        resumed = resume_cost(common, os.path.join(tmp, "killed"))
    from record import append

    print(section(append(args.results, {"preset": args.preset, "epochs": args.epochs, "one": one, "two": two,
                                        "bf16": bf16, "resumed": resumed})))


def section(row):
    """The Benchmarks page's Scale and resume section, from one result line."""
    from record import source

    one, two, bf16 = row["one"], row["two"], row["bf16"]
    return "\n\n".join([source(row), "\n".join([
        f"The `{row['preset']}` preset for {row['epochs']} epochs, each variant in a fresh process, medians of the "
        "steady-state epochs:", "",
        "| variant | images/s | ms/step | ratio |", "| --- | ---: | ---: | ---: |",
        f"| 1 replica, float32 | {one['images_per_s']:,.0f} | {one['step_ms']:.1f} | 1.00 |",
        f"| 2 replicas (2 logical CPU devices) | {two['images_per_s']:,.0f} | {two['step_ms']:.1f} | "
        f"{two['images_per_s'] / one['images_per_s']:.2f} |",
        f"| 1 replica, `mixed_bfloat16` | {bf16['images_per_s']:,.0f} | {bf16['step_ms']:.1f} | "
        f"{bf16['images_per_s'] / one['images_per_s']:.2f} |"]),
        "On one CPU the point of the mirrored run is correctness (the weights equal one replica's), not speed. "
        f"From launching the process to its first training step: fresh {one['first_step']:.1f} s, resumed from "
        f"a backup {row['resumed']['first_step']:.1f} s."])


if __name__ == "__main__":
    main()
