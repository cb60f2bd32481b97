"""The discriminator's calibration in an export: fitted on real data at export (after an optional
refit of the discriminator), and the check that an export was made from a run."""

import os

from kgan.data import MIXTURES, real_for_calibration
from kgan.data.text import source_options
from kgan.errors import KganError
from kgan.run import file_sha256

# Real samples `refit_steps` trains the discriminator on: every row of a data set, fresh mixture draws.
REFIT_SAMPLES = 50_000
# The default refit ("auto") trains twice the generator's steps, at most this many.
REFIT_CAP = 5000


def auto_refit_steps(gan, data):
    """The refit `kgan export` makes by default: on data drawn afresh (the 2-D mixtures, where a
    step of the refit costs about a third of a training step), twice the steps the generator trained,
    at most `REFIT_CAP`; none on a data set of rows, which the refit would see again and again
    (the calibration's rows among them), with a convolutional discriminator's step to pay for each.

    On grid25 runs cut to 2,000 of the preset's 12,000 steps (21 % high quality), this refit (4,000
    steps) takes DRS from 31 % to 72 % high quality and MH from 36 % to 79 %, every mode kept, over
    five seeds (`python benchmarks/sampling.py --datasets grid25 --variants weak --refit-steps 0 auto`).

    Args:
        gan: the `GAN` to export (its generator optimizer counts the steps it trained).
        data: the data set name or path its discriminator is calibrated on.

    Returns:
        the refit steps, an int.
    """
    optimizer = getattr(gan, "g_optimizer", None)
    trained = int(optimizer.iterations.numpy()) if optimizer is not None and optimizer.built else 0
    return min(REFIT_CAP, 2 * trained) if data in MIXTURES else 0


def fit_export_calibration(gan, data, config, log=None, samples=2000, refit_steps=0):
    """The discriminator's Platt scaling fitted on `data` (a data set name or path), after
    `refit_steps` steps of `GAN.refit_discriminator` on it (`"auto"`: `auto_refit_steps`), or the
    GAN's own `calibration` when there is no data; None (with a log line) when neither."""
    log = log or (lambda *_: None)
    if not data:
        if refit_steps and refit_steps != "auto":
            raise KganError("refitting the discriminator needs real data: give the data set (--data)")
        if gan.calibration is None:
            log("kgan: no data set to calibrate the discriminator on: the drs, mh and langevin samplers need "
                "`kgan calibrate`")
        return gan.calibration

    options = dict(image_size=config.get("image_size"), frames=config.get("frames"), **source_options(gan.sample_spec))
    real, labels = real_for_calibration(data, samples, **options)
    if tuple(real.shape[1:]) != tuple(gan.sample_shape):
        raise KganError(f"{data} holds samples of shape {list(real.shape[1:])} but the generator makes "
                        f"{list(gan.sample_shape)}: give the data set the run trained on")
    if gan.conditional and labels is None:
        raise KganError(f"{data} has no labels to calibrate a conditional discriminator with")
    if refit_steps == "auto":
        refit_steps = auto_refit_steps(gan, data)
    if refit_steps:
        # a mixture's refit draws are fresh (seed 1), apart from the calibration's; a data set's are all its rows
        many, many_labels = real_for_calibration(data, REFIT_SAMPLES, seed=1, **options)
        loss = gan.refit_discriminator(  # with the run's batch size and discriminator optimizer
            many, many_labels if gan.conditional else None, steps=refit_steps, batch_size=config.get("batch_size", 64),
            learning_rate=config.get("d_lr") or config.get("lr") or 2e-4, beta_1=config.get("beta_1", 0.5))
        log(f"kgan: refit the discriminator for {refit_steps} steps with the generator fixed (last loss {loss:.3f})")
    calibration = gan.calibrate(real, labels if gan.conditional else None)
    if refit_steps:
        calibration["refit_steps"] = int(refit_steps)
    log(f"kgan: calibrated the discriminator on {len(real)} real samples of {data}: held-out accuracy "
        f"{calibration['accuracy']:.3f}, ECE {calibration['ece']:.3f} (raw {calibration['ece_raw']:.3f})")
    return calibration


def _check_exported_from(run_dir, out_dir, manifest):
    """Raises unless the export in `out_dir` was made from `run_dir`'s model.keras (by its digest;
    an export written before digests were recorded, by its run name)."""
    made_from = manifest.get("model_sha256")
    if made_from:
        same = made_from == file_sha256(os.path.join(run_dir, "model.keras"))
    else:
        same = manifest.get("run") in (None, os.path.basename(os.path.normpath(os.path.abspath(run_dir))))
    if not same:
        raise KganError(f"{out_dir} was not exported from {run_dir}'s model.keras: give the export of that run "
                        f"(--export DIR), or export it first (`kgan export {run_dir}`)")
