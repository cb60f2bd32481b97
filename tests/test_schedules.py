"""Schedules of the step (R3GAN's ramps): their values in closed form, in the optimizer and in the GAN."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from harness import SpyDiscriminator, constant_generator
from kgan import GAN, TrainConfig
from kgan.errors import KganError
from kgan.schedules import CosineRamp, HalfLifeDecay, ScheduledAdam


def test_cosine_ramp_follows_half_a_cosine_then_holds():
    ramp = CosineRamp(2e-4, 5e-5, steps=100)
    for step in (0, 25, 50, 100, 250):
        t = min(step / 100, 1.0)
        expected = 2e-4 + (5e-5 - 2e-4) * (1 - math.cos(math.pi * t)) / 2
        assert float(ramp(step)) == pytest.approx(expected, rel=1e-5), step
    assert float(CosineRamp(0.9, 0.99, 10)(5)) == pytest.approx(0.945, rel=1e-6)  # a ramp up, halfway
    with pytest.raises(ValueError, match="at least one step"):
        CosineRamp(1.0, 0.0, 0)


def test_half_life_decay_halves_the_weight_over_the_half_life():
    decay = HalfLifeDecay(CosineRamp(0.0, 1000.0, 10), batch_size=100)
    assert float(decay(0)) == pytest.approx(0.0, abs=1e-12)  # half-life 0: the average is the generator
    assert float(decay(10)) ** 10 == pytest.approx(0.5, rel=1e-5)  # 10 steps of 100 images: half
    restored = HalfLifeDecay.from_config(decay.get_config())
    assert float(restored(7)) == pytest.approx(float(decay(7)), rel=1e-6)


def adam_steps(optimizer, gradients):
    variable = keras.Variable(np.zeros(3, np.float32))
    for g in gradients:
        optimizer.apply([tf.constant(g, tf.float32)], [variable])
    return np.asarray(variable)


def test_scheduled_adam_is_adam_with_the_steps_beta_2():
    rng = np.random.default_rng(0)
    gradients = rng.normal(size=(5, 3))
    # A constant beta_2: Keras's Adam, step for step.
    np.testing.assert_allclose(adam_steps(ScheduledAdam(0.1, 0.0, 0.95, 1e-8), gradients),
                               adam_steps(keras.optimizers.Adam(0.1, 0.0, 0.95, 1e-8), gradients), rtol=1e-5)
    # A ramped beta_2 against the update written out, with beta_1 = 0 as R3GAN uses it.
    ramp = CosineRamp(0.9, 0.99, 4)
    v, x = np.zeros(3), np.zeros(3)
    for step, g in enumerate(gradients):
        beta_2 = float(ramp(step))
        v = beta_2 * v + (1 - beta_2) * g**2
        x -= 0.1 * math.sqrt(1 - beta_2 ** (step + 1)) * g / (np.sqrt(v) + 1e-8)
    got = adam_steps(ScheduledAdam(0.1, 0.0, ramp, 1e-8), gradients)
    np.testing.assert_allclose(got, x, rtol=1e-4)
    assert np.abs(got - adam_steps(keras.optimizers.Adam(0.1, 0.0, 0.9, 1e-8), gradients)).max() > 1e-4
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(ScheduledAdam(0.1, 0.0, ramp)))
    assert float(restored.beta_2(2)) == pytest.approx(float(ramp(2)))


def frozen_gan(**kwargs):
    gan = GAN(constant_generator(), SpyDiscriminator(), seed=0, joint_discriminator=False, **kwargs)
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0), run_eagerly=True)
    gan.discriminator(tf.zeros((1, 8, 8, 1)))
    gan.discriminator.seen.clear()
    return gan


def test_a_ramped_gamma_weighs_the_penalties_at_the_generators_step(digits_images):
    # The linear discriminator's input gradient is its kernel w: each penalty is gamma(step) / 2 * ||w||^2.
    real = tf.constant(digits_images[0])
    gan = frozen_gan(loss="rpgan", r1_penalty=CosineRamp(4.0, 0.4, 10), r2_penalty=CosineRamp(2.0, 0.2, 10))
    norm2 = float(np.sum(np.asarray(gan.discriminator.dense.kernel) ** 2))
    for step in (0, 5, 10):
        gan.g_optimizer.iterations.assign(step)
        logs = {k: float(v) for k, v in gan.train_step(real).items()}
        gan.reset_metrics()
        assert logs["d_r1_penalty"] == pytest.approx(0.5 * float(CosineRamp(4.0, 0.4, 10)(step)) * norm2, rel=1e-4)
        assert logs["d_r2_penalty"] == pytest.approx(0.5 * float(CosineRamp(2.0, 0.2, 10)(step)) * norm2, rel=1e-4)


@pytest.mark.parametrize("probability, augmented", [(0.0, (0, 0)), (1.0, (64, 64)), (0.5, (20, 44))])
def test_augment_probability_augments_that_share_of_samples(digits_images, probability, augmented):
    gan = frozen_gan(augment=("color",), augment_probability=probability)
    gan.train_step(tf.constant(digits_images[0]))
    seen = gan.discriminator.seen[0][0]  # the real batch as the discriminator saw it
    changed = np.abs(seen - digits_images[0]).reshape(64, -1).max(axis=1) > 1e-6
    assert augmented[0] <= changed.sum() <= augmented[1]
    # The fakes are drawn apart: another set of samples changed.
    fakes_changed = np.abs(gan.discriminator.seen[1][0] - gan.discriminator.seen[2][0]).reshape(64, -1).max(axis=1)
    if 0 < probability < 1:
        assert (fakes_changed > 1e-6).sum() not in (0, 64)


def test_scheduled_arguments_save_with_the_gan(tiny_dcgan):
    gan = GAN(*tiny_dcgan(), r1_penalty=CosineRamp(1.0, 0.1, 7),
              ema=HalfLifeDecay(CosineRamp(0.0, 500.0, 7), 64), augment=("color",),
              augment_probability=CosineRamp(0.0, 0.3, 7))
    clone = GAN.from_config(gan.get_config())
    assert float(clone.r1_penalty(3)) == pytest.approx(float(gan.r1_penalty(3)))
    assert float(clone.ema(5)) == pytest.approx(float(gan.ema(5)))
    assert float(clone.augment_probability(7)) == pytest.approx(0.3)


def test_the_ema_follows_its_decay_schedule(digits_images):
    # Half-life 0 for the first step: the average copies the generator; later it lags behind.
    gan = frozen_gan(ema=HalfLifeDecay(CosineRamp(0.0, 64.0, 1), 64))
    gan.generator.layers[1].bias.assign(np.ones(64, np.float32))
    gan.train_step(tf.constant(digits_images[0]))
    np.testing.assert_allclose(np.asarray(gan.ema_generator.layers[1].bias), 1.0)
    gan.generator.layers[1].bias.assign(np.zeros(64, np.float32))
    gan.train_step(tf.constant(digits_images[0]))  # decay 0.5: halfway to the new weights
    np.testing.assert_allclose(np.asarray(gan.ema_generator.layers[1].bias), 0.5, rtol=1e-5)


def test_ramps_are_checked_and_reach_the_gan():
    from kgan.training import build_gan
    from kgan.data import load_dataset

    with pytest.raises(KganError, match="unknown ramp 'gamma'"):
        TrainConfig(ramps={"gamma": [1, 0]}).validate()
    with pytest.raises(KganError, match=r"ramp lr must be \[start, end\]"):
        TrainConfig(ramps={"lr": [1e-3]}).validate()
    with pytest.raises(KganError, match="replaces lr_schedule"):
        TrainConfig(ramps={"lr": [1e-3, 1e-4]}, lr_schedule="linear").validate()
    config = TrainConfig(epochs=2, steps_per_epoch=5, generator={"filters": 4}, discriminator={"filters": 4},
                         latent_dim=8, ramps={"lr": [2e-4, 5e-5], "beta_2": [0.9, 0.99], "r1_penalty": [1.0, 0.1],
                                              "r2_penalty": [1.0, 0.1], "ema_half_life": [0, 640],
                                              "augment_probability": [0, 0.5]}, augment=("color",))
    config.validate()
    _, info = load_dataset("digits", batch_size=64)
    gan = build_gan(config, info)
    assert isinstance(gan.g_optimizer, ScheduledAdam)
    assert float(gan.g_optimizer.learning_rate) == pytest.approx(2e-4)  # at step 0
    assert float(gan.g_optimizer._learning_rate(10)) == pytest.approx(5e-5)  # the run's 10 steps
    assert float(gan.d_optimizer.beta_2(10)) == pytest.approx(0.99)
    assert float(gan.r2_penalty(5)) == pytest.approx(0.55)
    assert float(gan.augment_probability(10)) == pytest.approx(0.5)
    assert float(gan.ema(10)) == pytest.approx(0.5 ** 0.1, rel=1e-5)
