"""Each deliberately broken variant in `broken_variants.py` fails the tests that guard against it."""

import json
import os
import subprocess
import sys

import pytest

from broken_variants import VARIANTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = [(name, guard) for name, (_, guards, _) in VARIANTS.items() for guard in guards]


@pytest.fixture(scope="session")
def guard_server():
    """`run(name, guard)` -> (exit status, last output line) of the guard under the variant, in a
    process forked from one that has TensorFlow imported (tests/scripts/guard_server.py). One
    server a pytest-xdist worker, so the guards spread over the workers."""
    server = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "scripts", "guard_server.py")], cwd=ROOT, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tests")),
    )

    def run(name, guard):
        server.stdin.write(f"{name} {guard}\n")
        server.stdin.flush()
        reply = json.loads(server.stdout.readline())
        return reply["code"], reply["tail"]

    yield run
    server.stdin.close()
    server.wait(timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("name, guard", CASES, ids=[f"{n}-{g.split('::')[-1]}" for n, g in CASES])
def test_the_guard_fails_on_the_broken_variant(guard_server, name, guard):
    code, tail = guard_server(name, guard)
    # 1: tests failed; 2: collection failed (a module that cannot import its dependency).
    assert code in (1, 2), f"{guard} passed on the broken variant {name}: {VARIANTS[name][2]} {tail}"
