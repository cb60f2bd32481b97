"""Each deliberately broken variant in `broken_variants.py` fails the tests that guard against it."""

import os
import subprocess
import sys

import pytest

from broken_variants import VARIANTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = [(name, guard) for name, (_, guards, _) in VARIANTS.items() for guard in guards]


@pytest.mark.slow
@pytest.mark.parametrize("name, guard", CASES, ids=[f"{n}-{g.split('::')[-1]}" for n, g in CASES])
def test_the_guard_fails_on_the_broken_variant(name, guard):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "broken_variants", "-p", "no:cacheprovider", guard],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
        env=dict(os.environ, KGAN_BREAK=name, KGAN_NO_SKIPS="1", PYTHONPATH=os.path.join(ROOT, "tests")),
    )
    tail = result.stdout.strip().splitlines()[-1:] or result.stderr.strip().splitlines()[-1:]
    # 1: tests failed; 2: collection failed (a module that cannot import its dependency).
    assert result.returncode in (1, 2), f"{guard} passed on the broken variant {name}: {VARIANTS[name][2]} {tail}"
