"""Export a trained GAN's models to SavedModel and ONNX, each checked against Keras.

Each exported model is an `ExportSpec`: a role, a callable over named tensors, a named,
batch-dynamic input signature and named outputs with their comparison. The registered
builders (`EXPORTS`) make today's two: the generator takes the latent prior's inputs
(`z` float32 `[batch, latent_dim]`, and `label` int64 `[batch]` when conditional) and
returns the sample spec's tensor (`image` float32 NHWC in [-1, 1], or `sample` for
vectors); the discriminator takes that tensor (and `label`) and returns `logit` (float32
`[batch]`). One loop writes them all: SavedModel endpoints, ONNX conversion, the parity
check (Keras, the SavedModel, onnxruntime and ONNX's reference evaluator agree within
each output's tolerance on batches of 1 and 37, or the export fails and writes
nothing), metadata and `manifest.json`. A new exported model is one more builder.

Modules: `specs` (what is exported), `convert` (SavedModel and ONNX files), `parity`,
`quantize` (fp16, int8), `calibrate` (the discriminator's calibration), `bundle`
(`export_model`, `calibrate_export`); a run folder is read through `kgan.run`.
"""

from kgan.export.bundle import DEFAULT_OPSET, ExportResult, calibrate_export, export_model
from kgan.export.calibrate import REFIT_CAP, REFIT_SAMPLES, auto_refit_steps, fit_export_calibration
from kgan.export.convert import _as_float32, _require_export_extras, _to_onnx
from kgan.export.parity import PARITY_BATCHES, REFERENCE_BATCH, _parity
from kgan.export.specs import (EXPORTS, LATENT_ENERGY_BATCH, PARITY_TOLERANCE, ExportSpec, Output, _GRADIENTS,
                               _onnx_gradients, discriminator_export, export_specs, generator_export,
                               latent_energy_batch, latent_energy_export, register_export)
from kgan.run import file_sha256 as _sha256, load_run  # where they were read from before kgan.run

__all__ = ["PARITY_TOLERANCE", "ExportResult", "ExportSpec", "Output", "EXPORTS", "register_export", "export_specs",
           "export_model", "calibrate_export", "fit_export_calibration", "auto_refit_steps", "load_run"]
