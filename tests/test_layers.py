"""kgan's own layers."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan.layers import LeakyReLU, PlaceSprites

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


def test_place_sprites_draws_moving_digits_as_they_are_drawn():
    from kgan.data.moving import moving_digits
    from kgan.data.digits import digits

    glyphs, classes = digits()
    clips, _, paths = moving_digits(6, frames=10, size=16, digits=2, seed=3, images=glyphs[:1], labels=classes[:1])
    ink = (glyphs[:1, ..., 0] + 1.0) / 2.0  # the one glyph both digits of every clip draw
    sprites = np.broadcast_to(ink[:, None, :, :, None], (6, 2, 8, 8, 1)).astype(np.float32)
    positions = np.rint(paths).transpose(0, 2, 1, 3) / 8.0  # [clips, frames, digits, 2], a share of the room
    drawn = keras.ops.convert_to_numpy(PlaceSprites((16, 16))(sprites, positions.astype(np.float32)))
    np.testing.assert_array_equal(drawn, clips)


def test_place_sprites_blends_fractional_positions_and_keeps_the_ink():
    rng = np.random.default_rng(4)
    sprites = rng.uniform(0, 1, (2, 1, 3, 4, 2)).astype(np.float32)
    layer = PlaceSprites((7, 9))

    def draw(row, col):
        share = np.array([row / 4.0, col / 5.0], np.float32)  # the room: 7 - 3 rows, 9 - 4 columns
        return keras.ops.convert_to_numpy(layer(sprites, np.broadcast_to(share, (2, 1, 1, 2)).copy()))[:, 0]

    np.testing.assert_allclose(draw(1.5, 2), (draw(1, 2) + draw(2, 2)) / 2, atol=1e-6)
    near = np.cos(np.pi / 8) ** 2  # a quarter pixel off: the raised cosine's share of the nearer pixel
    np.testing.assert_allclose(draw(3, 4.25), near * draw(3, 4) + (1 - near) * draw(3, 5), atol=1e-6)
    for row, col in ((0, 0), (1.5, 2), (4, 5), (2.7, 0.3)):  # every position inside shows all of the ink
        np.testing.assert_allclose(((draw(row, col) + 1) / 2).sum(axis=(1, 2)), sprites.sum(axis=(1, 2, 3)),
                                   rtol=1e-5)
    positions = tf.Variable(np.full((2, 1, 1, 2), 0.3, np.float32))
    with tf.GradientTape() as tape:
        score = tf.reduce_sum(layer(sprites, positions) * tf.random.normal((2, 1, 7, 9, 2), seed=5))
    assert np.abs(tape.gradient(score, positions).numpy()).min() > 0  # the clip moves with its positions
    weights = tf.random.normal((2, 1, 7, 9, 2), seed=6)

    def gradient(share):  # at a whole pixel, and a float's rounding away from it
        at = tf.Variable(np.full((2, 1, 1, 2), share, np.float32))
        with tf.GradientTape() as tape:
            score = tf.reduce_sum(layer(sprites, at) * weights)
        return tape.gradient(score, at).numpy()

    for whole, near in ((0.0, 1e-7), (0.5, 0.5 + 1e-7), (1.0, 1 - 1e-7)):
        np.testing.assert_allclose(gradient(whole), gradient(near), atol=1e-3)  # smooth: float rounding cannot flip it
    assert PlaceSprites.from_config(layer.get_config()).canvas == (7, 9)


def test_whole_pixel_sprites_are_drawn_sharp_with_the_blended_gradient():
    rng = np.random.default_rng(6)
    sprites = tf.constant(rng.uniform(0, 1, (3, 2, 3, 4, 1)).astype(np.float32))
    shares = rng.uniform(0, 1, (3, 5, 2, 2)).astype(np.float32)
    blended, sharp = PlaceSprites((7, 9)), PlaceSprites((7, 9), whole_pixels=True)
    whole = np.rint(shares * [4, 5]) / [4, 5]
    np.testing.assert_allclose(sharp(sprites, shares), blended(sprites, whole.astype(np.float32)), atol=1e-6)
    assert np.abs(keras.ops.convert_to_numpy(sharp(sprites, shares) - blended(sprites, shares))).max() > 0.05
    positions = tf.Variable(shares)
    weights = tf.random.normal((3, 5, 7, 9, 1), seed=7)
    gradients = []
    for layer in (blended, sharp):
        with tf.GradientTape() as tape:
            score = tf.reduce_sum(layer(sprites, positions) * weights)
        gradients.append(tape.gradient(score, positions, unconnected_gradients="zero").numpy())
    np.testing.assert_allclose(gradients[1], gradients[0], atol=1e-5)
    assert np.abs(gradients[1]).max() > 0
    assert PlaceSprites.from_config(sharp.get_config()).whole_pixels


@pytest.mark.slow
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
        "from kgan.data.pairs import pair_batches\n"  # and the restoring family's U-Net and PatchGAN
        "gan = kgan.PairedGAN(kgan.UNetGenerator((8, 8, 1), task='denoise:0.1', filters=4, depth=1),\n"
        "                     kgan.PatchDiscriminator((8, 8, 1), task='denoise:0.1', filters=4), seed=0)\n"
        "gan.compile('adam', 'adam')\n"
        "gan.fit(pair_batches('digits', 'denoise:0.1', 8, 16, 0), steps_per_epoch=2, verbose=0)\n"
        "print('trained')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="0"))
    assert result.returncode == 0 and result.stdout.strip() == "trained", result.stderr[-2000:]
    assert "remapper failed" not in result.stderr
