"""The documentation site: it builds strictly, its examples run, and what it generates is there."""

import importlib
import inspect
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDES = [os.path.join("docs", "getting-started.md")] + sorted(
    os.path.join("docs", "guides", name) for name in os.listdir(os.path.join(ROOT, "docs", "guides")))
FENCE = re.compile(r"^( *)```(\S*)([^\n]*)\n(.*?)^\1```", re.S | re.M)
# Blocks a build cannot run: installing kgan, and the demo's server, which runs until stopped
# (the demo guide drives the same app from Python in a block that runs).
NOT_RUN = re.compile(r"^(pip install [^\n]*|pip install -e \"\.\[app\]\" && kgan demo[^\n]*)$")


def blocks(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
        return [(language, options, code) for _, language, options, code in FENCE.findall(handle.read())]


@pytest.mark.parametrize("path", GUIDES)
def test_every_code_block_of_a_guide_runs_when_the_site_is_built(path):
    found = blocks(path)
    assert found, f"{path} has no code block"
    for language, options, code in found:
        runs = 'exec="on"' in options
        assert runs or NOT_RUN.match(code.strip()), f"{path}: a ```{language} block that the build does not run:\n{code}"


def test_every_picture_is_made_by_the_figures_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("figures", os.path.join(ROOT, "docs", "figures.py"))
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    made = {file for name in figures.FIGURE_NAMES for file in figures.files(name)}
    shown = set()
    for folder, _, files in os.walk(os.path.join(ROOT, "docs")):
        for name in files:
            if name.endswith(".md"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    shown |= set(re.findall(r"!\[[^\]]*\]\((?:\.\./)*figures/([^)]+)\)", handle.read()))
    assert shown, "no picture found on the pages"
    assert shown <= made, f"pictures no script makes: {sorted(shown - made)}"
    on_disk = set(os.listdir(os.path.join(ROOT, "docs", "figures")))
    assert shown <= on_disk, f"pictures the pages show that are not committed: {sorted(shown - on_disk)}"
    assert on_disk <= made, f"pictures in docs/figures that docs/figures.py does not make: {sorted(on_disk - made)}"


def test_readme_fits_on_two_screens_and_links_to_the_guides():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    assert len(readme.splitlines()) <= 250
    for path in GUIDES:
        assert path.replace(os.sep, "/") in readme, f"README does not link {path}"


# Keras' own protocol, which a Keras subclass overrides and Keras documents; mkdocstrings leaves these
# undocumented overrides out of the reference (it shows no member without a docstring).
KERAS_PROTOCOL = re.compile(r"^(build|call|compute_output_shape|get_config|get_compile_config|compile_from_config"
                            r"|train_step|test_step|on_[a-z_]+)$")


def _keras_protocol(cls, name):
    import keras

    return issubclass(cls, (keras.layers.Layer, keras.callbacks.Callback)) and bool(KERAS_PROTOCOL.match(name))


def _resolve(path):
    """The object at a dotted path: the longest importable module, then attributes."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        for part in parts[end:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(path)


def _reference_objects():
    """`(name, object)` for every class, method and function the API reference page renders."""
    with open(os.path.join(ROOT, "docs", "reference", "api.md"), encoding="utf-8") as handle:
        text = handle.read()
    found = []
    for path, members in re.findall(r"^::: (\S+)\n(?:    options:\n      members: \[([^\]]*)\])?", text, re.M):
        obj = _resolve(path)
        if inspect.ismodule(obj):
            names = [n.strip() for n in members.split(",")] if members else [
                n for n, v in vars(obj).items() if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v))
                and v.__module__ == obj.__name__]
            found += [(f"{path}.{n}", getattr(obj, n)) for n in names]
        else:
            found.append((path, obj))
    for name, obj in list(found):
        if inspect.isclass(obj):
            found += [(f"{name}.{m}", v) for m, v in vars(obj).items()
                      if inspect.isfunction(v) and not m.startswith("_") and not _keras_protocol(obj, m)]
    return found


def test_every_documented_function_says_what_it_takes():
    objects = _reference_objects()
    assert len(objects) > 80, len(objects)  # every page entry and its members, not an empty scan
    missing = []
    for name, obj in objects:
        target = obj.__init__ if inspect.isclass(obj) else obj
        doc = (obj.__doc__ or "") + (vars(obj)["__init__"].__doc__ or "" if "__init__" in vars(obj) else "")
        try:
            parameters = [p for p in inspect.signature(target).parameters if p not in ("self", "cls", "args", "kwargs")]
        except (TypeError, ValueError):
            parameters = []
        if not doc.strip():
            missing.append(f"{name}: no docstring")
        elif parameters and not re.search(r"^\s*(Args|Attributes):|Args and Returns as `", doc, re.M):
            missing.append(f"{name}: no Args for {parameters}")
    assert not missing, "\n".join(missing)


@pytest.mark.slow(minutes=3.5)
def test_the_site_builds_strictly_with_every_example_run(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    print(done.stderr.strip().splitlines()[-1])

    def page(*parts):
        return (site.joinpath(*parts) / "index.html").read_text(encoding="utf-8")

    cli = page("reference", "cli")
    for flag in ("--tokens", "--length", "--pretrain", "--ema", "--family", "--refit-steps"):
        assert flag in cli, flag  # printed from the parser: every flag is there
    assert "GeneratorRuntime" in page("reference", "api") and "Platt" in page("reference", "api")
    benchmarks = page("benchmarks")
    assert "PacGAN2" in benchmarks and "ensemble, fit weights" in benchmarks  # tables drawn from the jsonl files
    for section in ("main_job", "video", "census_names", "web", "train_speed", "inference", "demo", "scale", "suite"):
        assert f"benchmarks/{section}.py" in benchmarks, section  # each drawn section names its command
    # An executed block shows what it printed: the first run's files, the runtime's providers.
    assert "generator.onnx" in page("getting-started") and "CPUExecutionProvider" in page("guides", "export")
