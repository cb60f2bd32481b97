import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from PIL import Image

from conftest import FAMILIES
from kgan.errors import KganError
from kgan.runtime.inference import GeneratorRuntime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDS = [f"{f}-{'conditional' if c else 'plain'}" for f, c in FAMILIES]


def test_import_pulls_in_neither_tensorflow_nor_keras():
    code = (
        "import sys, kgan, kgan.runtime.inference, kgan.runtime.images, kgan.cli, kgan.runtime.samples, kgan.runtime.samplers, kgan.runtime.latent; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'tf2onnx') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("family, conditional", FAMILIES, ids=IDS)
def test_runtime_matches_keras_for_the_same_seed(exported, family, conditional):
    gan, result = exported(family, conditional)
    runtime = GeneratorRuntime(result.out_dir)
    assert (runtime.latent_dim, runtime.num_classes) == (gan.latent_dim, gan.num_classes)
    assert runtime.output_shape == gan.sample_shape
    assert "CPUExecutionProvider" in runtime.providers
    labels = [2] * 40 if conditional else None
    np.testing.assert_allclose(runtime.sample(40, seed=7, labels=labels), gan.generate(40, seed=7, labels=labels),
                               atol=1e-4)
    out = runtime.generate(40, seed=7, labels=labels)
    if family == "dcgan":
        assert out.dtype == np.uint8 and out.shape == (40, 8, 8, 1)
    else:
        assert out.dtype == np.float32 and out.shape == (40, 2)


def test_chunked_runs_equal_one_run(exported):
    _, result = exported("dcgan", False)
    whole = GeneratorRuntime(result.out_dir).generate(50, seed=1)
    chunked = GeneratorRuntime(result.out_dir, batch_size=7).generate(50, seed=1)
    np.testing.assert_array_equal(whole, chunked)


@pytest.mark.parametrize("family, conditional", FAMILIES, ids=IDS)
def test_score_matches_the_keras_discriminator(exported, family, conditional):
    gan, result = exported(family, conditional)
    runtime = GeneratorRuntime(os.path.join(result.out_dir, "generator.onnx"))
    labels = [1] * 9 if conditional else None
    samples = gan.generate(9, seed=3, labels=labels)
    d_in = [samples, np.ones(9, np.int32)] if conditional else samples
    expected = np.asarray(gan.discriminator(d_in, training=False)).reshape(-1)
    np.testing.assert_allclose(runtime.score(samples, labels=1 if conditional else None), expected, atol=1e-4)
    if family == "dcgan":  # uint8 images are scored as the [-1, 1] floats they stand for
        shown = runtime.generate(9, seed=3, labels=labels)
        as_floats = shown.astype(np.float32) / 127.5 - 1.0
        np.testing.assert_array_equal(runtime.score(shown, labels=labels), runtime.score(as_floats, labels=labels))
        np.testing.assert_allclose(runtime.score(shown, labels=labels), expected, atol=0.05)


@pytest.mark.parametrize("conditional", [False, True], ids=["plain", "conditional"])
def test_interpolation_walks_from_seed_to_seed(exported, conditional):
    _, result = exported("dcgan", conditional)
    runtime = GeneratorRuntime(result.out_dir)
    labels = 2 if conditional else None  # one class all the way
    frames = runtime.interpolate(4, 5, steps=6, n=3, labels=labels)
    assert frames.shape == (6, 3, 8, 8, 1)
    np.testing.assert_array_equal(frames[0], runtime.generate(3, seed=4, labels=labels))
    np.testing.assert_array_equal(frames[-1], runtime.generate(3, seed=5, labels=labels))
    assert np.abs(frames[2].astype(int) - frames[0].astype(int)).max() > 0
    # Each frame is the generator on the spherical walk's latents.
    a, b = runtime.prior.draw(3, seed=4), runtime.prior.draw(3, seed=5)
    from kgan.runtime.latent import slerp

    middle = runtime.run(slerp(a["z"], b["z"], np.linspace(0.0, 1.0, 6)[2]), labels=labels)
    np.testing.assert_array_equal(frames[2], _uint8(middle))


def _uint8(samples):
    from kgan.runtime.images import to_uint8

    return to_uint8(samples)


def test_truncation_scales_the_latents(exported):
    from kgan.runtime.inference import latents

    _, result = exported("mlp", False)
    runtime = GeneratorRuntime(result.out_dir)
    np.testing.assert_allclose(runtime.sample(5, seed=2, truncation=0.5), runtime.run(0.5 * latents(5, 3, seed=2)),
                               atol=1e-6)
    np.testing.assert_allclose(runtime.sample(5, seed=2, truncation=2.0), runtime.run(2.0 * latents(5, 3, seed=2)),
                               atol=1e-6)
    for bad in (2.5, -0.5):
        with pytest.raises(KganError, match=r"truncation must be a finite number in \(0, 2\]"):
            runtime.sample(5, seed=2, truncation=bad)


def test_model_card(exported):
    _, result = exported("dcgan", True)
    card = GeneratorRuntime(result.out_dir).describe()
    assert card["num_classes"] == 3 and card["discriminator"] is True
    # The card shows the figures the export measured (their truth is checked in test_export.py).
    assert card["parity"] == result.manifest["parity"]["generator"]


def test_fp16_and_int8_files_load_as_generators(exported):
    # Judged against the fp32 output's own scale (these tiny models peak near 0.4, not 1): measured
    # max errors are 0.06 % (fp16) and 5 % (int8) of it; a variant off by a constant factor fails the slope.
    _, result = exported("dcgan", False)
    fp32 = GeneratorRuntime(result.out_dir).sample(64, seed=0)
    scale = np.abs(fp32).max()
    for name, tolerance in (("fp16", 0.01), ("int8", 0.1)):
        variant = GeneratorRuntime(os.path.join(result.out_dir, f"generator.{name}.onnx")).sample(64, seed=0)
        assert np.abs(variant - fp32).max() < tolerance * scale, name
        slope = float((variant * fp32).sum() / (fp32 * fp32).sum())  # least squares through the origin
        assert slope == pytest.approx(1.0, abs=0.05), name


def _plain_onnx(path):
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    graph = onnx.helper.make_graph(
        [node], "plain", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 2])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 2])],
    )
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), path)


def test_bad_input_raises_clear_value_errors(exported, tmp_path):
    _, result = exported("dcgan", True)
    runtime = GeneratorRuntime(result.out_dir)
    cases = [
        (lambda: runtime.generate(0), "n must be a positive integer"),
        (lambda: runtime.generate(-3), "n must be a positive integer"),
        (lambda: runtime.generate(2, labels=3), r"labels must be in \[0, 2\]"),
        (lambda: runtime.generate(2, labels=[0, 1, 2]), "give one label or 2 labels"),
        (lambda: runtime.generate(2, truncation=float("nan")), "truncation must be a finite number"),
        (lambda: runtime.generate(2, truncation=0), "truncation must be a finite number"),
        (lambda: runtime.score(np.zeros((2, 4, 4, 1), np.uint8)), r"samples must have shape \[n, 8, 8, 1\]"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    _, plain = exported("dcgan", False)
    with pytest.raises(KganError, match="unconditional model"):
        GeneratorRuntime(plain.out_dir).generate(2, labels=1)
    _plain_onnx(tmp_path / "plain.onnx")
    with pytest.raises(KganError, match="without kgan metadata"):
        GeneratorRuntime(tmp_path / "plain.onnx")
    (tmp_path / "broken.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(KganError, match="is not a loadable ONNX model"):
        GeneratorRuntime(tmp_path / "broken.onnx")
    with pytest.raises(KganError, match="has no generator.onnx"):
        GeneratorRuntime(tmp_path)
    with pytest.raises(KganError, match="no such model file"):
        GeneratorRuntime(tmp_path / "missing.onnx")


def kgan_generate(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "kgan", "generate", *args], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=300, cwd=cwd)


def test_generate_command_writes_identical_bytes_for_a_seed(exported, tmp_path):
    _, result = exported("dcgan", True)
    first = kgan_generate(result.out_dir, "-n", "12", "--seed", "5", "--label", "1", "-o", str(tmp_path / "a.png"),
                          "--npy", str(tmp_path / "a.npy"), "--gif", str(tmp_path / "a.gif"), "--steps", "5")
    assert first.returncode == 0, first.stderr
    second = kgan_generate(result.out_dir, "-n", "12", "--seed", "5", "--label", "1", "-o", str(tmp_path / "b.png"),
                           "--gif", str(tmp_path / "b.gif"), "--steps", "5")
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()
    samples = np.load(tmp_path / "a.npy")
    assert samples.shape == (12, 8, 8, 1) and samples.dtype == np.float32
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 5
    with Image.open(tmp_path / "a.png") as grid:
        assert grid.size == (4 * 32 + 5, 3 * 32 + 4)  # 12 tiles of 8x8 at 4x, 4 columns, 1-pixel padding
    third = kgan_generate(result.out_dir, "-n", "12", "--seed", "6", "--label", "1", "-o", str(tmp_path / "c.png"))
    assert third.returncode == 0, third.stderr
    assert (tmp_path / "c.png").read_bytes() != (tmp_path / "a.png").read_bytes()


def test_generate_scatter_for_2d_models(exported, tmp_path):
    _, result = exported("mlp", False)
    run = kgan_generate(os.path.join(result.out_dir, "generator.onnx"), "-n", "300", "-o", str(tmp_path / "s.png"))
    assert run.returncode == 0, run.stderr
    with Image.open(tmp_path / "s.png") as plot:
        assert plot.mode == "RGB" and plot.size == (512, 512)


def test_generate_bad_input_is_one_line_and_writes_nothing(exported, tmp_path):
    _, result = exported("dcgan", False)
    (tmp_path / "corrupt.onnx").write_bytes(b"not a model")
    _plain_onnx(tmp_path / "plain.onnx")
    cases = [
        ([str(tmp_path / "corrupt.onnx")], "is not a loadable ONNX model"),
        ([str(tmp_path / "plain.onnx")], "without kgan metadata"),
        ([result.out_dir, "-o", str(tmp_path / "missing" / "x.png")], "does not exist"),
        ([result.out_dir, "--label", "2"], "unconditional model"),
        ([result.out_dir, "--truncation", "inf"], "truncation must be a finite number"),
        ([result.out_dir, "-n", "0"], "expected a positive integer"),
        ([result.out_dir, "--sampler", "best"], "unknown sampler 'best': choose one of topk"),
        ([result.out_dir, "--sampler", "topk:k=0"], "topk's k must be a positive integer"),
    ]
    before = sorted(os.listdir(tmp_path))
    for args, message in cases:
        run = kgan_generate(*args, cwd=str(tmp_path))
        assert run.returncode == 2, (args, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1 and message in run.stderr, run.stderr
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.slow
def test_edge_install_has_only_numpy_pillow_onnxruntime(exported, tmp_path):
    """`pip install --no-deps kgan` into a venv with numpy, Pillow and onnxruntime only."""
    _, result = exported("dcgan", False)
    venv = tmp_path / "edge"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "numpy", "pillow", "onnxruntime"], check=True, timeout=900)
    subprocess.run([*pip, "--no-deps", ROOT], check=True, timeout=900)
    code = (
        "import sys, json; from kgan.runtime.inference import GeneratorRuntime; "
        f"r = GeneratorRuntime({result.out_dir!r}); x = r.generate(4, seed=0); "
        "print(json.dumps({'shape': list(x.shape), 'tf': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules}))"
    )
    run = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"shape": [4, 8, 8, 1], "tf": False, "keras": False}
    cli = subprocess.run([str(venv / "bin" / "kgan"), "generate", result.out_dir, "-n", "4", "-o",
                          str(tmp_path / "edge.png")], capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    assert (tmp_path / "edge.png").exists()
