"""DiffAugment: differentiable augmentations applied to real and fake images alike.

Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS
2020. The discriminator sees every image (real, generated, in both players' steps)
through the same random policy, so it cannot tell the two apart by augmentation
artefacts, and gradients flow through the augmentation to the generator. Random
draws are passed in, so the caller owns the random stream; images are NHWC in [-1, 1].
"""

import tensorflow as tf

__all__ = ["POLICIES", "diff_augment", "draws_needed"]

POLICIES = ("color", "translation", "cutout")
_DRAWS = {"color": 3, "translation": 2, "cutout": 2}


def draws_needed(policy):
    """How many per-example uniform draws `diff_augment` needs for a policy."""
    return sum(_DRAWS[p] for p in policy)


def _color(x, u):
    brightness, saturation, contrast = (tf.reshape(v, [-1, 1, 1, 1]) for v in u)
    x = x + (brightness - 0.5)
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * (saturation * 2.0) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * (contrast + 0.5) + mean


def _translation(x, u, ratio=0.125):
    height, width = x.shape[1], x.shape[2]
    shift_h, shift_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    th = tf.cast(tf.floor(u[0] * (2 * shift_h + 1)), tf.int32) - shift_h
    tw = tf.cast(tf.floor(u[1] * (2 * shift_w + 1)), tf.int32) - shift_w
    rows = tf.clip_by_value(tf.range(height)[None, :] + th[:, None] + 1, 0, height + 1)
    cols = tf.clip_by_value(tf.range(width)[None, :] + tw[:, None] + 1, 0, width + 1)
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])  # zeros enter where the image moved away
    x = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def _cutout(x, u, ratio=0.5):
    height, width = x.shape[1], x.shape[2]
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = tf.cast(tf.floor(u[0] * (height + 1 - cut_h % 2)), tf.int32) - cut_h // 2
    left = tf.cast(tf.floor(u[1] * (width + 1 - cut_w % 2)), tf.int32) - cut_w // 2
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside = (
        (rows >= top[:, None, None]) & (rows < top[:, None, None] + cut_h)
        & (cols >= left[:, None, None]) & (cols < left[:, None, None] + cut_w)
    )
    return x * tf.cast(~inside, x.dtype)[..., None]


def diff_augment(images, policy, uniforms):
    """Applies the policy's augmentations in order.

    Args:
        images: `[batch, h, w, c]`.
        policy: a sequence of names in `POLICIES`.
        uniforms: `[draws_needed(policy), batch]` uniform [0, 1) draws.

    Returns:
        augmented images, same shape and dtype.
    """
    x, i = images, 0
    for name in policy:
        u = [tf.cast(uniforms[i + k], images.dtype) for k in range(_DRAWS[name])]
        i += _DRAWS[name]
        x = {"color": _color, "translation": _translation, "cutout": _cutout}[name](x, u)
    return x
