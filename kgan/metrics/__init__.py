"""Sample-quality metrics computed from numpy arrays (no TensorFlow needed)."""

from kgan.metrics.modes import mixture_mode_metrics

__all__ = ["mixture_mode_metrics"]
