import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest

from conftest import FAMILIES, make_gan
from harness import assert_export_matches_keras
from kgan import export as export_lib
from kgan.errors import KganError
from kgan.export import export_model, load_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDS = [f"{f}-{'conditional' if c else 'plain'}" for f, c in FAMILIES]


@pytest.mark.parametrize("family, conditional", FAMILIES, ids=IDS)
def test_export_parity_names_and_metadata(exported, family, conditional):
    gan, result = exported(family, conditional)
    assert_export_matches_keras(gan, result.out_dir)  # measured here, not read from the manifest
    manifest = result.manifest
    for role in ("generator", "discriminator"):
        figures = manifest["parity"][role]
        assert figures["batches"] == [1, 37]
        for key in ("keras_vs_saved_model", "keras_vs_onnxruntime", "keras_vs_onnx_reference"):
            assert 0.0 <= figures[key] <= 1e-4, (role, key, figures[key])
        model = onnx.load(os.path.join(result.out_dir, f"{role}.onnx"))
        onnx.checker.check_model(model, full_check=True)
        props = {p.key: p.value for p in model.metadata_props}
        assert props["kgan.role"] == role and props["kgan.latent_dim"] == str(gan.latent_dim)
        assert json.loads(props["kgan.parity"]) == figures
        inputs = [i.name for i in model.graph.input]
        # The batch axis is symbolic: any batch size runs.
        assert all(i.type.tensor_type.shape.dim[0].dim_param for i in model.graph.input)
        sample = "image" if family == "dcgan" else "sample"
        if role == "generator":
            assert inputs == (["z", "label"] if conditional else ["z"])
            assert [o.name for o in model.graph.output] == [sample]
        else:
            assert inputs == ([sample, "label"] if conditional else [sample])
            assert [o.name for o in model.graph.output] == ["logit"]
        if conditional:
            label = next(i for i in model.graph.input if i.name == "label")
            assert label.type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert manifest["latent_dim"] == gan.latent_dim and manifest["num_classes"] == (3 if conditional else None)
    assert manifest["output_shape"] == list(gan.sample_shape) and manifest["opset"] == 17
    for name, digest in manifest["files"].items():
        with open(os.path.join(result.out_dir, name), "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == digest


@pytest.mark.parametrize("family, conditional", FAMILIES, ids=IDS)
def test_saved_model_serving_signature(exported, family, conditional):
    import tensorflow as tf

    gan, result = exported(family, conditional)
    loaded = tf.saved_model.load(result.saved_model_dir)
    serving = loaded.signatures["serving_default"]
    specs = serving.structured_input_signature[1]
    assert specs["z"].dtype == tf.float32 and specs["z"].shape.as_list() == [None, gan.latent_dim]
    feeds = {"z": tf.constant(gan.latents(5, seed=1))}
    if conditional:
        assert specs["label"].dtype == tf.int64
        feeds["label"] = tf.constant([0, 1, 2, 0, 1], tf.int64)
    out = serving(**feeds)
    name = "image" if family == "dcgan" else "sample"
    expected = gan.generate(5, seed=1, labels=[0, 1, 2, 0, 1] if conditional else None)
    np.testing.assert_allclose(out[name].numpy(), expected, atol=1e-5)


def test_fp16_and_int8_variants(exported):
    import onnxruntime as ort

    gan, result = exported("dcgan", False)
    variants = result.manifest["variants"]
    assert 0 < variants["fp16"]["max_abs_error_vs_fp32"] < 0.01
    scale = float(np.abs(gan.generate(64, seed=1)).max())
    assert 0 < variants["int8"]["max_abs_error_vs_fp32"] < 0.1 * scale  # outputs of this tiny model peak near 0.4
    for name in ("fp16", "int8"):
        assert variants[name]["latency_ms_batch1"] > 0
        path = os.path.join(result.out_dir, f"generator.{name}.onnx")
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        assert session.get_inputs()[0].type == "tensor(float)"  # float32 I/O kept
    int8 = onnx.load(os.path.join(result.out_dir, "generator.int8.onnx"))
    producers = {o: n.op_type for n in int8.graph.node for o in n.output}
    transposed = [n for n in int8.graph.node if n.op_type == "ConvTranspose"]
    # Static QDQ quantizes the transposed convolution too: its data and weights are dequantized int8.
    assert transposed and all(producers.get(n.input[0]) == "DequantizeLinear" for n in transposed)
    assert all(producers.get(n.input[1]) == "DequantizeLinear" for n in transposed)


def test_failed_parity_writes_nothing(tmp_path, monkeypatch):
    gan = make_gan("mlp")
    monkeypatch.setattr(export_lib.specs, "PARITY_TOLERANCE", -1.0)  # what each Output's limit reads
    with pytest.raises(KganError, match="generator export failed its parity check"):
        export_model(gan, out_dir=str(tmp_path / "onnx"))
    assert os.listdir(tmp_path) == []


def test_a_gradient_row_on_a_relus_kink_is_compared_one_sided_and_a_wrong_row_still_fails():
    import tensorflow as tf

    from kgan.export.parity import _worst, one_sided
    from kgan.export.specs import ExportSpec, Output

    w = np.array([1.0, -2.0, 0.5], np.float32)

    def call(feeds):  # E(z) = relu(z . w): grad_z is w on one side of z . w = 0 and 0 on the other
        z = tf.convert_to_tensor(feeds["z"])
        with tf.GradientTape() as tape:
            tape.watch(z)
            energy = tf.nn.relu(tf.linalg.matvec(z, w))
        return {"energy": energy, "grad_z": tape.gradient(energy, z)}

    spec = ExportSpec("latent_energy", call, {"z": ([None, 3], "float32")},
                      {"energy": Output(["batch"], relative=True), "grad_z": Output(["batch", 3], relative=True, kinks="z")},
                      None, "latent_energy", [])
    z = np.array([[2.0, 1.0, 0.0]] + [[1.0, 0.0, 1.0]] * 39, np.float32)  # row 0 on the kink: z . w = 0
    feeds = {"z": z}
    expected = spec.keras_outputs(feeds)
    assert not expected["grad_z"][0].any() and np.allclose(expected["grad_z"][1:], w)
    other_side = {k: v.copy() for k, v in expected.items()}
    other_side["grad_z"][0] = w  # what another runtime's rounding can give there
    settled, rows = one_sided(spec, other_side, expected, feeds, np.random.default_rng(0))
    assert rows == 1 and np.array_equal(settled["grad_z"][0], w) and np.array_equal(settled["energy"], expected["energy"])
    wrong = {k: v.copy() for k, v in other_side.items()}
    wrong["grad_z"][5] = 2 * w  # off any kink: a wrong conversion
    settled, rows = one_sided(spec, wrong, expected, feeds, np.random.default_rng(0))
    assert rows == 1 and np.array_equal(settled["grad_z"][5], expected["grad_z"][5])
    assert _worst(spec, wrong, settled)[1] == ["grad_z"] and _worst(spec, other_side, one_sided(
        spec, other_side, expected, feeds, np.random.default_rng(0))[0])[1] == []
    many = {"z": np.concatenate([z[:1]] * 3 + [z[3:]])}  # 3 rows of 40 on the kink: beyond 5 %, a wrong conversion
    flipped = {k: v.copy() for k, v in spec.keras_outputs(many).items()}
    flipped["grad_z"][:3] = w
    assert one_sided(spec, flipped, spec.keras_outputs(many), many, np.random.default_rng(0))[1] == 0
    spec.outputs["grad_z"].kinks = None  # a continuous output is compared as it is
    assert one_sided(spec, other_side, expected, feeds, np.random.default_rng(0))[1] == 0


def test_export_replaces_an_earlier_export_whole_and_clears_what_killed_ones_left(tmp_path):
    gan = make_gan("mlp")
    out = tmp_path / "onnx"
    out.mkdir()
    (out / "stale.onnx").write_text("old")
    # An export killed while writing (SIGKILL: no clean-up ran) left its staging folders.
    killed = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for name in (f".onnx.partial-{killed.stdout.strip()}-a1b2c3d4", f".sm.partial-{killed.stdout.strip()}-e5f6g7h8",
                 ".sm.partial-x1y2z3w4"):  # the last as kgan 0.1.0 named them, without a process id
        (tmp_path / name).mkdir()
        (tmp_path / name / "saved_model.pb").write_bytes(b"half")
    export_model(gan, out_dir=str(out), saved_model_dir=str(tmp_path / "sm"))
    assert sorted(os.listdir(out)) == ["discriminator.onnx", "generator.onnx", "latent_energy.onnx", "manifest.json"]
    assert sorted(os.listdir(tmp_path)) == ["onnx", "sm"]


def test_load_run_errors(tmp_path):
    with pytest.raises(KganError, match="no such run directory"):
        load_run(str(tmp_path / "missing"))
    with pytest.raises(KganError, match="has no model.keras"):
        load_run(str(tmp_path))
    (tmp_path / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(KganError, match="cannot load .*model.keras"):
        load_run(str(tmp_path))


def run_kgan(capsys, *args):
    """`kgan ARGS` in this process: (exit status, stdout, stderr)."""
    from kgan.cli import main

    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit_info:  # argparse's own errors
        code = exit_info.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow(minutes=0.14)  # several seconds: CI runs it
def test_train_exports_by_default_and_export_command(tmp_path, capsys):
    run = tmp_path / "runs" / "ring"
    onnx_dir = tmp_path / "onnx"
    code, out, err = run_kgan(capsys, "train", "--preset", "ring8", "--epochs", "1", "--steps-per-epoch", "3",
                              "--batch-size", "64", "--out", run, "--export-dir", onnx_dir, "--quiet")
    assert code == 0, err[-2000:]
    assert sorted(os.listdir(onnx_dir)) == ["discriminator.onnx", "generator.onnx", "latent_energy.onnx", "manifest.json"]
    assert os.path.isfile(run / "saved_model" / "saved_model.pb")
    assert f"kgan generate {onnx_dir}" in out
    manifest = json.loads((onnx_dir / "manifest.json").read_text())
    assert manifest["preset"] == "ring8" and manifest["kind"] == "vector"

    again, site = tmp_path / "again", tmp_path / "site"
    code, out, err = run_kgan(capsys, "export", run, "--out", again, "--opset", "18", "--fp16", "--web", site)
    assert code == 0, err[-2000:]
    assert "parity: max |diff|" in out and f"wrote the web site to {site}" in out
    assert json.loads((again / "manifest.json").read_text())["opset"] == 18
    assert (again / "generator.fp16.onnx").exists()
    web = json.loads((site / "manifest.json").read_text())
    assert web["opset"] == 18 and web["web"]["sample_spec"]["kind"] == "vector" and (site / "kgan.js").exists()
    # A site folder that cannot be written is refused before the export starts.
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    code, out, err = run_kgan(capsys, "export", run, "--out", tmp_path / "third", "--web", tmp_path / "taken")
    assert code == 2 and "holds other files" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "third").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "/nonexistent/run"], "no such run directory"),
        (["export", "{tmp}"], "has no model.keras"),
        (["export", "{tmp}", "--opset", "21"], "opset must be between 13 and 18"),
    ],
)
def test_export_bad_input_is_one_line(args, message, tmp_path, capsys):
    code, _, err = run_kgan(capsys, *[a.format(tmp=tmp_path) for a in args])
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("kgan: error: ") and message in err
    assert os.listdir(tmp_path) == []


def test_the_float32_copy_of_a_mixed_precision_gan_holds_every_weight():
    # Generator, discriminator, EMA generator and a model only a subclass holds: all copied.
    import keras

    from kgan.gan import GAN
    from kgan.models import MLPDiscriminator, MLPGenerator

    class WithCritic(GAN):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        gan = WithCritic(MLPGenerator(2, 3, hidden_units=(8,)), MLPDiscriminator(2, hidden_units=(8,)), ema=0.5)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    rng = np.random.default_rng(0)
    for variable in gan.weights:
        variable.assign(rng.normal(size=variable.shape).astype(variable.dtype))
    copy = export_lib._as_float32(gan)
    assert copy is not gan and type(copy) is WithCritic
    assert all(layer.dtype_policy.name == "float32" for layer in copy._flatten_layers(include_self=False))
    assert len(copy.weights) == len(gan.weights) > 0
    for ours, theirs in zip(copy.weights, gan.weights):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    np.testing.assert_array_equal(copy.critic.get_weights()[0], gan.critic.get_weights()[0])
    np.testing.assert_array_equal(copy.ema_generator.get_weights()[0], gan.ema_generator.get_weights()[0])
