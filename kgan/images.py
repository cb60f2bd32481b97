"""Image conversion, grids, scatter plots and file writing (numpy + Pillow only).

Shared by the training callbacks, the inference module and the app, so nothing here
may import TensorFlow or Keras. Images are NHWC; float images are in [-1, 1].
"""

import io
import os
import tempfile

import numpy as np
from PIL import Image, ImageDraw

from kgan.errors import KganError

__all__ = [
    "to_uint8",
    "make_grid",
    "scatter_plot",
    "encode_png",
    "save_png",
    "save_gif",
    "save_animation",
    "ANIMATION_SUFFIXES",
    "atomic_write_bytes",
    "check_writable_target",
    "usual_mode",
    "replace_dir",
]


def to_uint8(images, value_range=(-1.0, 1.0)):
    """Maps float images in `value_range` to uint8 in [0, 255], clipping outliers.

    Args:
        images: array of any shape, float.
        value_range: the (low, high) the floats span.

    Returns:
        A uint8 array of the same shape.

    Example:
        >>> to_uint8(np.array([-1.0, 0.0, 1.0])).tolist()
        [0, 128, 255]
    """
    low, high = value_range
    scaled = (np.asarray(images, dtype=np.float32) - low) / (high - low)
    return np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)


def make_grid(images, columns=None, padding=1, scale=1, pad_value=0):
    """Tiles a batch of uint8 NHWC images into one HWC image.

    Args:
        images: uint8 array `[n, h, w, c]` with c in (1, 3).
        columns: images per row; defaults to the ceiling of sqrt(n).
        padding: pixels between tiles.
        scale: integer nearest-neighbour upscaling of each tile (8x8 digits read
            better at 4x).
        pad_value: the padding's grey level.

    Returns:
        A uint8 array `[H, W, c]`.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"make_grid expects NHWC images with 1 or 3 channels, got shape {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"make_grid expects uint8 images, got {images.dtype}: convert with to_uint8 first")
    n, h, w, c = images.shape
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
        h, w = h * scale, w * scale
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.full(
        (rows * h + (rows + 1) * padding, columns * w + (columns + 1) * padding, c),
        pad_value,
        dtype=np.uint8,
    )
    for i in range(n):
        r, k = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        grid[top : top + h, left : left + w] = images[i]
    return grid


def scatter_plot(points, reference=None, size=512, extent=None, point_radius=1):
    """Draws 2-D samples (blue) over reference points (grey) as an RGB image.

    Args:
        points: float array `[n, 2]`.
        reference: optional float array `[m, 2]` drawn underneath (the real data).
        size: the square image's side in pixels.
        extent: (low, high) of both axes; defaults to the data's range plus 10 %.
        point_radius: radius of each dot in pixels.

    Returns:
        A uint8 array `[size, size, 3]`.
    """
    points = np.asarray(points, dtype=np.float64)[:, :2]
    stack = points if reference is None else np.concatenate([points, np.asarray(reference)[:, :2]])
    finite = stack[np.isfinite(stack).all(axis=1)]
    if extent is None:
        low, high = (finite.min(), finite.max()) if len(finite) else (-1.0, 1.0)
        margin = 0.1 * max(high - low, 1e-6)
        extent = (low - margin, high + margin)
    low, high = extent
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)

    def _draw(data, colour):
        data = data[np.isfinite(data).all(axis=1)]
        pixels = (data - low) / (high - low) * (size - 1)
        for x, y in pixels:
            y = size - 1 - y
            draw.ellipse([x - point_radius, y - point_radius, x + point_radius, y + point_radius], fill=colour)

    if reference is not None:
        _draw(np.asarray(reference, dtype=np.float64)[:, :2], (170, 170, 170))
    _draw(points, (31, 119, 180))
    return np.asarray(image)


def _pil(image):
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return Image.fromarray(image)


def encode_png(image):
    """Encodes a uint8 HW or HWC image as PNG bytes (deterministic for equal pixels)."""
    buffer = io.BytesIO()
    _pil(image).save(buffer, format="PNG")
    return buffer.getvalue()


def atomic_write_bytes(path, data):
    """Writes `data` to `path` through a temporary file and a rename.

    A reader never sees a half-written file, and a failure leaves any earlier file intact.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, usual_mode(0o666))  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def usual_mode(mode):
    """`mode` under the process's umask: what open() or mkdir() would have given."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def replace_dir(staging, target):
    """Moves a finished staging folder onto `target`, replacing any earlier one whole."""
    import shutil

    os.chmod(staging, usual_mode(0o777))  # mkdtemp makes 0700
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-", dir=os.path.dirname(os.path.abspath(target)))
        os.rmdir(old)
        os.replace(target, old)
    os.replace(staging, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def check_writable_target(path, what="the output"):
    """Raises `KganError` unless `path` (a file or folder, maybe not there yet) can be created.

    The nearest existing ancestor must be a writable folder, and `path` itself, if it
    exists, a folder.
    """
    from kgan.errors import KganError

    if os.path.exists(path) and not os.path.isdir(path):
        raise KganError(f"{what} {path} is a file: give a folder")
    probe = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK):
        raise KganError(f"cannot write {path}: {probe} is not a writable folder; choose another {what}")


def save_png(image, path):
    """Writes a uint8 HW or HWC image to `path` as PNG, atomically."""
    atomic_write_bytes(path, encode_png(image))


def save_gif(frames, path, duration_ms=80, loop=0):
    """Writes uint8 HWC frames as an animated GIF, atomically.

    Args:
        frames: a sequence or array of uint8 `[h, w, c]` images.
        path: the output file.
        duration_ms: display time of each frame.
        loop: 0 loops forever.
    """
    pil_frames = [_pil(f).convert("RGB") for f in frames]
    if not pil_frames:
        raise ValueError("save_gif needs at least one frame")
    buffer = io.BytesIO()
    pil_frames[0].save(
        buffer, format="GIF", save_all=True, append_images=pil_frames[1:], duration=duration_ms, loop=loop
    )
    atomic_write_bytes(path, buffer.getvalue())


ANIMATION_SUFFIXES = (".gif", ".mp4")
VIDEO_EXTRA = "pip install 'kgan[video]'"


def require_imageio(what):
    """imageio's v3 API, or a `KganError` naming the video extra that `what` needs."""
    try:
        import imageio.v3 as iio
    except ImportError:
        raise KganError(f"{what} needs imageio (the video extra): {VIDEO_EXTRA}") from None
    return iio


def save_animation(frames, path, duration_ms=100):
    """Writes uint8 HWC frames as an animated GIF (Pillow) or an H.264 MP4 (imageio with FFmpeg,
    the `video` extra), by `path`'s suffix, atomically. MP4 frames are padded to even sides."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".gif":
        return save_gif(frames, path, duration_ms=duration_ms)
    if suffix != ".mp4":
        raise KganError(f"cannot write an animation to {path}: name it .gif or .mp4")
    iio = require_imageio(f"writing {path}")
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        raise KganError(f"writing {path} needs FFmpeg for imageio: {VIDEO_EXTRA}") from None
    frames = np.stack([np.asarray(f) for f in frames])
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    h, w = frames.shape[1:3]
    frames = np.pad(frames, [(0, 0), (0, h % 2), (0, w % 2), (0, 0)])  # H.264 in yuv420p needs even sides
    folder = os.path.dirname(os.path.abspath(path))
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".mp4")
    os.close(handle)
    try:
        iio.imwrite(tmp, frames, extension=".mp4", plugin="FFMPEG", fps=1000.0 / duration_ms, codec="libx264",
                    macro_block_size=1)
        os.chmod(tmp, usual_mode(0o666))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
