"""Distribution, mixed precision, resumable training and the divergence guard."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import onnx
import pytest
import tensorflow as tf

import kgan
from kgan.callbacks import NonFiniteLoss, StopOnNonFinite
from kgan.errors import KganError
from kgan.gan import GAN
from kgan.models import MLPDiscriminator, MLPGenerator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def kgan_process(*args, env=None, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "kgan", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=ROOT, **(env or {})), **kwargs,
    )


def run_kgan(*args, env=None, timeout=900):
    process = kgan_process(*args, env=env)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def epochs_written(path):
    try:
        with open(path) as handle:
            return json.load(handle)["epoch"]
    except (OSError, ValueError, KeyError):
        return []


@pytest.mark.slow(minutes=0.75)
def test_kill_and_resume(tmp_path):
    run = tmp_path / "ring"
    args = ["train", "--preset", "ring8", "--epochs", "6", "--steps-per-epoch", "150", "--out", str(run),
            "--no-export", "--backup-every", "40", "--quiet"]
    timeline = []
    start = time.perf_counter()
    process = kgan_process(*args)
    while len(epochs_written(run / "history.json")) < 2:
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.perf_counter() - start < 600
        time.sleep(0.05)
    time.sleep(0.4)  # into epoch 3, past a step backup
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_after = epochs_written(run / "history.json")
    timeline.append(f"killed at {time.perf_counter() - start:.1f} s after epochs {killed_after}")
    assert not (run / "model.keras").exists()  # never a truncated model
    assert (run / "backup" / "training_metadata.json").exists()
    backed_up = json.loads((run / "backup" / "training_metadata.json").read_text())
    code, out, err = run_kgan("train", "--out", str(run), "--resume", "--quiet")
    timeline.append(f"resumed from the backup of epoch {backed_up['epoch']} (+{backed_up['batch']} steps), "
                    f"finished at {time.perf_counter() - start:.1f} s")
    print("kill-and-resume:", "; ".join(timeline))
    assert code == 0, err[-2000:]
    assert "resuming" in out
    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3, 4, 5, 6]
    assert all(len(v) == 6 for v in history.values())
    assert sorted(os.listdir(run)) == ["config.json", "history.json", "model.keras", "samples"]
    assert "epoch_006.png" in os.listdir(run / "samples")
    model = kgan.load_model(str(run / "model.keras"))
    # Restored optimizer state: the step counter went on from the backup (a restarted
    # epoch repeats the steps after the last step backup), not from zero.
    assert 900 <= int(model.g_optimizer.iterations) < 900 + 150


def test_resume_needs_a_backup(tmp_path, capsys):
    from kgan.cli import main

    (tmp_path / "config.json").write_text(json.dumps({"preset": "ring8", "dataset": "ring8", "model": "mlp"}))
    assert main(["train", "--out", str(tmp_path), "--resume"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"kgan: error: nothing to resume: {tmp_path / 'backup'} holds no backup; train without --resume"
    ]


def test_divergence_stops_and_keeps_the_last_good_backup(tmp_path):
    keras.utils.set_random_seed(0)
    gan = GAN(MLPGenerator(2, 3, hidden_units=(8,)), MLPDiscriminator(2, hidden_units=(8,)), seed=0)
    gan.compile("adam", "adam", jit_compile=False)
    data = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    data[40:48] = np.nan  # the sixth batch of 8
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(8)
    backup = tmp_path / "backup"
    with pytest.raises(NonFiniteLoss, match="d_loss became nan at epoch 1, step 6"):
        gan.fit(dataset, epochs=2, verbose=0,
                callbacks=[StopOnNonFinite(), keras.callbacks.BackupAndRestore(str(backup), save_freq=1)])
    fresh = GAN(MLPGenerator(2, 3, hidden_units=(8,)), MLPDiscriminator(2, hidden_units=(8,)), seed=0)
    fresh.compile("adam", "adam")
    fresh.g_optimizer.build(fresh.generator.trainable_variables)
    fresh.d_optimizer.build(fresh.discriminator.trainable_variables)
    fresh.load_weights(str(backup / "latest.weights.h5"))
    assert all(np.isfinite(w).all() for w in fresh.get_weights())
    assert int(fresh.g_optimizer.iterations) == 5  # the five good steps


def test_divergence_from_the_command_line(tmp_path, capsys):
    from kgan.cli import main

    np.save(tmp_path / "bad.npy", np.full((64, 2), np.nan, np.float32))
    run = tmp_path / "run"
    assert main(["train", "--preset", "ring8", "--dataset", str(tmp_path / "bad.npy"), "--epochs", "1",
                 "--steps-per-epoch", "3", "--batch-size", "32", "--out", str(run), "--no-export", "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith(
        "kgan: error: training diverged: d_loss became nan at epoch 1, step 1")
    assert not (run / "model.keras").exists()


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_and_exports_float32(tmp_path, precision):
    config = kgan.get_preset("digits").replace(epochs=1, steps_per_epoch=3, precision=precision, out=str(tmp_path / "run"),
                                               export_dir=str(tmp_path / "onnx"), latent_dim=8,
                                               generator={"filters": 8}, discriminator={"filters": 8, "num_blocks": 2})
    result = kgan.train(config, verbose=0, log=lambda *_: None)
    assert result.gan.generator.dtype_policy.name == precision
    assert result.gan.generator.get_layer("up1").compute_dtype == precision.split("_")[1]
    assert result.gan.generator.output.dtype == "float32" and result.gan.discriminator.output.dtype == "float32"
    if precision == "mixed_float16":
        assert isinstance(result.gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(result.gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.isfinite(result.history["d_loss"]).all()
    model = onnx.load(str(tmp_path / "onnx" / "generator.onnx"))
    for value in [*model.graph.input, *model.graph.output]:
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    manifest = json.loads((tmp_path / "onnx" / "manifest.json").read_text())
    assert manifest["parity"]["generator"]["keras_vs_onnxruntime"] <= 1e-4
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    # The float32 export against the mixed-precision model that was trained, not against its float32 copy.
    from kgan.runtime.inference import GeneratorRuntime

    runtime = GeneratorRuntime(tmp_path / "onnx")
    trained = result.gan.generate(16, seed=4)
    exported = runtime.sample(16, seed=4)
    # Half-precision round-off, measured at float16 / bfloat16: generator 2.3e-4 / 1.5e-3 at most,
    # discriminator 7.6e-6 / 8.5e-5 on logits near 0.009; the bounds leave about 12x room.
    g_tolerance, d_tolerance = {"mixed_float16": (3e-3, 1e-4), "mixed_bfloat16": (2e-2, 1e-3)}[precision]
    assert np.abs(exported - trained).max() < g_tolerance and np.abs(exported - trained).mean() < g_tolerance / 5
    logits = np.asarray(result.gan.discriminator(trained, training=False), np.float32).reshape(-1)
    assert np.abs(logits).max() > 5 * d_tolerance  # a discriminator export giving zeros would fail
    np.testing.assert_allclose(runtime.score(trained), logits, rtol=0, atol=d_tolerance)


@pytest.mark.slow
def test_mirrored_strategy_from_the_command_line(tmp_path):
    code, out, err = run_kgan("train", "--preset", "digits", "--epochs", "1", "--steps-per-epoch", "4",
                              "--strategy", "mirrored", "--devices", "2", "--out", str(tmp_path / "run"),
                              "--no-export", "--quiet")
    assert code == 0, err[-2000:]
    assert "strategy mirrored (2 replica(s))" in out
    assert json.loads((tmp_path / "run" / "history.json").read_text())["epoch"] == [1]


def test_strategy_errors():
    with pytest.raises(KganError, match="drop --xla"):
        kgan.get_preset("digits").replace(strategy="mirrored", xla=True).validate()
    with pytest.raises(KganError, match="unknown precision"):
        kgan.get_preset("digits").replace(precision="float8").validate()


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_loopback(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    run = tmp_path / "run"
    workers = []
    for index in range(2):
        env = {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(kgan_process("train", "--preset", "ring8", "--epochs", "2", "--steps-per-epoch", "20",
                                    "--strategy", "multiworker", "--out", str(run), "--export-dir",
                                    str(tmp_path / "onnx"), "--quiet", env=env, cwd=str(tmp_path)))
    results = [w.communicate(timeout=900) for w in workers]
    for worker, (_, err) in zip(workers, results):
        assert worker.returncode == 0, err[-3000:]
    assert sorted(os.listdir(run)) == ["config.json", "history.json", "model.keras", "samples", "saved_model"]
    assert sorted(os.listdir(tmp_path)) == ["onnx", "run"]  # the second worker cleaned up after itself
    models = [p for p in tmp_path.rglob("*.keras")]
    assert models == [run / "model.keras"]
    assert json.loads((run / "history.json").read_text())["epoch"] == [1, 2]
