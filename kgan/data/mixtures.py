"""2-D Gaussian mixtures used to measure mode coverage (VEEGAN, PacGAN).

`ring8`: 8 Gaussians evenly on the unit circle, std 0.01. `grid25`: 25 Gaussians on
{-4, -2, 0, 2, 4}^2, std 0.05. Numpy only.
"""

import numpy as np

__all__ = ["MIXTURES", "mixture_means", "mixture_std", "sample_mixture"]

MIXTURES = {"ring8": 0.01, "grid25": 0.05}


def mixture_means(name):
    """The mode centres of a named mixture, float64 `[k, 2]`."""
    if name == "ring8":
        angles = 2.0 * np.pi * np.arange(8) / 8
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if name == "grid25":
        axis = np.arange(-4.0, 5.0, 2.0)
        return np.array([(x, y) for x in axis for y in axis])
    raise KeyError(name)


def mixture_std(name):
    """The per-axis standard deviation of each mode."""
    return MIXTURES[name]


def sample_mixture(name, n, seed=0):
    """Draws `n` points and their mode indices from a named mixture, modes uniform.

    Returns:
        `(points float32 [n, 2], modes int64 [n])`.
    """
    rng = np.random.default_rng(seed)
    means = mixture_means(name)
    modes = rng.integers(0, len(means), size=n)
    points = means[modes] + mixture_std(name) * rng.standard_normal((n, 2))
    return points.astype(np.float32), modes
