"""Layers kgan's models use beyond Keras's own."""

import keras
from keras import ops

__all__ = ["LeakyReLU", "MinibatchStdDev"]


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
