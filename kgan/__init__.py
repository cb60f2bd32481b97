"""kgan: generative adversarial networks for Keras 3, trained with `fit`, shipped as ONNX.

The training side (TensorFlow and Keras) is imported on first use, so
`import kgan.runtime.inference` and `import kgan.runtime.images` work where only numpy, Pillow and
onnxruntime are installed.

Example:
    >>> import kgan
    >>> dataset, info = kgan.load_dataset("digits", batch_size=64)
    >>> gan = kgan.GAN(kgan.DCGANGenerator(info.shape, 64), kgan.DCGANDiscriminator(info.shape))
    >>> gan.compile("adam", "adam")
    >>> gan.fit(dataset, epochs=5)
"""

import importlib
import sys

from kgan import _moved, _onednn, _quiet

__version__ = "0.1.0"

# TensorFlow's C++ start-up lines stay hidden, as in the CLI, unless TF_CPP_MIN_LOG_LEVEL is set.
_quiet.install()
# oneDNN's CPU kernels on every x86 CPU (TensorFlow picks them on AVX-512 ones only), unless the
# user chose with TF_ENABLE_ONEDNN_OPTS: Eigen's Conv3D gradient is 76 times slower on AVX2 ones.
_onednn.install()
# Modules that moved keep their old import paths, with a DeprecationWarning.
_moved.install()

_LAZY = {
    "GAN": "kgan.gan",
    "GeneratorMixture": "kgan.mixture",
    "DCGANGenerator": "kgan.models.dcgan",
    "DCGANDiscriminator": "kgan.models.dcgan",
    "MLPGenerator": "kgan.models.mlp",
    "MLPDiscriminator": "kgan.models.mlp",
    "R3GANGenerator": "kgan.models.r3gan",
    "R3GANDiscriminator": "kgan.models.r3gan",
    "UNetGenerator": "kgan.models.unet",
    "PatchDiscriminator": "kgan.models.unet",
    "PairedGAN": "kgan.paired",
    "SequenceGAN": "kgan.text_gan",
    "load_dataset": "kgan.data",
    "DatasetInfo": "kgan.data",
    "PRESETS": "kgan.presets",
    "get_preset": "kgan.presets",
    "train": "kgan.training",
    "TrainConfig": "kgan.config",
    "KganError": "kgan.errors",
    "SampleSpec": "kgan.runtime.samples",
    "LatentPrior": "kgan.runtime.latent",
}

__all__ = ["__version__", "load_model", *_LAZY]


def _register_keras_classes():
    importlib.import_module("kgan.gan")
    importlib.import_module("kgan.models")
    importlib.import_module("kgan.mixture")
    importlib.import_module("kgan.paired")
    importlib.import_module("kgan.text_gan")


def load_model(path, **kwargs):
    """`keras.models.load_model` with kgan's classes registered.

    Args:
        path: a `.keras` file written by `GAN.save` or `kgan train` (`RUN_DIR/model.keras`).
        **kwargs: passed on to `keras.models.load_model` (`compile`, `safe_mode`).

    Returns:
        The `kgan.GAN`, with its networks, losses and optimizer state.

    Example:
        >>> gan = kgan.load_model("saved_models/digits/model.keras")
        >>> images = gan.generate(16, seed=0)
    """
    import keras

    _register_keras_classes()
    return keras.models.load_model(path, **kwargs)


# Where Keras is already loaded (`import keras` sorts before `import kgan`), register
# kgan's serializable classes now so plain `keras.models.load_model` finds them.
if "keras" in sys.modules:
    _register_keras_classes()


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kgan' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
