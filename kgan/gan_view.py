"""What `GAN`'s discriminator is shown in a train step: the samples augmented, noised and packed,
a real and a fake batch in one call where that gives the same logits."""

import keras
import tensorflow as tf

from kgan import regularizers
from kgan.augment import diff_augment, draws_needed
from kgan.errors import KganError
from kgan.schedules import is_schedule, value_at

__all__ = ["DiscriminatorView"]


class DiscriminatorView:
    """Mixin of `GAN`: its discriminator on training batches, through the stabilizers."""

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

    def _zero_centered_terms(self, real, fake, labels, training):
        """R1 on the reals and R2 on the fakes, each gamma / 2 times the mean squared gradient norm;
        with both on and a discriminator that joins batches, from one call on the two together."""
        step = self.g_optimizer.iterations
        gammas = {"r1_penalty": self.r1_penalty, "r2_penalty": self.r2_penalty}
        if self.r1_penalty and self.r2_penalty and self.joins_batches:
            doubled = None if labels is None else tf.nest.map_structure(lambda v: tf.concat([v, v], 0), labels)
            joined = regularizers.zero_centered_penalty(
                lambda x: self._discriminate(x, doubled, training),
                tf.concat([real, tf.cast(fake, real.dtype)], 0))
            norms = dict(zip(gammas, tf.split(joined, 2)))
        else:
            norms = {name: regularizers.zero_centered_penalty(lambda x: self._discriminate(x, labels, training), x)
                     for (name, gamma), x in zip(gammas.items(), (real, fake)) if gamma}
        return {name: 0.5 * value_at(gammas[name], step) * tf.reduce_mean(norm) for name, norm in norms.items()}

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
            augmented = diff_augment(samples, self.augment, uniforms)
            if is_schedule(self.augment_probability) or self.augment_probability < 1.0:
                # Each sample augmented with the probability apart (ADA's p; R3GAN ramps it).
                chosen = self._replica_uniform(batch) < value_at(self.augment_probability,
                                                                  self.g_optimizer.iterations)
                augmented = tf.where(tf.reshape(chosen, [-1] + [1] * (len(samples.shape) - 1)), augmented, samples)
            samples = augmented
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


def _batch_coupled(model):
    """Whether a model has a layer whose output for one example depends on the others in its batch."""
    return any(isinstance(layer, keras.layers.BatchNormalization) or getattr(layer, "batch_coupled", False)
               for layer in model._flatten_layers(include_self=True))
