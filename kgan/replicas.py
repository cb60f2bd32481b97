"""What every replica of a `tf.distribute` strategy does alike in a train step: its share of
the global batch's random draws, its loss scaled to the global batch, the EMA update."""

import tensorflow as tf

__all__ = ["replica_draw", "scaled", "update_ema"]


def replica_draw(draw, shape, seed):
    """`draw(shape, seed=seed)` for this replica's share of the global batch.

    Every replica draws the global batch from the same seed and keeps its own slice, so
    N replicas see exactly the noise one replica would on the global batch, and never the
    same latents twice.
    """
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context else 1
    if replicas == 1:
        return draw(shape, seed=seed)
    batch = shape[0]
    full = draw((batch * replicas,) + tuple(shape[1:]), seed=seed)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * batch
    return full[start : start + batch]


def scaled(optimizer, loss):
    """The loss whose gradients, summed over replicas, are the global batch's mean: each
    replica's mean loss over the replica count (and the optimizer's loss scale)."""
    return optimizer.scale_loss(loss / tf.distribute.get_strategy().num_replicas_in_sync)


def update_ema(average_model, model, decay):
    """ema_w <- ema_w + (1 - decay) (w - ema_w) for trainable weights, a copy of the others
    (batch statistics), on every replica's copy alike."""
    trainable = {id(v) for v in model.trainable_weights}
    pairs = [(average.value, weight.value, id(weight) in trainable)
             for average, weight in zip(average_model.weights, model.weights)]

    def update(distribution, pairs):
        for average, weight, is_trainable in pairs:
            if is_trainable:
                fn = lambda a, w: a.assign_add(tf.cast(1.0 - decay, a.dtype) * (w - a))  # noqa: E731
            else:
                fn = lambda a, w: a.assign(w)  # noqa: E731
            distribution.extended.update(average, fn, args=(weight,), group=False)

    tf.__internal__.distribute.interim.maybe_merge_call(update, tf.distribute.get_strategy(), pairs)
