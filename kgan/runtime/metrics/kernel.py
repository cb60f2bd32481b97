"""Kernel distance (KID): unbiased MMD^2 with a cubic polynomial kernel, over subsets.

Bińkowski et al., "Demystifying MMD GANs", ICLR 2018. Features are `[n, d]` arrays.
"""

import numpy as np

__all__ = ["kernel_distance"]


def _polynomial(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _unbiased_mmd2(x, y):
    m = len(x)
    k_xx, k_yy, k_xy = _polynomial(x, x), _polynomial(y, y), _polynomial(x, y)
    return float(
        (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
        + (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        - 2.0 * k_xy.mean()
    )


def kernel_distance(features_a, features_b, num_subsets=100, subset_size=1000, seed=0):
    """KID: the mean and standard deviation of unbiased MMD^2 over random subsets.

    Args:
        features_a, features_b: `[n, d]` feature arrays.
        num_subsets: subsets drawn (100 in the paper's code).
        subset_size: examples per subset (capped at the smaller set).
        seed: seed of the subset draws.

    Returns:
        `(mean, std)`; the mean is unbiased, so it can be slightly negative when the
        two sets come from one distribution.
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two [n, d] feature arrays with the same d, got {a.shape} and {b.shape}")
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise ValueError("need at least 2 examples in each set")
    rng = np.random.default_rng(seed)
    values = [
        _unbiased_mmd2(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
        for _ in range(num_subsets)
    ]
    return float(np.mean(values)), float(np.std(values))
