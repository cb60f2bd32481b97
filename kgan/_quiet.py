"""A quiet start for TensorFlow: its C++ runtime writes start-up lines (oneDNN, CUDA drivers,
`cuInit`) straight to file descriptor 2 while it loads, before `TF_CPP_MIN_LOG_LEVEL` applies.

`import kgan` installs `QuietTensorFlowStart`, which hides them the first time TensorFlow is
imported (by kgan, Keras or the user), unless the user chose TensorFlow's log level
(`TF_CPP_MIN_LOG_LEVEL` is set) or asked to see them (`KGAN_TF_LOGS=1`). The command line
does the same. No TensorFlow here: this module only wraps its import.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import sys


@contextlib.contextmanager
def stderr_silenced():
    """Points file descriptor 2 at /dev/null (C++ libraries write there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def wanted():
    """Whether TensorFlow's start-up lines should be hidden in this process."""
    return "TF_CPP_MIN_LOG_LEVEL" not in os.environ and not os.environ.get("KGAN_TF_LOGS")


class QuietTensorFlowStart(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, as the other finders would, and runs its import (and the device
    discovery that logs too) with file descriptor 2 silenced; then steps aside."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        uninstall()
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            with stderr_silenced():
                run(module)
                module.config.list_physical_devices("GPU")

        spec.loader.exec_module = exec_module
        return spec


def install():
    """Hides TensorFlow's start-up lines at its first import, where `wanted()`."""
    if wanted() and "tensorflow" not in sys.modules and not any(
            isinstance(f, QuietTensorFlowStart) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietTensorFlowStart())


def uninstall():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, QuietTensorFlowStart)]
