"""Moving digits: scikit-learn's 8x8 digits moving on a larger canvas, as Moving MNIST
(Srivastava et al., ICML 2015) moves MNIST digits on 64x64 frames.

Each digit starts at a uniform position, moves with a constant speed in a uniform
direction and bounces off the walls (its velocity component flips when it would leave
the canvas). Two or more digits are drawn with the pixel-wise maximum. Numpy only.

Example:
    >>> clips, labels, paths = moving_digits(4, frames=16, size=16, seed=0)
    >>> clips.shape, float(clips.min()), float(clips.max())
    ((4, 16, 16, 16, 1), -1.0, 1.0)
"""

import numpy as np

from kgan.data.digits import digits as embedded_digits
from kgan.errors import KganError

__all__ = ["moving_digits", "bounce"]

DIGIT = 8  # side of a scikit-learn digit


def bounce(start, velocity, frames, room):
    """Positions `[n, frames, 2]` of points moving from `start` (`[n, 2]`) by `velocity` a
    frame inside `[0, room]` on each axis, reflected at the walls."""
    steps = np.arange(frames, dtype=np.float64)[None, :, None]
    free = start[:, None, :] + steps * velocity[:, None, :]  # unbounded path
    if room == 0:
        return np.zeros_like(free)
    folded = np.mod(free, 2.0 * room)  # reflection is a fold of the path into [0, 2 room)
    return np.where(folded > room, 2.0 * room - folded, folded)


def moving_digits(n, frames=16, size=16, digits=1, speed=1.0, seed=0, images=None, labels=None):
    """`n` clips of moving digits.

    Args:
        n: number of clips.
        frames: frames a clip.
        size: side of the square frames (at least 8, a digit's side).
        digits: digits in each clip.
        speed: pixels a frame.
        seed: the same seed gives the same clips.
        images, labels: the digits to draw from (`[m, 8, 8, 1]` in [-1, 1], `[m]`);
            default all 1,797 of scikit-learn's.

    Returns:
        `(clips, labels, paths)`: float32 `[n, frames, size, size, 1]` in [-1, 1], the class
        of each clip's first digit (int64 `[n]`), and the top-left corner of every digit in
        every frame (`[n, digits, frames, 2]`, row and column, in pixels).
    """
    for name, value, low in (("n", n, 1), ("frames", frames, 1), ("size", size, DIGIT), ("digits", digits, 1)):
        if isinstance(value, bool) or int(value) != value or value < low:
            raise KganError(f"moving digits' {name} must be an integer of at least {low}, got {value!r}")
    if not float(speed) >= 0:
        raise KganError(f"moving digits' speed must be a non-negative number of pixels a frame, got {speed!r}")
    if images is None:
        images, labels = embedded_digits()
    ink = (np.asarray(images, np.float32)[..., 0] + 1.0) / 2.0  # [m, 8, 8] in [0, 1]
    rng = np.random.default_rng(seed)
    room = size - DIGIT
    picks = rng.integers(0, len(ink), size=(n, digits))
    start = rng.uniform(0.0, room, size=(n * digits, 2))
    angle = rng.uniform(0.0, 2.0 * np.pi, size=n * digits)
    velocity = float(speed) * np.stack([np.sin(angle), np.cos(angle)], axis=-1)
    paths = bounce(start, velocity, frames, room).reshape(n, digits, frames, 2)
    corners = np.rint(paths).astype(np.int64)
    canvas = np.zeros((n, frames, size, size), np.float32)
    rows = np.arange(DIGIT)
    for d in range(digits):
        glyphs = ink[picks[:, d]]  # [n, 8, 8]
        top, left = corners[:, d, :, 0], corners[:, d, :, 1]  # [n, frames]
        r = top[..., None, None] + rows[None, None, :, None]  # [n, frames, 8, 1]
        c = left[..., None, None] + rows[None, None, None, :]  # [n, frames, 1, 8]
        clip = np.arange(n)[:, None, None, None]
        frame = np.arange(frames)[None, :, None, None]
        canvas[clip, frame, r, c] = np.maximum(canvas[clip, frame, r, c], glyphs[:, None])
    clips = (canvas * 2.0 - 1.0)[..., None]
    first = None if labels is None else np.asarray(labels, np.int64)[picks[:, 0]]
    return clips, first, paths
