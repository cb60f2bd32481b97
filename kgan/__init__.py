"""kgan: generative adversarial networks for Keras 3, trained with `fit`, shipped as ONNX.

The training side (TensorFlow and Keras) is imported on first use, so
`import kgan.inference` and `import kgan.images` work where only numpy, Pillow and
onnxruntime are installed.

Example:
    >>> import kgan
    >>> dataset, info = kgan.load_dataset("digits", batch_size=64)
    >>> gan = kgan.GAN(kgan.DCGANGenerator(info.shape, 64), kgan.DCGANDiscriminator(info.shape))
    >>> gan.compile("adam", "adam")
    >>> gan.fit(dataset, epochs=5)
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "GAN": "kgan.gan",
    "DCGANGenerator": "kgan.models.dcgan",
    "DCGANDiscriminator": "kgan.models.dcgan",
    "MLPGenerator": "kgan.models.mlp",
    "MLPDiscriminator": "kgan.models.mlp",
    "load_dataset": "kgan.data",
    "DatasetInfo": "kgan.data",
    "PRESETS": "kgan.presets",
    "get_preset": "kgan.presets",
    "train": "kgan.training",
    "TrainConfig": "kgan.training",
    "KganError": "kgan.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kgan' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
