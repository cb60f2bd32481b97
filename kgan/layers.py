"""Layers kgan's models use beyond Keras's own."""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

__all__ = ["LeakyReLU", "MinibatchStdDev", "PlaceSprites", "GroupedConv2D", "FilteredUpsample", "FilteredDownsample",
           "msr_initializer", "GROUPED_IMPLEMENTATIONS"]

GROUPED_IMPLEMENTATIONS = ("grouped", "split", "dense")


def msr_initializer(fan_in, gain=1.0):
    """N(0, gain / sqrt(fan_in)): He et al.'s ("MSR") initialization with a gain, as R3GAN's networks use.

    Args:
        fan_in: the inputs each output sums over.
        gain: the standard deviation's factor; 0 gives zeros (the last layer of a residual branch,
            fix-up style).

    Returns:
        A Keras initializer.
    """
    if gain == 0:
        return keras.initializers.Zeros()
    return keras.initializers.RandomNormal(stddev=gain / math.sqrt(fan_in))


@keras.saving.register_keras_serializable(package="kgan")
class LeakyReLU(keras.layers.LeakyReLU):
    """Keras's LeakyReLU computed as `max(x, negative_slope * x)` (the same for slopes in [0, 1]).

    TensorFlow's grappler fuses Conv2D or MatMul + BiasAdd + LeakyRelu in the forward pass,
    then cannot rewrite the gradient, which needs the unfused BiasAdd, and logs
    "remapper failed: ... LeakyReluGrad ... missing node" on every trace. Written as a
    maximum, the activation gives the remapper nothing to fuse, so training is quiet.
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if not 0.0 <= negative_slope <= 1.0:
            raise ValueError(f"negative_slope must be in [0, 1], got {negative_slope!r}")
        super().__init__(negative_slope=negative_slope, **kwargs)

    def call(self, inputs):
        return ops.maximum(inputs, ops.cast(self.negative_slope, inputs.dtype) * inputs)


@keras.saving.register_keras_serializable(package="kgan")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the batch's average feature standard deviation as one more channel.

    A discriminator that sees how varied its batch is can penalise a generator that
    collapses to few modes (Karras et al., "Progressive Growing of GANs", ICLR 2018,
    section 3; there in groups, here over the whole batch). Works on `[b, ..., c]`.
    """

    batch_coupled = True  # its output depends on the whole batch: `kgan.GAN` never joins batches through it

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        std = ops.sqrt(ops.var(x, axis=0) + 1e-8)
        statistic = ops.mean(std)
        extra = ops.ones_like(x[..., :1]) * statistic
        return ops.cast(ops.concatenate([x, extra], axis=-1), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (None if input_shape[-1] is None else input_shape[-1] + 1,)


@keras.saving.register_keras_serializable(package="kgan")
class PlaceSprites(keras.layers.Layer):
    """Draws sprites at a position a frame on empty frames: `(sprites, positions) -> clips`.

    `sprites` `[b, s, h, w, c]` hold ink in [0, 1]; `positions` `[b, frames, s, 2]` the
    top-left corner of each sprite in each frame as a share of the room it moves in (row and
    column; 0: top or left edge, 1: bottom or right). With the corner at `(r, q)` pixels, a
    frame is `A @ sprite @ B^T` with raised-cosine weights `A[i, j] = w(i - j - r)`, `w(d) =
    (1 + cos(pi min(|d|, 1))) / 2` (and `B` for columns): a whole-pixel corner copies the
    sprite there, a fractional one shares each sprite pixel between its two neighbours (the
    shares sum to 1), and the weights are smooth in the corner, so the clip's gradient is too
    (a tent's would jump at whole pixels, where float rounding then decides it). Several
    sprites are joined by their pixel-wise maximum, as moving digits are drawn. The result
    is `[b, frames, height, width, c]` in [-1, 1] (no ink: -1), by matrix products.

    With `whole_pixels`, the frames show each sprite at its nearest whole pixel, sharp as
    rendered clips are, while the gradient is the blended draw's (straight through).
    """

    def __init__(self, canvas, whole_pixels=False, **kwargs):
        super().__init__(**kwargs)
        self.canvas = tuple(int(s) for s in canvas)
        self.whole_pixels = bool(whole_pixels)

    @staticmethod
    def _weights(size, side, share):
        """`[b, frames, s, size, side]`: the weight of sprite row `j` on canvas row `i`."""
        i = ops.arange(size, dtype=share.dtype)[:, None]
        j = ops.arange(side, dtype=share.dtype)[None, :]
        corner = share * float(size - side)
        distance = ops.minimum(ops.abs(i - j - corner[..., None, None]), 1.0)
        return 0.5 + 0.5 * ops.cos(np.pi * distance)

    def _draw(self, sprites, positions):
        rows = self._weights(self.canvas[0], sprites.shape[2], positions[..., 0])
        cols = self._weights(self.canvas[1], sprites.shape[3], positions[..., 1])
        # A @ sprite @ B^T as two broadcast matrix products over [b, t, s, c]: the einsum
        # btsyi,bsijc,btsxj->btyxsc without an Einsum node, whose ONNX conversion (tf2onnx
        # searches every order of its eight indices) took a minute for any size of model.
        sprites = ops.transpose(sprites, (0, 1, 4, 2, 3))[:, None]  # [b, 1, s, c, i, j]
        frames = ops.matmul(ops.matmul(rows[:, :, :, None], sprites), ops.swapaxes(cols, -1, -2)[:, :, :, None])
        frames = ops.transpose(frames, (0, 1, 4, 5, 2, 3))  # [b, t, s, c, y, x] -> [b, t, y, x, s, c]
        return 2.0 * ops.max(frames, axis=4) - 1.0

    def call(self, sprites, positions):
        if sprites.shape[2] > self.canvas[0] or sprites.shape[3] > self.canvas[1]:
            raise ValueError(f"sprites of {tuple(sprites.shape[2:4])} do not fit frames of {self.canvas}")
        blended = self._draw(sprites, positions)
        if not self.whole_pixels:
            return blended
        room = ops.convert_to_tensor([self.canvas[0] - sprites.shape[2], self.canvas[1] - sprites.shape[3]],
                                     positions.dtype)
        whole = ops.round(positions * room) / ops.maximum(room, 1.0)
        return blended + ops.stop_gradient(self._draw(sprites, whole) - blended)

    def compute_output_shape(self, sprites_shape, positions_shape):
        return (sprites_shape[0], positions_shape[1], *self.canvas, sprites_shape[4])

    def get_config(self):
        return {**super().get_config(), "canvas": self.canvas, "whole_pixels": self.whole_pixels}


@keras.saving.register_keras_serializable(package="kgan")
class GroupedConv2D(keras.layers.Layer):
    """A stride-1, "same" convolution whose channels split into `groups` convolved apart (ResNeXt).

    The kernel is `[k, k, in / groups, filters]` whatever the implementation, so the weights are
    the same and the implementation can change after training:

    - `"grouped"`: one grouped `tf.nn.conv2d` (oneDNN's grouped convolution on CPU). Keras's own
      `Conv2D(groups=...)` compiles it with XLA on CPU, which `benchmarks/train_speed.py` measured
      far slower; TensorFlow 2.21's grouped convolution gives the same values and gradients.
    - `"split"`: one convolution a group, joined (what XLA on CPU compiles fastest).
    - `"dense"`: one ungrouped convolution with a block-diagonal kernel (groups times the work).

    Args:
        filters: output channels, a multiple of `groups`.
        kernel_size: the square kernel's side.
        groups: channel groups (1: an ordinary convolution; the input channels: depthwise).
        use_bias: add a bias.
        gain: the MSR initialization's gain (0: zeros).
        implementation: one of `GROUPED_IMPLEMENTATIONS`.
    """

    def __init__(self, filters, kernel_size=3, groups=1, use_bias=False, gain=1.0, implementation="grouped", **kwargs):
        super().__init__(**kwargs)
        if implementation not in GROUPED_IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {GROUPED_IMPLEMENTATIONS}, got {implementation!r}")
        if filters % groups:
            raise ValueError(f"filters ({filters}) must be a multiple of groups ({groups})")
        self.filters, self.kernel_size, self.groups = int(filters), int(kernel_size), int(groups)
        self.use_bias, self.gain, self.implementation = bool(use_bias), float(gain), implementation

    def build(self, input_shape):
        channels = int(input_shape[-1])
        if channels % self.groups:
            raise ValueError(f"input channels ({channels}) must be a multiple of groups ({self.groups})")
        per_group = channels // self.groups
        self.kernel = self.add_weight(
            name="kernel", shape=(self.kernel_size, self.kernel_size, per_group, self.filters),
            initializer=msr_initializer(per_group * self.kernel_size**2, self.gain))
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias else None

    def call(self, inputs):
        kernel = ops.cast(self.kernel, inputs.dtype)
        implementation = self.implementation
        if self.groups > 1 and implementation == "grouped" and not _grouped_gradients_run(inputs.dtype):
            implementation = "split"  # the same values, from ungrouped convolutions
        if self.groups == 1 or implementation == "grouped":
            y = _grouped_conv(inputs, kernel)
        elif implementation == "split":
            y = tf.concat([tf.nn.conv2d(x, k, 1, "SAME") for x, k in
                           zip(tf.split(inputs, self.groups, axis=3), tf.split(kernel, self.groups, axis=3))], axis=3)
        else:
            channels = int(inputs.shape[-1])
            size = channels // self.groups
            blocks = tf.split(kernel, self.groups, axis=3)
            kernel = tf.concat([tf.pad(b, [[0, 0], [0, 0], [g * size, channels - (g + 1) * size], [0, 0]])
                                for g, b in enumerate(blocks)], axis=3)
            y = tf.nn.conv2d(inputs, kernel, 1, "SAME")
        return y + ops.cast(self.bias, y.dtype) if self.bias is not None else y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "groups": self.groups, "use_bias": self.use_bias, "gain": self.gain,
                "implementation": self.implementation}


def _input_gradient_kernel(kernel, groups):
    """The kernel whose grouped "same" convolution of dy is dx: each group's kernel flipped in space,
    its input and output channels swapped."""
    kh, kw, per_group, filters = kernel.shape
    out_per_group = filters // groups
    k = tf.reshape(kernel[::-1, ::-1], [kh, kw, per_group, groups, out_per_group])
    k = tf.transpose(k, [0, 1, 4, 3, 2])  # [kh, kw, out_per_group, groups, per_group]
    return tf.reshape(k, [kh, kw, out_per_group, groups * per_group])


@tf.custom_gradient
def _grouped_conv(inputs, kernel):
    """A (grouped) stride-1 "same" convolution whose input gradient is a forward convolution too.

    TensorFlow's own input gradient is a Conv2DBackpropInput, which tf2onnx converts to a
    ConvTranspose without its groups (a wrong shape in `latent_energy.onnx`) and which ONNX's
    reference evaluator, the export's third parity check, runs value by value in Python (a minute
    for the family's default networks). A forward convolution with the flipped kernel is the same
    gradient, converts as a Conv, and is itself differentiable (R1 and R2 differentiate it).
    """
    groups = inputs.shape[-1] // kernel.shape[2]
    y = tf.nn.conv2d(inputs, kernel, 1, "SAME")

    def gradient(dy):
        dx = tf.nn.conv2d(dy, _input_gradient_kernel(kernel, groups), 1, "SAME")
        dk = tf.raw_ops.Conv2DBackpropFilter(input=inputs, filter_sizes=tf.shape(kernel), out_backprop=dy,
                                             strides=[1, 1, 1, 1], padding="SAME")
        return dx, dk

    return y, gradient


_GROUPED_GRADIENTS = {}


def _grouped_gradients_run(dtype):
    """Whether TensorFlow's gradient kernels of a grouped convolution run here in `dtype`. On CPUs
    with AVX-512 oneDNN's do, in float32 and bfloat16; on AVX2-only CPUs, and in float16 on any
    CPU, Conv2DBackpropFilter and Conv2DBackpropInput refuse groups ("Gradients for grouped
    convolutions are not supported on CPU"). Tried once a dtype, outside any graph being traced."""
    key = tf.as_dtype(dtype).name
    if key not in _GROUPED_GRADIENTS:
        with tf.init_scope():
            x, dy = tf.zeros([1, 4, 4, 4], dtype), tf.zeros([1, 4, 4, 4], dtype)
            try:
                tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=[3, 3, 2, 4], out_backprop=dy,
                                                strides=[1, 1, 1, 1], padding="SAME")
                tf.raw_ops.Conv2DBackpropInput(input_sizes=[1, 4, 4, 4], filter=tf.zeros([3, 3, 2, 4], dtype),
                                               out_backprop=dy, strides=[1, 1, 1, 1], padding="SAME")
                _GROUPED_GRADIENTS[key] = True
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.NotFoundError):
                _GROUPED_GRADIENTS[key] = False
    return _GROUPED_GRADIENTS[key]


_BLUR = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 16.0  # [1, 2, 1] in both directions, summing to 1


@tf.custom_gradient
def _blur(x):
    """Each channel convolved with `_BLUR` ("same", zeros outside). The filter is symmetric, so the
    input gradient is the same blur: a forward op that converts to ONNX and differentiates again."""
    kernel = tf.tile(tf.constant(_BLUR[:, :, None, None], x.dtype), [1, 1, x.shape[-1], 1])
    return tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME"), _blur


@keras.saving.register_keras_serializable(package="kgan")
class FilteredUpsample(keras.layers.Layer):
    """Doubles height and width through the low-pass filter [1, 3, 3, 1] (each channel apart).

    R3GAN's interpolative upsampler (StyleGAN2's `upsample2d` with the filter [1, 2, 1] convolved
    with [1, 1]): zeros between the pixels, then the separable filter times 4, so that each new
    pixel is 3/4 of its nearer and 1/4 of its farther neighbour, outside the image taken as 0.
    Computed as that filter's two factors: each pixel repeated 2x2 ([1, 1]), then blurred by
    [1, 2, 1] / 4 (a depthwise 3x3 convolution) — the same values, with no transposed convolution.
    """

    def __init__(self, **kwargs):
        """Args:
            **kwargs: Keras layer arguments (`name`, `dtype`).
        """
        super().__init__(**kwargs)

    def call(self, inputs):
        b, h, w, c = inputs.shape
        repeated = ops.reshape(ops.tile(inputs[:, :, None, :, None, :], [1, 1, 2, 1, 2, 1]), [-1, 2 * h, 2 * w, c])
        return _blur(repeated)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, c)


@keras.saving.register_keras_serializable(package="kgan")
class FilteredDownsample(keras.layers.Layer):
    """Halves height and width through the low-pass filter [1, 3, 3, 1] (each channel apart).

    R3GAN's interpolative downsampler (StyleGAN2's `downsample2d`): the separable filter, normalized
    to sum 1, at stride 2 with one pixel of zeros on each side, so new pixel i is
    (x[2i-1] + 3 x[2i] + 3 x[2i+1] + x[2i+2]) / 8 along each axis. Computed as the filter's two
    factors: a [1, 2, 1] / 4 blur, then the mean of each 2x2 block.
    """

    def __init__(self, **kwargs):
        """Args:
            **kwargs: Keras layer arguments (`name`, `dtype`).
        """
        super().__init__(**kwargs)

    def call(self, inputs):
        b, h, w, c = inputs.shape
        blocks = ops.reshape(_blur(inputs), [-1, h // 2, 2, w // 2, 2, c])
        return ops.mean(blocks, axis=(2, 4))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else h // 2, None if w is None else w // 2, c)
