"""Generators that take an image: tasks, the pix2pix family, PairedGAN, export, runtime, CLI, metrics."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from kgan.errors import KganError
from kgan.runtime.restore import Task, psnr, read_image, resize_bicubic, restore

pytest.importorskip("skimage")


# -- tasks and degradations (numpy) -------------------------------------------------------------

@pytest.mark.parametrize("text", ["superres:2", "superres:4", "denoise:0.1", "denoise:sp0.05", "inpaint:lower",
                                  "inpaint:boxes", "paired"])
def test_tasks_read_back_from_their_text(text):
    assert str(Task.parse(text)) == text
    assert Task.parse(Task.parse(text).to_dict()) == Task.parse(text)


@pytest.mark.parametrize("text", ["superres:3", "denoise:0", "denoise:x", "inpaint:left", "blur:2", "paired:1"])
def test_unknown_tasks_are_one_line_errors(text):
    with pytest.raises(KganError, match="unknown task .* a task is superres:2"):
        Task.parse(text)


def test_superres_inputs_are_pillows_bicubic_downscale():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (2, 32, 24, 3)).astype(np.float32)
    small = Task.parse("superres:4").degrade(images, rng)["image"]
    assert small.shape == (2, 8, 6, 3)
    expected = np.asarray(Image.fromarray(images[1, :, :, 2], mode="F").resize((6, 8), Image.BICUBIC))
    np.testing.assert_allclose(small[1, :, :, 2], np.clip(expected, -1, 1), atol=1e-6)
    # the bicubic baseline brings a smooth image back close to itself
    smooth = np.broadcast_to(np.linspace(-0.5, 0.5, 32, dtype=np.float32)[None, :, None, None], (1, 32, 32, 1))
    back = Task.parse("superres:4").baseline({"image": resize_bicubic(smooth, 8, 8)}, 32, 32)
    assert np.abs(back - smooth)[:, 4:-4, 4:-4].max() < 0.02


def test_denoise_adds_noise_of_sigma_on_unit_images():
    rng = np.random.default_rng(0)
    grey = np.zeros((4, 64, 64, 3), np.float32)  # 0.5 on [0, 1]: the noise is rarely clipped
    noisy = Task.parse("denoise:0.1").degrade(grey, rng)["image"]
    assert abs(np.std((noisy + 1) / 2) - 0.1) < 0.003
    assert psnr(noisy, grey) == pytest.approx(20.0, abs=0.3)  # 10 log10(1 / 0.1^2)
    spotted = Task.parse("denoise:sp0.05").degrade(grey, rng)["image"]
    assert abs(np.mean(spotted[..., 0] != 0) - 0.05) < 0.005 and set(np.unique(spotted)) == {-1.0, 0.0, 1.0}


def test_inpainting_masks_the_region_and_passes_the_mask():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (3, 8, 8, 1)).astype(np.float32)
    feeds = Task.parse("inpaint:lower").degrade(images, rng)
    assert np.all(feeds["mask"][:, 4:] == 1) and np.all(feeds["mask"][:, :4] == 0)
    assert np.all(feeds["image"][:, 4:] == 0) and np.array_equal(feeds["image"][:, :4], images[:, :4])
    boxes = Task.parse("inpaint:boxes").mask(200, 32, 32, rng)
    covered = boxes.mean(axis=(1, 2, 3))
    assert covered.min() > 0 and covered.max() < 0.8 and len(np.unique(covered)) > 50


def test_restore_in_tiles_equals_restoring_whole():
    """A local operation (a 3x3 mean, then x2 upsampling) gives the same output in tiles as whole,
    and images padded to the multiple come back at their size."""
    from scipy.ndimage import uniform_filter

    calls = []

    def run(feeds):
        x = feeds["image"]
        calls.append(x.shape)
        assert x.shape[1] % 8 == 0 and x.shape[2] % 8 == 0
        smoothed = uniform_filter(x, size=(1, 3, 3, 1), mode="reflect")
        return np.repeat(np.repeat(smoothed, 2, 1), 2, 2)

    image = np.random.default_rng(0).uniform(-1, 1, (2, 45, 70, 3)).astype(np.float32)
    task = Task.parse("superres:2")
    whole = restore(run, task, image, multiple=8, tile=512)
    tiled = restore(run, task, image, multiple=8, tile=24, overlap=4)
    assert whole.shape == tiled.shape == (2, 90, 140, 3)
    assert len(calls) > 4
    inner = (slice(None), slice(2, -2), slice(2, -2))  # the reflected border differs at the image's edge only
    np.testing.assert_allclose(tiled[inner], whole[inner], atol=1e-6)


def test_bad_images_are_one_line_errors(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(KganError, match="is not an image"):
        read_image(str(tmp_path / "notes.png"), 3)
    Image.new("L", (16, 16)).save(tmp_path / "grey.png")
    with pytest.raises(KganError, match="has 1 channel.* takes 3"):
        read_image(str(tmp_path / "grey.png"), 3)
    with pytest.raises(KganError, match="no such image"):
        read_image(str(tmp_path / "missing.png"), 3)
    Image.new("RGBA", (16, 16), (1, 2, 3, 255)).save(tmp_path / "opaque.png")
    assert read_image(str(tmp_path / "opaque.png"), 3).shape == (16, 16, 3)


# -- the family and the GAN ------------------------------------------------------------------

def test_the_unet_starts_as_the_baseline_and_keeps_known_pixels():
    from kgan.models.unet import UNetGenerator

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 16, 24, 3)).astype(np.float32)
    denoise = UNetGenerator((16, 16, 3), task="denoise:0.1", filters=4, depth=2)
    np.testing.assert_allclose(np.asarray(denoise(x)), x, atol=1e-6)  # a zero residual: the input itself
    superres = UNetGenerator((16, 16, 3), task="superres:2", filters=4, depth=2)
    up = np.asarray(superres(x))
    assert up.shape == (2, 32, 48, 3)
    bicubic = resize_bicubic(x, 32, 48)  # TensorFlow's bicubic, as Pillow's, away from the edges
    assert np.abs(up - bicubic)[:, 4:-4, 4:-4].max() < 0.05
    inpaint = UNetGenerator((8, 8, 1), task="inpaint:lower", filters=4, depth=2)
    residual = inpaint.get_layer("residual")
    residual.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in residual.get_weights()])
    feeds = Task.parse("inpaint:lower").degrade(rng.uniform(-1, 1, (2, 8, 8, 1)).astype(np.float32), rng)
    out = np.asarray(inpaint([feeds["image"], feeds["mask"]]))
    np.testing.assert_array_equal(out[:, :4], feeds["image"][:, :4])
    assert np.abs(out[:, 4:] - feeds["image"][:, 4:]).mean() > 0.1


def test_the_subpixel_upsampling_starts_as_bicubic_and_lays_channels_out_as_pixels():
    import keras

    from kgan.models.unet import PixelShuffle, UNetGenerator

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 5, 7, 3)).astype(np.float32)  # any size: no encoder to halve it
    g = UNetGenerator((16, 16, 3), task="superres:4", filters=4, depth=0, blocks=1, upsample="shuffle")
    assert [layer.name for layer in g.layers if "sr" in layer.name] == []  # every convolution at the input's size
    up = np.asarray(g(x))
    assert up.shape == (2, 20, 28, 3)
    np.testing.assert_allclose(up, np.asarray(g.get_layer("base")(x)), atol=1e-6)  # a zero residual: bicubic
    block = np.arange(2 * 2 * 4, dtype=np.float32).reshape(1, 1, 1, 16)  # one pixel, 4 channels a sub-pixel
    pixels = np.asarray(PixelShuffle(2)(block))
    assert pixels.shape == (1, 2, 2, 4)
    np.testing.assert_array_equal(pixels[0, 0, 1], block[0, 0, 0, 4:8])  # row-major: (0, 1) is the second
    np.testing.assert_array_equal(pixels[0, 1, 0], block[0, 0, 0, 8:12])
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(g))
    assert (restored.upsample, restored.depth) == ("shuffle", 0)
    with pytest.raises(KganError, match="upsample must be one of resize, shuffle"):
        UNetGenerator((16, 16, 3), task="superres:4", upsample="bilinear")
    with pytest.raises(KganError, match="depth must be an integer >= 0"):
        UNetGenerator((16, 16, 3), task="superres:4", depth=-1)


@pytest.mark.parametrize("upsample", ["resize", "shuffle"])
def test_both_upsamplings_convert_to_onnx_for_any_size(upsample):
    import onnxruntime as ort
    import tensorflow as tf

    from kgan.export.convert import _to_onnx
    from kgan.models.unet import UNetGenerator

    g = UNetGenerator((16, 16, 3), task="superres:4", filters=4, depth=1, blocks=1, upsample=upsample)
    rng = np.random.default_rng(0)
    for weight in g.weights:  # a residual that is not zero, so the upsampling shows
        weight.assign(rng.normal(0, 0.2, weight.shape).astype(np.float32))
    function = tf.function(lambda image: g(image, training=False),
                           input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="image")])
    session = ort.InferenceSession(_to_onnx(function, 17).SerializeToString(), providers=["CPUExecutionProvider"])
    x = rng.uniform(-1, 1, (1, 6, 10, 3)).astype(np.float32)
    (out,) = session.run(None, {session.get_inputs()[0].name: x})
    assert out.shape == (1, 24, 40, 3)
    np.testing.assert_allclose(out, np.asarray(g(x)), atol=1e-4)


def test_crops_come_in_all_eight_symmetries_of_the_square_with_pairs_aligned(tmp_path):
    from kgan.data.pairs import pair_batches

    rng = np.random.default_rng(0)
    for folder in ("A", "B"):
        (tmp_path / folder).mkdir()
    image = (rng.random((10, 10, 3)) * 255).astype(np.uint8)  # crops of 9 from 10: four places, each distinct
    Image.fromarray(image).save(tmp_path / "B" / "x.png")
    Image.fromarray(255 - image).save(tmp_path / "A" / "x.png")
    clean = image.astype(np.float32) / 127.5 - 1.0
    places = [clean[top : top + 9, left : left + 9] for top in (0, 1) for left in (0, 1)]
    symmetries = [lambda c, k=k, f=f: np.rot90(c, k)[:, ::-1] if f else np.rot90(c, k)
                  for k in range(4) for f in (0, 1)]
    batches = pair_batches(str(tmp_path), "paired", 9, 16, seed=0)
    seen = set()
    for _ in range(8):
        inputs, targets = next(batches)
        np.testing.assert_allclose(inputs["image"], -targets, atol=1e-6)  # each input turned as its target
        for target in targets:
            seen |= {s for s, symmetry in enumerate(symmetries)
                     if any(np.allclose(symmetry(place), target, atol=1e-6) for place in places)}
    assert seen == set(range(8))


def test_sizes_the_unet_cannot_halve_are_refused():
    from kgan.models.unet import UNetGenerator

    with pytest.raises(KganError, match="multiple of 16"):
        UNetGenerator((24, 24, 3), task="superres:4", depth=2)


def test_held_out_names_name_the_held_out_images(tmp_path):
    from kgan.data.pairs import clean_images, held_out_names

    for i in range(12):  # 12 images: the last tenth is one, the last by name
        Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(tmp_path / f"{i:02d}.png")
    (held,) = clean_images(str(tmp_path), "held_out")
    assert held_out_names(str(tmp_path)) == ["11.png"] and held.max() == pytest.approx(220 / 255 * 2 - 1)
    assert held_out_names("photos") == ["astronaut", "coffee", "camera", "clock"]
    assert held_out_names("digits") is None


def test_the_photos_split_by_photo_and_are_colour_scenes_of_any_size():
    from kgan.data.pairs import HELD_OUT_PHOTOS, PHOTOS, clean_images

    train, held = clean_images("photos"), clean_images("photos", "held_out")
    assert not set(PHOTOS) & set(HELD_OUT_PHOTOS) and len(train) == 13 and len(held) == 4
    assert all(x.shape[-1] == 3 and x.dtype == np.float32 and -1 <= x.min() < x.max() <= 1 for x in train + held)
    # the stereo pair gives one view, not two of nearly the same scene
    motorcycle = train[PHOTOS.index("motorcycle")]
    assert motorcycle.shape == (500, 741, 3) and sum(x.shape == motorcycle.shape for x in train) == 1
    assert np.abs(motorcycle - motorcycle.mean(axis=-1, keepdims=True)).mean() > 0.05  # a colour photo


def _digits_batches(task="inpaint:lower", batch=32, seed=0):
    from kgan.data.pairs import pair_batches

    return pair_batches("digits", task, 8, batch, seed)


def _paired_gan(adversarial=True, seed=0, **kwargs):
    import keras

    from kgan.models.unet import PatchDiscriminator, UNetGenerator
    from kgan.paired import PairedGAN

    keras.utils.set_random_seed(seed)
    generator = UNetGenerator((8, 8, 1), task="inpaint:lower", filters=8, depth=2)
    discriminator = PatchDiscriminator((8, 8, 1), task="inpaint:lower", filters=8)
    gan = PairedGAN(generator, discriminator, adversarial=adversarial, seed=seed, **kwargs)
    gan.compile(keras.optimizers.Adam(2e-3, 0.5), keras.optimizers.Adam(2e-3, 0.5))
    return gan


@pytest.mark.slow(minutes=0.2)  # trains or scores a model, 10 s or more: CI runs it
@pytest.mark.parametrize("adversarial", [True, False])
def test_a_paired_gan_learns_to_inpaint_digits(adversarial):
    """A few hundred steps fill in the lower half of held-out digits far better than leaving it grey."""
    from kgan.data.pairs import preview_pairs

    gan = _paired_gan(adversarial)
    batches = _digits_batches()
    inputs, targets = preview_pairs("digits", "inpaint:lower", 8, n=64)
    before = psnr(gan.restore(inputs["image"], inputs["mask"]), targets)
    history = gan.fit(
        (b for b in batches), steps_per_epoch=150, epochs=1, verbose=0).history
    after = psnr(gan.restore(inputs["image"], inputs["mask"]), targets)
    assert after > before + 2.0, (before, after)
    names = set(history)
    if adversarial:
        assert {"d_loss", "g_adversarial", "g_l1", "real_score", "fake_score"} <= names
    else:
        assert names == {"g_loss"}


def test_pretraining_fits_the_generator_alone_and_restarts_its_ema():
    """L1 pretraining restores held-out digits far better, leaves the discriminator and the game's
    optimizers untouched, and the EMA generator starts the game from its result."""
    import keras

    from kgan.data.pairs import preview_pairs

    gan = _paired_gan(ema=0.99)
    inputs, targets = preview_pairs("digits", "inpaint:lower", 8, n=64)
    before = psnr(gan.restore(inputs["image"], inputs["mask"]), targets)
    d_weights = [w.copy() for w in gan.discriminator.get_weights()]
    first, rest = gan.pretrain((b for b in _digits_batches()), 150, keras.optimizers.Adam(2e-3, 0.5))
    after = psnr(gan.restore(inputs["image"], inputs["mask"]), targets)
    assert after > before + 2.0 and rest < first, (before, after, first, rest)
    for a, b in zip(gan.discriminator.get_weights(), d_weights):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(gan.ema_generator.get_weights(), gan.generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(gan.g_optimizer.iterations) == 0 and int(gan.d_optimizer.iterations) == 0


@pytest.mark.slow(minutes=0.15)  # several seconds: CI runs it
def test_feature_matching_is_the_discriminators_feature_distance():
    """Zero when the output is the target, growing with the difference, scaled by its weight, logged,
    and without gradient through the target's features."""
    import tensorflow as tf

    gan = _paired_gan(feature_matching=10.0)
    inputs, target = next(_digits_batches())
    inputs = {k: tf.constant(v) for k, v in inputs.items()}
    target = tf.constant(target)

    def term(fake, model=gan):
        return float(model.generator_terms(inputs, 32, training=False, fake=fake, real=target)["feature_matching"])

    assert term(target) == 0.0
    near, far = term(target + 0.05), term(target + 0.5)
    assert 0.0 < near < far
    assert term(target + 0.5, _paired_gan(feature_matching=20.0)) == pytest.approx(2 * far, rel=1e-5)
    fake = target + 0.5
    with tf.GradientTape() as tape:
        tape.watch(target)
        value = gan._feature_distance(fake, target, inputs, training=False)
    assert tape.gradient(value, target) is None
    history = gan.fit((b for b in _digits_batches()), steps_per_epoch=3, epochs=1, verbose=0).history
    assert "g_feature_matching" in history and np.isfinite(history["g_feature_matching"]).all()


@pytest.mark.slow(minutes=0.14)  # several seconds: CI runs it
def test_a_paired_gan_round_trips_through_keras(tmp_path):
    import kgan

    gan = _paired_gan()
    gan.fit((b for b in _digits_batches()), steps_per_epoch=3, epochs=1, verbose=0)
    gan.save(tmp_path / "model.keras")
    loaded = kgan.load_model(tmp_path / "model.keras")
    inputs = next(_digits_batches(seed=1))[0]
    np.testing.assert_array_equal(loaded.restore(inputs["image"], inputs["mask"]),
                                  gan.restore(inputs["image"], inputs["mask"]))
    assert (type(loaded).__name__, loaded.l1_weight, str(loaded.task)) == ("PairedGAN", 100.0, "inpaint:lower")


def test_a_paired_gan_refuses_what_would_misalign_pairs():
    import keras

    from kgan.models.unet import PatchDiscriminator, UNetGenerator
    from kgan.paired import PairedGAN

    g = UNetGenerator((8, 8, 1), task="denoise:0.1", filters=4, depth=2)
    d = PatchDiscriminator((8, 8, 1), task="denoise:0.1", filters=4)
    with pytest.raises(KganError, match="drop pack, augment and diversity"):
        PairedGAN(g, d, augment=("translation",))
    with pytest.raises(KganError, match="give l1_weight > 0"):
        PairedGAN(g, d, adversarial=False, l1_weight=0)
    with pytest.raises(KganError, match="drop feature_matching or keep the game"):
        PairedGAN(g, d, adversarial=False, feature_matching=10.0)
    with pytest.raises(KganError, match="a discriminator with `feature_layers`"):
        PairedGAN(g, keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(1)]), feature_matching=10.0)


# -- a trained run through export, runtime, CLI and metrics ------------------------------------

@pytest.fixture(scope="module")
def superres_run(tmp_path_factory):
    """A tiny x2 super-resolution run on the photos, exported."""
    from kgan.presets import get_preset
    from kgan.training import train

    root = tmp_path_factory.mktemp("superres")
    config = get_preset("photos-superres").replace(
        task="superres:2", patch_size=32, batch_size=4, epochs=1, steps_per_epoch=20,
        generator={"filters": 8, "depth": 1, "blocks": 1, "upsample": "shuffle"}, discriminator={"filters": 8},
        out=str(root / "run"),
        export_dir=str(root / "export"), pretrain_epochs=1, pretrain_lr=1e-3)
    lines = []
    result = train(config, verbose=0, log=lines.append)
    result.log = lines
    return result


def test_a_run_pretrains_on_l1_before_the_game(superres_run):
    (line,) = [line for line in superres_run.log if "pretrained" in line]
    assert "on its L1 term for 20 steps" in line
    assert int(superres_run.gan.g_optimizer.iterations) == 20  # the game's own steps, after pretraining


def test_the_export_takes_any_size_and_matches_keras(superres_run):
    from kgan.runtime.inference import GeneratorRuntime

    with open(os.path.join(os.path.dirname(superres_run.files["onnx"]), "manifest.json")) as handle:
        manifest = json.load(handle)
    assert manifest["parity"]["generator"]["keras_vs_onnxruntime"] < 1e-4
    assert set(manifest["models"]) == {"generator"}  # no discriminator: nothing to choose among
    assert manifest["models"]["generator"]["inputs"] == {"image": {"shape": ["batch", None, None, 3],
                                                                    "dtype": "float32"}}
    runtime = GeneratorRuntime(os.path.dirname(superres_run.files["onnx"]))
    assert runtime.takes_image and str(runtime.task) == "superres:2"
    image = (np.random.default_rng(0).random((37, 51, 3)) * 255).astype(np.uint8)
    restored = runtime.generate(image=image)
    assert restored.shape == (1, 74, 102, 3) and restored.dtype == np.uint8
    keras_side = superres_run.gan.restore(image)
    np.testing.assert_allclose(runtime.restore(image), keras_side, atol=1e-4)


def test_kgan_generate_restores_an_image_file(superres_run, tmp_path):
    from kgan.cli import main

    export = os.path.dirname(superres_run.files["onnx"])
    Image.fromarray((np.random.default_rng(0).random((30, 41, 3)) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    assert main(["generate", export, "--input", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png")]) == 0
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == (82, 60) and out.mode == "RGB"


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("text"), "is not an image"),
    (lambda p: Image.new("L", (30, 30)).save(p), "has 1 channel"),
    (lambda p: Image.new("RGB", (1, 1)).save(p), "needs at least 2 pixels"),  # depth 1: the sides halve once
])
def test_kgan_generate_refuses_bad_inputs_in_one_line(superres_run, tmp_path, capsys, make, message):
    from kgan.cli import main

    export = os.path.dirname(superres_run.files["onnx"])
    make(tmp_path / "in.png")
    assert main(["generate", export, "--input", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not os.path.exists(tmp_path / "out.png")


def test_evaluate_scores_restoration_against_the_baseline(superres_run, tmp_path):
    from kgan.evaluate import evaluate

    export = os.path.dirname(superres_run.files["onnx"])
    report = evaluate(export, against=superres_run.run_dir, picture=str(tmp_path / "side.png"))
    assert report["task"] == "superres:2" and report["images"] == 4
    # the export and the run it came from restore alike
    assert report["psnr_against"] == pytest.approx(report["psnr"], abs=1e-3)
    assert 20 < report["baseline_psnr"] < 40 and 0 < report["baseline_sharpness"] < 1
    gains = report["psnr_gain_per_image"]  # by held-out photo, averaging to the whole figure
    assert list(gains) == ["astronaut", "coffee", "camera", "clock"]
    assert np.mean(list(gains.values())) == pytest.approx(report["psnr"] - report["baseline_psnr"], abs=1e-6)
    with Image.open(tmp_path / "side.png") as picture:
        assert picture.size[0] > 4 * 128  # input, baseline, against, model, truth


@pytest.mark.slow(minutes=0.3)  # trains or scores a model, 10 s or more: CI runs it
def test_a_paired_folder_trains(tmp_path):
    from kgan.cli import main

    rng = np.random.default_rng(0)
    for folder in ("A", "B"):
        (tmp_path / "pairs" / folder).mkdir(parents=True)
    for i in range(3):
        clean = (rng.random((24, 24, 3)) * 255).astype(np.uint8)
        Image.fromarray(clean).save(tmp_path / "pairs" / "B" / f"{i}.png")
        Image.fromarray(255 - clean).save(tmp_path / "pairs" / "A" / f"{i}.png")
    out = tmp_path / "run"
    args = ["train", "--preset", "photos-denoise", "--dataset", str(tmp_path / "pairs"), "--task", "paired",
            "--patch-size", "16", "--batch-size", "2", "--epochs", "1", "--steps-per-epoch", "3", "--out", str(out),
            "--no-export", "--quiet"]
    assert main(args) == 0
    assert json.load(open(out / "config.json"))["dataset_info"]["task"] == "paired"
    os.rename(tmp_path / "pairs" / "B" / "2.png", tmp_path / "pairs" / "B" / "9.png")
    assert main([*args[:-4], "--out", str(tmp_path / "run2"), "--no-export", "--quiet"]) == 2
    assert not os.path.exists(tmp_path / "run2")


@pytest.mark.browser  # a served app, as the demo's other tests
def test_the_demo_restores_an_upload_beside_its_baseline(superres_run, tmp_path):
    pytest.importorskip("gradio", reason="the demo needs the app extra: pip install -e '.[app]'")
    from gradio_client import Client, handle_file

    from kgan.demo import launch
    from kgan.runtime.inference import GeneratorRuntime

    export = os.path.dirname(superres_run.files["onnx"])
    image = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "small.png")
    demo, url = launch(export, port=None, export_root=str(tmp_path / "none"), block=False)
    try:
        client = Client(url, verbose=False, analytics_enabled=False)
        items = client.predict(handle_file(str(tmp_path / "small.png")), api_name="/restore")
        shown = []
        for item in items:
            with Image.open(item["image"]) as picture:
                shown.append(np.asarray(picture))
        assert [item["caption"] for item in items] == ["input", "bicubic upsampling", "restored (superres:2)"]
        assert shown[0].shape == (20, 30, 3) and shown[1].shape == shown[2].shape == (40, 60, 3)
        np.testing.assert_array_equal(shown[2], GeneratorRuntime(export).generate(image=image)[0])
        with pytest.raises(Exception, match="samples from latents|Upload an image"):
            client.predict(None, api_name="/restore")
    finally:
        demo.close()


@pytest.mark.browser
def test_the_web_page_restores_an_upload_as_the_python_runtime_does(superres_run, tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need the test extra")
    from browser import CHROMIUM, CHROMIUM_ARGS, serve_folder
    from test_web import ORT_PACKAGE

    from kgan.runtime.inference import GeneratorRuntime
    from kgan.web import build_site

    if not os.path.exists(CHROMIUM) or not os.path.isdir(ORT_PACKAGE):
        pytest.skip("the browser tests need Chromium (apt) and onnxruntime-web (npm ci --prefix tests/web)")
    export = os.path.dirname(superres_run.files["onnx"])
    folder = tmp_path_factory.mktemp("restore-site")
    build_site(export, folder / "site", ort_dir=ORT_PACKAGE)
    image = (np.random.default_rng(0).random((18, 30, 3)) * 255).astype(np.uint8)  # padded to 20 x 32
    Image.fromarray(image).save(folder / "small.png")
    (folder / "notes.png").write_text("not an image")
    expected = GeneratorRuntime(export).restore(image)
    with serve_folder(folder) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{url}site/index.html")
            page.wait_for_function("() => !document.getElementById('restore').disabled", timeout=60_000)
            assert page.is_hidden("#generate") and page.is_visible("#upload")
            page.set_input_files("#upload", str(folder / "small.png"))
            page.click("#restore")
            page.wait_for_function("() => kgan.restored()", timeout=60_000)
            shown = page.evaluate("() => kgan.restored()")
            restored = np.asarray(shown["data"], np.float32).reshape(shown["dims"])
            assert restored.shape == expected.shape == (1, 36, 60, 3)
            assert np.abs(restored - expected).max() < 1e-4
            assert page.eval_on_selector("#canvas", "c => c.width") > 3 * 60
            page.set_input_files("#upload", str(folder / "notes.png"))
            page.click("#restore")
            page.wait_for_function("() => !document.getElementById('error').hidden")
            message = page.eval_on_selector("#error", "e => e.textContent")
            assert "notes.png is not an image" in message and "\n" not in message
        finally:
            browser.close()
