"""The family protocol: what `GAN`, training, export and the runtime read of a generator and a
discriminator, and the registry that makes a family usable by name.

A family is a generator class and a discriminator class. Each is a Keras model that also
inherits the plain mixin here (`class MyGenerator(Generator, keras.Model)`), which states
what the model must have and gives every optional part its default:

- a generator must have `latent_dim` (the size of `z`, or None when it declares its own
  inputs with `latent_prior`) and `num_classes` (None: unconditional), and states the
  `kind` of sample it makes (`"image"`, `"vector"`, `"video"`, `"tokens"`, or a kind
  registered with `kgan.runtime.samples.register_kind`);
- it may name its samples (`sample_spec`), declare its inputs (`latent_prior`) or add
  to the usual ones (`latent_inputs`), feed training batches (`training_inputs`,
  `training_sample`), show samples to the discriminator in another form
  (`discriminator_view`), hold members (`num_members`) or give likelihoods (`log_probs`).

Any other Keras model works as a generator too: `protocol(model)` reads it with the
defaults, `latent_dim` taken from its input shape. `register_family(name, generator_cls,
discriminator_cls)` adds a family to `kgan train --family`, presets and the tests' family
matrix; both classes build from a `SampleSpec` with `for_spec`.
"""

import dataclasses

from kgan.errors import KganError

__all__ = ["Generator", "Discriminator", "Family", "FAMILIES", "register_family", "get_family", "protocol"]


class Generator:
    """Mixin of a generator family (before `keras.Model` in the bases): the protocol's defaults."""

    kind = "image"  # the kind of sample the family makes
    latent_dim = None
    num_classes = None
    sample_spec = None  # None: `GAN` reads it from the output shape
    num_members = None  # a mixture's member count
    log_probs = None  # a language model's `log_probs(tokens, labels)`: its likelihood of given samples

    @classmethod
    def for_spec(cls, spec, latent_dim, num_classes=None, **options):
        """A generator of `spec`'s samples (a `SampleSpec`); a family whose constructor takes
        something other than the sample shape overrides it."""
        return cls(tuple(spec.shape), latent_dim=latent_dim, num_classes=num_classes, **options)

    def latent_prior(self):
        """Its named inputs and how to draw them (a `LatentPrior`), or None for the usual
        `z` (and `label`) with what `latent_inputs` adds."""
        return None

    def latent_inputs(self):
        """Inputs it adds after `z` and `label` (a mixture's `member`)."""
        return ()

    def training_inputs(self, batch):
        """Values of those added inputs for a training batch.

        Args:
            batch: rows of the training batch.

        Returns:
            `{name: tensor [batch, ...]}`; empty for a generator of `z` (and labels) alone.
        """
        return {}

    def training_sample(self, batch, labels, uniform, step):
        """A training batch of fakes when the generator makes its own (a relaxed sample).

        Args:
            batch: rows of the training batch.
            labels: their class labels (None when unconditional).
            uniform: `uniform(shape)` draws the step's uniforms (the GAN's seeded stream).
            step: the generator's step.

        Returns:
            The fakes, or None (the default): the GAN runs the generator on fresh latents.
        """
        return None

    def discriminator_view(self, samples):
        """Samples (real or generated) as the discriminator takes them.

        Args:
            samples: a batch as the data or the generator gives it.

        Returns:
            The batch the discriminator is called on (the samples themselves by default).
        """
        return samples


class Discriminator:
    """Mixin of a discriminator family: one logit a sample (a second output, member logits,
    with a member head)."""

    @classmethod
    def for_spec(cls, spec, num_classes=None, pack=1, **options):
        """A discriminator of `spec`'s samples, `pack` of them joined along the last axis."""
        shape = tuple(spec.shape)
        return cls(shape[:-1] + (shape[-1] * int(pack),), num_classes=num_classes, **options)


class _Plain(Generator):
    """Any Keras model read as a generator: the protocol's defaults, `latent_dim` from its input."""

    kind = None  # unknown: `GAN` reads the sample spec from the output shape

    def __init__(self, model):
        self.latent_dim = _input_size(model)


def protocol(generator):
    """`generator` as the protocol reads it: itself when it inherits `Generator`, else its defaults."""
    return generator if isinstance(generator, Generator) else _Plain(generator)


def _input_size(model):
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        return None
    if isinstance(shape, list):
        shape = shape[0]
    return int(shape[-1]) if shape and shape[-1] is not None else None


@dataclasses.dataclass(frozen=True)
class Family:
    """A registered family: its name and its two classes.

    Attributes:
        name: the name `kgan train --model NAME` and a preset's `model` use.
        generator: its `Generator` subclass.
        discriminator: its `Discriminator` subclass.
    """

    name: str
    generator: type
    discriminator: type

    @property
    def kind(self):
        return self.generator.kind

    def build(self, spec, latent_dim, num_classes=None, pack=1, generator=None, discriminator=None):
        """The family's two networks for samples of `spec`.

        Args:
            spec: the `SampleSpec` of the data (shape, kind, value range).
            latent_dim: size of z.
            num_classes: classes of a conditional model (None: unconditional).
            pack: samples the discriminator judges at once (PacGAN).
            generator: keyword arguments of the generator class (`filters`, `hidden_units`...).
            discriminator: keyword arguments of the discriminator class.

        Returns:
            `(generator, discriminator)`, each built by its class's `for_spec`.
        """
        return (self.generator.for_spec(spec, latent_dim, num_classes, **(generator or {})),
                self.discriminator.for_spec(spec, num_classes, pack, **(discriminator or {})))


FAMILIES = {}


def register_family(name, generator_cls, discriminator_cls):
    """Makes a family usable by name: `kgan train --model NAME`, a preset's `model`, the tests'
    family matrix.

    Args:
        name: the family's name.
        generator_cls: its `Generator` subclass.
        discriminator_cls: its `Discriminator` subclass.

    Returns:
        The `Family`.
    """
    if not (isinstance(generator_cls, type) and issubclass(generator_cls, Generator)):
        raise KganError(f"the {name} family's generator must subclass kgan.models.Generator")
    if not (isinstance(discriminator_cls, type) and issubclass(discriminator_cls, Discriminator)):
        raise KganError(f"the {name} family's discriminator must subclass kgan.models.Discriminator")
    FAMILIES[name] = Family(name, generator_cls, discriminator_cls)
    return FAMILIES[name]


def get_family(name):
    """The registered family `name`.

    Args:
        name: a registered family's name (`FAMILIES`).

    Returns:
        Its `Family`.

    Raises:
        KganError: for an unknown name, listing the families.
    """
    if name not in FAMILIES:
        raise KganError(f"unknown model family {name!r}: choose one of {', '.join(FAMILIES)}")
    return FAMILIES[name]
