"""TensorFlow's oneDNN kernels against its Eigen ones, side by side, on this machine's CPU.

    python benchmarks/onednn.py --rounds 2

TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` at its import, so each measurement runs in a fresh
process with the variable at 0 (Eigen) or 1 (oneDNN), the two taking turns. Each process times the
gradient of one strided `Conv3D` (16 clips 16 x 16 x 16 x 16, 32 filters of 4 x 4 x 4) and of one
`Conv2D` (64 x 16 x 16 x 32, 64 filters of 4 x 4), in milliseconds a step, and two short epochs of
the `digits` preset, in milliseconds a step (its tracing included), on one thread. `import kgan`
sets the variable to 1 where the user left it unset (kgan/_onednn.py); TensorFlow itself does so
only on AVX-512 VNNI, BF16 or AMX CPUs, so on those the two columns are the same kernels.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import record  # noqa: E402

OUT = os.path.join(record.ROOT, "benchmarks", "onednn.jsonl")


def child(steps):
    """This process's figures (the variable is set by the parent, before TensorFlow's import)."""
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port

    def gradient_ms(images, kernel, strides, repeats):
        kernel = tf.Variable(kernel)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                out = tf.nn.convolution(images, kernel, strides=strides, padding="SAME")
                loss = tf.reduce_sum(out * out)
            return tape.gradient(loss, kernel)

        step()
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        return 1000 * (time.perf_counter() - start) / repeats

    onednn = bool(_pywrap_util_port.IsMklEnabled())
    figures = {"onednn": onednn,
               "conv3d_ms": gradient_ms(tf.random.normal((16, 16, 16, 16, 16), seed=0),
                                        tf.random.normal((4, 4, 4, 16, 32), seed=1), 2, 5 if onednn else 2),
               "conv2d_ms": gradient_ms(tf.random.normal((64, 16, 16, 32), seed=0),
                                        tf.random.normal((4, 4, 32, 64), seed=1), 2, 30)}
    import kgan

    with tempfile.TemporaryDirectory() as tmp:
        config = kgan.get_preset("digits").replace(epochs=2, steps_per_epoch=steps, out=tmp, export=False)
        result = kgan.train(config, verbose=0, log=lambda *_: None)
        figures["digits_step_ms"] = 1000 * result.seconds / (2 * steps)
    print(json.dumps(figures))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40, help="digits steps an epoch (two epochs)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.steps)
    runs = {"0": [], "1": []}
    for _ in range(args.rounds):
        for value in runs:
            env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=value, TF_NUM_INTRAOP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2")
            done = subprocess.run([sys.executable, __file__, "--child", "--steps", str(args.steps)], env=env,
                                  capture_output=True, text=True, check=True)
            runs[value].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(value, runs[value][-1], flush=True)
    rows = [{"variable": value, "onednn": all(r["onednn"] for r in found),
             **{key: statistics.median(r[key] for r in found) for key in ("conv3d_ms", "conv2d_ms", "digits_step_ms")}}
            for value, found in runs.items()]
    line = record.append(OUT, {"rounds": args.rounds, "steps": 2 * args.steps, "rows": rows})
    print(section(line))


def section(row):
    """The Benchmarks page's table, from one result line: each kernel's milliseconds, and Eigen's
    time over oneDNN's."""
    from record import source

    eigen, onednn = ({r["variable"]: r for r in row["rows"]}[v] for v in ("0", "1"))
    lines = ["| step, one thread | Eigen (`TF_ENABLE_ONEDNN_OPTS=0`) | oneDNN (`=1`) | Eigen / oneDNN |",
             "| --- | --- | --- | --- |"]
    for key, name in (("conv3d_ms", "`Conv3D` gradient"), ("conv2d_ms", "`Conv2D` gradient"),
                      ("digits_step_ms", "`digits` training step (tracing included)")):
        lines.append(f"| {name} | {eigen[key]:,.1f} ms | {onednn[key]:,.1f} ms | {eigen[key] / onednn[key]:,.1f}× |")
    return "\n\n".join([source(row), "\n".join(lines), (
        f"Medians of {row['rounds']} fresh processes each, the two kinds taking turns; "
        f"TensorFlow {'ran' if eigen['onednn'] else 'did not run'} oneDNN with the variable at 0.")])


if __name__ == "__main__":
    main()
