"""`GAN`'s named inputs and outputs: what its networks take, and running them on named feeds."""

from kgan.runtime.latent import LatentPrior
from kgan.runtime.samples import SampleSpec

__all__ = ["NamedIO"]


class NamedIO:
    """Mixin of `GAN`: the generator's inputs by name (`z`, `label`, what the generator adds),
    the discriminator's (the samples, then the conditioning), and calls on `{name: tensor}` feeds."""

    @property
    def latent_prior(self):
        """The generator's named inputs (`z`, `label` when conditional, and what the generator
        adds with a `latent_inputs()` method, e.g. a mixture's `member`) and how to draw them;
        a generator with a `latent_prior()` method declares all of its own (a sequence
        generator's uniforms `u`)."""
        own = self._hooks.latent_prior()
        if own is not None:
            return own
        prior = LatentPrior.for_generator(self.latent_dim, self.num_classes)
        extra = list(self._hooks.latent_inputs())
        return LatentPrior(prior.inputs + extra) if extra else prior

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
        declared = self._hooks.sample_spec
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

    def _conditioning(self, labels):
        return {"label": labels} if self.conditional else {}

    def _viewed(self, samples):
        """Samples as the discriminator takes them: the generator's `discriminator_view` where it
        has one (token ids as one-hots), else as they are."""
        return self._hooks.discriminator_view(samples)
