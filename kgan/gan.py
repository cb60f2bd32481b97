"""`GAN`, a keras.Model that trains a generator against a discriminator with `fit`."""

import contextlib

import keras
import tensorflow as tf

from kgan import losses as losses_lib, regularizers
from kgan.critic import CriticMethods, KerasCritic
from kgan.errors import KganError
from kgan.gan_io import NamedIO
from kgan.gan_options import UPDATES, check_options, options_config, options_from_config
from kgan.gan_view import DiscriminatorView
from kgan.models.base import protocol
from kgan.replicas import replica_draw, scaled, update_ema
from kgan.schedules import is_schedule, value_at

__all__ = ["GAN", "UPDATES"]

def _clone(model):
    """A new model of the same architecture (kgan's models, or any serializable one)."""
    return keras.layers.deserialize(keras.layers.serialize(model))


@keras.saving.register_keras_serializable(package="kgan")
class GAN(CriticMethods, NamedIO, DiscriminatorView, keras.Model):
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
            `"reverse_kl"`, `"relativistic_standard"` (also named `"rpgan"`, R3GAN's name),
            `"ragan"`; or a pair of functions
            `(generator_loss(fake_logits), discriminator_loss(real_logits, fake_logits))`
            (a generator loss marked `needs_real_logits` gets `(fake_logits, real_logits)`;
            register them with `keras.saving.register_keras_serializable` to save the GAN).
        d_steps: discriminator updates per generator update.
        gradient_penalty: weight of the WGAN-GP penalty (Gulrajani et al. 2017);
            10 is the paper's value for `loss="wasserstein"`.
        r1_penalty: gamma of the R1 penalty gamma/2 E||grad D(x)||^2 on real samples
            (Mescheder et al. 2018); a number or a `kgan.schedules` schedule of the
            generator's step.
        r2_penalty: gamma of the R2 penalty gamma/2 E||grad D(G(z))||^2 on generated
            samples, likewise; R3GAN (Huang et al. 2024) pairs it with R1 at the same gamma
            and `loss="rpgan"`.
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
        augment_probability: the chance that a sample is augmented (each sample drawn
            apart, as in ADA and R3GAN); a number or a schedule (R3GAN ramps it from 0).
            1 augments every sample.
        pack: PacGAN packing (Lin et al., NeurIPS 2018): the discriminator judges `pack`
            samples at once, concatenated along the last axis (channels for images,
            features for vectors), so its input has `pack` times the channels. 1 is
            no packing; the batch size must be a multiple of it.
        ema: decay of an exponential moving average of the generator's weights
            (Karras et al. 2018; Yazıcı et al., ICLR 2019), kept in `ema_generator`
            and used by `generate` and export. The decay warms up as
            `min(ema, (1 + t) / (10 + t))` over generator step t, as
            `tf.train.ExponentialMovingAverage` does with `num_updates`. Non-trainable
            weights (batch statistics) are copied. 0 is off. A schedule of the generator's
            step (`kgan.schedules.HalfLifeDecay`) gives the decay itself, without the warm-up.
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
        r2_penalty=0.0,
        augment_probability=1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        options = check_options(generator, discriminator, loss, d_steps, gradient_penalty, r1_penalty, instance_noise,
                                instance_noise_steps, label_smoothing, latent_dim, num_classes, seed, pack, augment,
                                ema, sample_spec, joint_discriminator, update, diversity, calibration,
                                r2_penalty=r2_penalty, augment_probability=augment_probability)
        self.generator = generator
        self.discriminator = discriminator
        for name, value in options.items():
            setattr(self, name, value)
        self.seed_generator = keras.random.SeedGenerator(seed, name="gan_seed")
        object.__setattr__(self, "_hooks", protocol(generator))  # untracked: plain objects
        object.__setattr__(self, "critic", KerasCritic(self))
        self._build_models()
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
        if self.r2_penalty:
            d_terms.append("r2_penalty")
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
        return replica_draw(draw, shape, self.seed_generator)

    def _replica_normal(self, shape):
        return self._replica_draw(keras.random.normal, shape)

    def _replica_uniform(self, batch):
        return self._replica_draw(keras.random.uniform, (batch,))

    def _generate(self, batch, labels, training):
        """A training batch of fakes: the generator's own `training_sample` where it has one (a
        sequence generator's relaxed tokens), else the generator on fresh latents."""
        own = self._hooks.training_sample(batch, labels, lambda shape: self._replica_draw(keras.random.uniform, shape),
                                          self.g_optimizer.iterations)
        if own is not None:
            return own
        feeds = {"z": self._replica_normal((batch, self.latent_dim)), **self._conditioning(labels)}
        feeds.update(self._hooks.training_inputs(batch))  # e.g. a mixture's members of the batch
        return self.run_generator(feeds, training=training, model=self.generator)

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
        if self.r1_penalty or self.r2_penalty:
            terms.update(self._zero_centered_terms(real_in, fake_in, labels, training))
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
            real: the real batch, for a relativistic loss (the train step passes it only
                then); unused by the others.
            real_logits: the discriminator's logits on `real`, likewise.
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

    def train_step(self, data):
        real, labels = self._unpack(data)
        batch = tf.shape(real)[0]
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        shared = self.update != "alternating"  # the last discriminator step shares the generator's fakes

        def d_side(fake=None):
            d_terms, scores = self.discriminator_terms(real, labels, batch, training=True, fake=fake)
            return d_terms, scores, self._check_terms("discriminator", d_terms)

        reads_real = self._reads_real

        def g_side(**given):
            if reads_real:  # only then: overrides of generator_terms need not take `real`
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
                shared_logits = {"real_logits": scores["real_logits"]} if reads_real else {}
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
    def _reads_real(self):
        """Whether `generator_terms` reads the real batch: a relativistic loss does (its logits), a paired
        generator does (its target)."""
        return losses_lib.needs_real_logits(self._loss_pair[0])

    def _scaled(self, optimizer, loss):
        return scaled(optimizer, loss)

    @staticmethod
    @contextlib.contextmanager
    def _watching(variables):
        """A tape that records only what depends on `variables`: the generator's forward
        pass stays off the discriminator's tape, the discriminator's weights off the generator's."""
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([getattr(v, "value", v) for v in variables])
            yield tape

    def _update_ema(self):
        """The EMA generator follows the generator, its decay warming up with the step (or as its
        schedule says)."""
        step = tf.cast(self.g_optimizer.iterations, tf.float32)
        if is_schedule(self.ema):
            decay = value_at(self.ema, self.g_optimizer.iterations - 1)  # the step just taken
        else:
            decay = tf.minimum(self.ema, (1.0 + step) / (10.0 + step))
        update_ema(self.ema_generator, self.generator, decay)

    def test_step(self, data):
        real, labels = self._unpack(data)
        batch = tf.shape(real)[0]
        d_terms, scores = self.discriminator_terms(real, labels, batch, training=False)
        given = {"real": real} if self._reads_real else {}
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

    # -- serialization --------------------------------------------------------

    def get_config(self):
        return {**super().get_config(), **options_config(self)}

    @classmethod
    def from_config(cls, config):
        return cls(**options_from_config(config))

