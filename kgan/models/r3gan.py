"""R3GAN's generator and discriminator (Huang, Gokaslan, Kuleshov, Tompkin, "The GAN is dead; long
live the GAN! A Modern GAN Baseline", NeurIPS 2024; brownvc/R3GAN), optionally class-conditional.

A plain modern ResNet: stages of residual blocks, each an inverted bottleneck (1x1 to `expansion`
times the channels, grouped kxk, 1x1 back) with bias and leaky ReLU 0.2 between, no
normalization, and the last layer of each residual branch initialized to zero (fix-up style: every
block starts as the identity). Layers start from N(0, gain / sqrt(fan_in)) with the leaky ReLU's
gain times L^(-1/4), L the number of blocks, so that the sum of L branches keeps its variance.
Stages change resolution through the low-pass filter [1, 3, 3, 1] (`FilteredUpsample`,
`FilteredDownsample`) and width through a 1x1 convolution. The generator starts from a learned
4x4 basis scaled per channel by a linear map of `z` (and the label's embedding); the
discriminator ends in a depthwise 4x4 convolution and a linear map, to one logit, or, when
conditional, to a vector whose dot product with the label's embedding is the logit.

Widths, blocks and cardinality are given per stage, the generator's from 4x4 up, the
discriminator's from the image down. Both are functional Keras models built in `__init__`,
inputs named as the other families' (`z`, `label`; `image`, `label`).
"""

import math

import keras
from keras import layers

from kgan.errors import KganError
from kgan.layers import (GROUPED_IMPLEMENTATIONS, FilteredDownsample, FilteredUpsample, GroupedConv2D, LeakyReLU,
                         msr_initializer)
from kgan.models._heads import add_member_head
from kgan.models._kept import _Kept
from kgan.models._shapes import check_image_shape, check_member_head, check_num_classes, check_positive
from kgan.models.base import Discriminator, Generator

__all__ = ["R3GANGenerator", "R3GANDiscriminator"]

LEAKY_GAIN = math.sqrt(2 / (1 + 0.2**2))  # the leaky ReLU's gain: variance kept through it


def _stages(image_shape):
    """Stages from 4x4 to the image's side: its side must be a power of two from 8 to 256 (square)."""
    height, width, _ = image_shape
    if height != width or height < 8 or height > 256 or height & (height - 1):
        raise KganError(f"the r3gan family makes square images of a power-of-two side from 8 to 256, got "
                        f"{height}x{width}: resize them (--image-size) or use the dcgan family")
    return int(math.log2(height)) - 1


def _per_stage(name, value, stages):
    """An int for every stage, or a list of one per stage, as a list of positive ints."""
    values = [value] * stages if isinstance(value, int) else list(value)
    if len(values) != stages or any(int(v) <= 0 for v in values):
        raise KganError(f"{name} must be a positive int or a list of {stages} (one a stage), got {value!r}")
    return [int(v) for v in values]


def _cardinality(widths, expansion, cardinality, stages):
    """Groups of each stage's grouped convolution: by default 16 channels a group (R3GAN: 1536 / 96)."""
    if cardinality is None:
        return [max(1, w * expansion // 16) for w in widths]
    values = _per_stage("cardinality", cardinality, stages)
    for w, c in zip(widths, values):
        if (w * expansion) % c:
            raise KganError(f"cardinality {c} must divide the expanded width {w} x {expansion} = {w * expansion}")
    return values


def _residual_block(x, cardinality, expansion, kernel_size, gain, implementation, name):
    width = x.shape[-1]
    expanded = width * expansion
    y = GroupedConv2D(expanded, 1, use_bias=True, gain=gain, name=f"{name}_expand")(x)
    y = LeakyReLU(0.2, name=f"{name}_act1")(y)
    y = GroupedConv2D(expanded, kernel_size, groups=cardinality, use_bias=True, gain=gain,
                      implementation=implementation, name=f"{name}_grouped")(y)
    y = LeakyReLU(0.2, name=f"{name}_act2")(y)
    y = GroupedConv2D(width, 1, gain=0.0, name=f"{name}_project")(y)  # zero: the block starts as the identity
    return layers.Add(name=f"{name}_add")([x, y])


def _blocks(x, count, cardinality, expansion, kernel_size, gain, implementation, name):
    for i in range(count):
        x = _residual_block(x, cardinality, expansion, kernel_size, gain, implementation, f"{name}_block{i + 1}")
    return x


@keras.saving.register_keras_serializable(package="kgan")
class GenerativeBasis(layers.Layer):
    """`v -> basis * v`: a learned `[4, 4, channels]` map, each channel scaled by one entry of `v`
    (R3GAN's generative basis; the linear map to `v` is the layer before)."""

    def build(self, input_shape):
        self.basis = self.add_weight(name="basis", shape=(4, 4, int(input_shape[-1])),
                                     initializer=keras.initializers.RandomNormal(stddev=1.0))

    def call(self, inputs):
        return keras.ops.cast(self.basis, inputs.dtype)[None] * inputs[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 4, 4, input_shape[-1])


@keras.saving.register_keras_serializable(package="kgan")
class DiscriminativeBasis(layers.Layer):
    """`[b, 4, 4, c] -> [b, c]`: each channel's 4x4 map weighed by its own learned 4x4 basis and summed
    (R3GAN's discriminative basis, a depthwise 4x4 convolution without padding; written as a product
    and a sum, whose gradient converts to ONNX as plainly as the forward pass)."""

    def build(self, input_shape):
        if tuple(input_shape[1:3]) != (4, 4):
            raise ValueError(f"the discriminative basis takes 4x4 maps, got {tuple(input_shape[1:3])}")
        self.basis = self.add_weight(name="basis", shape=(4, 4, int(input_shape[-1])),
                                     initializer=msr_initializer(16))

    def call(self, inputs):
        return keras.ops.sum(inputs * keras.ops.cast(self.basis, inputs.dtype)[None], axis=(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def _options(widths, blocks, cardinality, expansion, kernel_size, implementation, stages):
    widths = _per_stage("widths", widths, stages)
    blocks = _per_stage("blocks", blocks, stages)
    expansion = check_positive("expansion", expansion)
    cardinality = _cardinality(widths, expansion, cardinality, stages)
    if implementation not in GROUPED_IMPLEMENTATIONS:
        raise KganError(f"implementation must be one of {', '.join(GROUPED_IMPLEMENTATIONS)}, got {implementation!r}")
    if int(kernel_size) < 1 or int(kernel_size) % 2 == 0:
        raise KganError(f"kernel_size must be a positive odd number, got {kernel_size!r}")
    gain = LEAKY_GAIN * sum(blocks) ** (-1 / 4)
    return widths, blocks, cardinality, expansion, gain


@keras.saving.register_keras_serializable(package="kgan")
class R3GANGenerator(_Kept, Generator, keras.Model):
    """R3GAN's generator: a 4x4 basis, then stages of residual blocks, each after a filtered 2x upsample.

    The output is linear, as in the paper (no tanh): images in [-1, 1] are its training target and
    everything that shows or converts them clips to that range. Float32 whatever the dtype policy.

    Args:
        image_shape: `(side, side, channels)`, the side a power of two from 8 to 256, 1 or 3 channels.
        latent_dim: size of `z` (R3GAN: 64).
        num_classes: classes of a conditional generator: the label's embedding joins `z`. None: unconditional.
        widths: channels of each stage from 4x4 up (an int: every stage); R3GAN: 768 on CIFAR-10.
        blocks: residual blocks of each stage (R3GAN: 2).
        cardinality: groups of each stage's grouped convolution; None: 16 channels a group.
        expansion: the inverted bottleneck's widening (R3GAN: 2).
        kernel_size: the grouped convolution's kernel (R3GAN: 3).
        embedding_dim: the label embedding's size; None: `latent_dim`, as R3GAN.
        implementation: how grouped convolutions run (`kgan.layers.GroupedConv2D`): `"grouped"`,
            `"split"` or `"dense"`; the same weights in each.

    Example:
        >>> g = R3GANGenerator((8, 8, 1), latent_dim=16, widths=32)
        >>> g(keras.random.normal((2, 16))).shape
        TensorShape([2, 8, 8, 1])
    """

    kind = "image"

    def __init__(self, image_shape, latent_dim=64, num_classes=None, widths=64, blocks=2, cardinality=None,
                 expansion=2, kernel_size=3, embedding_dim=None, implementation="grouped", **kwargs):
        image_shape = check_image_shape(image_shape)
        latent_dim = check_positive("latent_dim", latent_dim)
        num_classes = check_num_classes(num_classes)
        stages = _stages(image_shape)
        stage_widths, stage_blocks, groups, expansion, gain = _options(
            widths, blocks, cardinality, expansion, kernel_size, implementation, stages)
        embedding = check_positive("embedding_dim", embedding_dim or latent_dim)

        z = keras.Input((latent_dim,), name="z")
        inputs, x = z, z
        if num_classes:
            label = keras.Input((), dtype="int32", name="label")
            embedded = layers.Embedding(num_classes, embedding, embeddings_initializer=msr_initializer(num_classes),
                                        name="label_embedding")(label)
            x = layers.Concatenate(name="z_and_label")([z, embedded])
            inputs = [z, label]
        x = layers.Dense(stage_widths[0], use_bias=False, kernel_initializer=msr_initializer(x.shape[-1]),
                         name="basis_scale")(x)
        x = GenerativeBasis(name="basis")(x)
        for s in range(stages):
            if s:
                if stage_widths[s] != stage_widths[s - 1]:
                    x = GroupedConv2D(stage_widths[s], 1, name=f"stage{s + 1}_width")(x)
                x = FilteredUpsample(name=f"stage{s + 1}_up")(x)
            x = _blocks(x, stage_blocks[s], groups[s], expansion, kernel_size, gain, implementation, f"stage{s + 1}")
        image = GroupedConv2D(image_shape[-1], 1, dtype="float32", name="image")(x)
        super().__init__(inputs=inputs, outputs=image, **kwargs)

        self._keep(image_shape=image_shape, latent_dim=latent_dim, num_classes=num_classes, widths=widths,
                   blocks=blocks, cardinality=cardinality, expansion=expansion, kernel_size=kernel_size,
                   embedding_dim=embedding_dim, implementation=implementation)


@keras.saving.register_keras_serializable(package="kgan")
class R3GANDiscriminator(_Kept, Discriminator, keras.Model):
    """R3GAN's discriminator: a 1x1 extraction, stages of residual blocks each followed by a filtered 2x
    downsample, and at 4x4 a depthwise 4x4 convolution and a linear map.

    Args:
        image_shape: `(side, side, channels)`, any channel count (PacGAN packs channels).
        num_classes: classes of a conditional discriminator: the logit is the dot product of its
            last features' linear map with the label's embedding (R3GAN's projection). None: unconditional.
        widths: channels of each stage from the image's side down (an int: every stage).
        blocks: residual blocks of each stage.
        cardinality: groups of each stage's grouped convolution; None: 16 channels a group.
        expansion: the inverted bottleneck's widening.
        kernel_size: the grouped convolution's kernel.
        embedding_dim: the label embedding's size (conditional); None: the last stage's width, as R3GAN.
        member_head: K adds a second output, K logits of which mixture member made a sample (MGAN).
        implementation: how grouped convolutions run (`kgan.layers.GroupedConv2D`).

    Example:
        >>> d = R3GANDiscriminator((8, 8, 1), num_classes=10, widths=32)
        >>> d([keras.random.normal((2, 8, 8, 1)), keras.ops.array([3, 7])]).shape
        TensorShape([2, 1])
    """

    def __init__(self, image_shape, num_classes=None, widths=64, blocks=2, cardinality=None, expansion=2,
                 kernel_size=3, embedding_dim=None, member_head=None, implementation="grouped", **kwargs):
        image_shape = check_image_shape(image_shape, any_channels=True)
        num_classes = check_num_classes(num_classes)
        member_head = check_member_head(member_head)
        stages = _stages(image_shape)
        stage_widths, stage_blocks, groups, expansion, gain = _options(
            widths, blocks, cardinality, expansion, kernel_size, implementation, stages)

        image = keras.Input(image_shape, name="image")
        x = GroupedConv2D(stage_widths[0], 1, name="extract")(image)
        for s in range(stages):
            x = _blocks(x, stage_blocks[s], groups[s], expansion, kernel_size, gain, implementation, f"stage{s + 1}")
            if s + 1 < stages:
                x = FilteredDownsample(name=f"stage{s + 1}_down")(x)
                if stage_widths[s + 1] != stage_widths[s]:
                    x = GroupedConv2D(stage_widths[s + 1], 1, name=f"stage{s + 1}_width")(x)
        features = DiscriminativeBasis(name="basis")(x)
        width = features.shape[-1]
        inputs = image
        if num_classes:
            embedding = check_positive("embedding_dim", embedding_dim or width)
            label = keras.Input((), dtype="int32", name="label")
            projected = layers.Dense(embedding, use_bias=False, kernel_initializer=msr_initializer(width),
                                     dtype="float32", name="to_embedding")(features)
            embedded = layers.Embedding(num_classes, embedding, dtype="float32", name="label_embedding",
                                        embeddings_initializer=msr_initializer(num_classes, 1 / math.sqrt(embedding)))(label)
            logit = layers.Dot(axes=1, dtype="float32", name="logit")([projected, embedded])
            inputs = [image, label]
        else:
            logit = layers.Dense(1, use_bias=False, kernel_initializer=msr_initializer(width), dtype="float32",
                                 name="logit")(features)
        outputs = [logit, add_member_head(features, member_head)] if member_head else logit
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self._keep(image_shape=image_shape, num_classes=num_classes, widths=widths, blocks=blocks,
                   cardinality=cardinality, expansion=expansion, kernel_size=kernel_size, embedding_dim=embedding_dim,
                   member_head=member_head, implementation=implementation)
