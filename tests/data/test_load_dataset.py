import os

import numpy as np
import pytest
from PIL import Image

from kgan.data import load_dataset, mixture_means, sample_mixture
from kgan.errors import KganError


def test_digits_is_the_embedded_default():
    dataset, info = load_dataset(batch_size=100)
    assert (info.name, info.kind, info.shape, info.num_examples) == ("digits", "image", (8, 8, 1), 1797)
    assert info.value_range == (-1.0, 1.0) and info.num_classes is None
    batches = list(dataset)
    assert len(batches) == 17  # the partial batch is dropped
    x = np.concatenate([b.numpy() for b in batches])
    assert x.min() == -1.0 and x.max() == 1.0


def test_digits_with_labels_and_resizing():
    dataset, info = load_dataset("digits", batch_size=32, image_size=16, labels=True)
    images, labels = next(iter(dataset))
    assert images.shape == (32, 16, 16, 1) and labels.shape == (32,)
    assert info.num_classes == 10 and info.shape == (16, 16, 1)


def test_shuffle_is_seeded():
    first = next(iter(load_dataset("digits", batch_size=8, seed=3)[0])).numpy()
    again = next(iter(load_dataset("digits", batch_size=8, seed=3)[0])).numpy()
    other = next(iter(load_dataset("digits", batch_size=8, seed=4)[0])).numpy()
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 0


@pytest.mark.parametrize("name, std", [("ring8", 0.01), ("grid25", 0.05)])
def test_mixtures_have_their_published_geometry(name, std):
    points, modes = sample_mixture(name, 20000, seed=0)
    means = mixture_means(name)
    offsets = points - means[modes]
    assert offsets.std() == pytest.approx(std, rel=0.05)
    assert np.bincount(modes).min() > 0.8 * 20000 / len(means)
    if name == "ring8":
        np.testing.assert_allclose(np.linalg.norm(means, axis=1), 1.0)
    else:
        assert sorted(set(means[:, 0])) == [-4, -2, 0, 2, 4]
    _, info = load_dataset(name, batch_size=64, num_examples=1000)
    assert (info.kind, info.shape, info.value_range) == ("vector", (2,), None)


def _write_images(folder, count, mode="L", size=12, seed=0):
    """Writes `count` random images 0.png, 1.png, ...; returns their uint8 pixels."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    channels = {"L": (size, size), "RGB": (size, size, 3)}[mode]
    pixels = [rng.integers(0, 256, channels, dtype=np.uint8) for _ in range(count)]
    for i, array in enumerate(pixels):
        Image.fromarray(array, mode).save(os.path.join(folder, f"{i}.png"))
    return pixels


def _scaled(pixels):
    """uint8 [0, 255] -> float32 [-1, 1], as every image source must give them."""
    return np.asarray(pixels, np.float32) / 127.5 - 1.0


def test_image_folder_is_read_and_resized(tmp_path):
    pixels = _write_images(tmp_path / "faces", 10, mode="RGB")
    dataset, info = load_dataset(str(tmp_path / "faces"), batch_size=4, image_size=8, shuffle=False)
    assert info.shape == (8, 8, 3) and info.num_examples == 10 and info.name == "faces"
    batch = next(iter(dataset)).numpy()
    # Files in name order, each resized as Pillow resizes it, then mapped to [-1, 1].
    expected = _scaled([np.asarray(Image.fromarray(p).resize((8, 8), Image.BILINEAR)) for p in pixels[:4]])
    np.testing.assert_allclose(batch, expected, atol=1e-6)
    same_size, _ = load_dataset(str(tmp_path / "faces"), batch_size=10, shuffle=False)
    np.testing.assert_allclose(next(iter(same_size)).numpy(), _scaled(pixels), atol=1e-6)


def test_class_subfolders_give_labels(tmp_path):
    cats = _write_images(tmp_path / "set" / "cats", 3, seed=1)
    dogs = _write_images(tmp_path / "set" / "dogs", 3, seed=2)
    dataset, info = load_dataset(str(tmp_path / "set"), batch_size=6, labels=True, shuffle=False)
    images, labels = next(iter(dataset))
    assert info.num_classes == 2
    # Classes in folder-name order: each image carries its own folder's label.
    assert labels.numpy().tolist() == [0, 0, 0, 1, 1, 1]
    np.testing.assert_allclose(images.numpy()[..., 0], _scaled(cats + dogs), atol=1e-6)


def _all(dataset):
    batches = list(dataset)
    if isinstance(batches[0], tuple):
        return tuple(np.concatenate([b[i].numpy() for b in batches]) for i in range(2))
    return np.concatenate([b.numpy() for b in batches])


def test_npz_and_npy_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (20, 8, 8), dtype=np.uint8)
    labels = (np.arange(20) * 7) % 4
    np.savez(tmp_path / "imgs.npz", x=images, y=labels)
    dataset, info = load_dataset(str(tmp_path / "imgs.npz"), batch_size=5, labels=True, shuffle=False)
    assert info.shape == (8, 8, 1) and info.num_classes == 4
    x, y = _all(dataset)
    np.testing.assert_allclose(x[..., 0], _scaled(images), atol=1e-6)  # uint8 0..255 -> [-1, 1]
    np.testing.assert_array_equal(y, labels)  # each image keeps its own label
    # Float images in [0, 1] are mapped to [-1, 1]; in [-1, 1] they are kept as they are.
    unit = np.random.default_rng(2).uniform(0, 1, (10, 4, 4, 3)).astype(np.float32)
    np.save(tmp_path / "unit.npy", unit)
    np.testing.assert_allclose(_all(load_dataset(str(tmp_path / "unit.npy"), batch_size=10, shuffle=False)[0]),
                               unit * 2 - 1, atol=1e-6)
    signed = unit * 2 - 1
    signed[0, 0, 0, 0] = -1.0  # below 0: already in [-1, 1]
    np.save(tmp_path / "signed.npy", signed)
    np.testing.assert_array_equal(
        _all(load_dataset(str(tmp_path / "signed.npy"), batch_size=10, shuffle=False)[0]), signed)
    table = np.random.default_rng(1).normal(size=(30, 5)).astype(np.float32)
    np.save(tmp_path / "table.npy", table)
    dataset, info = load_dataset(str(tmp_path / "table.npy"), batch_size=10, shuffle=False)
    assert (info.kind, info.shape) == ("vector", (5,))
    np.testing.assert_array_equal(_all(dataset), table)  # vectors as stored


def test_keras_dataset_offline_gives_one_clear_line(monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure on https://example.invalid/mnist.npz: None -- no network\nsecond line")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(KganError) as error:
        load_dataset("mnist")
    message = str(error.value)
    assert "cannot load 'mnist'" in message and "--dataset digits" in message and "\n" not in message
    cache = os.path.join(os.path.expanduser("~"), ".keras", "datasets")
    assert f"it is not in {cache} and could not be downloaded (URL fetch failure on" in message  # first line only


def test_bad_sources(tmp_path):
    with pytest.raises(KganError, match="unknown data set 'cifar100'.*digits"):
        load_dataset("cifar100")
    with pytest.raises(KganError, match="no such file or folder"):
        load_dataset(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(KganError, match="no PNG or JPEG images"):
        load_dataset(str(tmp_path / "empty"))
    _write_images(tmp_path / "mixed", 2, mode="L")
    Image.fromarray(np.zeros((12, 12, 3), np.uint8), "RGB").save(tmp_path / "mixed" / "9.png")
    with pytest.raises(KganError, match="mixed channel counts.*0.png has 1, 9.png has 3"):
        load_dataset(str(tmp_path / "mixed"), batch_size=1)
    with pytest.raises(KganError, match="fewer than one batch of 2000"):
        load_dataset("digits", batch_size=2000)
    _write_images(tmp_path / "plain", 2, mode="L")
    with pytest.raises(KganError, match="has no labels"):
        load_dataset(str(tmp_path / "plain"), batch_size=1, labels=True)
    (tmp_path / "notes.csv").write_text("hello")
    with pytest.raises(KganError, match=r"cannot read .*notes.csv: .*or a \.txt file of text"):
        load_dataset(str(tmp_path / "notes.csv"))


def test_keras_datasets_are_rescaled_with_a_channel_axis(monkeypatch):
    import keras

    from kgan.data import load_arrays

    images = np.random.default_rng(3).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    labels = np.arange(6, dtype=np.uint8).reshape(6, 1)  # cifar10 keeps labels as [n, 1]
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: ((images, labels), (None, None)))
    x, y, kind, name = load_arrays("mnist")
    assert (kind, name, x.shape, x.dtype) == ("image", "mnist", (6, 28, 28, 1), np.float32)
    np.testing.assert_allclose(x[..., 0], _scaled(images), atol=1e-6)
    assert y.dtype == np.int64 and y.tolist() == list(range(6))
    colour = np.random.default_rng(4).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: ((colour, labels[:2]), (None, None)))
    x, _, _, _ = load_arrays("cifar10")
    np.testing.assert_allclose(x, _scaled(colour), atol=1e-6)  # already has its channel axis


@pytest.mark.parametrize("x_key, y_key", [("images", "labels"), ("x_train", "y_train"), ("arr_0", None)])
def test_npz_files_with_other_common_key_names(tmp_path, x_key, y_key):
    images = np.random.default_rng(5).integers(0, 256, (8, 4, 4, 3), dtype=np.uint8)
    arrays = {x_key: images, **({y_key: np.arange(8) % 2} if y_key else {})}
    np.savez(tmp_path / "set.npz", **arrays)
    from kgan.data import load_arrays

    x, y, kind, _ = load_arrays(str(tmp_path / "set.npz"))
    assert kind == "image"
    np.testing.assert_allclose(x, _scaled(images), atol=1e-6)
    assert (y is None) if y_key is None else y.tolist() == [0, 1] * 4
    np.savez(tmp_path / "odd.npz", pictures=images)
    with pytest.raises(KganError, match=r"has arrays \['pictures'\]: name the data 'x'"):
        load_arrays(str(tmp_path / "odd.npz"))


@pytest.mark.parametrize("low, high, expected", [
    (0.0, 1.0, "unit"), (0.25, 1.0, "unit"),  # within [0, 1]: mapped to [-1, 1]
    (-1.0, 1.0, "kept"), (-1.0, 0.5, "kept"),  # within [-1, 1] and below 0: kept
    (-1.5, 1.0, "error"), (0.0, 1.5, "error"), (-1.0, 1.01, "error"),
])
def test_float_image_files_by_their_range(tmp_path, low, high, expected):
    from kgan.data import load_arrays

    x = np.random.default_rng(6).uniform(low, high, (4, 4, 4, 1)).astype(np.float32)
    x.flat[0], x.flat[1] = low, high  # the range is exactly [low, high]
    np.save(tmp_path / "f.npy", x)
    if expected == "error":
        with pytest.raises(KganError, match=r"float images must be in \[0, 1\] or \[-1, 1\]"):
            load_arrays(str(tmp_path / "f.npy"))
        return
    got = load_arrays(str(tmp_path / "f.npy"))[0]
    np.testing.assert_allclose(got, x * 2 - 1 if expected == "unit" else x, atol=1e-6)


def test_arrays_that_are_neither_vectors_images_nor_clips(tmp_path):
    from kgan.data import load_arrays

    np.save(tmp_path / "two.npy", np.zeros((4, 8, 8, 2), np.float32))
    with pytest.raises(KganError, match=r"expected vectors \[n, d\], images .* or clips"):
        load_arrays(str(tmp_path / "two.npy"))
    np.save(tmp_path / "six.npy", np.zeros((2, 3, 4, 4, 4, 1), np.float32))
    with pytest.raises(KganError, match=r"got shape \(2, 3, 4, 4, 4, 1\)"):
        load_arrays(str(tmp_path / "six.npy"))


def test_folders_skip_what_is_not_an_image(tmp_path):
    pixels = _write_images(tmp_path / "set", 3)
    (tmp_path / "set" / "notes.txt").write_text("not an image")
    (tmp_path / "set" / "sub.png").mkdir()  # a folder named like an image
    os.makedirs(tmp_path / "set" / ".thumbnails")
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(tmp_path / "set" / ".thumbnails" / "t.png")
    from kgan.data import load_arrays

    x, y, _, _ = load_arrays(str(tmp_path / "set"))
    assert y is None
    np.testing.assert_allclose(x[..., 0], _scaled(pixels), atol=1e-6)
    # Class folders: hidden ones are not classes.
    _write_images(tmp_path / "classes" / "a", 2)
    _write_images(tmp_path / "classes" / "b", 2)
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(tmp_path / "classes" / "stray.txt.png")
    os.makedirs(tmp_path / "classes" / ".cache")
    x, y, _, _ = load_arrays(str(tmp_path / "classes"))
    assert y is None and len(x) == 1  # a loose image at the top: the folder is one flat set
    os.remove(tmp_path / "classes" / "stray.txt.png")
    _, y, _, _ = load_arrays(str(tmp_path / "classes"))
    assert y.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("mode", ["1", "L", "I", "I;16"])
def test_single_channel_image_modes_read_as_grey(tmp_path, mode):
    folder = tmp_path / mode.replace(";", "")
    folder.mkdir()
    Image.new(mode, (8, 8)).save(folder / "a.png")
    from kgan.data import load_arrays

    x = load_arrays(str(folder))[0]
    assert x.shape == (1, 8, 8, 1)


def test_pipelines_do_not_autotune():
    # tf.data's autotuning thread can hold an iterator's teardown until its current sleep ends
    # (fit calls stretched to exactly 10.24 s or 20.47 s here): kgan's in-memory pipelines turn it off.
    dataset, _ = load_dataset("digits", batch_size=64)
    assert dataset.options().autotune.enabled is False
