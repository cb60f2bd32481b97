"""The documentation site: it builds strictly, its examples run, and what it generates is there."""

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


def test_readme_fits_on_two_screens_and_links_to_the_guides():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    assert len(readme.splitlines()) <= 250
    for path in GUIDES:
        assert path.replace(os.sep, "/") in readme, f"README does not link {path}"


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
    # An executed block shows what it printed: the first run's files, the runtime's providers.
    assert "generator.onnx" in page("getting-started") and "CPUExecutionProvider" in page("guides", "export")
