"""Export a trained GAN's models to SavedModel and ONNX, each checked against Keras.

Each exported model is an `ExportSpec`: a role, a callable over named tensors, a named,
batch-dynamic input signature and named outputs with their comparison. The registered
builders (`EXPORTS`) make today's two: the generator takes the latent prior's inputs
(`z` float32 `[batch, latent_dim]`, and `label` int64 `[batch]` when conditional) and
returns the sample spec's tensor (`image` float32 NHWC in [-1, 1], or `sample` for
vectors); the discriminator takes that tensor (and `label`) and returns `logit` (float32
`[batch]`). One loop writes them all: SavedModel endpoints, ONNX conversion, the parity
check (Keras, the SavedModel, onnxruntime and ONNX's reference evaluator agree within
each output's tolerance on batches of 1 and 37, or the export fails and writes
nothing), metadata and `manifest.json`. A new exported model is one more builder.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import time

import numpy as np

from kgan.data import real_for_calibration
from kgan.data.text import source_options
from kgan.errors import KganError
from kgan.runtime.images import check_writable_target, replace_dir, staging_dir
import kgan

__all__ = ["PARITY_TOLERANCE", "ExportResult", "ExportSpec", "Output", "EXPORTS", "register_export", "export_specs",
           "export_model", "load_run"]

PARITY_TOLERANCE = 1e-4
PARITY_BATCHES = (1, 37)
REFERENCE_BATCH = 3
DEFAULT_OPSET = 17


def _require_export_extras():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as error:
        raise KganError(
            f"exporting needs the export extras ({error.name} is missing): pip install 'kgan[export]'"
        ) from None


@dataclasses.dataclass
class ExportResult:
    """What `export_model` wrote: the export folder, the SavedModel and the manifest."""

    out_dir: str
    saved_model_dir: str
    manifest: dict

    @property
    def generator_path(self):
        return os.path.join(self.out_dir, "generator.onnx")


@contextlib.contextmanager
def _float32_policy():
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _as_float32(gan):
    """The GAN itself, or a float32 copy of a mixed-precision one with every weight of every
    model it holds (generator, discriminator, EMA generator, and any a subclass adds)."""
    layers = gan._flatten_layers(include_self=False)
    if all(layer.dtype_policy.name == "float32" for layer in layers):
        return gan
    with _float32_policy():
        copy = type(gan).from_config(gan.get_config())
    if len(copy.weights) != len(gan.weights):
        raise KganError("the float32 copy of the mixed-precision GAN has other weights: export it in float32")
    for target, source in zip(copy.weights, gan.weights):
        target.assign(source)
    return copy


def load_run(run_dir):
    """Loads `RUN_DIR/model.keras` (in float32) and the run's `config.json` (if any).

    Returns:
        `(gan, config dict)`.
    """
    path = os.path.join(run_dir, "model.keras")
    if not os.path.isdir(run_dir):
        raise KganError(f"no such run directory: {run_dir}; train one with `kgan train --out {run_dir}`")
    if not os.path.isfile(path):
        raise KganError(f"{run_dir} has no model.keras: give a run directory written by `kgan train`")
    try:
        with _float32_policy():  # exported models are float32 whatever the training precision
            gan = kgan.load_model(path)
    except Exception as error:  # a truncated zip, an unknown class, a version mismatch
        raise KganError(f"cannot load {path}: {str(error).splitlines()[0][:160]}") from None
    config = {}
    config_path = os.path.join(run_dir, "config.json")
    if os.path.isfile(config_path):
        with open(config_path) as handle:
            config = json.load(handle)
    return gan, config


# -- what is exported ---------------------------------------------------------


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
    """

    shape: list
    dtype: str = "float32"
    tolerance: float | None = None
    relative: bool = False

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


# Real samples `refit_steps` trains the discriminator on: every row of a data set, fresh mixture draws.
REFIT_SAMPLES = 50_000

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
        outputs={"energy": Output(["batch"], relative=True), "grad_z": Output(["batch", gan.latent_dim], relative=True)},
        feeds=lambda batch, rng: prior.draw(batch, rng=rng, randomize=True),
        endpoint="latent_energy",
        models=[gan.sampling_generator, gan.discriminator],
        groups={"member": prior["member"].num_members} if "member" in prior.names else {},
        batch=latent_energy_batch(gan.sample_spec.shape),
    )


def _write_saved_model(specs, functions, path):
    import keras

    archive = keras.export.ExportArchive()
    tracked = []
    for spec in specs:
        for model in spec.models:
            if not any(model is t for t in tracked):
                archive.track(model)
                tracked.append(model)
    for spec in specs:
        archive.add_endpoint(spec.endpoint, functions[spec.role])
    import tensorflow as tf

    # latent_energy's traced gradients carry `_onnx_gradients`' overrides, which a loaded
    # SavedModel does not need to differentiate again.
    archive.write_out(path, options=tf.saved_model.SaveOptions(experimental_custom_gradients=False), verbose=False)


@contextlib.contextmanager
def _quiet_absl():
    from absl import logging

    level = logging.get_verbosity()
    logging.set_verbosity(logging.ERROR)
    try:
        yield
    finally:
        logging.set_verbosity(level)


def _to_onnx(function, opset):
    import tf2onnx

    with _quiet_tf2onnx():
        model, _ = tf2onnx.convert.from_function(
            function, input_signature=function.input_signature, opset=opset
        )
    return model


@contextlib.contextmanager
def _quiet_tf2onnx():
    import logging

    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# -- parity --------------------------------------------------------------------


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _worst(spec, got, expected):
    """The largest |difference| over the outputs, and the outputs beyond their limit."""
    worst, failed = 0.0, []
    for name, output in spec.outputs.items():
        diff = _max_diff(got[name], expected[name])
        worst = max(worst, diff)
        scale = max(1.0, float(np.max(np.abs(expected[name])))) if output.relative else 1.0
        if not diff <= output.limit * scale:
            failed.append(name)
    return worst, failed


def _parity(spec, saved_fn, onnx_model, seed=0):
    """Max |diff| of SavedModel, onnxruntime and the ONNX reference evaluator vs Keras."""
    import onnxruntime as ort
    import tensorflow as tf
    from onnx.reference import ReferenceEvaluator

    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    rng = np.random.default_rng(seed)
    figures = {"keras_vs_saved_model": 0.0, "keras_vs_onnxruntime": 0.0}
    failed = set()

    by_group = {name: {} for name in spec.groups}

    def record(key, got, expected, feeds):
        worst, beyond = _worst(spec, got, expected)
        figures[key] = max(figures.get(key, 0.0), worst)
        failed.update(key for _ in beyond)
        for name, values in by_group.items():  # the same figure for each group's rows
            for value in np.unique(feeds[name]):
                rows = feeds[name] == value
                diff = max(_max_diff(got[o][rows], expected[o][rows]) for o in spec.outputs)
                values[int(value)] = max(values.get(int(value), 0.0), diff)

    batches = [spec.batch] if spec.batch else PARITY_BATCHES
    for batch in batches:
        feeds = spec.feeds(batch, rng)
        expected = spec.keras_outputs(feeds)
        saved = saved_fn(**{k: tf.constant(v) for k, v in feeds.items()})
        record("keras_vs_saved_model", {k: v.numpy() for k, v in saved.items()}, expected, feeds)
        record("keras_vs_onnxruntime", dict(zip(names, session.run(None, feeds))), expected, feeds)
    reference_batch = spec.batch or max([REFERENCE_BATCH, *spec.groups.values()])
    feeds = spec.feeds(reference_batch, rng)
    reference = dict(zip(names, ReferenceEvaluator(onnx_model).run(None, feeds)))
    record("keras_vs_onnx_reference", reference, spec.keras_outputs(feeds), feeds)
    tolerance = max(o.limit for o in spec.outputs.values())
    figures.update(batches=list(batches), reference_batch=reference_batch, tolerance=tolerance)
    if any(o.relative for o in spec.outputs.values()):
        figures["tolerance_relative_to"] = "the largest |value| of each output"
    for name, values in by_group.items():
        figures[f"by_{name}"] = {str(k): values[k] for k in sorted(values)}
    if failed:
        details = ", ".join(f"{k} {figures[k]:.2e}" for k in sorted(failed))
        raise KganError(f"{spec.role} export failed its parity check ({details} > {tolerance:g}); nothing was written")
    return figures


# -- variants --------------------------------------------------------------------


def _median_latency_ms(session, feeds, repeats=30):
    session.run(None, feeds)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000.0)


def _variant_report(spec, fp32_path, variant_path, seed=1):
    import onnxruntime as ort

    fp32 = ort.InferenceSession(fp32_path, providers=["CPUExecutionProvider"])
    variant = ort.InferenceSession(variant_path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    feeds = spec.feeds(64, rng)
    error = _max_diff(variant.run(None, feeds)[0], fp32.run(None, feeds)[0])
    one = spec.feeds(1, rng)
    return {
        "file": os.path.basename(variant_path),
        "max_abs_error_vs_fp32": error,
        "latency_ms_batch1": _median_latency_ms(variant, one),
        "fp32_latency_ms_batch1": _median_latency_ms(fp32, one),
    }


def _fp16(fp32_path, out_path):
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(fp32_path), keep_io_types=True)
    onnx.save(model, out_path)


class _LatentReader:
    """Calibration batches of the generator's inputs for static quantization."""

    def __init__(self, spec, batches=16, batch_size=32, seed=2):
        rng = np.random.default_rng(seed)
        self._feeds = iter([spec.feeds(batch_size, rng) for _ in range(batches)])

    def get_next(self):
        return next(self._feeds, None)


def _int8(spec, fp32_path, out_path, work_dir):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(_LatentReader, CalibrationDataReader):
        pass

    prepared = os.path.join(work_dir, "generator.prepared.onnx")
    quant_pre_process(fp32_path, prepared, skip_symbolic_shape=True)
    quantize_static(
        prepared,
        out_path,
        Reader(spec),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    os.unlink(prepared)


# -- writing ---------------------------------------------------------------------


def _metadata(facts, role, parity):
    return {
        "kgan.role": role,
        "kgan.version": facts["kgan_version"],
        "kgan.preset": facts["preset"],
        "kgan.kind": facts["kind"],
        "kgan.latent_dim": "" if facts["latent_dim"] is None else str(facts["latent_dim"]),
        "kgan.num_classes": "" if facts["num_classes"] is None else str(facts["num_classes"]),
        "kgan.output_shape": json.dumps(facts["output_shape"]),
        "kgan.value_range": json.dumps(facts["value_range"]),
        "kgan.opset": str(facts["opset"]),
        "kgan.ema": str(facts["ema"]),
        "kgan.parity": json.dumps(parity),
        "kgan.sample_spec": json.dumps(facts["sample_spec"]),
        "kgan.prior": json.dumps(facts["prior"]),
        **({"kgan.mixture": json.dumps(facts["mixture"])} if "mixture" in facts else {}),
        **({"kgan.runtime.calibration": json.dumps(facts["calibration"])}
           if "calibration" in facts and role in ("discriminator", "latent_energy") else {}),
    }


def fit_export_calibration(gan, data, config, log=None, samples=2000, refit_steps=0):
    """The discriminator's Platt scaling fitted on `data` (a data set name or path), after
    `refit_steps` steps of `GAN.refit_discriminator` on it, or the GAN's own `calibration` when
    there is no data; None (with a log line) when neither."""
    log = log or (lambda *_: None)
    if not data:
        if refit_steps:
            raise KganError("refitting the discriminator needs real data: give the data set (--data)")
        if gan.calibration is None:
            log("kgan: no data set to calibrate the discriminator on: the drs, mh and langevin samplers need "
                "`kgan calibrate`")
        return gan.calibration

    options = dict(image_size=config.get("image_size"), frames=config.get("frames"), **source_options(gan.sample_spec))
    real, labels = real_for_calibration(data, samples, **options)
    if tuple(real.shape[1:]) != tuple(gan.sample_shape):
        raise KganError(f"{data} holds samples of shape {list(real.shape[1:])} but the generator makes "
                        f"{list(gan.sample_shape)}: give the data set the run trained on")
    if gan.conditional and labels is None:
        raise KganError(f"{data} has no labels to calibrate a conditional discriminator with")
    if refit_steps:
        # a mixture's refit draws are fresh (seed 1), apart from the calibration's; a data set's are all its rows
        many, many_labels = real_for_calibration(data, REFIT_SAMPLES, seed=1, **options)
        loss = gan.refit_discriminator(  # with the run's batch size and discriminator optimizer
            many, many_labels if gan.conditional else None, steps=refit_steps, batch_size=config.get("batch_size", 64),
            learning_rate=config.get("d_lr") or config.get("lr") or 2e-4, beta_1=config.get("beta_1", 0.5))
        log(f"kgan: refit the discriminator for {refit_steps} steps with the generator fixed (last loss {loss:.3f})")
    calibration = gan.calibrate(real, labels if gan.conditional else None)
    if refit_steps:
        calibration["refit_steps"] = int(refit_steps)
    log(f"kgan: calibrated the discriminator on {len(real)} real samples of {data}: held-out accuracy "
        f"{calibration['accuracy']:.3f}, ECE {calibration['ece']:.3f} (raw {calibration['ece_raw']:.3f})")
    return calibration


def _check_exported_from(run_dir, out_dir, manifest):
    """Raises unless the export in `out_dir` was made from `run_dir`'s model.keras (by its digest;
    an export written before digests were recorded, by its run name)."""
    made_from = manifest.get("model_sha256")
    if made_from:
        same = made_from == _sha256(os.path.join(run_dir, "model.keras"))
    else:
        same = manifest.get("run") in (None, os.path.basename(os.path.normpath(os.path.abspath(run_dir))))
    if not same:
        raise KganError(f"{out_dir} was not exported from {run_dir}'s model.keras: give the export of that run "
                        f"(--export DIR), or export it first (`kgan export {run_dir}`)")


def calibrate_export(run_dir, out_dir=None, data=None, log=None, refit_steps=None):
    """Refits the calibration of `run_dir`'s discriminator on `data` (default: the run's data
    set) and writes it into its export (`out_dir`, default `export/<run name>`): the manifest
    and the metadata of discriminator.onnx and latent_energy.onnx, each file replaced whole.

    With `refit_steps` (default: the steps the export's discriminator was refit for, if any)
    the discriminator is refit first, so its two models change: the run is exported again,
    with the same opset and variants.

    Returns:
        the calibration, with `export` and `data`.
    """
    import onnx

    gan, config = load_run(run_dir)
    out_dir = out_dir or os.path.join("export", os.path.basename(os.path.normpath(os.path.abspath(run_dir))))
    manifest_path = os.path.join(out_dir, "manifest.json")
    if not os.path.isfile(manifest_path):
        raise KganError(f"{out_dir} holds no export: run `kgan export {run_dir}` first (or give --export DIR)")
    with open(manifest_path) as handle:
        manifest = json.load(handle)
    _check_exported_from(run_dir, out_dir, manifest)
    roles = [r for r in ("discriminator", "latent_energy") if r in manifest.get("models", {})]
    if "discriminator" not in roles:
        raise KganError(f"{out_dir} has no discriminator.onnx to calibrate: export the run again (`kgan export {run_dir}`)")
    data = data or config.get("dataset")
    if not data:
        raise KganError(f"{run_dir} does not say what it trained on: give the real data with --data")
    if refit_steps is None:
        refit_steps = (manifest.get("calibration") or {}).get("refit_steps", 0)
    if refit_steps:
        variants = manifest.get("variants") or {}
        result = export_model(run_dir, out_dir=out_dir, opset=manifest.get("opset", DEFAULT_OPSET), fp16="fp16" in variants,
                              int8="int8" in variants, log=log, calibration_data=data, refit_steps=refit_steps)
        return dict(result.manifest["calibration"], export=out_dir, data=data)
    calibration = fit_export_calibration(gan, data, config, log)
    staged = []
    try:
        for role in roles:
            path = os.path.join(out_dir, manifest["models"][role]["file"])
            model = onnx.load(path)
            props = {p.key: p.value for p in model.metadata_props}
            props["kgan.runtime.calibration"] = json.dumps(calibration)
            del model.metadata_props[:]
            temporary = path + ".partial"
            _save_onnx(model, temporary, props)
            staged.append((temporary, path))
            manifest.setdefault("files", {})[os.path.basename(path)] = _sha256(temporary)
        manifest["calibration"] = calibration
        temporary = manifest_path + ".partial"
        with open(temporary, "w") as handle:
            json.dump(manifest, handle, indent=2)
        staged.append((temporary, manifest_path))
        for temporary, path in staged:
            os.replace(temporary, path)
    finally:
        for temporary, _ in staged:
            if os.path.exists(temporary):
                os.unlink(temporary)
    return dict(calibration, export=out_dir, data=data)


def _save_onnx(model, path, props):
    import onnx

    onnx.helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_model(source, out_dir=None, opset=DEFAULT_OPSET, fp16=False, int8=False, saved_model_dir=None, log=None,
                 calibration_data=None, refit_steps=0):
    """Exports a GAN's generator and discriminator to SavedModel and ONNX.

    Args:
        source: a run directory written by `kgan train` (holding `model.keras`) or
            a `kgan.GAN`.
        out_dir: the ONNX folder; default `export/<run name>`.
        opset: ONNX opset (tf2onnx 1.17 supports up to 18).
        fp16: also write `generator.fp16.onnx` (float16 inside, float32 I/O).
        int8: also write `generator.int8.onnx` (static QDQ quantization
            calibrated on latents).
        saved_model_dir: where the SavedModel goes; default `RUN_DIR/saved_model`
            (or `OUT_DIR/saved_model` for a GAN object).
        log: optional callable for progress lines.
        calibration_data: the real data (a data set name or path) the discriminator's
            calibration is fitted on; default the run's data set (for a GAN object: its
            `calibration`, if `GAN.calibrate` set one).
        refit_steps: first train the discriminator that is exported for this many steps
            against the fixed generator on that data (`GAN.refit_discriminator`); the run's
            `model.keras` keeps the discriminator it trained.

    Returns:
        an `ExportResult`.

    Example:
        >>> result = export_model("saved_models/digits")
        >>> result.manifest["parity"]["generator"]["keras_vs_onnxruntime"] < 1e-4
        True
    """
    _require_export_extras()

    if not 13 <= int(opset) <= 18:
        raise KganError(f"opset must be between 13 and 18 (tf2onnx 1.17 stops at 18), got {opset}")
    log = log or (lambda *_: None)
    model_digest = None
    if isinstance(source, (str, os.PathLike)):
        run_dir = os.fspath(source)
        gan, config = load_run(run_dir)
        model_digest = _sha256(os.path.join(run_dir, "model.keras"))
        name = os.path.basename(os.path.normpath(os.path.abspath(run_dir)))
        out_dir = out_dir or os.path.join("export", name)
        saved_model_dir = saved_model_dir or os.path.join(run_dir, "saved_model")
    else:
        gan, config = _as_float32(source), {}
        name = "model"
        if out_dir is None:
            raise KganError("give out_dir when exporting a GAN object")
        saved_model_dir = saved_model_dir or os.path.join(out_dir, "saved_model")
    out_dir = os.path.normpath(out_dir)

    for path in (out_dir, saved_model_dir):
        check_writable_target(path, "export folder")

    spec = gan.sample_spec
    facts = {
        "kgan_version": kgan.__version__,
        "preset": config.get("preset", "custom"),
        "dataset": config.get("dataset"),
        "run": name,
        "kind": spec.kind,
        "latent_dim": gan.latent_dim,
        "num_classes": gan.num_classes,
        "output_shape": list(spec.shape),
        "value_range": None if spec.value_range is None else list(spec.value_range),
        "opset": int(opset),
        "ema": gan.ema,
        "sample_spec": spec.to_dict(),
        "prior": gan.latent_prior.to_dict(),
    }
    if model_digest:  # which model.keras this export was made from (kgan calibrate checks it)
        facts["model_sha256"] = model_digest
    if getattr(gan.generator, "num_members", None):
        facts["mixture"] = {"members": gan.generator.num_members, "weights": list(gan.generator.mixture_weights)}
    specs = export_specs(gan)
    functions = {s.role: s.function() for s in specs}
    if any(s.role == "discriminator" for s in specs):
        calibration = fit_export_calibration(gan, calibration_data or config.get("dataset"), config, log,
                                             refit_steps=refit_steps)
        if calibration:
            facts["calibration"] = calibration

    staging = staging_dir(out_dir)
    inside = os.path.abspath(saved_model_dir).startswith(os.path.abspath(out_dir) + os.sep)
    if inside:  # written and moved together with the ONNX folder
        saved_staging = os.path.join(staging, os.path.relpath(saved_model_dir, out_dir))
    else:
        saved_staging = staging_dir(saved_model_dir)
    try:
        log("kgan: writing the SavedModel")
        import tensorflow as tf

        with _quiet_absl():  # "unsaved custom gradients": latent_energy's, never differentiated again
            _write_saved_model(specs, functions, saved_staging)
            loaded = tf.saved_model.load(saved_staging)
        log(f"kgan: converting to ONNX (opset {opset}) and checking parity")
        parity = {}
        for spec_ in specs:
            model = _to_onnx(functions[spec_.role], int(opset))
            parity[spec_.role] = _parity(spec_, loaded.signatures[spec_.endpoint], model)
            _save_onnx(model, os.path.join(staging, spec_.file), _metadata(facts, spec_.role, parity[spec_.role]))
        variants = {}
        fp32_path = os.path.join(staging, "generator.onnx")
        generator = specs[0]
        if fp16:
            log("kgan: writing the float16 variant")
            path = os.path.join(staging, "generator.fp16.onnx")
            _fp16(fp32_path, path)
            variants["fp16"] = _variant_report(generator, fp32_path, path)
        if int8:
            log("kgan: writing the int8 variant (static QDQ, calibrated on latents)")
            path = os.path.join(staging, "generator.int8.onnx")
            _int8(generator, fp32_path, path, staging)
            variants["int8"] = _variant_report(generator, fp32_path, path)
        models = {s.role: s.describe() for s in specs}
        manifest = dict(
            facts,
            models=models,
            # The generator's and discriminator's signatures as earlier manifests gave them.
            inputs={k: v["shape"] for k, v in models["generator"]["inputs"].items()},
            outputs={k: v["shape"] for k, v in models["generator"]["outputs"].items()},
            discriminator=None if "discriminator" not in models else {
                "inputs": list(models["discriminator"]["inputs"]),
                "outputs": {k: v["shape"] for k, v in models["discriminator"]["outputs"].items()},
            },
            parity=parity,
            variants=variants,
            files={f: _sha256(os.path.join(staging, f)) for f in sorted(os.listdir(staging)) if f.endswith(".onnx")},
        )
        with open(os.path.join(staging, "manifest.json"), "w") as handle:
            json.dump(manifest, handle, indent=2)
        if not inside:
            replace_dir(saved_staging, saved_model_dir)
        replace_dir(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(saved_staging, ignore_errors=True)
    return ExportResult(out_dir=out_dir, saved_model_dir=saved_model_dir, manifest=manifest)
