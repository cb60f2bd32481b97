"""Callbacks that write a run's artifacts while `fit` runs."""

import json
import math
import os
import time

import keras
import numpy as np

from kgan.runtime import images
from kgan.runtime.samples import VIDEO_FRAME_MS, get_kind
from kgan.schedules import is_schedule, value_at

__all__ = ["SampleGrid", "PairGrid", "HistoryWriter", "ScheduledValues", "StopOnNonFinite", "NonFiniteLoss", "QualityMetrics", "EpochBackup"]


class SampleGrid(keras.callbacks.Callback):
    """Writes `samples/epoch_NNN.png` at the end of every `every` epochs.

    Each kind of sample is drawn by its `kgan.runtime.samples` kind: images become a grid
    (conditional models: one column per class); 2-D samples a scatter plot over the
    real data; clips an animated grid, `samples/epoch_NNN.gif`, every tile a clip
    playing. The latents are fixed by `seed`, so successive grids show the same draws
    improving.

    Args:
        folder: where the PNGs go (created if missing).
        num_samples: samples per image grid.
        vector_samples: samples per scatter plot.
        seed: latent seed.
        reference: real 2-D points drawn beneath generated ones.
        every: epochs between grids (the last epoch always writes one).
        scale: nearest-neighbour upscaling of small images.
    """

    def __init__(self, folder, num_samples=64, seed=0, reference=None, every=1, scale=4, vector_samples=1000):
        super().__init__()
        self.folder = folder
        self.num_samples = num_samples
        self.vector_samples = vector_samples
        self.seed = seed
        self.reference = reference
        self.every = every
        self.scale = scale
        self.last_path = None

    def on_train_begin(self, logs=None):
        os.makedirs(self.folder, exist_ok=True)

    def render(self):
        """The picture of this epoch's samples: a list of frames for animated kinds."""
        gan = self.model
        spec, kind = gan.sample_spec, get_kind(gan.sample_spec)
        samples = gan.generate(self.vector_samples if kind.cloud else self.num_samples, seed=self.seed)
        columns = gan.num_classes if gan.conditional else None
        if kind.animated:
            return kind.animation(samples, spec, columns=columns, scale=self.scale)
        return kind.picture(samples, spec, columns=columns, reference=self.reference, extent=self._extent(),
                            scale=self.scale)

    def _extent(self):
        if self.reference is None:
            return None
        low, high = float(np.min(self.reference)), float(np.max(self.reference))
        margin = 0.25 * (high - low)
        return (low - margin, high + margin)

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") == epoch + 1
        if (epoch + 1) % self.every and not last:
            return
        animated = get_kind(self.model.sample_spec).animated
        self.last_path = os.path.join(self.folder, f"epoch_{epoch + 1:03d}.{'gif' if animated else 'png'}")
        if animated:
            images.save_gif(self.render(), self.last_path, duration_ms=VIDEO_FRAME_MS)
        else:
            images.save_png(self.render(), self.last_path)


class PairGrid(SampleGrid):
    """Writes `samples/epoch_NNN.png` for a generator that takes an image: a row for each held-out
    pair, showing the input as the task's baseline (bicubic upsampling, the noisy or masked image),
    the generator's output and the truth.

    Args:
        folder: where the PNGs go.
        pairs: `(inputs, targets)`, as `kgan.data.pairs.preview_pairs` gives them.
        every: epochs between pictures (the last epoch always writes one).
    """

    def __init__(self, folder, pairs, every=1):
        super().__init__(folder, every=every)
        self.inputs, self.targets = pairs

    def render(self):
        """The picture of this epoch: baseline | output | truth, a row a held-out pair."""
        gan = self.model
        height, width = self.targets.shape[1:3]
        restored = np.asarray(gan.run_generator(dict(self.inputs)))
        baseline = gan.task.baseline(self.inputs, height, width)
        rows = np.stack([baseline, restored, self.targets], axis=1).reshape(-1, *self.targets.shape[1:])
        return images.make_grid(images.to_uint8(rows), columns=3, scale=4 if height < 32 else 1)


class HistoryWriter(keras.callbacks.Callback):
    """Keeps `history.json` (per-epoch metrics, lists keyed by name) current.

    Rewritten atomically after each epoch, so a killed run leaves a valid file.

    Args:
        path: the file to keep.
        initial: an earlier history (`{name: [values]}`) to continue instead of restarting it.
    """

    def __init__(self, path, initial=None):
        super().__init__()
        self.path = path
        self.history = {k: list(v) for k, v in (initial or {}).items()}

    def on_epoch_end(self, epoch, logs=None):
        self.history.setdefault("epoch", []).append(epoch + 1)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        images.atomic_write_bytes(self.path, json.dumps(self.history, indent=1).encode())


class ScheduledValues(keras.callbacks.Callback):
    """Adds each scheduled value's value at the epoch's end to the epoch's logs (so to `history.json`).

    The values themselves change inside the train step (`kgan.schedules`); this reports them:
    `lr` and `beta_2` of the generator's optimizer, and `r1_penalty`, `r2_penalty`, `ema` (the
    decay) and `augment_probability` of the GAN, each where it is a schedule.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        gan = self.model
        optimizer = getattr(gan.g_optimizer, "inner_optimizer", gan.g_optimizer)
        g_step = gan.g_optimizer.iterations
        if is_schedule(optimizer._learning_rate):
            logs["lr"] = float(optimizer._learning_rate(optimizer.iterations))
        if is_schedule(getattr(optimizer, "beta_2", None)):
            logs["beta_2"] = float(value_at(optimizer.beta_2, optimizer.iterations))
        for name in ("r1_penalty", "r2_penalty", "ema", "augment_probability"):
            value = getattr(gan, name, None)
            if is_schedule(value):
                logs[name] = float(value_at(value, g_step))


class NonFiniteLoss(RuntimeError):
    """Raised by `StopOnNonFinite`; the message names the loss, epoch and step."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training the moment a logged loss turns NaN or infinite.

    It raises `NonFiniteLoss` from the batch's end, before later callbacks run, so a
    `BackupAndRestore` listed after it never backs up the diverged weights and the
    last good backup stays.
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for key in ("d_loss", "g_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                raise NonFiniteLoss(f"{key} became {float(value)} at epoch {self.epoch + 1}, step {batch + 1}")


class QualityMetrics(keras.callbacks.Callback):
    """Computes sample-quality metrics every `every` epochs into the epoch's logs.

    The values join `fit`'s history and, for a `TensorBoard` callback listed after
    this one, its scalars. `measure(gan)` returns a dict of numbers, e.g.
    `lambda gan: mixture_mode_metrics(gan.generate(2500, seed=0), means, std)`.

    Args:
        measure: callable taking the GAN, returning `{name: float}`.
        every: epochs between measurements (the last epoch always measures).
        prefix: put before each name in the logs.
    """

    def __init__(self, measure, every=1, prefix=""):
        super().__init__()
        self.measure = measure
        self.every = every
        self.prefix = prefix

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") == epoch + 1
        if logs is None or ((epoch + 1) % self.every and not last):
            return
        for name, value in self.measure(self.model).items():
            if isinstance(value, (int, float)):
                logs[f"{self.prefix}{name}"] = float(value)


class EpochBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` at epoch ends whose backups take at most `budget` of the time.

    After the first epoch it always backs up; after later ones, when the time since the
    last backup is at least that backup's duration divided by `budget`. Short epochs then
    share a backup (a resumed run repeats at most that much training) and long ones get
    one each. `--resume` and the "last good backup" after a divergence work as before.

    Args:
        backup_dir: as for `keras.callbacks.BackupAndRestore`.
        budget: the largest fraction of the time spent backing up (0.05: 5 %).
        **kwargs: passed to `BackupAndRestore` (`double_checkpoint`, `delete_checkpoint`).
    """

    def __init__(self, backup_dir, budget=0.05, **kwargs):
        super().__init__(backup_dir, save_freq="epoch", **kwargs)
        self.budget = float(budget)
        self._cost = None
        self._last = None

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        due = self._cost is None or start - self._last >= self._cost / self.budget
        self.save_freq = "epoch" if due else "never"  # the base class saves only for "epoch"
        try:
            super().on_epoch_end(epoch, logs)  # keeps the epoch count the step backups record
        finally:
            self.save_freq = "epoch"
        if due:
            self._last = time.perf_counter()
            self._cost = self._last - start
