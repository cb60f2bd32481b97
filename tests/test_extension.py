"""A new kind of sample and a new exported model travel the whole path by registration alone.

The test kind, `matrix` (`[rows, columns]` in [-1, 1], no channel axis), and the test
export, `energy` (a float and an integer output), are registered here and nowhere else:
training, `.keras`, export with parity, the runtime and `kgan generate` need no change.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import kgan
from kgan import export as export_lib
from kgan.runtime import images, samples
from kgan.cli import main
from kgan.errors import KganError
from kgan.export import ExportSpec, Output, export_model
from kgan.runtime.inference import GeneratorRuntime
from kgan.runtime.samples import SampleKind, SampleSpec


class MatrixKind(SampleKind):
    name = "matrix"
    tensor_name = "matrix"

    def check(self, spec):
        if len(spec.shape) != 2:
            raise KganError(f"matrix samples are [rows, columns], got {list(spec.shape)}")

    def to_display(self, values, spec):
        return images.to_uint8(values, spec.value_range)

    def from_display(self, values, spec):
        return np.asarray(values, np.float32) / 255.0 * 2.0 - 1.0

    def picture(self, values, spec, columns=None, reference=None, extent=None, size=512, scale=None):
        return images.make_grid(self.to_display(values, spec)[..., None], columns=columns, scale=2)


@pytest.fixture
def matrix_kind():
    samples.register_kind(MatrixKind)
    yield samples.KINDS["matrix"]
    del samples.KINDS["matrix"]


def energy_export(gan):
    """z -> ||z||^2 / 2 - D(G(z)) (float) and whether D judges G(z) real (int64, compared exactly)."""
    prior = gan.latent_prior

    def call(feeds):
        feeds = {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in feeds.items()}
        fake = gan.run_generator(feeds)
        conditioning = {k: feeds[k] for k in prior.conditioning}
        logit = tf.reshape(gan.run_discriminator({gan.sample_spec.tensor_name: fake, **conditioning}), [-1])
        energy = 0.5 * tf.reduce_sum(tf.square(feeds["z"]), axis=-1) - logit
        return {"energy": energy, "judged_real": tf.cast(logit > 0.0, tf.int64)}

    return ExportSpec(role="energy", call=call, inputs=prior.signature(),
                      outputs={"energy": Output(["batch"]), "judged_real": Output(["batch"], "int64")},
                      feeds=lambda batch, rng: prior.draw(batch, rng=rng, randomize=True),
                      endpoint="energy", models=[gan.sampling_generator, gan.discriminator])


@pytest.fixture
def energy_role():
    export_lib.register_export(energy_export)
    yield
    export_lib.EXPORTS.remove(energy_export)


def matrix_gan():
    keras.utils.set_random_seed(0)
    generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(12, activation="tanh"),
                                  keras.layers.Reshape((3, 4))])
    discriminator = keras.Sequential([keras.Input((3, 4)), keras.layers.Flatten(), keras.layers.Dense(1)])
    gan = kgan.GAN(generator, discriminator, seed=0,
                   sample_spec=SampleSpec("matrix", (3, 4), value_range=(-1.0, 1.0)))
    gan.compile("adam", "adam", jit_compile=False, run_eagerly=True)
    data = np.random.default_rng(0).uniform(-1, 1, (16, 3, 4)).astype(np.float32)
    gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(8), epochs=1, verbose=0)
    return gan


def test_a_registered_kind_trains_saves_exports_and_samples(matrix_kind, tmp_path):
    gan = matrix_gan()
    assert gan.discriminator_inputs == ("matrix",)
    path = str(tmp_path / "matrix.keras")
    gan.save(path)
    reloaded = kgan.load_model(path)
    assert reloaded.sample_spec == gan.sample_spec
    np.testing.assert_allclose(reloaded.generate(5, seed=3), gan.generate(5, seed=3), atol=1e-6)

    result = export_model(gan, out_dir=str(tmp_path / "export"))
    assert result.manifest["sample_spec"]["kind"] == "matrix"
    assert result.manifest["outputs"] == {"matrix": ["batch", 3, 4]}
    assert result.manifest["discriminator"]["inputs"] == ["matrix"]
    runtime = GeneratorRuntime(result.out_dir)
    assert runtime.kind == "matrix" and runtime.output_shape == (3, 4)
    np.testing.assert_allclose(runtime.sample(6, seed=2), gan.generate(6, seed=2), atol=1e-5)
    shown = runtime.generate(6, seed=2)
    assert shown.dtype == np.uint8 and shown.shape == (6, 3, 4)  # the kind's display form
    np.testing.assert_allclose(runtime.score(shown), gan.score(matrix_kind.from_display(shown, gan.sample_spec)),
                               atol=1e-4)

    png = tmp_path / "grid.png"
    assert main(["generate", result.out_dir, "-n", "4", "--seed", "2", "-o", str(png)]) == 0
    with Image.open(png) as picture:
        expected = matrix_kind.picture(runtime.sample(4, seed=2), runtime.sample_spec)
        np.testing.assert_array_equal(np.asarray(picture), expected[..., 0])


def test_an_unregistered_kind_is_one_clear_error(tmp_path):
    with pytest.raises(KganError, match="unknown kind of sample 'matrix'"):
        SampleSpec("matrix", (3, 4))


def test_a_registered_export_is_written_checked_and_found_by_role(energy_role, tmp_path):
    from conftest import make_gan

    gan = make_gan("dcgan", conditional=True)
    result = export_model(gan, out_dir=str(tmp_path / "export"))
    assert sorted(f for f in os.listdir(result.out_dir) if f.endswith(".onnx")) == [
        "discriminator.onnx", "energy.onnx", "generator.onnx", "latent_energy.onnx"]
    entry = result.manifest["models"]["energy"]
    assert entry["inputs"] == {"z": {"shape": ["batch", 6], "dtype": "float32"},
                               "label": {"shape": ["batch"], "dtype": "int64"}}
    assert entry["outputs"]["judged_real"] == {"shape": ["batch"], "dtype": "int64"}
    figures = result.manifest["parity"]["energy"]
    assert figures["keras_vs_onnxruntime"] <= 1e-4 and figures["keras_vs_onnx_reference"] <= 1e-4

    runtime = GeneratorRuntime(result.out_dir)
    energy = runtime.model_for("energy")
    assert json.loads(energy.metadata["kgan.parity"]) == figures
    feeds = runtime.prior.draw(9, seed=4, label=1)
    got = energy.run(feeds)
    expected = energy_export(gan).keras_outputs(feeds)
    assert got["judged_real"].dtype == np.int64
    np.testing.assert_array_equal(got["judged_real"], expected["judged_real"])
    np.testing.assert_allclose(got["energy"], expected["energy"], atol=1e-4)


def test_outputs_compare_floats_within_the_tolerance_and_integers_exactly():
    assert Output(["batch"]).limit == export_lib.PARITY_TOLERANCE
    assert Output(["batch"], "int64").limit == 0.0
    assert Output(["batch"], tolerance=1e-3).limit == 1e-3


# A model family from outside kgan: one generator class, one discriminator class, registered. --

@keras.saving.register_keras_serializable(package="kgan_tests")
class DenseImageGenerator(kgan.models.Generator, keras.Model):
    """z -> a hidden layer -> an image in [-1, 1]."""

    kind = "image"

    def __init__(self, image_shape, latent_dim=8, num_classes=None, units=16, **kwargs):
        if num_classes:
            raise KganError("the dense family is unconditional")
        image_shape = tuple(image_shape)
        z = keras.Input((latent_dim,), name="z")
        x = keras.layers.Dense(units, activation="relu")(z)
        x = keras.layers.Dense(int(np.prod(image_shape)), activation="tanh", dtype="float32")(x)
        super().__init__(inputs=z, outputs=keras.layers.Reshape(image_shape, name="image")(x), **kwargs)
        self.image_shape, self.latent_dim, self.units = image_shape, latent_dim, units

    def get_config(self):
        return {"name": self.name, "image_shape": self.image_shape, "latent_dim": self.latent_dim, "units": self.units}


@keras.saving.register_keras_serializable(package="kgan_tests")
class DenseImageDiscriminator(kgan.models.Discriminator, keras.Model):
    """An image -> flattened -> one logit."""

    def __init__(self, image_shape, num_classes=None, units=16, **kwargs):
        image = keras.Input(tuple(image_shape), name="image")
        x = keras.layers.Dense(units, activation="relu")(keras.layers.Flatten()(image))
        super().__init__(inputs=image, outputs=keras.layers.Dense(1, dtype="float32")(x), **kwargs)
        self.image_shape, self.units = tuple(image_shape), units

    def get_config(self):
        return {"name": self.name, "image_shape": self.image_shape, "units": self.units}


@pytest.fixture
def dense_family():
    yield kgan.models.register_family("dense", DenseImageGenerator, DenseImageDiscriminator)
    del kgan.models.FAMILIES["dense"]


@pytest.mark.slow(minutes=0.4)
def test_a_registered_family_trains_saves_exports_and_samples_by_name(dense_family, tmp_path):
    from harness import run_family_test

    gan, _ = run_family_test("dense", tmp_path)
    assert gan.generator.units == 16 and gan.sample_spec.shape == (8, 8, 1)


def test_a_family_is_checked_against_its_data_and_its_classes(dense_family, tmp_path, capsys):
    assert main(["train", "--preset", "ring8", "--family", "dense", "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert "holds vectors, not images: use a preset for vectors such as ring8 (model mlp)" in capsys.readouterr().err
    assert main(["train", "--family", "nope", "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert "unknown model family 'nope': choose one of dcgan, mlp, r3gan, video, sequence, pix2pix, dense" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    with pytest.raises(KganError, match="must subclass kgan.models.Generator"):
        kgan.models.register_family("plain", keras.Sequential, DenseImageDiscriminator)
