"""SavedModel and ONNX files from traced functions (tf2onnx), quietly, in float32."""

import contextlib

from kgan.errors import KganError
from kgan.run import float32_policy

def _require_export_extras():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as error:
        raise KganError(
            f"exporting needs the export extras ({error.name} is missing): pip install 'kgan[export]'"
        ) from None


def _as_float32(gan):
    """The GAN itself, or a float32 copy of a mixed-precision one with every weight of every
    model it holds (generator, discriminator, EMA generator, and any a subclass adds)."""
    layers = gan._flatten_layers(include_self=False)
    if all(layer.dtype_policy.name == "float32" for layer in layers):
        return gan
    with float32_policy():
        copy = type(gan).from_config(gan.get_config())
    if len(copy.weights) != len(gan.weights):
        raise KganError("the float32 copy of the mixed-precision GAN has other weights: export it in float32")
    for target, source in zip(copy.weights, gan.weights):
        target.assign(source)
    return copy


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


def _save_onnx(model, path, props):
    import onnx

    onnx.helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
