"""`GAN`, a keras.Model that trains a generator against a discriminator with `fit`."""

import numpy as np
import keras
import tensorflow as tf

from kgan import losses as losses_lib
from kgan import regularizers
from kgan.errors import KganError
from kgan.labels import resolve_labels

__all__ = ["GAN"]


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

    Args:
        generator: a Keras model mapping `z` (or `[z, label]`) to samples. kgan's
            models, or the user's own Sequential, functional or subclassed model.
        discriminator: a Keras model mapping samples (or `[samples, label]`) to one
            logit per sample.
        loss: one of `kgan.losses.LOSSES`: `"non_saturating"` (default),
            `"minimax"`, `"least_squares"`, `"wasserstein"`, `"hinge"`, `"kl"`,
            `"reverse_kl"`.
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        losses_lib.get_loss_pair(loss)
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
        if label_smoothing and loss not in losses_lib.SMOOTHABLE_LOSSES:
            raise KganError(
                f"label_smoothing applies to {', '.join(losses_lib.SMOOTHABLE_LOSSES)}, not to loss {loss!r}: "
                "drop it or change the loss"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.loss_name = loss
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
        from kgan.augment import POLICIES

        augment = tuple([augment] if isinstance(augment, str) else augment or ())
        unknown = [a for a in augment if a not in POLICIES]
        if unknown:
            raise KganError(f"unknown augmentation {unknown[0]!r}: choose from {', '.join(POLICIES)}")
        self.augment = augment
        if not 0.0 <= float(ema) < 1.0:
            raise KganError(f"ema must be a decay in [0, 1) (0 is off, 0.999 is usual), got {ema!r}")
        self.ema = float(ema)

        latent_dim = latent_dim or _latent_dim_of(generator)
        if latent_dim is None:
            raise KganError("cannot read latent_dim from the generator: pass GAN(..., latent_dim=N)")
        if int(latent_dim) <= 0:
            raise KganError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        self.latent_dim = int(latent_dim)
        if num_classes is None:
            num_classes = getattr(generator, "num_classes", None)
        if num_classes is None and _input_count(generator) == 2:
            raise KganError("the generator takes two inputs: pass GAN(..., num_classes=N) for a conditional GAN")
        self.num_classes = int(num_classes) if num_classes else None
        if self.pack > 1 and self.num_classes:
            raise KganError("packing (pack > 1) works with unconditional GANs only: drop pack or the labels")
        self.seed_generator = keras.random.SeedGenerator(seed, name="gan_seed")

        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_score_tracker = keras.metrics.Mean(name="real_score")
        self.fake_score_tracker = keras.metrics.Mean(name="fake_score")
        self._build_models()

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
    def sampler(self):
        """The generator that samples: `ema_generator` when `ema` is on, else `generator`."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def build(self, input_shape=None):
        self._build_models()

    @property
    def sample_shape(self):
        """Shape of one generated sample, e.g. `(8, 8, 1)` or `(2,)`."""
        inputs = [(None, self.latent_dim)] + ([(None,)] if self.conditional else [])
        shape = self.generator.compute_output_shape(inputs if self.conditional else inputs[0])
        return tuple(int(s) for s in shape[1:])

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

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.real_score_tracker, self.fake_score_tracker]

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
        real = tf.cast(real, tf.float32)  # layers cast to their own compute dtype
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

    def _generate(self, batch, labels, training):
        z = self._replica_normal((batch, self.latent_dim))
        return self.generator([z, labels] if self.conditional else z, training=training)

    def _discriminate(self, samples, labels, training):
        if self.augment and training:
            from kgan.augment import diff_augment, draws_needed

            if len(samples.shape) != 4:
                raise KganError("DiffAugment works on images; drop augment for vector data")
            batch = tf.shape(samples)[0]
            uniforms = tf.stack([self._replica_uniform(batch) for _ in range(draws_needed(self.augment))])
            samples = diff_augment(samples, self.augment, uniforms)
        if self.pack > 1:
            samples = self._packed(samples)
        return self.discriminator([samples, labels] if self.conditional else samples, training=training)

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

    def _discriminator_loss(self, real, labels, batch, training):
        g_loss_fn, d_loss_fn = losses_lib.get_loss_pair(self.loss_name)
        fake = tf.stop_gradient(self._generate(batch, labels, training=training))
        std = self._noise_std()
        real_in = self._with_noise(real, std)
        fake_in = self._with_noise(tf.cast(fake, real.dtype), std)
        real_logits = self._discriminate(real_in, labels, training)
        fake_logits = self._discriminate(fake_in, labels, training)
        kwargs = {"label_smoothing": self.label_smoothing} if self.label_smoothing else {}
        loss = d_loss_fn(real_logits, fake_logits, **kwargs)
        if self.gradient_penalty:
            alpha = self._replica_uniform(batch)
            penalty = regularizers.gradient_penalty(
                lambda x: self._discriminate(x, labels, training), real_in, fake_in, alpha
            )
            loss = loss + self.gradient_penalty * penalty
        if self.r1_penalty:
            penalty = regularizers.r1_penalty(lambda x: self._discriminate(x, labels, training), real_in)
            loss = loss + 0.5 * self.r1_penalty * penalty
        return loss, tf.reduce_mean(real_logits), tf.reduce_mean(fake_logits)

    def _generator_loss(self, labels, batch, training):
        g_loss_fn, _ = losses_lib.get_loss_pair(self.loss_name)
        fake = self._generate(batch, labels, training=training)
        fake_in = self._with_noise(fake, self._noise_std())
        return g_loss_fn(self._discriminate(fake_in, labels, training))

    @staticmethod
    def _replicas():
        return tf.distribute.get_strategy().num_replicas_in_sync

    def train_step(self, data):
        real, labels = self._unpack(data)
        batch = tf.shape(real)[0]
        # Gradients are summed over replicas: scale each replica's mean loss so the
        # sum is the mean over the global batch.
        scale = 1.0 / self._replicas()
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        for _ in range(self.d_steps):
            with tf.GradientTape() as tape:
                d_loss, real_score, fake_score = self._discriminator_loss(real, labels, batch, training=True)
                scaled = self.d_optimizer.scale_loss(d_loss * scale)
            self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)
        with tf.GradientTape() as tape:
            g_loss = self._generator_loss(labels, batch, training=True)
            scaled = self.g_optimizer.scale_loss(g_loss * scale)
        self.g_optimizer.apply(tape.gradient(scaled, g_vars), g_vars)
        if self.ema_generator is not None:
            self._update_ema()
        return self._update_metrics(d_loss, g_loss, real_score, fake_score)

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
        d_loss, real_score, fake_score = self._discriminator_loss(real, labels, batch, training=False)
        g_loss = self._generator_loss(labels, batch, training=False)
        return self._update_metrics(d_loss, g_loss, real_score, fake_score)

    def _update_metrics(self, d_loss, g_loss, real_score, fake_score):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.real_score_tracker.update_state(real_score)
        self.fake_score_tracker.update_state(fake_score)
        results = {m.name: m.result() for m in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces logged values across workers with reduce(MEAN, axis=0),
            # which rejects scalars: give each a length-1 axis to reduce over.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    # -- sampling -----------------------------------------------------------

    def latents(self, n, seed=None):
        """The latents `generate(n, seed)` uses: numpy's standard normal, float32."""
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)

    def generate(self, n, seed=None, labels=None, batch_size=256):
        """Draws `n` samples from the generator (inference mode; its EMA when `ema` is on).

        Args:
            n: number of samples.
            seed: integer seed of the latents; the same seed gives the same samples
                (and the same as `kgan.inference` on the exported model).
            labels: class labels for a conditional GAN, an int or `n` ints;
                default cycles 0, 1, ..., num_classes - 1.
            batch_size: samples per generator call.

        Returns:
            float32 numpy array `[n, *sample_shape]`, images in [-1, 1].
        """
        if int(n) <= 0:
            raise KganError(f"n must be a positive integer, got {n!r}")
        n = int(n)
        z = self.latents(n, seed)
        labels = self._labels_for(n, labels)
        chunks = []
        for start in range(0, n, batch_size):
            z_chunk = tf.constant(z[start : start + batch_size])
            inputs = [z_chunk, tf.constant(labels[start : start + batch_size])] if self.conditional else z_chunk
            chunks.append(keras.ops.convert_to_numpy(self.sampler(inputs, training=False)).astype(np.float32))
        return np.concatenate(chunks)

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
                "loss": self.loss_name,
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
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.layers.deserialize(config["generator"])
        config["discriminator"] = keras.layers.deserialize(config["discriminator"])
        return cls(**config)
