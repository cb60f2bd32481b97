"""Multilayer-perceptron generator and discriminator for 2-D and tabular data.

Inputs are named `z` (generator) and `sample` (discriminator), plus `label` for
conditional models, which take a list `[x, label]`.
"""

import keras
from keras import layers

from kgan.layers import LeakyReLU, MinibatchStdDev
from kgan.models._heads import add_heads
from kgan.models.base import Discriminator, Generator
from kgan.models._shapes import check_member_head, check_num_classes, check_positive

__all__ = ["MLPGenerator", "MLPDiscriminator"]


def _hidden(x, hidden_units, activation, prefix, spectral_norm=False):
    for i, units in enumerate(hidden_units):
        dense = layers.Dense(units, name=f"{prefix}{i + 1}")
        if spectral_norm:
            dense = layers.SpectralNormalization(dense, name=f"{prefix}{i + 1}_sn")
        x = dense(x)
        x = LeakyReLU(0.2, name=f"{prefix}{i + 1}_act")(x) if activation == "leaky_relu" else (
            layers.Activation(activation, name=f"{prefix}{i + 1}_act")(x)
        )
    return x


@keras.saving.register_keras_serializable(package="kgan")
class MLPGenerator(Generator, keras.Model):
    """Dense layers mapping `z` to a vector of `output_dim` (linear output, float32).

    Args:
        output_dim: size of each generated sample (2 for 2-D mixtures).
        latent_dim: size of `z`.
        hidden_units: widths of the hidden layers.
        activation: hidden activation (`"relu"`, `"leaky_relu"`, `"tanh"`, ...).
        num_classes: classes for a conditional generator (a label embedding joined
            to `z`).
        embedding_dim: size of that embedding.

    Example:
        >>> g = MLPGenerator(2, latent_dim=8)
        >>> g(keras.random.normal((5, 8))).shape
        TensorShape([5, 2])
    """

    kind = "vector"

    @classmethod
    def for_spec(cls, spec, latent_dim, num_classes=None, **options):
        return cls(spec.shape[0], latent_dim, num_classes=num_classes, **options)

    def __init__(
        self,
        output_dim,
        latent_dim=2,
        hidden_units=(128, 128),
        activation="relu",
        num_classes=None,
        embedding_dim=8,
        **kwargs,
    ):
        output_dim = check_positive("output_dim", output_dim)
        latent_dim = check_positive("latent_dim", latent_dim)
        num_classes = check_num_classes(num_classes)
        hidden_units = tuple(int(u) for u in hidden_units)
        z = keras.Input((latent_dim,), name="z")
        inputs, x = z, z
        if num_classes:
            label = keras.Input((), dtype="int32", name="label")
            embedded = layers.Embedding(num_classes, embedding_dim, name="label_embedding")(label)
            x = layers.Concatenate(name="z_and_label")([z, embedded])
            inputs = [z, label]
        x = _hidden(x, hidden_units, activation, "hidden")
        sample = layers.Dense(output_dim, dtype="float32", name="sample")(x)
        super().__init__(inputs=inputs, outputs=sample, **kwargs)
        self.output_dim = output_dim
        self.latent_dim = latent_dim
        self.hidden_units = hidden_units
        self.activation = activation
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "output_dim": self.output_dim,
            "latent_dim": self.latent_dim,
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
            "num_classes": self.num_classes,
            "embedding_dim": self.embedding_dim,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="kgan")
class MLPDiscriminator(Discriminator, keras.Model):
    """Dense layers mapping a sample to one logit.

    Args:
        input_dim: size of each sample.
        hidden_units: widths of the hidden layers.
        activation: hidden activation; `"leaky_relu"` by default.
        num_classes: classes for a conditional discriminator (projection, Miyato &
            Koyama 2018).
        spectral_norm: wrap the dense layers in `keras.layers.SpectralNormalization`.
        minibatch_std: append the batch's feature standard deviation before the
            logit (`kgan.layers.MinibatchStdDev`, Karras et al. 2018).
        member_head: K adds a second output, K logits of which member of a
            `GeneratorMixture` made a sample (MGAN's classifier, sharing the body), for
            `GAN(..., diversity=beta)`. None: one output.
    """

    @classmethod
    def for_spec(cls, spec, num_classes=None, pack=1, **options):
        return cls(spec.shape[0] * int(pack), num_classes=num_classes, **options)

    def __init__(
        self,
        input_dim,
        hidden_units=(128, 128),
        activation="leaky_relu",
        num_classes=None,
        spectral_norm=False,
        minibatch_std=False,
        member_head=None,
        **kwargs,
    ):
        input_dim = check_positive("input_dim", input_dim)
        num_classes = check_num_classes(num_classes)
        hidden_units = tuple(int(u) for u in hidden_units)
        sample = keras.Input((input_dim,), name="sample")
        features = _hidden(sample, hidden_units, activation, "hidden", spectral_norm)
        if minibatch_std:
            features = MinibatchStdDev(name="minibatch_std")(features)
        dense = layers.Dense(1, dtype="float32", name="logit")
        if spectral_norm:
            dense = layers.SpectralNormalization(dense, name="logit_sn")
        logit = dense(features)
        member_head = check_member_head(member_head)
        inputs, outputs = add_heads(sample, logit, features, num_classes, member_head)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.input_dim = input_dim
        self.hidden_units = hidden_units
        self.activation = activation
        self.num_classes = num_classes
        self.spectral_norm = spectral_norm
        self.minibatch_std = minibatch_std
        self.member_head = member_head

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_dim": self.input_dim,
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
            "num_classes": self.num_classes,
            "spectral_norm": self.spectral_norm,
            "minibatch_std": self.minibatch_std,
            "member_head": self.member_head,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
