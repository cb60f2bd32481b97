"""Each loss's expected values, computed by hand from the same fixed logits."""

import math

import numpy as np
import pytest

from kgan import losses

REAL = np.array([[2.0], [-1.0]], dtype=np.float32)
FAKE = np.array([[0.5], [-3.0]], dtype=np.float32)


def softplus(x):
    return math.log1p(math.exp(x))


def mean(*values):
    return sum(values) / len(values)


# (kind, expected generator loss on FAKE, expected discriminator loss on (REAL, FAKE))
CASES = [
    (
        "non_saturating",
        mean(softplus(-0.5), softplus(3.0)),
        mean(softplus(-2.0), softplus(1.0)) + mean(softplus(0.5), softplus(-3.0)),
    ),
    (
        "minimax",
        -mean(softplus(0.5), softplus(-3.0)),
        mean(softplus(-2.0), softplus(1.0)) + mean(softplus(0.5), softplus(-3.0)),
    ),
    (
        "least_squares",
        0.5 * mean((0.5 - 1) ** 2, (-3.0 - 1) ** 2),
        0.5 * mean((2.0 - 1) ** 2, (-1.0 - 1) ** 2) + 0.5 * mean(0.5**2, 3.0**2),
    ),
    ("wasserstein", -mean(0.5, -3.0), mean(0.5, -3.0) - mean(2.0, -1.0)),
    ("hinge", -mean(0.5, -3.0), mean(0.0, 2.0) + mean(1.5, 0.0)),
    ("kl", -mean(0.5, -3.0), mean(math.exp(-0.5), math.exp(-4.0)) - mean(2.0, -1.0)),
    (
        "reverse_kl",
        mean(math.exp(-0.5), math.exp(3.0)),
        mean(math.exp(-2.0), math.exp(1.0)) + mean(0.5, -3.0) - 1.0,
    ),
    # Each fake against the real at its position: (0.5 vs 2.0), (-3.0 vs -1.0).
    ("relativistic_standard", mean(softplus(1.5), softplus(2.0)), mean(softplus(-1.5), softplus(-2.0))),
    ("rpgan", mean(softplus(1.5), softplus(2.0)), mean(softplus(-1.5), softplus(-2.0))),
    # Against the other side's mean: real mean 0.5, fake mean -1.25.
    (
        "ragan",
        mean(softplus(0.5 - 0.5), softplus(0.5 + 3.0)) + mean(softplus(2.0 + 1.25), softplus(-1.0 + 1.25)),
        mean(softplus(-1.25 - 2.0), softplus(-1.25 + 1.0)) + mean(softplus(0.5 - 0.5), softplus(-3.0 - 0.5)),
    ),
]


def generator_value(g_loss, fake, real):
    return g_loss(fake, real) if losses.needs_real_logits(g_loss) else g_loss(fake)


@pytest.mark.parametrize("kind, expected_g, expected_d", CASES, ids=[c[0] for c in CASES])
class TestLossValues:
    def test_generator_loss(self, kind, expected_g, expected_d):
        g_loss, _ = losses.get_loss_pair(kind)
        assert float(generator_value(g_loss, FAKE, REAL)) == pytest.approx(expected_g, rel=1e-5)

    def test_discriminator_loss(self, kind, expected_g, expected_d):
        _, d_loss = losses.get_loss_pair(kind)
        assert float(d_loss(REAL, FAKE)) == pytest.approx(expected_d, rel=1e-5)

    def test_named_functions_are_the_pair(self, kind, expected_g, expected_d):
        assert losses.get_loss_pair(kind) == (
            getattr(losses, f"{kind}_generator_loss"),
            getattr(losses, f"{kind}_discriminator_loss"),
        )


SMOOTHED = [
    (
        "non_saturating",
        # -[0.9 log s(x) + 0.1 log(1 - s(x))] = softplus(x) - 0.9 x
        mean(softplus(2.0) - 0.9 * 2.0, softplus(-1.0) + 0.9) + mean(softplus(0.5), softplus(-3.0)),
    ),
    ("least_squares", 0.5 * mean((2.0 - 0.9) ** 2, (-1.0 - 0.9) ** 2) + 0.5 * mean(0.5**2, 3.0**2)),
]


@pytest.mark.parametrize("kind, expected", SMOOTHED, ids=[c[0] for c in SMOOTHED])
def test_one_sided_label_smoothing(kind, expected):
    _, d_loss = losses.get_loss_pair(kind)
    assert float(d_loss(REAL, FAKE, label_smoothing=0.1)) == pytest.approx(expected, rel=1e-5)


def test_cross_entropy_is_stable_for_huge_logits():
    value = losses.non_saturating_discriminator_loss(np.array([1e4]), np.array([-1e4]))
    assert float(value) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.non_saturating_generator_loss(np.array([-1e4]))) == pytest.approx(1e4)


def test_discriminator_optimum_lowers_the_loss():
    # A discriminator that separates better must score a lower loss under every objective.
    weak_real, weak_fake = np.full((4, 1), 0.1), np.full((4, 1), -0.1)
    for kind in losses.LOSSES:
        # Least squares regresses real to 1 and fake to 0 rather than pushing them apart.
        targets = (1.0, 0.0) if kind == "least_squares" else (3.0, -3.0)
        good_real, good_fake = np.full((4, 1), targets[0]), np.full((4, 1), targets[1])
        _, d_loss = losses.get_loss_pair(kind)
        assert float(d_loss(good_real, good_fake)) < float(d_loss(weak_real, weak_fake)), kind


def test_only_the_relativistic_generator_losses_read_real_logits():
    assert [kind for kind, (g_loss, _) in losses.LOSSES.items() if losses.needs_real_logits(g_loss)] == [
        "relativistic_standard", "rpgan", "ragan"]
    # Their value moves with the reals: fakes judged against better reals lose more.
    for kind in ("rpgan", "ragan"):
        g_loss, _ = losses.get_loss_pair(kind)
        assert float(g_loss(FAKE, REAL + 1.0)) > float(g_loss(FAKE, REAL)), kind


def test_rpgan_is_the_relativistic_standard_loss_by_a_second_name():
    assert losses.ALIASES == {"rpgan": "relativistic_standard"}
    assert losses.get_loss_pair("rpgan") == losses.get_loss_pair("relativistic_standard")


PAIRED_REAL = np.array([[3.0], [0.0], [-2.0], [1.0]], dtype=np.float32)
PAIRED_FAKE = np.array([[1.0], [-4.0], [2.5], [0.0]], dtype=np.float32)


def test_rpgan_pairs_each_fake_with_its_real_and_ragan_with_the_mean():
    # RpGAN compares sample i with sample i: reordering the fakes changes both losses. RaGAN
    # compares each sample with the other side's mean, which no reordering changes.
    shuffled = PAIRED_FAKE[[2, 0, 3, 1]]
    g_loss, d_loss = losses.get_loss_pair("rpgan")
    assert abs(float(d_loss(PAIRED_REAL, shuffled)) - float(d_loss(PAIRED_REAL, PAIRED_FAKE))) > 0.1
    assert abs(float(g_loss(shuffled, PAIRED_REAL)) - float(g_loss(PAIRED_FAKE, PAIRED_REAL))) > 0.1
    g_loss, d_loss = losses.get_loss_pair("ragan")
    assert float(d_loss(PAIRED_REAL, shuffled)) == pytest.approx(float(d_loss(PAIRED_REAL, PAIRED_FAKE)), rel=1e-6)
    assert float(g_loss(shuffled, PAIRED_REAL)) == pytest.approx(float(g_loss(PAIRED_FAKE, PAIRED_REAL)), rel=1e-6)


@pytest.mark.parametrize("kind", ["rpgan", "ragan"])
def test_relativistic_pairs_are_mirrors(kind):
    # The generator's loss is the discriminator's with real and fake swapped: a wrong sign or a
    # dropped side in either breaks the symmetry.
    g_loss, d_loss = losses.get_loss_pair(kind)
    assert float(g_loss(PAIRED_FAKE, PAIRED_REAL)) == pytest.approx(float(d_loss(PAIRED_FAKE, PAIRED_REAL)), rel=1e-6)
    assert float(d_loss(PAIRED_REAL, PAIRED_FAKE)) != pytest.approx(float(d_loss(PAIRED_FAKE, PAIRED_REAL)), rel=1e-2)


def test_unknown_loss_names_the_choices():
    with pytest.raises(ValueError, match="unknown loss 'bce'.*non_saturating"):
        losses.get_loss_pair("bce")
