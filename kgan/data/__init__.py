"""Data sets as tf.data pipelines: `load_dataset(name_or_path, ...) -> (dataset, info)`.

Sources: `digits` (scikit-learn's embedded 8x8 handwritten digits, the default),
`mnist`, `fashion_mnist`, `cifar10` (keras.datasets: cached or downloaded),
`stacked-digits`, `moving-digits` and `moving-digits2` (clips of one or two of those
digits moving on 16x16 frames), a folder of PNG/JPEG images (one subfolder per class
gives labels) or of GIF/MP4 clips, a `.npz`/`.npy` file, the 2-D mixtures `ring8`
and `grid25`, and text as token ids: SeqGAN's synthetic `oracle`, the census `names` and
`surnames`, or a `.txt` file, one sequence a line (`kgan.data.text`).
"""

import dataclasses

import numpy as np

from kgan.data.mixtures import MIXTURES, mixture_means, mixture_std, sample_mixture
from kgan.data.pairs import paired_dataset
from kgan.data.sources import BUILTIN, load_arrays
from kgan.data.text import text_source
from kgan.errors import KganError
from kgan.runtime.restore import Task
from kgan.runtime.samples import SampleSpec

__all__ = [
    "real_for_calibration",
    "BUILTIN",
    "MIXTURES",
    "DatasetInfo",
    "load_dataset",
    "load_arrays",
    "mixture_means",
    "mixture_std",
    "sample_mixture",
]


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a pipeline yields.

    Attributes:
        name: data set name (or the file/folder's base name).
        kind: `"image"`, `"video"` or `"vector"`.
        shape: shape of one example, e.g. `(8, 8, 1)`, `(16, 16, 16, 1)` or `(2,)`.
        num_examples: examples before batching.
        num_classes: number of classes when the pipeline yields labels, else None.
        value_range: `(low, high)` of image and clip values, None for vectors.
        batch_size: examples per batch.
        vocabulary: the tokens' strings (token data), else None.
        separator: what joins tokens into text (token data), else None.
        task: the task that made the pairs (`kgan.runtime.restore.Task`'s text), else None.
    """

    name: str
    kind: str
    shape: tuple
    num_examples: int
    num_classes: int | None
    value_range: tuple | None
    batch_size: int
    vocabulary: tuple | None = None
    separator: str | None = None
    task: str | None = None

    def to_dict(self):
        return {k: v for k, v in dataclasses.asdict(self).items()
                if v is not None or k not in ("vocabulary", "separator", "task")}

    def sample_spec(self):
        """The samples' `SampleSpec` where the data know more than a model does (the vocabulary of
        tokens), else None: the generator declares its own."""
        if self.kind != "tokens":
            return None

        return SampleSpec("tokens", self.shape, "int64", vocabulary=self.vocabulary, separator=self.separator)


def load_dataset(
    name_or_path="digits",
    batch_size=64,
    image_size=None,
    labels=False,
    shuffle=True,
    seed=0,
    num_examples=None,
    frames=None,
    tokens="chars",
    length=None,
    task=None,
    patch_size=None,
):
    """Builds a shuffled, batched, cached, prefetched tf.data pipeline.

    Args:
        name_or_path: a name in `BUILTIN` or a path to a folder or .npz/.npy file.
        batch_size: examples per batch; the last partial batch is dropped.
        image_size: resize images (and clips' frames) to this square side (None keeps the size;
            moving digits: 16).
        labels: yield `(x, y)` pairs for conditional models.
        shuffle: reshuffle every epoch.
        seed: seed of the shuffle (and of sampled data sets such as ring8).
        num_examples: examples to draw for sampled data sets (ring8, grid25,
            stacked-digits, moving digits); default 50,000 (moving digits: 10,000 clips).
        frames: frames a clip for video sources (default 16).
        tokens: how a `.txt` file is cut into tokens: `"chars"` or `"words"`.
        length: tokens a text sequence (default: the longest and its end).
        task: pairs for a generator that takes an image (`kgan.runtime.restore.Task` or its text):
            endless `({"image"[, "mask"]}, target)` batches of crops (`kgan.data.pairs`).
        patch_size: a task's crop side (default 64, or the images' side if smaller).

    Returns:
        `(dataset, DatasetInfo)`.

    Example:
        >>> dataset, info = load_dataset("digits", batch_size=64)
        >>> info.shape, info.num_examples
        ((8, 8, 1), 1797)
    """
    import tensorflow as tf

    if int(batch_size) <= 0:
        raise KganError(f"batch_size must be a positive integer, got {batch_size!r}")
    if task is not None:
        return _pairs(name_or_path, task, patch_size, int(batch_size), labels, seed)
    x, y, kind, name = load_arrays(name_or_path, image_size=image_size, num_examples=num_examples, seed=seed,
                                   frames=frames, tokens=tokens, length=length)
    if len(x) < batch_size:
        raise KganError(
            f"{name} has {len(x)} examples, fewer than one batch of {batch_size}: lower --batch-size or add data"
        )
    num_classes = None
    if labels:
        if y is None:
            raise KganError(f"{name} has no labels: train an unconditional model (kgan train --no-conditional), or "
                           "give one subfolder per class")
        y = np.asarray(y, dtype=np.int64)
        num_classes = int(y.max()) + 1
        dataset = tf.data.Dataset.from_tensor_slices((x, y))
    else:
        dataset = tf.data.Dataset.from_tensor_slices(x)
    dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(int(batch_size), drop_remainder=True).prefetch(2)
    # tf.data's autotuning thread sleeps in doubling periods (10 ms, 20 ms, ... up to a minute),
    # and tearing an iterator down can wait for the current period to end: here `fit` calls
    # stretched to exactly 10.24 s or 20.47 s (10 ms x (2^10 - 1), x (2^11 - 1)) whatever their
    # work. An in-memory pipeline has nothing to tune.
    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = dataset.with_options(options)
    info = DatasetInfo(
        name=name,
        kind=kind,
        shape=tuple(int(s) for s in x.shape[1:]),
        num_examples=int(len(x)),
        num_classes=num_classes,
        value_range=None if kind in ("vector", "tokens") else (-1.0, 1.0),
        batch_size=int(batch_size),
        **_text_facts(name_or_path, kind, tokens, length),
    )
    return dataset, info


def _pairs(source, task, patch_size, batch_size, labels, seed):
    if labels:
        raise KganError("a task's generator restores images; it takes no labels: drop --conditional")
    task = Task.parse(task)
    if patch_size is None:
        patch_size = 8 if source == "digits" else 64
    dataset, facts = paired_dataset(source, task, patch_size, batch_size, seed)
    info = DatasetInfo(name=facts["name"], kind="restored", shape=facts["shape"], num_examples=facts["num_examples"],
                       num_classes=None, value_range=(-1.0, 1.0), batch_size=batch_size, task=str(task))
    return dataset, info


def _text_facts(source, kind, tokens, length):
    if kind != "tokens":
        return {}

    text = text_source(source, tokens, length)
    return {"vocabulary": text.vocabulary, "separator": text.separator}


def real_for_calibration(dataset, n=2000, seed=0, image_size=None, frames=None, **options):
    """`(samples, labels or None)`: up to `n` real samples of `dataset` in the generator's
    range: fresh draws of a 2-D mixture (which no run trained on), else rows of the data set
    (a run trains on all of them, so the discriminator has seen these); `options` go to
    `load_arrays` (how text is read)."""
    if dataset in MIXTURES:
        return load_arrays(dataset, num_examples=n, seed=10_000 + seed)[0], None
    x, y, _, _ = load_arrays(dataset, image_size=image_size, seed=seed, frames=frames, **options)
    rows = np.sort(np.random.default_rng(seed).permutation(len(x))[:n])
    return x[rows], None if y is None else y[rows]
