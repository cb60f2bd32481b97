import json
import os
import shutil

import numpy as np
import pytest
from scipy import stats

from conftest import tiny
from kgan.runtime.calibration import calibrated_energy, fit_calibration
from kgan.errors import KganError
from kgan.runtime.inference import GeneratorRuntime
from kgan.runtime.samplers import DRS, Langevin, MetropolisHastings, Proposals, TopK, get_sampler


def _junk_mixing_generator():
    """Proposals: half real N(0, 1), half junk N(5, 1); score: the true log density ratio
    log p(x) / q(x), which is the optimal discriminator's logit (calibrated as it is)."""

    def draw(m, seed):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(m) + 5.0 * (rng.random(m) < 0.5)
        return {"samples": x[:, None], "copy": x.copy()}

    def score(batch):
        x = batch["samples"][:, 0]
        log_p = stats.norm.logpdf(x)
        log_q = np.logaddexp(np.log(0.5) + stats.norm.logpdf(x), np.log(0.5) + stats.norm.logpdf(x, 5.0))
        return log_p - log_q

    return Proposals(draw, score)


@pytest.mark.parametrize("sampler", [DRS(q=None), DRS(q=50), MetropolisHastings(k=64)], ids=["drs-exact", "drs-q50", "mh"])
def test_drs_and_mh_recover_the_real_distribution_from_a_junk_mixing_generator(sampler):
    proposals = _junk_mixing_generator()
    real = np.random.default_rng(99).standard_normal(3000)
    plain = proposals.draw(3000, 1)["samples"][:, 0]
    assert stats.ks_2samp(plain, real).pvalue < 1e-6  # the test can tell the generator from the data
    chosen = sampler(3000, proposals, seed=1)
    assert len(chosen["samples"]) == 3000
    assert stats.ks_2samp(chosen["samples"][:, 0], real).pvalue > 0.01, sampler
    assert (chosen["samples"][:, 0] > 3.5).mean() < 0.005 < (plain > 3.5).mean()  # the junk is gone
    np.testing.assert_array_equal(chosen["copy"], chosen["samples"][:, 0])  # what goes with a sample stays with it
    assert 0.0 < chosen.report["acceptance_rate"] < 1.0 and chosen.report["proposals"] >= 3000
    again = sampler(3000, proposals, seed=1)
    np.testing.assert_array_equal(again["samples"], chosen["samples"])  # deterministic for a seed
    assert not np.array_equal(sampler(3000, proposals, seed=2)["samples"], chosen["samples"])


def test_exact_drs_keeps_half_of_an_honest_half_junk_generator():
    # With gamma = 0 and the true ratio, DRS is rejection sampling with M = max p/q = 2: it keeps
    # 1/M of the proposals.
    chosen = DRS(q=None, burn_in=5000)(4000, _junk_mixing_generator(), seed=0)
    assert chosen.report["acceptance_rate"] == pytest.approx(0.5, abs=0.03)


def test_drs_keeps_sampling_after_one_outlying_logit_raises_its_maximum():
    # About one proposal in 20,000 gets a logit 40 above the rest (a discriminator is unbounded away
    # from the data). It raises D̃_M for every later proposal; γ has to follow it, or DRS keeps
    # almost nothing after it and runs out of its budget.
    honest = _junk_mixing_generator()

    def score(batch):
        x = batch["samples"][:, 0]
        return honest.score(batch) + 40.0 * (np.abs(x - 2.5) < 1.5e-3)

    without = DRS(q=95, budget=20)(3000, honest, seed=3)
    chosen = DRS(q=95, budget=20)(3000, Proposals(honest.draw, score), seed=3)
    assert chosen.report["acceptance_rate"] > 0.5 * without.report["acceptance_rate"]
    assert (chosen["samples"][:, 0] > 3.5).mean() < 0.01  # and it still rejects the junk


def test_langevin_samples_the_latent_target_of_a_known_energy():
    # Latents are the samples (a one-dimensional "generator" x = z) and the discriminator's logit
    # is d(z) = z²/2 − (z − 2)²/2, so exp(−E) with E(z) = z²/2 − d(z) is N(2, 1): the prior
    # N(0, 1) moved by the discriminator. Langevin should sample it; the prior should not.
    def latents(m, seed):
        return {"z": np.random.default_rng(seed).standard_normal((m, 1)).astype(np.float32)}

    def energy(feeds):
        z = feeds["z"].astype(np.float64)
        return (0.5 * (z - 2.0) ** 2)[:, 0], z - 2.0

    proposals = Proposals(draw=None, score=lambda batch: batch["samples"][:, 0], latents=latents, energy=energy,
                          decode=lambda feeds: {"samples": feeds["z"]})
    chosen = Langevin(steps=400, step_size=0.05)(3000, proposals, seed=0)
    target = np.random.default_rng(1).normal(2.0, 1.0, 3000)
    assert stats.ks_2samp(latents(3000, 0)["z"][:, 0], target).pvalue < 1e-6
    assert stats.ks_2samp(chosen["samples"][:, 0], target).pvalue > 0.01
    assert chosen.report["energy_after"] < chosen.report["energy_before"]


def test_platt_scaling_recovers_known_parameters():
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 2.0, 40_000)
    real = rng.random(len(logits)) < 1.0 / (1.0 + np.exp(-(0.5 * logits - 0.75)))
    calibration = fit_calibration(logits[real], logits[~real])
    assert calibration["a"] == pytest.approx(0.5, abs=0.03) and calibration["b"] == pytest.approx(-0.75, abs=0.05)
    assert calibration["ece"] < 0.02 < calibration["ece_raw"]  # raw logits are overconfident by 2x
    assert 0.6 < calibration["accuracy"] < 0.9 and calibration["real"] + calibration["fake"] == 40_000


def test_calibrated_energy_is_the_energy_of_the_calibrated_logit():
    rng = np.random.default_rng(0)
    z, logit, grad_logit = rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=(5, 3))
    raw_energy, raw_grad = 0.5 * (z * z).sum(1) - logit, z - grad_logit
    energy, grad = calibrated_energy(z, raw_energy, raw_grad, {"a": 2.0, "b": 0.5})
    np.testing.assert_allclose(energy, 0.5 * (z * z).sum(1) - (2.0 * logit + 0.5))
    np.testing.assert_allclose(grad, z - 2.0 * grad_logit)


def test_sampler_options_and_budgets_are_checked():
    assert repr(get_sampler("drs:q=90")).startswith("drs:q=90") and get_sampler("mh:k=8").k == 8
    assert get_sampler("langevin:steps=5,step_size=0.1").step_size == 0.1
    for spec, message in [("drs:q=120", r"q must be a number in \[0, 100\]"), ("mh:k=0", "k must be a positive integer"),
                          ("langevin:step_size=-1", "step_size must be a number"), ("drs:gamma=1", "the drs sampler has no option .gamma.")]:
        with pytest.raises(KganError, match=message):
            get_sampler(spec)
    proposals = _junk_mixing_generator()
    with pytest.raises(KganError, match=r"raise its budget \(drs:budget=2\)"):
        DRS(q=99, budget=1)(500, proposals, seed=0)
    with pytest.raises(KganError, match=r"mh:budget=64"):
        MetropolisHastings(k=64, budget=10)(5, proposals, seed=0)
    with pytest.raises(KganError, match="needs the latent energy"):
        Langevin()(5, proposals, seed=0)


# -- on exported models ------------------------------------------------------------------


@pytest.fixture(scope="module")
def calibrated_export(tmp_path_factory):
    """A tiny DCGAN trained briefly on digits, calibrated on digits, exported."""
    from conftest import make_gan
    from kgan.data import real_for_calibration
    from kgan.export import export_model

    gan = make_gan("dcgan", True, steps=3)
    real, labels = real_for_calibration("digits", 900)
    gan.calibrate(real[labels < 3], labels[labels < 3])  # the tiny GAN knows 3 classes
    out = tmp_path_factory.mktemp("calibrated") / "onnx"
    return gan, export_model(gan, out_dir=str(out))


def test_the_export_carries_the_calibration_and_samples_with_every_sampler(calibrated_export):
    gan, result = calibrated_export
    runtime = GeneratorRuntime(result.out_dir)
    assert runtime.calibration == gan.calibration == result.manifest["calibration"]
    import onnx

    props = {p.key: p.value for p in onnx.load(os.path.join(result.out_dir, "discriminator.onnx")).metadata_props}
    assert json.loads(props["kgan.calibration"]) == gan.calibration
    assert runtime.describe()["calibration"]["ece"] == gan.calibration["ece"]
    for spec in ("topk", "drs:burn_in=200", "mh:k=8", "langevin:steps=5"):
        chosen = runtime.generate_with(spec, 12, seed=3, labels=2)
        assert chosen["samples"].shape == (12, 8, 8, 1) and chosen["samples"].dtype == np.uint8
        np.testing.assert_array_equal(runtime.generate_with(spec, 12, seed=3, labels=2)["samples"], chosen["samples"])
        keras_chosen = gan.generate_with(spec, 12, seed=3, labels=2)
        assert keras_chosen["samples"].shape == (12, 8, 8, 1)
    # Keras and onnxruntime draw the same proposals, and mh moves on logits that agree to 1e-4,
    # so their chains end on the same proposals.
    mh_keras = gan.generate_with("mh:k=8", 12, seed=3, labels=2).report
    mh_onnx = runtime.generate_with("mh:k=8", 12, seed=3, labels=2).report
    assert mh_keras["acceptance_rate"] == pytest.approx(mh_onnx["acceptance_rate"], abs=1 / 84)


def test_latent_energy_gradient_matches_finite_differences_and_keras(calibrated_export):
    import tensorflow as tf

    gan, result = calibrated_export
    runtime = GeneratorRuntime(result.out_dir)
    energy = runtime.model_for("latent_energy")
    rng = np.random.default_rng(0)
    z = rng.standard_normal((5, gan.latent_dim)).astype(np.float32)  # 5 rows: the fixed batch of 64 is padded
    label = np.array([0, 1, 2, 0, 1], np.int64)
    out = energy.run({"z": z, "label": label})
    keras_out = gan.latent_energy({"z": tf.constant(z), "label": tf.constant(label.astype(np.int32))})
    np.testing.assert_allclose(out["energy"], keras_out["energy"].numpy(), atol=1e-4)
    np.testing.assert_allclose(out["grad_z"], keras_out["grad_z"].numpy(), atol=1e-4)
    direction = rng.standard_normal(z.shape).astype(np.float32)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    h = 1e-2
    up = energy.run({"z": z + h * direction, "label": label})["energy"].astype(np.float64)
    down = energy.run({"z": z - h * direction, "label": label})["energy"].astype(np.float64)
    numeric = (up - down) / (2 * h)
    analytic = (out["grad_z"] * direction).sum(1)
    np.testing.assert_allclose(analytic, numeric, rtol=2e-2, atol=2e-3)
    assert np.abs(analytic).min() > 1e-3  # a gradient that is not zero, so the check means something


def test_uncalibrated_exports_refuse_calibrated_samplers_but_keep_topk(exported):
    gan, result = exported("mlp", False)
    runtime = GeneratorRuntime(result.out_dir)
    assert runtime.calibration is None and len(runtime.generate(5, seed=0, sampler="topk")) == 5
    for spec in ("drs", "mh", "langevin"):
        with pytest.raises(KganError, match="needs a calibrated discriminator.*kgan calibrate"):
            runtime.generate(5, seed=0, sampler=spec)
    with pytest.raises(KganError, match=r"gan.calibrate\(real_samples\)"):
        gan.generate(5, seed=0, sampler="drs")


def test_export_calibrates_on_the_run_data_and_the_cli_samples_and_recalibrates(tmp_path, capsys):
    import kgan
    from kgan.cli import main

    run, out = tmp_path / "run", tmp_path / "onnx"
    kgan.train(tiny("ring8", epochs=1, steps_per_epoch=20, out=str(run), export=False), verbose=0,
               log=lambda *_: None)
    assert main(["export", str(run), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "calibrated the discriminator on 2000 real samples of ring8" in said
    # By default a mixture's export refits the discriminator twice the generator's 20 steps.
    assert "refit the discriminator for 40 steps" in said
    manifest = json.loads((out / "manifest.json").read_text())
    first = manifest["calibration"]
    assert first["real"] == first["fake"] == 2000 and first["accuracy"] > 0.5 and first["refit_steps"] == 40
    for spec in ("drs", "mh:k=8", "langevin:steps=10"):
        assert main(["generate", str(out), "-n", "30", "--sampler", spec, "--npy", str(tmp_path / "s.npy")]) == 0
        said = capsys.readouterr().out
        assert f"chosen by {spec.split(':')[0]}" in said and "acceptance" in said
        np.testing.assert_array_equal(np.load(tmp_path / "s.npy"),
                                      GeneratorRuntime(str(out)).generate(30, seed=0, sampler=spec))
    assert main(["calibrate", str(run), "--export", str(out), "--data", "ring8"]) == 0
    assert "held-out accuracy" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    from kgan.export import _sha256

    assert manifest["files"]["discriminator.onnx"] == _sha256(out / "discriminator.onnx")  # the manifest still vouches
    # Another run's export, by its model.keras digest, or (an export from before digests) by its run name.
    other = tmp_path / "other"
    kgan.train(tiny("ring8", epochs=1, steps_per_epoch=2, seed=1, out=str(other), export=False),
               verbose=0, log=lambda *_: None)
    legacy = tmp_path / "legacy"
    shutil.copytree(out, legacy)
    old = json.loads((legacy / "manifest.json").read_text())
    del old["model_sha256"]
    (legacy / "manifest.json").write_text(json.dumps(old))
    before = {p.name: p.read_bytes() for p in legacy.iterdir()}
    for argv, message in (
        (["calibrate", str(other), "--export", str(out)], f"{out} was not exported from {other}'s model.keras"),
        (["calibrate", str(other), "--export", str(legacy)], f"{legacy} was not exported from {other}'s model.keras"),
        (["calibrate", str(run), "--export", str(out), "--data", "digits"], "holds samples of shape [8, 8, 1]"),
        (["calibrate", str(run), "--export", str(tmp_path / "none")], "holds no export"),
        (["generate", str(out), "-n", "30", "--sampler", "drs:q=99.9,budget=1", "-o", str(tmp_path / "x.png")],
         "raise its budget (drs:budget=2)"),
        (["evaluate", str(out), "--sampler", "mh:k=0"], "k must be a positive integer"),
    ):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.startswith("kgan: error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "x.png").exists()
    assert json.loads((out / "manifest.json").read_text()) == manifest  # a refused calibration changed nothing
    assert {p.name: p.read_bytes() for p in legacy.iterdir()} == before
    assert main(["calibrate", str(run), "--export", str(legacy)]) == 0  # its own run's older export: calibrated


def test_the_default_refit_is_twice_the_training_steps_on_fresh_draws_and_none_on_rows():
    from conftest import make_gan
    from kgan.export.calibrate import REFIT_CAP, auto_refit_steps

    gan = make_gan("mlp", False, steps=2)
    assert int(gan.g_optimizer.iterations) == 2
    assert auto_refit_steps(gan, "ring8") == auto_refit_steps(gan, "grid25") == 4
    assert auto_refit_steps(gan, "digits") == 0  # rows the refit would see again at every step
    gan.g_optimizer.iterations.assign(4000)
    assert auto_refit_steps(gan, "grid25") == REFIT_CAP == 5000


@pytest.mark.slow
def test_refit_moves_the_exported_discriminator_toward_the_density_ratio(tmp_path, capsys):
    # A discriminator trained 20 steps is far from log p_data / p_G; 400 more against the fixed
    # generator tell held-out real ring8 draws (the refit trains on others) from generated ones
    # much better. The run's model.keras keeps its own discriminator, and `kgan calibrate` keeps
    # an export's refit.
    import kgan
    from kgan.cli import main
    from kgan.export import _sha256

    run = tmp_path / "run"
    kgan.train(kgan.get_preset("ring8").replace(epochs=1, steps_per_epoch=20, out=str(run), export=False), verbose=0,
               log=lambda *_: None)
    model = _sha256(run / "model.keras")
    assert main(["export", str(run), "--out", str(tmp_path / "as_trained"), "--refit-steps", "0"]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "refit"), "--refit-steps", "400"]) == 0
    assert "refit the discriminator for 400 steps" in capsys.readouterr().out
    before, after = (json.loads((tmp_path / name / "manifest.json").read_text())["calibration"]
                     for name in ("as_trained", "refit"))
    assert after["refit_steps"] == 400 and "refit_steps" not in before
    assert before["accuracy"] < 0.7 and after["accuracy"] > 0.9, (before, after)  # measured 0.543 and 0.994
    assert _sha256(run / "model.keras") == model
    runtime = GeneratorRuntime(str(tmp_path / "refit"))
    samples = kgan.load_model(str(run / "model.keras")).generate(50, seed=3)
    assert not np.allclose(runtime.score(samples), GeneratorRuntime(str(tmp_path / "as_trained")).score(samples))
    assert main(["calibrate", str(run), "--export", str(tmp_path / "refit")]) == 0
    again = json.loads((tmp_path / "refit" / "manifest.json").read_text())
    assert again["calibration"]["refit_steps"] == 400
    assert again["files"]["discriminator.onnx"] == _sha256(tmp_path / "refit" / "discriminator.onnx")
    # Calibrated with no refit, the export gets the run's own discriminator back, not the refit one recalibrated.
    assert main(["calibrate", str(run), "--export", str(tmp_path / "refit"), "--refit-steps", "0"]) == 0
    assert "refit_steps" not in json.loads((tmp_path / "refit" / "manifest.json").read_text())["calibration"]
    np.testing.assert_allclose(GeneratorRuntime(str(tmp_path / "refit")).score(samples),
                               GeneratorRuntime(str(tmp_path / "as_trained")).score(samples), rtol=1e-5, atol=1e-5)
    # `auto` is the default export's refit: twice the generator's 20 steps on ring8.
    assert main(["calibrate", str(run), "--export", str(tmp_path / "refit"), "--refit-steps", "auto"]) == 0
    assert json.loads((tmp_path / "refit" / "manifest.json").read_text())["calibration"]["refit_steps"] == 40
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(run), "--out", str(tmp_path / "x"), "--refit-steps", "-3"])
    assert exit_.value.code == 2
    assert "non-negative integer" in capsys.readouterr().err and not (tmp_path / "x").exists()


@pytest.mark.slow(minutes=2)
def test_the_calibrated_samplers_bring_back_modes_of_a_trained_grid25_gan(grid25_plain):
    # grid25's networks without R1 or EMA, batch 256, 30 x 200 steps, seed 0, exported with its
    # discriminator as trained (calibrated on fresh grid25 draws) and sampled through onnxruntime. A sampler that ignored
    # the discriminator would give plain sampling's figures and fail every assertion.
    from kgan.evaluate import evaluate

    scores = {name: evaluate(grid25_plain["export"], sampler=spec)
              for name, spec in (("plain", None), ("drs", "drs"), ("mh", "mh:k=32"))}
    print("grid25 samplers", {n: {k: s[k] for k in ("modes", "high_quality", "reverse_kl")} for n, s in scores.items()})
    # The trained GAN depends on the CPU's floating point. Measured on an AVX-512 EPYC: plain 16 modes /
    # 78.8 % / 0.926; drs 18 / 82.6 % / 0.729; mh:k=32 18 / 79.0 % / 0.433. On an AVX2-only EPYC the plain
    # GAN drops fewer modes: plain 21 / 76.5 % / 0.301; drs 22 / 87.9 % / 0.257; mh 22 / 86.8 % / 0.165.
    # Either way the samplers bring back under-drawn modes and the high-quality share does not fall.
    plain = scores["plain"]
    for name in ("drs", "mh"):
        assert scores[name]["modes"] >= plain["modes"] + 1, (name, scores)
        assert scores[name]["reverse_kl"] < 0.9 * plain["reverse_kl"], (name, scores)
        assert scores[name]["high_quality"] >= plain["high_quality"] - 0.01, (name, scores)  # no worse


@pytest.mark.slow(minutes=3)
def test_the_default_refit_lifts_drs_and_mh_on_an_undertrained_grid25_export(tmp_path):
    # The grid25 preset cut to 10 of its 60 epochs (2,000 steps, seed 0): about 21 % of its samples
    # are high quality. As trained, its discriminator lifts DRS and MH to a third or so; the default
    # export refits it 4,000 steps first (twice the generator's), and both pass 60 % with every mode.
    # Here: as trained 41.1 % / 44.8 %, refit 78.3 % / 85.6 %. On five seeds with one TensorFlow
    # thread (benchmarks/sampling.py --variants weak): as trained 31.3 % / 36.3 %, refit 72.3 % /
    # 79.4 %, least seed 68.7 % / 77.2 %.
    import kgan
    from kgan.evaluate import evaluate
    from kgan.export import export_model

    run = str(tmp_path / "run")
    kgan.train(kgan.get_preset("grid25").replace(epochs=10, seed=0, out=run, export=False), verbose=0,
               log=lambda *_: None)
    exports = {"as trained": export_model(run, out_dir=str(tmp_path / "as_trained"), refit_steps=0),
               "default": export_model(run, out_dir=str(tmp_path / "default"))}
    assert exports["default"].manifest["calibration"]["refit_steps"] == 4000
    assert "refit_steps" not in exports["as trained"].manifest["calibration"]
    scores = {(name, sampler): evaluate(result.out_dir, sampler=sampler)
              for name, result in exports.items() for sampler in ("drs", "mh")}
    print("weak grid25", {key: {k: s[k] for k in ("modes", "high_quality", "reverse_kl")} for key, s in scores.items()})
    for sampler in ("drs", "mh"):
        before, after = scores["as trained", sampler], scores["default", sampler]
        assert after["high_quality"] >= max(0.6, before["high_quality"] + 0.2), (sampler, before, after)
        assert after["modes"] == 25, (sampler, after)
