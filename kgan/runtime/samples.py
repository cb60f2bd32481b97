"""What a generator makes, and how each kind of sample is shown, converted and scored.

A `SampleSpec` declares a generator's samples: their kind, shape, dtype and value range
(and a vocabulary for tokens). It travels with the model: in the run's `config.json`, in
the export's `manifest.json` and in every ONNX file's metadata, so the runtime knows
what it serves without guessing from tensor ranks.

Everything that depends on the kind goes through one registry of `SampleKind`s: the
name of the exported tensor, the conversion to what a user looks at (uint8 images, raw
vectors), the picture of a batch (a grid, a scatter plot); `kgan.evaluate.REPORTS` holds the
metrics `kgan evaluate` applies to each kind. A new kind of sample is one new `SampleKind`
subclass, registered with `register_kind`. Numpy and Pillow only: the runtime and the demo use this module.

Example:
    >>> spec = SampleSpec("image", (8, 8, 1), value_range=(-1.0, 1.0))
    >>> spec.tensor_name
    'image'
    >>> get_kind(spec).picture(np.zeros((4, 8, 8, 1), np.float32), spec).shape
    (67, 67, 1)
"""

import dataclasses
import os

import numpy as np

from kgan.errors import KganError
from kgan.runtime import images
from kgan.runtime.text import decode, encode

__all__ = ["SampleSpec", "SampleKind", "KINDS", "register_kind", "get_kind"]

KINDS = {}
VIDEO_FRAME_MS = 100  # display time of a clip's frame in GIFs and MP4s (10 frames a second)


def register_kind(cls):
    """Class decorator: makes a `SampleKind` subclass available under its `name`."""
    KINDS[cls.name] = cls()
    return cls


def get_kind(spec_or_name):
    """The registered `SampleKind` for a spec or a kind name."""
    name = spec_or_name.kind if isinstance(spec_or_name, SampleSpec) else spec_or_name
    if name not in KINDS:
        raise KganError(f"unknown kind of sample {name!r}: this kgan knows {', '.join(KINDS)}; upgrade kgan")
    return KINDS[name]


@dataclasses.dataclass(frozen=True)
class SampleSpec:
    """What one generated sample is.

    Args:
        kind: a registered kind: `"image"` `[H, W, C]`, `"vector"` `[D]` (and, as
            they are registered, `"video"` `[frames, H, W, C]`, `"tokens"` `[length]`).
        shape: the shape of one sample, without the batch axis.
        dtype: `"float32"`, or `"int64"` for tokens.
        value_range: `(low, high)` the values span (images: (-1, 1)), or None.
        vocabulary: the tokens' strings, for kinds that have one.
        separator: what joins tokens into text (`""` for characters, `" "` for words);
            None where there is no text.
    """

    kind: str
    shape: tuple
    dtype: str = "float32"
    value_range: tuple | None = None
    vocabulary: tuple | None = None
    separator: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if self.value_range is not None:
            object.__setattr__(self, "value_range", tuple(float(v) for v in self.value_range))
        if self.vocabulary is not None:
            object.__setattr__(self, "vocabulary", tuple(self.vocabulary))
        get_kind(self).check(self)

    @property
    def tensor_name(self):
        """The name of the generator's output and of the discriminator's input."""
        return get_kind(self).tensor_name

    def to_dict(self):
        """The spec as JSON-ready values, as `manifest.json` stores it (`from_dict` reads it back)."""
        config = {"kind": self.kind, "shape": list(self.shape), "dtype": self.dtype,
                  "value_range": None if self.value_range is None else list(self.value_range)}
        if self.vocabulary is not None:
            config["vocabulary"] = list(self.vocabulary)
        if self.separator is not None:
            config["separator"] = self.separator
        return config

    @classmethod
    def from_dict(cls, config):
        return cls(**{f.name: config[f.name] for f in dataclasses.fields(cls) if f.name in config})

    @classmethod
    def infer(cls, shape, value_range=None):
        """The spec of a generator that declares none, from its sample shape: `[H, W, C]` is an
        image in [-1, 1], `[D]` a vector. Other shapes must be declared."""
        shape = tuple(int(s) for s in shape)
        for kind in KINDS.values():
            if kind.inferred_rank == len(shape):
                return cls(kind.name, shape, value_range=value_range or kind.default_range)
        raise KganError(f"cannot tell what samples of shape {list(shape)} are: give the generator a sample_spec "
                        f"(kgan.SampleSpec) or pass GAN(..., sample_spec=...)")


class SampleKind:
    """How one kind of sample is named, shown and converted.

    Subclasses set `name` and `tensor_name` and override what differs. Samples are
    numpy arrays `[n, *spec.shape]` as the generator makes them.
    """

    name = None
    tensor_name = "sample"
    inferred_rank = None  # the sample rank that `SampleSpec.infer` reads as this kind
    default_range = None
    cloud = False  # a picture shows many samples at once (a scatter plot), not one tile each
    animated = False  # a batch is shown as an animation (`animation`), and saved as a GIF or MP4
    text = False  # `to_display` gives strings, printed or saved one a line
    continuous = True  # float samples a gradient flows through (tokens are discrete)
    plural = None  # what a message calls many samples of this kind (default: the name + "s")

    @classmethod
    def noun(cls):
        return cls.plural or f"{cls.name}s"

    def check(self, spec):
        """Raises `KganError` for a spec this kind cannot hold."""

    def to_display(self, samples, spec):
        """What a user gets from `GeneratorRuntime.generate`: the samples as they are."""
        return np.asarray(samples, np.float32)

    def from_display(self, samples, spec):
        """Back from `to_display` to the generator's float32 values."""
        return np.asarray(samples, np.float32)

    def picture(self, samples, spec, columns=None, reference=None, extent=None, size=512, scale=None):
        """One uint8 HWC picture of a batch of raw samples.

        Args:
            columns: tiles per row (images).
            reference: real samples drawn beneath (clouds).
            extent: `(low, high)` of a plot's axes (clouds).
            size: a plot's side in pixels (clouds).
            scale: integer upscaling of small tiles (images; default 4 below 32 pixels).
        """
        raise NotImplementedError

    def animation(self, samples, spec, columns=None, **options):
        """The uint8 HWC frames that show a batch in motion: one `picture` for still kinds."""
        return [self.picture(samples, spec, columns=columns, **options)]

    def frames(self, walk, spec, columns=None):
        """Pictures of a latent walk `[steps, n, ...]` (raw samples), one per step, for a GIF."""
        return [self.picture(step, spec, columns=columns) for step in walk]

    def gallery(self, shown, spec, captions, folder=None):
        """`(picture or file, caption)` items of a gallery, from `to_display` samples; kinds that
        show files (animations) write them into `folder`."""
        return [(self.picture(self.from_display(shown, spec), spec), f"{len(shown)} samples")]


@register_kind
class ImageKind(SampleKind):
    """`[H, W, C]` images with 1 or 3 channels, float in `value_range`; shown as uint8."""

    name = "image"
    tensor_name = "image"
    inferred_rank = 3
    default_range = (-1.0, 1.0)

    def check(self, spec):
        if len(spec.shape) != 3:
            raise KganError(f"image samples are [height, width, channels], got shape {list(spec.shape)}")

    def _range(self, spec):
        return spec.value_range or self.default_range

    def to_display(self, samples, spec):
        return images.to_uint8(samples, self._range(spec))

    def from_display(self, samples, spec):
        samples = np.asarray(samples)
        if samples.dtype == np.uint8:
            low, high = self._range(spec)
            return samples.astype(np.float32) / 255.0 * (high - low) + low
        return samples.astype(np.float32)

    @staticmethod
    def scale(spec):
        return 4 if spec.shape[0] < 32 else 1

    def picture(self, samples, spec, columns=None, reference=None, extent=None, size=512, scale=None):
        return images.make_grid(self.to_display(samples, spec), columns=columns, scale=scale or self.scale(spec))

    def gallery(self, shown, spec, captions, folder=None):
        return [(image[..., 0] if image.shape[-1] == 1 else image, caption) for image, caption in zip(shown, captions)]


@register_kind
class VectorKind(SampleKind):
    """`[D]` feature vectors (2-D mixtures); a batch is shown as a scatter plot of the first two features."""

    name = "vector"
    tensor_name = "sample"
    inferred_rank = 1
    cloud = True

    def check(self, spec):
        if len(spec.shape) != 1:
            raise KganError(f"vector samples are [features], got shape {list(spec.shape)}")

    def picture(self, samples, spec, columns=None, reference=None, extent=None, size=512, scale=None):
        return images.scatter_plot(samples, reference, size=size, extent=extent)

    def frames(self, walk, spec, columns=None):
        extent = (float(np.min(walk)) - 0.5, float(np.max(walk)) + 0.5)
        return [images.scatter_plot(step, size=256, extent=extent) for step in walk]


@register_kind
class VideoKind(SampleKind):
    """`[frames, H, W, C]` clips with 1 or 3 channels, float in `value_range`; shown as uint8
    clips, played as an animated grid (one tile a clip), or as a film strip (one row a clip)."""

    name = "video"
    tensor_name = "video"
    plural = "clips"
    inferred_rank = 4
    default_range = (-1.0, 1.0)
    animated = True

    def check(self, spec):
        if len(spec.shape) != 4 or spec.shape[-1] not in (1, 3):
            raise KganError(f"video samples are [frames, height, width, channels] with 1 or 3 channels, got shape "
                            f"{list(spec.shape)}")

    to_display = ImageKind.to_display
    from_display = ImageKind.from_display
    _range = ImageKind._range

    @staticmethod
    def scale(spec):
        return 4 if spec.shape[1] < 32 else 1

    def picture(self, samples, spec, columns=None, reference=None, extent=None, size=512, scale=None):
        """A film strip: one row a clip, one column a frame."""
        clips = self.to_display(samples, spec)
        return images.make_grid(clips.reshape(-1, *clips.shape[2:]), columns=clips.shape[1],
                                scale=scale or self.scale(spec))

    def animation(self, samples, spec, columns=None, scale=None, **options):
        """One grid of clips per frame: played in turn, every tile is a clip."""
        clips = self.to_display(samples, spec)
        return [images.make_grid(clips[:, t], columns=columns, scale=scale or self.scale(spec))
                for t in range(clips.shape[1])]

    def frames(self, walk, spec, columns=None):
        """The walk's grids with the clips playing: step s shows frame s of each clip (cycling)."""
        count = spec.shape[0]
        return [images.make_grid(self.to_display(step[:, s % count], spec), columns=columns, scale=self.scale(spec))
                for s, step in enumerate(walk)]

    def gallery(self, shown, spec, captions, folder=None):
        """Each clip as an animated GIF file in `folder` (a browser plays it as an image)."""
        import tempfile
        import uuid

        folder = folder or tempfile.mkdtemp(prefix="kgan-clips-")
        batch = uuid.uuid4().hex[:12]  # a browser may still show an earlier batch's files
        items = []
        for index, (clip, caption) in enumerate(zip(shown, captions)):
            path = os.path.join(folder, f"clip-{batch}-{index}.gif")
            frames = [np.asarray(frame).repeat(self.scale(spec), 0).repeat(self.scale(spec), 1) for frame in clip]
            images.save_gif(frames, path, duration_ms=VIDEO_FRAME_MS)
            items.append((path, caption))
        return items


@register_kind
class TokensKind(SampleKind):
    """`[length]` int64 ids of the spec's `vocabulary`; shown as text: the tokens up to the first
    end token (`""`, id 0, when the vocabulary starts with it) joined by the spec's `separator`."""

    name = "tokens"
    tensor_name = "tokens"
    text = True
    continuous = False
    plural = "texts"

    def check(self, spec):
        if len(spec.shape) != 1 or spec.dtype != "int64" or not spec.vocabulary:
            raise KganError(f"token samples are [length] int64 ids with a vocabulary, got shape {list(spec.shape)}, "
                            f"dtype {spec.dtype}, {len(spec.vocabulary or ())} vocabulary entries")

    def to_display(self, samples, spec):
        """A numpy array of strings, one a sample."""
        samples = np.asarray(samples)
        if samples.size and (samples.min() < 0 or samples.max() >= len(spec.vocabulary)):
            raise KganError(f"token ids must be in [0, {len(spec.vocabulary)}), got {samples.min()}..{samples.max()}")
        texts = decode(samples.reshape(-1, samples.shape[-1]), spec.vocabulary, spec.separator or "")
        return np.asarray(texts, dtype=str).reshape(samples.shape[:-1])

    def from_display(self, samples, spec):
        """Token ids `[n, length]` int64 of strings (or of ids)."""
        samples = np.asarray(samples)
        if samples.dtype.kind in "iu":
            return samples.astype(np.int64)
        ids = encode([str(s) for s in samples.reshape(-1)], spec.vocabulary, spec.shape[0], spec.separator or "")
        return ids.reshape(*samples.shape, spec.shape[0])

    def picture(self, samples, spec, columns=None, reference=None, extent=None, size=512, scale=None):
        """One line of text a sample, dark on white (`[H, W, 1]` uint8)."""
        from PIL import Image, ImageDraw

        lines = [text if text else "(empty)" for text in self.to_display(samples, spec)]
        line_height, margin = 14, 6
        width = max(size, 2 * margin + 7 * max((len(line) for line in lines), default=0))
        canvas = Image.new("L", (width, 2 * margin + line_height * max(len(lines), 1)), 255)
        draw = ImageDraw.Draw(canvas)
        for row, line in enumerate(lines):
            draw.text((margin, margin + row * line_height), line, fill=0)
        return np.asarray(canvas, np.uint8)[..., None]

