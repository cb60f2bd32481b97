"""A GAN's discriminator as a critic of single samples: judged, scored, calibrated, refitted.

`KerasCritic` is the one object `GAN.score`, `calibrate`, `refit_discriminator`, `judge`,
`energy`, `latent_energy` and the samplers (`GAN.generate(sampler=...)`) go through; export
traces its `judge` and `latent_energy`. Its samplers run through the runtime's `Critic`
(given the Keras logits and energy), as an export's do, so Keras and ONNX choose samples by
one code path.
"""

import keras
import numpy as np
import tensorflow as tf

from kgan.errors import KganError
from kgan import generation
from kgan.generation import in_chunks, latent_feeds
from kgan.runtime.calibration import fit_calibration
from kgan.runtime.critic import Critic
from kgan.runtime.labels import resolve_labels
from kgan.runtime.latent import latents

__all__ = ["KerasCritic", "CriticMethods", "PACK_REFERENCES", "PACK_REFERENCE_SEED"]

# A packed discriminator judges one sample beside m − 1 fixed generated ones, in this many packs.
PACK_REFERENCES = 8
PACK_REFERENCE_SEED = 20190217


class KerasCritic:
    """The discriminator of `gan` on single samples; its calibration is `gan.calibration`."""

    remedy = ": call gan.calibrate(real_samples) first, or use the topk sampler"

    def __init__(self, gan):
        self.gan = gan
        self.references = None  # the packs' fixed samples, drawn on first use

    def raw_energy(self, feeds, batch_size=256):
        """`(energy, grad_z)` of `latent_energy` as numpy, `batch_size` rows at a time."""
        out = [self.latent_energy({k: tf.constant(v[i : i + batch_size]) for k, v in feeds.items()})
               for i in range(0, len(feeds["z"]), batch_size)]
        return tuple(np.concatenate([np.asarray(o[key]) for o in out]) for key in ("energy", "grad_z"))

    def sample(self, sampler, n, seed=None, labels=None, batch_size=256, **given):
        """`GAN.generate_with`: what `sampler` chose among the GAN's proposals."""
        gan = self.gan
        critic = Critic(lambda samples, labels: self.score(samples, labels, batch_size), gan.calibration,
                        lambda feeds: self.raw_energy(feeds, batch_size), self.remedy)

        def decode(feeds):
            rows = len(next(iter(feeds.values())))
            return {"samples": in_chunks(gan.run_generator, feeds, rows, batch_size, gan.sample_spec.dtype)}

        return critic.choose(sampler, gan.sample_spec, n, seed, labels,
                             draw=lambda m, s: gan.generate(m, s, labels, batch_size, **given),
                             latents=lambda m, s: latent_feeds(gan, m, s, labels, **given), decode=decode)

    def judge(self, feeds, training=False, reference=None):
        """The discriminator's logit for each sample, float32 `[b]`, on named inputs.

        A packed discriminator (`pack` m) judges groups: each sample is judged beside m − 1
        fixed generated samples (`pack_references`) in each of `PACK_REFERENCES` packs, and its
        logit is their mean (or its logit in pack `reference` alone, an int tensor). The optimal
        packed discriminator's logit is the sum of its samples' log density ratios, so this is
        the sample's own log ratio plus a constant, which calibration takes up."""
        gan = self.gan
        name = gan.sample_spec.tensor_name
        if gan.pack == 1:
            feeds = dict(feeds, **{name: gan._viewed(tf.convert_to_tensor(feeds[name]))})
            return tf.reshape(tf.cast(gan.run_discriminator(feeds, training), tf.float32), [-1])
        samples = tf.convert_to_tensor(feeds[name])
        references = tf.constant(self.pack_references(), samples.dtype)  # [R, m - 1, *shape]
        if reference is not None:
            references = tf.gather(references, tf.reshape(reference, [1]))
        shape = gan.sample_spec.shape  # reshapes, not [:, None]: ONNX has no StridedSliceGrad
        ones = [1] * len(shape)
        count = references.shape[0]
        x = tf.tile(tf.reshape(samples, (-1, 1, 1, *shape)), [1, count, 1, *ones])
        others = tf.tile(tf.reshape(references, (1, count, -1, *shape)), [tf.shape(samples)[0], 1, 1, *ones])
        packs = tf.reshape(tf.concat([x, others], axis=2), (-1, *shape))
        logits = gan.run_discriminator({name: gan._packed(packs)}, training)
        return tf.reduce_mean(tf.reshape(tf.cast(logits, tf.float32), [-1, count]), axis=1)

    def pack_references(self):
        """`[PACK_REFERENCES, pack - 1, *sample_shape]` generated samples (a fixed seed) that
        `judge` packs a single sample with; drawn once, and again by `calibrate`."""
        gan = self.gan
        if self.references is None:
            with tf.init_scope():  # eager, also when first asked inside a tf.function
                drawn = gan.generate(PACK_REFERENCES * (gan.pack - 1), seed=PACK_REFERENCE_SEED)
            self.references = drawn.reshape(PACK_REFERENCES, gan.pack - 1, *gan.sample_spec.shape)
        return self.references

    def score(self, samples, labels=None, batch_size=256):
        """The discriminator's logit for each sample, float32 `[n]` (higher: judged more real)."""
        gan = self.gan
        samples = np.asarray(samples, gan.sample_spec.dtype)
        feeds = {gan.sample_spec.tensor_name: samples,
                 **gan._conditioning(gan._labels_for(len(samples), labels))}
        return in_chunks(self.judge, feeds, len(samples), batch_size).reshape(-1)

    def energy(self, feeds):
        """E(z) = ‖z‖²/2 − D(G(z)) with the raw discriminator logit D, on named generator inputs."""
        gan = self.gan
        samples = gan.run_generator(feeds)
        conditioning = {k: feeds[k] for k in gan.latent_prior.conditioning}
        logits = self.judge({gan.sample_spec.tensor_name: samples, **conditioning})
        return 0.5 * tf.reduce_sum(tf.square(tf.cast(feeds["z"], tf.float32)), axis=-1) - logits

    @tf.function
    def latent_energy(self, feeds):
        """`{"energy", "grad_z"}`: `energy` and its gradient in z (traced by export)."""
        feeds = dict(feeds, z=tf.cast(feeds["z"], tf.float32))
        with tf.GradientTape() as tape:
            tape.watch(feeds["z"])
            energy = self.energy(feeds)
        return {"energy": energy, "grad_z": tape.gradient(energy, feeds["z"])}

    def calibrate(self, real, labels=None, samples=None, seed=0, batch_size=256):
        """Fits Platt scaling on `real` samples against as many generated ones; returns it."""
        gan = self.gan
        real = np.asarray(real, np.float32)
        self.references = None  # drawn again from the generator being calibrated
        n = int(samples or len(real))
        fake_labels = None if labels is None else np.asarray(labels)[np.arange(n) % len(labels)]
        fake = gan.generate(n, seed=seed, labels=fake_labels, batch_size=batch_size)
        return fit_calibration(self.score(real, labels, batch_size), self.score(fake, fake_labels, batch_size),
                               seed=seed)

    def refit(self, real, labels=None, steps=500, batch_size=64, learning_rate=2e-4, beta_1=0.5, seed=0):
        """Trains the discriminator against the generator held fixed (see `GAN.refit_discriminator`);
        returns the last batch's loss."""
        gan = self.gan
        real = np.asarray(real, np.float32)
        labels = None if labels is None else np.asarray(labels)
        if gan.conditional and labels is None:
            raise KganError("refitting a conditional discriminator needs the real samples' labels")
        if isinstance(steps, bool) or int(steps) != steps or steps < 1:
            raise KganError(f"refit steps must be a positive integer, got {steps!r}")
        if gan.pack > 1:
            self.pack_references()  # drawn before the training step is traced
        name = gan.sample_spec.tensor_name
        # decayed linearly to 1 % over the refit: on benchmarks/sampling.py's weak grid25 run (seed 0, refit in
        # Keras), 2,000 refit steps at a constant 1e-3 left DRS at 56.5 % high quality, decayed from 1e-3 70.2 %
        rate = keras.optimizers.schedules.PolynomialDecay(float(learning_rate), int(steps), 0.01 * float(learning_rate))
        optimizer = keras.optimizers.Adam(rate, beta_1=beta_1)
        variables = gan.discriminator.trainable_variables
        conditioning_names = gan.latent_prior.conditioning

        @tf.function
        def step(x_real, real_feeds, fake_feeds, reference):
            x_fake = tf.stop_gradient(gan.run_generator(fake_feeds))
            conditioning = {k: v for k, v in fake_feeds.items() if k in conditioning_names}
            with tf.GradientTape() as tape:  # on what the samplers read, `judge`: one sample at a time
                real_logits = self.judge({name: x_real, **real_feeds}, True, reference)
                fake_logits = self.judge({name: x_fake, **conditioning}, True, reference)
                loss = tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        rng = np.random.default_rng(seed)
        for _ in range(int(steps)):
            rows = rng.integers(0, len(real), batch_size)
            real_feeds = {} if labels is None else gan._conditioning(labels[rows].astype(np.int32))
            fake = latent_feeds(gan, batch_size, int(rng.integers(2**31)))
            loss = step(tf.constant(real[rows]), {k: tf.constant(v) for k, v in real_feeds.items()},
                        {k: tf.constant(v) for k, v in fake.items()},
                        tf.constant(int(rng.integers(PACK_REFERENCES)) if gan.pack > 1 else 0))
        return float(loss)


class CriticMethods:
    """Mixin of `GAN`: sampling (plain, or chosen by a sampler) and the discriminator as a
    critic, each a call into `generation` or the GAN's `KerasCritic`."""

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
        if sampler is not None:
            return self.generate_with(sampler, n, seed, labels, batch_size, **given)["samples"]
        return generation.generate(self, n, seed, labels, batch_size, **given)

    def generate_with(self, sampler, n, seed=None, labels=None, batch_size=256, **given):
        """What a `kgan.runtime.samplers` sampler chose: a `Chosen` dict (`"samples"`, `"scores"`) with
        its `report`; the samplers that read the discriminator as a probability (`drs`, `mh`,
        `langevin`) need `calibrate` first."""
        if int(n) <= 0:
            raise KganError(f"n must be a positive integer, got {n!r}")
        return self.critic.sample(sampler, int(n), seed, labels, batch_size, **given)

    def score(self, samples, labels=None, batch_size=256):
        """The discriminator's logit for each sample, float32 `[n]` (higher: judged more real).

        Args:
            samples: `[n, *sample_shape]` as `generate` returns them.
            labels: class labels of a conditional GAN; default cycles the classes.
        """
        return self.critic.score(samples, labels, batch_size)

    def judge(self, feeds, training=False, reference=None):
        """The discriminator's logit for each sample, float32 `[b]`, on named inputs (a packed
        discriminator's: `KerasCritic.judge`)."""
        return self.critic.judge(feeds, training, reference)

    def pack_references(self):
        """The fixed generated samples a packed discriminator judges a sample beside."""
        return self.critic.pack_references()

    def energy(self, feeds):
        """E(z) = ‖z‖²/2 − D(G(z)) with the raw discriminator logit D, on named generator inputs."""
        return self.critic.energy(feeds)

    def latent_energy(self, feeds):
        """`{"energy", "grad_z"}`: `energy` and its gradient in z; `generate_with` calibrates them
        for the `langevin` sampler."""
        return self.critic.latent_energy(feeds)

    def refit_discriminator(self, real, labels=None, steps=500, batch_size=64, learning_rate=2e-4, beta_1=0.5, seed=0):
        """Trains the discriminator further against the generator held fixed, for `steps`
        Adam steps of the logistic loss with no label smoothing, noise or augmentation, whose
        optimum is the log density ratio log p_data / p_G that `drs`, `mh` and `langevin`
        read: DRS and MH-GAN assume the optimal discriminator of the final generator. A training-time
        discriminator is one step behind a moving generator, and smoothing or a WGAN loss
        give it another optimum. A packed discriminator is trained on `judge`'s packs, one
        reference pack a step (drawn at random; `judge` averages over all of them). The learning
        rate falls linearly from `learning_rate` to 1 % of it over the steps. Call `calibrate`
        afterwards. Returns the last batch's loss.
        """
        return self.critic.refit(real, labels, steps, batch_size, learning_rate, beta_1, seed)

    def calibrate(self, real, labels=None, samples=None, seed=0, batch_size=256):
        """Fits Platt scaling of the discriminator (`kgan.runtime.calibration`) on `real` samples
        against as many generated ones, keeps it in `calibration` (saved with the model) and
        returns it."""
        self.calibration = self.critic.calibrate(real, labels, samples, seed, batch_size)
        return self.calibration

    def _labels_for(self, n, labels):
        labels = resolve_labels(n, labels, self.num_classes)
        return None if labels is None else labels.astype(np.int32)
