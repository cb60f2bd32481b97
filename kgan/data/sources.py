"""Where training data comes from: each source returns `(x, y or None, kind)` in numpy.

Images are float32 NHWC in [-1, 1]; clips float32 `[n, frames, h, w, c]` in [-1, 1];
vectors are float32 `[n, d]` as stored. Every failure is a `KganError` naming the
problem and the fix.
"""

import os

import numpy as np

from kgan.data.clips import CLIP_SUFFIXES, read_clip_folder
from kgan.data.digits import digits as _digits
from kgan.data.mixtures import MIXTURES, sample_mixture
from kgan.data.moving import moving_digits
from kgan.data.text import TEXT_SOURCES, is_text_source, text_source
from kgan.errors import KganError

__all__ = ["KERAS_DATASETS", "BUILTIN", "load_arrays"]

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10")
# Clips of one or two embedded digits moving on 16x16 frames (kgan.data.moving).
MOVING = {"moving-digits": 1, "moving-digits2": 2}
BUILTIN = ("digits", *KERAS_DATASETS, *MIXTURES, "stacked-digits", *MOVING, *TEXT_SOURCES)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _keras_dataset(name):
    import keras

    try:
        (x, y), _ = getattr(keras.datasets, name).load_data()
    except Exception as error:  # keras raises a bare Exception on a failed download
        cache = os.path.join(os.path.expanduser("~"), ".keras", "datasets")
        raise KganError(
            f"cannot load {name!r}: it is not in {cache} and could not be downloaded "
            f"({str(error).splitlines()[0][:120]}); copy the file there, or use --dataset digits"
        ) from None
    x = x.astype(np.float32) / 127.5 - 1.0
    if x.ndim == 3:
        x = x[..., None]
    return x, y.reshape(-1).astype(np.int64)


def _image_channels(image):
    return 1 if image.mode in ("1", "L", "I", "I;16", "F") else 3


def _read_folder(path, image_size):
    from PIL import Image, UnidentifiedImageError

    entries = sorted(os.listdir(path))
    files = [e for e in entries if e.lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(os.path.join(path, e))]
    classes = [e for e in entries if os.path.isdir(os.path.join(path, e)) and not e.startswith(".")]
    items = [(os.path.join(path, f), None) for f in files]
    if not items and classes:
        for index, name in enumerate(classes):
            for f in sorted(os.listdir(os.path.join(path, name))):
                if f.lower().endswith(IMAGE_SUFFIXES):
                    items.append((os.path.join(path, name, f), index))
    if not items:
        raise KganError(f"no PNG or JPEG images or GIF/MP4 clips in {path}: put images there (or in one subfolder "
                       "per class), or clips")
    images, labels, channels, first = [], [], None, None
    for file, label in items:
        try:
            with Image.open(file) as image:
                image.load()
                c = _image_channels(image)
                if channels is None:
                    channels, first = c, file
                    size = image_size or image.size[1]
                elif c != channels:
                    raise KganError(
                        f"images of mixed channel counts in {path}: {os.path.basename(first)} has {channels}, "
                        f"{os.path.basename(file)} has {c}; convert them all to grayscale or all to RGB"
                    )
                image = image.convert("L" if c == 1 else "RGB").resize((size, size), Image.BILINEAR)
        except (UnidentifiedImageError, OSError) as error:
            raise KganError(f"cannot read image {file}: {error}; remove or replace it") from None
        array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
        images.append(array[..., None] if c == 1 else array)
        labels.append(label)
    y = None if labels[0] is None else np.asarray(labels, dtype=np.int64)
    return np.stack(images), y


def _read_array_file(path):
    try:
        if path.endswith(".npz"):
            with np.load(path) as archive:
                keys = list(archive.keys())
                x_key = next((k for k in ("x", "images", "x_train", "arr_0") if k in keys), None)
                if x_key is None:
                    raise KganError(f"{path} has arrays {keys}: name the data 'x' (and labels 'y')")
                x = archive[x_key]
                y_key = next((k for k in ("y", "labels", "y_train") if k in keys), None)
                y = archive[y_key] if y_key else None
        else:
            x, y = np.load(path), None
    except KganError:
        raise
    except Exception as error:
        raise KganError(f"cannot read {path} as a numpy file ({error}); save it with numpy.save/savez") from None
    if x.ndim == 2:
        return x.astype(np.float32), y, "vector"
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim not in (4, 5) or x.shape[-1] not in (1, 3):
        raise KganError(f"{path}: expected vectors [n, d], images [n, h, w(, 1|3)] or clips [n, frames, h, w, 1|3], "
                        f"got shape {x.shape}")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 127.5 - 1.0
    else:
        x = x.astype(np.float32)
        low, high = float(x.min()), float(x.max())
        if low >= 0.0 and high <= 1.0:
            x = x * 2.0 - 1.0
        elif low < -1.0 - 1e-6 or high > 1.0 + 1e-6:
            raise KganError(
                f"{path}: float images must be in [0, 1] or [-1, 1], found [{low:.3g}, {high:.3g}]; "
                "rescale them or store uint8"
            )
    return x, y, ("image" if x.ndim == 4 else "video")


def _resize(x, image_size):
    """Images `[n, h, w, c]` or clips `[n, frames, h, w, c]` resized to square `image_size` frames."""
    if image_size is None or x.shape[-3:-1] == (image_size, image_size):
        return x
    import tensorflow as tf

    frames = x.reshape(-1, *x.shape[-3:])
    resized = np.clip(tf.image.resize(frames, (image_size, image_size)).numpy(), -1.0, 1.0)
    return resized.reshape(*x.shape[:-3], image_size, image_size, x.shape[-1])


def _frames(x, frames, name):
    """Clips cut to their first `frames` frames."""
    if frames is None:
        return x
    if x.shape[1] < frames:
        raise KganError(f"{name}'s clips have {x.shape[1]} frames, fewer than {frames}: pass a smaller --frames")
    return x[:, :frames]


def _moving_digits(name, n, frames, size, seed):
    images, labels = _digits()
    clips, y, _ = moving_digits(n, frames=frames or 16, size=size or 16, digits=MOVING[name], seed=seed,
                                images=images, labels=labels)
    return clips, y


def _stacked_digits(n, seed):
    """Three digits as the three channels of one 8x8x3 image; label = 100a + 10b + c."""
    x, y = _digits()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(x), size=(n, 3))
    images = np.concatenate([x[picks[:, i]] for i in range(3)], axis=-1)
    labels = 100 * y[picks[:, 0]] + 10 * y[picks[:, 1]] + y[picks[:, 2]]
    return images, labels


def load_arrays(name_or_path, image_size=None, num_examples=None, seed=0, frames=None, tokens="chars", length=None):
    """Loads a named data set or a file/folder into numpy.

    Args:
        frames: frames a clip for video sources (default: 16 for moving digits and clip
            folders, every frame of arrays); ignored by other sources.
        tokens: how a `.txt` file is cut into tokens, `"chars"` or `"words"`.
        length: tokens a text sequence (default: the longest and its end).

    Returns:
        `(x, y or None, kind, name)` where kind is `"image"`, `"video"`, `"vector"` or
        `"tokens"` (int64 ids: `kgan.data.text.text_source` has their vocabulary).
    """
    source = os.fspath(name_or_path)
    if is_text_source(source):
        name = source if source in TEXT_SOURCES else os.path.splitext(os.path.basename(source))[0]
        return text_source(source, tokens, length).train, None, "tokens", name
    if source in MOVING:
        x, y = _moving_digits(source, num_examples or 10_000, frames, image_size, seed)
        return x, y, "video", source
    if source == "digits":
        x, y = _digits()
        return _resize(x, image_size), y, "image", source
    if source in KERAS_DATASETS:
        x, y = _keras_dataset(source)
        return _resize(x, image_size), y, "image", source
    if source in MIXTURES:
        x, y = sample_mixture(source, num_examples or 50_000, seed=seed)
        return x, y, "vector", source
    if source == "stacked-digits":
        x, y = _stacked_digits(num_examples or 50_000, seed)
        return _resize(x, image_size), y, "image", source
    if not os.path.exists(source):
        if os.sep not in source and "." not in source:
            raise KganError(f"unknown data set {source!r}: choose one of {', '.join(BUILTIN)}, or give a path")
        raise KganError(f"no such file or folder: {source}; check the path")
    name = os.path.splitext(os.path.basename(os.path.normpath(source)))[0]
    if os.path.isdir(source):
        if any(f.lower().endswith(CLIP_SUFFIXES) for f in os.listdir(source)):
            return read_clip_folder(source, frames=frames, size=image_size), None, "video", name
        x, y = _read_folder(source, image_size)
        return x, y, "image", name
    if source.endswith((".npz", ".npy")):
        x, y, kind = _read_array_file(source)
        if kind == "video":
            x = _frames(x, frames, name)
        return (x if kind == "vector" else _resize(x, image_size)), y, kind, name
    raise KganError(f"cannot read {source}: give a folder of PNG/JPEG images or GIF/MP4 clips, a .npz/.npy file, "
                    "or a .txt file of text, one sequence a line")
