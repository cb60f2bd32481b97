"""Layers kgan's models use beyond Keras's own."""

import keras
import numpy as np
from keras import ops

__all__ = ["LeakyReLU", "MinibatchStdDev", "PlaceSprites"]


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
