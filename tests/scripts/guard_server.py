"""Runs broken-variant guards in processes forked from one that has imported TensorFlow and Keras.

Reads lines `NAME GUARD` on stdin; for each, forks a child that runs
`pytest -q -x -m "" -p broken_variants GUARD` with `KGAN_BREAK=NAME`, and writes one JSON line,
`{"code": its exit status, "tail": its last line of output}`. The child imports kgan and
the tests itself, after the variant is patched in, as a fresh process would; what the fork
saves is the interpreter's start and TensorFlow's import, a few seconds a guard.
"""

import json
import os
import signal
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as `import kgan` asks (kgan/_onednn.py)

import keras  # noqa: E402,F401
import numpy  # noqa: E402,F401
import pytest  # noqa: E402
import tensorflow  # noqa: E402,F401

TIMEOUT = 900


def run(name, guard):
    with tempfile.TemporaryFile(mode="w+") as output:
        pid = os.fork()
        if pid == 0:  # the child: pytest with the variant, its output in the file
            code = 3
            try:
                os.dup2(output.fileno(), 1)
                os.dup2(output.fileno(), 2)
                os.environ.update(KGAN_BREAK=name, KGAN_NO_SKIPS="1")
                # -m "": a guard runs whatever its marks (browser or slow tests too); -n 0: in this
                # process, not in pytest-xdist workers.
                # The exit status is all a guard reports: plain asserts (no rewriting of every
                # module, which PYTHONDONTWRITEBYTECODE makes pytest redo each time), and none of
                # the plugins that work at exit (hypothesis' summary imports hypothesis, the
                # unraisable-exception check collects garbage five times): a short guard took 3.1 s, 0.7 s.
                code = int(pytest.main(["-q", "-x", "-m", "", "-n", "0", "-p", "broken_variants", "-p",
                                        "no:cacheprovider", "--assert=plain", "-p", "no:hypothesispytest",
                                        "-p", "no:unraisableexception", guard]))
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        deadline = time.monotonic() + TIMEOUT
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return {"code": None, "tail": [f"timed out after {TIMEOUT} s"]}
            time.sleep(0.05)
        output.seek(0)
        return {"code": os.waitstatus_to_exitcode(status), "tail": output.read().strip().splitlines()[-1:]}


def main():
    for line in sys.stdin:
        name, guard = line.split(maxsplit=1)
        print(json.dumps(run(name, guard.strip())), flush=True)


if __name__ == "__main__":
    main()
