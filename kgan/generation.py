"""Sampling a Keras GAN's generator in inference mode: the latents it draws, in batches, as numpy."""

import keras
import numpy as np
import tensorflow as tf

from kgan.errors import KganError

__all__ = ["generate", "latent_feeds", "in_chunks"]


def latent_feeds(gan, n, seed, labels=None, **given):
    """The generator's named inputs for `n` samples: its latent prior's draws for `seed`,
    the labels (default: cycling the classes) and any `given` values, integers as int32."""
    feeds = gan.latent_prior.draw(n, seed, **gan._conditioning(gan._labels_for(n, labels)), **given)
    return {k: v.astype(np.int32) if v.dtype == np.int64 else v for k, v in feeds.items()}


def generate(gan, n, seed=None, labels=None, batch_size=256, **given):
    """`n` samples of `gan`'s sampling generator, `[n, *sample_shape]` numpy (see `GAN.generate`)."""
    if int(n) <= 0:
        raise KganError(f"n must be a positive integer, got {n!r}")
    n = int(n)
    return in_chunks(gan.run_generator, latent_feeds(gan, n, seed, labels, **given), n, batch_size,
                     gan.sample_spec.dtype)


def in_chunks(run, feeds, n, batch_size, dtype="float32"):
    """`run` (a model over named inputs, inference mode) on `batch_size` rows at a time, as numpy `dtype`."""
    chunks = []
    for start in range(0, n, batch_size):
        chunk = {k: tf.constant(v[start : start + batch_size]) for k, v in feeds.items()}
        chunks.append(keras.ops.convert_to_numpy(run(chunk)).astype(dtype))
    return np.concatenate(chunks)
