"""Text through the CLI: a text file trains, exports and generates; bad text input is one line."""

import json
import os

import numpy as np
import pytest

from kgan.cli import main
from kgan.errors import KganError

WORDS = ["the cat sat", "a dog ran far", "the dog sat", "a cat ran", "the bird sang far away"] * 30


def run(args):
    try:  # argparse's type errors exit from inside main(); the others return the code
        return main(args)
    except SystemExit as exit_info:
        return exit_info.code


@pytest.fixture(scope="module")
def words_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("words")
    path = folder / "lines.txt"
    path.write_text("\n".join(WORDS) + "\n")
    out, export = folder / "run", folder / "export"
    code = main(["train", "--preset", "names", "--dataset", str(path), "--tokens", "words", "--pretrain", "2",
                 "--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "16", "--out", str(out),
                 "--export-dir", str(export), "--quiet"])
    assert code == 0
    return path, out, export


@pytest.mark.slow(minutes=0.4)  # a trained and exported run: CI runs it
def test_a_word_file_trains_exports_and_generates_text(words_run, capsys, tmp_path):
    path, out, export = words_run
    spec = json.loads((out / "config.json").read_text())["sample_spec"]
    vocabulary = sorted({w for line in WORDS for w in line.split()})
    assert spec["vocabulary"] == ["", *vocabulary] and spec["separator"] == " " and spec["shape"] == [6]
    capsys.readouterr()
    assert main(["generate", str(export), "-n", "7", "--seed", "4"]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert len(lines) == 7 and all(w in vocabulary for line in lines for w in line.split())
    assert "7 samples" in printed.err  # the report goes to stderr, so the texts can be piped
    assert main(["generate", str(export), "-n", "7", "--seed", "4", "-o", str(tmp_path / "t.txt")]) == 0
    assert (tmp_path / "t.txt").read_text().splitlines() == lines  # same seed, same texts
    assert main(["generate", str(export), "-n", "7", "--seed", "4", "-o", str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "t.png").stat().st_size > 0
    capsys.readouterr()
    assert main(["evaluate", str(export), "--samples", "20"]) == 0
    report = capsys.readouterr().out
    assert "bleu_2" in report and "self_bleu_2" in report and "novelty" in report


@pytest.mark.slow(minutes=0.3)  # a trained run: CI runs it
def test_evaluate_draws_a_text_runs_curves_beside_its_maximum_likelihood_start(words_run, capsys, tmp_path):
    from PIL import Image

    _, out, export = words_run
    assert (out / "mle.keras").is_file()  # kept by the pretraining
    picture, saved = tmp_path / "curves.png", tmp_path / "report.json"
    assert main(["evaluate", str(out), "--picture", str(picture), "--json", str(saved)]) == 0
    printed = capsys.readouterr().out
    assert "curve_gap" in printed and "mle at temperature" in printed
    curves = json.loads(saved.read_text())["curves"]
    assert curves["quality"] == "bleu_4" and curves["gap_unit"] == "BLEU-4"
    for model in ("gan", "mle"):
        points = curves[model]
        assert [p["temperature"] for p in points] == [0.7, 0.8, 0.9, 1.0, 1.1, 1.2]
        assert all(0 <= p["bleu_4"] <= 1 and 0 <= p["uniqueness"] <= 1 and p["nll_test"] > 0 for p in points)
        # scored in words against word references (measured: 0.12 to 0.13; in characters, near 0)
        assert all(p["bleu_4"] > 0.06 for p in points), points
    # the run's own report at temperature 1 is the curve's point there
    report = json.loads(saved.read_text())
    assert curves["gan"][3]["nll_test"] == pytest.approx(report["nll_test"], rel=1e-5)
    assert curves["gan"][3]["nll_test"] != pytest.approx(curves["mle"][3]["nll_test"], rel=1e-4)  # two models
    assert Image.open(picture).size[0] > 300
    capsys.readouterr()
    assert run(["evaluate", str(export), "--picture", str(tmp_path / "no.png")]) == 2  # an export keeps no MLE start
    err = capsys.readouterr().err
    assert "a text run's curves beside its maximum-likelihood start" in err and err.count("\n") == 1
    assert not (tmp_path / "no.png").exists()


@pytest.mark.slow(minutes=0.05)  # a trained and exported run: CI runs it
def test_scoring_a_token_outside_the_vocabulary_is_one_line(words_run):
    from kgan.runtime.inference import GeneratorRuntime

    runtime = GeneratorRuntime(str(words_run[2]))
    assert runtime.score(["the cat sat"]).shape == (1,)
    with pytest.raises(KganError, match="'horse' is not in the model's vocabulary of 11 tokens"):
        runtime.score(["the horse sat"])


@pytest.mark.parametrize("content, args, message", [
    ("\n\n", [], "has no text: give one sequence a line"),
    ("anna\nbob\n" * 40, ["--length", "0"], "length must be a positive number of tokens, got 0"),
    ("anna\nbob\n" * 40, ["--preset", "digits"], "holds tokens, not images"),
    ("anna\nbob\n" * 40, ["--tokens", "letters"], "--tokens: invalid choice: 'letters'"),
], ids=["empty file", "length 0", "image preset", "tokenizer"])
def test_bad_text_input_is_one_line_and_exit_2(tmp_path, capsys, content, args, message):
    path = tmp_path / "lines.txt"
    path.write_text(content)
    out = tmp_path / "run"
    args = ["--preset", "names", *args] if "--preset" not in args else args
    assert run(["train", *args, "--dataset", str(path), "--out", str(out), "--no-export", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("kgan: error: ") and err.count("\n") == 1, err
    assert not out.exists()


def test_pretraining_an_image_model_is_refused(tmp_path, capsys):
    assert run(["train", "--pretrain", "2", "--out", str(tmp_path / "run"), "--no-export", "--quiet"]) == 2
    assert "pretraining (--pretrain) trains sequence models" in capsys.readouterr().err


@pytest.mark.slow(minutes=0.05)  # a trained and exported run: CI runs it
def test_the_demo_shows_a_text_models_samples_as_text(words_run):
    from kgan.demo import DemoApp
    from kgan.runtime.inference import GeneratorRuntime

    model = str(words_run[2] / "generator.onnx")
    app = DemoApp([model])
    gallery = app.generate(3, 5, oversample=2)
    shown = app.texts(3, 5, oversample=2)
    lines = shown["value"].splitlines()
    assert shown["visible"] and len(lines) == 5 and len(gallery) == 1  # one picture of the five lines
    # each line: the discriminator's score, then a text the runtime also scores so
    runtime = GeneratorRuntime(model)
    scores = [float(line.split()[1]) for line in lines]
    texts = [line.split("  ", 1)[1] if "  " in line else "" for line in lines]
    np.testing.assert_allclose(runtime.score(texts), scores, atol=0.006)
    assert "| latent size | none |" in app.card()


@pytest.mark.slow(minutes=0.05)  # a trained and exported run: CI runs it
def test_what_does_not_fit_text_is_said_in_its_words(words_run, capsys):
    # langevin moves latents along a gradient through the samples, which tokens do not pass;
    # messages call text samples texts.
    _, out, export = words_run
    for argv, line in (
        (["generate", str(export), "--sampler", "langevin"],
         "the langevin sampler follows the discriminator's gradient through the samples, which needs continuous "
         "samples, not texts: use topk, drs, mh"),
        (["evaluate", str(out), "--dataset", "digits"],
         "digits holds images but the model generates texts: pass the right --dataset"),
    ):
        capsys.readouterr()
        assert run(argv) == 2
        assert capsys.readouterr().err == f"kgan: error: {line}\n"
