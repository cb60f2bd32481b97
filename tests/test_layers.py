"""kgan's own layers."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan.layers import LeakyReLU

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_leaky_relu_is_keras_leaky_relu_written_as_a_maximum():
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32))
    ours, theirs = LeakyReLU(0.2), keras.layers.LeakyReLU(0.2)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a, b = ours(x), theirs(x)
    np.testing.assert_allclose(a, b, atol=1e-7)
    np.testing.assert_allclose(tape.gradient(a, x), tape.gradient(b, x), atol=1e-7)
    clone = LeakyReLU.from_config(ours.get_config())
    assert clone.negative_slope == pytest.approx(0.2)
    with pytest.raises(ValueError, match=r"negative_slope must be in \[0, 1\]"):
        LeakyReLU(1.5)


def test_training_the_families_logs_no_remapper_failure():
    # Grappler's remapper fused Conv2D / MatMul + BiasAdd + LeakyRelu and then failed on the
    # gradient, logging an error at every trace, for library users who call fit.
    code = (
        "import numpy as np, kgan\n"
        "for g, d, shape in ((kgan.DCGANGenerator((8, 8, 1), 8, filters=4), kgan.DCGANDiscriminator((8, 8, 1), "
        "filters=4), (64, 8, 8, 1)), (kgan.MLPGenerator(2, 3), kgan.MLPDiscriminator(2), (64, 2))):\n"
        "    gan = kgan.GAN(g, d, seed=0)\n"
        "    gan.compile('adam', 'adam', jit_compile=False)\n"
        "    gan.fit(np.random.default_rng(0).uniform(-1, 1, shape).astype('float32'), batch_size=16, verbose=0)\n"
        "print('trained')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="0"))
    assert result.returncode == 0 and result.stdout.strip() == "trained", result.stderr[-2000:]
    assert "remapper failed" not in result.stderr
