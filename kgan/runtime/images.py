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


def make_grid(images, columns=None, padding=1, scale=1, pad_value=None):
    """Tiles a batch of uint8 NHWC images into one HWC image.

    Args:
        images: uint8 array `[n, h, w, c]` with c in (1, 3).
        columns: images per row; defaults to the ceiling of sqrt(n).
        padding: pixels between tiles.
        scale: integer nearest-neighbour upscaling of each tile (8x8 digits read
            better at 4x).
        pad_value: the padding's grey level; default `separator_level(images)`, a grey
            that stands apart from the tiles' edges (digits on black get grey lines).

    Returns:
        A uint8 array `[H, W, c]`.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"make_grid expects NHWC images with 1 or 3 channels, got shape {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"make_grid expects uint8 images, got {images.dtype}: convert with to_uint8 first")
    if pad_value is None:
        pad_value = separator_level(images)
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


def separator_level(images):
    """A grey level for lines between tiles that differs from their edges: mid-grey (128) beside
    dark or light edges (black digits, white pages), black or white beside mid-grey ones."""
    images = np.asarray(images)
    if images.size == 0:
        return 128
    edges = np.concatenate([images[:, 0].ravel(), images[:, -1].ravel(), images[:, :, 0].ravel(),
                            images[:, :, -1].ravel()])
    mean = float(edges.mean())
    if mean < 64 or mean > 192:
        return 128
    return 0 if mean >= 128 else 255


def nice_ticks(low, high, count=5):
    """About `count` round tick values (1, 2 or 5 times a power of ten apart) within [low, high]."""
    span = max(high - low, 1e-12)
    raw = span / max(count, 1)
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = np.ceil(low / step) * step
    ticks = np.arange(first, high + step * 1e-9, step)
    return [0.0 if abs(t) < step * 1e-9 else round(float(t), 12) for t in ticks]


# The plot's margins (pixels): room for the tick labels left of and below the axes.
PLOT_MARGIN_LEFT, PLOT_MARGIN_BOTTOM, PLOT_MARGIN = 44, 24, 8


def plot_area(size):
    """`(left, top, right, bottom)` pixels of a `scatter_plot`'s data area (inside its axes)."""
    return PLOT_MARGIN_LEFT, PLOT_MARGIN, size - 1 - PLOT_MARGIN, size - 1 - PLOT_MARGIN_BOTTOM


def scatter_plot(points, reference=None, size=512, extent=None, point_radius=1):
    """Draws 2-D samples (blue) over reference points (grey) as an RGB image, with axes,
    ticks and their values.

    Args:
        points: float array `[n, 2]`.
        reference: optional float array `[m, 2]` drawn underneath (the real data).
        size: the square image's side in pixels.
        extent: (low, high) of both axes; defaults to the data's range plus 10 %.
        point_radius: radius of each dot in pixels.

    Returns:
        A uint8 array `[size, size, 3]`; `plot_area(size)` is where the data go.
    """
    points = np.asarray(points, dtype=np.float64)[:, :2]
    stack = points if reference is None else np.concatenate([points, np.asarray(reference)[:, :2]])
    finite = stack[np.isfinite(stack).all(axis=1)]
    if extent is None:
        low, high = (finite.min(), finite.max()) if len(finite) else (-1.0, 1.0)
        margin = 0.1 * max(high - low, 1e-6)
        extent = (low - margin, high + margin)
    low, high = extent
    left, top, right, bottom = plot_area(size)
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)

    def x_pixel(x):
        return left + (x - low) / (high - low) * (right - left)

    def y_pixel(y):
        return bottom - (y - low) / (high - low) * (bottom - top)

    def _draw(data, colour):
        data = data[np.isfinite(data).all(axis=1)]
        for x, y in zip(x_pixel(data[:, 0]), y_pixel(data[:, 1])):
            draw.ellipse([x - point_radius, y - point_radius, x + point_radius, y + point_radius], fill=colour)

    axis = (60, 60, 60)
    for value in nice_ticks(low, high):
        label = f"{value:g}"
        x, y = round(x_pixel(value)), round(y_pixel(value))
        draw.line([(x, top), (x, bottom)], fill=(235, 235, 235))  # light grid lines
        draw.line([(left, y), (right, y)], fill=(235, 235, 235))
        draw.line([(x, bottom), (x, bottom + 4)], fill=axis)
        draw.line([(left - 4, y), (left, y)], fill=axis)
        width = draw.textlength(label)
        draw.text((x - width / 2, bottom + 6), label, fill=axis)
        draw.text((left - 6 - width, y - 5), label, fill=axis)
    if reference is not None:
        _draw(np.asarray(reference, dtype=np.float64)[:, :2], (170, 170, 170))
    _draw(points, (31, 119, 180))
    draw.rectangle([left, top, right, bottom], outline=axis)
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


def _process_alive(pid):
    if os.name != "posix":  # no cheap check elsewhere: a folder is kept while its writer may live
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_staging(target):
    """Removes what writers of `target` that died before finishing left beside it: the
    `.NAME.partial-PID-*` staging folders (and `.NAME.old-PID-*` ones of `replace_dir`) of
    processes that are gone, and such folders without a process id (older kgan versions)."""
    import shutil

    parent = os.path.dirname(os.path.abspath(target))
    name = os.path.basename(os.path.normpath(target))
    if not os.path.isdir(parent):
        return
    for entry in os.listdir(parent):
        for mark in (f".{name}.partial-", f".{name}.old-"):
            if not entry.startswith(mark):
                continue
            pid, dash, _ = entry[len(mark):].partition("-")
            if dash and pid.isdigit() and _process_alive(int(pid)):
                continue  # another export of the same folder at work
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


def staging_dir(target):
    """A new hidden folder beside `target` to build it in, `.NAME.partial-PID-XXXXXXXX`, made
    after `remove_stale_staging(target)`; `replace_dir` moves it onto `target` when done."""
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    remove_stale_staging(target)
    return tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.normpath(target))}.partial-{os.getpid()}-",
                            dir=parent)


def replace_dir(staging, target):
    """Moves a finished staging folder onto `target`, replacing any earlier one whole."""
    import shutil

    os.chmod(staging, usual_mode(0o777))  # mkdtemp makes 0700
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.normpath(target))}.old-{os.getpid()}-",
                               dir=os.path.dirname(os.path.abspath(target)))
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
