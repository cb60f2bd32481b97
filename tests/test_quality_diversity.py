"""The quality-diversity curves' arithmetic: the frontier of a temperature sweep and the gap
between two models' curves at equal diversity."""

import pytest

from kgan.quality_diversity import curve_gap, frontier


def points(pairs):
    return [{"nll_test": x, "quality": y, "temperature": t} for t, (x, y) in enumerate(pairs)]


def test_a_curve_ahead_by_a_constant_is_ahead_by_that_constant_everywhere():
    # cooler: higher quality at a higher NLL-test
    baseline = points([(1.0, 0.4), (1.5, 0.6), (2.0, 0.8)])
    ahead = points([(1.2, 0.58), (1.6, 0.74), (2.4, 1.06)])  # on the line 0.1 above the baseline's
    found = curve_gap(ahead, baseline, higher_is_better=True)
    assert found["gap"] == pytest.approx(0.1) and found["worst"] == pytest.approx(0.1)
    assert found["overlap"] == [1.2, 2.0]
    behind = curve_gap(baseline, ahead, higher_is_better=True)
    assert behind["gap"] == pytest.approx(-0.1)
    # lower is better (NLL-oracle): the same curves, quality negated, in percent of the baseline's
    low = [dict(p, quality=10 - p["quality"]) for p in ahead]
    found = curve_gap(low, [dict(p, quality=10 - p["quality"]) for p in baseline], False, relative=True)
    assert found["gap"] > 0 and found["worst"] == pytest.approx(100 * 0.1 / (10 - 0.48), rel=0.02)


def test_points_past_the_lowest_nll_test_leave_the_curve():
    # hotter than its best NLL-test a model loses both: such a point is dominated by a cooler one
    sweep = points([(1.30, 0.75), (1.20, 0.70), (1.10, 0.65), (1.15, 0.60), (1.25, 0.55)])
    assert frontier(sweep, higher_is_better=True) == [(1.10, 0.65), (1.20, 0.70), (1.30, 0.75)]
    assert frontier(points([(1.0, 9.0), (1.1, 9.5)]), higher_is_better=False) == [(1.0, 9.0)]


def test_curves_that_share_no_diversity_have_no_gap():
    assert curve_gap(points([(1.0, 0.5), (1.1, 0.6)]), points([(2.0, 0.5), (2.1, 0.6)]), True) is None
