"""Video clips from files: a folder of GIF / MP4 files, read with imageio (the `video` extra).

Clips come back as float32 `[n, frames, size, size, channels]` in [-1, 1]: each is cut to
its first `frames` frames and resized to square `size` frames (the first clip's height when
no size is given, and then every clip must have that size). Grey clips (all channels
equal) have one channel, colour clips three, and a folder holds one or the other.
"""

import os

import numpy as np

from kgan.errors import KganError
from kgan.runtime.images import require_imageio

__all__ = ["CLIP_SUFFIXES", "read_clip_folder", "read_clip"]

CLIP_SUFFIXES = (".gif", ".mp4")
DEFAULT_FRAMES = 16


def read_clip(path):
    """All frames of one clip as uint8 `[frames, height, width, 3]`."""
    iio = require_imageio("reading GIF / MP4 clips")
    if path.lower().endswith(".mp4"):
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            try:
                import av  # noqa: F401
            except ImportError:
                raise KganError(f"reading {path} needs FFmpeg or PyAV for imageio: pip install 'kgan[video]'") from None
    try:
        frames = np.asarray(iio.imread(path, index=None))
    except Exception as error:  # imageio raises what its plugins raise
        raise KganError(f"cannot read clip {path} ({str(error).splitlines()[0][:120]}); remove or replace it") from None
    if frames.ndim == 3:  # grey frames
        frames = frames[..., None]
    if frames.ndim != 4 or frames.shape[0] == 0:
        raise KganError(f"cannot read clip {path}: it holds no frames of pixels (shape {frames.shape})")
    frames = frames[..., :3]  # drop alpha
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    return frames.astype(np.uint8)


def _resize(frames, size):
    from PIL import Image

    if frames.shape[1:3] == (size, size):
        return frames
    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BILINEAR)) for f in frames])


def read_clip_folder(path, frames=None, size=None):
    """The clips of a folder's `.gif` / `.mp4` files (sorted by name).

    Args:
        path: the folder.
        frames: frames a clip (default 16); longer clips are cut, shorter ones are an error.
        size: side of the square frames; None keeps the clips' size, which must then agree.

    Returns:
        float32 `[n, frames, size, size, channels]` in [-1, 1].
    """
    frames = int(frames or DEFAULT_FRAMES)
    files = sorted(f for f in os.listdir(path) if f.lower().endswith(CLIP_SUFFIXES)
                   and os.path.isfile(os.path.join(path, f)))
    if not files:
        raise KganError(f"no GIF or MP4 clips in {path}: put .gif / .mp4 files there")
    clips, first, grey, given = [], None, None, size is not None
    for name in files:
        file = os.path.join(path, name)
        clip = read_clip(file)
        if len(clip) < frames:
            raise KganError(f"{file} has {len(clip)} frames, fewer than {frames}: pass a smaller --frames or "
                            "remove the clip")
        clip = clip[:frames]
        is_grey = int(np.abs(clip.astype(np.int16) - clip[..., :1]).max()) <= 2  # MP4's colour planes round
        if first is None:
            first, grey = (name, clip.shape[1:3]), is_grey
            size = size or clip.shape[1]
        elif is_grey != grey:
            raise KganError(f"clips of mixed colour in {path}: {first[0]} is {'grey' if grey else 'colour'}, {name} "
                            f"is not; convert them all to grey or all to colour")
        if clip.shape[1:3] != first[1] and not given:
            raise KganError(f"clips of mixed sizes in {path}: {first[0]} is {first[1][1]}x{first[1][0]}, {name} is "
                            f"{clip.shape[2]}x{clip.shape[1]}; pass --image-size to resize them all")
        clips.append(_resize(clip, int(size)))
    x = np.stack(clips).astype(np.float32) / 127.5 - 1.0
    return x[..., :1] if grey else x
