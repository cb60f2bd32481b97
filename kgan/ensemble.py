"""`assemble`: one mixture from separately trained runs, as a run directory of its own.

The members are the runs' sampling generators (their EMA when kept); the weights are
uniform, given, or fitted: the weights that minimize the kernel MMD between the
mixture's samples and held-out real data in `kgan evaluate`'s features. With a
Gaussian kernel, MMD^2(w) = w'Aw - 2 w'b + c, where A[k, l] is the mean kernel between
members k and l and b[k] between member k and the data: a convex quadratic program over
the probability simplex, solved with scipy.

    kgan ensemble saved_models/grid25-s0 saved_models/grid25-s1 --out saved_models/grid25-ens --weights fit
"""

import json
import os
import shutil

import numpy as np

from kgan.data import MIXTURES, load_arrays, sample_mixture
from kgan.errors import KganError
from kgan.run import load_run
from kgan.features import DomainFeatures
from kgan.gan import GAN
from kgan.mixture import GeneratorMixture
from kgan.runtime import images
from kgan.runtime.latent import check_weights
from kgan.runtime.samples import get_kind
from kgan.training import save_model_atomic

__all__ = ["assemble", "fit_weights", "mixture_mmd2", "features_for"]


def _gaussian_gram(x, y, bandwidth):
    squared = (x**2).sum(1)[:, None] + (y**2).sum(1)[None, :] - 2.0 * x @ y.T
    return np.exp(-np.maximum(squared, 0.0) / (2.0 * bandwidth**2))


def _bandwidth(sets, limit=2000, seed=0):
    """The median pairwise distance of the pooled features (the median heuristic)."""
    pooled = np.concatenate(sets)
    pooled = pooled[np.random.default_rng(seed).permutation(len(pooled))[:limit]]
    squared = (pooled**2).sum(1)[:, None] + (pooled**2).sum(1)[None, :] - 2.0 * pooled @ pooled.T
    distances = np.sqrt(np.maximum(squared[np.triu_indices(len(pooled), 1)], 0.0))
    return float(np.median(distances)) or 1.0


def _quadratic(member_features, real_features, bandwidth):
    k = len(member_features)
    a = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            a[i, j] = a[j, i] = _gaussian_gram(member_features[i], member_features[j], bandwidth).mean()
    b = np.array([_gaussian_gram(f, real_features, bandwidth).mean() for f in member_features])
    c = _gaussian_gram(real_features, real_features, bandwidth).mean()
    return a, b, c


def mixture_mmd2(weights, member_features, real_features, bandwidth=None):
    """MMD^2 (biased, Gaussian kernel) between the w-mixture of the members' samples and the data."""
    bandwidth = bandwidth or _bandwidth([*member_features, real_features])
    a, b, c = _quadratic(member_features, real_features, bandwidth)
    w = np.asarray(weights, np.float64)
    return float(w @ a @ w - 2.0 * w @ b + c)


def fit_weights(member_features, real_features, bandwidth=None):
    """The probability vector over members that minimizes MMD^2 to `real_features`.

    Args:
        member_features: one `[n_k, d]` array of features per member.
        real_features: `[m, d]` features of held-out real data.

    Returns:
        `(weights, mmd2 at the fit, mmd2 with uniform weights)`.
    """
    from scipy.optimize import minimize

    member_features = [np.asarray(f, np.float64) for f in member_features]
    real_features = np.asarray(real_features, np.float64)
    bandwidth = bandwidth or _bandwidth([*member_features, real_features])
    a, b, c = _quadratic(member_features, real_features, bandwidth)
    k = len(member_features)
    uniform = np.full(k, 1.0 / k)
    result = minimize(lambda w: w @ a @ w - 2.0 * w @ b + c, uniform, jac=lambda w: 2.0 * a @ w - 2.0 * b,
                      bounds=[(0.0, 1.0)] * k, constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
                      method="SLSQP", options={"ftol": 1e-12, "maxiter": 500})
    weights = np.clip(result.x, 0.0, None)
    weights /= weights.sum()
    return weights, float(weights @ a @ weights - 2.0 * weights @ b + c), float(uniform @ a @ uniform - 2.0 * uniform @ b + c)


def features_for(dataset, features_root=None):
    """`(features(samples) -> [n, d], held-out real samples)` in `kgan evaluate`'s features:
    the coordinates of 2-D mixtures, a domain classifier's for images (each channel's digit
    for stacked digits)."""
    if dataset in MIXTURES:
        return (lambda x: np.asarray(x, np.float64)), sample_mixture(dataset, 2000, seed=4321)[0]

    if dataset == "stacked-digits":
        digits = DomainFeatures("digits", root=features_root)

        def stacked(x):
            x = np.asarray(x, np.float32)
            return np.concatenate([digits(x[..., c : c + 1]) for c in range(x.shape[-1])], axis=1)

        return stacked, load_arrays("stacked-digits", num_examples=2000, seed=4321)[0]
    extractor = DomainFeatures(dataset, root=features_root)
    return extractor, extractor.held_out[0]


def _parse_weights(weights, k):
    if weights in (None, "uniform"):
        return None
    if weights == "fit":
        return "fit"
    try:
        values = [float(w) for w in str(weights).split(",")]
    except ValueError:
        raise KganError(f"--weights must be uniform, fit or {k} numbers like 0.5,0.5; got {weights!r}") from None

    return check_weights(values, k)


def assemble(run_dirs, out, weights="uniform", samples=1000, seed=0, features_root=None, log=print):
    """Builds a mixture of the runs' generators and writes it as a run directory.

    Args:
        run_dirs: run directories of `kgan train` on one data set and sample shape.
        out: the new run directory (`model.keras`, `config.json`, `samples/`).
        weights: `"uniform"`, `"fit"` (minimum MMD to held-out data) or K numbers.
        samples: samples per member for the fit.
        seed: latent seed of the fit.

    Returns:
        `{"run_dir", "weights", "mmd2" (fit only), "mmd2_uniform" (fit only)}`.
    """
    import keras

    run_dirs = [os.fspath(r) for r in run_dirs]
    if len(run_dirs) < 2:
        raise KganError("an ensemble needs at least two run directories")
    images.check_writable_target(out, "--out")
    if os.path.isdir(out) and os.listdir(out):
        raise KganError(f"--out {out} exists and is not empty: choose a new folder or remove it")
    weights = _parse_weights(weights, len(run_dirs))
    loaded = [load_run(r) for r in run_dirs]
    first_gan, first_config = loaded[0]
    for run_dir, (gan, config) in zip(run_dirs[1:], loaded[1:]):
        for what, mine, theirs in (("data set", config.get("dataset"), first_config.get("dataset")),
                                   ("samples", gan.sample_spec.to_dict(), first_gan.sample_spec.to_dict()),
                                   ("latent size", gan.latent_dim, first_gan.latent_dim),
                                   ("classes", gan.num_classes, first_gan.num_classes)):
            if mine != theirs:
                raise KganError(f"the runs differ in their {what}: {run_dirs[0]} has {theirs}, {run_dir} has {mine}; "
                                "assemble runs of one data set and shape")
    members = [gan.sampling_generator for gan, _ in loaded]
    report = {"run_dir": out}
    if isinstance(weights, str):  # fit
        dataset = first_config.get("dataset")
        if not dataset:
            raise KganError(f"{run_dirs[0]}/config.json names no data set to fit the weights to")
        log(f"kgan: fitting the weights of {len(members)} members to held-out {dataset} (MMD, {samples} samples each)")
        features, real = features_for(dataset, features_root)
        member_features = [features(gan.generate(samples, seed=seed + i)) for i, (gan, _) in enumerate(loaded)]
        weights, report["mmd2"], report["mmd2_uniform"] = fit_weights(member_features, features(real))
    mixture = GeneratorMixture(members, weights=weights)
    gan = GAN(mixture, first_gan.discriminator, latent_dim=first_gan.latent_dim, num_classes=first_gan.num_classes,
              sample_spec=first_gan.sample_spec, seed=seed)
    gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    gan.g_optimizer.build(gan.generator.trainable_variables)  # saved built, so loading restores them silently
    gan.d_optimizer.build(gan.discriminator.trainable_variables)
    report["weights"] = list(mixture.mixture_weights)

    staging = images.staging_dir(out)
    try:
        save_model_atomic(gan, os.path.join(staging, "model.keras"))
        config = dict(first_config, preset="ensemble", based_on=first_config.get("preset"), out=out,
                      members=run_dirs, mixture=len(members), weights=report["weights"])
        images.atomic_write_bytes(os.path.join(staging, "config.json"), json.dumps(config, indent=2).encode())
        spec, kind = gan.sample_spec, get_kind(gan.sample_spec)
        os.makedirs(os.path.join(staging, "samples"))
        shown = gan.generate(1000 if kind.cloud else 64, seed=seed)
        images.save_png(kind.picture(shown, spec, columns=gan.num_classes), os.path.join(staging, "samples", "mixture.png"))
        if os.path.isdir(out):
            os.rmdir(out)  # empty
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report
