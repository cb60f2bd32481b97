import keras
import numpy as np
import pytest

from harness import assert_config_round_trip, assert_keras_round_trip
from kgan.errors import KganError
from kgan.models import DCGANDiscriminator, DCGANGenerator


@pytest.mark.parametrize("size, channels", [(8, 1), (16, 3), (28, 1), (32, 3), (64, 1)])
def test_generator_reaches_each_size_in_range(size, channels):
    generator = DCGANGenerator((size, size, channels), latent_dim=4, filters=2)
    images = keras.ops.convert_to_numpy(generator(np.random.default_rng(0).standard_normal((3, 4)) * 10))
    assert images.shape == (3, size, size, channels)
    assert images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    # 28 grows from a 7x7 seed map, the others from 4x4.
    assert generator.get_layer("seed_map").output.shape[1] == (7 if size == 28 else 4)


@pytest.mark.parametrize("downsampling", ["strided", "maxpool"])
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_discriminator_gives_one_logit_per_image(downsampling, spectral_norm):
    discriminator = DCGANDiscriminator(
        (16, 16, 3), filters=2, downsampling=downsampling, spectral_norm=spectral_norm
    )
    logits = discriminator(np.zeros((5, 16, 16, 3), np.float32), training=True)
    assert logits.shape == (5, 1)
    if downsampling == "maxpool":
        assert any(isinstance(layer, keras.layers.MaxPooling2D) for layer in discriminator.layers)
    if spectral_norm:
        assert any(isinstance(layer, keras.layers.SpectralNormalization) for layer in discriminator.layers)


def test_conditional_generator_depends_on_the_label(tiny_dcgan):
    generator, discriminator = tiny_dcgan(num_classes=3)
    z = np.random.default_rng(1).standard_normal((2, 8)).astype(np.float32)
    a = keras.ops.convert_to_numpy(generator([z, np.array([0, 0])]))
    b = keras.ops.convert_to_numpy(generator([z, np.array([2, 2])]))
    assert np.abs(a - b).max() > 1e-4
    assert [i.name for i in generator.inputs] == ["z", "label"]


def test_projection_discriminator_adds_the_label_term(tiny_dcgan):
    _, discriminator = tiny_dcgan(num_classes=3)
    images = np.random.default_rng(2).standard_normal((2, 8, 8, 1)).astype(np.float32)
    embedding = discriminator.get_layer("label_projection")
    embedding.embeddings.assign(np.zeros(embedding.embeddings.shape))
    zero = keras.ops.convert_to_numpy(discriminator([images, np.array([0, 1])]))
    table = np.zeros(embedding.embeddings.shape, np.float32)
    table[1] = 1.0  # class 1 adds the sum of the features
    embedding.embeddings.assign(table)
    features = keras.Model(discriminator.inputs, discriminator.get_layer("features").output)
    feature_sum = keras.ops.convert_to_numpy(features([images, np.array([0, 1])])).sum(axis=1)
    projected = keras.ops.convert_to_numpy(discriminator([images, np.array([0, 1])]))
    np.testing.assert_allclose(projected[:, 0] - zero[:, 0], [0.0, feature_sum[1]], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("num_classes", [None, 4])
def test_serialization_and_keras_round_trip(tmp_path, num_classes):
    # Every constructor argument away from its default, each compared with what was passed.
    g_arguments = dict(image_shape=(8, 8, 3), latent_dim=8, num_classes=num_classes, filters=4, max_filters=8,
                       kernel_size=3, activation="leaky_relu", batch_norm=False, embedding_dim=5)
    d_arguments = dict(image_shape=(8, 8, 3), num_classes=num_classes, filters=4, max_filters=8, num_blocks=2,
                       downsampling="maxpool", spectral_norm=True, dropout=0.25, minibatch_std=True,
                       member_head=3)
    generator, discriminator = DCGANGenerator(**g_arguments), DCGANDiscriminator(**d_arguments)
    unconditional = () if num_classes else ("num_classes",)
    assert_config_round_trip(generator, g_arguments, allow_default=unconditional)
    assert_config_round_trip(discriminator, d_arguments, allow_default=unconditional)
    z = np.random.default_rng(3).standard_normal((4, 8)).astype(np.float32)
    labels = np.array([0, 1, 2, 3], np.int32)
    g_in = [z, labels] if num_classes else z
    assert_keras_round_trip(generator, g_in, tmp_path)
    images = keras.ops.convert_to_numpy(generator(g_in))
    assert_keras_round_trip(discriminator, [images, labels] if num_classes else images, tmp_path)


def _seeded_weights(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        values = rng.uniform(-0.5, 0.5, variable.shape)
        if "variance" in variable.path:
            values = 1.0 + np.abs(values)
        variable.assign(values.astype(np.float32))


def _numpy_generator_8x8(generator, z):
    """The 8x8 DCGAN generator in inference mode, written out in NumPy from its layers' definitions.

    Dense -> batch norm -> ReLU -> 4x4 map -> transposed convolution (stride 2, "same": the
    adjoint of a stride-2 convolution padded 1 before) -> batch norm -> ReLU -> 3x3
    convolution ("same") -> tanh.
    """

    def weights(name):
        return [np.asarray(w, np.float64) for w in generator.get_layer(name).weights]

    def batch_norm(x, name):
        gamma, beta, mean, variance = weights(name)
        return (x - mean) / np.sqrt(variance + generator.get_layer(name).epsilon) * gamma + beta

    (project,) = weights("project")
    x = np.maximum(batch_norm(z.astype(np.float64) @ project, "project_bn"), 0).reshape(len(z), 4, 4, -1)
    (kernel,) = weights("up1")  # [kh, kw, out, in]
    size, k = 4, kernel.shape[0]
    full = np.zeros((len(z), 2 * (size - 1) + k, 2 * (size - 1) + k, kernel.shape[2]))
    for i in range(size):
        for j in range(size):
            full[:, 2 * i : 2 * i + k, 2 * j : 2 * j + k] += np.einsum("bc,hwoc->bhwo", x[:, i, j], kernel)
    x = np.maximum(batch_norm(full[:, 1:9, 1:9], "up1_bn"), 0)
    kernel, bias = weights("image")  # [kh, kw, in, out]
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
    out = sum(np.einsum("bhwc,co->bhwo", padded[:, di : di + 8, dj : dj + 8], kernel[di, dj])
              for di in range(3) for dj in range(3))
    return np.tanh(out + bias)


def test_golden_slice_of_a_seeded_generator():
    # Weights come from numpy, not from Keras initializers, so the numbers pin the
    # architecture and its arithmetic, not an initializer's random stream. GOLDEN was
    # recorded from Keras and agrees with the NumPy derivation above.
    generator = DCGANGenerator((8, 8, 1), latent_dim=4, filters=2)
    _seeded_weights(generator)
    z = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    output = keras.ops.convert_to_numpy(generator(z, training=False))
    np.testing.assert_allclose(output, _numpy_generator_8x8(generator, z), atol=1e-5)
    np.testing.assert_allclose(_numpy_generator_8x8(generator, z)[0, 2, :, 0], GOLDEN, atol=1e-5)
    np.testing.assert_allclose(output[0, 2, :, 0], np.array(GOLDEN, np.float32), atol=1e-5)


GOLDEN = [-0.358861, -0.059076, 0.002717, -0.088142, -0.179964, -0.00021, -0.026228, 0.078494]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_shape": (8, 8, 2)}, "1 or 3 channels"),
        ({"image_shape": (8, 8)}, "three positive ints"),
        ({"image_shape": (8, 8, 1), "latent_dim": 0}, "latent_dim must be a positive integer"),
        ({"image_shape": (8, 8, 1), "num_classes": 1}, "num_classes must be at least 2"),
    ],
)
def test_bad_generator_arguments(kwargs, message):
    with pytest.raises(KganError, match=message):
        DCGANGenerator(**kwargs)


@pytest.mark.slow(minutes=0.4)
def test_the_dcgan_family_trains_saves_exports_and_samples_by_name(tmp_path):
    from harness import run_family_test

    run_family_test("dcgan", tmp_path)
