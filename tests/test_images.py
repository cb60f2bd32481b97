import os

import numpy as np
import pytest
from PIL import Image

from kgan.runtime import images


def test_to_uint8_maps_the_range_and_clips():
    assert images.to_uint8(np.array([-2.0, -1.0, 0.0, 1.0, 3.0])).tolist() == [0, 0, 128, 255, 255]


def test_grid_places_each_tile():
    tiles = np.stack([np.full((2, 2, 1), v, np.uint8) for v in (10, 20, 30)])
    grid = images.make_grid(tiles, columns=2, padding=1, scale=2, pad_value=7)
    assert grid.shape == (2 * 4 + 3, 2 * 4 + 3, 1)
    assert grid[1, 1, 0] == 10 and grid[1, 6, 0] == 20 and grid[6, 1, 0] == 30 and grid[6, 6, 0] == 7
    assert grid[0, 0, 0] == grid[5, 3, 0] == grid[3, 5, 0] == 7  # the lines between tiles
    with pytest.raises(ValueError, match="uint8"):
        images.make_grid(tiles.astype(np.float32))


@pytest.mark.parametrize("background", [0, 255, 128, 100])
def test_the_lines_between_tiles_stand_apart_from_the_tiles_edges(background):
    # Digits on black, pages on white, photos in grey: the separator differs from the edges by a
    # third of the grey scale at least, so neighbouring tiles never run together.
    tiles = np.full((4, 8, 8, 1), background, np.uint8)
    tiles[:, 2:6, 2:6] = 255 - background  # strokes inside
    grid = images.make_grid(tiles, columns=2, padding=1)
    line = grid[9, :, 0]  # the row between the two rows of tiles
    assert len(set(line.tolist())) == 1 and abs(int(line[0]) - background) >= 85


def test_scatter_plot_draws_points_where_its_axes_say():
    size = 301
    plot = images.scatter_plot(np.array([[1.0, 1.0]]), reference=np.array([[-1.0, -1.0]]), size=size, extent=(-2, 2))
    left, top, right, bottom = images.plot_area(size)
    dark = (plot.sum(axis=-1) < 3 * 100)
    # The axes: a frame around the data area, with tick marks below it at -2, -1, 0, 1 and 2.
    assert dark[top:bottom + 1, left].all() and dark[bottom, left:right + 1].all()
    marks = np.flatnonzero(dark[bottom + 3, :])
    expected = [round(left + (t + 2) / 4 * (right - left)) for t in (-2, -1, 0, 1, 2)]
    assert marks.tolist() == expected
    assert dark[bottom + 6 :, :].any() and dark[:, : left - 6].any()  # the tick values are written
    # (1, 1) lies at the ticks of 1 on both axes; (-1, -1) at those of -1.
    x1, y1 = expected[3], round(bottom - 3 / 4 * (bottom - top))
    x0, y0 = expected[1], round(bottom - 1 / 4 * (bottom - top))
    assert tuple(plot[y1, x1]) == (31, 119, 180)
    assert tuple(plot[y0, x0]) == (170, 170, 170)
    assert tuple(plot[(y0 + y1) // 2 + 3, (x0 + x1) // 2 + 3]) == (255, 255, 255)
    assert images.nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert images.nice_ticks(-13, 27) == [-10.0, 0.0, 10.0, 20.0]


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


def test_staging_folders_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "export"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = [tmp_path / f".export.partial-{dead.stdout.strip()}-abc", tmp_path / ".export.partial-k2j_x9q1",
             tmp_path / f".export.old-{dead.stdout.strip()}-abc"]
    live = tmp_path / f".export.partial-{os.getpid()}-live"  # another export of this process, at work
    other = tmp_path / ".exports.partial-k2j_x9q1"  # another folder's
    for folder in [*stale, live, other]:
        folder.mkdir()
        (folder / "saved_model.pb").write_bytes(b"half")
    staging = images.staging_dir(target)
    assert os.path.basename(staging).startswith(f".export.partial-{os.getpid()}-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, os.path.basename(staging)])
