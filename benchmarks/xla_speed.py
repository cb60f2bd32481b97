"""Seconds per epoch of a preset with XLA off and on, measured side by side.

    python benchmarks/xla_speed.py --preset digits --epochs 6 --rounds 2

Each round trains both variants from the same seed; the first epoch (tracing and,
with XLA, compilation) is reported apart from the steady-state epochs.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import kgan  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="digits")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results = {False: [], True: []}
    first = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for xla in (False, True):
                timer = EpochTimer()
                config = kgan.get_preset(args.preset).replace(
                    epochs=args.epochs, xla=xla, out=os.path.join(tmp, str(xla)), export=False
                )
                kgan.train(config, callbacks=[timer], verbose=0, log=lambda *_: None)
                first[xla].append(timer.times[0])
                results[xla].extend(timer.times[1:])
    off, on = statistics.median(results[False]), statistics.median(results[True])
    print(f"preset {args.preset}: median seconds per epoch over {len(results[False])} epochs each")
    print(f"  XLA off  {off:.3f} s/epoch   (first epoch {statistics.median(first[False]):.2f} s)")
    print(f"  XLA on   {on:.3f} s/epoch   (first epoch {statistics.median(first[True]):.2f} s)")
    print(f"  ratio off/on = {off / on:.2f}")


if __name__ == "__main__":
    main()
