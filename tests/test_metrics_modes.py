import numpy as np
import pytest

from kgan.data import mixture_means, sample_mixture
from kgan.runtime.metrics import mixture_mode_metrics


def test_real_data_captures_every_mode():
    points, _ = sample_mixture("grid25", 2500, seed=1)
    result = mixture_mode_metrics(points, mixture_means("grid25"), 0.05)
    assert result["modes"] == 25
    assert result["high_quality"] > 0.98  # P(|N(0, I_2)| < 3) = 0.989
    assert result["reverse_kl"] < 0.02


def test_collapsed_and_off_mode_samples():
    means = mixture_means("ring8")
    collapsed = np.repeat(means[:1], 100, axis=0)
    result = mixture_mode_metrics(collapsed, means, 0.01)
    assert result["modes"] == 1 and result["high_quality"] == 1.0
    assert result["reverse_kl"] == pytest.approx(np.log(8))
    between = (means[:4] + means[1:5]) / 2  # midway between neighbours: nowhere near a mode
    result = mixture_mode_metrics(between, means, 0.01)
    assert result["modes"] == 0 and result["high_quality"] == 0.0


def test_half_the_modes_evenly():
    means = mixture_means("ring8")
    result = mixture_mode_metrics(np.tile(means[:4], (10, 1)), means, 0.01)
    assert result["modes"] == 4 and result["reverse_kl"] == pytest.approx(np.log(2))
