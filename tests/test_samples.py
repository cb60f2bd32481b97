import numpy as np
import pytest

from kgan.runtime import images
from kgan.errors import KganError
from kgan.runtime.samples import KINDS, SampleSpec, get_kind


def test_specs_round_trip_and_name_their_tensor():
    spec = SampleSpec("image", [8, 8, 1], value_range=[-1, 1])
    assert spec.shape == (8, 8, 1) and spec.value_range == (-1.0, 1.0) and spec.tensor_name == "image"
    assert SampleSpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict() == {"kind": "image", "shape": [8, 8, 1], "dtype": "float32", "value_range": [-1.0, 1.0]}
    assert SampleSpec("vector", (2,)).tensor_name == "sample"
    assert set(KINDS) >= {"image", "vector"}


def test_specs_are_inferred_for_images_clips_and_vectors_only():
    assert SampleSpec.infer((28, 28, 1)) == SampleSpec("image", (28, 28, 1), value_range=(-1.0, 1.0))
    assert SampleSpec.infer((2,)) == SampleSpec("vector", (2,))
    assert SampleSpec.infer((16, 8, 8, 1)) == SampleSpec("video", (16, 8, 8, 1), value_range=(-1.0, 1.0))
    with pytest.raises(KganError, match=r"cannot tell what samples of shape \[2, 16, 8, 8, 1\] are: .*sample_spec"):
        SampleSpec.infer((2, 16, 8, 8, 1))
    with pytest.raises(KganError, match=r"image samples are \[height, width, channels\]"):
        SampleSpec("image", (8, 8))
    with pytest.raises(KganError, match="unknown kind of sample 'sound'"):
        get_kind("sound")


def test_images_show_as_uint8_and_come_back():
    spec = SampleSpec("image", (2, 2, 1), value_range=(-1.0, 1.0))
    kind = get_kind(spec)
    raw = np.array([[[[-1.0], [0.0]], [[0.5], [1.0]]]], np.float32)
    shown = kind.to_display(raw, spec)
    assert shown.dtype == np.uint8 and shown.ravel().tolist() == [0, 128, 191, 255]
    np.testing.assert_allclose(kind.from_display(shown, spec), raw, atol=1.001 / 255)  # half a step
    np.testing.assert_array_equal(kind.picture(np.repeat(raw, 4, 0), spec),
                                  images.make_grid(np.repeat(shown, 4, 0), scale=4))
    gallery = kind.gallery(np.repeat(shown, 2, 0), spec, ["a", "b"])
    assert [caption for _, caption in gallery] == ["a", "b"] and gallery[0][0].shape == (2, 2)


def test_vectors_are_one_scatter_plot():
    spec = SampleSpec("vector", (2,))
    kind = get_kind(spec)
    points = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    assert kind.cloud
    np.testing.assert_array_equal(kind.to_display(points, spec), points)  # shown as they are
    np.testing.assert_array_equal(kind.picture(points, spec), images.scatter_plot(points))
    (picture, caption), = kind.gallery(points, spec, [])
    assert picture.shape == (512, 512, 3) and caption == "50 samples"
    frames = kind.frames(np.stack([points, points + 1.0]), spec)
    assert len(frames) == 2 and frames[0].shape == (256, 256, 3) and not np.array_equal(frames[0], frames[1])


def test_tokens_show_as_text_up_to_the_end_and_come_back():
    spec = SampleSpec("tokens", (4,), dtype="int64", vocabulary=("", "a", "b", "c"), separator="")
    assert SampleSpec.from_dict(spec.to_dict()) == spec and spec.tensor_name == "tokens"
    assert "separator" not in SampleSpec("image", (2, 2, 1)).to_dict()  # image specs' dicts are unchanged
    kind = get_kind(spec)
    ids = np.array([[1, 2, 0, 3], [3, 3, 3, 3], [0, 1, 1, 1]], np.int64)
    shown = kind.to_display(ids, spec)
    assert shown.tolist() == ["ab", "cccc", ""]  # what follows the end token is not text
    np.testing.assert_array_equal(kind.from_display(shown, spec), [[1, 2, 0, 0], [3, 3, 3, 3], [0, 0, 0, 0]])
    words = SampleSpec("tokens", (3,), dtype="int64", vocabulary=("", "to", "be"), separator=" ")
    assert get_kind(words).to_display([[1, 2, 1]], words).tolist() == ["to be to"]
    with pytest.raises(KganError, match="'z' is not in the model's vocabulary"):
        kind.from_display(["az"], spec)
    with pytest.raises(KganError, match=r"token ids must be in \[0, 4\)"):
        kind.to_display([[4, 0, 0, 0]], spec)
    with pytest.raises(KganError, match="token samples are \\[length\\] int64 ids with a vocabulary"):
        SampleSpec("tokens", (4,), dtype="int64")
    picture = kind.picture(ids, spec)
    assert picture.dtype == np.uint8 and picture.shape[-1] == 1
    # one line a sample: ink in three bands of rows, none below them
    inked = np.flatnonzero((picture[..., 0] < 128).any(axis=1))
    assert len(inked) and inked.max() < picture.shape[0] - 6
    assert not np.array_equal(picture, kind.picture(ids[[1, 0, 2]], spec))
