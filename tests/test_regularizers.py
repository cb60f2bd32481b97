"""Penalties on discriminators whose gradients are known in closed form."""

import numpy as np
import pytest
import tensorflow as tf

from kgan import regularizers

W = tf.constant([[3.0], [4.0]])  # ||W|| = 5


def linear(x):
    return tf.matmul(x, W)


def quadratic(x):
    # D(x) = sum(x^2): gradient 2x.
    return tf.reduce_sum(tf.square(x), axis=1, keepdims=True)


def test_gradient_penalty_of_a_linear_critic():
    real = tf.random.normal((6, 2))
    fake = tf.random.normal((6, 2))
    alpha = tf.random.uniform((6,))
    # The gradient is W everywhere: (||W|| - 1)^2 = 16.
    assert float(regularizers.gradient_penalty(linear, real, fake, alpha)) == pytest.approx(16.0, rel=1e-5)


def test_gradient_penalty_evaluates_between_real_and_fake():
    real = tf.constant([[1.0, 0.0]])
    fake = tf.constant([[0.0, 0.0]])
    # x_hat = alpha * real; grad = 2 x_hat; norm = 2 alpha.
    for alpha in (0.0, 0.25, 1.0):
        expected = (2 * alpha - 1.0) ** 2
        value = regularizers.gradient_penalty(quadratic, real, fake, tf.constant([alpha]))
        assert float(value) == pytest.approx(expected, abs=1e-5)


def test_gradient_penalty_works_on_images():
    real = tf.ones((3, 4, 4, 1))
    value = regularizers.gradient_penalty(lambda x: tf.reduce_sum(x, axis=[1, 2, 3]), real, -real, tf.zeros((3,)))
    assert float(value) == pytest.approx((4.0 - 1.0) ** 2, rel=1e-5)  # ||ones(16)|| = 4


def test_r1_penalty_is_the_squared_gradient_norm_on_real_data():
    real = tf.constant([[1.0, 2.0], [0.0, 1.0]])
    assert float(regularizers.r1_penalty(linear, real)) == pytest.approx(25.0, rel=1e-5)
    # grad = 2x: mean of 4 * ||x||^2 = mean(20, 4) = 12.
    assert float(regularizers.r1_penalty(quadratic, real)) == pytest.approx(12.0, rel=1e-5)


def test_r2_penalty_is_the_squared_gradient_norm_on_the_samples_it_is_given():
    fake = tf.constant([[1.0, 2.0], [0.0, 1.0], [3.0, 0.0]])
    assert float(regularizers.r2_penalty(linear, fake)) == pytest.approx(25.0, rel=1e-5)
    # grad = 2x: mean of 4 * ||x||^2 = mean(20, 4, 36) = 20.
    assert float(regularizers.r2_penalty(quadratic, fake)) == pytest.approx(20.0, rel=1e-5)
    # Per sample, each its own: a batch of two halves gives each half's norms.
    np.testing.assert_allclose(regularizers.zero_centered_penalty(quadratic, fake), [20.0, 4.0, 36.0], rtol=1e-5)


def test_instance_noise_scales_the_noise():
    x = np.zeros((2, 3), np.float32)
    noise = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(regularizers.add_instance_noise(x, 0.5, noise), np.full((2, 3), 0.5))
