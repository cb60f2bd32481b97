"""`TrainConfig`: everything a training run depends on, in groups, checked before anything loads.

No TensorFlow here: `kgan presets` lists and describes configurations without loading it.
"""

import dataclasses
import json
import os

import numpy as np

from kgan.errors import KganError

__all__ = ["TrainConfig", "GROUPS", "PRECISIONS", "RAMPS"]

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
RAMPS = ("lr", "beta_2", "r1_penalty", "r2_penalty", "augment_probability", "ema_half_life")

GROUPS = {
    "run": ("preset", "based_on", "description", "seed", "epochs", "steps_per_epoch", "num_samples", "backup_every",
            "out", "export", "export_dir"),
    "data": ("dataset", "image_size", "frames", "tokens", "length", "conditional", "num_examples", "batch_size", "task",
             "patch_size"),
    "model": ("model", "generator", "discriminator", "latent_dim", "mixture", "shared_members"),
    "objective": ("loss", "d_steps", "update", "diversity", "pretrain_epochs", "pretrain_lr", "l1_weight", "adversarial",
                  "feature_matching", "mle_weight"),
    "optimizer": ("lr", "d_lr", "lr_schedule", "beta_1", "beta_2"),
    "stabilizers": ("gradient_penalty", "r1_penalty", "r2_penalty", "instance_noise", "label_smoothing", "pack",
                    "augment", "augment_probability", "ema"),
    "ramps": ("ramps", "ramp_steps"),
    "execution": ("xla", "steps_per_execution", "strategy", "devices", "precision"),
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; `config.json` is its `to_dict()`.

    The fields come in groups (`GROUPS`, `group(name)`): run, data, model, objective,
    optimizer, stabilizers, execution. `validate` checks what only the configuration knows
    (the batch a pack divides, the flags a mixture needs); the GAN checks its own arguments
    and `kgan.training.build_gan` what the model family takes, each rule in one place.

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
        task: train a generator that takes an image (`kgan.PairedGAN`, the `pix2pix` family) on
            pairs the task makes from the data set's clean images: `superres:4`, `denoise:0.1`,
            `inpaint:lower`, ... (`kgan.runtime.restore.Task`), or `paired` for folders `A/`, `B/`.
            None: a generator of latents.
        patch_size: the side of the training crops of a task (None: 64, or the image's side if smaller).
        model: the model family (`kgan.models.FAMILIES`): `"dcgan"` for images, `"mlp"` for
            vectors, `"video"` for clips, `"sequence"` for text (token ids), or a registered one.
        pretrain_epochs: epochs of pretraining of the generator before the adversarial phase: a
            sequence model by maximum likelihood (`kgan.mle.pretrain`, teacher forcing), a task's
            restorer on its L1 term alone (`PairedGAN.pretrain`, `steps_per_epoch` steps an epoch).
        pretrain_lr: its Adam learning rate (RelGAN: 1e-2, gradients clipped to norm 5); for a task
            it decays as `lr_schedule` says.
        generator / discriminator: extra keyword arguments of the models.
        loss: a name in `kgan.losses.LOSSES`.
        l1_weight: a task's L1 term's weight (pix2pix: 100).
        adversarial: False trains a task's generator on the L1 term alone (the restoration baseline).
        feature_matching: a task's feature-matching term's weight (pix2pixHD: 10; 0: none).
        mle_weight: a sequence model's maximum-likelihood term in the game (`kgan.SequenceGAN`; 0: none).
        d_steps, gradient_penalty, r1_penalty, r2_penalty, instance_noise, label_smoothing: `kgan.GAN`'s
            arguments of the same names, as are pack, augment, augment_probability and ema.
        ramps: values that move along half a cosine over the run, R3GAN's recipe
            (`kgan.schedules.CosineRamp`): `{name: [start, end]}` for `lr` (both networks),
            `beta_2`, `r1_penalty`, `r2_penalty`, `augment_probability`, and `ema_half_life`
            (images; it replaces `ema` with `kgan.schedules.HalfLifeDecay`). A ramped value's
            own field is not used.
        ramp_steps: the ramps' length in generator steps; None is the whole run.
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

    # -- run: the run: its name, length, outputs
    preset: str = "digits"
    based_on: str | None = None
    description: str = ""
    seed: int = 0
    epochs: int = 10
    steps_per_epoch: int | None = None
    num_samples: int = 64
    backup_every: int | None = None
    out: str | None = None
    export: bool = True
    export_dir: str | None = None

    # -- data: the data
    dataset: str = "digits"
    image_size: int | None = None
    frames: int | None = None
    tokens: str = "chars"
    length: int | None = None
    conditional: bool = False
    num_examples: int | None = None
    batch_size: int = 64
    task: str | None = None
    patch_size: int | None = None

    # -- model: the networks
    model: str = "dcgan"
    generator: dict = dataclasses.field(default_factory=dict)
    discriminator: dict = dataclasses.field(default_factory=dict)
    latent_dim: int = 64
    mixture: int = 1
    shared_members: bool = False

    # -- objective: the game and its losses
    loss: str = "non_saturating"
    d_steps: int = 1
    update: str = "alternating"
    diversity: float = 0.0
    pretrain_epochs: int = 0
    pretrain_lr: float = 1e-2
    l1_weight: float = 100.0
    feature_matching: float = 0.0
    adversarial: bool = True
    mle_weight: float = 0.0

    # -- optimizer: the optimizers
    lr: float = 2e-4
    d_lr: float | None = None
    lr_schedule: str = "constant"
    beta_1: float = 0.5
    beta_2: float = 0.999

    # -- stabilizers: stabilizers of the discriminator and the generator
    gradient_penalty: float = 0.0
    r1_penalty: float = 0.0
    r2_penalty: float = 0.0
    instance_noise: float = 0.0
    label_smoothing: float = 0.0
    pack: int = 1
    augment: tuple = ()
    ema: float = 0.0
    augment_probability: float = 1.0

    # -- ramps: values that change over the run
    ramps: dict = dataclasses.field(default_factory=dict)
    ramp_steps: int | None = None

    # -- execution: how the steps execute
    xla: bool | None = None
    steps_per_execution: int = 1
    strategy: str = "default"
    devices: int | None = None
    precision: str = "float32"

    def replace(self, **changes):
        """A copy with `changes` applied.

        Args:
            **changes: fields and their new values; None sets a field to None.

        Returns:
            The new `TrainConfig` (this one is frozen).
        """
        return dataclasses.replace(self, **changes)

    def with_flags(self, **flags):
        """A copy with the flags that were given applied: None means "not given" (how CLI flags override).

        Another data set makes the configuration `custom` (based on this preset), so the
        run, its manifest and its default folders are named after the data, not the preset.
        Another model family starts from that family's own default network options.

        Args:
            **flags: fields and their values, None for a flag not given.

        Returns:
            The new `TrainConfig`.
        """
        changes = {k: v for k, v in flags.items() if v is not None}
        if changes.get("model", self.model) != self.model:
            changes = {"generator": {}, "discriminator": {}, **changes}
        if changes.get("dataset", self.dataset) != self.dataset and self.preset != "custom":
            changes = dict(changes, preset="custom", based_on=self.preset)
        return self.replace(**changes)

    def to_dict(self):
        """Every field and its value, as the run's `config.json` stores them."""
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

    def group(self, name):
        """The fields of one group and their values, e.g. `config.group("optimizer")`.

        Args:
            name: a key of `GROUPS`.

        Returns:
            `{field: value}`.
        """
        return {field: getattr(self, field) for field in GROUPS[name]}

    def validate(self):
        """Raises `KganError` for a configuration that cannot train, before anything is loaded."""
        for name in ("latent_dim", "batch_size", "epochs", "num_samples", "steps_per_execution", "mixture"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise KganError(f"{name} must be a positive integer, got {value!r}")
        for name, pair in self.ramps.items():
            if name not in RAMPS:
                raise KganError(f"unknown ramp {name!r}: choose from {', '.join(RAMPS)}")
            if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                    or not all(isinstance(v, (int, float)) and np.isfinite(v) and v >= 0 for v in pair)):
                raise KganError(f"ramp {name} must be [start, end], two numbers >= 0, got {pair!r}")
        if "lr" in self.ramps and self.lr_schedule != "constant":
            raise KganError("the lr ramp replaces lr_schedule: drop one of them")
        if not 0.0 <= self.augment_probability <= 1.0:
            raise KganError(f"augment_probability must be in [0, 1], got {self.augment_probability!r}")
        for name in ("steps_per_epoch", "backup_every", "frames", "ramp_steps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise KganError(f"{name} must be a positive integer, got {value!r}")
        if self.length is not None and (not isinstance(self.length, int) or self.length <= 0):
            raise KganError(f"length must be a positive number of tokens, got {self.length!r}")
        for name in ("lr", "d_lr", "pretrain_lr"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise KganError(f"{name} must be a positive number, got {value!r}")
        if self.tokens not in ("chars", "words"):
            raise KganError(f"tokens must be 'chars' or 'words', got {self.tokens!r}")
        if self.image_size is not None and self.image_size < 4:
            raise KganError(f"image_size must be at least 4, got {self.image_size!r}")
        if not isinstance(self.pretrain_epochs, int) or self.pretrain_epochs < 0:
            raise KganError(f"pretrain_epochs must be an integer >= 0, got {self.pretrain_epochs!r}")
        if self.lr_schedule not in ("constant", "linear"):
            raise KganError(f"lr_schedule must be 'constant' or 'linear', got {self.lr_schedule!r}")
        if not isinstance(self.pack, int) or self.pack < 1 or self.batch_size % self.pack:
            raise KganError(f"pack must be a positive divisor of the batch size {self.batch_size}, got {self.pack!r}")
        if (self.diversity or self.shared_members) and self.mixture < 2:
            raise KganError("--diversity and --shared-members train a mixture: add --mixture K (K >= 2)")
        if self.mixture > self.batch_size:
            raise KganError(f"--mixture {self.mixture} leaves members without rows in a batch of {self.batch_size}: "
                            "use fewer members or a larger batch")
        if self.precision not in PRECISIONS:
            raise KganError(f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if self.task is not None:  # the data layer reads the task itself (kgan.runtime.restore.Task)
            if self.steps_per_epoch is None:
                raise KganError("a task's training pairs never run out: give steps_per_epoch (--steps-per-epoch)")
            if self.conditional or self.mixture > 1 or self.pack > 1 or self.augment:
                raise KganError("a task's generator restores images one by one: drop --conditional, --mixture, "
                                "--pack and --augment")
        if self.patch_size is not None and (not isinstance(self.patch_size, int) or self.patch_size < 4):
            raise KganError(f"patch_size must be an integer >= 4, got {self.patch_size!r}")
        if not np.isfinite(self.l1_weight) or self.l1_weight < 0:
            raise KganError(f"l1_weight must be a number >= 0, got {self.l1_weight!r}")
        if not np.isfinite(self.feature_matching) or self.feature_matching < 0:
            raise KganError(f"feature_matching must be a number >= 0, got {self.feature_matching!r}")
        if not np.isfinite(self.mle_weight) or self.mle_weight < 0:
            raise KganError(f"mle_weight must be a number >= 0, got {self.mle_weight!r}")
        if self.strategy != "default" and self.xla:
            raise KganError("Keras runs without XLA under a distribution strategy: drop --xla")
