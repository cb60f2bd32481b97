"""Generators that take an image: the degradations that make their inputs, their named inputs
(`image`, and `mask` for inpainting), the `restored` kind of sample, and running one on an image
of any size. Numpy and Pillow only, so training, export, the runtime and the demo share it.

A `Task` says how an input is made from a clean image:

- `superres:F` (F = 2 or 4): the input is the image made F times smaller in each side with
  Pillow's BICUBIC resize; the generator's output is F times larger than its input.
- `denoise:S`: additive Gaussian noise of standard deviation S on images in [0, 1], clipped;
  `denoise:spA`: salt-and-pepper noise on a fraction A of the pixels.
- `inpaint:lower` (the lower half of each image) or `inpaint:boxes` (one to three random
  rectangles): the region is set to mid-grey and a `mask` (1 where missing) goes beside the image.
- `paired`: the user's own pairs (folders `A/` and `B/`), the input as it is.

Images are float32 `[n, H, W, C]` in [-1, 1], as the generator takes and makes them.

Example:
    >>> task = Task.parse("superres:4")
    >>> x = np.zeros((2, 32, 32, 3), np.float32)
    >>> task.degrade(x, np.random.default_rng(0))["image"].shape
    (2, 8, 8, 3)
"""

import dataclasses
import io
import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from kgan.errors import KganError
from kgan.runtime.latent import _Input, register_input
from kgan.runtime.samples import ImageKind, register_kind

__all__ = ["Task", "TASKS", "ImageInput", "MaskInput", "RestoredKind", "restore", "read_image", "resize_bicubic",
           "psnr", "to_unit"]

TASKS = ("superres", "denoise", "inpaint", "paired")


def to_unit(images):
    """[-1, 1] floats (or uint8) as [0, 1] floats, clipped."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return np.clip((images.astype(np.float32) + 1.0) / 2.0, 0.0, 1.0)


def from_unit(images):
    return (np.asarray(images, np.float32) * 2.0 - 1.0).astype(np.float32)


def psnr(restored, truth):
    """Peak signal-to-noise ratio in dB, each image scored on [0, 1] and the scores averaged.

    Args:
        restored: images `[n, H, W, C]` in [-1, 1] (or uint8).
        truth: the clean images, likewise.

    Returns:
        The mean PSNR in dB.
    """
    a, b = to_unit(restored), to_unit(truth)
    mse = np.mean((a - b) ** 2, axis=tuple(range(1, a.ndim)))
    return float(np.mean(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))))


def resize_bicubic(images, height, width):
    """`[n, h, w, c]` float images resized with Pillow's BICUBIC filter, channel by channel in float
    (no rounding to 8 bits)."""
    images = np.asarray(images, np.float32)
    out = np.empty((len(images), height, width, images.shape[-1]), np.float32)
    for i, image in enumerate(images):
        for c in range(images.shape[-1]):
            out[i, :, :, c] = np.asarray(Image.fromarray(image[:, :, c], mode="F").resize((width, height), Image.BICUBIC))
    return out


@dataclasses.dataclass(frozen=True)
class Task:
    """How a generator's input is made from a clean image (see the module).

    Args:
        name: `"superres"`, `"denoise"`, `"inpaint"` or `"paired"`.
        factor: the super-resolution factor (2 or 4); 1 for the others.
        sigma: the Gaussian noise's standard deviation on [0, 1] images (denoise).
        salt_pepper: the fraction of pixels set to black or white (denoise).
        region: `"lower"` or `"boxes"` (inpaint).
    """

    name: str
    factor: int = 1
    sigma: float = 0.0
    salt_pepper: float = 0.0
    region: str | None = None

    @classmethod
    def parse(cls, text):
        """A task from its text (`superres:4`, `denoise:0.1`, `denoise:sp0.05`, `inpaint:lower`,
        `inpaint:boxes`, `paired`); a bad one is a one-line `KganError`."""
        if isinstance(text, Task):
            return text
        if isinstance(text, dict):
            return cls(**text)
        name, _, value = str(text).partition(":")
        usage = ("a task is superres:2, superres:4, denoise:SIGMA (e.g. denoise:0.1), denoise:spAMOUNT, "
                 "inpaint:lower, inpaint:boxes or paired")
        try:
            if name == "superres" and value in ("2", "4"):
                return cls("superres", factor=int(value))
            if name == "denoise" and value.startswith("sp"):
                amount = float(value[2:])
                if 0.0 < amount < 1.0:
                    return cls("denoise", salt_pepper=amount)
            elif name == "denoise":
                sigma = float(value)
                if 0.0 < sigma <= 1.0:
                    return cls("denoise", sigma=sigma)
            if name == "inpaint" and value in ("lower", "boxes"):
                return cls("inpaint", region=value)
            if name == "paired" and not value:
                return cls("paired")
        except ValueError:
            pass
        raise KganError(f"unknown task {text!r}: {usage}")

    def __str__(self):
        if self.name == "superres":
            return f"superres:{self.factor}"
        if self.name == "denoise":
            return f"denoise:sp{self.salt_pepper:g}" if self.salt_pepper else f"denoise:{self.sigma:g}"
        if self.name == "inpaint":
            return f"inpaint:{self.region}"
        return self.name

    def to_dict(self):
        """The task's fields (`Task.parse` reads them back)."""
        return dataclasses.asdict(self)

    @property
    def masked(self):
        """Whether the generator also takes a `mask`."""
        return self.name == "inpaint"

    def input_size(self, height, width):
        """The input's size for an output of `height` x `width`.

        Args:
            height: the output's height.
            width: the output's width.

        Returns:
            `(height, width)` of the input.
        """
        return height // self.factor, width // self.factor

    def mask(self, n, height, width, rng):
        """Inpainting's masks: the lower half, or one to three random rectangles.

        Args:
            n: masks to make.
            height: their height.
            width: their width.
            rng: a numpy Generator (rectangles; unused for the lower half).

        Returns:
            `[n, H, W, 1]` float32, 1 where the image is missing.
        """
        mask = np.zeros((n, height, width, 1), np.float32)
        if self.region == "lower":
            mask[:, height // 2 :] = 1.0
        else:
            for row in mask:
                for _ in range(int(rng.integers(1, 4))):
                    h = int(rng.integers(max(1, height // 8), max(2, height // 2) + 1))
                    w = int(rng.integers(max(1, width // 8), max(2, width // 2) + 1))
                    top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
                    row[top : top + h, left : left + w] = 1.0
        return mask

    def degrade(self, images, rng, mask=None):
        """The generator's inputs for clean images.

        Args:
            images: float32 `[n, H, W, C]` in [-1, 1].
            rng: a numpy Generator (noise, rectangles).
            mask: inpainting's mask when given (default: the task's region).

        Returns:
            `{"image": inputs}`, with `"mask"` for inpainting.
        """
        images = np.asarray(images, np.float32)
        n, height, width, _ = images.shape
        if self.name == "superres":
            small = resize_bicubic(images, height // self.factor, width // self.factor)
            return {"image": np.clip(small, -1.0, 1.0)}
        if self.name == "denoise":
            if self.salt_pepper:
                hit = rng.random((n, height, width, 1)) < self.salt_pepper
                value = np.where(rng.random((n, height, width, 1)) < 0.5, -1.0, 1.0).astype(np.float32)
                return {"image": np.where(hit, value, images).astype(np.float32)}
            noisy = images + np.float32(2.0 * self.sigma) * rng.standard_normal(images.shape).astype(np.float32)
            return {"image": np.clip(noisy, -1.0, 1.0)}
        if self.name == "inpaint":
            mask = self.mask(n, height, width, rng) if mask is None else np.asarray(mask, np.float32)
            return {"image": (images * (1.0 - mask)).astype(np.float32), "mask": mask}
        return {"image": images}

    def baseline(self, feeds, height, width):
        """What the inputs give without a model, at the output's size.

        Args:
            feeds: the inputs, `{"image": [n, h, w, C]}` as `degrade` gives them.
            height: the output's height.
            width: the output's width.

        Returns:
            Bicubic upsampling (super-resolution), the noisy input (denoising) or the masked input
            (inpainting), float32 `[n, height, width, C]`.
        """
        image = np.asarray(feeds["image"], np.float32)
        if self.name == "superres":
            return np.clip(resize_bicubic(image, height, width), -1.0, 1.0)
        return image


@register_input
class ImageInput(_Input):
    """`[batch, H, W, C]` float32 images in [-1, 1] that the user gives (any size; parity feeds draw
    random ones of `size`); the discriminator judges a sample beside it."""

    type = "image"
    conditioning = True

    def __init__(self, name, channels, size, task=None, multiple=1):
        super().__init__(name)
        self.channels = int(channels)
        self.size = [int(s) for s in size]
        self.task = None if task is None else str(Task.parse(task))  # how inputs are made (None: as given)
        self.multiple = int(multiple)  # what the input's sides must be multiples of (padded to)

    @property
    def shape(self):
        return (None, None, self.channels)

    def draw(self, n, rng, given=None, truncation=1.0, randomize=False):
        if given is None:
            if randomize:  # parity feeds: smooth random images with a little noise, inputs of the usual scale
                coarse = rng.uniform(-0.9, 0.9, (n, 4, 4, self.channels)).astype(np.float32)
                smooth = resize_bicubic(coarse, *self.size)
                return np.clip(smooth + 0.1 * rng.standard_normal(smooth.shape), -1.0, 1.0).astype(np.float32)
            raise KganError(f"this generator restores an image: give {self.name}=... ([n, H, W, {self.channels}])")
        return _as_images(given, self.channels, self.name)

    def to_dict(self):
        return dict(super().to_dict(), channels=self.channels, size=self.size, task=self.task, multiple=self.multiple)


@register_input
class MaskInput(ImageInput):
    """`[batch, H, W, 1]` float32, 1 where the image is missing (inpainting)."""

    type = "mask"

    def __init__(self, name, size, channels=1, task=None, multiple=1):
        super().__init__(name, 1, size, task, multiple)

    def draw(self, n, rng, given=None, truncation=1.0, randomize=False):
        if given is None and randomize:
            return (rng.random((n, *self.size, 1)) < 0.3).astype(np.float32)
        if given is None:
            raise KganError("this generator inpaints: give mask=... (1 where the image is missing)")
        mask = np.asarray(given, np.float32)
        mask = mask[None] if mask.ndim == 3 else mask
        if mask.ndim != 4 or mask.shape[-1] != 1:
            raise KganError(f"a mask is [n, H, W, 1] with 1 where the image is missing, got shape {list(mask.shape)}")
        return (mask > 0.5).astype(np.float32)


def _as_images(images, channels, name="image"):
    """One image `[H, W, C]` or a batch as float32 `[n, H, W, C]` in [-1, 1] (uint8 is read as 0..255)."""
    images = np.asarray(images)
    if images.ndim == 2 and channels == 1:
        images = images[..., None]
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise KganError(f"{name} must be an image [H, W, C] or a batch [n, H, W, C], got shape {list(images.shape)}")
    if images.shape[-1] != channels:
        raise KganError(f"{name} has {images.shape[-1]} channel(s) but this model takes {channels} "
                        f"({'RGB' if channels == 3 else 'greyscale'}): convert it first")
    if images.dtype == np.uint8:
        return from_unit(images.astype(np.float32) / 255.0)
    images = images.astype(np.float32)
    if not np.all(np.isfinite(images)) or images.min() < -1.0 - 1e-3 or images.max() > 1.0 + 1e-3:
        raise KganError(f"{name} must be uint8 (0..255) or float in [-1, 1]")
    return images


@register_kind
class RestoredKind(ImageKind):
    """`[H, W, C]` images a generator made from an input image (the shape is the training patch's;
    exported models take any size)."""

    name = "restored"
    tensor_name = "restored"
    inferred_rank = None

    @staticmethod
    def scale(spec):
        return 4 if spec.shape[0] < 32 else 1


def read_image(source, channels, name=None):
    """An image file as uint8 `[H, W, C]`, checked.

    Args:
        source: a path, or the file's bytes.
        channels: the channels the model takes (an alpha channel that is fully opaque is dropped).
        name: what messages call it (default: the path).

    Returns:
        The image.

    Raises:
        KganError: one line for a missing file, a file that is not an image, or other channels.
    """
    name = name or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else "the image")
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            image.load()
            mode = image.mode
            array = np.asarray(image.convert({"1": "L", "I;16": "I", "P": "RGBA" if "transparency" in image.info
                                             else "RGB"}.get(mode, mode)) if mode in ("1", "P", "I;16") else image)
    except FileNotFoundError:
        raise KganError(f"no such image: {name}") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise KganError(f"{name} is not an image Pillow can read (PNG, JPEG, ...)") from None
    if array.dtype != np.uint8:
        array = np.clip(array / max(1.0, float(array.max())) * 255.0, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 4 and channels != 4 and np.all(array[..., 3] == 255):
        array = array[..., :3]
    if array.shape[-1] != channels:
        raise KganError(f"{name} has {array.shape[-1]} channel(s) but the model takes {channels} "
                        f"({'RGB' if channels == 3 else 'greyscale'}): convert the image first")
    return array


def restore(run, task, image, mask=None, multiple=1, tile=256, overlap=16, min_size=None):
    """A generator's outputs for inputs of any size: each image padded (by reflection) to a multiple
    of what the network divides by and, when larger than `tile`, cut into overlapping tiles whose
    centres are joined.

    Args:
        run: `run(feeds) -> outputs` for `{"image", "mask"}` batches (float32, [-1, 1]).
        task: the generator's `Task`.
        image: float32 `[n, H, W, C]` in [-1, 1].
        mask: `[n, H, W, 1]` for inpainting (default: the task's region; `inpaint:boxes` needs one).
        multiple: the input sides must be multiples of this (2 ** the network's depth).
        tile: largest input side run at once.
        overlap: input pixels each tile shares with its neighbours (cut off each side).
        min_size: the smallest input side the model takes.

    Returns:
        float32 `[n, H * factor, W * factor, C]`.
    """
    n, height, width, _ = image.shape
    smallest = max(multiple, min_size or 1)
    if min(height, width) < smallest:
        raise KganError(f"the image is {width}x{height}: this model needs at least {smallest} pixels a side")
    if task.masked:
        if mask is None and task.region == "boxes":
            raise KganError("this model inpaints rectangles: give the mask (1 where the image is missing)")
        mask = task.mask(n, height, width, None) if mask is None else mask
        if mask.shape[:3] != (n, height, width):
            raise KganError(f"the mask is {mask.shape[2]}x{mask.shape[1]} but the image {width}x{height}: give them one size")
        image = (image * (1.0 - mask)).astype(np.float32)
    f = task.factor
    out = np.zeros((n, height * f, width * f, image.shape[-1]), np.float32)
    step = max(tile - 2 * overlap, multiple)
    for top in range(0, height, step):
        for left in range(0, width, step):
            # the tile's core [top, top + step) x [left, left + step), run with `overlap` around it
            y0, x0 = max(0, top - overlap), max(0, left - overlap)
            y1, x1 = min(height, top + step + overlap), min(width, left + step + overlap)
            feeds = {"image": image[:, y0:y1, x0:x1]}
            if task.masked:
                feeds["mask"] = np.asarray(mask[:, y0:y1, x0:x1], np.float32)
            result = _run_padded(run, feeds, multiple)
            core_h, core_w = min(step, height - top), min(step, width - left)
            oy, ox = (top - y0) * f, (left - x0) * f
            out[:, top * f : (top + core_h) * f, left * f : (left + core_w) * f] = \
                result[:, oy : oy + core_h * f, ox : ox + core_w * f]
    return out


def _run_padded(run, feeds, multiple):
    """`run` on inputs padded by reflection to sides that are multiples of `multiple`, cropped back."""
    _, h, w, _ = feeds["image"].shape
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        feeds = {k: np.pad(v, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > max(ph, pw)
                           else "edge") for k, v in feeds.items()}
    result = np.asarray(run(feeds), np.float32)
    f = result.shape[1] // feeds["image"].shape[1]
    return result[:, : h * f, : w * f]
