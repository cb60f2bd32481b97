import numpy as np
import pytest

from kgan.data.moving import DIGIT, bounce, moving_digits
from kgan.errors import KganError


def _stepped(start, velocity, frames, room):
    """The same bounce, one step at a time: move, then mirror at whichever wall was crossed."""
    position, v, out = np.array(start, float), np.array(velocity, float), []
    for _ in range(frames):
        out.append(position.copy())
        position = position + v
        for axis in range(2):
            while not 0.0 <= position[axis] <= room:
                if position[axis] > room:
                    position[axis] = 2 * room - position[axis]
                else:
                    position[axis] = -position[axis]
                v[axis] = -v[axis]
    return np.array(out)


def test_bounce_reflects_off_the_walls_like_a_stepped_simulation():
    rng = np.random.default_rng(0)
    start = rng.uniform(0, 8, size=(20, 2))
    velocity = rng.uniform(-3.5, 3.5, size=(20, 2))
    paths = bounce(start, velocity, 40, 8)
    for i in range(20):
        np.testing.assert_allclose(paths[i], _stepped(start[i], velocity[i], 40, 8), atol=1e-9)
    assert paths.min() >= 0 and paths.max() <= 8


def _glyphs():
    """Three distinct 8x8 glyphs in [-1, 1] with labels 7, 3, 5."""
    rng = np.random.default_rng(1)
    return rng.uniform(-1, 1, size=(3, DIGIT, DIGIT, 1)).astype(np.float32), np.array([7, 3, 5])


def test_each_frame_shows_the_labelled_digit_where_its_path_says_and_nothing_else():
    images, labels = _glyphs()
    clips, first, paths = moving_digits(12, frames=10, size=16, seed=3, images=images, labels=labels)
    assert clips.shape == (12, 10, 16, 16, 1) and clips.dtype == np.float32
    corners = np.rint(paths[:, 0]).astype(int)
    moved = 0
    for i in range(12):
        glyph = images[list(labels).index(first[i]), ..., 0]
        for t in range(10):
            (top, left), frame = corners[i, t], clips[i, t, ..., 0]
            np.testing.assert_allclose(frame[top : top + DIGIT, left : left + DIGIT], glyph, atol=1e-6)
            outside = frame.copy()
            outside[top : top + DIGIT, left : left + DIGIT] = -1.0
            assert (outside == -1.0).all()
        moved += len({tuple(c) for c in corners[i]}) > 1
    assert moved == 12  # every digit moves
    steps = np.linalg.norm(np.diff(paths[:, 0], axis=1), axis=-1)
    assert steps.max() <= 1.0 + 1e-9 and np.mean(np.isclose(steps, 1.0)) > 0.8  # speed 1, less across a bounce


def test_two_digits_are_drawn_with_the_pixelwise_maximum():
    images, labels = _glyphs()
    one = images[:1]
    clips, _, paths = moving_digits(5, frames=6, size=20, digits=2, seed=4, images=one, labels=labels[:1])
    corners = np.rint(paths).astype(int)
    ink = (one[0, ..., 0] + 1) / 2
    for i in range(5):
        for t in range(6):
            expected = np.zeros((20, 20))
            for d in range(2):
                top, left = corners[i, d, t]
                region = expected[top : top + DIGIT, left : left + DIGIT]
                np.maximum(region, ink, out=region)
            np.testing.assert_allclose(clips[i, t, ..., 0], expected * 2 - 1, atol=1e-6)


def test_moving_digits_are_deterministic_for_a_seed_and_use_the_embedded_digits():
    a, la, _ = moving_digits(6, seed=0)
    b, lb, _ = moving_digits(6, seed=0)
    c, _, _ = moving_digits(6, seed=1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a, c)
    assert a.shape == (6, 16, 16, 16, 1) and a.min() == -1.0 and a.max() == 1.0
    assert set(la) <= set(range(10))


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 6}, "size must be an integer of at least 8"),
    ({"frames": 0}, "frames must be an integer of at least 1"),
    ({"digits": 1.5}, "digits must be an integer of at least 1"),
    ({"speed": -1}, "speed must be a non-negative number"),
])
def test_bad_moving_digit_options_get_one_line(kwargs, message):
    with pytest.raises(KganError, match=message):
        moving_digits(2, **kwargs)
