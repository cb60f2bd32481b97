"""Training pairs for generators that take an image: clean images degraded on the fly by a task
(`kgan.runtime.restore.Task`), or the user's own pairs in folders `A/` (inputs) and `B/` (targets)
with matching file names, pix2pix's layout.

Sources of clean images: `photos` (the real photographs scikit-image ships, split by photo into
training and held-out sets), `digits` (scikit-learn's, split as the digit classifier is) and a
folder of images. Photos train on random crops (patches), each turned and flipped at random;
small images that are one patch (digits) train whole. Held-out images are whole.
"""

import os

import numpy as np

from kgan.data.digits import digits, held_out_split
from kgan.data.sources import _image_channels
from kgan.errors import KganError
from kgan.runtime.restore import Task, read_image, to_unit

__all__ = ["PHOTOS", "HELD_OUT_PHOTOS", "clean_images", "held_out_count", "held_out_names", "paired_images",
           "pair_batches", "paired_dataset", "preview_pairs"]

# scikit-image's real photographs that ship in its wheel (greyscale ones as RGB), and the four held out.
PHOTOS = ("chelsea", "rocket", "motorcycle", "hubble_deep_field", "immunohistochemistry", "retina", "coins", "moon",
          "grass", "gravel", "brick", "page", "text")
HELD_OUT_PHOTOS = ("astronaut", "coffee", "camera", "clock")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def _photos(names):
    try:
        from skimage import data
    except ImportError:
        raise KganError("the photos come with scikit-image: pip install 'kgan[restore]' (or scikit-image)") from None
    out = []
    for name in names:
        # The motorcycle (in a garage) is the left view of the stereo pair; the right one is nearly the same photo.
        image = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        out.append(image[..., :3].astype(np.uint8))
    return out


def _folder(path, channels=None):
    files = sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_SUFFIXES))
    if not files:
        raise KganError(f"no PNG or JPEG images in {path}: put images there, or give A/ and B/ folders of pairs")
    return files, [read_image(os.path.join(path, f), channels or _channels_of(os.path.join(path, files[0])))
                   for f in files]


def _channels_of(path):
    from PIL import Image

    with Image.open(path) as image:
        return _image_channels(image)


def _as_float(images):
    return [to_unit(image) * 2.0 - 1.0 for image in images]


def clean_images(source, split="train"):
    """The clean images of a source as float32 `[H, W, C]` arrays in [-1, 1].

    Args:
        source: `"photos"`, `"digits"` or a folder of images.
        split: `"train"` or `"held_out"` (a folder: its last tenth, at least one image, is held out).

    Returns:
        A list of images (one `[n, 8, 8, 1]` array's rows for digits).
    """
    if source == "photos":
        return _as_float(_photos(PHOTOS if split == "train" else HELD_OUT_PHOTOS))
    if source == "digits":
        x, y = digits()
        x_train, _, x_held, _ = held_out_split(x, y)
        return list(x_train if split == "train" else x_held)
    if not os.path.isdir(source):
        raise KganError(f"no such folder: {source}; give photos, digits, a folder of images, or A/ and B/ folders")
    _, images = _folder(source)
    held = held_out_count(len(images))
    return _as_float(images[len(images) - held :] if split == "held_out" else images[: len(images) - held])


def held_out_count(n, paired=False):
    """How many of a folder's `n` images (sorted by name) are held out: the last tenth, at least
    one; none of a lone image, except of pairs (whose images are not split further)."""
    return max(1, n // 10) if paired or n > 1 else 0


def held_out_names(source, paired=False):
    """The names of a source's held-out images, in `clean_images(source, "held_out")`'s order (for
    `paired`, of `paired_images(source)`'s held-out pairs, its last tenth); None for digits."""
    if source == "photos":
        return list(HELD_OUT_PHOTOS)
    if source == "digits":
        return None
    names = sorted(f for f in os.listdir(os.path.join(source, "A") if paired else source)
                   if f.lower().endswith(IMAGE_SUFFIXES))
    return names[len(names) - held_out_count(len(names), paired) :]


def paired_images(folder):
    """The user's pairs, from `folder/A` (inputs) and `folder/B` (targets) matched by file name.

    Args:
        folder: the folder holding `A/` and `B/`.

    Returns:
        `(inputs, targets)`: lists of float32 images in [-1, 1].

    Raises:
        KganError: one line for a missing folder, a name in one folder only, or a pair of two sizes.
    """
    a, b = os.path.join(folder, "A"), os.path.join(folder, "B")
    if not (os.path.isdir(a) and os.path.isdir(b)):
        raise KganError(f"paired data are two folders, {a} (inputs) and {b} (targets), of images with matching names")
    names_a, inputs = _folder(a)
    names_b, targets = _folder(b, channels=inputs[0].shape[-1])
    if names_a != names_b:
        odd = sorted(set(names_a) ^ set(names_b))[0]
        raise KganError(f"{odd} is in only one of {a} and {b}: every input needs a target of the same name")
    for name, x, y in zip(names_a, inputs, targets):
        if x.shape != y.shape:
            raise KganError(f"{name} is {x.shape[1]}x{x.shape[0]} in A but {y.shape[1]}x{y.shape[0]} in B: "
                            "give each pair one size")
    return _as_float(inputs), _as_float(targets)


def pair_batches(source, task, patch_size, batch_size, seed=0):
    """Endless training batches `({"image": inputs[, "mask"]}, targets)` as numpy arrays.

    Args:
        source: a clean-image source (`clean_images`) or, for the `paired` task, a folder with `A/` and `B/`.
        task: a `Task` or its text.
        patch_size: the side of the target crops (images of that size or smaller train whole).
        batch_size: pairs a batch.
        seed: seed of the crops, flips and degradations.

    Returns:
        A generator of batches; inputs made by `task.degrade` from the crops of clean images.
    """
    task = Task.parse(task)
    return _batches(_training_images(source, task), task, patch_size, batch_size, seed)


def _training_images(source, task):
    """The training images of a task: clean images, or a paired folder's inputs and targets joined along channels."""
    if task.name == "paired":
        inputs, targets = paired_images(source)
        return [np.concatenate([x, y], axis=-1) for x, y in zip(inputs, targets)]
    return clean_images(source, "train")


def _batches(stacks, task, patch_size, batch_size, seed):
    rng = np.random.default_rng(seed)
    channels = stacks[0].shape[-1] if task.name != "paired" else stacks[0].shape[-1] // 2
    for image in stacks:
        if min(image.shape[:2]) < patch_size:
            raise KganError(f"an image of {image.shape[1]}x{image.shape[0]} is smaller than the {patch_size}-pixel "
                            "patches: lower --patch-size")
    weights = np.array([image.shape[0] * image.shape[1] for image in stacks], np.float64)
    weights /= weights.sum()  # each pixel equally likely to be in a crop
    while True:
        crops = []
        for index in rng.choice(len(stacks), batch_size, p=weights):
            image = stacks[index]
            top = int(rng.integers(0, image.shape[0] - patch_size + 1))
            left = int(rng.integers(0, image.shape[1] - patch_size + 1))
            crop = image[top : top + patch_size, left : left + patch_size]
            if patch_size < min(image.shape[:2]):  # one of the square's 8 symmetries (EDSR's flips and turns)
                crop = np.rot90(crop, int(rng.integers(4)))
                if rng.random() < 0.5:
                    crop = crop[:, ::-1]
            crops.append(crop)
        crops = np.stack(crops).astype(np.float32)
        if task.name == "paired":
            yield {"image": crops[..., :channels]}, crops[..., channels:]
        else:
            yield task.degrade(crops, rng), crops


def paired_dataset(source, task, patch_size, batch_size, seed=0):
    """`pair_batches` as a prefetched tf.data pipeline, with its facts.

    Returns:
        `(dataset, facts)`: facts has `name`, `shape` (one target patch), `num_examples` (the
        training images) and `channels`.
    """
    import tensorflow as tf

    task = Task.parse(task)
    training = _training_images(source, task)
    batches = _batches(training, task, patch_size, batch_size, seed)
    inputs, targets = next(batches)  # checks the source now, before a run folder exists
    first = [(inputs, targets)]

    names = sorted(inputs)

    def next_flat():
        batch_inputs, batch_targets = first.pop() if first else next(batches)
        return [batch_inputs[name] for name in names] + [batch_targets]

    def structure(flat):
        shapes = [(batch_size, *inputs[name].shape[1:]) for name in names] + [(batch_size, *targets.shape[1:])]
        flat = [tf.ensure_shape(x, shape) for x, shape in zip(flat, shapes)]
        return dict(zip(names, flat[:-1])), flat[-1]

    # A Python function in a map rather than `Dataset.from_generator`: TensorFlow 2.21's generator op
    # sets glibc's M_TRIM_THRESHOLD to 128 KB for the whole process, which made every later training
    # step 1.6x slower here (sys time 32 s against 5 s over 60 steps of photos-superres).
    dataset = tf.data.Dataset.from_tensors(0).repeat()
    dataset = dataset.map(lambda _: structure(tf.numpy_function(next_flat, [], [tf.float32] * (len(names) + 1),
                                                                stateful=True)))
    dataset = dataset.prefetch(2)
    options = tf.data.Options()
    options.autotune.enabled = False  # see kgan.data.load_dataset
    dataset = dataset.with_options(options)
    name = source if source in ("photos", "digits") else os.path.basename(os.path.normpath(source))
    return dataset, {"name": name, "shape": tuple(int(s) for s in targets.shape[1:]), "num_examples": len(training)}


def preview_pairs(source, task, patch_size, n=8, seed=0):
    """Held-out crops and their inputs, for pictures of progress.

    Args:
        source: a clean-image source, or a paired folder (its first pairs).
        task: a `Task` or its text.
        patch_size: the crops' side.
        n: crops (the held-out images in turn).
        seed: seed of the crops' places and the degradations.

    Returns:
        `(inputs, targets)`: `{"image"[, "mask"]}` and `[n, patch, patch, C]`.
    """
    task = Task.parse(task)
    rng = np.random.default_rng(seed)
    if task.name == "paired":
        inputs, targets = paired_images(source)
        crops = [np.concatenate([x, y], -1)[:patch_size, :patch_size] for x, y in zip(inputs, targets)]
    else:
        crops = []
        for image in clean_images(source, "held_out"):
            if min(image.shape[:2]) < patch_size:
                continue
            top = int(rng.integers(0, image.shape[0] - patch_size + 1))
            left = int(rng.integers(0, image.shape[1] - patch_size + 1))
            crops.append(image[top : top + patch_size, left : left + patch_size])
    if not crops:
        raise KganError(f"no held-out image of {source} is {patch_size} pixels a side: lower --patch-size")
    crops = np.stack([crops[i % len(crops)] for i in range(n)]).astype(np.float32)
    if task.name == "paired":
        half = crops.shape[-1] // 2
        return {"image": crops[..., :half]}, crops[..., half:]
    return task.degrade(crops, rng), crops
