"""The image-to-image family (`pix2pix`): a U-Net generator that takes an image and a PatchGAN
discriminator that judges (input, output) pairs (Isola et al., "Image-to-Image Translation with
Conditional Adversarial Networks", CVPR 2017).

The generator is fully convolutional, so a model trained on patches runs on images of any size
whose sides are multiples of `2 ** depth` (`kgan.runtime.restore.restore` pads to that): an
encoder of `depth` stride-2 convolutions, a decoder of nearest 2x upsamplings each followed by a
3x3 convolution (no checkerboard) and joined to the encoder's features of its size (the U-Net's
skips), residual blocks at the input's resolution, then for super-resolution either log2(factor)
more upsampling steps (ESRGAN's nearest + convolution, `upsample="resize"`) or one convolution
to `factor ** 2` times the channels rearranged into pixels (ESPCN's sub-pixel convolution,
`upsample="shuffle"`), which keeps every convolution at the input's resolution. With `depth=0`
there is no encoder: the residual blocks alone, SRResNet's and EDSR's shape. It predicts a
residual over the input (bicubically upsampled for super-resolution), so it starts as the
identity, and for inpainting it keeps the known pixels: only the masked ones are its own. No
normalization: every output pixel depends on its neighbourhood alone, whatever the image size or
batch.

The discriminator sees the output beside its input (upsampled to the output's size, with the
mask for inpainting) and gives one logit for each patch of about `4 * 2 ** layers` pixels.
"""

import math

import keras
from keras import layers

from kgan.errors import KganError
from kgan.layers import LeakyReLU
from kgan.models._kept import _Kept
from kgan.models._shapes import check_image_shape, check_positive
from kgan.models.base import Discriminator, Generator
from kgan.runtime.latent import LatentPrior
from kgan.runtime.restore import ImageInput, MaskInput, Task
from kgan.runtime.samples import SampleSpec

__all__ = ["UNetGenerator", "PatchDiscriminator", "UPSAMPLES"]

UPSAMPLES = ("resize", "shuffle")


def _input_side(side, task, depth):
    """The input's side for an output patch of `side`; refused when the encoder cannot halve it `depth` times."""
    small = side // task.factor
    if side % task.factor or small % (2**depth) or small < 2**depth:
        raise KganError(f"the {task} task's patches of {side} pixels give inputs of {side / task.factor:g}, which a "
                        f"U-Net of depth {depth} cannot halve {depth} times: use a patch that is a multiple of "
                        f"{task.factor * 2**depth} (--patch-size) or a smaller depth")
    return small


@keras.saving.register_keras_serializable(package="kgan")
class UNetGenerator(_Kept, Generator, keras.Model):
    """A U-Net that restores an image: `image` (and `mask`, inpainting) to `restored`.

    Args:
        image_shape: `(side, side, channels)` of the output patches it trains on (any size runs).
        latent_dim: unused (the family's generators take no `z`); kept for the family protocol.
        num_classes: must be None.
        task: the `kgan.runtime.restore.Task` (or its text, `"superres:4"`) its inputs come from.
        filters: channels of the first level; each level below doubles them, up to `8 * filters`.
        depth: stride-2 levels of the encoder (the input's sides are multiples of `2 ** depth`);
            0: no encoder, the residual blocks alone.
        blocks: residual blocks (3x3, leaky ReLU, 3x3) at the input's resolution after the decoder,
            where super-resolution networks (SRResNet, EDSR) do their work; 0: none.
        upsample: super-resolution's larger sides: `"resize"` (nearest 2x + 3x3 convolution, each
            step at the larger size) or `"shuffle"` (a 3x3 convolution at the input's size to
            `factor ** 2` times the channels, rearranged into pixels: depth to space).

    Example:
        >>> g = UNetGenerator((32, 32, 3), task="superres:4", filters=16, depth=2)
        >>> g(keras.random.uniform((1, 8, 8, 3))).shape
        TensorShape([1, 32, 32, 3])
    """

    kind = "restored"

    def __init__(self, image_shape, latent_dim=None, num_classes=None, task="denoise:0.1", filters=32, depth=3,
                 blocks=0, upsample="resize", **kwargs):
        image_shape = check_image_shape(image_shape)
        if num_classes:
            raise KganError("the pix2pix family restores images; it takes no class labels: drop --conditional")
        task = Task.parse(task)
        filters = check_positive("filters", filters)
        for name, value in (("depth", depth), ("blocks", blocks)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise KganError(f"{name} must be an integer >= 0, got {value!r}")
        if upsample not in UPSAMPLES:
            raise KganError(f"upsample must be one of {', '.join(UPSAMPLES)}, got {upsample!r}")
        height, width, channels = image_shape
        small = (_input_side(height, task, depth), _input_side(width, task, depth))

        image = keras.Input((None, None, channels), name="image")
        inputs = [image]
        x = image
        if task.masked:
            mask = keras.Input((None, None, 1), name="mask")
            inputs.append(mask)
            x = layers.Concatenate(name="image_and_mask")([image, mask])
        x = _conv(x, filters, 3, 1, "in")
        skips = []
        for level in range(depth):
            skips.append(x)
            x = _conv(x, _width(filters, level + 1), 4, 2, f"down{level + 1}")
            x = _conv(x, _width(filters, level + 1), 3, 1, f"down{level + 1}_b")
        for level in reversed(range(depth)):
            x = layers.UpSampling2D(2, name=f"up{level + 1}_resize")(x)
            x = _conv(x, _width(filters, level), 3, 1, f"up{level + 1}")
            x = layers.Concatenate(name=f"up{level + 1}_skip")([x, skips[level]])
            x = _conv(x, _width(filters, level), 3, 1, f"up{level + 1}_b")
        for block in range(blocks):
            branch = _conv(x, filters, 3, 1, f"block{block + 1}_a")
            branch = layers.Conv2D(filters, 3, padding="same", kernel_initializer="zeros",  # each starts as the identity
                                   name=f"block{block + 1}_b")(branch)
            x = layers.Add(name=f"block{block + 1}")([x, branch])
        base = image
        if task.factor > 1:
            base = ResizeUpsample(task.factor, name="base")(image)
        if task.factor > 1 and upsample == "shuffle":  # the residual's pixels from the input's size
            x = layers.Conv2D(channels * task.factor**2, 3, padding="same", kernel_initializer="zeros",
                              name="residual_subpixels")(x)
            residual = PixelShuffle(task.factor, dtype="float32", name="residual")(x)
        else:
            for step in range(int(math.log2(task.factor))):  # the larger sides: half the channels, at least 16
                x = layers.UpSampling2D(2, name=f"sr{step + 1}_resize")(x)
                x = _conv(x, max(16, filters // 2), 3, 1, f"sr{step + 1}")
            residual = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros", dtype="float32",
                                     name="residual")(x)
        out = layers.Add(name="restored_raw", dtype="float32")([base, residual])
        if task.masked:  # the known pixels are the input's
            out = Composite(name="restored_known", dtype="float32")([out, image, mask])
        out = layers.Activation("linear", dtype="float32", name="restored")(out)
        super().__init__(inputs=inputs if task.masked else image, outputs=out, **kwargs)
        self.task_spec = task
        self._input_size = small
        self._keep(image_shape=image_shape, latent_dim=None, num_classes=None, task=str(task), filters=filters,
                   depth=depth, blocks=blocks, upsample=upsample)

    @property
    def multiple(self):
        """What the input's sides must be multiples of."""
        return 2**self.depth

    @property
    def sample_spec(self):
        return SampleSpec("restored", self.image_shape, value_range=(-1.0, 1.0))

    def latent_prior(self):
        """Its inputs: `image` (any size, the task's), and `mask` for inpainting."""
        inputs = [ImageInput("image", self.image_shape[-1], self._input_size, task=str(self.task_spec),
                             multiple=self.multiple)]
        if self.task_spec.masked:
            inputs.append(MaskInput("mask", self._input_size))
        return LatentPrior(inputs)


@keras.saving.register_keras_serializable(package="kgan")
class ResizeUpsample(layers.Layer):
    """Bicubic upsampling by an integer factor of images of any size (Keras's `UpSampling2D`
    needs a static size for anything but nearest, which an export of any size does not have)."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, x):
        import tensorflow as tf

        size = tf.shape(x)[1:3] * self.factor
        return tf.cast(tf.image.resize(x, size, method="bicubic"), x.dtype)

    def compute_output_shape(self, shape):
        scaled = [None if s is None else s * self.factor for s in shape[1:3]]
        return (shape[0], *scaled, shape[3])

    def get_config(self):
        return dict(super().get_config(), factor=self.factor)


@keras.saving.register_keras_serializable(package="kgan")
class PixelShuffle(layers.Layer):
    """`[n, h, w, c * factor ** 2]` to `[n, h * factor, w * factor, c]`: each pixel's channels laid
    out as a `factor` x `factor` block (TensorFlow's depth to space; ONNX's DepthToSpace, DCR)."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, x):
        import tensorflow as tf

        return tf.nn.depth_to_space(x, self.factor)

    def compute_output_shape(self, shape):
        scaled = [None if s is None else s * self.factor for s in shape[1:3]]
        return (shape[0], *scaled, shape[3] // self.factor**2)

    def get_config(self):
        return dict(super().get_config(), factor=self.factor)


@keras.saving.register_keras_serializable(package="kgan")
class Composite(layers.Layer):
    """`[out, image, mask]` to `mask * out + (1 - mask) * image`: the known pixels kept."""

    def call(self, inputs):
        out, image, mask = inputs
        mask = keras.ops.cast(mask, out.dtype)
        return mask * out + (1.0 - mask) * keras.ops.cast(image, out.dtype)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]


@keras.saving.register_keras_serializable(package="kgan")
class PatchDiscriminator(_Kept, Discriminator, keras.Model):
    """PatchGAN: a logit for each patch of an output judged beside its input.

    Args:
        image_shape: `(side, side, channels)` of the outputs it judges (the training patches).
        num_classes: must be None.
        task: the generator's task (the input's size and the mask follow from it).
        filters: channels of the first layer, doubling with each stride-2 layer.
        strided: stride-2 layers (pix2pix's 70x70 PatchGAN has 3 at 256 pixels).

    The output is `[batch, patches]` logits; kgan's losses average over them. `feature_layers`
    names its hidden activations (`PairedGAN`'s feature matching reads them).
    """

    @classmethod
    def for_spec(cls, spec, num_classes=None, pack=1, **options):
        if int(pack) != 1:
            raise KganError("the pix2pix family judges (input, output) pairs one at a time: drop --pack")
        return cls(tuple(spec.shape), num_classes=num_classes, **options)

    def __init__(self, image_shape, num_classes=None, task="denoise:0.1", filters=32, strided=2, **kwargs):
        image_shape = check_image_shape(image_shape)
        if num_classes:
            raise KganError("the pix2pix family restores images; it takes no class labels: drop --conditional")
        task = Task.parse(task)
        filters, strided = check_positive("filters", filters), check_positive("strided", strided)
        height, width, channels = image_shape
        if min(height, width) < 2**strided:
            raise KganError(f"a PatchGAN of {strided} stride-2 layers needs patches of at least {2**strided} pixels")
        restored = keras.Input(image_shape, name="restored")
        image = keras.Input((height // task.factor, width // task.factor, channels), name="image")
        inputs = [restored, image]
        condition = image
        if task.factor > 1:
            condition = keras.layers.UpSampling2D(task.factor, name="image_resize")(image)
        joined = [restored, condition]
        if task.masked:
            mask = keras.Input((height, width, 1), name="mask")
            inputs.append(mask)
            joined.append(mask)
        x = keras.layers.Concatenate(name="pair")(joined)
        for level in range(strided):
            x = _conv(x, _width(filters, level), 4, 2, f"d{level + 1}")
        x = _conv(x, _width(filters, strided), 4, 1, "d_last")
        x = keras.layers.Conv2D(1, 4, padding="same", dtype="float32", name="patch_logits")(x)
        logits = keras.layers.Flatten(dtype="float32", name="logits")(x)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._keep(image_shape=image_shape, num_classes=None, task=str(task), filters=filters, strided=strided)

    @property
    def feature_layers(self):
        """Names of the hidden activations, first to last."""
        return (*(f"d{level + 1}_act" for level in range(self.strided)), "d_last_act")


def _width(filters, level):
    return filters * min(2**level, 8)


def _conv(x, filters, kernel, strides, name):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", name=name)(x)
    return LeakyReLU(0.2, name=f"{name}_act")(x)  # kgan's: grappler's fused LeakyRelu fails on the gradient
