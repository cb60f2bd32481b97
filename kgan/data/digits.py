"""scikit-learn's embedded digits (1,797 real 8x8 handwritten digits) in kgan's layout, and the
fixed train / held-out split that the metrics' classifiers and the text data use."""

import numpy as np

__all__ = ["digits", "held_out_split"]


def digits():
    """`(x, y)`: the digits as `[1797, 8, 8, 1]` float32 in [-1, 1] and their int64 classes."""
    from sklearn.datasets import load_digits  # scikit-learn's import is slow; only this needs it

    bunch = load_digits()
    # Pixel values are 0..16.
    x = (bunch.images.astype(np.float32) / 8.0 - 1.0)[..., None]
    return x, bunch.target.astype(np.int64)


def held_out_split(x, y, fraction=0.2, seed=0):
    """A fixed train / held-out split: `(x_train, y_train, x_held, y_held)`."""
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(round(len(x) * (1.0 - fraction)))
    train, held = order[:cut], order[cut:]
    return x[train], y[train], x[held], y[held]
