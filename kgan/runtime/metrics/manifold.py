"""k-nearest-neighbour manifold metrics: improved precision and recall, density and coverage.

Kynkäänniemi et al., "Improved Precision and Recall Metric for Assessing Generative
Models", NeurIPS 2019; Naeem et al., "Reliable Fidelity and Diversity Metrics for
Generative Models", ICML 2020. Each real (or fake) sample owns a ball whose radius is
the distance to its k-th nearest neighbour within its own set.
"""

import numpy as np
from scipy.spatial.distance import cdist

__all__ = ["precision_recall", "density_coverage"]


def _radii(features, k):
    distances = cdist(features, features)
    # Column 0 of each sorted row is the point itself.
    return np.sort(distances, axis=1)[:, k]


def _check(real, fake, k):
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"need two [n, d] feature arrays with the same d, got {real.shape} and {fake.shape}")
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"need more than k={k} examples in each set")
    return real, fake


def precision_recall(real, fake, k=3):
    """Improved precision (fake inside the real manifold) and recall (real inside the fake one).

    Returns:
        dict with `precision` and `recall` in [0, 1].
    """
    real, fake = _check(real, fake, k)
    cross = cdist(fake, real)
    precision = np.mean((cross <= _radii(real, k)[None, :]).any(axis=1))
    recall = np.mean((cross.T <= _radii(fake, k)[None, :]).any(axis=1))
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real, fake, k=5):
    """Density (how many real balls hold each fake sample, normalised by k) and coverage.

    Returns:
        dict with `density` (about 1 when the sets match; can exceed 1) and
        `coverage` (the fraction of real balls holding at least one fake sample).
    """
    real, fake = _check(real, fake, k)
    inside = cdist(real, fake) <= _radii(real, k)[:, None]
    return {"density": float(inside.sum() / (k * len(fake))), "coverage": float(inside.any(axis=1).mean())}
