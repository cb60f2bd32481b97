"""Layers shared by the discriminator families."""

import keras
from keras import layers


def add_projection(logit, features, num_classes):
    """The projection discriminator's class term: `logit + <embed(label), features>`.

    Miyato & Koyama, "cGANs with Projection Discriminator", ICLR 2018. Computed in
    float32 whatever the dtype policy.

    Returns:
        `(logit, label_input)`.
    """
    label = keras.Input((), dtype="int32", name="label")
    embedded = layers.Embedding(num_classes, features.shape[-1], dtype="float32", name="label_projection")(label)
    projection = layers.Dot(axes=1, dtype="float32", name="projection")([embedded, features])
    return layers.Add(dtype="float32", name="logit_and_projection")([logit, projection]), label


def add_member_head(features, num_members):
    """MGAN's classifier head: `num_members` logits of which mixture member made a sample,
    on the discriminator's features (Hoang et al., "MGAN", ICLR 2018). Float32."""
    return layers.Dense(num_members, dtype="float32", name="member_logits")(features)


def add_heads(sample, logit, features, num_classes=None, num_members=None):
    """A discriminator's `(inputs, outputs)`: the sample input (and a `label` input, with the
    projection term added to the logit, when `num_classes`), and the logit (and MGAN's member
    logits, when `num_members`)."""
    inputs = sample
    if num_classes:
        logit, label = add_projection(logit, features, num_classes)
        inputs = [sample, label]
    return inputs, ([logit, add_member_head(features, num_members)] if num_members else logit)
