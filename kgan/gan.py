"""`GAN`, a keras.Model that trains a generator against a discriminator with `fit`."""

import contextlib

import numpy as np
import keras
import tensorflow as tf

from kgan import losses as losses_lib, regularizers
from kgan.augment import POLICIES, diff_augment, draws_needed
from kgan.errors import KganError
from kgan.runtime.calibration import calibrated, calibrated_energy, fit_calibration
from kgan.runtime.labels import resolve_labels
from kgan.runtime.latent import LatentPrior, latents
from kgan.runtime.samplers import Proposals, get_sampler
from kgan.runtime.samples import SampleSpec, get_kind

__all__ = ["GAN", "UPDATES"]

UPDATES = ("alternating", "reuse_fakes", "simultaneous")
# A packed discriminator judges one sample beside m − 1 fixed generated ones, in this many packs.
PACK_REFERENCES = 8
PACK_REFERENCE_SEED = 20190217


def _input_count(model):
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    return len(inputs) if inputs else None


def _latent_dim_of(generator):
    if getattr(generator, "latent_dim", None):
        return int(generator.latent_dim)
    try:
        shape = generator.input_shape
    except (AttributeError, ValueError):
        return None
    if isinstance(shape, list):
        shape = shape[0]
    if shape and shape[-1] is not None:
        return int(shape[-1])
    return None


def _clone(model):
    """A new model of the same architecture (kgan's models, or any serializable one)."""
    return keras.layers.deserialize(keras.layers.serialize(model))


@keras.saving.register_keras_serializable(package="kgan")
class GAN(keras.Model):
    """A generator and a discriminator trained adversarially with `fit`.

    Each `train_step` updates the discriminator `d_steps` times on the same real
    batch, then the generator once. Losses are scaled for `tf.distribute`
    strategies, so metrics and gradients refer to the global batch. Calling the
    GAN on latents (`gan(z)`, or `gan([z, labels])` when conditional) runs the
    generator.

    Each side's loss is a sum of named terms computed by an overridable method,
    `discriminator_terms` and `generator_terms`, declared by `loss_terms`; the logged
    metrics are `d_loss`, `g_loss`, `real_score`, `fake_score` and, on a side with more
    than one term, each term as `d_<name>` / `g_<name>`. A subclass adds a term (a
    classifier head, a schedule) by overriding these, not `train_step`.

    Args:
        generator: a Keras model mapping `z` (or `[z, label]`) to samples. kgan's
            models, or the user's own Sequential, functional or subclassed model.
        discriminator: a Keras model mapping samples (or `[samples, label]`) to one
            logit per sample.
        loss: one of `kgan.losses.LOSSES`: `"non_saturating"` (default),
            `"minimax"`, `"least_squares"`, `"wasserstein"`, `"hinge"`, `"kl"`,
            `"reverse_kl"`, `"relativistic_standard"`; or a pair of functions
            `(generator_loss(fake_logits), discriminator_loss(real_logits, fake_logits))`
            (a generator loss marked `needs_real_logits` gets `(fake_logits, real_logits)`;
            register them with `keras.saving.register_keras_serializable` to save the GAN).
        d_steps: discriminator updates per generator update.
        gradient_penalty: weight of the WGAN-GP penalty (Gulrajani et al. 2017);
            10 is the paper's value for `loss="wasserstein"`.
        r1_penalty: gamma of the R1 penalty gamma/2 E||grad D(x)||^2 (Mescheder et
            al. 2018).
        instance_noise: initial std of Gaussian noise added to the
            discriminator's real and fake inputs, annealed linearly to zero over
            `instance_noise_steps` generator steps.
        instance_noise_steps: length of the annealing.
        label_smoothing: one-sided smoothing of the real target (cross-entropy and
            least-squares losses).
        latent_dim: size of `z`; read from the generator when it can be.
        num_classes: classes of a conditional GAN; read from the generator when it
            has a `num_classes` attribute. None for an unconditional GAN.
        seed: seed of the GAN's random stream (latents, penalties, noise).
        augment: DiffAugment policy (Zhao et al., NeurIPS 2020), a subset of
            `("color", "translation", "cutout")` applied to every image the
            discriminator sees, real and generated alike. Empty: none.
        pack: PacGAN packing (Lin et al., NeurIPS 2018): the discriminator judges `pack`
            samples at once, concatenated along the last axis (channels for images,
            features for vectors), so its input has `pack` times the channels. 1 is
            no packing; the batch size must be a multiple of it.
        ema: decay of an exponential moving average of the generator's weights
            (Karras et al. 2018; Yazıcı et al., ICLR 2019), kept in `ema_generator`
            and used by `generate` and export. The decay warms up as
            `min(ema, (1 + t) / (10 + t))` over generator step t, as
            `tf.train.ExponentialMovingAverage` does with `num_updates`. Non-trainable
            weights (batch statistics) are copied. 0 is off.
        sample_spec: what the generator makes, a `kgan.SampleSpec` (or its dict); by
            default the generator's own `sample_spec`, else read from its output shape
            (`[H, W, C]` images in [-1, 1], `[D]` vectors).
        joint_discriminator: pass the real and the fake batch through the
            discriminator in one call of twice the batch. `"auto"` (default) does it
            when the discriminator has no batch-coupled layer (BatchNormalization,
            minibatch standard deviation, any layer with `batch_coupled = True`), where
            the logits are the same as from two calls; True forces it, False never.
        update: how a step updates the two sides. `"alternating"` (default): the
            discriminator's step on fakes from one draw of `z`, then the generator's
            on fresh fakes through the updated discriminator. Two options trade that
            for speed: `"reuse_fakes"` makes one batch of fakes a step and uses it
            for both (one generator forward pass fewer; the generator's step sees the
            `z` the discriminator was just trained on); `"simultaneous"` also takes
            both gradients from one discriminator pass, before either update
            (simultaneous gradient descent: one discriminator pass fewer again). With
            `d_steps > 1` the last discriminator step is the shared one.
        diversity: MGAN's beta (Hoang et al., ICLR 2018) for a `GeneratorMixture`
            generator: the discriminator's member head learns which member made each
            fake (its cross-entropy joins `d_loss` as `member_classifier`) and every
            member adds beta times that cross-entropy to its loss (`diversity`), which
            pushes the members toward different parts of the data. 0 is off.

    Example:
        >>> gan = GAN(DCGANGenerator((8, 8, 1), 32), DCGANDiscriminator((8, 8, 1)))
        >>> gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
        >>> gan.fit(dataset, epochs=10)
        >>> images = gan.generate(16, seed=0)
    """

    def __init__(
        self,
        generator,
        discriminator,
        loss="non_saturating",
        d_steps=1,
        gradient_penalty=0.0,
        r1_penalty=0.0,
        instance_noise=0.0,
        instance_noise_steps=10_000,
        label_smoothing=0.0,
        latent_dim=None,
        num_classes=None,
        seed=None,
        pack=1,
        augment=(),
        ema=0.0,
        sample_spec=None,
        joint_discriminator="auto",
        update="alternating",
        diversity=0.0,
        calibration=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._loss_pair = _loss_pair(loss)
        if int(d_steps) < 1:
            raise KganError(f"d_steps must be at least 1, got {d_steps!r}")
        for name, value in (
            ("gradient_penalty", gradient_penalty),
            ("r1_penalty", r1_penalty),
            ("instance_noise", instance_noise),
        ):
            if not np.isfinite(value) or value < 0:
                raise KganError(f"{name} must be a finite number >= 0, got {value!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise KganError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        if label_smoothing and isinstance(loss, str) and loss not in losses_lib.SMOOTHABLE_LOSSES:
            raise KganError(
                f"label_smoothing applies to {', '.join(losses_lib.SMOOTHABLE_LOSSES)}, not to loss {loss!r}: "
                "drop it or change the loss"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.loss_name = loss if isinstance(loss, str) else tuple(loss)
        self.d_steps = int(d_steps)
        self.gradient_penalty = float(gradient_penalty)
        self.r1_penalty = float(r1_penalty)
        self.instance_noise = float(instance_noise)
        self.instance_noise_steps = int(instance_noise_steps)
        self.label_smoothing = float(label_smoothing)
        self.seed = seed
        if int(pack) < 1:
            raise KganError(f"pack must be at least 1, got {pack!r}")
        self.pack = int(pack)
        self._pack_references = None

        augment = tuple([augment] if isinstance(augment, str) else augment or ())
        unknown = [a for a in augment if a not in POLICIES]
        if unknown:
            raise KganError(f"unknown augmentation {unknown[0]!r}: choose from {', '.join(POLICIES)}")
        self.augment = augment
        if not 0.0 <= float(ema) < 1.0:
            raise KganError(f"ema must be a decay in [0, 1) (0 is off, 0.999 is usual), got {ema!r}")
        self.ema = float(ema)

        latent_dim = latent_dim or _latent_dim_of(generator)
        if latent_dim is None and not callable(getattr(generator, "latent_prior", None)):
            raise KganError("cannot read latent_dim from the generator: pass GAN(..., latent_dim=N)")
        if latent_dim is not None and int(latent_dim) <= 0:
            raise KganError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        self.latent_dim = None if latent_dim is None else int(latent_dim)  # None: the generator has no `z`
        if num_classes is None:
            num_classes = getattr(generator, "num_classes", None)
        if num_classes is None and _input_count(generator) == 2:
            raise KganError("the generator takes two inputs: pass GAN(..., num_classes=N) for a conditional GAN")
        self.num_classes = int(num_classes) if num_classes else None
        if self.pack > 1 and self.num_classes:
            raise KganError("packing (pack > 1) works with unconditional GANs only: drop pack or the labels")
        if self.pack > 1 and hasattr(generator, "discriminator_view"):
            raise KganError("packing (pack > 1) joins samples along their last axis, which tokens do not have: drop pack")
        self.seed_generator = keras.random.SeedGenerator(seed, name="gan_seed")

        self._build_models()
        if isinstance(sample_spec, dict):
            sample_spec = SampleSpec.from_dict(sample_spec)
        self._sample_spec = sample_spec
        if joint_discriminator not in ("auto", True, False):
            raise KganError(f"joint_discriminator must be 'auto', True or False, got {joint_discriminator!r}")
        self.joint_discriminator = joint_discriminator
        if update not in UPDATES:
            raise KganError(f"update must be one of {', '.join(UPDATES)}, got {update!r}")
        self.update = update
        self.diversity = float(diversity)
        if not np.isfinite(self.diversity) or self.diversity < 0:
            raise KganError(f"diversity must be a finite number >= 0, got {diversity!r}")
        if self.diversity:
            _check_member_head(generator, discriminator)
            if self.pack > 1:
                raise KganError("diversity classifies single samples: drop pack")
        self.calibration = dict(calibration) if calibration else None
        self.sample_spec  # a generator whose samples cannot be named fails here, not at export

    # -- construction -------------------------------------------------------

    @property
    def conditional(self):
        return self.num_classes is not None

    def _build_models(self):
        """Builds user models that have no Input yet, so `fit` needs no symbolic build."""
        if not self.generator.built:
            if self.conditional:
                raise KganError("build the conditional generator (give it keras.Input layers) before GAN(...)")
            self.generator.build((None, self.latent_dim))
        if not self.discriminator.built:
            if self.conditional:
                raise KganError("build the conditional discriminator (give it keras.Input layers) before GAN(...)")
            shape = tuple(self.generator.compute_output_shape((None, self.latent_dim)))
            self.discriminator.build(shape[:-1] + (shape[-1] * self.pack,))
        if not self.ema:
            self.ema_generator = None
        elif getattr(self, "ema_generator", None) is None:  # built once: a rebuild keeps the average
            self.ema_generator = _clone(self.generator)
            self.ema_generator.set_weights(self.generator.get_weights())
            self.ema_generator.trainable = False
        self.built = True

    @property
    def sampling_generator(self):
        """The generator that samples: `ema_generator` when `ema` is on, else `generator`."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def build(self, input_shape=None):
        self._build_models()

    @property
    def latent_prior(self):
        """The generator's named inputs (`z`, `label` when conditional, and what the generator
        adds with a `latent_inputs()` method, e.g. a mixture's `member`) and how to draw them;
        a generator with a `latent_prior()` method declares all of its own (a sequence
        generator's uniforms `u`)."""
        own = getattr(self.generator, "latent_prior", None)
        if callable(own):
            return own()
        prior = LatentPrior.for_generator(self.latent_dim, self.num_classes)
        extra = getattr(self.generator, "latent_inputs", None)
        return LatentPrior(prior.inputs + list(extra())) if extra else prior

    @property
    def sample_shape(self):
        """Shape of one generated sample, e.g. `(8, 8, 1)` or `(2,)`."""
        shapes = {name: shape for name, (shape, _) in self.latent_prior.signature().items()}
        shape = self.generator.compute_output_shape(self._positional(shapes, self.latent_prior.names))
        return tuple(int(s) for s in shape[1:])

    @property
    def sample_spec(self):
        """What the generator makes: a `kgan.SampleSpec`."""
        if self._sample_spec is not None:
            return self._sample_spec
        declared = getattr(self.generator, "sample_spec", None)
        if isinstance(declared, SampleSpec):
            return declared
        return SampleSpec.infer(self.sample_shape)

    @property
    def generator_inputs(self):
        """Names of the generator's inputs, in order."""
        return self.latent_prior.names

    @property
    def discriminator_inputs(self):
        """Names of the discriminator's inputs, in order: the samples, then the conditioning."""
        return (self.sample_spec.tensor_name, *self.latent_prior.conditioning)

    @staticmethod
    def _positional(feeds, names):
        """Named inputs as a Keras model takes them: one tensor, or a list in `names` order."""
        inputs = [feeds[name] for name in names]
        return inputs[0] if len(inputs) == 1 else inputs

    def run_generator(self, feeds, training=False, model=None):
        """The (sampling) generator on named inputs, e.g. `{"z": z, "label": labels}`."""
        model = model or self.sampling_generator
        return model(self._positional(feeds, self.generator_inputs), training=training)

    def run_discriminator(self, feeds, training=False):
        """The discriminator's logits on named inputs, e.g. `{"image": x, "label": labels}`."""
        return self._discriminator_outputs(feeds, training)[0]

    def _discriminator_outputs(self, feeds, training):
        """Every output of the discriminator: `[logits]`, or `[logits, member_logits]` with a member head."""
        out = self.discriminator(self._positional(feeds, self.discriminator_inputs), training=training)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def compile(self, g_optimizer="adam", d_optimizer="adam", jit_compile="auto", **kwargs):
        """Configures the two optimizers.

        Args:
            g_optimizer: generator optimizer (instance, name or config).
            d_optimizer: discriminator optimizer.
            jit_compile: `True` for XLA, `False` without, `"auto"` for XLA where
                Keras supports it (with a GPU).
            **kwargs: passed to `keras.Model.compile` (`run_eagerly`,
                `steps_per_execution`).
        """
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self._make_trackers()
        self.g_optimizer = keras.optimizers.get(g_optimizer)
        self.d_optimizer = keras.optimizers.get(d_optimizer)
        self._gan_compile_config = {
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "jit_compile": jit_compile,
            **kwargs,
        }

    def get_compile_config(self):
        return dict(getattr(self, "_gan_compile_config", {}))

    def compile_from_config(self, config):
        config = dict(config)
        g_optimizer = keras.optimizers.deserialize(config.pop("g_optimizer"))
        d_optimizer = keras.optimizers.deserialize(config.pop("d_optimizer"))
        self.compile(g_optimizer, d_optimizer, **config)
        # Variables must exist before load_model restores the saved optimizer state.
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def loss_terms(self):
        """Names of the loss terms each side sums: `{"discriminator": (...), "generator": (...)}`.

        Extend it with `discriminator_terms` / `generator_terms` in a subclass.
        """
        d_terms = ["adversarial"]
        if self.gradient_penalty:
            d_terms.append("gradient_penalty")
        if self.r1_penalty:
            d_terms.append("r1_penalty")
        g_terms = ["adversarial"]
        if self.diversity:
            d_terms.append("member_classifier")
            g_terms.append("diversity")
        return {"discriminator": tuple(d_terms), "generator": tuple(g_terms)}

    def _metric_names(self):
        names = ["d_loss", "g_loss"]
        for side, terms in self.loss_terms().items():
            if len(terms) > 1:
                names += [f"{side[0]}_{term}" for term in terms]
        return names + ["real_score", "fake_score"]

    def _make_trackers(self):
        # Not saved with the model (Keras saves no metric state), and made at compile time so
        # that a subclass's extra terms, set up after __init__, get theirs.
        trackers = {name: keras.metrics.Mean(name=name) for name in self._metric_names()}
        object.__setattr__(self, "_trackers", trackers)

    @property
    def metrics(self):
        return list(getattr(self, "_trackers", {}).values())

    # -- the game -----------------------------------------------------------

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def _unpack(self, data):
        if isinstance(data, dict):
            raise KganError("the GAN takes a dataset of images or of (images, labels), not of dicts")
        if isinstance(data, (tuple, list)):
            real = data[0]
            labels = data[1] if len(data) > 1 else None
        else:
            real, labels = data, None
        if labels is not None and not self.conditional:
            raise KganError(
                "the data has labels but the GAN is unconditional: drop the labels or build a conditional model "
                "(num_classes=N)"
            )
        if labels is None and self.conditional:
            raise KganError("a conditional GAN needs a dataset of (images, labels)")
        real = self._viewed(tf.cast(real, tf.float32))  # layers cast to their own compute dtype
        if labels is not None:
            labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        return real, labels

    def _replica_draw(self, draw, shape):
        """`draw(shape, seed=...)` for this replica's share of the global batch.

        Every replica draws the global batch from the same seed and keeps its own
        slice, so N replicas see exactly the noise one replica would on the global
        batch, and never the same latents twice.
        """
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context else 1
        if replicas == 1:
            return draw(shape, seed=self.seed_generator)
        batch = shape[0]
        full = draw((batch * replicas,) + tuple(shape[1:]), seed=self.seed_generator)
        start = tf.cast(context.replica_id_in_sync_group, tf.int32) * batch
        return full[start : start + batch]

    def _replica_normal(self, shape):
        return self._replica_draw(keras.random.normal, shape)

    def _replica_uniform(self, batch):
        return self._replica_draw(keras.random.uniform, (batch,))

    def _conditioning(self, labels):
        return {"label": labels} if self.conditional else {}

    def _viewed(self, samples):
        """Samples as the discriminator takes them: the generator's `discriminator_view` where it
        has one (token ids as one-hots), else as they are."""
        view = getattr(self.generator, "discriminator_view", None)
        return view(samples) if view is not None else samples

    def _generate(self, batch, labels, training):
        """A training batch of fakes: the generator's own `training_sample` where it has one (a
        sequence generator's relaxed tokens), else the generator on fresh latents."""
        own = getattr(self.generator, "training_sample", None)
        if own is not None:
            return own(batch, labels, lambda shape: self._replica_draw(keras.random.uniform, shape),
                       self.g_optimizer.iterations)
        feeds = {"z": self._replica_normal((batch, self.latent_dim)), **self._conditioning(labels)}
        extra = getattr(self.generator, "training_inputs", None)  # e.g. a mixture's members of the batch
        if extra:
            feeds.update(extra(batch))
        return self.run_generator(feeds, training=training, model=self.generator)

    def _discriminate(self, samples, labels, training, heads=False):
        """The logits on a batch; with `heads`, every output (`[logits, member_logits]`)."""
        feeds = {self.sample_spec.tensor_name: self._prepared(samples, training), **self._conditioning(labels)}
        outputs = self._discriminator_outputs(feeds, training)
        return outputs if heads else outputs[0]

    def _discriminate_pair(self, real, fake, labels, training, heads=False):
        """The discriminator's logits on a real and a fake batch: in one call of twice the batch
        where it has no batch-coupled layer (the same logits, half the calls), else in two.
        With `heads`, every output of each."""
        if not self.joins_batches:
            return (self._discriminate(real, labels, training, heads), self._discriminate(fake, labels, training, heads))
        real, fake = self._prepared(real, training), self._prepared(fake, training)
        conditioning = {k: tf.concat([v, v], 0) for k, v in self._conditioning(labels).items()}
        outputs = self._discriminator_outputs(
            {self.sample_spec.tensor_name: tf.concat([real, fake], 0), **conditioning}, training)
        halves = [tf.split(out, 2, axis=0) for out in outputs]
        if heads:
            return [h[0] for h in halves], [h[1] for h in halves]
        return halves[0]

    @property
    def joins_batches(self):
        """Whether real and fake batches go through the discriminator in one call."""
        if self.joint_discriminator != "auto":
            return bool(self.joint_discriminator)
        return not _batch_coupled(self.discriminator)

    def _prepared(self, samples, training):
        """What the discriminator is shown: augmented (DiffAugment) and packed (PacGAN)."""
        if self.augment and training:
            if self.sample_spec.kind != "image":
                raise KganError(f"DiffAugment works on images, not {self.sample_spec.kind} samples; drop augment")
            batch = tf.shape(samples)[0]
            uniforms = tf.stack([self._replica_uniform(batch) for _ in range(draws_needed(self.augment))])
            samples = diff_augment(samples, self.augment, uniforms)
        if self.pack > 1:
            samples = self._packed(samples)
        return samples

    def _packed(self, samples):
        """[b, ..., c] -> [b / pack, ..., pack * c]: consecutive samples side by side."""
        shape = tuple(samples.shape[1:])
        grouped = tf.reshape(samples, (-1, self.pack) + shape)
        rank = len(shape)
        # Move the pack axis next to the last one, then merge the two.
        grouped = tf.transpose(grouped, [0, *range(2, rank + 1), 1, rank + 1])
        return tf.reshape(grouped, (-1,) + shape[:-1] + (self.pack * shape[-1],))

    def _noise_std(self):
        if not self.instance_noise:
            return None
        step = tf.cast(self.g_optimizer.iterations, tf.float32)
        return self.instance_noise * tf.maximum(0.0, 1.0 - step / max(self.instance_noise_steps, 1))

    def _with_noise(self, samples, std):
        if std is None:
            return samples
        noise = self._replica_normal((tf.shape(samples)[0],) + tuple(samples.shape[1:]))
        return regularizers.add_instance_noise(samples, std, noise)

    def discriminator_terms(self, real, labels, batch, training, fake=None):
        """The discriminator's named loss terms on a real batch, and its scores.

        Args:
            fake: the generated batch to judge; None draws a new one.

        Returns:
            `(terms, scores)`: `{name: scalar}` summed into `d_loss` (names as in
            `loss_terms()["discriminator"]`), and `{"real_score", "fake_score"}`, the
            mean logits, with `"fake_logits"`, the fake batch's own.
        """
        g_loss_fn, d_loss_fn = self._loss_pair
        if fake is None:
            fake = self._generate(batch, labels, training=training)
        std = self._noise_std()
        real_in = self._with_noise(real, std)
        fake_in = self._with_noise(tf.cast(fake, real.dtype), std)
        heads = bool(self.diversity)
        real_out, fake_out = self._discriminate_pair(real_in, fake_in, labels, training, heads=heads)
        real_logits, fake_logits = (real_out[0], fake_out[0]) if heads else (real_out, fake_out)
        kwargs = {"label_smoothing": self.label_smoothing} if self.label_smoothing else {}
        terms = {"adversarial": d_loss_fn(real_logits, fake_logits, **kwargs)}
        if self.gradient_penalty:
            alpha = self._replica_uniform(batch)
            penalty = regularizers.gradient_penalty(
                lambda x: self._discriminate(x, labels, training), real_in, fake_in, alpha
            )
            terms["gradient_penalty"] = self.gradient_penalty * penalty
        if self.r1_penalty:
            penalty = regularizers.r1_penalty(lambda x: self._discriminate(x, labels, training), real_in)
            terms["r1_penalty"] = 0.5 * self.r1_penalty * penalty
        if self.diversity:
            terms["member_classifier"] = self._member_loss(fake_out[1], batch)
        scores = {"real_score": tf.reduce_mean(real_logits), "fake_score": tf.reduce_mean(fake_logits)}
        return terms, dict(scores, fake_logits=fake_logits, real_logits=real_logits)

    def generator_terms(self, labels, batch, training, fake=None, fake_logits=None, real=None, real_logits=None):
        """The generator's named loss terms, `{name: scalar}`, summed into `g_loss`.

        Args:
            fake: the generated batch; None draws a new one.
            fake_logits: the discriminator's logits on `fake`, when they were computed
                already (a simultaneous update); None calls the discriminator.
            real, real_logits: the real batch, or its logits, for a relativistic loss
                (the train step passes them only then); unused by the others.
        """
        g_loss_fn, _ = self._loss_pair
        member_logits = None
        if fake_logits is None or self.diversity:
            if fake is None:
                fake = self._generate(batch, labels, training=training)
            outputs = self._discriminate(self._with_noise(fake, self._noise_std()), labels, training, heads=True)
            fake_logits = outputs[0] if fake_logits is None else fake_logits
            member_logits = outputs[-1]
        if losses_lib.needs_real_logits(g_loss_fn):
            if real_logits is None:
                if real is None:
                    raise KganError("a relativistic loss judges fakes against reals: pass real= to generator_terms")
                real_logits = self._discriminate(self._with_noise(real, self._noise_std()), labels, training)
            terms = {"adversarial": g_loss_fn(fake_logits, real_logits)}
        else:
            terms = {"adversarial": g_loss_fn(fake_logits)}
        if self.diversity:
            terms["diversity"] = self.diversity * self._member_loss(member_logits, batch)
        return terms

    def _member_loss(self, member_logits, batch):
        """Cross-entropy of the member head on a training batch of fakes (whose members are known)."""
        members = self.generator.training_inputs(batch)["member"]
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            members, tf.cast(member_logits, tf.float32), from_logits=True))

    def _check_terms(self, side, terms):
        declared = self.loss_terms()[side]
        if tuple(terms) != tuple(declared):
            raise KganError(f"{side}_terms returned {list(terms)} but loss_terms() declares {list(declared)}: "
                            "override both together")
        return tf.add_n([tf.cast(v, tf.float32) for v in terms.values()])

    @staticmethod
    def _replicas():
        return tf.distribute.get_strategy().num_replicas_in_sync

    def train_step(self, data):
        real, labels = self._unpack(data)
        batch = tf.shape(real)[0]
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        shared = self.update != "alternating"  # the last discriminator step shares the generator's fakes

        def d_side(fake=None):
            d_terms, scores = self.discriminator_terms(real, labels, batch, training=True, fake=fake)
            return d_terms, scores, self._check_terms("discriminator", d_terms)

        relativistic = self._relativistic

        def g_side(**given):
            if relativistic:  # only then: overrides of generator_terms need not take `real`
                given = dict(given, real=real)
            g_terms = self.generator_terms(labels, batch, training=True, **given)
            return g_terms, self._check_terms("generator", g_terms)

        for _ in range(self.d_steps - shared):
            with self._watching(d_vars) as d_tape:
                d_terms, scores, d_loss = d_side()
                d_scaled = self._scaled(self.d_optimizer, d_loss)
            self.d_optimizer.apply(d_tape.gradient(d_scaled, d_vars), d_vars)
        if self.update == "alternating":
            with self._watching(g_vars) as g_tape:
                g_terms, g_loss = g_side()
                g_scaled = self._scaled(self.g_optimizer, g_loss)
        elif self.update == "reuse_fakes":
            with self._watching(g_vars) as g_tape:
                fake = self._generate(batch, labels, training=True)
                with g_tape.stop_recording():
                    with self._watching(d_vars) as d_tape:
                        d_terms, scores, d_loss = d_side(fake)
                        d_scaled = self._scaled(self.d_optimizer, d_loss)
                    self.d_optimizer.apply(d_tape.gradient(d_scaled, d_vars), d_vars)
                g_terms, g_loss = g_side(fake=fake)
                g_scaled = self._scaled(self.g_optimizer, g_loss)
        else:  # simultaneous: one generator pass and one discriminator pass serve both gradients
            with self._watching(g_vars) as g_tape, self._watching(d_vars) as d_tape:
                fake = self._generate(batch, labels, training=True)
                d_terms, scores, d_loss = d_side(fake)
                d_scaled = self._scaled(self.d_optimizer, d_loss)
                shared_logits = {"real_logits": scores["real_logits"]} if relativistic else {}
                g_terms, g_loss = g_side(fake=fake, fake_logits=scores["fake_logits"], **shared_logits)
                g_scaled = self._scaled(self.g_optimizer, g_loss)
            d_grads = d_tape.gradient(d_scaled, d_vars)
        g_grads = g_tape.gradient(g_scaled, g_vars)
        if self.update == "simultaneous":
            self.d_optimizer.apply(d_grads, d_vars)
        self.g_optimizer.apply(g_grads, g_vars)
        if self.ema_generator is not None:
            self._update_ema()
        return self._update_metrics(d_loss, d_terms, g_loss, g_terms, scores)

    @property
    def _relativistic(self):
        """Whether the generator's loss also reads the real batch's logits."""
        return losses_lib.needs_real_logits(self._loss_pair[0])

    def _scaled(self, optimizer, loss):
        # Gradients are summed over replicas: scale each replica's mean loss so the
        # sum is the mean over the global batch.
        return optimizer.scale_loss(loss / self._replicas())

    @staticmethod
    @contextlib.contextmanager
    def _watching(variables):
        """A tape that records only what depends on `variables`: the generator's forward
        pass stays off the discriminator's tape, the discriminator's weights off the generator's."""
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([getattr(v, "value", v) for v in variables])
            yield tape

    def _update_ema(self):
        """ema_w <- ema_w + (1 - decay) (w - ema_w), on every replica's copy alike."""
        step = tf.cast(self.g_optimizer.iterations, tf.float32)
        decay = tf.minimum(self.ema, (1.0 + step) / (10.0 + step))
        trainable = {id(v) for v in self.generator.trainable_weights}
        pairs = [
            (average.value, weight.value, id(weight) in trainable)
            for average, weight in zip(self.ema_generator.weights, self.generator.weights)
        ]

        def update(distribution, pairs):
            for average, weight, is_trainable in pairs:
                if is_trainable:
                    fn = lambda a, w: a.assign_add(tf.cast(1.0 - decay, a.dtype) * (w - a))  # noqa: E731
                else:
                    fn = lambda a, w: a.assign(w)  # noqa: E731
                distribution.extended.update(average, fn, args=(weight,), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(update, tf.distribute.get_strategy(), pairs)

    def test_step(self, data):
        real, labels = self._unpack(data)
        batch = tf.shape(real)[0]
        d_terms, scores = self.discriminator_terms(real, labels, batch, training=False)
        given = {"real": real} if self._relativistic else {}
        g_terms = self.generator_terms(labels, batch, training=False, **given)
        d_loss, g_loss = self._check_terms("discriminator", d_terms), self._check_terms("generator", g_terms)
        return self._update_metrics(d_loss, d_terms, g_loss, g_terms, scores)

    def _update_metrics(self, d_loss, d_terms, g_loss, g_terms, scores):
        values = {"d_loss": d_loss, "g_loss": g_loss, **scores}
        values.update({f"d_{k}": v for k, v in d_terms.items()})
        values.update({f"g_{k}": v for k, v in g_terms.items()})
        for name, tracker in self._trackers.items():
            tracker.update_state(values[name])
        results = {m.name: m.result() for m in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces logged values across workers with reduce(MEAN, axis=0),
            # which rejects scalars: give each a length-1 axis to reduce over.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    # -- sampling -----------------------------------------------------------

    def latents(self, n, seed=None):
        """The latents `generate(n, seed)` uses: numpy's standard normal, float32."""
        return latents(n, self.latent_dim, seed)

    def generate(self, n, seed=None, labels=None, batch_size=256, sampler=None, **given):
        """Draws `n` samples from the generator (inference mode; its EMA when `ema` is on).

        Args:
            n: number of samples.
            seed: integer seed of the latents; the same seed gives the same samples
                (and the same as `kgan.runtime.inference` on the exported model).
            labels: class labels for a conditional GAN, an int or `n` ints;
                default cycles 0, 1, ..., num_classes - 1.
            batch_size: samples per generator call.
            sampler: choose among proposals with the discriminator: a `kgan.runtime.samplers`
                name such as `"topk"` or `"topk:k=8"`, or a `Sampler`; the same
                samplers `GeneratorRuntime.generate` uses. With a sampler, `labels` is
                one label or None.
            **given: values of the generator's other inputs, e.g. `member=2` for one
                member of a `GeneratorMixture`.

        Returns:
            float32 numpy array `[n, *sample_shape]`, images in [-1, 1].
        """
        if int(n) <= 0:
            raise KganError(f"n must be a positive integer, got {n!r}")
        n = int(n)
        if sampler is not None:
            return self.generate_with(sampler, n, seed, labels, batch_size, **given)["samples"]
        feeds = self.latent_prior.draw(n, seed, **self._conditioning(self._labels_for(n, labels)), **given)
        feeds = {k: v.astype(np.int32) if v.dtype == np.int64 else v for k, v in feeds.items()}
        return _in_chunks(self.run_generator, feeds, n, batch_size, self.sample_spec.dtype)

    def generate_with(self, sampler, n, seed=None, labels=None, batch_size=256, **given):
        """What a `kgan.runtime.samplers` sampler chose: a `Chosen` dict (`"samples"`, `"scores"`) with
        its `report`; the samplers that read the discriminator as a probability (`drs`, `mh`,
        `langevin`) need `calibrate` first."""
        sampler = get_sampler(sampler, get_kind(self.sample_spec))
        if labels is not None and np.ndim(labels):
            raise KganError("with a sampler, give one label or none (the proposals cycle the classes)")
        calibration = self.calibration if sampler.calibrated else {"a": 1.0, "b": 0.0}
        if calibration is None:
            raise KganError(f"the {sampler.name} sampler needs a calibrated discriminator: call "
                            "gan.calibrate(real_samples) first, or use the topk sampler")

        def decode(feeds):
            rows = len(next(iter(feeds.values())))
            return {"samples": _in_chunks(self.run_generator, feeds, rows, batch_size, self.sample_spec.dtype)}

        def energy(feeds):
            out = [self.latent_energy({k: tf.constant(v[i : i + batch_size]) for k, v in feeds.items()})
                   for i in range(0, len(feeds["z"]), batch_size)]
            raw, grad = (np.concatenate([np.asarray(o[key]) for o in out]) for key in ("energy", "grad_z"))
            return calibrated_energy(feeds["z"], raw, grad, calibration)

        return sampler(n, Proposals(
            draw=lambda m, s: {"samples": self.generate(m, s, labels, batch_size, **given)},
            score=lambda batch: calibrated(self.score(batch["samples"], labels, batch_size), calibration),
            latents=lambda m, s: self._latent_feeds(m, s, labels, **given),
            energy=energy, decode=decode), seed=seed)

    def _latent_feeds(self, n, seed, labels=None, **given):
        feeds = self.latent_prior.draw(n, seed, **self._conditioning(self._labels_for(n, labels)), **given)
        return {k: v.astype(np.int32) if v.dtype == np.int64 else v for k, v in feeds.items()}

    def energy(self, feeds):
        """E(z) = ‖z‖²/2 − D(G(z)) with the raw discriminator logit D, on named generator inputs."""
        samples = self.run_generator(feeds)
        conditioning = {k: feeds[k] for k in self.latent_prior.conditioning}
        logits = self.judge({self.sample_spec.tensor_name: samples, **conditioning})
        return 0.5 * tf.reduce_sum(tf.square(tf.cast(feeds["z"], tf.float32)), axis=-1) - logits

    @tf.function
    def latent_energy(self, feeds):
        """`{"energy", "grad_z"}`: `energy` and its gradient in z; `generate_with` calibrates them
        for the `langevin` sampler."""
        feeds = dict(feeds, z=tf.cast(feeds["z"], tf.float32))
        with tf.GradientTape() as tape:
            tape.watch(feeds["z"])
            energy = self.energy(feeds)
        return {"energy": energy, "grad_z": tape.gradient(energy, feeds["z"])}

    def refit_discriminator(self, real, labels=None, steps=500, batch_size=64, learning_rate=2e-4, beta_1=0.5, seed=0):
        """Trains the discriminator further against the generator held fixed, for `steps`
        Adam steps of the logistic loss with no label smoothing, noise or augmentation, whose
        optimum is the log density ratio log p_data / p_G that `drs`, `mh` and `langevin`
        read: DRS and MH-GAN assume the optimal discriminator of the final generator. A training-time
        discriminator is one step behind a moving generator, and smoothing or a WGAN loss
        give it another optimum. A packed discriminator is trained on `judge`'s packs, one
        reference pack a step (drawn at random; `judge` averages over all of them). Call
        `calibrate` afterwards. Returns the last batch's loss.
        """
        real = np.asarray(real, np.float32)
        labels = None if labels is None else np.asarray(labels)
        if self.conditional and labels is None:
            raise KganError("refitting a conditional discriminator needs the real samples' labels")
        if isinstance(steps, bool) or int(steps) != steps or steps < 1:
            raise KganError(f"refit steps must be a positive integer, got {steps!r}")
        if self.pack > 1:
            self.pack_references()  # drawn before the training step is traced
        name = self.sample_spec.tensor_name
        optimizer = keras.optimizers.Adam(learning_rate, beta_1=beta_1)
        variables = self.discriminator.trainable_variables

        @tf.function
        def step(x_real, real_feeds, fake_feeds, reference):
            x_fake = tf.stop_gradient(self.run_generator(fake_feeds))
            conditioning = {k: v for k, v in fake_feeds.items() if k in self.latent_prior.conditioning}
            with tf.GradientTape() as tape:  # on what the samplers read, `judge`: one sample at a time
                real_logits = self.judge({name: x_real, **real_feeds}, True, reference)
                fake_logits = self.judge({name: x_fake, **conditioning}, True, reference)
                loss = tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        rng = np.random.default_rng(seed)
        for _ in range(int(steps)):
            rows = rng.integers(0, len(real), batch_size)
            real_feeds = {} if labels is None else self._conditioning(labels[rows].astype(np.int32))
            fake = self._latent_feeds(batch_size, int(rng.integers(2**31)))
            loss = step(tf.constant(real[rows]), {k: tf.constant(v) for k, v in real_feeds.items()},
                        {k: tf.constant(v) for k, v in fake.items()},
                        tf.constant(int(rng.integers(PACK_REFERENCES)) if self.pack > 1 else 0))
        return float(loss)

    def calibrate(self, real, labels=None, samples=None, seed=0, batch_size=256):
        """Fits Platt scaling of the discriminator (`kgan.runtime.calibration`) on `real` samples
        against as many generated ones, keeps it in `calibration` (saved with the model) and
        returns it."""
        real = np.asarray(real, np.float32)
        self._pack_references = None  # drawn again from the generator being calibrated
        n = int(samples or len(real))
        fake_labels = None if labels is None else np.asarray(labels)[np.arange(n) % len(labels)]
        fake = self.generate(n, seed=seed, labels=fake_labels, batch_size=batch_size)
        self.calibration = fit_calibration(self.score(real, labels, batch_size),
                                           self.score(fake, fake_labels, batch_size), seed=seed)
        return self.calibration

    def score(self, samples, labels=None, batch_size=256):
        """The discriminator's logit for each sample, float32 `[n]` (higher: judged more real).

        Args:
            samples: `[n, *sample_shape]` as `generate` returns them.
            labels: class labels of a conditional GAN; default cycles the classes.
        """
        samples = np.asarray(samples, self.sample_spec.dtype)
        feeds = {self.sample_spec.tensor_name: samples, **self._conditioning(self._labels_for(len(samples), labels))}
        return _in_chunks(self.judge, feeds, len(samples), batch_size).reshape(-1)

    def judge(self, feeds, training=False, reference=None):
        """The discriminator's logit for each sample, float32 `[b]`, on named inputs.

        A packed discriminator (`pack` m) judges groups: each sample is judged beside m − 1
        fixed generated samples (`pack_references`) in each of `PACK_REFERENCES` packs, and its
        logit is their mean (or its logit in pack `reference` alone, an int tensor). The optimal
        packed discriminator's logit is the sum of its samples' log density ratios, so this is
        the sample's own log ratio plus a constant, which calibration takes up."""
        name = self.sample_spec.tensor_name
        if self.pack == 1:
            feeds = dict(feeds, **{name: self._viewed(tf.convert_to_tensor(feeds[name]))})
            return tf.reshape(tf.cast(self.run_discriminator(feeds, training), tf.float32), [-1])
        samples = tf.convert_to_tensor(feeds[name])
        references = tf.constant(self.pack_references(), samples.dtype)  # [R, m - 1, *shape]
        if reference is not None:
            references = tf.gather(references, tf.reshape(reference, [1]))
        ones = [1] * len(self.sample_spec.shape)
        count = references.shape[0]
        shape = self.sample_spec.shape  # reshapes, not [:, None]: ONNX has no StridedSliceGrad
        x = tf.tile(tf.reshape(samples, (-1, 1, 1, *shape)), [1, count, 1, *ones])
        others = tf.tile(tf.reshape(references, (1, count, -1, *shape)), [tf.shape(samples)[0], 1, 1, *ones])
        packs = tf.reshape(tf.concat([x, others], axis=2), (-1, *shape))
        logits = self.run_discriminator({name: self._packed(packs)}, training)
        return tf.reduce_mean(tf.reshape(tf.cast(logits, tf.float32), [-1, count]), axis=1)

    def pack_references(self):
        """`[PACK_REFERENCES, pack - 1, *sample_shape]` generated samples (a fixed seed) that
        `judge` packs a single sample with; drawn once, and again by `calibrate`."""
        if self._pack_references is None:
            with tf.init_scope():  # eager, also when first asked inside a tf.function
                drawn = self.generate(PACK_REFERENCES * (self.pack - 1), seed=PACK_REFERENCE_SEED)
            self._pack_references = drawn.reshape(PACK_REFERENCES, self.pack - 1, *self.sample_spec.shape)
        return self._pack_references

    def _labels_for(self, n, labels):
        labels = resolve_labels(n, labels, self.num_classes)
        return None if labels is None else labels.astype(np.int32)

    # -- serialization --------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "generator": keras.layers.serialize(self.generator),
                "discriminator": keras.layers.serialize(self.discriminator),
                "loss": self.loss_name if isinstance(self.loss_name, str) else [
                    keras.saving.serialize_keras_object(fn) for fn in self.loss_name],
                "d_steps": self.d_steps,
                "gradient_penalty": self.gradient_penalty,
                "r1_penalty": self.r1_penalty,
                "instance_noise": self.instance_noise,
                "instance_noise_steps": self.instance_noise_steps,
                "label_smoothing": self.label_smoothing,
                "latent_dim": self.latent_dim,
                "num_classes": self.num_classes,
                "seed": self.seed,
                "pack": self.pack,
                "augment": list(self.augment),
                "ema": self.ema,
                "sample_spec": None if self._sample_spec is None else self._sample_spec.to_dict(),
                "joint_discriminator": self.joint_discriminator,
                "update": self.update,
                "diversity": self.diversity,
                "calibration": self.calibration,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.layers.deserialize(config["generator"])
        config["discriminator"] = keras.layers.deserialize(config["discriminator"])
        if isinstance(config.get("loss"), list):
            config["loss"] = tuple(keras.saving.deserialize_keras_object(fn) for fn in config["loss"])
        return cls(**config)


def _in_chunks(run, feeds, n, batch_size, dtype="float32"):
    """`run` (a model over named inputs, inference mode) on `batch_size` rows at a time, as numpy `dtype`."""
    chunks = []
    for start in range(0, n, batch_size):
        chunk = {k: tf.constant(v[start : start + batch_size]) for k, v in feeds.items()}
        chunks.append(keras.ops.convert_to_numpy(run(chunk)).astype(dtype))
    return np.concatenate(chunks)


def _check_member_head(generator, discriminator):
    """Raises unless `generator` is a mixture and `discriminator` has a member head of its size."""
    k = getattr(generator, "num_members", None)
    if not k:
        raise KganError("diversity trains the members of a mixture: give GAN a kgan.GeneratorMixture, or drop diversity")
    try:
        shapes = [tuple(out.shape) for out in discriminator.outputs]
    except (AttributeError, ValueError):
        shapes = []
    if len(shapes) != 2 or shapes[1][-1] != k:
        raise KganError(f"diversity needs a discriminator with a member head of {k} logits: build kgan's "
                        f"discriminator with member_head={k}, or give yours a second output of {k} logits")


def _batch_coupled(model):
    """Whether a model has a layer whose output for one example depends on the others in its batch."""
    return any(isinstance(layer, keras.layers.BatchNormalization) or getattr(layer, "batch_coupled", False)
               for layer in model._flatten_layers(include_self=True))


def _loss_pair(loss):
    """`(generator_loss, discriminator_loss)` for a loss name or a pair of functions."""
    if isinstance(loss, str):
        return losses_lib.get_loss_pair(loss)
    if isinstance(loss, (tuple, list)) and len(loss) == 2 and all(callable(fn) for fn in loss):
        return tuple(loss)
    raise KganError(f"loss must be a name ({', '.join(losses_lib.LOSSES)}) or a pair of functions "
                    f"(generator_loss, discriminator_loss), got {loss!r}")
