"""The parity check: Keras, the SavedModel, onnxruntime and ONNX's reference evaluator agree on
batches of 1 and 37 within each output's tolerance, or the export fails."""

import numpy as np

from kgan.errors import KganError

PARITY_BATCHES = (1, 37)
REFERENCE_BATCH = 3


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _worst(spec, got, expected):
    """The largest |difference| over the outputs, and the outputs beyond their limit."""
    worst, failed = 0.0, []
    for name, output in spec.outputs.items():
        diff = _max_diff(got[name], expected[name])
        worst = max(worst, diff)
        scale = max(1.0, float(np.max(np.abs(expected[name])))) if output.relative else 1.0
        if not diff <= output.limit * scale:
            failed.append(name)
    return worst, failed


def _parity(spec, saved_fn, onnx_model, seed=0):
    """Max |diff| of SavedModel, onnxruntime and the ONNX reference evaluator vs Keras."""
    import onnxruntime as ort
    import tensorflow as tf
    from onnx.reference import ReferenceEvaluator

    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    rng = np.random.default_rng(seed)
    figures = {"keras_vs_saved_model": 0.0, "keras_vs_onnxruntime": 0.0}
    failed = set()

    by_group = {name: {} for name in spec.groups}

    def record(key, got, expected, feeds):
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
