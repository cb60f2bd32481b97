"""The parity check: Keras, the SavedModel, onnxruntime and ONNX's reference evaluator agree on
batches of 1 and 37 within each output's tolerance, or the export fails."""

import numpy as np

from kgan.errors import KganError

PARITY_BATCHES = (1, 37)
REFERENCE_BATCH = 3

# A gradient through ReLUs jumps where a unit's input crosses 0; rounding in another runtime can
# put a row on the other side. Keras is asked again a step this long (relative to the input's
# largest |value|) away, both ways: on digits, 1 row in 6,400 sat on a kink (its gradient off by
# 1e-2 of the largest), and a step of 1e-5 moves a smooth row's gradient by 1e-6.
KINK_STEP = 1e-5
# ...for at most this fraction of a batch's rows (at least one): more is a wrong conversion.
KINK_ROWS = 0.05


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _worst(spec, got, expected):
    """The largest |difference| over the outputs, and the outputs beyond their limit."""
    worst, failed = 0.0, []
    for name in spec.outputs:
        diff = _max_diff(got[name], expected[name])
        worst = max(worst, diff)
        if not diff <= _limits(spec, name, expected[name]):
            failed.append(name)
    return worst, failed


def _limits(spec, name, expected):
    output = spec.outputs[name]
    return output.limit * (max(1.0, float(np.max(np.abs(expected)))) if output.relative else 1.0)


def one_sided(spec, got, expected, feeds, rng):
    """`expected` with the rows that sit on a kink taken from Keras a tiny step away.

    For each output with `kinks` (a gradient through ReLUs over that input), each row beyond its
    limit is moved `KINK_STEP` along a random direction of the input, one way then the other;
    where Keras's output there matches `got`'s row within the limit, the row sat on a kink (the
    gradient's two values) and that output replaces Keras's. At most `KINK_ROWS` of the rows:
    beyond that nothing is replaced, and the check fails as it would.

    Returns:
        `(expected, rows)`: the outputs to compare against and how many rows were replaced.
    """
    expected, settled = dict(expected), 0
    for name, output in spec.outputs.items():
        if not output.kinks:
            continue
        limit = _limits(spec, name, expected[name])
        diff = np.abs(np.asarray(got[name], np.float64) - np.asarray(expected[name], np.float64))
        rows = np.flatnonzero(diff.reshape(len(diff), -1).max(axis=1) > limit)
        if not len(rows) or len(rows) > max(1, int(KINK_ROWS * len(diff))):
            continue
        x = np.asarray(feeds[output.kinks])
        step = rng.standard_normal(x[rows].shape)
        step *= KINK_STEP * max(1.0, float(np.max(np.abs(x)))) / np.linalg.norm(
            step.reshape(len(rows), -1), axis=1).reshape(-1, *[1] * (x.ndim - 1))
        fixed, pending = np.array(expected[name]), np.ones(len(rows), bool)
        for sign in (1.0, -1.0):
            moved = x.copy()
            moved[rows] = (x[rows] + sign * step).astype(x.dtype)
            near = spec.keras_outputs({**feeds, output.kinks: moved})[name]
            close = np.abs(np.asarray(got[name], np.float64)[rows] - near[rows]).reshape(len(rows), -1).max(axis=1)
            matched = pending & (close <= limit)
            fixed[rows[matched]] = near[rows[matched]]
            settled += int(matched.sum())
            pending &= ~matched
            if not pending.any():
                break
        expected[name] = fixed
    return expected, settled


def _parity(spec, saved_fn, onnx_model, seed=0):
    """Max |diff| of SavedModel, onnxruntime and the ONNX reference evaluator vs Keras."""
    import onnxruntime as ort
    import tensorflow as tf
    from onnx.reference import ReferenceEvaluator

    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    rng, kink_rng = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    figures = {"keras_vs_saved_model": 0.0, "keras_vs_onnxruntime": 0.0}
    failed = set()

    by_group = {name: {} for name in spec.groups}

    def record(key, got, expected, feeds):
        expected, settled = one_sided(spec, got, expected, feeds, kink_rng)
        if settled:  # how many rows sat on a kink, by comparison
            kinked = figures.setdefault("rows_on_a_kink", {})
            kinked[key] = kinked.get(key, 0) + settled
        worst, beyond = _worst(spec, got, expected)
        figures[key] = max(figures.get(key, 0.0), worst)
        failed.update(key for _ in beyond)
        for name, values in by_group.items():  # the same figure for each group's rows
            for value in np.unique(feeds[name]):
                rows = feeds[name] == value
                diff = max(_max_diff(got[o][rows], expected[o][rows]) for o in spec.outputs)
                values[int(value)] = max(values.get(int(value), 0.0), diff)

    batches = [spec.batch] if spec.batch else PARITY_BATCHES
    for batch in batches:
        feeds = spec.feeds(batch, rng)
        expected = spec.keras_outputs(feeds)
        saved = saved_fn(**{k: tf.constant(v) for k, v in feeds.items()})
        record("keras_vs_saved_model", {k: v.numpy() for k, v in saved.items()}, expected, feeds)
        record("keras_vs_onnxruntime", dict(zip(names, session.run(None, feeds))), expected, feeds)
    reference_batch = spec.batch or max([REFERENCE_BATCH, *spec.groups.values()])
    feeds = spec.feeds(reference_batch, rng)
    reference = dict(zip(names, ReferenceEvaluator(onnx_model).run(None, feeds)))
    record("keras_vs_onnx_reference", reference, spec.keras_outputs(feeds), feeds)
    tolerance = max(o.limit for o in spec.outputs.values())
    figures.update(batches=list(batches), reference_batch=reference_batch, tolerance=tolerance)
    if any(o.relative for o in spec.outputs.values()):
        figures["tolerance_relative_to"] = "the largest |value| of each output"
    for name, values in by_group.items():
        figures[f"by_{name}"] = {str(k): values[k] for k in sorted(values)}
    if failed:
        details = ", ".join(f"{k} {figures[k]:.2e}" for k in sorted(failed))
        raise KganError(f"{spec.role} export failed its parity check ({details} > {tolerance:g}); nothing was written")
    return figures
