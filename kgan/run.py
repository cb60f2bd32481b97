"""A run folder, as `kgan train` writes it and every job reads it: `model.keras`, `config.json`,
a text run's maximum-likelihood start (`mle.keras`), and the digest that ties an export to the
model it was made from.

Example:
    >>> gan, config = load_run("saved_models/digits")  # doctest: +SKIP
"""

import contextlib
import hashlib
import json
import os

import keras

from kgan import load_model
from kgan.errors import KganError

__all__ = ["load_run", "load_mle_start", "float32_policy", "file_sha256", "MLE_START"]

MLE_START = "mle.keras"  # a text run's generator after its maximum-likelihood pretraining


@contextlib.contextmanager
def float32_policy():
    """Keras' global dtype policy set to float32 inside the block."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def load_run(run_dir):
    """Loads `RUN_DIR/model.keras` (in float32) and the run's `config.json` (if any).

    Returns:
        `(gan, config dict)`.
    """
    path = os.path.join(run_dir, "model.keras")
    if not os.path.isdir(run_dir):
        raise KganError(f"no such run directory: {run_dir}; train one with `kgan train --out {run_dir}`")
    if not os.path.isfile(path):
        raise KganError(f"{run_dir} has no model.keras: give a run directory written by `kgan train`")
    try:
        with float32_policy():  # exported models are float32 whatever the training precision
            gan = load_model(path)
    except Exception as error:  # a truncated zip, an unknown class, a version mismatch
        raise KganError(f"cannot load {path}: {str(error).splitlines()[0][:160]}") from None
    config = {}
    config_path = os.path.join(run_dir, "config.json")
    if os.path.isfile(config_path):
        with open(config_path) as handle:
            config = json.load(handle)
    return gan, config


def load_mle_start(run_dir):
    """The generator a text run's game started from (`RUN_DIR/mle.keras`, written after its
    maximum-likelihood pretraining), or None when the run has none."""
    path = os.path.join(run_dir, MLE_START)
    if not os.path.isfile(path):
        return None
    try:
        with float32_policy():
            return load_model(path)
    except Exception as error:
        raise KganError(f"cannot load {path}: {str(error).splitlines()[0][:160]}") from None


def file_sha256(path):
    """The SHA-256 of a file, read in blocks of 1 MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
