"""How much of `kgan train`'s training time is its training steps, and where the rest goes.

    python benchmarks/epoch_overhead.py [--preset digits] [--epochs 150] [--rounds 2]

Each round trains the preset (no export) with a callback that clocks every step from
its `on_train_batch_begin` to its `on_train_batch_end`, and times each of kgan's
epoch-end callbacks (sample grid, history, backup). It prints `fit`'s wall time, the
sum of the steps, the gap between them and what the callbacks took of it; the rest of
the gap is Keras's and tf.data's own per-epoch work (a new iterator each epoch).
"""

import argparse
import collections
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import kgan  # noqa: E402
from kgan import callbacks as kgan_callbacks  # noqa: E402


class StepClock(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.steps = 0.0
        self.count = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += time.perf_counter() - self.start
        self.count += 1


def timed_epoch_ends(spent):
    """Wraps the epoch-end hook of kgan's callbacks to add its seconds to `spent[name]`."""
    for name in ("SampleGrid", "HistoryWriter", "EpochBackup"):
        cls = getattr(kgan_callbacks, name)
        original = cls.on_epoch_end

        def timed(self, epoch, logs=None, _original=original, _name=name):
            start = time.perf_counter()
            try:
                return _original(self, epoch, logs)
            finally:
                spent[_name] += time.perf_counter() - start

        cls.on_epoch_end = timed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="digits")
    parser.add_argument("--epochs", type=int, help="default: the preset's")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    spent = collections.defaultdict(float)
    timed_epoch_ends(spent)
    config = kgan.get_preset(args.preset)
    if args.epochs:
        config = config.replace(epochs=args.epochs)
    for round_ in range(args.rounds):
        spent.clear()
        clock = StepClock()
        with tempfile.TemporaryDirectory() as tmp:
            result = kgan.train(config.replace(out=os.path.join(tmp, "run"), export=False), callbacks=[clock],
                                verbose=0, log=lambda *_: None)
        gap = result.seconds - clock.steps
        print(f"round {round_ + 1}: {config.preset}, {config.epochs} epochs, {clock.count} steps: fit {result.seconds:.2f} s, "
              f"steps {clock.steps:.2f} s, gap {gap:.2f} s ({gap / clock.steps:.1%} of the steps)")
        for name, seconds in spent.items():
            print(f"  {name:13s} {seconds:6.2f} s  ({1000 * seconds / config.epochs:.1f} ms an epoch)")
        print(f"  {'the rest':13s} {gap - sum(spent.values()):6.2f} s  (Keras and tf.data between epochs)")


if __name__ == "__main__":
    main()
