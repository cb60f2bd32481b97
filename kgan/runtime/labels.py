"""Class labels for sampling, checked the same way in Keras and in onnxruntime (numpy only)."""

import numpy as np

from kgan.errors import KganError

__all__ = ["resolve_labels"]


def resolve_labels(n, labels, num_classes):
    """The int64 labels of `n` samples, or None for an unconditional model.

    Args:
        n: number of samples.
        labels: None (cycle 0, 1, ..., num_classes - 1), one int, or `n` ints.
        num_classes: the model's classes; None for an unconditional model.

    Example:
        >>> resolve_labels(4, None, 3).tolist()
        [0, 1, 2, 0]
    """
    if num_classes is None:
        if labels is not None:
            raise KganError("labels were given to an unconditional model: drop them")
        return None
    if labels is None:
        return (np.arange(n) % num_classes).astype(np.int64)
    try:
        array = np.broadcast_to(np.asarray(labels), (n,))
    except ValueError:
        raise KganError(f"give one label or {n} labels, got {np.shape(labels)}") from None
    if not np.issubdtype(array.dtype, np.integer):
        raise KganError(f"labels must be integers, got {array.dtype}")
    if array.min() < 0 or array.max() >= num_classes:
        raise KganError(f"labels must be in [0, {num_classes - 1}], got {array.min()}..{array.max()}")
    return array.astype(np.int64)
