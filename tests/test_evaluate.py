import json
import os
import subprocess
import sys

import pytest

import kgan
from kgan.errors import KganError
from kgan.evaluate import evaluate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval")
    config = kgan.get_preset("ring8").replace(epochs=1, steps_per_epoch=20, out=str(folder / "ring"),
                                              export_dir=str(folder / "onnx"))
    kgan.train(config, verbose=0, log=lambda *_: None)
    return folder


def test_mode_metrics_of_a_run_and_of_its_onnx_export(ring_run):
    from_keras = evaluate(str(ring_run / "ring"), samples=500)
    from_onnx = evaluate(str(ring_run / "onnx"), samples=500)
    assert from_keras["dataset"] == from_onnx["dataset"] == "ring8"
    for key in ("modes", "high_quality", "reverse_kl"):
        assert from_keras[key] == pytest.approx(from_onnx[key], abs=1e-3)  # the same latents in both runtimes
    assert from_keras["num_modes"] == 8 and from_keras["samples"] == 500


def test_image_metrics_sit_above_their_floor(tmp_path):
    config = kgan.get_preset("digits").replace(epochs=1, out=str(tmp_path / "digits"), export=False)
    kgan.train(config, verbose=0, log=lambda *_: None)
    root = str(tmp_path / "features")
    report = evaluate(str(tmp_path / "digits"), samples=300, features_root=root)
    for key in ("fid", "fid_floor", "kid", "kid_std", "precision", "recall", "density", "coverage"):
        assert key in report
    # One epoch of training is far from the data; real against real is the floor.
    assert report["fid"] > 2 * report["fid_floor"]
    info = json.loads(open(os.path.join(root, "digits", "info.json")).read())
    assert info["held_out_accuracy"] > 0.9
    again = evaluate(str(tmp_path / "digits"), samples=300, features_root=root)  # the cached classifier
    assert again["fid"] == pytest.approx(report["fid"], rel=1e-6)


def test_evaluate_command_writes_json(ring_run, tmp_path):
    out = tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-m", "kgan", "evaluate", str(ring_run / "ring"), "--samples", "400",
                             "--json", str(out)], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "reverse_kl" in result.stdout
    assert json.loads(out.read_text())["samples"] == 400
    bad = subprocess.run([sys.executable, "-m", "kgan", "evaluate", str(ring_run / "ring"), "--json",
                          str(tmp_path / "missing" / "r.json")], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "does not exist" in bad.stderr


def test_unknown_data_set_is_refused(ring_run):
    with pytest.raises(KganError, match="unknown data set"):
        evaluate(str(ring_run / "ring"), dataset="imagenet")


def test_quality_metrics_callback_joins_history_and_tensorboard(tmp_path):
    import keras
    import numpy as np
    import tensorflow as tf

    from kgan.callbacks import QualityMetrics
    from kgan.data import mixture_means, mixture_std
    from kgan.gan import GAN
    from kgan.metrics import mixture_mode_metrics
    from kgan.models import MLPDiscriminator, MLPGenerator

    gan = GAN(MLPGenerator(2, 3, hidden_units=(8,)), MLPDiscriminator(2, hidden_units=(8,)), seed=0)
    gan.compile("adam", "adam")
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


def test_stacked_digit_modes(tmp_path):
    import numpy as np

    from kgan.data import load_arrays
    from kgan.evaluate import stacked_mode_metrics
    from kgan.metrics.features import DomainFeatures

    classifier = DomainFeatures("digits", root=str(tmp_path / "features"))
    real, _, _, _ = load_arrays("stacked-digits", num_examples=3000, seed=1)
    covered = stacked_mode_metrics(real, classifier)
    # 3,000 uniform draws over 1,000 modes cover about 1000 * (1 - e^-3) = 950 of them.
    assert 900 <= covered["modes"] <= 1000 and covered["kl"] < 0.5
    one_digit = np.repeat(real[:1], 3000, axis=0)
    collapsed = stacked_mode_metrics(one_digit, classifier)
    assert collapsed["modes"] == 1 and collapsed["kl"] == pytest.approx(np.log(1000))


def test_stacked_digits_preset_is_scored_by_evaluate(tmp_path):
    config = kgan.get_preset("stacked-digits").replace(epochs=1, steps_per_epoch=5, num_examples=2000,
                                                       out=str(tmp_path / "stacked"), export=False)
    kgan.train(config, verbose=0, log=lambda *_: None)
    report = evaluate(str(tmp_path / "stacked"), samples=500, features_root=str(tmp_path / "features"))
    assert report["num_modes"] == 1000 and 1 <= report["modes"] <= 500 and report["kl"] >= 0
