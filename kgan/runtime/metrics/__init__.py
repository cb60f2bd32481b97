"""Sample-quality metrics computed from numpy feature arrays (no TensorFlow needed).

Any feature extractor plugs in: the metrics take `[n, d]` arrays.
"""

from kgan.runtime.metrics.frechet import frechet_distance, frechet_distance_from_moments
from kgan.runtime.metrics.kernel import kernel_distance
from kgan.runtime.metrics.manifold import density_coverage, precision_recall
from kgan.runtime.metrics.modes import mixture_mode_metrics

__all__ = [
    "frechet_distance",
    "frechet_distance_from_moments",
    "kernel_distance",
    "precision_recall",
    "density_coverage",
    "mixture_mode_metrics",
]
