"""Models saved by earlier versions load and give the same samples and scores.

Each folder under tests/fixtures/ is named after the commit whose code wrote it
(`tests/fixtures/make_fixtures.py`); add one whenever a change touches what is saved or
how a saved model is rebuilt.
"""

import glob
import os

import numpy as np
import pytest

import kgan

FIXTURES = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "*", "*.keras")))


@pytest.mark.parametrize("path", FIXTURES, ids=[os.path.relpath(p, os.path.dirname(os.path.dirname(p)))
                                                for p in FIXTURES])
def test_saved_models_load_and_give_the_same_samples_and_scores(path):
    expected = np.load(path.replace(".keras", ".npz"))
    gan = kgan.load_model(path)
    labels = np.arange(8) % 3 if gan.conditional else None
    samples = gan.generate(8, seed=0, labels=labels)
    np.testing.assert_allclose(samples, expected["samples"], atol=1e-6)
    d_in = [samples, labels.astype(np.int32)] if gan.conditional else samples
    np.testing.assert_allclose(np.asarray(gan.discriminator(d_in, training=False)).reshape(-1), expected["logits"],
                               atol=1e-5)


def test_there_are_fixtures():
    assert len(FIXTURES) >= 3


EXPORTS = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                    "fixtures", "*", "*", "generator.onnx")))
EXPORT_IDS = [os.path.relpath(p, os.path.dirname(os.path.dirname(p))) for p in EXPORTS]


@pytest.mark.parametrize("folder", EXPORTS, ids=EXPORT_IDS)
def test_exports_load_and_give_the_same_samples_scores_and_walks(folder):
    from kgan.runtime.inference import GeneratorRuntime

    expected = np.load(folder + ".runtime.npz")
    runtime = GeneratorRuntime(folder)
    generated = runtime.generate(8, seed=0)
    np.testing.assert_array_equal(generated, expected["generated"])
    np.testing.assert_allclose(runtime.score(generated), expected["scores"], atol=1e-6)
    np.testing.assert_array_equal(runtime.interpolate(0, 1, steps=4, n=2), expected["walk"])


def _onnx_signature(path):
    import onnx

    model = onnx.load(path)

    # Symbolic axes (the batch) as "?": tf2onnx numbers their names afresh in every export.
    def describe(values):
        return [(v.name, v.type.tensor_type.elem_type, ["?" if d.dim_param else d.dim_value for d in v.type.tensor_type.shape.dim])
                for v in values]

    return describe(model.graph.input), describe(model.graph.output), {p.key for p in model.metadata_props}


@pytest.mark.slow
@pytest.mark.parametrize("folder", EXPORTS, ids=EXPORT_IDS)
def test_exports_keep_their_inputs_outputs_and_keys(folder, tmp_path):
    # The same model exported now: the same names, types and shapes, and every earlier key still there.
    import json

    from kgan.export import export_model

    source = glob.glob(os.path.join(os.path.dirname(os.path.dirname(folder)), "*",
                                    os.path.basename(folder) + ".keras"))[0]
    out = tmp_path / "export"
    result = export_model(kgan.load_model(source), out_dir=str(out), saved_model_dir=str(tmp_path / "saved"))
    with open(os.path.join(folder, "manifest.json")) as handle:
        old = json.load(handle)
    assert set(old) <= set(result.manifest)
    for key in ("kind", "latent_dim", "num_classes", "output_shape", "value_range", "inputs", "outputs",
                "discriminator"):
        assert result.manifest[key] == old[key], key
    for role in ("generator", "discriminator"):
        old_inputs, old_outputs, old_keys = _onnx_signature(os.path.join(folder, f"{role}.onnx"))
        new_inputs, new_outputs, new_keys = _onnx_signature(str(out / f"{role}.onnx"))
        assert (new_inputs, new_outputs) == (old_inputs, old_outputs)
        assert old_keys <= new_keys, old_keys - new_keys
