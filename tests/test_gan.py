import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from harness import (
    SpyDiscriminator,
    assert_arguments_kept,
    assert_config_round_trip,
    assert_trained_under_xla,
    constant_generator,
)
from kgan.errors import KganError
from kgan.gan import GAN
from kgan.losses import ALIASES, LOSSES, SMOOTHABLE_LOSSES, needs_real_logits
from kgan.models import DCGANDiscriminator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dataset_of(images, labels=None, batch=16):
    data = images if labels is None else (images, labels)
    return tf.data.Dataset.from_tensor_slices(data).batch(batch, drop_remainder=True)


def compiled(generator, discriminator, jit_compile=False, eager=None, **kwargs):
    """A GAN compiled with Adam; its `fit` runs eagerly unless XLA is asked for or `eager=False`
    (a few steps of a tiny GAN cost far less than tracing them; `test_eager_and_graph_train_steps_agree`
    shows that both give the same training)."""
    gan = GAN(generator, discriminator, seed=1, **kwargs)
    eager = not jit_compile if eager is None else eager
    gan.compile(keras.optimizers.Adam(1e-3, 0.5), keras.optimizers.Adam(1e-3, 0.5), jit_compile=jit_compile,
                run_eagerly=eager)
    return gan


def snapshot(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def changed(before, model):
    return any(np.abs(a - b.numpy()).max() > 0 for a, b in zip(before, model.trainable_variables))


@pytest.mark.parametrize("jit_compile", [False, True], ids=["no_xla", "xla"])
def test_train_step_updates_both_networks(tiny_dcgan, digits_images, jit_compile):
    generator, discriminator = tiny_dcgan()
    gan = compiled(generator, discriminator, jit_compile=jit_compile, eager=False, d_steps=2, ema=0.5)
    g_before, d_before = snapshot(generator), snapshot(discriminator)
    ema_before = [w.numpy().copy() for w in gan.ema_generator.weights]
    history = gan.fit(dataset_of(digits_images[0]), epochs=2, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "real_score", "fake_score"}
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert changed(g_before, generator) and changed(d_before, discriminator)
    assert any(np.abs(a - b.numpy()).max() > 0 for a, b in zip(ema_before, gan.ema_generator.weights))  # the average
    # d_steps=2: two discriminator updates per generator update (4 batches x 2 epochs).
    assert int(gan.g_optimizer.iterations) == 8
    assert int(gan.d_optimizer.iterations) == 16
    assert gan.jit_compile is jit_compile
    if jit_compile:
        assert_trained_under_xla(gan)


@pytest.mark.slow(minutes=0.27)  # trains or scores a model, 10 s or more: CI runs it
def test_eager_and_graph_train_steps_agree(tiny_dcgan, digits_images):
    # Most tests here train tiny GANs eagerly; the compiled step (tf.function) trains the same:
    # the same losses and weights after two steps with every stabilizer on.
    results = {}
    for eager in (True, False):
        keras.utils.set_random_seed(0)
        gan = GAN(*tiny_dcgan(num_classes=10), seed=1, d_steps=2, gradient_penalty=1.0, r1_penalty=0.5,
                  instance_noise=0.1, label_smoothing=0.1, augment=["translation", "cutout"], ema=0.5)
        gan.compile(keras.optimizers.Adam(1e-3, 0.5), keras.optimizers.Adam(1e-3, 0.5), jit_compile=False,
                    run_eagerly=eager)
        history = gan.fit(dataset_of(*digits_images), epochs=1, steps_per_epoch=2, verbose=0).history
        results[eager] = (history, [w.numpy() for w in gan.weights])
    (eager_history, eager_weights), (graph_history, graph_weights) = results[True], results[False]
    assert set(eager_history) == set(graph_history) and len(eager_history) > 4
    for key in graph_history:
        assert eager_history[key] == pytest.approx(graph_history[key], rel=1e-4, abs=1e-5), key
    assert len(eager_weights) == len(graph_weights)
    for a, b in zip(eager_weights, graph_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("update", ["alternating", "reuse_fakes", "simultaneous"])
def test_d_steps_is_the_discriminators_updates_per_generator_update_in_every_mode(tiny_dcgan, digits_images, update):
    # reuse_fakes and simultaneous share their last discriminator step with the generator's:
    # d_steps=3 is still three discriminator updates, not four.
    gan = GAN(*tiny_dcgan(), seed=1, update=update, d_steps=3)
    gan.compile(keras.optimizers.SGD(1e-3), keras.optimizers.SGD(1e-3), jit_compile=False, run_eagerly=True)
    gan.fit(dataset_of(digits_images[0]), epochs=1, steps_per_epoch=2, verbose=0)
    assert (int(gan.g_optimizer.iterations), int(gan.d_optimizer.iterations)) == (2, 6)


@pytest.mark.slow
@pytest.mark.parametrize("loss", [name for name in LOSSES if name not in ALIASES])
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
    assert_trained_under_xla(gan)


def one_frozen_step(digits_images, **kwargs):
    """One eager train step with learning rate 0: (logs, the fixed fake image, what D saw, the GAN).

    The discriminator is called on the real and the fake batch apart, so the spy sees each
    (`test_one_discriminator_call_gives_what_two_give` checks that one call is the same).
    """
    kwargs.setdefault("joint_discriminator", False)
    generator = constant_generator()
    gan = GAN(generator, SpyDiscriminator(), seed=0, **kwargs)
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0), run_eagerly=True)
    real = digits_images[0]
    gan.discriminator.build(real.shape)
    gan.discriminator.seen.clear()
    logs = {k: float(v) for k, v in gan.train_step(tf.constant(real)).items()}
    fake = np.asarray(generator.layers[1].bias).reshape(8, 8, 1)
    return logs, fake, gan.discriminator.seen, gan


def _loss_values(loss, real_logits, fake_logits, g_logits, label_smoothing=0.0, g_real_logits=None):
    g_fn, d_fn = LOSSES[loss]
    kwargs = {"label_smoothing": label_smoothing} if label_smoothing else {}
    g_value = g_fn(g_logits, real_logits if g_real_logits is None else g_real_logits) if needs_real_logits(g_fn) \
        else g_fn(g_logits)
    return float(d_fn(real_logits, fake_logits, **kwargs)), float(g_value)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_training_computes_the_chosen_loss_with_noise_and_smoothing(digits_images, loss):
    # The step's logged losses against the loss pair computed directly on the logits the
    # discriminator gave for the inputs it was shown; the inputs against the real batch and
    # the generator's (fixed) output plus instance noise of the configured std.
    smoothing = 0.2 if loss in SMOOTHABLE_LOSSES else 0.0
    logs, fake, seen, _ = one_frozen_step(digits_images, loss=loss, instance_noise=0.1, label_smoothing=smoothing)
    real = digits_images[0]
    relativistic = needs_real_logits(LOSSES[loss][0])
    # Real and fake in the discriminator step, fake in the generator step (and, for a
    # relativistic loss, the real batch again, judged beside the fakes).
    assert len(seen) == 3 + relativistic
    (real_in, real_logits), (fake_in, fake_logits), (g_in, g_logits) = seen[:3]
    g_real_logits = seen[3][1] if relativistic else None
    shown_clean = [(real_in, real), (fake_in, fake), (g_in, fake)] + ([(seen[3][0], real)] if relativistic else [])
    for shown, clean in shown_clean:
        noise = shown - clean
        assert noise.std() == pytest.approx(0.1, rel=0.05) and abs(noise.mean()) < 0.01  # step 0: the full std
    expected = _loss_values(loss, real_logits, fake_logits, g_logits, smoothing, g_real_logits)
    assert (logs["d_loss"], logs["g_loss"]) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert (logs["real_score"], logs["fake_score"]) == pytest.approx((real_logits.mean(), fake_logits.mean()),
                                                                    rel=1e-5)
    # The check has teeth: any other loss, or no smoothing, would log other values.
    for other in LOSSES:
        if LOSSES[other] != LOSSES[loss]:  # not the same loss by another name (rpgan)
            others = _loss_values(other, real_logits, fake_logits, g_logits, g_real_logits=g_real_logits)
            assert np.abs(np.subtract(others, expected)).max() > 1e-3
    if smoothing:
        assert abs(_loss_values(loss, real_logits, fake_logits, g_logits)[0] - expected[0]) > 1e-2


@pytest.mark.parametrize("update", ["alternating", "reuse_fakes", "simultaneous"])
def test_relativistic_loss_pairs_fakes_with_the_reals_of_the_step(digits_images, update):
    # The generator's loss compares its fakes' logits with the real batch's: in every
    # update mode, the logged g_loss is the relativistic loss of the last fake and real
    # logits the discriminator gave, not the non-saturating loss of the fakes alone.
    logs, _, seen, _ = one_frozen_step(digits_images, loss="relativistic_standard", update=update)
    from kgan.losses import relativistic_standard_generator_loss as g_fn
    real_logits = [logits for shown, logits in seen if np.allclose(shown, digits_images[0])]
    fake_logits = [logits for shown, logits in seen if not np.allclose(shown, digits_images[0])]
    assert logs["g_loss"] == pytest.approx(float(g_fn(fake_logits[-1], real_logits[-1])), rel=1e-5)
    assert abs(logs["g_loss"] - float(LOSSES["non_saturating"][0](fake_logits[-1]))) > 1e-3


@pytest.mark.parametrize("family", ["mlp", "dcgan", "sprite", "sequence"])
def test_relativistic_loss_trains_every_family(family):
    from conftest import make_gan

    gan = make_gan(family, conditional=True, steps=2, loss="relativistic_standard")
    assert int(gan.g_optimizer.iterations) == 2
    logs = gan.get_metrics_result()
    assert np.isfinite(float(logs["g_loss"])) and np.isfinite(float(logs["d_loss"]))


@pytest.mark.parametrize("penalty", ["r1_penalty", "r2_penalty", "gradient_penalty"])
def test_penalties_are_added_with_their_weight(digits_images, penalty):
    # The discriminator is linear, so its input gradient is its kernel w for every example:
    # R1 and R2 add gamma / 2 * ||w||^2, the gradient penalty lambda * (||w|| - 1)^2.
    logs, fake, seen, gan = one_frozen_step(digits_images, **{penalty: 3.0})
    real = digits_images[0]
    assert len(seen) == 4  # real, fake, the penalty's input, and the generator step's fake
    (real_in, real_logits), (fake_in, fake_logits), (penalty_in, _), (g_in, g_logits) = seen
    norm = float(np.linalg.norm(np.asarray(gan.discriminator.dense.kernel)))
    base = _loss_values("non_saturating", real_logits, fake_logits, g_logits)[0]
    if penalty in ("r1_penalty", "r2_penalty"):
        np.testing.assert_array_equal(penalty_in, real_in if penalty == "r1_penalty" else fake_in)  # R1: reals, R2: fakes
        expected = base + 0.5 * 3.0 * norm**2
    else:
        # On the segments from fake to real, at one uniform alpha per example.
        alpha = (penalty_in - fake).reshape(len(real), -1) / (real - fake).reshape(len(real), -1)
        per_example = np.median(alpha, axis=1)
        np.testing.assert_allclose(alpha, np.repeat(per_example[:, None], 64, axis=1), atol=1e-4)
        assert per_example.min() >= 0 and per_example.max() <= 1 and per_example.std() > 0.1
        expected = base + 3.0 * (norm - 1.0) ** 2
    assert abs(expected - base) > 1e-2
    assert logs["d_loss"] == pytest.approx(expected, rel=1e-5)
    # Each term is logged under its name, and they add up to d_loss.
    assert logs["d_adversarial"] == pytest.approx(base, rel=1e-5)
    assert logs[f"d_{penalty}"] == pytest.approx(expected - base, rel=1e-4)


def test_r1_and_r2_from_one_joint_call_equal_two_calls(tiny_dcgan, digits_images):
    # With both penalties and a discriminator that joins batches, the reals' and the fakes' gradients
    # come from one call on the two together; the terms equal those of two separate calls.
    logs = []
    for joint in (True, False):
        keras.utils.set_random_seed(0)
        generator, discriminator = tiny_dcgan()
        gan = compiled(generator, discriminator, loss="rpgan", r1_penalty=2.0, r2_penalty=0.5,
                       joint_discriminator=joint)
        logs.append(gan.evaluate(dataset_of(digits_images[0]), verbose=0, return_dict=True))
    for term in ("d_r1_penalty", "d_r2_penalty", "d_adversarial"):
        assert logs[0][term] == pytest.approx(logs[1][term], rel=1e-4), term
    assert logs[0]["d_r1_penalty"] > 0 and logs[0]["d_r2_penalty"] > 0
    assert logs[0]["d_r1_penalty"] != pytest.approx(4 * logs[0]["d_r2_penalty"], rel=1e-3)  # each its own batch


def test_penalties_raise_the_discriminator_loss(tiny_dcgan, digits_images):
    # Same weights, same noise: a penalty can only add to the logged loss.
    logs = []
    for penalty in ({}, {"gradient_penalty": 10.0}, {"r1_penalty": 10.0}, {"r2_penalty": 10.0}):
        keras.utils.set_random_seed(0)
        generator, discriminator = tiny_dcgan()
        gan = compiled(generator, discriminator, **penalty)
        logs.append(gan.evaluate(dataset_of(digits_images[0]), verbose=0, return_dict=True)["d_loss"])
    assert logs[1] > logs[0] and logs[2] > logs[0] and logs[3] > logs[0]


def test_instance_noise_anneals_to_zero(tiny_dcgan):
    generator, discriminator = tiny_dcgan()
    gan = compiled(generator, discriminator, instance_noise=0.2, instance_noise_steps=10)
    assert float(gan._noise_std()) == pytest.approx(0.2)
    gan.g_optimizer.iterations.assign(2)
    assert float(gan._noise_std()) == pytest.approx(0.16)  # linear: 0.2 * (1 - 2 / 10)
    gan.g_optimizer.iterations.assign(5)
    assert float(gan._noise_std()) == pytest.approx(0.1)
    gan.g_optimizer.iterations.assign(10)
    assert float(gan._noise_std()) == 0.0
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
    # Each label reaches the generator as itself (an off-by-one mapping would give another class's images).
    z = gan.latents(3, seed=0)
    for label, images in ((7, sevens), (3, threes)):
        direct = generator([z, np.full(3, label, np.int32)], training=False)
        np.testing.assert_allclose(images, direct, atol=1e-6)
    cycled = gan.generate(12, seed=0)  # the default cycles 0..9
    direct = generator([gan.latents(12, seed=0), np.arange(12, dtype=np.int32) % 10], training=False)
    np.testing.assert_allclose(cycled, direct, atol=1e-6)
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
        ({"update": "parallel"}, "update must be one of alternating, reuse_fakes, simultaneous"),
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
    arguments = dict(loss="least_squares", d_steps=2, gradient_penalty=1.0, r1_penalty=0.5, instance_noise=0.05,
                     instance_noise_steps=500, label_smoothing=0.1, latent_dim=8, num_classes=num_classes, seed=1,
                     augment=["translation"], ema=0.5)
    gan = GAN(generator, discriminator, **arguments)
    gan.compile(keras.optimizers.Adam(1e-3, 0.5), keras.optimizers.Adam(1e-3, 0.5), jit_compile=False,
                run_eagerly=True)
    data = dataset_of(*digits_images) if num_classes else dataset_of(digits_images[0])
    gan.fit(data, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "gan.keras")
    gan.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, GAN)
    assert_arguments_kept(restored, arguments)
    assert (restored.loss_name, restored.d_steps, restored.label_smoothing) == ("least_squares", 2, 0.1)
    assert restored.num_classes == num_classes
    np.testing.assert_allclose(restored.generate(6, seed=2), gan.generate(6, seed=2), atol=1e-6)
    # Optimizer state: step counters (two discriminator steps per generator step) and Adam moments.
    for original, loaded, steps in ((gan.g_optimizer, restored.g_optimizer, 4), (gan.d_optimizer,
                                                                                 restored.d_optimizer, 8)):
        assert int(loaded.iterations) == int(original.iterations) == steps
        assert float(loaded.learning_rate) == pytest.approx(1e-3)
        for a, b in zip(original.variables, loaded.variables):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-7)
    restored.fit(data, epochs=1, verbose=0)
    assert int(restored.g_optimizer.iterations) == 8 and int(restored.d_optimizer.iterations) == 16


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
    # Every argument away from its default, each compared with what was passed.
    generator, _ = tiny_dcgan()
    discriminator = DCGANDiscriminator((8, 8, 2), filters=4)  # packed: two samples' channels
    arguments = dict(generator=generator, discriminator=discriminator, loss="least_squares", d_steps=3,
                     gradient_penalty=2.0, r1_penalty=0.5, r2_penalty=0.25, instance_noise=0.1,
                     instance_noise_steps=77, augment_probability=0.6, label_smoothing=0.2, latent_dim=8, num_classes=None, seed=4, pack=2,
                     augment=["color", "cutout"], ema=0.9,
                     sample_spec={"kind": "image", "shape": [8, 8, 1], "dtype": "float32", "value_range": [0.0, 1.0]},
                     joint_discriminator=False, update="simultaneous", diversity=0.0,
                     calibration={"a": 2.0, "b": -0.5, "accuracy": 0.8, "ece": 0.02, "ece_raw": 0.1, "real": 50,
                                  "fake": 50})
    gan = GAN(**arguments)
    # num_classes stays None: packing is for unconditional GANs (the conditional case is below);
    # diversity needs a mixture (tests/test_mixture.py round-trips it).
    clone = assert_config_round_trip(gan, arguments, allow_default=("num_classes", "diversity"))
    assert clone.pack == 2 and clone.augment == ("color", "cutout") and clone.ema_generator is not None
    conditional, conditional_d = tiny_dcgan(num_classes=10)
    assert_arguments_kept(GAN.from_config(GAN(conditional, conditional_d, num_classes=10).get_config()),
                          {"num_classes": 10})


@pytest.fixture(scope="module")
def mirrored_reports():
    """tests/scripts/mirrored_check.py's reports, one a loss, from one fresh process (logical CPU
    devices must be set before TensorFlow starts)."""
    reports = []
    # The r3gan run in a process of its own: strategies made one after another in a process can reuse
    # collective instance keys across models of other shapes.
    for losses in ("non_saturating,wasserstein", "r3gan"):
        result = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tests", "scripts", "mirrored_check.py"), losses, "2"],
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=ROOT),
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        reports += [json.loads(line) for line in result.stdout.strip().splitlines() if line.startswith("{")]
    return {report["loss"]: report for report in reports}


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["non_saturating", "wasserstein", "r3gan"])
def test_mirrored_strategy_matches_one_replica_on_the_global_batch(mirrored_reports, loss):
    report = mirrored_reports[loss]
    assert report["replicas"] == 2
    assert report["max_weight_diff"] < 1e-5
    for key, value in report["one"].items():
        assert report["two"][key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


@keras.saving.register_keras_serializable(package="kgan_tests")
def doubled_hinge_generator_loss(fake_logits):
    return 2.0 * LOSSES["hinge"][0](fake_logits)


@keras.saving.register_keras_serializable(package="kgan_tests")
def doubled_hinge_discriminator_loss(real_logits, fake_logits):
    return 2.0 * LOSSES["hinge"][1](real_logits, fake_logits)


def test_a_loss_given_as_a_pair_of_functions(digits_images, tiny_dcgan):
    pair = (doubled_hinge_generator_loss, doubled_hinge_discriminator_loss)
    logs, _, seen, gan = one_frozen_step(digits_images, loss=pair)
    (_, real_logits), (_, fake_logits), (_, g_logits) = seen
    d_loss, g_loss = _loss_values("hinge", real_logits, fake_logits, g_logits)
    assert (logs["d_loss"], logs["g_loss"]) == pytest.approx((2 * d_loss, 2 * g_loss), rel=1e-5)
    saved = GAN(*tiny_dcgan(), loss=pair).get_config()
    assert GAN.from_config(json.loads(json.dumps(saved))).loss_name == pair
    with pytest.raises(KganError, match="loss must be a name .* or a pair of functions"):
        GAN(constant_generator(), SpyDiscriminator(), loss=("hinge", 3))


class ShrinkingGAN(GAN):
    """A GAN whose generator also pays half the mean square of its samples: one added term."""

    def loss_terms(self):
        terms = super().loss_terms()
        return dict(terms, generator=terms["generator"] + ("shrink",))

    def generator_terms(self, labels, batch, training, fake=None, fake_logits=None):
        if fake is None:
            fake = self._generate(batch, labels, training)
        terms = super().generator_terms(labels, batch, training, fake=fake, fake_logits=fake_logits)
        terms["shrink"] = 0.5 * tf.reduce_mean(tf.square(fake))
        return terms


@pytest.mark.parametrize("update", ["alternating", "simultaneous"])
def test_an_added_loss_term_is_an_override_and_is_logged(digits_images, update):
    generator = constant_generator()
    gan = ShrinkingGAN(generator, SpyDiscriminator(), seed=0, update=update)
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0), run_eagerly=True)
    gan.discriminator.build(digits_images[0].shape)
    logs = {k: float(v) for k, v in gan.train_step(tf.constant(digits_images[0])).items()}
    fake = np.asarray(generator.layers[1].bias)
    assert logs["g_shrink"] == pytest.approx(0.5 * np.mean(fake**2), rel=1e-5)
    assert logs["g_loss"] == pytest.approx(logs["g_adversarial"] + logs["g_shrink"], rel=1e-5)
    assert "d_adversarial" not in logs  # one term on that side: d_loss says it all
    history = gan.fit(dataset_of(digits_images[0]), epochs=1, verbose=0).history
    assert {"g_loss", "g_adversarial", "g_shrink", "d_loss"} <= set(history)


def test_terms_must_match_their_declaration(digits_images):
    class Undeclared(GAN):
        def generator_terms(self, labels, batch, training):
            return dict(super().generator_terms(labels, batch, training), extra=tf.constant(0.0))

    gan = Undeclared(constant_generator(), SpyDiscriminator(), seed=0)
    gan.compile("sgd", "sgd", run_eagerly=True)
    with pytest.raises(KganError, match=r"generator_terms returned \['adversarial', 'extra'\] but loss_terms"):
        gan.train_step(tf.constant(digits_images[0]))


@pytest.mark.parametrize("options", [
    {"loss": "non_saturating", "instance_noise": 0.1, "label_smoothing": 0.2},
    {"loss": "hinge", "r1_penalty": 1.0, "augment": ("color", "translation", "cutout")},
    {"loss": "wasserstein", "gradient_penalty": 10.0, "d_steps": 2},
    {"loss": "least_squares", "pack": 2},
], ids=["noise-smoothing", "r1-augment", "gp-d_steps", "pack"])
def test_one_discriminator_call_gives_what_two_give(tiny_dcgan, digits_images, options):
    # The same seed, two steps: the logs and every weight agree whether real and fake go
    # through the discriminator together (2B) or apart (B and B).
    results = []
    for joint in (True, False):
        keras.utils.set_random_seed(0)
        generator, discriminator = tiny_dcgan() if options.get("pack", 1) == 1 else (
            tiny_dcgan()[0], DCGANDiscriminator((8, 8, 2), filters=4))
        gan = compiled(generator, discriminator, joint_discriminator=joint, **options)
        assert gan.joins_batches is joint
        history = gan.fit(dataset_of(digits_images[0]), epochs=1, steps_per_epoch=2, verbose=0).history
        results.append((history, [w.numpy() for w in gan.weights]))
    (joined, joined_weights), (apart, apart_weights) = results
    for key in apart:
        assert joined[key] == pytest.approx(apart[key], rel=1e-5, abs=1e-6), key
    for a, b in zip(joined_weights, apart_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_batch_coupled_discriminators_are_called_apart(tiny_dcgan):
    from kgan.models import MLPDiscriminator, MLPGenerator

    generator, discriminator = tiny_dcgan()
    assert GAN(generator, discriminator).joins_batches  # LeakyReLU convolutions: per example
    assert not GAN(*tiny_dcgan(minibatch_std=True)).joins_batches
    batch_norm = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4), keras.layers.BatchNormalization(),
                                   keras.layers.Dense(1)])
    assert not GAN(MLPGenerator(2, 3), batch_norm).joins_batches
    assert GAN(MLPGenerator(2, 3), batch_norm, joint_discriminator=True).joins_batches
    assert not GAN(MLPGenerator(2, 3), MLPDiscriminator(2), joint_discriminator=False).joins_batches
    with pytest.raises(KganError, match="joint_discriminator must be 'auto', True or False"):
        GAN(MLPGenerator(2, 3), MLPDiscriminator(2), joint_discriminator="yes")


@pytest.mark.slow
def test_steps_per_execution_trains_the_same(tiny_dcgan, digits_images):
    # Several steps per call into the compiled step: the same weights after the same steps.
    data = tf.data.Dataset.from_tensor_slices(digits_images[0]).batch(8, drop_remainder=True).repeat()
    results = []
    for steps_per_execution in (1, 3):
        keras.utils.set_random_seed(0)
        gan = GAN(*tiny_dcgan(), seed=1)
        gan.compile(keras.optimizers.Adam(1e-3, 0.5), keras.optimizers.Adam(1e-3, 0.5), jit_compile=False,
                    steps_per_execution=steps_per_execution)
        calls = []
        counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: calls.append(batch))
        history = gan.fit(data, epochs=2, steps_per_epoch=6, verbose=0, callbacks=[counter]).history
        assert gan.get_compile_config()["steps_per_execution"] == steps_per_execution
        assert len(calls) == 2 * 6 // steps_per_execution  # one call into the compiled step per execution
        results.append((history["d_loss"], [w.numpy() for w in gan.weights], int(gan.g_optimizer.iterations)))
    (losses_1, weights_1, steps_1), (losses_3, weights_3, steps_3) = results
    assert steps_1 == steps_3 == 12
    assert losses_3 == pytest.approx(losses_1, rel=1e-5)
    for a, b in zip(weights_1, weights_3):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


class Counted(keras.layers.Layer):
    """The identity, counting its eager calls: how often a model ran."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def call(self, x):
        if tf.executing_eagerly():
            self.calls += 1
        return x


def spied_update(digits_images, update):
    """One eager step of a linear generator (its fakes depend on z) against the spy discriminator,
    called on real and fake apart: (logs, [(input, logits)] the discriminator saw, generator calls)."""
    keras.utils.set_random_seed(0)
    counter = Counted()
    z = keras.Input((4,))
    image = keras.layers.Dense(64, kernel_initializer=keras.initializers.RandomNormal(seed=3))(counter(z))
    generator = keras.Model(z, keras.layers.Reshape((8, 8, 1))(image))
    gan = GAN(generator, SpyDiscriminator(), seed=0, update=update, joint_discriminator=False)
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0), run_eagerly=True)
    real = digits_images[0]
    gan.discriminator.build(real.shape)
    gan.discriminator.seen.clear()
    logs = {k: float(v) for k, v in gan.train_step(tf.constant(real)).items()}
    return logs, gan.discriminator.seen, counter.calls


def test_each_update_shows_the_discriminator_what_it_documents(digits_images):
    g_fn, _ = LOSSES["non_saturating"]
    # alternating: a new batch of fakes for the generator's step, judged again.
    logs, seen, generator_calls = spied_update(digits_images, "alternating")
    (real_in, _), (fake_in, _), (g_in, g_logits) = seen
    np.testing.assert_array_equal(real_in, digits_images[0])
    assert generator_calls == 2 and np.abs(g_in - fake_in).max() > 0.1
    # reuse_fakes: one batch of fakes, judged in both steps.
    logs, seen, generator_calls = spied_update(digits_images, "reuse_fakes")
    (real_in, _), (fake_in, _), (g_in, g_logits) = seen
    assert generator_calls == 1
    np.testing.assert_array_equal(g_in, fake_in)
    assert logs["g_loss"] == pytest.approx(float(g_fn(g_logits)), rel=1e-6)
    # simultaneous: one batch of fakes judged once, and the generator's loss is on those logits.
    logs, seen, generator_calls = spied_update(digits_images, "simultaneous")
    assert generator_calls == 1 and len(seen) == 2
    (real_in, _), (fake_in, fake_logits) = seen
    assert logs["g_loss"] == pytest.approx(float(g_fn(fake_logits)), rel=1e-6)
    assert logs["fake_score"] == pytest.approx(float(fake_logits.mean()), rel=1e-6)


@pytest.mark.parametrize("update", ["alternating", "reuse_fakes", "simultaneous"])
def test_only_a_simultaneous_update_takes_the_generators_gradient_before_the_discriminators_step(
        tiny_dcgan, digits_images, update):
    # One step from the same weights and seed with the discriminator's learning rate 0 and 1:
    # the generator's step ignores it only when both gradients come from one pass.
    results = []
    for d_lr in (0.0, 1.0):
        keras.utils.set_random_seed(0)
        gan = GAN(*tiny_dcgan(), seed=1, update=update)
        gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(d_lr), jit_compile=False, run_eagerly=True)
        gan.fit(dataset_of(digits_images[0]), epochs=1, steps_per_epoch=1, verbose=0)
        results.append(([v.numpy() for v in gan.generator.trainable_variables],
                        [v.numpy() for v in gan.discriminator.trainable_variables]))
    (g_still, d_still), (g_moved, d_moved) = results
    assert max(np.abs(a - b).max() for a, b in zip(d_still, d_moved)) > 1e-3  # the discriminator did step
    g_change = max(np.abs(a - b).max() for a, b in zip(g_still, g_moved))
    if update == "simultaneous":
        assert g_change == 0.0
    else:
        assert g_change > 1e-4


def test_a_tape_records_only_what_depends_on_its_variables(tiny_dcgan):
    # The discriminator's tape does not record the generator's forward pass, and it still
    # gives the discriminator's gradient.
    generator, discriminator = tiny_dcgan()
    z = tf.random.normal((4, 8))
    discriminator(generator(z))  # built: their variables exist before the tape starts
    with GAN._watching(discriminator.trainable_variables) as tape:
        total = tf.reduce_sum(discriminator(generator(z, training=True), training=True))
    watched = {v.ref() for v in tape.watched_variables()}
    assert watched == {v.value.ref() for v in discriminator.trainable_variables}
    gradients = tape.gradient(total, discriminator.trainable_variables)
    assert all(g is not None for g in gradients)
