"""Shared checks: serialization round trip and `.keras` save/reload (keras-hub test_case style)."""

import json
import os

import keras
import numpy as np


def assert_config_round_trip(model):
    """get_config -> from_config gives a model with the same JSON config and weight shapes."""
    config = model.get_config()
    clone = model.__class__.from_config(config)
    assert json.dumps(clone.get_config(), sort_keys=True) == json.dumps(config, sort_keys=True)
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    return clone


def assert_keras_round_trip(model, inputs, tmp_path, atol=1e-6):
    """Saves to .keras, reloads, and checks the outputs agree in inference mode."""
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is type(model)
    expected = keras.ops.convert_to_numpy(model(inputs, training=False))
    actual = keras.ops.convert_to_numpy(restored(inputs, training=False))
    np.testing.assert_allclose(actual, expected, atol=atol)
    return restored
