"""The r3gan family: R3GAN's networks (brownvc/R3GAN) in Keras, checked against the paper's definitions."""

import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from harness import assert_config_round_trip, assert_keras_round_trip, assert_trained_under_xla, run_family_test
from kgan import GAN
from kgan.errors import KganError
from kgan.layers import FilteredDownsample, FilteredUpsample, GroupedConv2D
from kgan.models import R3GANDiscriminator, R3GANGenerator
from kgan.models.r3gan import LEAKY_GAIN

# R3GAN's low-pass filter: [1, 2, 1] convolved with [1, 1], its outer product normalized to sum 1.
FILTER = np.convolve([1, 2, 1], [1, 1]).astype(np.float64)
KERNEL = np.outer(FILTER, FILTER) / np.outer(FILTER, FILTER).sum()


def upsample_reference(x):
    """R3GAN's reference upsampler: a transposed convolution of stride 2 with 4 x the kernel, padding 1."""
    b, h, w, c = x.shape
    out = np.zeros((b, 2 * h + 2, 2 * w + 2, c))
    for i in range(h):
        for j in range(w):
            out[:, 2 * i:2 * i + 4, 2 * j:2 * j + 4] += 4 * KERNEL[None, :, :, None] * x[:, i:i + 1, j:j + 1]
    return out[:, 1:-1, 1:-1]


def downsample_reference(x):
    """R3GAN's reference downsampler: the kernel at stride 2, padding 1."""
    b, h, w, c = x.shape
    p = np.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    return np.stack([np.stack([(p[:, 2 * i:2 * i + 4, 2 * j:2 * j + 4] * KERNEL[None, :, :, None]).sum((1, 2))
                               for j in range(w // 2)], 1) for i in range(h // 2)], 1)


@pytest.mark.parametrize("side", [4, 8])
def test_filtered_resampling_is_r3gans(side):
    x = np.random.default_rng(side).normal(size=(2, side, side, 3)).astype(np.float32)
    np.testing.assert_allclose(FilteredUpsample()(x), upsample_reference(x), atol=1e-5)
    np.testing.assert_allclose(FilteredDownsample()(x), downsample_reference(x), atol=1e-5)
    # Low-pass: a constant image stays constant away from the zero-padded border.
    flat = np.ones((1, side, side, 1), np.float32)
    np.testing.assert_allclose(np.asarray(FilteredUpsample()(flat))[0, 1:-1, 1:-1], 1.0, atol=1e-6)


def test_grouped_convolution_implementations_agree_to_second_order():
    # The same kernel through each implementation: outputs, input gradients, and the gradient of
    # the input gradient's norm (what R1 and R2 differentiate) with respect to the kernel.
    x = tf.random.stateless_normal((4, 8, 8, 32), seed=(1, 2))
    results = {}
    for implementation in ("grouped", "split", "dense"):
        layer = GroupedConv2D(48, 3, groups=4, implementation=implementation)
        layer.build(x.shape)
        layer.kernel.assign(tf.random.stateless_normal(layer.kernel.shape, seed=(3, 4)) * 0.1)
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                energy = tf.reduce_sum(tf.sin(layer(x)))
            dx = inner.gradient(energy, x)
            penalty = tf.reduce_sum(dx * dx)
        results[implementation] = [layer(x), dx, outer.gradient(penalty, layer.kernel)]
    for implementation in ("split", "dense"):
        for got, expected in zip(results[implementation], results["grouped"]):
            np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * float(np.abs(expected).max()))
    # Groups really are apart: the first group's outputs do not read the second group's inputs.
    layer = GroupedConv2D(8, 3, groups=2)
    ones = np.ones((1, 4, 4, 8), np.float32)
    changed = ones.copy()
    changed[..., 4:] = 5.0
    np.testing.assert_allclose(np.asarray(layer(ones))[..., :4], np.asarray(layer(changed))[..., :4], atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_the_grouped_gradient_probe_tells_what_this_cpu_runs(dtype):
    """Where the probe says TensorFlow's grouped gradient kernels run, a grouped layer's gradients come
    from them; where it says they refuse, they really raise and the layer's split form answers."""
    from kgan.layers import _grouped_gradients_run

    x = tf.random.stateless_normal((2, 6, 6, 8), seed=(5, 6))
    kernel = tf.cast(tf.random.stateless_normal((3, 3, 4, 8), seed=(7, 8)), dtype)
    dy = tf.cast(tf.random.stateless_normal((2, 6, 6, 8), seed=(9, 10)), dtype)

    def raw():
        return tf.raw_ops.Conv2DBackpropInput(input_sizes=[2, 6, 6, 8], filter=kernel, out_backprop=dy,
                                              strides=[1, 1, 1, 1], padding="SAME")

    if _grouped_gradients_run(dtype):
        raw()
    else:
        with pytest.raises(tf.errors.InvalidArgumentError):
            raw()
    layer = GroupedConv2D(8, 3, groups=2, dtype=keras.DTypePolicy(dtype))
    x = tf.cast(x, dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    assert np.isfinite(np.asarray(tf.cast(tape.gradient(y, [x, layer.kernel])[0], tf.float32))).all()


def test_blocks_start_as_the_identity_and_layers_from_msr_initialization():
    keras.utils.set_random_seed(0)
    g = R3GANGenerator((16, 16, 3), latent_dim=8, widths=[64, 64, 32], blocks=[2, 1, 1], expansion=2)
    projections = [layer for layer in g.layers if layer.name.endswith("_project")]
    assert len(projections) == 4 and all(not np.any(np.asarray(layer.kernel)) for layer in projections)
    # Fix-up: with the branches at zero the image is the basis and the resampling alone; a branch
    # whose last layer were initialized at random would change it.
    z = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    before = np.asarray(g(z))
    for layer in g.layers:
        if layer.name.endswith("_expand"):
            layer.kernel.assign(layer.kernel * 3.0)
    np.testing.assert_allclose(np.asarray(g(z)), before, atol=1e-6)
    # The branch's first layers: N(0, gain / sqrt(fan_in)), gain = the leaky ReLU's times L^(-1/4), L = 4 blocks.
    gain = LEAKY_GAIN * 4 ** (-1 / 4)
    grouped = g.get_layer("stage1_block1_grouped")
    fan_in = grouped.kernel.shape[0] * grouped.kernel.shape[1] * grouped.kernel.shape[2]
    assert float(np.std(np.asarray(grouped.kernel))) == pytest.approx(gain / math.sqrt(fan_in), rel=0.1)
    assert grouped.groups == 64 * 2 // 16  # 16 channels a group by default


@pytest.mark.parametrize("side", [8, 32, 256])
def test_any_power_of_two_side_from_8_to_256_in_one_or_three_channels(side):
    channels = 1 if side == 8 else 3
    g = R3GANGenerator((side, side, channels), latent_dim=4, widths=8, blocks=1, cardinality=2)
    d = R3GANDiscriminator((side, side, channels), widths=8, blocks=1, cardinality=2)
    images = g(np.zeros((2, 4), np.float32))
    assert tuple(images.shape) == (2, side, side, channels) and tuple(d(images).shape) == (2, 1)


@pytest.mark.parametrize("shape, message", [((12, 12, 3), "power-of-two side"), ((4, 4, 1), "from 8 to 256"),
                                            ((512, 512, 3), "from 8 to 256"), ((16, 8, 1), "square")])
def test_other_sizes_are_refused_with_the_fix(shape, message):
    with pytest.raises(KganError, match=message):
        R3GANGenerator(shape)
    with pytest.raises(KganError, match="cardinality 5 must divide"):
        R3GANGenerator((8, 8, 1), widths=16, cardinality=5)
    with pytest.raises(KganError, match="widths must be a positive int or a list of 2"):
        R3GANDiscriminator((8, 8, 1), widths=[16, 16, 16])


def test_conditional_networks_follow_the_label():
    keras.utils.set_random_seed(1)
    g = R3GANGenerator((8, 8, 1), latent_dim=8, num_classes=4, widths=16, embedding_dim=6)
    d = R3GANDiscriminator((8, 8, 1), num_classes=4, widths=16)
    z = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    # The label's embedding joins z before the basis: another label, other images from the start.
    a, b = (np.asarray(g([z, np.full(4, k, np.int32)])) for k in (0, 3))
    assert np.abs(a - b).max() > 1e-4
    images = np.random.default_rng(1).uniform(-1, 1, (4, 8, 8, 1)).astype(np.float32)
    # The logit is <W features, embed(label)>: linear in the label's embedding row.
    logits = [np.asarray(d([images, np.full(4, k, np.int32)])).ravel() for k in range(4)]
    embedding = np.asarray(d.get_layer("label_embedding").embeddings)
    projected = np.asarray(keras.Model(d.inputs[0], d.get_layer("to_embedding").output)(images))
    np.testing.assert_allclose(np.stack(logits, 1), projected @ embedding.T, rtol=1e-4, atol=1e-5)
    # The embedding starts at N(0, (1 / sqrt(dim)) / sqrt(classes)) = N(0, 0.125), as R3GAN's: 64 draws.
    assert embedding.shape == (4, 16) and float(np.std(embedding)) == pytest.approx(0.125, rel=0.25)


def test_config_and_keras_round_trips(tmp_path):
    g_args = dict(image_shape=(16, 16, 3), latent_dim=12, num_classes=3, widths=[16, 8, 8], blocks=[1, 2, 1],
                  cardinality=[2, 1, 2], expansion=3, kernel_size=5, embedding_dim=7, implementation="split")
    g = R3GANGenerator(**g_args)
    assert_config_round_trip(g, g_args)
    assert_keras_round_trip(g, [np.ones((2, 12), np.float32), np.array([0, 2], np.int32)], tmp_path)
    d_args = dict(image_shape=(16, 16, 3), num_classes=3, widths=[8, 8, 16], blocks=[2, 1, 1], cardinality=[1, 2, 2],
                  expansion=3, kernel_size=5, embedding_dim=6, member_head=2, implementation="dense")
    d = R3GANDiscriminator(**d_args)
    assert_config_round_trip(d, d_args)
    assert_keras_round_trip(d, [np.ones((2, 16, 16, 3), np.float32), np.array([0, 2], np.int32)], tmp_path)


def tiny_pair(**options):
    return (R3GANGenerator((8, 8, 1), latent_dim=4, widths=8, cardinality=2, **options),
            R3GANDiscriminator((8, 8, 1), widths=8, cardinality=2, **options))


def train_tiny(images, precision="float32", xla=False, eager=False, **options):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        gan = GAN(*tiny_pair(), loss="rpgan", r1_penalty=0.1, r2_penalty=0.1, seed=0, **options)
        optimizers = [keras.optimizers.Adam(1e-3, 0.0, 0.99) for _ in range(2)]
        if precision == "mixed_float16":
            optimizers = [keras.optimizers.LossScaleOptimizer(o) for o in optimizers]
        gan.compile(*optimizers, jit_compile=xla, run_eagerly=eager)
        history = gan.fit(images, batch_size=16, epochs=1, steps_per_epoch=2, verbose=0).history
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert all(np.isfinite(v).all() for v in history.values())
    return gan


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_train_steps(digits_images, precision):
    # Eager: two steps cost less than tracing them (tests/test_gan.py checks eager and graph steps agree).
    gan = train_tiny(digits_images[0], precision, eager=True, augment=("translation",), ema=0.9)
    assert gan.generator.get_layer("stage2_block1_grouped").compute_dtype == precision.split("_")[1]
    assert np.asarray(gan.generate(2, seed=0)).dtype == np.float32


@pytest.mark.slow(minutes=0.6)
def test_xla_train_steps(digits_images):
    # R1 and R2 differentiate the resampling's gradient: under XLA too (a plain slice's gradient there
    # has no gradient of its own).
    gan = train_tiny(digits_images[0], xla=True)
    assert_trained_under_xla(gan)


def test_the_paper_presets_stop_with_one_line_where_their_data_is_missing(tmp_path, monkeypatch, capsys):
    from kgan.cli import main

    def offline():
        raise Exception("URL fetch failure on https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--preset", "cifar10-r3gan", "--out", "cifar", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot load 'cifar10'" in err and "copy the file there" in err
    assert main(["train", "--preset", "ffhq64-r3gan", "--out", "ffhq", "--quiet"]) == 2
    assert capsys.readouterr().err == "kgan: error: no such file or folder: datasets/ffhq-64; check the path\n"
    assert sorted(os.listdir(tmp_path)) == []  # no half-written run


@pytest.mark.slow(minutes=0.6)
def test_the_family_and_its_preset_train_export_and_sample(tmp_path):
    # The shared family test (kgan train --family r3gan, .keras reload, ONNX parity on fresh inputs with
    # latent_energy.onnx, the Langevin sampler's gradient, converted too, kgan generate), run on the
    # stacked-r3gan preset for two epochs of two steps: its ramps' values reach history.json.
    import json

    import kgan

    gan, export = run_family_test("r3gan", tmp_path, flags=["--preset", "stacked-r3gan", "--epochs", "2"])
    assert isinstance(gan.generator, R3GANGenerator) and gan.loss_name == "rpgan"
    assert gan.sample_spec.shape == (8, 8, 3) and os.path.exists(os.path.join(export, "latent_energy.onnx"))
    history = json.load(open(tmp_path / "run" / "history.json"))
    ramp = kgan.get_preset("stacked-r3gan").ramps
    assert history["lr"][-1] == pytest.approx(ramp["lr"][1], rel=1e-5)  # the end of a 4-step run
    assert history["r2_penalty"][0] == pytest.approx(0.5 * sum(ramp["r2_penalty"]), rel=1e-5)  # halfway
    assert history["beta_2"][-1] == pytest.approx(0.99, rel=1e-6) and 0 < history["ema"][0] < history["ema"][1]
    # fp16 and int8 as for DCGAN: float32 inputs and outputs, close to the float32 generator.
    from kgan.cli import main

    again = tmp_path / "variants"
    assert main(["export", str(tmp_path / "run"), "--out", str(again), "--fp16", "--int8"]) == 0
    variants = json.load(open(again / "manifest.json"))["variants"]
    scale = float(np.abs(gan.generate(64, seed=1)).max())
    assert 0 < variants["fp16"]["max_abs_error_vs_fp32"] < 0.01 * scale
    # Static int8 over a linear output and residual sums that two steps have barely trained: within a fifth.
    assert 0 < variants["int8"]["max_abs_error_vs_fp32"] < 0.2 * scale
