"""Maximum-likelihood training of sequence generators: pretraining, and the MLE baseline.

Teacher forcing: the generator reads each real sequence's tokens and is trained to
predict the next (`SequenceGenerator.log_probs`). RelGAN pretrains this way before its
adversarial phase (Adam 1e-2, gradients clipped to norm 5); the same model trained
longer is the maximum-likelihood baseline a text GAN must beat.

Example:
    >>> from kgan.data.text import Oracle
    >>> from kgan.models.sequence import SequenceGenerator
    >>> oracle = Oracle(vocab_size=20, length=5)
    >>> g = SequenceGenerator(20, 5, embedding_dim=8, hidden_dim=8)
    >>> losses = pretrain(g, oracle.sample(256), epochs=2)
    >>> len(losses)
    2
"""

import numpy as np
import tensorflow as tf
import keras

from kgan.errors import KganError

__all__ = ["pretrain", "nll"]


def _checked(generator, sequences, labels):
    sequences = np.asarray(sequences)
    if sequences.ndim != 2 or sequences.shape[1] != generator.length:
        raise KganError(f"the generator writes sequences of {generator.length} tokens, got shape "
                        f"{list(sequences.shape)}")
    if sequences.size and (sequences.min() < 0 or sequences.max() >= generator.vocab_size):
        raise KganError(f"tokens must be in [0, {generator.vocab_size}), got {sequences.min()}..{sequences.max()}")
    if bool(generator.num_classes) != (labels is not None):
        raise KganError("give labels exactly when the generator is conditional")
    return sequences.astype(np.int32), None if labels is None else np.asarray(labels, np.int32)


def pretrain(generator, sequences, labels=None, epochs=1, batch_size=64, lr=1e-2, clip_norm=5.0, seed=0):
    """Trains `generator` by teacher-forced maximum likelihood on `sequences` `[n, length]`.

    Returns:
        The mean per-token negative log-likelihood of each epoch's batches.
    """
    sequences, labels = _checked(generator, sequences, labels)
    optimizer = keras.optimizers.Adam(lr, global_clipnorm=clip_norm)
    columns = (sequences,) if labels is None else (sequences, labels)
    data = tf.data.Dataset.from_tensor_slices(columns).shuffle(len(sequences), seed=seed).batch(batch_size)

    @tf.function
    def step(tokens, *conditioning):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(generator.log_probs(tokens, *conditioning))
        variables = generator.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    history = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for batch in data:
            total += float(step(*batch)) * int(batch[0].shape[0])
            count += int(batch[0].shape[0])
        history.append(total / count)
    return history


def nll(generator, sequences, labels=None, batch_size=1000):
    """The generator's mean per-token negative log-likelihood of `sequences` (NLL-test on held-out data)."""
    sequences, labels = _checked(generator, sequences, labels)
    total = 0.0
    for start in range(0, len(sequences), batch_size):
        rows = slice(start, start + batch_size)
        log_p = generator.log_probs(sequences[rows], None if labels is None else labels[rows])
        total += float(tf.reduce_sum(log_p))
    return -total / sequences.size
