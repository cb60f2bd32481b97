"""Feature-space metrics against closed-form and constructed cases."""

import numpy as np
import pytest

from kgan.runtime.metrics import (
    density_coverage,
    frechet_distance,
    frechet_distance_from_moments,
    kernel_distance,
    precision_recall,
)


def test_frechet_distance_of_two_known_gaussians():
    # Diagonal covariances: ||mu1 - mu2||^2 + sum(s1 + s2 - 2 sqrt(s1 s2)).
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1.0 + 4.0 + (1 + 4 - 2 * 2) + (4 + 1 - 2 * 2) + (9 + 1 - 2 * 3)
    assert frechet_distance_from_moments(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_with_full_covariances():
    # Commuting covariances (same eigenvectors): sqrt(S1 S2) has eigenvalues sqrt(l1 l2).
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0]
    l1, l2 = np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 2.0, 0.5, 1.0])
    s1, s2 = rotation @ np.diag(l1) @ rotation.T, rotation @ np.diag(l2) @ rotation.T
    expected = np.sum(l1 + l2 - 2 * np.sqrt(l1 * l2))
    assert frechet_distance_from_moments(np.zeros(4), s1, np.zeros(4), s2) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_from_samples():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(20000, 2))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    b = rng.normal(size=(20000, 2)) * 2.0 + [3.0, 0.0]
    # 9 + 2 * (1 + 4 - 2 * 2) = 11
    assert frechet_distance(a, b) == pytest.approx(11.0, rel=0.03)


def test_singular_covariances_stay_finite():
    a = np.zeros((50, 3))
    a[:, 0] = np.random.default_rng(2).normal(size=50)
    # Same (singular) covariance, means 1 apart in each of 3 dimensions: exactly 3.
    assert frechet_distance(a, a + 1.0) == pytest.approx(3.0, abs=1e-4)


def test_kernel_distance_separates_distributions():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(600, 8)), rng.normal(size=(600, 8))
    same, same_std = kernel_distance(a, b, num_subsets=20, subset_size=300)
    shifted, _ = kernel_distance(a, b + 1.0, num_subsets=20, subset_size=300)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 0.1 and shifted > 20 * abs(same)
    identical, _ = kernel_distance(a, a, num_subsets=5, subset_size=600)
    # For X = Y the unbiased estimate is (2 / m) (mean off-diagonal k - mean diagonal k): a small negative.
    kernel = (a @ a.T / a.shape[1] + 1.0) ** 3
    off_diagonal = (kernel.sum() - np.trace(kernel)) / (600 * 599)
    assert identical == pytest.approx(2.0 / 600 * (off_diagonal - np.trace(kernel) / 600), rel=1e-9)
    assert -0.1 < identical < 0


def test_precision_recall_on_constructed_sets():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(400, 2))
    assert precision_recall(real, real) == {"precision": 1.0, "recall": 1.0}
    far = precision_recall(real, real + 100.0)
    assert far == {"precision": 0.0, "recall": 0.0}
    # Fakes collapsed onto one corner of the real data: precise, but they miss most of it.
    corner = real[real[:, 0] > 1.0]
    collapsed = precision_recall(real, corner)
    assert collapsed["precision"] == 1.0 and collapsed["recall"] < 0.5


# Points on a line, worked by hand. Real 0, 1, 3, 7, 20: k=1 radii 1, 1, 2, 4, 13; k=2 radii 3, 2, 3, 6, 17.
# Fake 0.5, 5, 12, -2: k=1 radii 2.5, 4.5, 7, 2.5; k=2 radii 4.5, 7, 11.5, 7.
LINE_REAL = np.array([[0.0, 0], [1, 0], [3, 0], [7, 0], [20, 0]])
LINE_FAKE = np.array([[0.5, 0], [5, 0], [12, 0], [-2, 0]])


@pytest.mark.parametrize("k, precision, recall", [
    (1, 0.75, 0.8),  # -2 lies in no real ball; 20 is 8 from 12, whose radius is 7
    (2, 1.0, 1.0),   # -2 is 2 from 0 (radius 3); 20 is 8 from 12 (radius 11.5)
])
def test_precision_recall_by_hand(k, precision, recall):
    assert precision_recall(LINE_REAL, LINE_FAKE, k=k) == {"precision": precision, "recall": recall}


@pytest.mark.parametrize("k, density", [
    (1, (2 + 2 + 1 + 0) / 4),      # real balls holding 0.5, 5, 12, -2: {0, 1}, {3, 7}, {20}, none
    (2, (3 + 3 + 2 + 1) / (2 * 4)),  # {0, 1, 3}, {3, 7, 20}, {7, 20}, {0}
])
def test_density_and_coverage_by_hand(k, density):
    assert density_coverage(LINE_REAL, LINE_FAKE, k=k) == {"density": pytest.approx(density), "coverage": 1.0}
    # Without the fake at 12, the ball around 20 holds no fake.
    assert density_coverage(LINE_REAL, np.delete(LINE_FAKE, 2, axis=0), k=1)["coverage"] == pytest.approx(4 / 5)


def test_density_and_coverage():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(1000, 2))
    matched = density_coverage(real, rng.normal(size=(1000, 2)))
    assert matched["coverage"] > 0.9 and 0.8 < matched["density"] < 1.2
    half = density_coverage(real, rng.normal(size=(1000, 2)) * 0.3)
    assert half["coverage"] < 0.5  # fakes crowd the centre and miss the rest
    assert density_coverage(real, real + 50.0) == {"density": 0.0, "coverage": 0.0}


def test_a_fake_on_the_edge_of_a_ball_is_inside():
    # Both papers count a sample inside a ball when its distance is at most the radius.
    real = np.array([[0.0, 0.0], [1.0, 0.0]])  # k=1 radii: 1 and 1
    edge = np.array([[2.0, 0.0], [-1.0, 0.0]])  # exactly 1 from one real point, 2 from the other
    assert precision_recall(real, edge, k=1)["precision"] == 1.0
    assert density_coverage(real, edge, k=1) == {"density": 1.0, "coverage": 1.0}


def test_kernel_distance_subsets_follow_the_seed_and_the_smaller_set():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(400, 4)) + 0.5
    first = kernel_distance(a, b, num_subsets=10, subset_size=1000, seed=3)  # subsets of 50: the smaller set
    assert first == kernel_distance(a, b, num_subsets=10, subset_size=1000, seed=3)
    assert first != kernel_distance(a, b, num_subsets=10, subset_size=1000, seed=4)
    assert kernel_distance(b, a, num_subsets=10, subset_size=1000, seed=3)[0] > 0


BAD_FEATURES = [
    (np.zeros((10, 2)), np.zeros((10, 3)), "same d"),  # different widths
    (np.zeros((10, 2)), np.zeros(10), "same d"),  # one set not [n, d]
    (np.zeros(10), np.zeros((10, 2)), "same d"),
]


@pytest.mark.parametrize("real, fake, message", BAD_FEATURES)
def test_feature_metrics_refuse_arrays_that_are_not_two_feature_sets(real, fake, message):
    for metric in (frechet_distance, kernel_distance, precision_recall, density_coverage):
        with pytest.raises(ValueError, match=message):
            metric(real, fake)


def test_feature_metrics_need_enough_examples():
    two, one = np.random.default_rng(7).normal(size=(2, 3)), np.zeros((1, 3))
    assert np.isfinite(frechet_distance(two, two + 1.0)) and np.isfinite(kernel_distance(two, two)[0])
    for metric in (frechet_distance, kernel_distance):
        with pytest.raises(ValueError, match="2"):
            metric(two, one)
    four = np.random.default_rng(8).normal(size=(4, 3))
    assert precision_recall(four, four, k=3) == {"precision": 1.0, "recall": 1.0}  # k + 1 examples suffice
    with pytest.raises(ValueError, match="more than k=3"):
        precision_recall(four[:3], four, k=3)
    with pytest.raises(ValueError, match="more than k=3"):
        density_coverage(four, four[:3], k=3)
    with pytest.raises(ValueError, match="moments of different sizes"):
        frechet_distance_from_moments(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
