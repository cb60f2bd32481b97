"""Video metrics over numpy arrays: content consistency, average content distance, motion.

Clips are `[n, frames, height, width, channels]` in [-1, 1]; per-frame classifier outputs
are `[n, frames, ...]`. Numpy and scipy only.
"""

import numpy as np
from scipy import stats
from scipy.spatial.distance import pdist

__all__ = ["content_consistency", "average_content_distance", "centroid_speeds", "motion_distance"]


def content_consistency(probabilities, threshold=0.8):
    """The share of clips whose every frame a classifier gives the same class, each with
    probability above `threshold`.

    Args:
        probabilities: `[n, frames, classes]` class probabilities of each frame.

    Example:
        >>> p = np.array([[[0.9, 0.1], [0.95, 0.05]], [[0.9, 0.1], [0.1, 0.9]]])
        >>> content_consistency(p)
        0.5
    """
    probabilities = np.asarray(probabilities)
    classes = probabilities.argmax(-1)
    confident = probabilities.max(-1) > threshold
    same = classes == classes[:, :1]
    return float(np.mean(np.all(same & confident, axis=1)))


def average_content_distance(features):
    """MoCoGAN's ACD (Tulyakov et al., CVPR 2018, section 4.1): the mean over clips of the
    average pairwise L2 distance between the per-frame feature vectors of a clip.

    Args:
        features: `[n, frames, d]`.

    Example:
        >>> average_content_distance(np.array([[[0.0, 0.0], [3.0, 4.0]]]))
        5.0
    """
    features = np.asarray(features, np.float64)
    return float(np.mean([pdist(clip).mean() for clip in features]))


def centroid_speeds(clips):
    """Pixels a frame the intensity centroid of each clip moves: `[n, frames - 1]`.

    Intensities are the clips' values mapped from [-1, 1] to [0, 1], averaged over channels;
    a blank frame's centroid is the frame's centre.
    """
    clips = np.asarray(clips, np.float64)
    mass = np.clip((clips.mean(-1) + 1.0) / 2.0, 0.0, 1.0)  # [n, t, h, w]
    height, width = mass.shape[2:]
    total = mass.sum((2, 3))
    safe = np.where(total > 1e-9, total, 1.0)
    rows = np.where(total > 1e-9, (mass * np.arange(height)[:, None]).sum((2, 3)) / safe, (height - 1) / 2)
    cols = np.where(total > 1e-9, (mass * np.arange(width)).sum((2, 3)) / safe, (width - 1) / 2)
    centroids = np.stack([rows, cols], -1)  # [n, t, 2]
    return np.linalg.norm(np.diff(centroids, axis=1), axis=-1)


def motion_distance(real, generated):
    """The 1-Wasserstein distance between the per-frame centroid speeds of two sets of clips
    (pixels a frame): how far the generated motion's distribution is from the real one."""
    return float(stats.wasserstein_distance(centroid_speeds(real).ravel(), centroid_speeds(generated).ravel()))
