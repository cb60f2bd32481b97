"""The package's layers hold (import-linter), and modules that moved keep their old import paths."""

import importlib
import os
import shutil
import subprocess
import sys
import warnings

import pytest

import kgan._moved

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("old, new", sorted(kgan._moved.MOVED.items()))
def test_an_old_import_path_warns_and_gives_the_moved_module_itself(old, new):
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert [str(w.message) for w in caught if w.category is DeprecationWarning] == [
        f"{old} moved to {new}: import it from there"]


def test_names_from_an_old_path_are_the_moved_objects():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kgan.inference import GeneratorRuntime
        from kgan.metrics.features import DomainFeatures
    from kgan.features import DomainFeatures as moved_features
    from kgan.runtime.inference import GeneratorRuntime as moved_runtime

    assert GeneratorRuntime is moved_runtime and DomainFeatures is moved_features


def test_the_import_contracts_hold():
    """`lint-imports` (contracts in pyproject.toml): the layers, and no TensorFlow under kgan.runtime."""
    command = shutil.which("lint-imports")
    if command is None:
        pytest.skip("import-linter is not installed: pip install -e '.[test]'")
    result = subprocess.run([command, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "2 kept, 0 broken" in result.stdout


# The kgan imports left inside functions, each with its reason: the CLI loads the training side only
# in the commands that need it; training's go when TrainConfig leaves it (presets import TrainConfig,
# and listing presets must not load TensorFlow).
FUNCTION_IMPORTS = {"kgan/cli.py": 4, "kgan/cli_train.py": 1}


def test_kgan_modules_import_each_other_at_the_top():
    sys.path.insert(0, os.path.join(ROOT, "tests", "scripts"))
    try:
        from function_imports import function_imports
    finally:
        sys.path.pop(0)
    counts = {os.path.relpath(os.path.join(ROOT, path), ROOT): n
              for path, n in function_imports(os.path.join(ROOT, "kgan")).items()}
    assert counts == FUNCTION_IMPORTS, counts
