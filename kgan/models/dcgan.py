"""DCGAN generator and discriminator (Radford et al., ICLR 2016), optionally conditional.

Both are keras-hub style functional subclasses: the graph is built in `__init__`, so
a model is usable, exportable and serializable the moment it exists. Inputs are
named: the generator takes `z` (and `label`), the discriminator `image` (and
`label`); conditional models are called with a list `[x, label]`.
"""

import keras
from keras import layers

from kgan.errors import KganError
from kgan.layers import LeakyReLU, MinibatchStdDev
from kgan.models._heads import add_heads
from kgan.models.base import Discriminator, Generator
from kgan.models._shapes import check_image_shape, check_member_head, check_num_classes, check_positive, num_doublings

__all__ = ["DCGANGenerator", "DCGANDiscriminator"]


def _activation(name, label):
    if name == "leaky_relu":
        return LeakyReLU(0.2, name=label)
    return layers.Activation(name, name=label)


@keras.saving.register_keras_serializable(package="kgan")
class DCGANGenerator(Generator, keras.Model):
    """Dense -> reshape -> Conv2DTranspose blocks (BatchNorm, activation) -> tanh.

    The seed map is the image size halved while it stays even and at least 4, and
    each block doubles it: 8x8 grows from 4x4, 28x28 from 7x7, 64x64 from 4x4. The
    output is float32 in [-1, 1] whatever the dtype policy.

    Args:
        image_shape: `(height, width, channels)`, channels 1 or 3.
        latent_dim: size of the latent vector `z`.
        num_classes: number of classes for a class-conditional generator: a label
            embedding is concatenated to `z`. None for an unconditional one.
        filters: filters of the last block; each earlier block doubles them.
        max_filters: cap on the filters of any block.
        kernel_size: kernel of the transposed convolutions.
        activation: `"relu"` (the DCGAN choice) or `"leaky_relu"`.
        batch_norm: BatchNorm after the dense layer and each block.
        embedding_dim: size of the label embedding (conditional only).

    Example:
        >>> g = DCGANGenerator((28, 28, 1), latent_dim=64)
        >>> g(keras.random.normal((2, 64))).shape
        TensorShape([2, 28, 28, 1])
    """

    kind = "image"

    def __init__(
        self,
        image_shape,
        latent_dim=128,
        num_classes=None,
        filters=64,
        max_filters=512,
        kernel_size=4,
        activation="relu",
        batch_norm=True,
        embedding_dim=32,
        **kwargs,
    ):
        image_shape = check_image_shape(image_shape)
        latent_dim = check_positive("latent_dim", latent_dim)
        num_classes = check_num_classes(num_classes)
        height, width, channels = image_shape
        steps = num_doublings(height, width)
        seed_h, seed_w = height >> steps, width >> steps

        def block_filters(i):
            return min(filters * 2 ** (steps - i), max_filters)

        z = keras.Input((latent_dim,), name="z")
        inputs, x = z, z
        if num_classes:
            label = keras.Input((), dtype="int32", name="label")
            embedded = layers.Embedding(num_classes, embedding_dim, name="label_embedding")(label)
            x = layers.Concatenate(name="z_and_label")([z, embedded])
            inputs = [z, label]
        x = layers.Dense(seed_h * seed_w * block_filters(0), use_bias=not batch_norm, name="project")(x)
        if batch_norm:
            x = layers.BatchNormalization(name="project_bn")(x)
        x = _activation(activation, "project_act")(x)
        x = layers.Reshape((seed_h, seed_w, block_filters(0)), name="seed_map")(x)
        for i in range(1, steps + 1):
            x = layers.Conv2DTranspose(
                block_filters(i), kernel_size, strides=2, padding="same", use_bias=not batch_norm, name=f"up{i}"
            )(x)
            if batch_norm:
                x = layers.BatchNormalization(name=f"up{i}_bn")(x)
            x = _activation(activation, f"up{i}_act")(x)
        image = layers.Conv2D(channels, 3, padding="same", activation="tanh", dtype="float32", name="image")(x)
        super().__init__(inputs=inputs, outputs=image, **kwargs)

        self.image_shape = image_shape
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.filters = filters
        self.max_filters = max_filters
        self.kernel_size = kernel_size
        self.activation = activation
        self.batch_norm = batch_norm
        self.embedding_dim = embedding_dim

    def get_config(self):
        # Not chained to Functional.get_config: a functional graph config cannot be
        # passed back to this constructor (the keras-hub Backbone convention).
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "filters": self.filters,
            "max_filters": self.max_filters,
            "kernel_size": self.kernel_size,
            "activation": self.activation,
            "batch_norm": self.batch_norm,
            "embedding_dim": self.embedding_dim,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="kgan")
class DCGANDiscriminator(Discriminator, keras.Model):
    """Conv2D blocks with LeakyReLU -> flatten -> Dense, one logit per image.

    Args:
        image_shape: `(height, width, channels)`.
        num_classes: number of classes for a conditional discriminator, which adds
            the projection `<embed(y), h>` to the logit (Miyato & Koyama, "cGANs
            with Projection Discriminator", ICLR 2018). None for unconditional.
        filters: filters of the first block; each later block doubles them.
        max_filters: cap on the filters of any block.
        num_blocks: number of downsampling blocks; by default as many as the
            generator has upsampling blocks.
        downsampling: `"strided"` (4x4 convolutions with stride 2, as in DCGAN) or
            `"maxpool"` (3x3 convolution then 2x2 MaxPooling2D, the classic
            description of a convolutional discriminator).
        spectral_norm: wrap every convolution and dense layer in
            `keras.layers.SpectralNormalization` (Miyato et al., ICLR 2018).
        dropout: dropout rate after each block.
        minibatch_std: append the batch's feature standard deviation as a channel
            before the last layers (`kgan.layers.MinibatchStdDev`, Karras et al. 2018).
        member_head: K adds a second output, K logits of which member of a
            `GeneratorMixture` made a sample (MGAN's classifier, sharing the body), for
            `GAN(..., diversity=beta)`. None: one output.

    Example:
        >>> d = DCGANDiscriminator((8, 8, 1), num_classes=10)
        >>> d([keras.random.normal((2, 8, 8, 1)), keras.ops.array([3, 7])]).shape
        TensorShape([2, 1])
    """

    def __init__(
        self,
        image_shape,
        num_classes=None,
        filters=64,
        max_filters=512,
        num_blocks=None,
        downsampling="strided",
        spectral_norm=False,
        dropout=0.0,
        minibatch_std=False,
        member_head=None,
        **kwargs,
    ):
        image_shape = check_image_shape(image_shape, any_channels=True)
        num_classes = check_num_classes(num_classes)
        if downsampling not in ("strided", "maxpool"):
            raise KganError(f"downsampling must be 'strided' or 'maxpool', got {downsampling!r}")
        height, width, _ = image_shape
        blocks = num_blocks if num_blocks is not None else max(1, num_doublings(height, width))

        def wrap(layer):
            return layers.SpectralNormalization(layer, name=f"{layer.name}_sn") if spectral_norm else layer

        image = keras.Input(image_shape, name="image")
        x = image
        for i in range(blocks):
            f = min(filters * 2**i, max_filters)
            if downsampling == "strided":
                x = wrap(layers.Conv2D(f, 4, strides=2, padding="same", name=f"down{i + 1}"))(x)
            else:
                x = wrap(layers.Conv2D(f, 3, padding="same", name=f"conv{i + 1}"))(x)
                x = layers.MaxPooling2D(2, padding="same", name=f"pool{i + 1}")(x)
            x = LeakyReLU(0.2, name=f"down{i + 1}_act")(x)
            if dropout:
                x = layers.Dropout(dropout, name=f"down{i + 1}_dropout")(x)
        if minibatch_std:
            x = MinibatchStdDev(name="minibatch_std")(x)
        features = layers.Flatten(name="features")(x)
        logit = wrap(layers.Dense(1, dtype="float32", name="logit"))(features)
        member_head = check_member_head(member_head)
        inputs, outputs = add_heads(image, logit, features, num_classes, member_head)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.image_shape = image_shape
        self.num_classes = num_classes
        self.filters = filters
        self.max_filters = max_filters
        self.num_blocks = num_blocks
        self.downsampling = downsampling
        self.spectral_norm = spectral_norm
        self.dropout = dropout
        self.minibatch_std = minibatch_std
        self.member_head = member_head

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_shape": self.image_shape,
            "num_classes": self.num_classes,
            "filters": self.filters,
            "max_filters": self.max_filters,
            "num_blocks": self.num_blocks,
            "downsampling": self.downsampling,
            "spectral_norm": self.spectral_norm,
            "dropout": self.dropout,
            "minibatch_std": self.minibatch_std,
            "member_head": self.member_head,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
