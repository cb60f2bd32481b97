import numpy as np
import pytest

from kgan.errors import KganError
from kgan.runtime.latent import ClassInput, LatentPrior, NormalInput, UniformInput, latents


def test_z_is_numpys_standard_normal_for_the_seed_whatever_follows():
    prior = LatentPrior.for_generator(5, num_classes=3)
    feeds = prior.draw(7, seed=11, truncation=0.5)
    expected = np.random.default_rng(11).standard_normal((7, 5)).astype(np.float32) * np.float32(0.5)
    np.testing.assert_array_equal(feeds["z"], expected)
    np.testing.assert_array_equal(feeds["z"], latents(7, 5, 11, 0.5))
    assert feeds["z"].dtype == np.float32 and feeds["label"].dtype == np.int64
    np.testing.assert_array_equal(LatentPrior.for_generator(5).draw(7, seed=11, truncation=0.5)["z"], feeds["z"])


def test_labels_cycle_are_given_or_random():
    prior = LatentPrior.for_generator(2, num_classes=3)
    assert prior.names == ("z", "label") and prior.conditioning == ("label",)
    assert prior.draw(5, seed=0)["label"].tolist() == [0, 1, 2, 0, 1]
    assert prior.draw(4, seed=0, label=2)["label"].tolist() == [2, 2, 2, 2]
    assert prior.draw(3, seed=0, label=[1, 0, 2])["label"].tolist() == [1, 0, 2]
    random = prior.draw(400, rng=np.random.default_rng(1), randomize=True)["label"]
    assert set(random.tolist()) == {0, 1, 2} and random[:6].tolist() != [0, 1, 2, 0, 1, 2]
    with pytest.raises(KganError, match=r"labels must be in \[0, 2\]"):
        prior.draw(2, seed=0, label=3)
    with pytest.raises(KganError, match="no input 'member'"):
        prior.draw(2, seed=0, member=1)
    with pytest.raises(KganError, match="z is drawn from the seed"):
        prior.draw(2, seed=0, z=np.zeros((2, 2)))


def test_the_walk_starts_and_ends_at_the_two_draws():
    prior = LatentPrior.for_generator(6, num_classes=4)
    a, b = prior.draw(3, seed=1), prior.draw(3, seed=2)
    walk = prior.walk(a, b, steps=5)
    assert walk["z"].shape == (15, 6) and walk["label"].tolist() == a["label"].tolist() * 5
    np.testing.assert_allclose(walk["z"][:3], a["z"], atol=1e-6)
    np.testing.assert_allclose(walk["z"][-3:], b["z"], atol=1e-6)
    # Spherical: between two unit vectors every step is a unit vector (a straight line would dip inside).
    unit = {k: dict(v, z=v["z"] / np.linalg.norm(v["z"], axis=-1, keepdims=True)) for k, v in (("a", a), ("b", b))}
    norms = np.linalg.norm(prior.walk(unit["a"], unit["b"], steps=5)["z"], axis=-1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_the_prior_round_trips_through_its_dict():
    prior = LatentPrior([NormalInput("z", 4), ClassInput("label", 10)])
    again = LatentPrior.from_dict(prior.to_dict())
    assert again.to_dict() == prior.to_dict() == [{"name": "z", "type": "normal", "dim": 4},
                                                  {"name": "label", "type": "classes", "num_classes": 10}]
    assert again.signature() == {"z": ((None, 4), "float32"), "label": ((None,), "int64")}
    with pytest.raises(KganError, match="upgrade kgan"):
        LatentPrior.from_dict([{"name": "w", "type": "dirichlet", "dim": 20}])


def test_uniforms_are_drawn_in_the_unit_interval_and_walk_in_a_line():
    prior = LatentPrior([UniformInput("u", 20), ClassInput("label", 3)])
    assert LatentPrior.from_dict(prior.to_dict()).to_dict() == prior.to_dict()
    a, b = prior.draw(500, seed=0), prior.draw(500, seed=1)
    assert a["u"].dtype == np.float32 and a["u"].shape == (500, 20) and 0 <= a["u"].min() and a["u"].max() < 1
    assert abs(a["u"].mean() - 0.5) < 0.01 and not np.array_equal(a["u"], b["u"])
    np.testing.assert_array_equal(prior.draw(500, seed=0)["u"], a["u"])  # a seed, the same uniforms
    middle = prior.walk(a, b, steps=3)["u"][500:1000]
    np.testing.assert_allclose(middle, (a["u"] + b["u"]) / 2, atol=1e-6)
    with pytest.raises(KganError, match="u is drawn from the seed"):
        prior.draw(2, seed=0, u=np.zeros((2, 20)))


def test_truncation_scales_normal_latents_only_and_a_walk_between_parallel_latents_is_a_line():
    prior = LatentPrior([NormalInput("z", 4), UniformInput("u", 3), ClassInput("label", 3)])
    full, truncated = prior.draw(6, seed=2), prior.draw(6, seed=2, truncation=0.5)
    np.testing.assert_array_equal(truncated["z"], 0.5 * full["z"])
    np.testing.assert_array_equal(truncated["u"], full["u"])  # a token sampler's uniforms stay uniform
    np.testing.assert_array_equal(truncated["label"], full["label"])
    # Between a latent and twice it the angle is 0: the walk is the straight line, not zeros.
    a = {"z": full["z"], "u": full["u"], "label": full["label"]}
    b = dict(a, z=2.0 * full["z"])
    walk = prior.walk(a, b, steps=3)
    np.testing.assert_allclose(walk["z"][6:12], 1.5 * full["z"], rtol=1e-6)
