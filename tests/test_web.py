"""The static web site: onnxruntime-web in headless Chromium against onnxruntime in Python."""

import base64
import io
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from browser import CHROMIUM, CHROMIUM_ARGS, route_cdn, serve_folder
from kgan.errors import KganError
from kgan.runtime.inference import GeneratorRuntime
from kgan.runtime.samples import get_kind
from kgan.web import ORT_CDN, ORT_FILES, ORT_WEB_VERSION, build_site

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_PACKAGE = os.path.join(ROOT, "tests", "web", "node_modules", "onnxruntime-web")
TOLERANCE = 1e-4
LOADED = "() => window.kgan && (kgan.timings.first_sample_ms !== undefined || !document.getElementById('error').hidden)"


@pytest.fixture(scope="module")
def ort_package():
    if not os.path.isdir(ORT_PACKAGE):
        pytest.skip("the web page's tests need onnxruntime-web from npm: npm ci --prefix tests/web")
    return ORT_PACKAGE


@pytest.fixture(scope="module")
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need the test extra")
    if not os.path.exists(CHROMIUM):
        pytest.skip("the browser tests need Debian's Chromium: apt-get install -y chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """A static host over a folder of sites: `(folder, base URL)`."""
    folder = tmp_path_factory.mktemp("sites")
    with serve_folder(folder) as url:
        yield folder, url


@pytest.fixture(scope="module")
def sites(host, exported, ort_package):
    """`sites(name, export_dir, local=False)`: the site of an export on the host, built once.

    Sites load onnxruntime-web from the CDN, which `open_page` answers from the npm copy;
    `local` ones carry their own copy (`--ort-dir`)."""
    folder, url = host
    built = {}

    def get(name, export_dir, local=False):
        if name not in built:
            build_site(export_dir, folder / name, ort_dir=ort_package if local else None)
            built[name] = (folder / name, f"{url}{name}/index.html")
        return built[name]

    return get


def open_page(chromium, url, cdn=True, **context):
    """A new page at `url`, waited on until it shows samples or an error; CDN requests answered
    from the npm copy unless `cdn` is False (then every request off the page's host fails)."""
    page = chromium.new_context(**context).new_page()
    messages = []
    page.on("console", lambda m: messages.append(m.text))
    if cdn:
        route_cdn(page, ORT_CDN, os.path.join(ORT_PACKAGE, "dist"))
    else:
        page.route(lambda u: not u.startswith(url.rsplit("/", 2)[0]) and not u.startswith("file:"),
                   lambda route: route.abort())
    page.goto(url)
    page.wait_for_function(LOADED, timeout=60_000)
    page.messages = messages
    return page


def error_text(page):
    return page.eval_on_selector("#error", "e => e.hidden ? '' : e.textContent")


def last(page):
    return page.evaluate("() => kgan.last()")


def as_numpy(plain, dtype):
    return np.asarray(plain["data"], dtype).reshape(plain["dims"])


def feeds_of(page_last, runtime):
    inputs = runtime.model.session.get_inputs()
    types = {i.name: np.int64 if "int64" in i.type else np.float32 for i in inputs}
    return {name: as_numpy(value, types[name]) for name, value in page_last["feeds"].items()}


def matches_runtime(drawn, folder):
    """Checks what the page drew against onnxruntime in Python on the same feeds; returns `(runtime, expected)`."""
    runtime = GeneratorRuntime(folder)
    expected = runtime.run_feeds(feeds_of(drawn, runtime))[runtime.sample_spec.tensor_name]
    shown = as_numpy(drawn["output"], expected.dtype)
    assert shown.shape == expected.shape and np.abs(shown - expected).max() < TOLERANCE
    return runtime, expected


def generate_with(page, control, value, input_name):
    """Picks `value` in a select control, clicks Generate and waits for the samples drawn with it."""
    page.select_option(control, str(value))
    page.click("#generate")
    page.wait_for_function(f"() => kgan.last().feeds.{input_name}.data.every(v => v === {value})")
    return last(page)


def canvas_pixels(page):
    """The canvas as a uint8 `[height, width, 4]` RGBA array (through a PNG: quicker than a JSON array)."""
    url = page.evaluate("() => document.getElementById('canvas').toDataURL('image/png')")
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
        return np.asarray(image.convert("RGBA"))


# -- parity: the page's onnxruntime-web against onnxruntime in Python --------------------------------


@pytest.mark.parametrize("family, conditional", [("dcgan", False), ("dcgan", True), ("r3gan", False)],
                         ids=["dcgan", "dcgan-conditional", "r3gan"])
def test_kgan_run_matches_the_python_runtime(chromium, sites, exported, family, conditional):
    # R3GAN's grouped convolutions, depthwise blur and repeats run in onnxruntime-web as in onnxruntime.
    _, result = exported(family, conditional)
    folder, url = sites(f"{family}{int(conditional)}", result.out_dir)
    page = open_page(chromium, url)
    assert error_text(page) == ""
    runtime = GeneratorRuntime(folder)
    feeds = runtime.prior.draw(37, seed=5, randomize=True)
    got = page.evaluate("feeds => kgan.run(feeds)", {k: v.tolist() for k, v in feeds.items()})
    expected = runtime.run_feeds(feeds)["image"]
    image = as_numpy(got["image"], np.float32)
    assert image.shape == expected.shape == (37, 8, 8, 1)
    assert np.abs(image - expected).max() < TOLERANCE
    assert np.abs(expected).max() > 0.05  # not a constant output
    # The discriminator too, on those samples (and labels).
    d_feeds = {"image": expected, **({"label": feeds["label"]} if conditional else {})}
    logits = page.evaluate("feeds => kgan.run(feeds, 'discriminator')", {k: v.tolist() for k, v in d_feeds.items()})
    np.testing.assert_allclose(as_numpy(logits["logit"], np.float32), runtime.score(expected, feeds.get("label")),
                               atol=TOLERANCE)
    page.context.close()


def test_generate_draws_the_models_samples_and_scores_on_the_canvas(chromium, sites, exported):
    _, result = exported("dcgan", False)
    folder, url = sites("dcgan0", result.out_dir)
    page = open_page(chromium, url)
    status = page.text_content("#status")
    assert "16 samples" in status and "WebAssembly" in status, status
    drawn = last(page)
    runtime, expected = matches_runtime(drawn, folder)
    np.testing.assert_allclose(drawn["scores"], runtime.score(expected), atol=TOLERANCE)
    # The canvas shows those images: 8x8 tiles scaled 8 times, 4 a row, 4 pixels apart, a caption under each.
    pixels = canvas_pixels(page)
    tiles = get_kind("image").to_display(expected, runtime.sample_spec)[..., 0]
    for i, tile in enumerate(tiles):
        x, y = 4 + (i % 4) * (64 + 4), 4 + (i // 4) * (64 + 16 + 4)
        shown = pixels[y:y + 64:8, x:x + 64:8, 0]
        assert np.abs(shown.astype(int) - tile).max() <= 1, i
    assert pixels[..., 0].std() > 20  # not blank
    # Another seed draws other samples.
    page.fill("#seed", "7")
    page.click("#generate")
    page.wait_for_function("first => kgan.last().feeds.z.data[0] !== first", arg=drawn["feeds"]["z"]["data"][0])
    assert np.abs(canvas_pixels(page).astype(int) - pixels).max() > 50
    page.context.close()


def test_the_class_choice_conditions_every_sample(chromium, sites, exported):
    _, result = exported("dcgan", True)
    folder, url = sites("dcgan1", result.out_dir)
    page = open_page(chromium, url)
    options = page.eval_on_selector_all("#label option", "os => os.map(o => o.value)")
    assert options == ["-1", "0", "1", "2"]
    assert last(page)["feeds"]["label"]["data"][:6] == [0, 1, 2, 0, 1, 2]  # every class in turn
    matches_runtime(generate_with(page, "#label", 2, "label"), folder)
    page.context.close()


def test_an_export_from_an_earlier_version_runs_in_the_page(chromium, sites):
    old = os.path.join(ROOT, "tests", "fixtures", "725dee9", "dcgan-conditional")
    folder, url = sites("old-dcgan-conditional", old)
    page = open_page(chromium, url)
    assert error_text(page) == ""
    matches_runtime(last(page), old)
    page.context.close()


# -- the other kinds ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kind_exports(exported, tmp_path_factory):
    """Exports of a tiny video GAN (conditional), text GAN and mixture of three 2-D generators."""
    import keras

    from kgan.export import export_model
    from kgan.gan import GAN
    from kgan.mixture import GeneratorMixture
    from kgan.models import MLPDiscriminator, MLPGenerator

    keras.utils.set_random_seed(2)
    mixture = GeneratorMixture.build_members(lambda: MLPGenerator(2, latent_dim=3, hidden_units=(8,)), 3,
                                             weights=[0.5, 0.3, 0.2])
    gan = GAN(mixture, MLPDiscriminator(2, hidden_units=(8,)), seed=0)
    return {"video": exported("mocogan", True)[1].out_dir, "text": exported("sequence")[1].out_dir,
            "mixture": export_model(gan, out_dir=str(tmp_path_factory.mktemp("mixture") / "export")).out_dir}


def test_text_models_show_lines_that_are_the_models_tokens(chromium, sites, kind_exports):
    folder, url = sites("text", kind_exports["text"])
    page = open_page(chromium, url)
    assert page.is_hidden("#canvas") and page.is_visible("#lines")
    runtime, tokens = matches_runtime(last(page), folder)
    assert tokens.dtype == np.int64  # and the page's are equal: integers within 1e-4
    lines = page.eval_on_selector_all("#lines li", "items => items.map(i => i.firstChild.textContent)")
    texts = [t or "(empty)" for t in get_kind("tokens").to_display(tokens, runtime.sample_spec)]
    assert lines == texts and len(lines) == 16
    scores = page.eval_on_selector_all("#lines .score", "items => items.map(i => i.textContent)")
    assert scores == [f"D {s:+.2f}" for s in runtime.score(tokens)]
    page.context.close()


def test_video_models_play_their_clips(chromium, sites, kind_exports):
    folder, url = sites("video", kind_exports["video"])
    page = open_page(chromium, url)
    assert "8 clips of 4 frames" in page.text_content("#status")
    matches_runtime(last(page), folder)
    seen = set()
    for _ in range(8):  # the grid plays the clips' frames, 100 ms each
        seen.add(canvas_pixels(page).tobytes())
        page.wait_for_timeout(60)
    assert len(seen) >= 3
    page.context.close()


def test_mixtures_sample_by_weight_or_one_member_and_plot_two_features(chromium, sites, kind_exports):
    folder, url = sites("mixture", kind_exports["mixture"])
    page = open_page(chromium, url)
    drawn = last(page)
    members = np.asarray(drawn["feeds"]["member"]["data"])
    assert len(members) == 1000  # a cloud: the count is points
    np.testing.assert_allclose(np.bincount(members, minlength=3) / 1000, [0.5, 0.3, 0.2], atol=0.05)
    assert page.eval_on_selector_all("#member option", "os => os.map(o => o.value)") == ["-1", "0", "1", "2"]
    matches_runtime(generate_with(page, "#member", 1, "member"), folder)
    pixels = canvas_pixels(page)
    assert (pixels[..., :3].min(axis=-1) < 200).mean() > 0.002  # points drawn on the white plot
    assert "features 1 and 2" in page.text_content("#legend")
    page.context.close()


def test_the_latent_walk_animates_until_stopped(chromium, sites, exported):
    _, result = exported("dcgan", False)
    _, url = sites("dcgan0", result.out_dir)
    page = open_page(chromium, url)
    page.click("#walk")
    page.wait_for_function("() => document.getElementById('walk').textContent === 'Stop'")
    seen = set()
    for _ in range(6):
        seen.add(canvas_pixels(page).tobytes())
        page.wait_for_timeout(150)
    assert len(seen) >= 4  # frames of the walk in turn
    page.click("#walk")
    page.wait_for_function("() => document.getElementById('walk').textContent === 'Latent walk'")
    still = canvas_pixels(page).tobytes()
    page.wait_for_timeout(300)
    assert canvas_pixels(page).tobytes() == still
    page.context.close()


# -- loading: offline copies, file://, backends, broken files -------------------------------------------


def test_a_site_with_its_own_onnxruntime_needs_no_network(chromium, sites, exported, ort_package):
    _, result = exported("dcgan", False)
    folder, url = sites("dcgan0-local", result.out_dir, local=True)
    assert sorted(os.listdir(folder / "ort")) == sorted([*(n for f in ORT_FILES.values() for n in f), "README.md",
                                                         "package.json"])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["web"]["ort"] == "ort/" and manifest["web"]["ort_web_version"] == ORT_WEB_VERSION
    page = open_page(chromium, url, cdn=False)
    assert error_text(page) == "" and "16 samples" in page.text_content("#status")
    page.context.close()


def test_without_the_cdn_the_page_says_what_to_do(chromium, sites, exported):
    _, result = exported("dcgan", False)
    _, url = sites("dcgan0", result.out_dir)
    page = open_page(chromium, url, cdn=False)
    message = error_text(page)
    assert ORT_CDN in message and "--ort-dir" in message
    assert page.is_disabled("#generate")
    assert page.evaluate("() => kgan.ready.then(() => 'resolved', e => e.message)") == message
    page.context.close()


def test_a_broken_model_file_shows_a_message_not_a_blank_page(chromium, sites, exported, host):
    _, result = exported("dcgan", True)
    folder, _ = sites("dcgan1", result.out_dir)
    root, url = host
    for name, damage in (("truncated", "truncate"), ("unchecked", "garbage")):
        broken = root / f"broken-{name}"
        shutil.copytree(folder, broken)
        model = broken / "generator.onnx"
        if damage == "truncate":  # the manifest's SHA-256 catches it
            model.write_bytes(model.read_bytes()[:5000])
        else:  # no hash to check: onnxruntime-web itself refuses the file
            manifest = json.loads((broken / "manifest.json").read_text())
            manifest.pop("files")
            (broken / "manifest.json").write_text(json.dumps(manifest))
            model.write_bytes(b"this is not an ONNX model" * 100)
        page = open_page(chromium, f"{url}{broken.name}/index.html")
        message = error_text(page)
        assert "generator.onnx" in message and ("kgan web" in message or "kgan export" in message), message
        assert ("SHA-256" in message) == (damage == "truncate"), message
        assert page.is_disabled("#generate") and page.text_content("#status") == "The page cannot sample."
        page.context.close()


def test_asked_for_webgpu_without_it_the_page_falls_back_and_says_so(chromium, sites, exported):
    _, result = exported("dcgan", False)
    _, url = sites("dcgan0", result.out_dir)
    page = open_page(chromium, url + "?backend=webgpu")
    card = page.text_content("#card")
    assert "WebAssembly" in card and "WebGPU was asked for, but this browser offers none" in card, card
    assert page.evaluate("() => kgan.state.backend.name") == "wasm"
    page.context.close()


# Chromium's WebGPU over SwiftShader, its software Vulkan: the WebGPU backend without a GPU.
SOFTWARE_WEBGPU = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--enable-features=Vulkan",
                   "--use-vulkan=swiftshader", "--disable-vulkan-surface"]


@pytest.mark.parametrize("family, conditional", [("dcgan", True), ("sequence", False)], ids=["dcgan-conditional", "text"])
def test_where_the_browser_offers_webgpu_the_page_uses_it_with_the_same_results(chromium, sites, exported, family,
                                                                                conditional):
    _, result = exported(family, conditional)
    folder, url = sites(f"{family}{int(conditional)}", result.out_dir)
    gpu = chromium.browser_type.launch(executable_path=CHROMIUM,
                                       args=[a for a in CHROMIUM_ARGS if a != "--disable-gpu"] + SOFTWARE_WEBGPU)
    try:
        page = open_page(gpu, url)
        assert error_text(page) == ""
        assert page.evaluate("() => kgan.state.backend.name") == "webgpu" and "WebGPU" in page.text_content("#card")
        runtime = GeneratorRuntime(folder)
        feeds = runtime.prior.draw(9, seed=2, randomize=True)
        got = page.evaluate("feeds => kgan.run(feeds)", {k: v.tolist() for k, v in feeds.items()})
        expected = runtime.run_feeds(feeds)[runtime.sample_spec.tensor_name]
        shown = as_numpy(got[runtime.sample_spec.tensor_name], expected.dtype)
        assert shown.shape == expected.shape and np.abs(shown - expected).max() <= TOLERANCE
    finally:
        gpu.close()


def test_from_a_file_the_page_works_where_the_browser_allows_it(chromium, sites, exported):
    _, result = exported("dcgan", False)
    folder, _ = sites("dcgan0-local", result.out_dir, local=True)
    address = (folder / "index.html").as_uri()
    page = chromium.new_page()
    page.goto(address)
    page.wait_for_function(LOADED, timeout=60_000)
    assert "python -m http.server" in error_text(page)  # Chromium's default: a file cannot read files
    page.close()
    allowed = chromium.browser_type.launch(executable_path=CHROMIUM,
                                           args=CHROMIUM_ARGS + ["--allow-file-access-from-files"])
    try:
        page = allowed.new_page()
        page.goto(address)
        page.wait_for_function(LOADED, timeout=60_000)
        assert error_text(page) == "" and "16 samples" in page.text_content("#status")
    finally:
        allowed.close()


# -- building the site -------------------------------------------------------------------------------


def test_the_cli_writes_a_site_and_refuses_bad_folders(tmp_path, exported, ort_package, capsys):
    from kgan.cli import main

    _, result = exported("mlp", False)
    out = tmp_path / "site"
    assert main(["web", result.out_dir, "--out", str(out), "--ort-dir", ort_package]) == 0
    printed = capsys.readouterr().out
    assert f"wrote the web site to {out}" in printed and "its own copy in ort/" in printed
    assert {"index.html", "kgan.js", "manifest.json", "generator.onnx", "discriminator.onnx"} <= set(os.listdir(out))
    assert GeneratorRuntime(out).describe()["kind"] == "vector"  # the site is an export folder too
    again = tmp_path / "cdn"
    assert main(["web", result.out_dir, "--out", str(again)]) == 0  # default: the CDN, no ort/
    assert "the visitor must be online" in capsys.readouterr().out and not (again / "ort").exists()
    assert main(["web", result.out_dir, "--out", str(again)]) == 0  # an earlier site is replaced
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    bad = tmp_path / "not-ort"
    bad.mkdir()
    for args, message in (
        ([str(tmp_path / "missing"), "--out", str(tmp_path / "x")], "is not an export folder"),
        ([result.out_dir, "--out", result.out_dir], "is the export folder"),
        ([result.out_dir, "--out", str(other)], "holds other files"),
        ([result.out_dir, "--out", str(tmp_path / "y"), "--ort-dir", str(bad)], "npm install onnxruntime-web@1.30.0"),
    ):
        assert main(["web", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("kgan: error: ") and message in err and len(err.strip().splitlines()) == 1, err
    unreadable = tmp_path / "unreadable-manifest"  # the ONNX metadata alone is enough
    shutil.copytree(result.out_dir, unreadable, ignore=shutil.ignore_patterns("saved_model"))
    (unreadable / "manifest.json").write_text("{not json")
    assert main(["web", str(unreadable), "--out", str(tmp_path / "from-metadata")]) == 0
    capsys.readouterr()
    web = json.loads((tmp_path / "from-metadata" / "manifest.json").read_text())["web"]
    assert web["sample_spec"]["kind"] == "vector" and set(web["models"]) == {"generator", "discriminator"}
    assert (other / "notes.txt").read_text() == "keep me" and os.listdir(other) == ["notes.txt"]
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no staging folder left
    assert sorted(os.listdir(result.out_dir)) == ["discriminator.onnx", "generator.onnx", "latent_energy.onnx",
                                                  "manifest.json", "saved_model"]  # the export untouched


def test_kgan_web_needs_no_tensorflow(tmp_path, exported):
    import subprocess
    import sys

    _, result = exported("dcgan", True)
    code = (f"import sys; from kgan.cli import main; code = main(['web', {result.out_dir!r}, '--out', "
            f"{str(tmp_path / 'site')!r}]); print(code, sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout + done.stderr
    assert (tmp_path / "site" / "generator.onnx").read_bytes() == open(os.path.join(result.out_dir, "generator.onnx"),
                                                                       "rb").read()


def test_a_site_of_another_onnxruntime_web_version_is_refused(tmp_path, exported):
    _, result = exported("mlp", False)
    fake = tmp_path / "onnxruntime-web"
    (fake / "dist").mkdir(parents=True)
    for name in (n for f in ORT_FILES.values() for n in f):
        (fake / "dist" / name).write_text("")
    (fake / "package.json").write_text(json.dumps({"version": "1.17.0"}))
    with pytest.raises(KganError, match=r"is onnxruntime-web 1\.17\.0; the page is built for 1\.30\.0"):
        build_site(result.out_dir, tmp_path / "site", ort_dir=fake)
    assert not (tmp_path / "site").exists()
