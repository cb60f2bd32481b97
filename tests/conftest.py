import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


@pytest.fixture
def digits_images():
    """64 real 8x8 digits in [-1, 1], NHWC."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.images[:64].astype(np.float32) / 8.0 - 1.0)[..., None], bunch.target[:64]


@pytest.fixture
def tiny_dcgan():
    """A tiny unconditional 8x8 DCGAN pair (latent 8, 4 filters)."""
    from kgan.models import DCGANDiscriminator, DCGANGenerator

    def make(num_classes=None, **discriminator_kwargs):
        generator = DCGANGenerator((8, 8, 1), latent_dim=8, num_classes=num_classes, filters=4, embedding_dim=4)
        discriminator = DCGANDiscriminator((8, 8, 1), num_classes=num_classes, filters=4, **discriminator_kwargs)
        return generator, discriminator

    return make
