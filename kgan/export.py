"""Export a trained GAN's generator and discriminator to SavedModel and ONNX.

What is exported is a plain function of each network with an explicit signature, not
the GAN wrapper: the generator takes `z` (float32 `[batch, latent_dim]`) and, when
conditional, `label` (int64 `[batch]`) and returns `image` (float32 NHWC in [-1, 1])
or `sample` (2-D / vector generators); the discriminator takes `image` / `sample`
(and `label`) and returns `logit` (float32 `[batch]`). Every export is checked: Keras,
the SavedModel, onnxruntime and ONNX's reference evaluator must agree to within
`PARITY_TOLERANCE` on batches of 1 and 37, or the export fails and writes nothing.
The figures go into `manifest.json` and into each model's `metadata_props`.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time

import numpy as np

from kgan.errors import KganError

__all__ = ["PARITY_TOLERANCE", "ExportResult", "export_model", "load_run"]

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
    """The GAN itself, or a float32 copy of a mixed-precision one (same weights)."""
    from kgan.gan import GAN

    if all(m.dtype_policy.name == "float32" for m in (gan.generator, gan.discriminator)):
        return gan
    with _float32_policy():
        copy = GAN.from_config(gan.get_config())
    copy.generator.set_weights(gan.generator.get_weights())
    copy.discriminator.set_weights(gan.discriminator.get_weights())
    if gan.ema_generator is not None:
        copy.ema_generator.set_weights(gan.ema_generator.get_weights())
    return copy


def load_run(run_dir):
    """Loads `RUN_DIR/model.keras` (in float32) and the run's `config.json` (if any).

    Returns:
        `(gan, config dict)`.
    """
    import kgan

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


# -- the exported functions ----------------------------------------------------


def _signatures(gan):
    import tensorflow as tf

    sample_shape = list(gan.sample_shape)
    sample_name = "image" if len(sample_shape) == 3 else "sample"
    label = [tf.TensorSpec([None], tf.int64, name="label")] if gan.conditional else []
    generator = [tf.TensorSpec([None, gan.latent_dim], tf.float32, name="z"), *label]
    discriminator = [tf.TensorSpec([None, *sample_shape], tf.float32, name=sample_name), *label]
    return sample_name, generator, discriminator


def _functions(gan):
    """`(generator_fn, discriminator_fn, sample_name)` as tf.functions with signatures."""
    import tensorflow as tf

    sample_name, g_signature, d_signature = _signatures(gan)
    generator, discriminator = gan.sampler, gan.discriminator

    if gan.conditional:

        @tf.function(input_signature=g_signature)
        def generate(z, label):
            out = generator([z, tf.cast(label, tf.int32)], training=False)
            return {sample_name: tf.cast(out, tf.float32)}

        @tf.function(input_signature=d_signature)
        def discriminate(samples, label):
            out = discriminator([samples, tf.cast(label, tf.int32)], training=False)
            return {"logit": tf.reshape(tf.cast(out, tf.float32), [-1])}

    else:

        @tf.function(input_signature=g_signature)
        def generate(z):
            return {sample_name: tf.cast(generator(z, training=False), tf.float32)}

        @tf.function(input_signature=d_signature)
        def discriminate(samples):
            return {"logit": tf.reshape(tf.cast(discriminator(samples, training=False), tf.float32), [-1])}

    return generate, discriminate, sample_name


def _write_saved_model(gan, generate, discriminate, path):
    import keras

    archive = keras.export.ExportArchive()
    archive.track(gan.sampler)
    archive.track(gan.discriminator)
    archive.add_endpoint("serving_default", generate)
    if gan.pack == 1:
        archive.add_endpoint("discriminate", discriminate)
    archive.write_out(path, verbose=False)


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


def _feeds(gan, batch, rng, role):
    if role == "generator":
        feeds = {"z": rng.standard_normal((batch, gan.latent_dim)).astype(np.float32)}
    else:
        z = rng.standard_normal((batch, gan.latent_dim)).astype(np.float32)
        labels = rng.integers(0, gan.num_classes, batch) if gan.conditional else None
        samples = gan.sampler([z, labels.astype(np.int32)] if gan.conditional else z, training=False)
        name = "image" if len(gan.sample_shape) == 3 else "sample"
        feeds = {name: np.asarray(samples, np.float32)}
    if gan.conditional:
        feeds["label"] = rng.integers(0, gan.num_classes, batch).astype(np.int64)
    return feeds


def _keras_outputs(gan, role, feeds):
    model = gan.sampler if role == "generator" else gan.discriminator
    first = feeds["z"] if role == "generator" else feeds.get("image", feeds.get("sample"))
    inputs = [first, feeds["label"].astype(np.int32)] if gan.conditional else first
    out = np.asarray(model(inputs, training=False), np.float32)
    return out if role == "generator" else out.reshape(-1)


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _parity(gan, role, saved_fn, onnx_model, seed=0):
    """Max |diff| of SavedModel, onnxruntime and the ONNX reference evaluator vs Keras."""
    import onnxruntime as ort
    import tensorflow as tf
    from onnx.reference import ReferenceEvaluator

    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    figures = {"keras_vs_saved_model": 0.0, "keras_vs_onnxruntime": 0.0}
    for batch in PARITY_BATCHES:
        feeds = _feeds(gan, batch, rng, role)
        expected = _keras_outputs(gan, role, feeds)
        saved = saved_fn(**{k: tf.constant(v) for k, v in feeds.items()})
        saved = next(iter(saved.values())).numpy()
        onnx_out = session.run(None, feeds)[0]
        figures["keras_vs_saved_model"] = max(figures["keras_vs_saved_model"], _max_diff(saved, expected))
        figures["keras_vs_onnxruntime"] = max(figures["keras_vs_onnxruntime"], _max_diff(onnx_out, expected))
    feeds = _feeds(gan, REFERENCE_BATCH, rng, role)
    reference = ReferenceEvaluator(onnx_model).run(None, feeds)[0]
    figures["keras_vs_onnx_reference"] = _max_diff(reference, _keras_outputs(gan, role, feeds))
    figures.update(batches=list(PARITY_BATCHES), reference_batch=REFERENCE_BATCH, tolerance=PARITY_TOLERANCE)
    failed = {k: v for k, v in figures.items() if k.startswith("keras_vs") and not v <= PARITY_TOLERANCE}
    if failed:
        details = ", ".join(f"{k} {v:.2e}" for k, v in failed.items())
        raise KganError(f"{role} export failed its parity check ({details} > {PARITY_TOLERANCE:g}); nothing was written")
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


def _variant_report(gan, fp32_path, variant_path, seed=1):
    import onnxruntime as ort

    fp32 = ort.InferenceSession(fp32_path, providers=["CPUExecutionProvider"])
    variant = ort.InferenceSession(variant_path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    feeds = _feeds(gan, 64, rng, "generator")
    error = _max_diff(variant.run(None, feeds)[0], fp32.run(None, feeds)[0])
    one = _feeds(gan, 1, rng, "generator")
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
    """Calibration batches of latents (and labels) for static quantization."""

    def __init__(self, gan, batches=16, batch_size=32, seed=2):
        rng = np.random.default_rng(seed)
        self._feeds = iter([_feeds(gan, batch_size, rng, "generator") for _ in range(batches)])

    def get_next(self):
        return next(self._feeds, None)


def _int8(gan, fp32_path, out_path, work_dir):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(_LatentReader, CalibrationDataReader):
        pass

    prepared = os.path.join(work_dir, "generator.prepared.onnx")
    quant_pre_process(fp32_path, prepared, skip_symbolic_shape=True)
    quantize_static(
        prepared,
        out_path,
        Reader(gan),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    os.unlink(prepared)


# -- writing ---------------------------------------------------------------------


def _metadata(facts, role, parity):
    props = {
        "kgan.role": role,
        "kgan.version": facts["kgan_version"],
        "kgan.preset": facts["preset"],
        "kgan.kind": facts["kind"],
        "kgan.latent_dim": str(facts["latent_dim"]),
        "kgan.num_classes": "" if facts["num_classes"] is None else str(facts["num_classes"]),
        "kgan.output_shape": json.dumps(facts["output_shape"]),
        "kgan.value_range": json.dumps(facts["value_range"]),
        "kgan.opset": str(facts["opset"]),
        "kgan.ema": str(facts["ema"]),
        "kgan.parity": json.dumps(parity),
    }
    return props


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


def _replace_dir(staging, target):
    """Moves a finished staging folder onto `target`, replacing any earlier one."""
    from kgan.images import usual_mode

    os.chmod(staging, usual_mode(0o777))  # mkdtemp makes 0700
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-", dir=os.path.dirname(target))
        os.rmdir(old)
        os.replace(target, old)
    os.replace(staging, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def export_model(source, out_dir=None, opset=DEFAULT_OPSET, fp16=False, int8=False, saved_model_dir=None, log=None):
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

    Returns:
        an `ExportResult`.

    Example:
        >>> result = export_model("saved_models/digits")
        >>> result.manifest["parity"]["generator"]["keras_vs_onnxruntime"] < 1e-4
        True
    """
    _require_export_extras()
    import kgan

    if not 13 <= int(opset) <= 18:
        raise KganError(f"opset must be between 13 and 18 (tf2onnx 1.17 stops at 18), got {opset}")
    log = log or (lambda *_: None)
    if isinstance(source, (str, os.PathLike)):
        run_dir = os.fspath(source)
        gan, config = load_run(run_dir)
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
    from kgan.images import check_writable_target

    for path in (out_dir, saved_model_dir):
        check_writable_target(path, "export folder")

    sample_shape = list(gan.sample_shape)
    facts = {
        "kgan_version": kgan.__version__,
        "preset": config.get("preset", "custom"),
        "dataset": config.get("dataset"),
        "run": name,
        "kind": "image" if len(sample_shape) == 3 else "vector",
        "latent_dim": gan.latent_dim,
        "num_classes": gan.num_classes,
        "output_shape": sample_shape,
        "value_range": [-1.0, 1.0] if len(sample_shape) == 3 else None,
        "opset": int(opset),
        "ema": gan.ema,
    }
    generate, discriminate, sample_name = _functions(gan)

    out_parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(out_parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.partial-", dir=out_parent)
    inside = os.path.abspath(saved_model_dir).startswith(os.path.abspath(out_dir) + os.sep)
    if inside:  # written and moved together with the ONNX folder
        saved_staging = os.path.join(staging, os.path.relpath(saved_model_dir, out_dir))
    else:
        saved_parent = os.path.dirname(os.path.abspath(saved_model_dir))
        os.makedirs(saved_parent, exist_ok=True)
        saved_staging = tempfile.mkdtemp(prefix=f".{os.path.basename(saved_model_dir)}.partial-", dir=saved_parent)
    try:
        log("kgan: writing the SavedModel")
        _write_saved_model(gan, generate, discriminate, saved_staging)
        import tensorflow as tf

        loaded = tf.saved_model.load(saved_staging)
        log(f"kgan: converting to ONNX (opset {opset}) and checking parity")
        parity = {}
        roles = [("generator", generate, loaded.signatures["serving_default"])]
        if gan.pack == 1:  # a packed discriminator judges groups of samples, not one: no scorer
            roles.append(("discriminator", discriminate, loaded.signatures["discriminate"]))
        for role, function, endpoint in roles:
            model = _to_onnx(function, int(opset))
            parity[role] = _parity(gan, role, endpoint, model)
            _save_onnx(model, os.path.join(staging, f"{role}.onnx"), _metadata(facts, role, parity[role]))
        variants = {}
        fp32_path = os.path.join(staging, "generator.onnx")
        if fp16:
            log("kgan: writing the float16 variant")
            path = os.path.join(staging, "generator.fp16.onnx")
            _fp16(fp32_path, path)
            variants["fp16"] = _variant_report(gan, fp32_path, path)
        if int8:
            log("kgan: writing the int8 variant (static QDQ, calibrated on latents)")
            path = os.path.join(staging, "generator.int8.onnx")
            _int8(gan, fp32_path, path, staging)
            variants["int8"] = _variant_report(gan, fp32_path, path)
        manifest = dict(
            facts,
            inputs={"z": ["batch", gan.latent_dim], **({"label": ["batch"]} if gan.conditional else {})},
            outputs={sample_name: ["batch", *sample_shape]},
            discriminator=None if gan.pack > 1 else {
                "inputs": [sample_name, *(["label"] if gan.conditional else [])],
                "outputs": {"logit": ["batch"]},
            },
            parity=parity,
            variants=variants,
            files={f: _sha256(os.path.join(staging, f)) for f in sorted(os.listdir(staging)) if f.endswith(".onnx")},
        )
        with open(os.path.join(staging, "manifest.json"), "w") as handle:
            json.dump(manifest, handle, indent=2)
        if not inside:
            _replace_dir(saved_staging, saved_model_dir)
        _replace_dir(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(saved_staging, ignore_errors=True)
    return ExportResult(out_dir=out_dir, saved_model_dir=saved_model_dir, manifest=manifest)
