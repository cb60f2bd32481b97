"""`train(config)`: the library behind `kgan train`.

A run directory holds `model.keras`, `config.json` (the resolved configuration),
`history.json` (per-epoch metrics) and `samples/epoch_NNN.png`. Everything about
the input is checked before the directory is touched, and every file is written
through a rename, so a failure never leaves a half-written artifact.
"""

import dataclasses
import json
import os
import shutil
import tempfile
import time

import keras

from kgan.callbacks import (EpochBackup, HistoryWriter, NonFiniteLoss, PairGrid, SampleGrid, ScheduledValues,
                            StopOnNonFinite)
from kgan.config import PRECISIONS, TrainConfig
from kgan.data import MIXTURES, load_arrays, load_dataset, sample_mixture
from kgan.data.pairs import preview_pairs
from kgan.distribute import is_chief, make_strategy
from kgan.errors import KganError
from kgan.export import _require_export_extras, export_model
from kgan.gan import GAN
from kgan.mixture import GeneratorMixture
from kgan.mle import pretrain
from kgan.paired import PairedGAN
from kgan.text_gan import SequenceGAN
from kgan.models import FAMILIES, get_family
from kgan.run import MLE_START
from kgan.presets import PRESETS
from kgan.runtime import images
from kgan.runtime.samples import SampleSpec
from kgan.schedules import CosineRamp, HalfLifeDecay, ScheduledAdam

__all__ = ["TrainConfig", "TrainResult", "train", "build_gan", "PRECISIONS"]


@dataclasses.dataclass
class TrainResult:
    """What `train` produced: the run directory, the trained GAN and its history; `seconds` is the
    adversarial phase's time, `pretrain_seconds` the pretraining's before it."""

    run_dir: str
    gan: object
    history: dict
    info: object
    seconds: float
    files: dict
    pretrain_seconds: float = 0.0


def check_family(config, info=None):
    """The configuration's model family, checked against what it trains on (data `info`, its
    stabilizers and pretraining); a mismatch is one `KganError` naming the fix."""
    family = get_family(config.model)
    if config.augment and family.kind != "image":
        raise KganError(f"DiffAugment (--augment) works on images: drop it for {family.kind} data")
    if config.mle_weight and family.kind != "tokens":
        raise KganError("the maximum-likelihood term (--mle-weight) trains sequence models: drop it, or train text "
                        "(--preset names)")
    if config.pretrain_epochs and family.kind != "tokens" and not config.task:
        raise KganError("pretraining (--pretrain) trains sequence models by maximum likelihood and restorers on their "
                        "L1 term: drop it, or train text (--preset names) or a task (--task)")
    if info is not None and info.kind != family.kind:
        fits = next((f for f in FAMILIES.values() if f.kind == info.kind), None)
        preset = fits and next((name for name, p in PRESETS.items() if p.model == fits.name), None)
        held, wanted = (k if k.endswith("s") else f"{k}s" for k in (info.kind, family.kind))
        hint = f": use a preset for {held} such as {preset} (model {fits.name})" if preset else ""
        raise KganError(f"{info.name} holds {held}, not {wanted}{hint}")
    return family


def build_gan(config, info):
    """Builds and compiles the GAN a configuration describes for a data set."""
    num_classes = info.num_classes if config.conditional else None
    family = check_family(config, info)
    if config.diversity:  # MGAN: the discriminator also says which member made a sample
        config = config.replace(discriminator=dict(config.discriminator, member_head=config.mixture))
    spec = info.sample_spec()  # None: the generator names its samples
    shape = spec or SampleSpec(info.kind, tuple(info.shape))  # what the family builds for

    task = {"task": info.task} if info.task else {}  # a generator of images from images: both networks know the task

    def build():
        return family.build(shape, config.latent_dim, num_classes, config.pack, dict(config.generator, **task),
                            dict(config.discriminator, **task))

    generator, discriminator = build()
    if config.mixture > 1:
        members = iter([generator])
        generator = GeneratorMixture.build_members(lambda: next(members, None) or build()[0], config.mixture,
                                                   shared=config.shared_members)
    total_steps = config.epochs * (config.steps_per_epoch or info.num_examples // info.batch_size)
    ramps = _ramps(config, total_steps)
    gan_class, paired = GAN, {}
    if info.task:
        gan_class, paired = PairedGAN, {"l1_weight": config.l1_weight, "adversarial": config.adversarial,
                                       "feature_matching": config.feature_matching}
    elif config.mle_weight:
        gan_class, paired = SequenceGAN, {"mle_weight": config.mle_weight}
    gan = gan_class(
        generator,
        discriminator,
        loss=config.loss,
        d_steps=config.d_steps,
        gradient_penalty=config.gradient_penalty,
        r1_penalty=ramps.get("r1_penalty", config.r1_penalty),
        r2_penalty=ramps.get("r2_penalty", config.r2_penalty),
        instance_noise=config.instance_noise,
        instance_noise_steps=max(total_steps, 1),
        label_smoothing=config.label_smoothing,
        num_classes=num_classes,
        seed=config.seed,
        pack=config.pack,
        augment=tuple(config.augment),
        ema=ramps.get("ema_half_life", config.ema),
        augment_probability=ramps.get("augment_probability", config.augment_probability),
        update=config.update,
        diversity=config.diversity,
        sample_spec=spec,
        **paired,
    )

    def adam(lr, steps):
        if config.lr_schedule == "linear":
            lr = keras.optimizers.schedules.PolynomialDecay(lr, max(steps, 1), end_learning_rate=lr * 0.01)
        if "lr" in config.ramps or "beta_2" in config.ramps:
            # The ramps count generator steps; this optimizer takes steps / total_steps as many.
            per_step = steps / max(total_steps, 1)
            lr = _ramp(config, "lr", total_steps, per_step) or lr
            beta_2 = _ramp(config, "beta_2", total_steps, per_step) or config.beta_2
            optimizer = ScheduledAdam(lr, beta_1=config.beta_1, beta_2=beta_2, epsilon=1e-8)
        else:
            optimizer = keras.optimizers.Adam(lr, beta_1=config.beta_1, beta_2=config.beta_2)
        if config.precision == "mixed_float16":
            # compile() wraps only self.optimizer; the GAN's two need it by hand.
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    gan.compile(
        g_optimizer=adam(config.lr, total_steps),
        d_optimizer=adam(config.d_lr or config.lr, total_steps * config.d_steps),
        jit_compile="auto" if config.xla is None else config.xla,
        steps_per_execution=config.steps_per_execution,
    )
    # Optimizer variables must exist inside the strategy's scope, and before a
    # backup is restored into them.
    gan.g_optimizer.build(gan.generator.trainable_variables)
    gan.d_optimizer.build(gan.discriminator.trainable_variables)
    return gan


def _ramp(config, name, total_steps, per_step=1.0):
    """The `CosineRamp` of a ramped value, over `ramp_steps` (or the run) times `per_step`; None if not ramped."""
    if name not in config.ramps:
        return None
    start, end = config.ramps[name]
    return CosineRamp(start, end, max(1, round((config.ramp_steps or total_steps) * per_step)))


def _ramps(config, total_steps):
    """The GAN's scheduled arguments: `{name: schedule}` for each ramped one."""
    ramps = {name: _ramp(config, name, total_steps) for name in ("r1_penalty", "r2_penalty", "augment_probability",
                                                                 "ema_half_life") if name in config.ramps}
    if "ema_half_life" in ramps:
        ramps["ema_half_life"] = HalfLifeDecay(ramps["ema_half_life"], config.batch_size)
    return ramps


def save_model_atomic(gan, path):
    """Saves a `.keras` file through a temporary name and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.partial.keras")
    try:
        gan.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def train(config, callbacks=(), verbose=1, log=print, resume=False):
    """Trains a GAN as `config` describes and writes its run directory.

    Training backs itself up to `<run>/backup/` every epoch (and every
    `config.backup_every` steps); `resume=True` continues from that backup with
    weights, optimizer and random-stream state, and appends to `history.json`.

    Args:
        config: a `TrainConfig` (e.g. `kgan.get_preset("digits").replace(epochs=5)`).
        callbacks: extra Keras callbacks.
        verbose: Keras progress output (0 silent, 1 bar, 2 one line per epoch).
        log: where progress messages go.
        resume: continue the interrupted run in `config.run_dir`.

    Returns:
        a `TrainResult`.

    Example:
        >>> result = train(get_preset("ring8").replace(epochs=2, out="/tmp/ring8"))
        >>> result.files["model"]
        '/tmp/ring8/model.keras'
    """
    config.validate()
    check_family(config)
    chief = is_chief()
    run_dir = config.run_dir if chief else tempfile.mkdtemp(prefix="kgan-worker-")
    images.check_writable_target(run_dir, "--out")
    backup_dir = os.path.join(run_dir, "backup")
    if resume and not os.path.isfile(os.path.join(backup_dir, "training_metadata.json")):
        raise KganError(f"nothing to resume: {backup_dir} holds no backup; train without --resume")
    if config.export and chief:
        try:
            _require_export_extras()
        except KganError as error:
            raise KganError(f"{error}, or train with --no-export") from None
        images.check_writable_target(config.onnx_dir, "--export-dir")
    # The strategy first: splitting the CPU into logical devices must precede any op.
    strategy = make_strategy(config.strategy, config.devices)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(config.precision)
    try:
        return _train(config, strategy, run_dir, backup_dir, chief, resume, callbacks, verbose, log)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
        if not chief:
            shutil.rmtree(run_dir, ignore_errors=True)


def _train(config, strategy, run_dir, backup_dir, chief, resume, callbacks, verbose, log):
    keras.utils.set_random_seed(config.seed)
    dataset, info = load_dataset(
        config.dataset,
        batch_size=config.batch_size,
        image_size=config.image_size,
        labels=config.conditional,
        seed=config.seed,
        num_examples=config.num_examples,
        frames=config.frames,
        tokens=config.tokens,
        length=config.length,
        task=config.task,
        patch_size=config.patch_size,
    )
    with strategy.scope():
        gan = build_gan(config, info)
    if config.steps_per_epoch:
        dataset = dataset.repeat()
    pretrain_start = time.perf_counter()
    if config.pretrain_epochs and not resume:
        if isinstance(gan, PairedGAN):
            with strategy.scope():
                _pretrain_pairs(gan, config, dataset, log)
        else:
            _pretrain(gan, config, log)
    pretrain_seconds = time.perf_counter() - pretrain_start if config.pretrain_epochs and not resume else 0.0

    os.makedirs(run_dir, exist_ok=True)
    samples_dir = os.path.join(run_dir, "samples")
    history_path = os.path.join(run_dir, "history.json")
    earlier = None
    if resume:
        with open(os.path.join(backup_dir, "training_metadata.json")) as handle:
            epoch = json.load(handle)["epoch"]
        earlier = _history_before(history_path, epoch)
        log(f"kgan: resuming {run_dir} from the backup after epoch {epoch}")
    else:
        shutil.rmtree(samples_dir, ignore_errors=True)
        shutil.rmtree(backup_dir, ignore_errors=True)
    resolved = dict(config.to_dict(), out=config.run_dir, dataset_info=info.to_dict(),
                    sample_spec=gan.sample_spec.to_dict())
    images.atomic_write_bytes(os.path.join(run_dir, "config.json"), json.dumps(resolved, indent=2).encode())
    mle_path = os.path.join(run_dir, MLE_START)
    if config.pretrain_epochs and not resume and not isinstance(gan, PairedGAN):
        # The maximum-likelihood start the game leaves: `kgan evaluate` draws its temperature curve beside the GAN's.
        save_model_atomic(gan.sampling_generator, mle_path)
    elif not resume and os.path.exists(mle_path):
        os.unlink(mle_path)  # an earlier run's, in this folder

    reference = None
    if info.name in MIXTURES:
        reference = sample_mixture(info.name, 2000, seed=config.seed + 1)[0]
    if info.task:
        sampler = PairGrid(samples_dir, preview_pairs(config.dataset, info.task, info.shape[0], seed=config.seed))
    else:
        sampler = SampleGrid(samples_dir, num_samples=config.num_samples, seed=config.seed, reference=reference)
    history = HistoryWriter(history_path, initial=earlier)
    # The guard comes before the backup so that non-finite weights are never backed up.
    guard = StopOnNonFinite()
    backup = EpochBackup(backup_dir, budget=0.02, double_checkpoint=True)
    step_backup = []
    if config.backup_every:
        step_backup = [
            keras.callbacks.BackupAndRestore(
                backup_dir, save_freq=config.backup_every, double_checkpoint=True, delete_checkpoint=False
            )
        ]
    log(
        f"kgan: training {config.preset} on {info.name} ({info.num_examples} examples, shape {info.shape}) "
        f"for {config.epochs} epochs; strategy {config.strategy} ({strategy.num_replicas_in_sync} replica(s)), "
        f"{config.precision}, XLA {'auto' if config.xla is None else config.xla}"
    )
    start = time.perf_counter()
    try:
        gan.fit(
            dataset,
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch,
            callbacks=[guard, *step_backup, backup, sampler, *([ScheduledValues()] if config.ramps else []), history,
                       *callbacks],
            verbose=verbose,
            shuffle=False,  # the pipeline shuffles
        )
    except NonFiniteLoss as error:
        raise KganError(
            f"training diverged: {error}; the last good backup is in {backup_dir} "
            "(lower the learning rate, or add gradient_penalty / r1_penalty)"
        ) from None
    seconds = time.perf_counter() - start
    model_path = os.path.join(run_dir, "model.keras")
    save_model_atomic(gan, model_path)
    files = {
        "model": model_path,
        "config": os.path.join(run_dir, "config.json"),
        "history": history.path,
        "samples": sampler.last_path,
    }
    if os.path.exists(mle_path):
        files["mle"] = mle_path
    if config.export and chief:
        exported = export_model(run_dir, out_dir=config.onnx_dir, log=log)
        files["saved_model"] = exported.saved_model_dir
        files["onnx"] = exported.generator_path
    return TrainResult(run_dir=run_dir, gan=gan, history=history.history, info=info, seconds=seconds, files=files,
                       pretrain_seconds=pretrain_seconds)


def _pretrain(gan, config, log):
    """Maximum-likelihood pretraining of the generator on the training data (the EMA copy follows)."""
    x, y, _, name = load_arrays(config.dataset, num_examples=config.num_examples, seed=config.seed,
                                tokens=config.tokens, length=config.length)
    start = time.perf_counter()
    losses = pretrain(gan.generator, x, y if gan.conditional else None, epochs=config.pretrain_epochs,
                      batch_size=config.batch_size, lr=config.pretrain_lr, seed=config.seed)
    if gan.ema_generator is not None:
        gan.ema_generator.set_weights(gan.generator.get_weights())
    log(f"kgan: pretrained the generator by maximum likelihood for {config.pretrain_epochs} epochs on {name} "
        f"in {time.perf_counter() - start:.1f} s: NLL {losses[0]:.3f} -> {losses[-1]:.3f} a token")
    return losses


def _pretrain_pairs(gan, config, dataset, log):
    """A restorer's generator on its L1 term alone for `pretrain_epochs` epochs (`PairedGAN.pretrain`)."""
    steps = config.pretrain_epochs * config.steps_per_epoch
    lr = config.pretrain_lr
    if config.lr_schedule == "linear":
        lr = keras.optimizers.schedules.PolynomialDecay(lr, steps, end_learning_rate=lr * 0.01)
    start = time.perf_counter()
    first, rest = gan.pretrain(dataset, steps, keras.optimizers.Adam(lr, beta_1=config.beta_1, beta_2=config.beta_2))
    log(f"kgan: pretrained the generator on its L1 term for {steps} steps in {time.perf_counter() - start:.1f} s: "
        f"{first:.3f} -> {rest:.3f}")
    return first, rest


def _history_before(path, epoch):
    """The history of epochs 1..epoch (what the backup holds), dropping later ones."""
    try:
        with open(path) as handle:
            history = json.load(handle)
    except (OSError, ValueError):
        return None
    keep = sum(1 for e in history.get("epoch", []) if e <= epoch)
    return {k: v[:keep] for k, v in history.items()}
