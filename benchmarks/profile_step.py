"""Where a training step's time goes: TensorFlow profiler op times, grouped, per variant.

    python benchmarks/profile_step.py [--arch dcgan64] [--variants keras.io,keras.io-train,kgan] [--steps 8]

Each variant of `train_speed.py` runs `--steps` steps under `tf.profiler`; the trace's
TensorFlow op events are summed by what they do (convolutions forward and backward,
BatchNormalization, the optimizers, the rest) and printed in milliseconds per step
beside the step's wall time. Ops run on two inter-op threads, so the op times can add
up to more than the wall time.
"""

import argparse
import collections
import glob
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import train_speed  # noqa: E402

GROUPS = ("convolution forward", "convolution backward", "batch norm", "optimizer", "random", "other")


def group(name):
    """The group of a profiled op event named `scope/op:OpType`."""
    scope, _, op_type = name.rpartition(":")
    lowered = scope.lower()
    if "adam" in lowered or "optimizer" in lowered or op_type.startswith(("ResourceApply", "AssignVariable")):
        return "optimizer"
    if "batch_normalization" in lowered or "FusedBatchNorm" in op_type:
        return "batch norm"
    if "Conv" in op_type or "MatMul" in op_type:
        return "convolution backward" if "gradient_tape" in scope else "convolution forward"
    if "Random" in op_type or "Stateless" in op_type:
        return "random"
    return "other"


def op_times(logdir):
    """Seconds per group summed over the op events of a profile."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as handle:
        space.ParseFromString(handle.read())
    totals, counts = collections.defaultdict(float), collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" not in name or name.startswith(("ThreadpoolListener", "Memory", "ExecutorState")):
                    continue
                totals[group(name)] += event.duration_ps * 1e-12
                counts[group(name)] += 1
    return totals, counts


def main():
    import tensorflow as tf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="dcgan64", choices=["mnist", "dcgan64"])
    parser.add_argument("--variants", default="keras.io,keras.io-train,kgan")
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    shape = (28, 28, 1) if args.arch == "mnist" else (64, 64, 3)
    data = np.random.default_rng(0).uniform(-1, 1, (8 * train_speed.BATCH, *shape)).astype(np.float32)
    print(f"{args.arch}: ms per step, {args.steps} profiled steps of batch {train_speed.BATCH}")
    print(f"{'variant':15s} {'wall':>7s} " + " ".join(f"{g:>12s}" for g in GROUPS) + f" {'ops':>6s}")
    for variant in args.variants.split(","):
        runner = train_speed.KerasRunner(args.arch, variant, data)
        runner.run(8)
        with tempfile.TemporaryDirectory() as logdir:
            tf.profiler.experimental.start(logdir)
            start = time.perf_counter()
            runner.run(args.steps)
            wall = time.perf_counter() - start
            tf.profiler.experimental.stop()
            totals, counts = op_times(logdir)
        per_step = {g: 1000 * totals[g] / args.steps for g in GROUPS}
        ops = sum(counts.values()) / args.steps
        print(f"{variant:15s} {1000 * wall / args.steps:7.1f} " + " ".join(f"{per_step[g]:12.1f}" for g in GROUPS)
              + f" {ops:6.0f}")


if __name__ == "__main__":
    main()
