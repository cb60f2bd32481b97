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


def _write_images(folder, count, mode="L", size=12):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    channels = {"L": (size, size), "RGB": (size, size, 3)}[mode]
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, channels, dtype=np.uint8), mode).save(os.path.join(folder, f"{i}.png"))


def test_image_folder_is_read_and_resized(tmp_path):
    _write_images(tmp_path / "faces", 10, mode="RGB")
    dataset, info = load_dataset(str(tmp_path / "faces"), batch_size=4, image_size=8)
    assert info.shape == (8, 8, 3) and info.num_examples == 10 and info.name == "faces"
    batch = next(iter(dataset)).numpy()
    assert batch.shape == (4, 8, 8, 3) and -1.0 <= batch.min() and batch.max() <= 1.0


def test_class_subfolders_give_labels(tmp_path):
    _write_images(tmp_path / "set" / "cats", 3)
    _write_images(tmp_path / "set" / "dogs", 3)
    dataset, info = load_dataset(str(tmp_path / "set"), batch_size=6, labels=True, shuffle=False)
    _, labels = next(iter(dataset))
    assert info.num_classes == 2 and sorted(labels.numpy().tolist()) == [0, 0, 0, 1, 1, 1]


def test_npz_and_npy_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (20, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "imgs.npz", x=images, y=np.arange(20) % 4)
    dataset, info = load_dataset(str(tmp_path / "imgs.npz"), batch_size=5, labels=True)
    assert info.shape == (8, 8, 1) and info.num_classes == 4
    np.save(tmp_path / "table.npy", np.random.default_rng(1).normal(size=(30, 5)).astype(np.float32))
    _, info = load_dataset(str(tmp_path / "table.npy"), batch_size=10)
    assert (info.kind, info.shape) == ("vector", (5,))


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
