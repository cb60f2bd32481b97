"""`GeneratorMixture`: K generators behind one, each row made by the member its `member` input names.

Called as `mixture([z, member])` (`[z, label, member]` when conditional): row i is what
member `member[i]` makes of row i's latents. `weights` is how often sampling picks each
member; the `member` input of the latent prior (`MemberInput`) draws them, so
`GAN.generate`, the export's parity feeds and the ONNX runtime draw the same members for
a seed.

Training runs each member on its own rows only (so a member's batch statistics are its
own); inference runs every member on every row and keeps each row's own, which is the
same for per-example layers and exports to plain ONNX ops.

Example:
    >>> mixture = GeneratorMixture([MLPGenerator(2, 4), MLPGenerator(2, 4)], weights=[0.25, 0.75])
    >>> mixture([z, np.array([0, 1, 1])])  # rows 1 and 2 from the second member
"""

import keras
import numpy as np
import tensorflow as tf

from kgan.errors import KganError
from kgan.models.base import Generator, protocol
from kgan.runtime.latent import MemberInput, check_weights

__all__ = ["GeneratorMixture", "MemberInput", "check_weights", "training_members"]


def training_members(batch, weights):
    """Members of a training batch: contiguous blocks sized by `weights` (row i: the member whose
    share of the cumulative weights holds (i + 0.5) / batch), so every member with weight x batch >= 1
    gets rows in every batch."""
    edges = tf.constant(np.cumsum(weights)[:-1], tf.float32)
    position = (tf.cast(tf.range(batch), tf.float32) + 0.5) / tf.cast(batch, tf.float32)
    return tf.searchsorted(edges, position, side="right")


def _latent_dim(model):
    return protocol(model).latent_dim


def _output_shape(model, latent_dim, num_classes):
    shapes = [(None, latent_dim)] + ([(None,)] if num_classes else [])
    return tuple(model.compute_output_shape(shapes if num_classes else shapes[0]))[1:]


@keras.saving.register_keras_serializable(package="kgan")
class GeneratorMixture(Generator, keras.Model):
    """K generators with one latent size, label set and output shape, sampled as one.

    Args:
        members: the K generators (kgan's models or the user's own Keras models).
        weights: how often sampling picks each member, a probability vector; None is
            uniform.
        shared: whether members 1..K-1 share every layer but their first weighted one with
            member 0 (MGAN's parameter sharing); set by `GeneratorMixture.build_members`.
    """

    def __init__(self, members, weights=None, shared=False, **kwargs):
        super().__init__(**kwargs)
        members = list(members)
        if not members:
            raise KganError("a mixture needs at least one member generator")
        for member in members:
            if not isinstance(member, keras.Model):
                raise KganError(f"mixture members must be Keras models, got {type(member).__name__}")
        dims = {_latent_dim(m) for m in members}
        if None in dims:
            raise KganError("cannot read a member's latent size: give each member a keras.Input or a latent_dim")
        if len(dims) > 1:
            raise KganError(f"mixture members must share one latent size, got {sorted(dims)}")
        classes = {protocol(m).num_classes for m in members}
        if len(classes) > 1:
            raise KganError(f"mixture members must share one label set, got num_classes {sorted(classes, key=str)}")
        self.latent_dim = dims.pop()
        self.num_classes = classes.pop()
        shapes = {_output_shape(m, self.latent_dim, self.num_classes) for m in members}
        if len(shapes) > 1:
            raise KganError(f"mixture members must make samples of one shape, got {sorted(shapes)}")
        self.sample_shape = shapes.pop()
        self.members = members
        self.mixture_weights = [float(w) for w in check_weights(weights, len(members))]
        self.shared = bool(shared)
        spec = protocol(members[0]).sample_spec
        if spec is not None:
            self.sample_spec = spec

    @property
    def kind(self):
        return protocol(self.members[0]).kind

    @property
    def num_members(self):
        return len(self.members)

    @classmethod
    def build_members(cls, make_member, k, weights=None, shared=False, **kwargs):
        """A mixture of `k` members from `make_member()`; `shared` shares all but each member's
        first weighted layer with member 0, as MGAN does."""
        k = int(k)
        if k < 1:
            raise KganError(f"a mixture needs at least one member, got {k}")
        members = [make_member() for _ in range(k)]
        if shared:
            members = _share(members)
        return cls(members, weights=weights, shared=shared, **kwargs)

    def latent_inputs(self):
        """The inputs the mixture adds to the latent prior: `member`."""
        return [MemberInput("member", self.mixture_weights)]

    def training_inputs(self, batch):
        """The `member` of each row of a training batch: blocks sized by the mixture's weights.

        Args:
            batch: rows of the training batch.

        Returns:
            `{"member": int32 [batch]}`.
        """
        return {"member": training_members(batch, self.mixture_weights)}

    def build(self, input_shape=None):
        self.built = True  # the members are built models

    def call(self, inputs, training=False):
        inputs = list(inputs)
        if len(inputs) != (3 if self.num_classes else 2):
            raise KganError("call a mixture as mixture([z, member]), or mixture([z, label, member]) when conditional")
        *feeds, member = inputs
        member = tf.cast(tf.reshape(member, [-1]), tf.int32)
        feeds = feeds if self.num_classes else feeds[0]
        if training:
            return self._routed(feeds, member, training)
        # [batch, K], exactly 0 or 1 (Equal and Cast in ONNX, which every runtime has)
        rows = tf.cast(tf.equal(member[:, None], tf.range(self.num_members)[None, :]), tf.float32)
        out = None
        for k, model in enumerate(self.members):
            sample = model(feeds, training=training)
            mask = tf.reshape(tf.cast(rows[:, k], sample.dtype), (-1,) + (1,) * (len(sample.shape) - 1))
            out = sample * mask if out is None else out + sample * mask
        return out

    def _routed(self, feeds, member, training):
        """Each member on its own rows only, stitched back in row order."""
        flat = feeds if isinstance(feeds, (list, tuple)) else [feeds]
        index = tf.range(tf.shape(member)[0])
        parts = tf.dynamic_partition(index, member, self.num_members)
        outs = []
        for model, part in zip(self.members, parts):
            rows = [tf.gather(f, part) for f in flat]
            outs.append(model(rows if isinstance(feeds, (list, tuple)) else rows[0], training=training))
        return tf.dynamic_stitch(parts, outs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],) + tuple(self.sample_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"members": [keras.layers.serialize(m) for m in self.members],
                       "weights": self.mixture_weights, "shared": self.shared})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        # Keras marks layers that several members hold as one shared object, and would hand
        # member 3 the layers it built (and called) for member 2; every member is rebuilt on its
        # own here and `_share` joins them again.
        members = [keras.layers.deserialize(_unshared(m)) for m in config.pop("members")]
        if config.get("shared"):
            members = _share(members)
        return cls(members, **config)


def _unshared(config):
    """`config` without Keras' shared-object marks."""
    if isinstance(config, dict):
        return {k: _unshared(v) for k, v in config.items() if k != "shared_object_id"}
    if isinstance(config, list):
        return [_unshared(v) for v in config]
    return config


def _first_weighted(model):
    """The first layer with a kernel (a Dense or convolution; a label embedding is shared)."""
    for layer in model._flatten_layers(include_self=False, recursive=False):
        if getattr(layer, "kernel", None) is not None:
            return layer
    raise KganError(f"{model.name} has no Dense or convolution layer to keep apart: use shared=False")


def _share(members):
    """Members 1.. rebuilt on member 0's layers except their own first weighted layer."""
    base = members[0]
    first = _first_weighted(base)
    shared = [base]
    for member in members[1:]:
        own = _first_weighted(member)
        clone = keras.models.clone_model(base, clone_function=lambda layer, own=own: own if layer is first else layer)
        for name in ("latent_dim", "num_classes", "sample_spec"):  # what a family's class declares
            if hasattr(base, name):
                setattr(clone, name, getattr(base, name))
        shared.append(clone)
    return shared
