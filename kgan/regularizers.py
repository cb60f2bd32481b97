"""Discriminator regularizers: gradient penalty, R1 and R2, instance noise.

Each takes the discriminator as a callable `discriminate(inputs) -> logits` so that
conditional discriminators (which also need labels) close over their labels. Random
draws (alpha, noise) are passed in, so the caller owns the random stream.
"""

import tensorflow as tf

__all__ = ["gradient_penalty", "r1_penalty", "r2_penalty", "zero_centered_penalty", "add_instance_noise"]


def _per_example_norm(gradients):
    flat = tf.reshape(gradients, [tf.shape(gradients)[0], -1])
    return tf.sqrt(tf.reduce_sum(tf.square(flat), axis=1) + 1e-12)


def gradient_penalty(discriminate, real, fake, alpha):
    """E[(||grad D(x_hat)||_2 - 1)^2] at x_hat = alpha * real + (1 - alpha) * fake.

    `alpha` is drawn per example, uniform in [0, 1] as Gulrajani et al. (2017),
    Algorithm 1 prescribes (the keras.io WGAN-GP example draws it from a normal
    distribution, which samples points off the segment between the two).

    Args:
        discriminate: callable mapping a batch of inputs to logits.
        real: real batch.
        fake: generated batch, same shape.
        alpha: per-example weights `[batch]`, uniform in [0, 1].

    Returns:
        A scalar float32 tensor.
    """
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    alpha = tf.reshape(tf.cast(alpha, tf.float32), [-1] + [1] * (len(real.shape) - 1))
    interpolated = alpha * real + (1.0 - alpha) * fake
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        logits = tf.cast(discriminate(interpolated), tf.float32)
    gradients = tape.gradient(logits, interpolated)
    return tf.reduce_mean(tf.square(_per_example_norm(gradients) - 1.0))


def zero_centered_penalty(discriminate, samples):
    """E[||grad D(x)||_2^2] over a batch: each sample's squared gradient norm, averaged.

    The zero-centred gradient penalty of Mescheder et al. (2018): R1 on real samples, R2 on
    generated ones (R3GAN, Huang et al. 2024, uses both). Each sample's gradient is its own
    (the sum of the logits is differentiated), so a batch of reals and fakes joined gives both
    penalties' per-sample norms in one call.

    Args:
        discriminate: `discriminate(x)` gives the discriminator's logits on a batch.
        samples: the batch `[batch, ...]`.

    Returns:
        `[batch]`: each sample's squared gradient norm.
    """
    samples = tf.cast(samples, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(samples)
        logits = tf.cast(discriminate(samples), tf.float32)
    gradients = tape.gradient(logits, samples)
    return tf.reduce_sum(tf.square(tf.reshape(gradients, [tf.shape(gradients)[0], -1])), axis=1)


def r1_penalty(discriminate, real):
    """E[||grad D(x)||_2^2] on real data (multiply by gamma / 2 for R1).

    Mescheder et al., "Which Training Methods for GANs do actually Converge?",
    ICML 2018, equation 9.

    Args:
        discriminate: `discriminate(x)` gives the discriminator's logits on a batch.
        real: the real batch `[batch, ...]`.

    Returns:
        The scalar mean over the batch of each sample's squared gradient norm.
    """
    return tf.reduce_mean(zero_centered_penalty(discriminate, real))


def r2_penalty(discriminate, fake):
    """E[||grad D(G(z))||_2^2] on generated data (multiply by gamma / 2 for R2).

    Mescheder et al., ICML 2018, equation 10; with R1, the regularization of R3GAN (Huang et
    al., "The GAN is dead; long live the GAN!", NeurIPS 2024), without which the pairing loss
    diverges in their study.

    Args:
        discriminate: `discriminate(x)` gives the discriminator's logits on a batch.
        fake: the generated batch `[batch, ...]`.

    Returns:
        The scalar mean over the batch of each sample's squared gradient norm.
    """
    return tf.reduce_mean(zero_centered_penalty(discriminate, fake))


def add_instance_noise(inputs, stddev, noise):
    """Adds `stddev * noise` to the discriminator's inputs (instance noise).

    Sønderby et al., "Amortised MAP Inference for Image Super-resolution", ICLR 2017,
    section 3.1; Arjovsky & Bottou, ICLR 2017. The GAN anneals `stddev` to zero.

    Args:
        inputs: a batch the discriminator is about to see.
        stddev: the noise's standard deviation (a scalar).
        noise: standard normal noise of the batch's shape.

    Returns:
        `inputs + stddev * noise`.
    """
    return inputs + tf.cast(stddev, inputs.dtype) * tf.cast(noise, inputs.dtype)

