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

import numpy as np

from kgan.runtime import images
from kgan.errors import KganError

__all__ = ["TrainConfig", "TrainResult", "train", "build_gan", "PRECISIONS"]

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; `config.json` is its `to_dict()`.

    Attributes:
        preset: the preset this configuration is; `"custom"` once its data set is
            replaced (the run is then named after the data set).
        based_on: the preset a custom configuration started from.
        description: what the configuration is and why.
        dataset: data set name or path (see `kgan.load_dataset`).
        image_size: resize images (and clips' frames) to this square side (None keeps the size).
        frames: frames a clip for video data (None: the source's default, 16).
        tokens: how a `.txt` file of text is cut into tokens: `"chars"` or `"words"`.
        length: tokens a text sequence (None: the longest text and its end).
        conditional: train a class-conditional model on `(x, label)`.
        model: `"dcgan"` for images, `"mlp"` for vectors, `"video"` for clips, `"sequence"`
            for text (token ids).
        pretrain_epochs: epochs of maximum-likelihood pretraining of the generator before the
            adversarial phase (`kgan.mle.pretrain`, teacher forcing; sequence models).
        pretrain_lr: its Adam learning rate (RelGAN: 1e-2, gradients clipped to norm 5).
        generator / discriminator: extra keyword arguments of the models.
        loss: a name in `kgan.losses.LOSSES`.
        d_steps, gradient_penalty, r1_penalty, instance_noise, label_smoothing, pack, augment, ema:
            the `kgan.GAN` arguments of the same names.
        latent_dim: size of z.
        batch_size: examples per step.
        epochs: number of epochs.
        steps_per_epoch: steps per epoch; None is one pass over the data.
        lr: generator learning rate (Adam).
        d_lr: discriminator learning rate; None uses `lr`.
        lr_schedule: `"constant"`, or `"linear"`: both learning rates decay linearly to
            1 % of their start over the run, which settles the generator on the modes.
        beta_1, beta_2: Adam's betas.
        seed: seed of weights, data order and latents.
        xla: True / False forces XLA on / off; None lets Keras decide ("auto").
        steps_per_execution: training steps run per call into the compiled step
            (Keras' `steps_per_execution`): less Python and dispatch per step, the same
            results; callbacks see one batch per execution.
        update: `"alternating"`, `"reuse_fakes"` or `"simultaneous"`, the `kgan.GAN`
            argument (the last two trade the alternating game for speed).
        mixture: K > 1 trains a `kgan.GeneratorMixture` of K generators of the family.
        diversity: MGAN's beta (`kgan.GAN(diversity=...)`); the discriminator gets a
            member head. Needs `mixture` > 1.
        shared_members: the members share all but their first layer (MGAN's sharing).
        strategy: `"default"`, `"mirrored"` or `"multiworker"` (see `kgan.distribute`).
        devices: devices of the mirrored strategy (GPUs, or logical CPUs without one).
        precision: `"float32"`, `"mixed_float16"` or `"mixed_bfloat16"`.
        backup_every: also back up every N steps (besides every epoch).
        num_examples: examples drawn for sampled data sets (ring8, grid25).
        num_samples: samples in each epoch's grid.
        out: the run directory; None is `saved_models/<preset>`.
        export: export to SavedModel (`<out>/saved_model`) and ONNX when training ends.
        export_dir: the ONNX folder; None is `export/<run directory name>`.
    """

    preset: str = "digits"
    based_on: str | None = None
    description: str = ""
    dataset: str = "digits"
    image_size: int | None = None
    frames: int | None = None
    tokens: str = "chars"
    length: int | None = None
    conditional: bool = False
    model: str = "dcgan"
    generator: dict = dataclasses.field(default_factory=dict)
    discriminator: dict = dataclasses.field(default_factory=dict)
    pretrain_epochs: int = 0
    pretrain_lr: float = 1e-2
    loss: str = "non_saturating"
    d_steps: int = 1
    gradient_penalty: float = 0.0
    r1_penalty: float = 0.0
    instance_noise: float = 0.0
    label_smoothing: float = 0.0
    pack: int = 1
    augment: tuple = ()
    ema: float = 0.0
    latent_dim: int = 64
    batch_size: int = 64
    epochs: int = 10
    steps_per_epoch: int | None = None
    lr: float = 2e-4
    d_lr: float | None = None
    lr_schedule: str = "constant"
    beta_1: float = 0.5
    beta_2: float = 0.999
    seed: int = 0
    xla: bool | None = None
    steps_per_execution: int = 1
    update: str = "alternating"
    mixture: int = 1
    diversity: float = 0.0
    shared_members: bool = False
    strategy: str = "default"
    devices: int | None = None
    precision: str = "float32"
    backup_every: int | None = None
    num_examples: int | None = None
    num_samples: int = 64
    out: str | None = None
    export: bool = True
    export_dir: str | None = None

    def replace(self, **changes):
        """A copy with `changes` applied; None sets a field to None."""
        return dataclasses.replace(self, **changes)

    def with_flags(self, **flags):
        """A copy with the flags that were given applied: None means "not given" (how CLI flags override).

        Another data set makes the configuration `custom` (based on this preset), so the
        run, its manifest and its default folders are named after the data, not the preset.
        """
        changes = {k: v for k, v in flags.items() if v is not None}
        if changes.get("dataset", self.dataset) != self.dataset and self.preset != "custom":
            changes = dict(changes, preset="custom", based_on=self.preset)
        return self.replace(**changes)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_run(cls, run_dir):
        """The configuration a run directory was trained with (its `config.json`)."""
        path = os.path.join(run_dir, "config.json")
        try:
            with open(path) as handle:
                saved = json.load(handle)
        except (OSError, ValueError):
            raise KganError(f"cannot read {path}: --resume needs the run directory of an earlier `kgan train`") from None
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in names}).replace(out=run_dir)

    @property
    def run_name(self):
        """The preset's name, or for a custom configuration its data set's (a folder's or file's name)."""
        if self.preset != "custom":
            return self.preset
        return os.path.splitext(os.path.basename(os.path.normpath(self.dataset)))[0] or "custom"

    @property
    def run_dir(self):
        return self.out or os.path.join("saved_models", self.run_name)

    @property
    def onnx_dir(self):
        return self.export_dir or os.path.join("export", os.path.basename(os.path.normpath(self.run_dir)))

    def validate(self):
        """Raises `KganError` for a configuration that cannot train."""
        from kgan.losses import LOSSES  # imports Keras: not needed to list or read configurations

        if self.loss not in LOSSES:
            raise KganError(f"unknown loss {self.loss!r}: choose one of {', '.join(LOSSES)}")
        if self.model not in FAMILIES:
            raise KganError(f"unknown model family {self.model!r}: choose one of {', '.join(FAMILIES)}")
        for name in ("latent_dim", "batch_size", "epochs", "d_steps", "num_samples", "steps_per_execution", "mixture"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise KganError(f"{name} must be a positive integer, got {value!r}")
        if self.steps_per_epoch is not None and self.steps_per_epoch <= 0:
            raise KganError(f"steps_per_epoch must be a positive integer, got {self.steps_per_epoch!r}")
        for name in ("lr", "d_lr"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise KganError(f"{name} must be a positive number, got {value!r}")
        if self.precision not in PRECISIONS:
            raise KganError(f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if self.strategy != "default" and self.xla:
            raise KganError("Keras runs without XLA under a distribution strategy: drop --xla")
        if self.backup_every is not None and self.backup_every <= 0:
            raise KganError(f"backup_every must be a positive integer, got {self.backup_every!r}")
        if not isinstance(self.pack, int) or self.pack < 1 or self.batch_size % self.pack:
            raise KganError(f"pack must be a positive divisor of the batch size {self.batch_size}, got {self.pack!r}")
        if self.pack > 1 and self.conditional:
            raise KganError("packing works with unconditional models only: drop --pack or use another preset")
        if self.augment and FAMILIES[self.model][0] != "image":
            raise KganError(f"DiffAugment (--augment) works on images: drop it for {FAMILIES[self.model][0]} data")
        if self.tokens not in ("chars", "words"):
            raise KganError(f"tokens must be 'chars' or 'words', got {self.tokens!r}")
        if not isinstance(self.pretrain_epochs, int) or self.pretrain_epochs < 0:
            raise KganError(f"pretrain_epochs must be an integer >= 0, got {self.pretrain_epochs!r}")
        if self.pretrain_epochs and FAMILIES[self.model][0] != "tokens":
            raise KganError("maximum-likelihood pretraining (--pretrain) trains sequence models: drop it, or train "
                            "text with a text preset (--preset names)")
        if not (np.isfinite(self.pretrain_lr) and self.pretrain_lr > 0):
            raise KganError(f"pretrain_lr must be a positive number, got {self.pretrain_lr!r}")
        if self.length is not None and (not isinstance(self.length, int) or self.length <= 0):
            raise KganError(f"length must be a positive number of tokens, got {self.length!r}")
        if self.frames is not None and (not isinstance(self.frames, int) or self.frames <= 0):
            raise KganError(f"frames must be a positive integer, got {self.frames!r}")
        if not (isinstance(self.ema, (int, float)) and 0.0 <= self.ema < 1.0):
            raise KganError(f"ema must be a decay in [0, 1) (0 is off, 0.999 is usual), got {self.ema!r}")
        from kgan.gan import UPDATES

        if self.update not in UPDATES:
            raise KganError(f"unknown update {self.update!r}: choose one of {', '.join(UPDATES)}")
        if not (isinstance(self.diversity, (int, float)) and np.isfinite(self.diversity) and self.diversity >= 0):
            raise KganError(f"diversity must be a number >= 0, got {self.diversity!r}")
        if (self.diversity or self.shared_members) and self.mixture < 2:
            raise KganError("--diversity and --shared-members train a mixture: add --mixture K (K >= 2)")
        if self.diversity and self.pack > 1:
            raise KganError("--diversity classifies single samples: drop --pack")
        if self.mixture > self.batch_size:
            raise KganError(f"--mixture {self.mixture} leaves members without rows in a batch of {self.batch_size}: "
                            "use fewer members or a larger batch")
        if self.lr_schedule not in ("constant", "linear"):
            raise KganError(f"lr_schedule must be 'constant' or 'linear', got {self.lr_schedule!r}")
        if self.image_size is not None and self.image_size < 4:
            raise KganError(f"image_size must be at least 4, got {self.image_size!r}")


@dataclasses.dataclass
class TrainResult:
    """What `train` produced: the run directory, the trained GAN and its history."""

    run_dir: str
    gan: object
    history: dict
    info: object
    seconds: float
    files: dict


def _dcgan(config, info, num_classes):
    from kgan.models import DCGANDiscriminator, DCGANGenerator

    shape = info.shape
    generator = DCGANGenerator(shape, config.latent_dim, num_classes=num_classes, **config.generator)
    packed = shape[:-1] + (shape[-1] * config.pack,)
    return generator, DCGANDiscriminator(packed, num_classes=num_classes, **config.discriminator)


def _mlp(config, info, num_classes):
    from kgan.models import MLPDiscriminator, MLPGenerator

    shape = info.shape
    generator = MLPGenerator(shape[0], config.latent_dim, num_classes=num_classes, **config.generator)
    return generator, MLPDiscriminator(shape[0] * config.pack, num_classes=num_classes, **config.discriminator)


def _video(config, info, num_classes):
    from kgan.models import VideoDiscriminator, VideoGenerator

    shape = info.shape
    generator = VideoGenerator(shape, config.latent_dim, num_classes=num_classes, **config.generator)
    packed = shape[:-1] + (shape[-1] * config.pack,)
    return generator, VideoDiscriminator(packed, num_classes=num_classes, **config.discriminator)


def _sequence(config, info, num_classes):
    from kgan.models import SequenceDiscriminator, SequenceGenerator

    vocab_size, length = len(info.vocabulary), info.shape[0]
    return (SequenceGenerator(vocab_size, length, num_classes=num_classes, **config.generator),
            SequenceDiscriminator(vocab_size, length, num_classes=num_classes, **config.discriminator))


# The model families `kgan train` builds: the kind of data each takes, a preset that uses
# it, and `build(config, DatasetInfo, num_classes) -> (generator, discriminator)`.
FAMILIES = {"dcgan": ("image", "digits", _dcgan), "mlp": ("vector", "ring8", _mlp),
            "video": ("video", "moving-digits", _video), "sequence": ("tokens", "names", _sequence)}


def build_gan(config, info):
    """Builds and compiles the GAN a configuration describes for a data set."""
    import keras

    from kgan.gan import GAN

    num_classes = info.num_classes if config.conditional else None
    kind, _, build = FAMILIES[config.model]
    if info.kind != kind:
        family, (_, preset, _) = next((f, v) for f, v in FAMILIES.items() if v[0] == info.kind)
        held, wanted = (k if k.endswith("s") else f"{k}s" for k in (info.kind, kind))
        raise KganError(f"{info.name} holds {held}, not {wanted}: use a preset for {held} such as {preset} "
                        f"(model {family})")
    if config.diversity:  # MGAN: the discriminator also says which member made a sample
        config = config.replace(discriminator=dict(config.discriminator, member_head=config.mixture))
    generator, discriminator = build(config, info, num_classes)
    if config.mixture > 1:
        from kgan.mixture import GeneratorMixture

        members = iter([generator])
        generator = GeneratorMixture.build_members(
            lambda: next(members, None) or build(config, info, num_classes)[0], config.mixture,
            shared=config.shared_members)
    total_steps = config.epochs * (config.steps_per_epoch or info.num_examples // info.batch_size)
    gan = GAN(
        generator,
        discriminator,
        loss=config.loss,
        d_steps=config.d_steps,
        gradient_penalty=config.gradient_penalty,
        r1_penalty=config.r1_penalty,
        instance_noise=config.instance_noise,
        instance_noise_steps=max(total_steps, 1),
        label_smoothing=config.label_smoothing,
        num_classes=num_classes,
        seed=config.seed,
        pack=config.pack,
        augment=tuple(config.augment),
        ema=config.ema,
        update=config.update,
        diversity=config.diversity,
        sample_spec=info.sample_spec(),
    )

    def adam(lr, steps):
        if config.lr_schedule == "linear":
            lr = keras.optimizers.schedules.PolynomialDecay(lr, max(steps, 1), end_learning_rate=lr * 0.01)
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
    import keras

    from kgan.distribute import is_chief, make_strategy

    config.validate()
    chief = is_chief()
    run_dir = config.run_dir if chief else tempfile.mkdtemp(prefix="kgan-worker-")
    images.check_writable_target(run_dir, "--out")
    backup_dir = os.path.join(run_dir, "backup")
    if resume and not os.path.isfile(os.path.join(backup_dir, "training_metadata.json")):
        raise KganError(f"nothing to resume: {backup_dir} holds no backup; train without --resume")
    if config.export and chief:
        from kgan.export import _require_export_extras

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
    import keras

    from kgan.callbacks import EpochBackup, HistoryWriter, NonFiniteLoss, SampleGrid, StopOnNonFinite
    from kgan.data import MIXTURES, load_dataset, sample_mixture

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
    )
    with strategy.scope():
        gan = build_gan(config, info)
    if config.pretrain_epochs and not resume:
        _pretrain(gan, config, log)
    if config.steps_per_epoch:
        dataset = dataset.repeat()

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

    reference = None
    if info.name in MIXTURES:
        reference = sample_mixture(info.name, 2000, seed=config.seed + 1)[0]
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
            callbacks=[guard, *step_backup, backup, sampler, history, *callbacks],
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
    if config.export and chief:
        from kgan.export import export_model

        exported = export_model(run_dir, out_dir=config.onnx_dir, log=log)
        files["saved_model"] = exported.saved_model_dir
        files["onnx"] = exported.generator_path
    return TrainResult(run_dir=run_dir, gan=gan, history=history.history, info=info, seconds=seconds, files=files)


def _pretrain(gan, config, log):
    """Maximum-likelihood pretraining of the generator on the training data (the EMA copy follows)."""
    from kgan.data import load_arrays
    from kgan.mle import pretrain

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


def _history_before(path, epoch):
    """The history of epochs 1..epoch (what the backup holds), dropping later ones."""
    try:
        with open(path) as handle:
            history = json.load(handle)
    except (OSError, ValueError):
        return None
    keep = sum(1 for e in history.get("epoch", []) if e <= epoch)
    return {k: v[:keep] for k, v in history.items()}
