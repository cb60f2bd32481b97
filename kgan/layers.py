"""Layers kgan's models use beyond Keras's own."""

import keras
from keras import ops

__all__ = ["MinibatchStdDev"]


@keras.saving.register_keras_serializable(package="kgan")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the batch's average feature standard deviation as one more channel.

    A discriminator that sees how varied its batch is can penalise a generator that
    collapses to few modes (Karras et al., "Progressive Growing of GANs", ICLR 2018,
    section 3; there in groups, here over the whole batch). Works on `[b, ..., c]`.
    """

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        std = ops.sqrt(ops.var(x, axis=0) + 1e-8)
        statistic = ops.mean(std)
        extra = ops.ones_like(x[..., :1]) * statistic
        return ops.cast(ops.concatenate([x, extra], axis=-1), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (None if input_shape[-1] is None else input_shape[-1] + 1,)
