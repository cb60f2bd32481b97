"""tf.distribute strategies by name, and who writes the artifacts.

`default` trains on one device; `mirrored` replicates over all GPUs, or over N
logical CPU devices on a host without GPUs (for tests and demos); `multiworker`
replicates over the machines that `TF_CONFIG` lists. Only the chief writes a run's
artifacts; the other workers write to a temporary folder they remove at the end.
"""

import json
import os

from kgan.errors import KganError

__all__ = ["STRATEGIES", "make_strategy", "is_chief"]

STRATEGIES = ("default", "mirrored", "multiworker")


def _split_cpu(tf, devices):
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current and len(current) == devices:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    except RuntimeError:
        raise KganError(
            f"cannot split the CPU into {devices} devices: TensorFlow has already started in this process; "
            "choose the strategy before anything else runs (a fresh `kgan train` does)"
        ) from None


def make_strategy(name="default", devices=None):
    """Returns a `tf.distribute.Strategy` for a name in `STRATEGIES`.

    Args:
        name: `"default"`, `"mirrored"` or `"multiworker"`.
        devices: for `mirrored`, how many devices: the first N GPUs, or N logical
            CPU devices when there is no GPU. Default: all GPUs, or 2 CPU devices.

    Example:
        >>> strategy = make_strategy("mirrored", devices=2)   # on a CPU-only host
        >>> strategy.num_replicas_in_sync
        2
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise KganError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}")
    if devices is not None and (name != "mirrored" or int(devices) < 1):
        raise KganError("--devices goes with --strategy mirrored and must be at least 1")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise KganError("--strategy multiworker reads the cluster from TF_CONFIG: set it on every worker")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except ValueError:
            raise KganError("TF_CONFIG is not valid JSON: see docs/guides/scale.md, 'Several machines'") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        count = int(devices or len(gpus))
        if count > len(gpus):
            raise KganError(f"--devices {count}: this machine has {len(gpus)} GPUs")
        return tf.distribute.MirroredStrategy([f"/gpu:{i}" for i in range(count)])
    count = int(devices or 2)
    _split_cpu(tf, count)
    return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(count)])


def is_chief():
    """True unless `TF_CONFIG` names this process a non-chief worker."""
    spec = os.environ.get("TF_CONFIG")
    if not spec:
        return True
    try:
        config = json.loads(spec)
    except ValueError:
        return True
    task = config.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    if kind == "chief":
        return True
    return kind == "worker" and index == 0 and "chief" not in config.get("cluster", {})
