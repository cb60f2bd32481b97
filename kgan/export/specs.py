"""What is exported: `ExportSpec`s, one per registered builder (`EXPORTS`): the generator, the
discriminator and the latent energy with its gradient, traced with gradients ONNX can hold."""

import contextlib
import dataclasses

import numpy as np

PARITY_TOLERANCE = 1e-4  # largest |difference| of a float output against Keras, by default


@dataclasses.dataclass
class Output:
    """One named output of an exported model and how parity compares it.

    Args:
        shape: its shape, `"batch"` first.
        dtype: `"float32"`, or an integer type compared exactly.
        tolerance: largest |difference| against Keras; None is `PARITY_TOLERANCE`,
            0 means exact (integer outputs).
        relative: the tolerance is per unit of the output's largest |value| (when above 1):
            for outputs whose scale is the model's own, such as an energy and its gradient.
        kinks: the input this output is a gradient over, through ReLUs (None: a continuous
            output). Such a gradient has two values where a unit's input is 0, and float
            rounding picks either: a row beyond the tolerance passes when Keras's output a
            tiny step away along this input matches it (`kgan.export.parity`).
    """

    shape: list
    dtype: str = "float32"
    tolerance: float | None = None
    relative: bool = False
    kinks: str | None = None

    @property
    def limit(self):
        if self.tolerance is not None:
            return self.tolerance
        return PARITY_TOLERANCE if self.dtype.startswith("float") else 0.0


@dataclasses.dataclass
class ExportSpec:
    """One exported model: a role, a callable over named tensors, its signature and its check.

    Args:
        role: `"generator"`, `"discriminator"`, ... ; the file is `<role>.onnx`.
        call: `call(feeds) -> {output name: tensor}` for a dict of named tensors; traced
            into the SavedModel endpoint and the ONNX graph, and run eagerly as the Keras
            reference of the parity check.
        inputs: `{name: (shape with None for the batch, dtype)}` in input order.
        outputs: `{name: Output}`.
        feeds: `feeds(batch, rng) -> {name: numpy array}`, the parity check's inputs.
        endpoint: the SavedModel endpoint (`serving_default` for the generator).
        models: the Keras models `call` uses (tracked by the SavedModel).
        groups: `{input name: count}`: parity is also reported for each value of that
            integer input (each member of a mixture), all of which the feeds draw in
            any batch of `count` rows or more.
        batch: a fixed batch size for every input (None: any batch).
    """

    role: str
    call: object
    inputs: dict
    outputs: dict
    feeds: object
    endpoint: str
    models: list
    groups: dict = dataclasses.field(default_factory=dict)
    batch: int | None = None

    @property
    def file(self):
        return f"{self.role}.onnx"

    def function(self):
        """`call` as a tf.function with a named, batch-dynamic input signature."""
        import tensorflow as tf

        names = list(self.inputs)
        signature = [tf.TensorSpec((self.batch, *shape[1:]), dtype, name=name)
                     for name, (shape, dtype) in self.inputs.items()]
        call = self.call

        @tf.function(input_signature=signature)
        def exported(*tensors):
            return call(dict(zip(names, tensors)))

        return exported

    def keras_outputs(self, feeds):
        """The Keras function's outputs, what parity compares the ONNX model's to.

        Args:
            feeds: `{input name: array}`.

        Returns:
            `{output name: numpy array}`.
        """
        import tensorflow as tf

        outputs = self.call({k: tf.constant(v) for k, v in feeds.items()})
        return {k: np.asarray(v) for k, v in outputs.items()}

    def describe(self):
        """The manifest's entry: file, inputs and outputs with shapes and dtypes."""
        return {
            "file": self.file,
            "inputs": {k: {"shape": [self.batch or "batch", *shape[1:]], "dtype": dtype}
                       for k, (shape, dtype) in self.inputs.items()},
            "outputs": {k: {"shape": [self.batch or "batch", *o.shape[1:]], "dtype": o.dtype}
                        for k, o in self.outputs.items()},
        }


EXPORTS = []


def register_export(builder):
    """Adds `builder(gan) -> ExportSpec or None` to what every export writes, in order."""
    EXPORTS.append(builder)
    return builder


def export_specs(gan):
    """The `ExportSpec`s of a GAN: one per registered builder that applies to it."""
    return [spec for spec in (builder(gan) for builder in EXPORTS) if spec is not None]


def _keras_feeds(feeds):
    """Integer inputs as the Keras models take them (int32)."""
    import tensorflow as tf

    return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in feeds.items()}


@register_export
def generator_export(gan):
    """`generator.onnx`: the prior's named inputs to the samples (the EMA generator when kept)."""
    import tensorflow as tf

    sample = gan.sample_spec
    prior = gan.latent_prior

    def call(feeds):
        return {sample.tensor_name: tf.cast(gan.run_generator(_keras_feeds(feeds)), sample.dtype)}

    return ExportSpec(
        role="generator",
        call=call,
        inputs=prior.signature(),
        outputs={sample.tensor_name: Output(["batch", *sample.shape], sample.dtype)},
        feeds=lambda batch, rng: prior.draw(batch, rng=rng, randomize=True),
        endpoint="serving_default",
        models=[gan.sampling_generator],
        groups={"member": prior["member"].num_members} if "member" in prior.names else {},
    )


@register_export
def discriminator_export(gan):
    """`discriminator.onnx`: samples (and conditioning) to one `logit` each (`GAN.judge`: a
    packed discriminator judges each beside fixed generated samples, which the model holds)."""
    if not getattr(gan, "exports_discriminator", True):
        return None
    sample = gan.sample_spec
    prior = gan.latent_prior
    conditioning = {k: v for k, v in prior.signature().items() if k in prior.conditioning}

    def call(feeds):
        return {"logit": gan.judge(_keras_feeds(feeds))}

    def feeds(batch, rng):
        generated = generator_export(gan).keras_outputs(prior.draw(batch, rng=rng, randomize=True))
        drawn = prior.draw(batch, rng=rng, randomize=True)
        return {sample.tensor_name: generated[sample.tensor_name], **{k: drawn[k] for k in conditioning}}

    return ExportSpec(
        role="discriminator",
        call=call,
        inputs={sample.tensor_name: ((None, *sample.shape), sample.dtype), **conditioning},
        outputs={"logit": Output(["batch"])},
        feeds=feeds,
        endpoint="discriminate",
        models=[gan.discriminator],
    )


# latent_energy.onnx has a fixed batch: TensorFlow's gradient of a batch-dynamic graph holds
# BroadcastGradientArgs and DynamicStitch over shapes, which ONNX has no op for.
LATENT_ENERGY_BATCH = 64


# ...of at most this many sample values: ONNX's reference evaluator, which the parity check runs
# on the whole batch, computes transposed convolutions value by value in Python (about 3 s a
# 16x16x16 clip), so larger samples get a smaller batch (clips: 4).
LATENT_ENERGY_VALUES = 16_384


def latent_energy_batch(sample_shape):
    """The fixed batch of `latent_energy.onnx` for samples of this shape."""
    return int(max(1, min(LATENT_ENERGY_BATCH, LATENT_ENERGY_VALUES // int(np.prod(sample_shape)))))


def _strided_slice_gradient(op, grad):
    """StridedSlice's gradient as a scatter: the slice of an index map of the input says where each
    gradient entry goes (StridedSliceGrad has no ONNX op; ScatterND does)."""
    import tensorflow as tf

    shape = tf.shape(op.inputs[0])
    size = tf.reduce_prod(shape)
    masks = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
    picked = tf.strided_slice(tf.reshape(tf.range(size), shape), *op.inputs[1:], **{m: op.get_attr(m) for m in masks})
    flat = tf.scatter_nd(tf.reshape(picked, [-1, 1]), tf.reshape(grad, [-1]), tf.reshape(size, [1]))
    return tf.reshape(flat, shape), None, None, None


# The gradients TensorFlow writes as ops of their own (ReluGrad, TanhGrad, SigmoidGrad,
# StridedSliceGrad), which ONNX and tf2onnx do not have, written with forward ops instead.
_GRADIENTS = {
    "StridedSlice": _strided_slice_gradient,
    "Relu": lambda op, grad: grad * tf_cast_like(op.outputs[0] > 0, grad),
    "Relu6": lambda op, grad: grad * tf_cast_like((op.inputs[0] > 0) & (op.inputs[0] < 6), grad),
    "Tanh": lambda op, grad: grad * (1.0 - op.outputs[0] * op.outputs[0]),
    "Sigmoid": lambda op, grad: grad * op.outputs[0] * (1.0 - op.outputs[0]),
}


def tf_cast_like(x, like):
    import tensorflow as tf

    return tf.cast(x, like.dtype)


@contextlib.contextmanager
def _onnx_gradients():
    """Inside a tf.function: the gradients of `_GRADIENTS`' ops as forward ops."""
    import tensorflow as tf

    for op in _GRADIENTS:
        try:
            tf.RegisterGradient(f"KganOnnx{op}")(_GRADIENTS[op])
        except KeyError:  # registered by an earlier export
            pass
    with tf.compat.v1.get_default_graph().gradient_override_map({op: f"KganOnnx{op}" for op in _GRADIENTS}):
        yield


@register_export
def latent_energy_export(gan):
    """`latent_energy.onnx`: the generator's inputs to `energy`, E(z) = ‖z‖²/2 − D(G(z)) with the
    raw discriminator logit D, and its gradient `grad_z`, for the `langevin` sampler (which
    calibrates both)."""
    import tensorflow as tf

    prior = gan.latent_prior
    if "z" not in prior.names:  # a generator of discrete samples (tokens) has no latent to move
        return None

    def call(feeds):
        feeds = _keras_feeds(feeds)
        if not tf.inside_function():  # the Keras reference of the parity check
            return gan.latent_energy(feeds)
        with _onnx_gradients():  # traced: symbolic gradients, which honour the override map
            energy = gan.energy(feeds)
            return {"energy": energy, "grad_z": tf.gradients(energy, feeds["z"])[0]}

    return ExportSpec(
        role="latent_energy",
        call=call,
        inputs=prior.signature(),
        # float32 sums over the two networks: the error grows with the logits' scale
        outputs={"energy": Output(["batch"], relative=True),
                 "grad_z": Output(["batch", gan.latent_dim], relative=True, kinks="z")},
        feeds=lambda batch, rng: prior.draw(batch, rng=rng, randomize=True),
        endpoint="latent_energy",
        models=[gan.sampling_generator, gan.discriminator],
        groups={"member": prior["member"].num_members} if "member" in prior.names else {},
        batch=latent_energy_batch(gan.sample_spec.shape),
    )
