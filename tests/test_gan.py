import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan.errors import KganError
from kgan.gan import GAN
from kgan.losses import LOSSES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dataset_of(images, labels=None, batch=16):
    data = images if labels is None else (images, labels)
    return tf.data.Dataset.from_tensor_slices(data).batch(batch, drop_remainder=True)


def compiled(generator, discriminator, jit_compile=False, **kwargs):
    gan = GAN(generator, discriminator, seed=1, **kwargs)
    gan.compile(keras.optimizers.Adam(1e-3, 0.5), keras.optimizers.Adam(1e-3, 0.5), jit_compile=jit_compile)
    return gan


def snapshot(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def changed(before, model):
    return any(np.abs(a - b.numpy()).max() > 0 for a, b in zip(before, model.trainable_variables))


@pytest.mark.parametrize("jit_compile", [False, True], ids=["no_xla", "xla"])
def test_train_step_updates_both_networks(tiny_dcgan, digits_images, jit_compile):
    generator, discriminator = tiny_dcgan()
    gan = compiled(generator, discriminator, jit_compile=jit_compile, d_steps=2)
    g_before, d_before = snapshot(generator), snapshot(discriminator)
    history = gan.fit(dataset_of(digits_images[0]), epochs=2, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "real_score", "fake_score"}
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert changed(g_before, generator) and changed(d_before, discriminator)
    # d_steps=2: two discriminator updates per generator update (4 batches x 2 epochs).
    assert int(gan.g_optimizer.iterations) == 8
    assert int(gan.d_optimizer.iterations) == 16
    assert gan.jit_compile is jit_compile


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_trains_with_its_regularizers(tiny_dcgan, digits_images, loss):
    generator, discriminator = tiny_dcgan()
    smoothing = 0.1 if loss in ("non_saturating", "minimax", "least_squares") else 0.0
    gan = compiled(
        generator,
        discriminator,
        loss=loss,
        gradient_penalty=10.0 if loss == "wasserstein" else 0.0,
        r1_penalty=1.0 if loss == "non_saturating" else 0.0,
        instance_noise=0.1,
        label_smoothing=smoothing,
        jit_compile=True,
    )
    history = gan.fit(dataset_of(digits_images[0]), epochs=1, verbose=0)
    assert all(np.isfinite(v).all() for v in history.history.values())


def test_penalties_raise_the_discriminator_loss(tiny_dcgan, digits_images):
    # Same weights, same noise: a penalty can only add to the logged loss.
    logs = []
    for penalty in ({}, {"gradient_penalty": 10.0}, {"r1_penalty": 10.0}):
        keras.utils.set_random_seed(0)
        generator, discriminator = tiny_dcgan()
        gan = compiled(generator, discriminator, **penalty)
        logs.append(gan.evaluate(dataset_of(digits_images[0]), verbose=0, return_dict=True)["d_loss"])
    assert logs[1] > logs[0] and logs[2] > logs[0]


def test_instance_noise_anneals_to_zero(tiny_dcgan):
    generator, discriminator = tiny_dcgan()
    gan = compiled(generator, discriminator, instance_noise=0.2, instance_noise_steps=10)
    assert float(gan._noise_std()) == pytest.approx(0.2)
    gan.g_optimizer.iterations.assign(5)
    assert float(gan._noise_std()) == pytest.approx(0.1)
    gan.g_optimizer.iterations.assign(50)
    assert float(gan._noise_std()) == 0.0


def test_conditional_gan_trains_and_generates_by_label(tiny_dcgan, digits_images):
    generator, discriminator = tiny_dcgan(num_classes=10)
    gan = compiled(generator, discriminator)
    assert gan.conditional and gan.num_classes == 10
    images, labels = digits_images
    history = gan.fit(dataset_of(images, labels), epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"]).all()
    sevens = gan.generate(3, seed=0, labels=7)
    threes = gan.generate(3, seed=0, labels=[3, 3, 3])
    assert sevens.shape == (3, 8, 8, 1) and np.abs(sevens - threes).max() > 0
    with pytest.raises(KganError, match=r"labels must be in \[0, 9\]"):
        gan.generate(2, labels=10)


def test_generate_is_reproducible_and_batched(tiny_dcgan):
    generator, discriminator = tiny_dcgan()
    gan = compiled(generator, discriminator)
    a = gan.generate(10, seed=5, batch_size=3)
    b = gan.generate(10, seed=5)
    assert a.dtype == np.float32 and a.shape == (10, 8, 8, 1)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert np.abs(gan.generate(10, seed=6) - a).max() > 0
    np.testing.assert_allclose(gan(gan.latents(10, seed=5)), a, atol=1e-6)
    with pytest.raises(KganError, match="n must be a positive integer"):
        gan.generate(0)
    with pytest.raises(KganError, match="unconditional model"):
        gan.generate(2, labels=1)


def test_labels_given_to_an_unconditional_gan_are_refused(tiny_dcgan, digits_images):
    generator, discriminator = tiny_dcgan()
    gan = compiled(generator, discriminator)
    with pytest.raises(KganError, match="the data has labels but the GAN is unconditional"):
        gan.fit(dataset_of(*digits_images), epochs=1, verbose=0)


def test_users_own_sequential_models_as_in_the_keras_examples(digits_images):
    # The keras.io DCGAN example's shape: Sequential models with no Input layer.
    generator = keras.Sequential(
        [
            keras.layers.Dense(4 * 4 * 8),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Reshape((4, 4, 8)),
            keras.layers.Conv2DTranspose(8, 4, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2D(1, 3, padding="same", activation="tanh"),
        ]
    )
    discriminator = keras.Sequential(
        [keras.layers.Conv2D(8, 3, strides=2, padding="same"), keras.layers.LeakyReLU(0.2), keras.layers.Flatten(),
         keras.layers.Dense(1)]
    )
    gan = compiled(generator, discriminator, latent_dim=6)
    gan.fit(dataset_of(digits_images[0]), epochs=1, verbose=0)
    assert gan.generate(2, seed=0).shape == (2, 8, 8, 1)


def test_latent_dim_is_read_from_a_functional_generator():
    z = keras.Input((5,))
    generator = keras.Model(z, keras.layers.Dense(2)(z))
    sample = keras.Input((2,))
    discriminator = keras.Model(sample, keras.layers.Dense(1)(sample))
    assert GAN(generator, discriminator).latent_dim == 5
    with pytest.raises(KganError, match="cannot read latent_dim"):
        GAN(keras.Sequential([keras.layers.Dense(2)]), discriminator)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss": "bce"}, "unknown loss"),
        ({"d_steps": 0}, "d_steps must be at least 1"),
        ({"gradient_penalty": -1.0}, "gradient_penalty must be"),
        ({"label_smoothing": 0.1, "loss": "hinge"}, "label_smoothing applies to"),
        ({"latent_dim": -3}, "latent_dim must be a positive integer"),
    ],
)
def test_bad_gan_arguments(tiny_dcgan, kwargs, message):
    generator, discriminator = tiny_dcgan()
    if "latent_dim" in kwargs:
        del generator.latent_dim  # make GAN trust the argument
    with pytest.raises(KganError, match=message):
        GAN(generator, discriminator, **kwargs)


@pytest.mark.parametrize("num_classes", [None, 10])
def test_keras_round_trip_restores_everything_and_training_continues(tiny_dcgan, digits_images, tmp_path, num_classes):
    generator, discriminator = tiny_dcgan(num_classes=num_classes)
    gan = compiled(generator, discriminator, loss="hinge", r1_penalty=0.5, instance_noise=0.05)
    data = dataset_of(*digits_images) if num_classes else dataset_of(digits_images[0])
    gan.fit(data, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "gan.keras")
    gan.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, GAN)
    assert (restored.loss_name, restored.r1_penalty, restored.instance_noise) == ("hinge", 0.5, 0.05)
    assert restored.num_classes == num_classes
    np.testing.assert_allclose(restored.generate(6, seed=2), gan.generate(6, seed=2), atol=1e-6)
    # Optimizer state: step counters and Adam moments.
    for original, loaded in ((gan.g_optimizer, restored.g_optimizer), (gan.d_optimizer, restored.d_optimizer)):
        assert int(loaded.iterations) == int(original.iterations) == 4
        assert float(loaded.learning_rate) == pytest.approx(1e-3)
        for a, b in zip(original.variables, loaded.variables):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-7)
    restored.fit(data, epochs=1, verbose=0)
    assert int(restored.g_optimizer.iterations) == 8


def test_standard_callbacks(tiny_dcgan, digits_images, tmp_path):
    generator, discriminator = tiny_dcgan()
    gan = compiled(generator, discriminator)
    checkpoint = os.path.join(tmp_path, "ckpt-{epoch}.keras")
    logs = os.path.join(tmp_path, "logs")
    history = gan.fit(
        dataset_of(digits_images[0]),
        validation_data=dataset_of(digits_images[0][:32]),
        epochs=6,
        verbose=0,
        callbacks=[
            keras.callbacks.ModelCheckpoint(checkpoint),
            keras.callbacks.TensorBoard(logs),
            # Nothing improves by 100: stops after the second epoch.
            keras.callbacks.EarlyStopping(monitor="g_loss", min_delta=100.0, patience=1, mode="min"),
        ],
    )
    assert len(history.history["g_loss"]) == 2
    assert {"val_d_loss", "val_g_loss", "val_real_score", "val_fake_score"} <= set(history.history)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1.keras", "ckpt-2.keras", "logs"]
    assert isinstance(keras.models.load_model(os.path.join(tmp_path, "ckpt-2.keras")), GAN)
    assert os.listdir(os.path.join(logs, "train"))


def test_config_round_trip(tiny_dcgan):
    generator, discriminator = tiny_dcgan()
    gan = GAN(generator, discriminator, loss="least_squares", d_steps=3, label_smoothing=0.2, seed=4)
    clone = GAN.from_config(gan.get_config())
    assert json.dumps(clone.get_config(), sort_keys=True) == json.dumps(gan.get_config(), sort_keys=True)


@pytest.mark.parametrize("loss", ["non_saturating", "wasserstein"])
def test_mirrored_strategy_matches_one_replica_on_the_global_batch(loss):
    # A fresh process: logical CPU devices must be set before TensorFlow starts.
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "scripts", "mirrored_check.py"), loss, "2"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=ROOT),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["max_weight_diff"] < 1e-5
    for key, value in report["one"].items():
        assert report["two"][key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
