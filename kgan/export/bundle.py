"""`export_model`: one loop over the export specs writes the SavedModel, the ONNX files, their
metadata and `manifest.json`, each checked, into a staging folder that replaces the export whole;
`calibrate_export` refits the calibration an export carries."""

import dataclasses
import json
import os
import shutil

from kgan import __version__
from kgan.errors import KganError
from kgan.export.calibrate import _check_exported_from, auto_refit_steps, fit_export_calibration
from kgan.export.convert import _as_float32, _quiet_absl, _require_export_extras, _save_onnx, _to_onnx, _write_saved_model
from kgan.export.parity import _parity
from kgan.export.quantize import _fp16, _int8, _variant_report
from kgan.export.specs import export_specs
from kgan.models.base import protocol
from kgan.run import file_sha256, load_run
from kgan.runtime.images import check_writable_target, replace_dir, staging_dir

DEFAULT_OPSET = 17


@dataclasses.dataclass
class ExportResult:
    """What `export_model` wrote: the export folder, the SavedModel and the manifest."""

    out_dir: str
    saved_model_dir: str
    manifest: dict

    @property
    def generator_path(self):
        return os.path.join(self.out_dir, "generator.onnx")


def _metadata(facts, role, parity):
    return {
        "kgan.role": role,
        "kgan.version": facts["kgan_version"],
        "kgan.preset": facts["preset"],
        "kgan.kind": facts["kind"],
        "kgan.latent_dim": "" if facts["latent_dim"] is None else str(facts["latent_dim"]),
        "kgan.num_classes": "" if facts["num_classes"] is None else str(facts["num_classes"]),
        "kgan.output_shape": json.dumps(facts["output_shape"]),
        "kgan.value_range": json.dumps(facts["value_range"]),
        "kgan.opset": str(facts["opset"]),
        "kgan.ema": str(facts["ema"]),
        "kgan.parity": json.dumps(parity),
        "kgan.sample_spec": json.dumps(facts["sample_spec"]),
        "kgan.prior": json.dumps(facts["prior"]),
        **({"kgan.mixture": json.dumps(facts["mixture"])} if "mixture" in facts else {}),
        **({"kgan.calibration": json.dumps(facts["calibration"])}
           if "calibration" in facts and role in ("discriminator", "latent_energy") else {}),
    }


def export_model(source, out_dir=None, opset=DEFAULT_OPSET, fp16=False, int8=False, saved_model_dir=None, log=None,
                 calibration_data=None, refit_steps="auto"):
    """Exports a GAN's generator and discriminator to SavedModel and ONNX.

    Args:
        source: a run directory written by `kgan train` (holding `model.keras`) or
            a `kgan.GAN`.
        out_dir: the ONNX folder; default `export/<run name>`.
        opset: ONNX opset (tf2onnx 1.17 supports up to 18).
        fp16: also write `generator.fp16.onnx` (float16 inside, float32 I/O).
        int8: also write `generator.int8.onnx` (static QDQ quantization
            calibrated on latents).
        saved_model_dir: where the SavedModel goes; default `RUN_DIR/saved_model`
            (or `OUT_DIR/saved_model` for a GAN object).
        log: optional callable for progress lines.
        calibration_data: the real data (a data set name or path) the discriminator's
            calibration is fitted on; default the run's data set (for a GAN object: its
            `calibration`, if `GAN.calibrate` set one).
        refit_steps: first train the discriminator that is exported for this many steps
            against the fixed generator on that data (`GAN.refit_discriminator`); `"auto"`:
            `kgan.export.calibrate.auto_refit_steps` (twice the generator's training steps, at
            most 5,000, on the 2-D mixtures; none on other data). The run's `model.keras` keeps
            the discriminator it trained.

    Returns:
        an `ExportResult`.

    Example:
        >>> result = export_model("saved_models/digits")
        >>> result.manifest["parity"]["generator"]["keras_vs_onnxruntime"] < 1e-4
        True
    """
    _require_export_extras()

    if not 13 <= int(opset) <= 18:
        raise KganError(f"opset must be between 13 and 18 (tf2onnx 1.17 stops at 18), got {opset}")
    log = log or (lambda *_: None)
    model_digest = None
    if isinstance(source, (str, os.PathLike)):
        run_dir = os.fspath(source)
        gan, config = load_run(run_dir)
        model_digest = file_sha256(os.path.join(run_dir, "model.keras"))
        name = os.path.basename(os.path.normpath(os.path.abspath(run_dir)))
        out_dir = out_dir or os.path.join("export", name)
        saved_model_dir = saved_model_dir or os.path.join(run_dir, "saved_model")
    else:
        gan, config = _as_float32(source), {}
        name = "model"
        if out_dir is None:
            raise KganError("give out_dir when exporting a GAN object")
        saved_model_dir = saved_model_dir or os.path.join(out_dir, "saved_model")
    out_dir = os.path.normpath(out_dir)

    for path in (out_dir, saved_model_dir):
        check_writable_target(path, "export folder")

    spec = gan.sample_spec
    facts = {
        "kgan_version": __version__,
        "preset": config.get("preset", "custom"),
        "dataset": config.get("dataset"),
        "run": name,
        "kind": spec.kind,
        "latent_dim": gan.latent_dim,
        "num_classes": gan.num_classes,
        "output_shape": list(spec.shape),
        "value_range": None if spec.value_range is None else list(spec.value_range),
        "opset": int(opset),
        "ema": gan.ema if isinstance(gan.ema, (int, float)) else str(gan.ema),  # a schedule, described
        "sample_spec": spec.to_dict(),
        "prior": gan.latent_prior.to_dict(),
    }
    if model_digest:  # which model.keras this export was made from (kgan calibrate checks it)
        facts["model_sha256"] = model_digest
    if protocol(gan.generator).num_members:
        facts["mixture"] = {"members": gan.generator.num_members, "weights": list(gan.generator.mixture_weights)}
    specs = export_specs(gan)
    functions = {s.role: s.function() for s in specs}
    if any(s.role == "discriminator" for s in specs):
        calibration = fit_export_calibration(gan, calibration_data or config.get("dataset"), config, log,
                                             refit_steps=refit_steps)
        if calibration:
            facts["calibration"] = calibration

    staging = staging_dir(out_dir)
    inside = os.path.abspath(saved_model_dir).startswith(os.path.abspath(out_dir) + os.sep)
    if inside:  # written and moved together with the ONNX folder
        saved_staging = os.path.join(staging, os.path.relpath(saved_model_dir, out_dir))
    else:
        saved_staging = staging_dir(saved_model_dir)
    try:
        log("kgan: writing the SavedModel")
        import tensorflow as tf

        with _quiet_absl():  # "unsaved custom gradients": latent_energy's, never differentiated again
            _write_saved_model(specs, functions, saved_staging)
            loaded = tf.saved_model.load(saved_staging)
        log(f"kgan: converting to ONNX (opset {opset}) and checking parity")
        parity = {}
        for spec_ in specs:
            model = _to_onnx(functions[spec_.role], int(opset))
            parity[spec_.role] = _parity(spec_, loaded.signatures[spec_.endpoint], model)
            _save_onnx(model, os.path.join(staging, spec_.file), _metadata(facts, spec_.role, parity[spec_.role]))
        variants = {}
        fp32_path = os.path.join(staging, "generator.onnx")
        generator = specs[0]
        if fp16:
            log("kgan: writing the float16 variant")
            path = os.path.join(staging, "generator.fp16.onnx")
            _fp16(fp32_path, path)
            variants["fp16"] = _variant_report(generator, fp32_path, path)
        if int8:
            log("kgan: writing the int8 variant (static QDQ, calibrated on latents)")
            path = os.path.join(staging, "generator.int8.onnx")
            _int8(generator, fp32_path, path, staging)
            variants["int8"] = _variant_report(generator, fp32_path, path)
        models = {s.role: s.describe() for s in specs}
        manifest = dict(
            facts,
            models=models,
            # The generator's and discriminator's signatures as earlier manifests gave them.
            inputs={k: v["shape"] for k, v in models["generator"]["inputs"].items()},
            outputs={k: v["shape"] for k, v in models["generator"]["outputs"].items()},
            discriminator=None if "discriminator" not in models else {
                "inputs": list(models["discriminator"]["inputs"]),
                "outputs": {k: v["shape"] for k, v in models["discriminator"]["outputs"].items()},
            },
            parity=parity,
            variants=variants,
            files={f: file_sha256(os.path.join(staging, f)) for f in sorted(os.listdir(staging)) if f.endswith(".onnx")},
        )
        with open(os.path.join(staging, "manifest.json"), "w") as handle:
            json.dump(manifest, handle, indent=2)
        if not inside:
            replace_dir(saved_staging, saved_model_dir)
        replace_dir(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(saved_staging, ignore_errors=True)
    return ExportResult(out_dir=out_dir, saved_model_dir=saved_model_dir, manifest=manifest)


def calibrate_export(run_dir, out_dir=None, data=None, log=None, refit_steps=None):
    """Refits the calibration of `run_dir`'s discriminator on `data` (default: the run's data
    set) and writes it into its export (`out_dir`, default `export/<run name>`): the manifest
    and the metadata of discriminator.onnx and latent_energy.onnx, each file replaced whole.

    With `refit_steps` (default: the steps the export's discriminator was refit for, if any;
    `"auto"` as `export_model`) the discriminator is refit first, so its two models change: the
    run is exported again, with the same opset and variants; so it is with 0 on an export whose
    discriminator was refit, which gets the run's own back.

    Returns:
        the calibration, with `export` and `data`.
    """
    import onnx

    gan, config = load_run(run_dir)
    out_dir = out_dir or os.path.join("export", os.path.basename(os.path.normpath(os.path.abspath(run_dir))))
    manifest_path = os.path.join(out_dir, "manifest.json")
    if not os.path.isfile(manifest_path):
        raise KganError(f"{out_dir} holds no export: run `kgan export {run_dir}` first (or give --export DIR)")
    with open(manifest_path) as handle:
        manifest = json.load(handle)
    _check_exported_from(run_dir, out_dir, manifest)
    roles = [r for r in ("discriminator", "latent_energy") if r in manifest.get("models", {})]
    if "discriminator" not in roles:
        raise KganError(f"{out_dir} has no discriminator.onnx to calibrate: export the run again (`kgan export {run_dir}`)")
    data = data or config.get("dataset")
    if not data:
        raise KganError(f"{run_dir} does not say what it trained on: give the real data with --data")
    refit_before = (manifest.get("calibration") or {}).get("refit_steps", 0)
    if refit_steps is None:
        refit_steps = refit_before
    elif refit_steps == "auto":
        refit_steps = auto_refit_steps(gan, data)
    if refit_steps or refit_before:  # the exported discriminator changes (or goes back to the run's own)
        variants = manifest.get("variants") or {}
        result = export_model(run_dir, out_dir=out_dir, opset=manifest.get("opset", DEFAULT_OPSET), fp16="fp16" in variants,
                              int8="int8" in variants, log=log, calibration_data=data, refit_steps=refit_steps)
        return dict(result.manifest["calibration"], export=out_dir, data=data)
    calibration = fit_export_calibration(gan, data, config, log)
    staged = []
    try:
        for role in roles:
            path = os.path.join(out_dir, manifest["models"][role]["file"])
            model = onnx.load(path)
            props = {p.key: p.value for p in model.metadata_props}
            props["kgan.calibration"] = json.dumps(calibration)
            del model.metadata_props[:]
            temporary = path + ".partial"
            _save_onnx(model, temporary, props)
            staged.append((temporary, path))
            manifest.setdefault("files", {})[os.path.basename(path)] = file_sha256(temporary)
        manifest["calibration"] = calibration
        temporary = manifest_path + ".partial"
        with open(temporary, "w") as handle:
            json.dump(manifest, handle, indent=2)
        staged.append((temporary, manifest_path))
        for temporary, path in staged:
            os.replace(temporary, path)
    finally:
        for temporary, _ in staged:
            if os.path.exists(temporary):
                os.unlink(temporary)
    return dict(calibration, export=out_dir, data=data)
