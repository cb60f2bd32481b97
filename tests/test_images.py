import numpy as np
import pytest
from PIL import Image

from kgan import images


def test_to_uint8_maps_the_range_and_clips():
    assert images.to_uint8(np.array([-2.0, -1.0, 0.0, 1.0, 3.0])).tolist() == [0, 0, 128, 255, 255]


def test_grid_places_each_tile():
    tiles = np.stack([np.full((2, 2, 1), v, np.uint8) for v in (10, 20, 30)])
    grid = images.make_grid(tiles, columns=2, padding=1, scale=2)
    assert grid.shape == (2 * 4 + 3, 2 * 4 + 3, 1)
    assert grid[1, 1, 0] == 10 and grid[1, 6, 0] == 20 and grid[6, 1, 0] == 30 and grid[6, 6, 0] == 0
    with pytest.raises(ValueError, match="uint8"):
        images.make_grid(tiles.astype(np.float32))


def test_scatter_plot_draws_points_where_they_are():
    plot = images.scatter_plot(np.array([[1.0, 1.0]]), reference=np.array([[-1.0, -1.0]]), size=101, extent=(-2, 2))
    # (1, 1) maps to pixel column 75, row 25; (-1, -1) to column 25, row 75.
    assert tuple(plot[25, 75]) == (31, 119, 180)
    assert tuple(plot[75, 25]) == (170, 170, 170)
    assert tuple(plot[50, 50]) == (255, 255, 255)


def test_png_and_gif_round_trip(tmp_path):
    frame = np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    images.save_png(frame, tmp_path / "a.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), frame)
    assert images.encode_png(frame) == (tmp_path / "a.png").read_bytes()
    images.save_gif([frame, 255 - frame, frame], tmp_path / "walk.gif")
    with Image.open(tmp_path / "walk.gif") as gif:
        assert gif.n_frames == 3 and gif.size == (7, 6)


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    with pytest.raises(TypeError):
        images.atomic_write_bytes(target, object())  # not bytes: the write fails midway
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
