import json
import os

import pytest

import kgan
from conftest import tiny
from kgan.errors import KganError
from kgan.evaluate import evaluate


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval")
    config = tiny("ring8", epochs=1, steps_per_epoch=20, out=str(folder / "ring"), export_dir=str(folder / "onnx"))
    kgan.train(config, verbose=0, log=lambda *_: None)
    return folder


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A tiny digits DCGAN trained a few steps: far from the data."""
    run = str(tmp_path_factory.mktemp("digits") / "digits")
    kgan.train(tiny("digits", epochs=1, steps_per_epoch=4, out=run, export=False), verbose=0, log=lambda *_: None)
    return run


def test_mode_metrics_of_a_run_and_of_its_onnx_export(ring_run):
    from_keras = evaluate(str(ring_run / "ring"), samples=500)
    from_onnx = evaluate(str(ring_run / "onnx"), samples=500)
    assert from_keras["dataset"] == from_onnx["dataset"] == "ring8"
    for key in ("modes", "high_quality", "reverse_kl"):
        assert from_keras[key] == pytest.approx(from_onnx[key], abs=1e-3)  # the same latents in both runtimes
    assert from_keras["num_modes"] == 8 and from_keras["samples"] == 500


@pytest.mark.slow(minutes=0.35)  # trains or scores a model, 10 s or more: CI runs it
def test_image_metrics_sit_above_their_floor(digits_run, features_root):
    root = features_root
    report = evaluate(digits_run, samples=300, features_root=root)
    # Each figure is its metric on the classifier's features of the held-out digits and of the
    # run's 300 samples for seed 0, recomputed here from those features.
    import numpy as np

    from kgan.export import load_run
    from kgan.runtime.metrics import density_coverage, frechet_distance, kernel_distance, precision_recall
    from kgan.features import DomainFeatures

    extractor = DomainFeatures("digits", root=root)
    real = extractor(extractor.held_out[0])
    fake = extractor(load_run(digits_run)[0].generate(300, seed=0))
    kid, kid_std = kernel_distance(real, fake, subset_size=min(1000, len(real)))
    expected = {"fid": frechet_distance(real, fake), "kid": kid, "kid_std": kid_std,
                **precision_recall(real, fake), **density_coverage(real, fake)}
    assert {k: report[k] for k in expected} == pytest.approx(expected, rel=1e-5, abs=1e-9)
    assert report["samples"] == 300 and report["real_held_out"] == len(real)
    # A few steps of training are far from the data; real against real is the floor.
    assert report["fid"] > 2 * report["fid_floor"] and report["kid"] > 3 * report["kid_std"]
    assert 0 <= report["precision"] <= 1 and 0 <= report["recall"] <= 1 and 0 <= report["coverage"] <= 1
    assert np.isfinite(report["density"]) and report["density"] >= 0
    info = json.loads(open(os.path.join(root, "digits", "info.json")).read())
    assert info["held_out_accuracy"] > 0.9
    with pytest.raises(KganError, match=r"--samples must be more than 5 for images .* got 3"):
        evaluate(digits_run, samples=3, features_root=root)
    again = evaluate(digits_run, samples=300, features_root=root)  # the cached classifier
    assert again["fid"] == pytest.approx(report["fid"], rel=1e-6)


def test_evaluate_command_writes_json(ring_run, tmp_path, capsys):
    from kgan.cli import main

    out = tmp_path / "report.json"
    assert main(["evaluate", str(ring_run / "ring"), "--samples", "400", "--json", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "reverse_kl" in stdout
    saved = json.loads(out.read_text())
    assert saved["samples"] == 400 and saved["num_modes"] == 8
    # The table reads "modes  K of 8": one line, not two numbers side by side.
    lines = [line.split() for line in stdout.splitlines()]
    assert ["modes", str(saved["modes"]), "of", "8"] in lines
    assert not any(line[:1] == ["num_modes"] for line in lines)
    assert main(["evaluate", str(ring_run / "ring"), "--json", str(tmp_path / "missing" / "r.json")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "does not exist" in err


def test_unknown_data_set_is_refused(ring_run):
    with pytest.raises(KganError, match="unknown data set"):
        evaluate(str(ring_run / "ring"), dataset="imagenet")
    with pytest.raises(KganError, match="digits holds images but the model generates vectors"):
        evaluate(str(ring_run / "ring"), dataset="digits")


def test_quality_metrics_callback_joins_history_and_tensorboard(tmp_path):
    import keras
    import numpy as np
    import tensorflow as tf

    from kgan.callbacks import QualityMetrics
    from kgan.data import mixture_means, mixture_std
    from kgan.gan import GAN
    from kgan.runtime.metrics import mixture_mode_metrics
    from kgan.models import MLPDiscriminator, MLPGenerator

    gan = GAN(MLPGenerator(2, 3, hidden_units=(8,)), MLPDiscriminator(2, hidden_units=(8,)), seed=0)
    gan.compile("adam", "adam", run_eagerly=True)
    data = tf.data.Dataset.from_tensor_slices(np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32))

    def measure(model):
        return mixture_mode_metrics(model.generate(300, seed=0), mixture_means("ring8"), mixture_std("ring8"))

    logs = tmp_path / "logs"
    history = gan.fit(data.batch(16), epochs=3, verbose=0, callbacks=[
        QualityMetrics(measure, every=2, prefix="ring8_"), keras.callbacks.TensorBoard(str(logs))])
    # Measured at epoch 2 and at the last epoch; Keras's History keeps what each epoch logged.
    assert len(history.history["ring8_modes"]) == 2
    assert all(0.0 <= v <= 1.0 for v in history.history["ring8_high_quality"])
    tags = set()
    for name in os.listdir(logs / "train"):
        for event in tf.compat.v1.train.summary_iterator(str(logs / "train" / name)):
            tags.update(value.tag for value in event.summary.value)
    assert {"epoch_ring8_modes", "epoch_ring8_high_quality", "epoch_ring8_reverse_kl"} <= tags


@pytest.mark.slow
def test_inception_features_come_from_a_local_weights_file(tmp_path):
    import keras
    import numpy as np
    import tensorflow as tf

    from kgan.features import InceptionFeatures

    keras.utils.set_random_seed(0)
    model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None, input_shape=(299, 299, 3))
    path = str(tmp_path / "inception.weights.h5")
    model.save_weights(path)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 8, 8, 1)).astype(np.float32)
    features = InceptionFeatures(path)(images)  # a fresh model, the file's weights
    expected = model(tf.image.resize(np.repeat(images, 3, axis=-1), (299, 299)), training=False)
    assert features.shape == (2, 2048)
    np.testing.assert_allclose(features, np.asarray(expected), rtol=1e-4, atol=1e-5)


def test_evaluate_scores_images_in_the_inception_features_it_is_given(tmp_path, monkeypatch, digits_run,
                                                                     features_root):
    import numpy as np

    import kgan.evaluate
    import kgan.features
    from kgan.runtime.metrics import frechet_distance

    seen = {}

    class Pixels:  # stands in for InceptionV3, whose ImageNet weights need the network
        def __init__(self, weights):
            seen["weights"] = weights

        def __call__(self, images):
            return np.asarray(images, np.float32).reshape(len(images), -1)

    monkeypatch.setattr(kgan.evaluate, "InceptionFeatures", Pixels)  # what evaluate scores images with
    root = str(tmp_path / "features")
    report = evaluate(digits_run, samples=200, features_root=root, inception_weights="w.h5")
    assert seen["weights"] == "w.h5" and report["features"] == "InceptionV3 pool3"
    assert not os.path.exists(os.path.join(root, "digits"))  # no domain classifier was trained for it
    train, _, held, _, _ = kgan.features.labelled_split("digits")  # the domain classifier's split
    pixels = Pixels(None)
    assert report["fid_floor"] == pytest.approx(frechet_distance(pixels(held), pixels(train[: len(held)])), rel=1e-6)
    assert report["fid"] > 2 * report["fid_floor"]
    assert report["fid"] != pytest.approx(evaluate(digits_run, samples=200, features_root=features_root)["fid"],
                                          rel=1e-2)


def test_inception_weights_that_cannot_be_used_get_one_line(tmp_path, ring_run, capsys):
    from kgan.features import InceptionFeatures

    with pytest.raises(KganError, match="--inception-weights FILE") as caught:
        InceptionFeatures(str(tmp_path / "missing.weights.h5"))
    assert "\n" not in str(caught.value)
    with pytest.raises(KganError, match="ring8 is scored by its modes") as caught:
        evaluate(str(ring_run / "ring"), inception_weights="imagenet")
    from kgan.cli import main

    capsys.readouterr()
    assert main(["evaluate", str(ring_run / "ring"), "--inception-weights", str(tmp_path / "missing.weights.h5")]) == 2
    assert capsys.readouterr().err.splitlines() == [f"kgan: error: {caught.value}"]


def test_stacked_digit_modes(features_root):
    import numpy as np

    from kgan.data import load_arrays
    from kgan.evaluate import stacked_mode_metrics
    from kgan.features import DomainFeatures

    classifier = DomainFeatures("digits", root=features_root)
    real, _, _, _ = load_arrays("stacked-digits", num_examples=3000, seed=1)
    covered = stacked_mode_metrics(real, classifier)
    # 3,000 uniform draws over 1,000 modes cover about 1000 * (1 - e^-3) = 950 of them.
    assert 900 <= covered["modes"] <= 1000 and covered["kl"] < 0.5
    one_digit = np.repeat(real[:1], 3000, axis=0)
    collapsed = stacked_mode_metrics(one_digit, classifier)
    assert collapsed["modes"] == 1 and collapsed["kl"] == pytest.approx(np.log(1000))


def test_stacked_digits_preset_is_scored_by_evaluate(tmp_path, features_root):
    config = tiny("stacked-digits", epochs=1, steps_per_epoch=5, num_examples=2000, out=str(tmp_path / "stacked"),
                  export=False)
    kgan.train(config, verbose=0, log=lambda *_: None)
    report = evaluate(str(tmp_path / "stacked"), samples=500, features_root=features_root)
    # The modes and KL of the run's 500 samples for seed 0, read by the same digit classifier here.
    import numpy as np

    from kgan.export import load_run
    from kgan.features import DomainFeatures

    images = load_run(str(tmp_path / "stacked"))[0].generate(500, seed=0)
    classifier = DomainFeatures("digits", root=features_root)
    digits = [classifier.predict(images[..., c : c + 1]) for c in range(3)]
    counts = np.bincount(100 * digits[0] + 10 * digits[1] + digits[2], minlength=1000)
    frequencies = counts[counts > 0] / 500
    assert report["num_modes"] == 1000 and report["modes"] == int((counts > 0).sum())
    assert report["kl"] == pytest.approx(float(np.sum(frequencies * np.log(frequencies * 1000))), rel=1e-9)
