import json
import os
import subprocess
import sys
import zipfile

import pytest

from kgan.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_kgan(*args):
    return subprocess.run(
        [sys.executable, "-m", "kgan", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        timeout=600,
    )


def test_train_writes_the_run_directory(tmp_path):
    out = tmp_path / "ring"
    result = run_kgan(
        "train", "--preset", "ring8", "--epochs", "2", "--steps-per-epoch", "5", "--batch-size", "32",
        "--lr", "0.001", "--seed", "3", "--out", str(out), "--no-export", "--no-xla", "--update", "simultaneous",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"run directory {out}" in result.stdout and "model.keras" in result.stdout
    assert sorted(os.listdir(out)) == ["config.json", "history.json", "model.keras", "samples"]
    assert sorted(os.listdir(out / "samples")) == ["epoch_001.png", "epoch_002.png"]
    config = json.loads((out / "config.json").read_text())
    assert (config["preset"], config["epochs"], config["batch_size"], config["seed"]) == ("ring8", 2, 32, 3)
    assert config["xla"] is False and config["export"] is False and config["update"] == "simultaneous"
    assert config["dataset_info"]["shape"] == [2]
    with zipfile.ZipFile(out / "model.keras") as saved:  # the GAN trained with it
        assert json.loads(saved.read("config.json"))["config"]["update"] == "simultaneous"
    history = json.loads((out / "history.json").read_text())
    assert history["epoch"] == [1, 2] and len(history["d_loss"]) == 2


@pytest.mark.slow
def test_train_on_an_image_folder_with_xla(tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    from harness import assert_trained_under_xla
    from kgan import training

    results = []
    train = training.train
    monkeypatch.setattr(training, "train", lambda *a, **k: results.append(train(*a, **k)) or results[-1])

    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(np.full((16, 16), i * 30, np.uint8)).save(folder / f"{i}.png")
    code = main([
        "train", "--dataset", str(folder), "--image-size", "8", "--epochs", "1", "--batch-size", "4",
        "--latent-dim", "4", "--out", str(tmp_path / "run"), "--no-export", "--xla", "--quiet",
    ])
    assert code == 0
    assert os.path.exists(tmp_path / "run" / "samples" / "epoch_001.png")
    assert_trained_under_xla(results[0].gan)
    # Not the digits preset any more: a custom run based on it, named after its data.
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["preset"], config["based_on"], config["dataset"]) == ("custom", "digits", str(folder))
    assert config["sample_spec"] == {"kind": "image", "shape": [8, 8, 1], "dtype": "float32",
                                     "value_range": [-1.0, 1.0]}


def test_runs_on_other_data_are_named_after_it():
    from kgan.presets import get_preset

    digits = get_preset("digits")
    assert (digits.run_dir, digits.onnx_dir) == (os.path.join("saved_models", "digits"), os.path.join("export", "digits"))
    custom = digits.with_flags(dataset="/data/my pictures/", epochs=3)
    assert (custom.preset, custom.based_on, custom.epochs) == ("custom", "digits", 3)
    assert (custom.run_dir, custom.onnx_dir) == (os.path.join("saved_models", "my pictures"),
                                                 os.path.join("export", "my pictures"))
    assert digits.with_flags(dataset="cells.npz").run_dir == os.path.join("saved_models", "cells")
    assert digits.with_flags(dataset="digits").preset == "digits"  # the preset's own data: still the preset
    assert custom.with_flags(dataset="other").based_on == "digits"


BAD = [
    (["--preset", "celeba"], "unknown preset 'celeba'"),
    (["--loss", "bce"], "unknown loss 'bce'"),
    (["--dataset", "imagenet"], "unknown data set 'imagenet'"),
    (["--dataset", "/nonexistent/pictures"], "no such file or folder"),
    (["--batch-size", "5000"], "fewer than one batch of 5000"),
    (["--latent-dim", "0"], "--latent-dim: expected a positive integer"),
    (["--epochs", "two"], "--epochs: expected a positive integer"),
    (["--preset", "ring8", "--dataset", "digits"], "holds images"),
    (["--ema", "1.5"], "--ema: expected a decay in [0, 1)"),
    (["--update", "parallel"], "--update: invalid choice: 'parallel'"),
    (["--mle-weight", "1"], "the maximum-likelihood term (--mle-weight) trains sequence models"),
    (["--preset", "names", "--mle-weight", "-1"], "--mle-weight: expected a number >= 0"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[b[1].split("'")[0].strip() for b in BAD])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    try:  # argparse's type errors exit from inside main(); the others return the code
        code = main(["train", *args, "--out", str(out), "--no-export", "--quiet"])
    except SystemExit as exit_info:
        code = exit_info.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("kgan: error: ")  # one form for the parser's errors and the library's
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_bad_folders_leave_nothing(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    empty = tmp_path / "empty"
    empty.mkdir()
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(mixed / "a.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(mixed / "b.png")
    for folder, message in ((empty, "no PNG or JPEG images"), (mixed, "mixed channel counts")):
        out = tmp_path / f"run_{folder.name}"
        assert main(["train", "--dataset", str(folder), "--out", str(out), "--batch-size", "1", "--quiet"]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()


def test_cli_errors_from_a_real_process_have_no_traceback(tmp_path):
    result = run_kgan("train", "--preset", "nope", "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    from kgan.presets import PRESETS

    assert result.stderr.strip().splitlines() == [
        f"kgan: error: unknown preset 'nope': choose one of {', '.join(PRESETS)}"
    ]


def test_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--preset", "--dataset", "--loss", "--epochs", "--steps-per-epoch", "--batch-size",
                 "--latent-dim", "--lr", "--seed", "--out", "--no-export", "--xla", "--no-xla", "--ema", "--pack",
                 "--augment", "--strategy", "--precision", "--resume", "--steps-per-execution", "--update"):
        assert flag in text, flag


def test_help_names_every_loss():
    from kgan.cli import LOSS_NAMES
    from kgan.losses import LOSSES

    assert [name.split(" ")[0] for name in LOSS_NAMES.split(", ")] == list(LOSSES)


def test_presets_lists_every_preset_without_tensorflow():
    code = ("import sys; from kgan.cli import main; main(['presets']); "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "[]"
    from kgan.presets import PRESETS

    assert [line.split()[0] for line in lines[:-1]] == list(PRESETS)


def test_demo_without_the_app_extra_is_one_line(tmp_path):
    blocked = tmp_path / "site" / "gradio"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('No module named gradio', name='gradio')\n")
    result = subprocess.run([sys.executable, "-m", "kgan", "demo"], capture_output=True, text=True, cwd=ROOT,
                            timeout=120, env=dict(os.environ, PYTHONPATH=f"{tmp_path / 'site'}{os.pathsep}{ROOT}"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "kgan: error: the demo needs gradio (gradio is missing): pip install 'kgan[app]'"]


@pytest.mark.slow
def test_python_users_get_the_clis_quiet_tensorflow_start():
    # TensorFlow's C++ start-up lines (oneDNN, CUDA drivers, cuInit) stay hidden after `import kgan`,
    # and come back when the user sets TensorFlow's log level.
    code = "import kgan; kgan.GAN; import tensorflow as tf; print(float(tf.reduce_sum(tf.ones(3))))"
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KGAN_TF_LOGS")}
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                           env=dict(env, PYTHONPATH=ROOT))
    assert quiet.returncode == 0 and quiet.stdout == "3.0\n" and quiet.stderr == "", quiet.stderr
    chosen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=dict(env, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="0"))
    assert chosen.returncode == 0 and "oneDNN" in chosen.stderr


def test_import_kgan_asks_tensorflow_for_its_onednn_kernels(monkeypatch):
    # TensorFlow picks oneDNN by itself on AVX-512 VNNI CPUs only; after `import kgan` it runs it on
    # any x86 CPU (on an AVX2-only one, Eigen's Conv3D gradient is 76 times slower).
    code = ("import kgan, os; from tensorflow.python.util import _pywrap_util_port as port; "
            "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], port.IsMklEnabled())")
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(env, PYTHONPATH=ROOT))
    assert done.returncode == 0 and done.stdout.split() == ["1", "True"], done.stderr[-2000:]
    # The user's choice holds, and so does a TensorFlow imported before kgan (the variable, read
    # at TensorFlow's import, would say what is not so).
    from kgan import _onednn

    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert not _onednn.install() and os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", object()))
    assert not _onednn.install() and "TF_ENABLE_ONEDNN_OPTS" not in os.environ
    monkeypatch.delitem(sys.modules, "tensorflow")
    assert _onednn.install() and os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
