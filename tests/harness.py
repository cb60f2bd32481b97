"""Shared checks: serialization round trips, `.keras` save/reload, XLA, export parity (keras-hub test_case style)."""

import inspect
import json
import os

import keras
import numpy as np
import tensorflow as tf


def _plain(value):
    """A JSON-comparable form of an argument: tuples as lists, Keras objects serialized."""
    if isinstance(value, (keras.layers.Layer, keras.Model)):
        return json.loads(json.dumps(keras.layers.serialize(value)))
    return json.loads(json.dumps(value))


def _constructor_arguments(cls):
    skipped = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    return {name: p for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in skipped}


def assert_arguments_kept(model, arguments):
    """Each argument in `arguments` is in `model.get_config()` with the value that was passed."""
    config = model.get_config()
    for name, value in arguments.items():
        assert name in config, f"get_config() drops {name!r}"
        assert _plain(config[name]) == _plain(value), f"{name}: passed {value!r}, config has {config[name]!r}"


def assert_config_round_trip(model, arguments, allow_default=()):
    """get_config -> from_config keeps every constructor argument as it was passed.

    Args:
        model: a model built from `arguments`.
        arguments: every argument of `type(model).__init__`, each set to a value other
            than its default (a dropped argument would then come back as the default
            and fail), except the names in `allow_default`.
    """
    expected = _constructor_arguments(type(model))
    missing = sorted(set(expected) - set(arguments))
    assert not missing, f"the round trip must set every constructor argument; missing {missing}"
    for name, value in arguments.items():
        default = expected[name].default
        if name not in allow_default and default is not inspect.Parameter.empty:
            assert _plain(value) != _plain(default), f"{name} is at its default {default!r}: pick another value"
    assert_arguments_kept(model, arguments)
    config = model.get_config()
    clone = model.__class__.from_config(config)
    assert_arguments_kept(clone, arguments)
    assert json.dumps(clone.get_config(), sort_keys=True) == json.dumps(config, sort_keys=True)
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    return clone


def assert_keras_round_trip(model, inputs, tmp_path, atol=1e-6):
    """Saves to .keras, reloads, and checks the outputs agree in inference mode."""
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is type(model)
    expected, actual = model(inputs, training=False), restored(inputs, training=False)
    expected, actual = (list(out) if isinstance(out, (list, tuple)) else [out] for out in (expected, actual))
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):  # every output (a discriminator's member head too)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(e), atol=atol)
    return restored


def _compiled_steps(function, seen):
    """(jit_compile, times traced) of each tf.function reachable from a Keras step function."""
    if id(function) in seen:
        return []
    seen.add(id(function))
    found = []
    if hasattr(function, "experimental_get_tracing_count"):
        found.append((function._jit_compile, function.experimental_get_tracing_count()))
        function = function.python_function
    for cell in getattr(function, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if callable(value):
            found += _compiled_steps(value, seen)
    return found


def assert_trained_under_xla(model):
    """The model's `fit` ran a train step compiled with `jit_compile=True` (XLA), not only asked for it."""
    steps = _compiled_steps(model.train_function, set())
    assert any(jit and traced for jit, traced in steps), f"no XLA-compiled train step ran: {steps}"


def assert_close(actual, expected, max_tol, mean_tol, what=""):
    """Max and mean |difference| under two thresholds (the keras-hub export-parity check)."""
    diff = np.abs(np.asarray(actual, np.float64) - np.asarray(expected, np.float64))
    assert diff.shape == np.shape(expected), (what, diff.shape, np.shape(expected))
    assert diff.max() <= max_tol and diff.mean() <= mean_tol, f"{what}: max {diff.max():.3g}, mean {diff.mean():.3g}"


def onnx_outputs(path, feeds):
    """Runs an ONNX file in onnxruntime on named feeds (int labels as int64); returns its first output."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {k: (v.astype(np.int64) if np.issubdtype(v.dtype, np.integer) else v.astype(np.float32))
             for k, v in feeds.items()}
    return session.run(None, feeds)[0]


def assert_export_matches_keras(gan, out_dir, seed=11, n=9, max_tol=1e-4, mean_tol=2e-5):
    """generator.onnx and discriminator.onnx in `out_dir` against the GAN they came from, on fresh inputs.

    Computed here, not read from the export's manifest, so a wrong parity figure cannot pass.
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, gan.latent_dim)).astype(np.float32)
    labels = rng.integers(0, gan.num_classes, n) if gan.conditional else None
    g_in = [z, labels.astype(np.int32)] if gan.conditional else z
    expected = keras.ops.convert_to_numpy(gan.sampling_generator(g_in, training=False)).astype(np.float32)
    feeds = {"z": z, **({"label": labels} if gan.conditional else {})}
    assert_close(onnx_outputs(os.path.join(out_dir, "generator.onnx"), feeds), expected, max_tol, mean_tol,
                 "generator")
    samples = expected + rng.normal(0, 0.1, expected.shape).astype(np.float32)  # not only the generator's own
    d_in = [samples, labels.astype(np.int32)] if gan.conditional else samples
    logits = keras.ops.convert_to_numpy(gan.discriminator(d_in, training=False)).reshape(-1)
    name = {5: "video", 4: "image"}.get(samples.ndim, "sample")
    feeds = {name: samples, **({"label": labels} if gan.conditional else {})}
    assert_close(onnx_outputs(os.path.join(out_dir, "discriminator.onnx"), feeds), logits, max_tol, mean_tol,
                 "discriminator")


class SpyDiscriminator(keras.Model):
    """A linear discriminator (flatten, dense) that records each input and its logits when run eagerly."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        # A seeded, small kernel and a bias of 1.5: the same logits in every run, near 1.5, so
        # that label smoothing changes the loss visibly.
        self.dense = keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.05, seed=1),
                                        bias_initializer=keras.initializers.Constant(1.5))
        self.seen = []

    def call(self, inputs, training=False):
        logits = self.dense(self.flatten(inputs))
        if tf.executing_eagerly():
            self.seen.append((np.array(inputs), np.array(logits)))
        return logits


def constant_generator(latent_dim=4):
    """z -> one fixed 8x8 image: the Dense kernel is zero, so the output is the bias whatever z is."""
    z = keras.Input((latent_dim,))
    dense = keras.layers.Dense(64, kernel_initializer="zeros",
                               bias_initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=3))
    return keras.Model(z, keras.layers.Reshape((8, 8, 1))(dense(z)))


def played_frames(path, frame_ms=100):
    """A GIF's frames as it plays them, one every `frame_ms` (grey levels): GIF writers keep one frame
    of a run of equal ones, shown for the run's whole time."""
    from PIL import Image, ImageSequence

    frames = []
    with Image.open(path) as gif:
        assert gif.format == "GIF", f"{path} is a {gif.format}, not a GIF"
        for frame in ImageSequence.Iterator(gif):
            repeats = int(round(frame.info["duration"] / frame_ms))
            frames += [np.asarray(frame.convert("L"))] * repeats
    return frames


# A preset with data of each kind, and flags that keep a family's run tiny.
FAMILY_RUNS = {"image": ["--preset", "digits"], "vector": ["--preset", "ring8"],
               "video": ["--preset", "moving-digits", "--frames", "4", "--image-size", "8"],
               "tokens": ["--preset", "names"]}


def run_family_test(name, tmp_path, flags=()):
    """A registered family from outside in (keras-hub's `run_backbone_test`, for a whole family):
    `kgan train --family NAME` on data of its kind trains both networks a few steps, saves a
    `.keras` that loads with the same samples, exports ONNX that matches Keras, and
    `kgan generate` samples the export as the runtime does. Returns `(gan, export_dir)`."""
    import kgan
    from kgan.cli import main
    from kgan.models import get_family
    from kgan.runtime.inference import GeneratorRuntime
    from kgan.runtime.samples import get_kind

    family = get_family(name)
    run, export = tmp_path / "run", tmp_path / "export"
    assert main(["train", *FAMILY_RUNS[family.kind], "--family", name, "--epochs", "1", "--steps-per-epoch", "2",
                 "--batch-size", "16", "--out", str(run), "--export-dir", str(export),
                 "--quiet", *flags]) == 0
    config = json.load(open(run / "config.json"))
    assert config["model"] == name
    gan = kgan.load_model(str(run / "model.keras"))
    assert isinstance(gan.generator, family.generator) and isinstance(gan.discriminator, family.discriminator)
    if gan.latent_dim:  # ONNX against Keras on fresh latents and samples (a `z`-driven generator)
        as_trained = export
        if (json.load(open(export / "manifest.json")).get("calibration") or {}).get("refit_steps"):
            # the export refit its discriminator (the default on data drawn afresh): export the run's own beside it
            as_trained = tmp_path / "export-as-trained"
            assert main(["export", str(run), "--out", str(as_trained), "--refit-steps", "0", "--opset", "17"]) == 0
        assert_export_matches_keras(gan, str(as_trained))
    kind = get_kind(gan.sample_spec)
    shown = np.asarray(GeneratorRuntime(str(export)).generate(4, seed=1))
    expected = np.asarray(kind.to_display(gan.generate(4, seed=1), gan.sample_spec))
    if np.issubdtype(shown.dtype, np.floating):  # a vector's values as they are: float32 rounding apart
        np.testing.assert_allclose(shown, expected, rtol=1e-5, atol=1e-6)
    else:  # pixels and tokens: the same values
        np.testing.assert_array_equal(shown, expected)
    assert main(["generate", str(export), "-n", "4", "--seed", "1", "-o", str(tmp_path / "samples.png")]) == 0
    return gan, str(export)
