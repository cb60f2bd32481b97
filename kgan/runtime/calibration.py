"""Platt scaling of the discriminator: its logit l made a calibrated logit a·l + b of "real".

The samplers that read the discriminator as a probability (`drs`, `mh`, `langevin`; see
`kgan.runtime.samplers`) need it calibrated: a discriminator at the end of training is rarely
the optimal one, and its raw probabilities say little. `fit_calibration` fits a and b by
logistic regression (scikit-learn) of held-out real samples' logits against generated
ones' on one half of each, and reports on the other half the accuracy and the expected
calibration error (ECE, 10 equal-width bins) of the calibrated probabilities, with the raw
ones' ECE beside it. `kgan export` fits it from the run's data set; `kgan calibrate` refits
an export from other data.

Example:
    >>> calibration = fit_calibration(real_logits, fake_logits)
    >>> probabilities = 1 / (1 + np.exp(-calibrated(logits, calibration)))
"""

import numpy as np

from kgan.errors import KganError

__all__ = ["fit_calibration", "calibrated", "calibrated_energy", "expected_calibration_error"]


def calibrated(logits, calibration):
    """`a * logits + b`: the calibrated logit of "real"."""
    return calibration["a"] * np.asarray(logits, np.float64) + calibration["b"]


def calibrated_energy(z, raw_energy, raw_grad, calibration):
    """`(E, ∇E)` of E(z) = ‖z‖²/2 − (a·D + b) from those of the raw logit D (latent_energy.onnx's)."""
    z = np.asarray(z, np.float64)
    half_norm = 0.5 * np.sum(z * z, axis=-1)
    logit = half_norm - np.asarray(raw_energy, np.float64)
    grad_logit = z - np.asarray(raw_grad, np.float64)
    a, b = calibration["a"], calibration["b"]
    return half_norm - (a * logit + b), z - a * grad_logit


def expected_calibration_error(probabilities, labels, bins=10):
    """Σ over equal-width bins of |share of reals − mean probability| × share of samples."""
    probabilities, labels = np.asarray(probabilities, np.float64), np.asarray(labels, np.float64)
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(labels[inside].mean() - probabilities[inside].mean())
    return float(error)


def fit_calibration(real_logits, fake_logits, seed=0):
    """Platt scaling from the logits of real and generated samples.

    Returns:
        `{"a", "b", "accuracy", "ece", "ece_raw", "real", "fake"}`: the parameters (fitted on
        half of each set), the held-out half's accuracy and ECE after and before, and how
        many samples of each kind were used.
    """
    from scipy import special  # scipy and scikit-learn fit a calibration; the edge install only applies one
    from sklearn.linear_model import LogisticRegression

    real = np.asarray(real_logits, np.float64).reshape(-1)
    fake = np.asarray(fake_logits, np.float64).reshape(-1)
    if min(len(real), len(fake)) < 20:
        raise KganError(f"calibration needs at least 20 real and 20 generated samples, got {len(real)} and {len(fake)}")
    if not (np.isfinite(real).all() and np.isfinite(fake).all()):
        raise KganError("the discriminator gave non-finite logits: it cannot be calibrated")
    rng = np.random.default_rng(seed)
    logits = np.concatenate([real, fake])
    labels = np.concatenate([np.ones(len(real)), np.zeros(len(fake))])
    fit = np.zeros(len(logits), bool)
    for part in (np.arange(len(real)), len(real) + np.arange(len(fake))):
        fit[rng.permutation(part)[: len(part) // 2]] = True
    model = LogisticRegression(C=1e6, max_iter=1000).fit(logits[fit, None], labels[fit])
    a, b = float(model.coef_[0, 0]), float(model.intercept_[0])
    held, truth = logits[~fit], labels[~fit]
    probabilities = special.expit(a * held + b)
    return {"a": a, "b": b, "accuracy": float(np.mean((probabilities > 0.5) == truth)),
            "ece": expected_calibration_error(probabilities, truth),
            "ece_raw": expected_calibration_error(special.expit(held), truth),
            "real": int(len(real)), "fake": int(len(fake))}
