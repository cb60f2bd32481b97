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
        raise Exception("URL fetch failure on https://example.invalid/mnist.npz: None -- no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(KganError) as error:
        load_dataset("mnist")
    message = str(error.value)
    assert "cannot load 'mnist'" in message and "--dataset digits" in message and "\n" not in message


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
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(KganError, match="cannot read .*notes.txt"):
        load_dataset(str(tmp_path / "notes.txt"))
