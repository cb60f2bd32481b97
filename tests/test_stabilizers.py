"""Stabilizers: each trains under XLA, and does what its paper says to the data it sees."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from conftest import tiny
from harness import assert_trained_under_xla
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


@pytest.mark.slow
def test_packed_gan_trains_under_xla_and_exports_a_single_sample_scorer(tmp_path):
    config = kgan.get_preset("digits").replace(epochs=1, steps_per_epoch=3, pack=4, xla=True, latent_dim=8,
                                               generator={"filters": 4}, discriminator={"filters": 4, "num_blocks": 2},
                                               out=str(tmp_path / "run"), export_dir=str(tmp_path / "onnx"))
    result = kgan.train(config, verbose=0, log=lambda *_: None)
    assert_trained_under_xla(result.gan)
    assert result.gan.discriminator.input_shape == (None, 8, 8, 4)
    assert np.isfinite(result.history["d_loss"]).all()
    assert sorted(os.listdir(tmp_path / "onnx")) == [
        "discriminator.onnx", "generator.onnx", "latent_energy.onnx", "manifest.json"]
    from kgan.runtime.inference import GeneratorRuntime

    runtime = GeneratorRuntime(tmp_path / "onnx")
    assert runtime.generate(5, seed=0).shape == (5, 8, 8, 1)
    restored = kgan.load_model(result.files["model"])
    assert restored.pack == 4
    # the references a single sample is packed with are drawn again from the same weights
    samples = restored.generate(5, seed=1)
    np.testing.assert_allclose(runtime.score(samples), restored.score(samples), atol=1e-4)
    assert runtime.calibration is not None  # calibrated on digits at export
    assert len(runtime.generate(6, seed=0, sampler="drs")) == 6


def test_a_packed_discriminator_judges_a_single_sample_by_its_own_log_ratio():
    # The optimal packed discriminator's logit is the sum of its samples' log ratios, here
    # f(v) = 3v − v²/2 for each of a pack's two 1-D samples. Judged beside fixed references, a
    # single sample's logit is f(x) plus a constant: differences between samples are f's.
    inputs = keras.Input((2,))
    f = keras.layers.Lambda(lambda v: keras.ops.sum(3.0 * v - 0.5 * v * v, axis=-1, keepdims=True))
    gan = GAN(MLPGenerator(1, latent_dim=2, hidden_units=(4,)), keras.Model(inputs, f(inputs)), pack=2)
    x = np.array([[-1.0], [0.0], [2.0], [3.0]], np.float32)
    logits = gan.score(x)
    np.testing.assert_allclose(logits - logits[1], (3.0 * x - 0.5 * x * x)[:, 0], atol=1e-5)
    assert gan.pack_references().shape == (8, 1, 1)


def test_packing_arguments_are_checked():
    with pytest.raises(KganError, match="pack must be a positive divisor of the batch size 64"):
        kgan.get_preset("digits").replace(pack=5).validate()
    with pytest.raises(KganError, match="unconditional"):
        GAN(DCGANGenerator((8, 8, 1), 4, num_classes=3), DCGANDiscriminator((8, 8, 2), num_classes=3), pack=2)


@pytest.mark.slow(minutes=1.2)
def test_packing_covers_more_grid25_modes_than_the_same_budget_without_it(tmp_path, grid25_plain):
    # A plain GAN (the grid25 networks without R1, batch 256, 30 x 200 steps) drops modes on
    # grid25; packing two samples into its discriminator keeps them. Seed 0 measured 16-17
    # modes (reverse KL about 0.8) without packing and 21-22 (KL 0.09-0.13) with it on an AVX-512
    # EPYC; 21 (KL 0.30) and 23 (KL 0.14) on an AVX2-only one, whose plain GAN drops fewer modes.
    from conftest import grid25_plain_config
    from kgan.evaluate import evaluate

    run = str(tmp_path / "pack2")
    kgan.train(grid25_plain_config().replace(pack=2, out=run, export=False), verbose=0, log=lambda *_: None)
    scores = {1: grid25_plain["scores"], 2: evaluate(run)}
    print("grid25 packing", {pack: {k: scores[pack][k] for k in ("modes", "high_quality", "reverse_kl")}
                             for pack in scores})
    assert scores[2]["modes"] >= scores[1]["modes"] + 2, scores
    assert scores[2]["reverse_kl"] < scores[1]["reverse_kl"] / 2, scores


def test_diff_augment_identities_and_moves():
    from kgan.augment import diff_augment

    x = tf.constant(np.random.default_rng(1).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32))
    half = tf.fill([3, 2], 0.5)
    np.testing.assert_allclose(diff_augment(x, ["color"], half), x, atol=1e-6)  # no change at the midpoints
    np.testing.assert_allclose(diff_augment(x, ["translation"], half[:2]), x)  # shift 0
    down = diff_augment(x, ["translation"], tf.zeros([2, 2])).numpy()  # shift -1: content moves down and right
    np.testing.assert_array_equal(down[:, 1:, 1:], x.numpy()[:, :-1, :-1])
    assert (down[:, 0] == 0).all() and (down[:, :, 0] == 0).all()
    cut = diff_augment(x, ["cutout"], half[:2]).numpy()
    zeros = (cut == 0).all(axis=-1)
    assert zeros.sum(axis=(1, 2)).tolist() == [16, 16]  # a 4x4 hole in each 8x8 image
    np.testing.assert_array_equal(cut[~zeros], x.numpy()[~zeros])


def test_diff_augment_colour_away_from_the_midpoint():
    # Zhao et al.'s colour ops, per example: brightness adds u - 0.5, saturation scales the
    # distance to the pixel's channel mean by 2u, contrast the distance to the image mean by u + 0.5.
    from kgan.augment import diff_augment

    x = np.random.default_rng(3).uniform(-1, 1, (3, 4, 4, 3)).astype(np.float32)
    u = np.array([[1.0, 0.5, 0.2],    # brightness: +0.5 for image 0, none for 1, -0.3 for 2
                  [0.5, 0.0, 1.0],    # saturation: none, grey, doubled
                  [0.5, 0.5, 0.0]],   # contrast: none, none, halved
                 np.float32)
    out = diff_augment(tf.constant(x), ["color"], tf.constant(u)).numpy()
    np.testing.assert_allclose(out[0], x[0] + 0.5, atol=1e-6)
    grey = np.repeat(x[1].mean(axis=-1, keepdims=True), 3, axis=-1)
    np.testing.assert_allclose(out[1], grey, atol=1e-6)
    shifted = x[2] - 0.3
    saturated = (shifted - shifted.mean(axis=-1, keepdims=True)) * 2.0 + shifted.mean(axis=-1, keepdims=True)
    np.testing.assert_allclose(out[2], (saturated - saturated.mean()) * 0.5 + saturated.mean(), atol=1e-5)


def test_the_discriminator_sees_every_image_augmented(digits_images):
    # Cutout leaves a 4x4 hole in each 8x8 image (clipped to at least 2x2 at the border): every
    # input the discriminator is shown, real and generated, in its own step and in the
    # generator's, must have one.
    from harness import SpyDiscriminator, constant_generator

    # Real and fake apart, so the spy sees each batch (one joined call is checked to give the same
    # in test_gan.py::test_one_discriminator_call_gives_what_two_give, DiffAugment included).
    gan = GAN(constant_generator(), SpyDiscriminator(), augment="cutout", seed=0, joint_discriminator=False)
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0), run_eagerly=True)
    gan.discriminator.build((None, 8, 8, 1))
    gan.discriminator.seen.clear()
    real = digits_images[0] + 3.0  # no real pixel is 0, so zeros are holes
    gan.generator.layers[1].bias.assign(np.full(64, 0.5, np.float32))
    gan.train_step(tf.constant(real))
    seen = [inputs for inputs, _ in gan.discriminator.seen]
    assert len(seen) == 3
    for inputs in seen:
        for hole in inputs[..., 0] == 0:
            rows, cols = np.nonzero(hole.any(axis=1))[0], np.nonzero(hole.any(axis=0))[0]
            assert 4 <= hole.sum() <= 16 and hole.sum() == len(rows) * len(cols)  # one rectangle
    np.testing.assert_array_equal(seen[0][seen[0] != 0], real[seen[0] != 0])  # the rest is untouched


def test_diff_augment_passes_gradients():
    from kgan.augment import diff_augment, draws_needed

    policy = ["color", "translation", "cutout"]
    x = tf.Variable(np.random.default_rng(2).uniform(-1, 1, (2, 8, 8, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(diff_augment(x, policy, tf.random.uniform([draws_needed(policy), 2], seed=1)))
    gradient = tape.gradient(y, x)
    assert gradient is not None and float(tf.reduce_sum(tf.abs(gradient))) > 0


@pytest.mark.slow
def test_augmented_gan_trains_under_xla(digits_images):
    # Every DiffAugment op with the gradient penalty's second derivative, in one XLA-compiled step.
    data = tf.data.Dataset.from_tensor_slices(digits_images[0][:16]).batch(16)
    keras.utils.set_random_seed(0)
    gan = GAN(DCGANGenerator((8, 8, 1), 8, filters=4), DCGANDiscriminator((8, 8, 1), filters=4),
              augment=("color", "translation", "cutout"), gradient_penalty=1.0, seed=0)
    gan.compile("adam", "adam", jit_compile=True)
    history = gan.fit(data, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"]).all()
    assert_trained_under_xla(gan)


@pytest.mark.parametrize("augment", [("color", "translation", "cutout"), "translation"])
def test_an_augmented_gans_discriminator_loss_is_on_augmented_images(digits_images, augment):
    # One step from the same weights and seed, with and without the policy: the latents are drawn
    # before any augmentation draw, so the first discriminator loss differs only if D saw augmented images.
    data = tf.data.Dataset.from_tensor_slices(digits_images[0]).batch(16)
    losses = {}
    for policy in (augment, ()):
        keras.utils.set_random_seed(0)
        gan = GAN(DCGANGenerator((8, 8, 1), 8, filters=4), DCGANDiscriminator((8, 8, 1), filters=4), augment=policy,
                  seed=0)
        gan.compile("adam", "adam", jit_compile=False, run_eagerly=True)
        losses[bool(policy)] = gan.fit(data, epochs=1, steps_per_epoch=1, verbose=0).history["d_loss"][0]
    assert abs(losses[True] - losses[False]) > 1e-4, losses
    gan = GAN(DCGANGenerator((8, 8, 1), 8, filters=4), DCGANDiscriminator((8, 8, 1), filters=4), augment=augment)
    assert GAN.from_config(gan.get_config()).augment == tuple([augment] if isinstance(augment, str) else augment)
    with pytest.raises(KganError, match="unknown augmentation 'flip'"):
        GAN(DCGANGenerator((8, 8, 1), 8, filters=4), DCGANDiscriminator((8, 8, 1), filters=4), augment=["flip"])


def test_minibatch_std_feature_sees_the_batch_spread():
    from kgan.layers import MinibatchStdDev

    layer = MinibatchStdDev()
    same = layer(np.ones((4, 3), np.float32)).numpy()
    assert same.shape == (4, 4) and np.allclose(same[:, -1], 1e-4, atol=1e-4)  # identical samples: ~0
    spread = layer(np.array([[0.0, 0.0], [2.0, 4.0]], np.float32)).numpy()
    assert np.allclose(spread[:, -1], (1.0 + 2.0) / 2, atol=1e-4)  # stds 1 and 2, averaged


@pytest.mark.parametrize("family, xla", [pytest.param("dcgan", True, marks=pytest.mark.slow), ("dcgan", False),
                                         ("mlp", False)], ids=["dcgan-xla", "dcgan", "mlp"])
def test_minibatch_std_discriminators_train_and_round_trip(tmp_path, family, xla):
    from harness import assert_keras_round_trip

    if family == "dcgan":
        generator, discriminator = DCGANGenerator((8, 8, 1), 4, filters=2), DCGANDiscriminator(
            (8, 8, 1), filters=2, minibatch_std=True)
        data = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype(np.float32)
    else:
        generator, discriminator = MLPGenerator(2, 3), MLPDiscriminator(2, minibatch_std=True)
        data = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    assert_keras_round_trip(discriminator, data[:8], tmp_path)
    gan = GAN(generator, discriminator, seed=0)
    gan.compile("adam", "adam", jit_compile=xla, run_eagerly=not xla)
    history = gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(8), epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"]).all()


@pytest.mark.slow
def test_spectral_norm_and_two_time_scales_train_under_xla(tmp_path):
    # Spectral normalization (Miyato et al. 2018) with a discriminator learning rate twice the
    # generator's (TTUR, Heusel et al. 2017), trained by the library's own loop under XLA.
    config = kgan.get_preset("digits").replace(
        epochs=1, steps_per_epoch=3, d_lr=4e-4, xla=True, discriminator={"filters": 8, "num_blocks": 2,
                                                                         "spectral_norm": True},
        out=str(tmp_path / "run"), export=False)
    result = kgan.train(config, verbose=0, log=lambda *_: None)
    gan = result.gan
    assert_trained_under_xla(gan)
    assert np.isfinite(result.history["d_loss"]).all()
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(2 * float(gan.g_optimizer.learning_rate))
    wrapped = [layer for layer in gan.discriminator.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 3  # both convolutions and the logit
    for layer in wrapped:
        kernel = layer.kernel.numpy().reshape(-1, layer.kernel.shape[-1])
        assert np.linalg.svd(kernel, compute_uv=False)[0] == pytest.approx(1.0, abs=0.02)


class _Recorder(keras.callbacks.Callback):
    """Keeps the generator's weights after every step."""

    def __init__(self, generator):
        super().__init__()
        self.generator, self.steps = generator, []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([w.numpy().copy() for w in self.generator.weights])


def test_ema_is_the_warmed_up_running_average_of_the_generator():
    keras.utils.set_random_seed(0)
    generator = DCGANGenerator((8, 8, 1), 4, filters=4)  # BatchNorm: moving statistics are copied
    gan = GAN(generator, DCGANDiscriminator((8, 8, 1), filters=4), ema=0.3, seed=0)
    # Eagerly, so the recorder sees every step (under XLA: tests/test_gan.py's train step test).
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2), jit_compile=False, run_eagerly=True)
    average = [w.numpy().copy() for w in generator.weights]
    np.testing.assert_array_equal(gan.ema_generator.get_weights()[0], average[0])  # starts at the generator
    recorder = _Recorder(generator)
    data = np.random.default_rng(0).uniform(-1, 1, (48, 8, 8, 1)).astype(np.float32)
    gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(8), epochs=1, verbose=0, callbacks=[recorder])
    trainable = [any(w is v for v in generator.trainable_weights) for w in generator.weights]
    for t, weights in enumerate(recorder.steps):  # t: the generator's step counter when it ran
        decay = min(0.3, (1.0 + t + 1) / (10.0 + t + 1))  # warm-up, then the cap
        average = [a + (1 - decay) * (w - a) if keep else w for a, w, keep in zip(average, weights, trainable)]
    assert len(recorder.steps) == 6 and not all(trainable) and decay == 0.3
    gan.build()  # a rebuild keeps the average
    for expected, got in zip(average, gan.ema_generator.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    z = gan.latents(4, seed=3)
    np.testing.assert_allclose(gan.generate(4, seed=3), gan.ema_generator(z, training=False), atol=1e-6)
    assert np.abs(gan.generate(4, seed=3) - generator(z, training=False).numpy()).max() > 1e-3


@pytest.mark.slow(minutes=0.12)  # several seconds: CI runs it
def test_ema_is_saved_exported_and_carried_on(tmp_path):
    from kgan.runtime.inference import GeneratorRuntime

    config = tiny("ring8", epochs=2, steps_per_epoch=20, ema=0.9, out=str(tmp_path / "run"),
                  export_dir=str(tmp_path / "onnx"))
    result = kgan.train(config, verbose=0, log=lambda *_: None)
    runtime = GeneratorRuntime(tmp_path / "onnx")
    assert runtime.metadata["kgan.ema"] == "0.9"
    np.testing.assert_allclose(runtime.generate(16, seed=5), result.gan.generate(16, seed=5), atol=1e-5)
    live = result.gan.generator(result.gan.latents(16, seed=5), training=False).numpy()
    assert np.abs(runtime.generate(16, seed=5) - live).max() > 1e-4  # the export is the average, not the live one

    restored = kgan.load_model(result.files["model"])
    saved = result.gan.ema_generator.get_weights()
    assert restored.ema == 0.9
    for a, b in zip(restored.ema_generator.get_weights(), saved):
        np.testing.assert_array_equal(a, b)
    # Training on moves the saved average one step toward the generator (still warming up: 41 < 80 steps).
    assert int(restored.g_optimizer.iterations) == 40
    decay = min(0.9, 42 / 51)
    recorder = _Recorder(restored.generator)
    points = kgan.data.sample_mixture("ring8", 256)[0]
    restored.fit(points, batch_size=256, epochs=1, verbose=0, callbacks=[recorder])
    for a, w, got in zip(saved, recorder.steps[0], restored.ema_generator.get_weights()):
        np.testing.assert_allclose(got, a + (1 - decay) * (w - a), rtol=1e-5, atol=1e-6)


def test_ema_argument_is_checked(tmp_path):
    with pytest.raises(KganError, match=r"ema must be a decay in \[0, 1\)"):
        GAN(MLPGenerator(2, 3), MLPDiscriminator(2), ema=1.0)
    # A configuration's GAN arguments are the GAN's to check: training refuses before writing.
    with pytest.raises(KganError, match=r"ema must be a decay in \[0, 1\)"):
        kgan.train(kgan.get_preset("ring8").replace(ema=-0.1, out=str(tmp_path / "run"), export=False), verbose=0)
    assert not (tmp_path / "run").exists()
    assert GAN(MLPGenerator(2, 3), MLPDiscriminator(2)).sampling_generator is not None
