"""`PairedGAN`: a GAN whose generator takes an image (pix2pix's game), trained with `fit` on
`(inputs, target)` pairs."""

import functools

import keras
import numpy as np
import tensorflow as tf

from kgan.errors import KganError
from kgan.gan import GAN
from kgan.runtime.restore import Task, restore

__all__ = ["PairedGAN"]


@keras.saving.register_keras_serializable(package="kgan")
class PairedGAN(GAN):
    """A conditional image-to-image GAN (Isola et al. 2017): the generator restores an input image,
    the discriminator judges `(output, input)` pairs against `(target, input)`, and the generator
    adds `l1_weight` times the mean absolute error to its target to any kgan adversarial loss (and,
    with `feature_matching`, pix2pixHD's distance between the discriminator's features of the two).

    It trains on a dataset of `({"image": inputs[, "mask": masks]}, targets)` batches
    (`kgan.data.pairs.paired_dataset` makes them from clean images and a task) and keeps
    everything `GAN` does where it applies: the losses, R1/R2, EMA, mixed precision,
    `tf.distribute`, the `.keras` round trip, export. Packing, DiffAugment (which would move an
    output away from its input) and mixtures are refused. The discriminator is not exported: an
    output follows from its input, so there are no samples to choose among.

    Args:
        generator: a generator whose `latent_prior()` declares an `image` input (kgan's
            `UNetGenerator`).
        discriminator: a discriminator of `[restored, image(, mask)]` (kgan's `PatchDiscriminator`).
        l1_weight: weight of the L1 term (pix2pix: 100).
        adversarial: False trains the generator on the L1 term alone (the baseline every
            restoration paper compares with): the discriminator is not trained or called.
        feature_matching: weight of the feature-matching term (pix2pixHD: 10): the mean absolute
            difference between the discriminator's hidden features of `(output, input)` and of
            `(target, input)`, averaged over its `feature_layers`; 0: none.
        **kwargs: `GAN`'s other arguments (`loss`, `r1_penalty`, `ema`, ...).

    Example:
        >>> g = UNetGenerator((32, 32, 3), task="superres:4", filters=16, depth=2)
        >>> gan = PairedGAN(g, PatchDiscriminator((32, 32, 3), task="superres:4"))
        >>> gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
        >>> gan.fit(paired_batches, epochs=10)
        >>> restored = gan.restore(low_resolution_images)
    """

    exports_discriminator = False

    def __init__(self, generator, discriminator, l1_weight=100.0, adversarial=True, feature_matching=0.0, **kwargs):
        if not np.isfinite(float(feature_matching)) or float(feature_matching) < 0:
            raise KganError(f"feature_matching must be a finite number >= 0, got {feature_matching!r}")
        if feature_matching and not adversarial:
            raise KganError("feature matching compares the discriminator's features, which adversarial=False does not "
                            "train: drop feature_matching or keep the game")
        if feature_matching and not getattr(discriminator, "feature_layers", None):
            raise KganError("feature matching reads the discriminator's hidden layers: give it a discriminator with "
                            "`feature_layers` (kgan.PatchDiscriminator)")
        super().__init__(generator, discriminator, **kwargs)
        if "image" not in self.latent_prior.names:
            raise KganError("a PairedGAN's generator takes an image: give it a generator with an `image` input "
                            "(kgan.UNetGenerator)")
        if self.pack > 1 or self.augment or self.diversity:
            raise KganError("a PairedGAN judges each output beside its own input: drop pack, augment and diversity")
        if not np.isfinite(float(l1_weight)) or float(l1_weight) < 0:
            raise KganError(f"l1_weight must be a finite number >= 0, got {l1_weight!r}")
        if not adversarial and not l1_weight:
            raise KganError("with adversarial=False the L1 term is all the generator learns from: give l1_weight > 0")
        self.l1_weight = float(l1_weight)
        self.adversarial = bool(adversarial)
        self.feature_matching = float(feature_matching)

    @property
    def task(self):
        """The `kgan.runtime.restore.Task` the generator's inputs come from."""
        return Task.parse(self.latent_prior["image"].task or "paired")

    # -- the game -----------------------------------------------------------

    def loss_terms(self):
        """`GAN`'s terms and the generator's `l1`; with `adversarial=False`, `l1` alone."""
        if not self.adversarial:
            return {"discriminator": (), "generator": ("l1",)}
        terms = super().loss_terms()
        extra = ("l1", "feature_matching") if self.feature_matching else ("l1",)
        return dict(terms, generator=(*terms["generator"], *extra))

    def _metric_names(self):
        return ["g_loss"] if not self.adversarial else super()._metric_names()

    @property
    def _reads_real(self):
        return True  # the L1 term's target

    def _unpack(self, data):
        if not (isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], dict)):
            raise KganError('a PairedGAN trains on ({"image": inputs}, targets) pairs (with "mask" for inpainting)')
        inputs, target = data
        missing = [name for name in self.generator_inputs if name not in inputs]
        if missing:
            raise KganError(f"the pairs' inputs lack {', '.join(missing)}: the generator takes "
                            f"{', '.join(self.generator_inputs)}")
        # The inputs ride where class labels do: the discriminator's conditioning.
        return tf.cast(target, tf.float32), {name: tf.cast(inputs[name], tf.float32) for name in self.generator_inputs}

    def _conditioning(self, inputs):
        return {} if inputs is None else dict(inputs)

    def _generate(self, batch, inputs, training):
        return self.run_generator(inputs, training=training, model=self.generator)

    def generator_terms(self, labels, batch, training, fake=None, fake_logits=None, real=None, real_logits=None):
        """`GAN.generator_terms` (when adversarial) and `l1`, `l1_weight` times the mean absolute error of
        the outputs to `real`, the targets; `labels` are the inputs (`{"image"[, "mask"]}`).

        Args and Returns as `GAN.generator_terms`.
        """
        if real is None:
            raise KganError("the L1 term compares with the target: pass real= to generator_terms")
        if fake is None:
            fake = self._generate(batch, labels, training=training)
        terms = {}
        if self.adversarial:
            terms = super().generator_terms(labels, batch, training, fake=fake, fake_logits=fake_logits, real=real,
                                            real_logits=real_logits)
        terms["l1"] = self.l1_weight * tf.reduce_mean(tf.abs(tf.cast(fake, tf.float32) - real))
        if self.feature_matching:
            terms["feature_matching"] = self.feature_matching * self._feature_distance(fake, real, labels, training)
        return terms

    @functools.cached_property  # kept out of Keras's tracking: it shares the discriminator's weights
    def _features(self):
        d = self.discriminator
        return keras.Model(d.inputs, [d.get_layer(name).output for name in d.feature_layers])

    def _feature_distance(self, fake, real, inputs, training):
        """The discriminator's features of `(fake, inputs)` against those of `(real, inputs)` (held
        fixed): the mean absolute difference a layer, averaged over layers."""
        def features(x):
            feeds = {self.sample_spec.tensor_name: x, **self._conditioning(inputs)}
            out = self._features(self._positional(feeds, self.discriminator_inputs), training=training)
            return [tf.cast(f, tf.float32) for f in (out if isinstance(out, (list, tuple)) else [out])]

        pairs = zip(features(fake), features(real))
        return tf.add_n([tf.reduce_mean(tf.abs(f - tf.stop_gradient(r))) for f, r in pairs]) / len(
            self.discriminator.feature_layers)

    def train_step(self, data):
        if self.adversarial:
            return super().train_step(data)
        real, inputs = self._unpack(data)
        g_vars = self.generator.trainable_variables
        with self._watching(g_vars) as tape:
            terms = self.generator_terms(inputs, tf.shape(real)[0], training=True, real=real)
            loss = self._check_terms("generator", terms)
            scaled = self._scaled(self.g_optimizer, loss)
        self.g_optimizer.apply(tape.gradient(scaled, g_vars), g_vars)
        if self.ema_generator is not None:
            self._update_ema()
        return self._update_metrics(loss, {}, loss, terms, {})

    def test_step(self, data):
        if self.adversarial:
            return super().test_step(data)
        real, inputs = self._unpack(data)
        terms = self.generator_terms(inputs, tf.shape(real)[0], training=False, real=real)
        loss = self._check_terms("generator", terms)
        return self._update_metrics(loss, {}, loss, terms, {})

    def pretrain(self, dataset, steps, optimizer, verbose=0):
        """Trains the generator on its L1 term alone before the game (ESRGAN's start from a
        PSNR-oriented model): a restorer that is already close makes the discriminator's task one of
        detail, not of gross error. The EMA generator restarts from the result.

        Args:
            dataset: the `({"image"[, "mask"]}, targets)` batches `fit` takes (repeated).
            steps: generator steps.
            optimizer: its optimizer (a new one, not the game's).
            verbose: `fit`'s verbosity.

        Returns:
            `(first, rest)`: the L1 term (`l1_weight` times the mean absolute error) averaged over
            the first hundred steps and over the rest (the first alone if there is no rest).
        """
        if not self.l1_weight:
            raise KganError("pretraining trains the L1 term: give l1_weight > 0")
        steps = int(steps)
        if steps < 1:
            raise KganError(f"pretraining takes at least one step, got {steps!r}")
        alone = PairedGAN(self.generator, self.discriminator, l1_weight=self.l1_weight, adversarial=False,
                          sample_spec=self.sample_spec)
        alone.compile(optimizer, keras.optimizers.Adam(), jit_compile=self.jit_compile)
        first = min(100, steps)
        losses = alone.fit(dataset, epochs=1, steps_per_epoch=first, verbose=verbose).history["g_loss"]
        if steps > first:
            losses += alone.fit(dataset, epochs=1, steps_per_epoch=steps - first, verbose=verbose).history["g_loss"]
        if self.ema_generator is not None:
            self.ema_generator.set_weights(self.generator.get_weights())
        return float(losses[0]), float(losses[-1])

    # -- restoring ------------------------------------------------------------

    def restore(self, image, mask=None, tile=256, batch_size=8):
        """The restored images (the EMA generator's when kept) for inputs of any size.

        Args:
            image: float32 `[n, H, W, C]` in [-1, 1] (or uint8), made as the task makes inputs.
            mask: inpainting's mask `[n, H, W, 1]` (default: the task's region).
            tile: largest input side run at once (larger images run in overlapping tiles).
            batch_size: images a generator call.

        Returns:
            float32 `[n, H * factor, W * factor, C]`, as `GeneratorRuntime.generate` gives them
            from the export (before conversion to uint8).
        """
        spec = self.latent_prior["image"]
        images = spec.draw(None, None, given=image)

        def run(feeds):
            rows = len(feeds["image"])
            return np.concatenate([np.asarray(self.run_generator(
                {k: tf.constant(v[i : i + batch_size]) for k, v in feeds.items()})) for i in range(0, rows, batch_size)])

        return restore(run, self.task, images, mask=mask, multiple=spec.multiple, tile=tile)

    # -- serialization --------------------------------------------------------

    def get_config(self):
        return {**super().get_config(), "l1_weight": self.l1_weight, "adversarial": self.adversarial,
                "feature_matching": self.feature_matching}
