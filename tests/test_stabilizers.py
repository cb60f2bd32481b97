"""Stabilizers: each trains under XLA, and does what its paper says to the data it sees."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan.errors import KganError
from kgan.gan import GAN
from kgan.models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator


def test_packing_puts_consecutive_samples_side_by_side():
    gan = GAN(MLPGenerator(2, 3), MLPDiscriminator(6), pack=3)
    vectors = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.testing.assert_array_equal(gan._packed(tf.constant(vectors)), vectors.reshape(2, 6))
    gan = GAN(DCGANGenerator((8, 8, 3), 4, filters=2), DCGANDiscriminator((8, 8, 6), filters=2), pack=2)
    images = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype(np.float32)
    packed = gan._packed(tf.constant(images)).numpy()
    assert packed.shape == (2, 8, 8, 6)
    np.testing.assert_array_equal(packed[1, ..., :3], images[2])
    np.testing.assert_array_equal(packed[1, ..., 3:], images[3])


def test_packed_gan_trains_under_xla_and_exports_without_a_scorer(tmp_path):
    config = kgan.get_preset("digits").replace(epochs=1, steps_per_epoch=3, pack=4, xla=True,
                                               out=str(tmp_path / "run"), export_dir=str(tmp_path / "onnx"))
    result = kgan.train(config, verbose=0, log=lambda *_: None)
    assert result.gan.discriminator.input_shape == (None, 8, 8, 4)
    assert np.isfinite(result.history["d_loss"]).all()
    assert sorted(os.listdir(tmp_path / "onnx")) == ["generator.onnx", "manifest.json"]
    from kgan.inference import GeneratorRuntime

    runtime = GeneratorRuntime(tmp_path / "onnx")
    assert runtime.generate(3, seed=0).shape == (3, 8, 8, 1)
    with pytest.raises(KganError, match="no discriminator.onnx"):
        runtime.score(runtime.generate(2, seed=0))
    restored = kgan.load_model(result.files["model"])
    assert restored.pack == 4


def test_packing_arguments_are_checked():
    with pytest.raises(KganError, match="pack must be a positive divisor of the batch size 64"):
        kgan.get_preset("digits").replace(pack=5).validate()
    with pytest.raises(KganError, match="unconditional"):
        GAN(DCGANGenerator((8, 8, 1), 4, num_classes=3), DCGANDiscriminator((8, 8, 2), num_classes=3), pack=2)
