import keras
import numpy as np
import pytest

from harness import assert_config_round_trip, assert_keras_round_trip
from kgan.models import MLPDiscriminator, MLPGenerator


@pytest.mark.parametrize("num_classes", [None, 3])
def test_mlp_pair_shapes_and_round_trips(tmp_path, num_classes):
    g_arguments = dict(output_dim=2, latent_dim=5, hidden_units=(8, 8), activation="tanh", num_classes=num_classes,
                       embedding_dim=3)
    d_arguments = dict(input_dim=2, hidden_units=(8,), activation="relu", num_classes=num_classes,
                       spectral_norm=True, minibatch_std=True, member_head=4)
    generator, discriminator = MLPGenerator(**g_arguments), MLPDiscriminator(**d_arguments)
    unconditional = () if num_classes else ("num_classes",)
    assert_config_round_trip(generator, g_arguments, allow_default=unconditional)
    assert_config_round_trip(discriminator, d_arguments, allow_default=unconditional)
    z = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2], np.int32)
    g_in = [z, labels] if num_classes else z
    samples = keras.ops.convert_to_numpy(generator(g_in))
    assert samples.shape == (6, 2)
    d_in = [samples, labels] if num_classes else samples
    logits, member_logits = discriminator(d_in)  # the logit and MGAN's member head
    assert logits.shape == (6, 1) and member_logits.shape == (6, 4)
    for model, inputs in ((generator, g_in), (discriminator, d_in)):
        assert_keras_round_trip(model, inputs, tmp_path)


def test_conditional_mlp_generator_uses_the_label():
    generator = MLPGenerator(2, latent_dim=3, hidden_units=(8,), num_classes=4)
    z = np.ones((1, 3), np.float32)
    outputs = [keras.ops.convert_to_numpy(generator([z, np.array([k])])) for k in range(4)]
    assert len({tuple(np.round(o.ravel(), 5)) for o in outputs}) == 4


@pytest.mark.slow(minutes=0.1)
def test_the_mlp_family_trains_saves_exports_and_samples_by_name(tmp_path):
    from harness import run_family_test

    run_family_test("mlp", tmp_path)
