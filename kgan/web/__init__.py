"""A static web site that samples an exported generator on the visitor's device.

The site is `index.html`, its script `kgan.js`, the export's `generator.onnx` (and
`discriminator.onnx`) and `manifest.json`: the export's manifest with a `web` section
that tells the page what it serves (the sample spec, the latent prior, each model's
named inputs and outputs) and where onnxruntime-web comes from. The page runs the
models with onnxruntime-web (`ORT_WEB_VERSION`) in its WebAssembly backend, or WebGPU
where the browser offers it, loaded from a CDN or from a local copy copied into
`ort/` (`ort_dir`: the npm package, for sites that must work offline). It needs no
server beyond static files; numpy and onnxruntime are what building it takes.

    kgan web EXPORT_DIR --out DIR [--ort-dir node_modules/onnxruntime-web]

Example:
    >>> site = build_site("export/digits", "site/digits", ort_dir="node_modules/onnxruntime-web")
    >>> sorted(site.files)[:3]
    ['discriminator.onnx', 'generator.onnx', 'index.html']
"""

import dataclasses
import json
import os
import shutil

from kgan.errors import KganError
from kgan.runtime.images import check_writable_target, replace_dir, staging_dir, usual_mode
from kgan.runtime.inference import GeneratorRuntime

__all__ = ["ORT_WEB_VERSION", "ORT_CDN", "ORT_FILES", "WebSite", "find_ort", "check_site_target", "site_facts",
           "build_site"]

ORT_WEB_VERSION = "1.30.0"
ORT_CDN = f"https://cdn.jsdelivr.net/npm/onnxruntime-web@{ORT_WEB_VERSION}/dist/"
# The page loads one bundle: WebAssembly only, or WebGPU (with WebAssembly for what WebGPU
# cannot run) where the browser offers WebGPU. Each imports its glue module and binary from
# the folder it came from.
ORT_FILES = {
    "wasm": ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"),
    "webgpu": ("ort.webgpu.min.js", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm"),
}
PAGE_FILES = ("index.html", "kgan.js")
SITE_ROLES = ("generator", "discriminator")
_HERE = os.path.dirname(os.path.abspath(__file__))


@dataclasses.dataclass
class WebSite:
    """A written site: its folder, `{relative path: bytes}` of its files, and where the page
    loads onnxruntime-web from (`ort`: a URL, or `"ort/"` for the local copy)."""

    out_dir: str
    files: dict
    ort: str

    @property
    def size(self):
        return sum(self.files.values())


def find_ort(path):
    """The folder holding onnxruntime-web's files under `path` (the npm package, its `dist/`,
    or a folder with `node_modules/onnxruntime-web`), and its version (None when unknown).

    Raises `KganError` when the files are missing or the version is not `ORT_WEB_VERSION`.
    """
    path = os.fspath(path)
    install = f"npm install onnxruntime-web@{ORT_WEB_VERSION}"
    if not os.path.isdir(path):
        raise KganError(f"--ort-dir {path} is not a folder: {install} and pass node_modules/onnxruntime-web")
    wanted = [name for files in ORT_FILES.values() for name in files]
    for folder in (path, os.path.join(path, "dist"), os.path.join(path, "node_modules", "onnxruntime-web", "dist")):
        if all(os.path.isfile(os.path.join(folder, name)) for name in wanted):
            break
    else:
        raise KganError(f"--ort-dir {path} does not hold onnxruntime-web's {', '.join(wanted[:3])} and the WebGPU "
                        f"bundle: {install} and pass node_modules/onnxruntime-web")
    version = None
    package = os.path.join(os.path.dirname(os.path.abspath(folder)), "package.json")
    if os.path.isfile(package):
        try:
            with open(package) as handle:
                version = json.load(handle).get("version")
        except (OSError, ValueError):
            version = None
    if version is not None and version != ORT_WEB_VERSION:
        raise KganError(f"--ort-dir {path} is onnxruntime-web {version}; the page is built for {ORT_WEB_VERSION}: "
                        f"{install}")
    return folder, version


def check_site_target(out_dir, export_dir=None):
    """Raises `KganError` unless `out_dir` can become a site: new, empty, or an earlier site,
    and neither the export folder nor inside it."""
    check_writable_target(out_dir, "web folder")
    target = os.path.abspath(out_dir)
    if export_dir is not None:
        source = os.path.abspath(export_dir)
        if target == source or target.startswith(source + os.sep):
            raise KganError(f"--out {out_dir} is the export folder or inside it: write the site to a folder of its own")
    if os.path.isdir(target) and os.listdir(target) and not _is_site(target):
        raise KganError(f"{out_dir} holds other files: give a new or empty folder, or an earlier kgan web site")


def _is_site(folder):
    try:
        with open(os.path.join(folder, "manifest.json")) as handle:
            return "web" in json.load(handle) and os.path.isfile(os.path.join(folder, "kgan.js"))
    except (OSError, ValueError, TypeError):
        return False


_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64",
           "tensor(int32)": "int32"}


def _io(args):
    """`{name: {"dtype", "shape"}}` of a session's inputs or outputs (None for dynamic axes)."""
    return {arg.name: {"dtype": _DTYPES.get(arg.type, arg.type),
                       "shape": [d if isinstance(d, int) else None for d in arg.shape]} for arg in args}


def site_facts(runtime):
    """The `web` section of a site's manifest, read from an export's `GeneratorRuntime` (so
    exports that predate sample specs and priors get them from their metadata)."""
    models = {}
    for role in SITE_ROLES:
        if role == "discriminator" and not runtime.has_discriminator:
            continue
        model = runtime.model_for(role)
        models[role] = {"file": f"{role}.onnx", "source": model.path, "inputs": _io(model.session.get_inputs()),
                        "outputs": _io(model.session.get_outputs())}
    return {
        "ort_web_version": ORT_WEB_VERSION,
        "sample_spec": runtime.sample_spec.to_dict(),
        "tensor_name": runtime.sample_spec.tensor_name,  # the generator's output, the discriminator's input
        "prior": runtime.prior.to_dict(),
        "models": models,
        "calibration": runtime.calibration if runtime.has_discriminator else None,
        # The model card, without what only holds on the machine that built the site.
        "card": {k: v for k, v in runtime.describe().items() if k not in ("path", "providers")},
    }


def build_site(export_dir, out_dir, ort_dir=None, log=None):
    """Writes the static site of an export.

    Args:
        export_dir: an export folder of `kgan export` (holding `generator.onnx`).
        out_dir: the site's folder; replaced whole if it holds an earlier site.
        ort_dir: a local onnxruntime-web (the npm package) to copy into `ort/`; default: the
            page loads it from `ORT_CDN`, which needs the visitor to be online.
        log: optional callable for progress lines.

    Returns:
        a `WebSite`.
    """
    log = log or (lambda *_: None)
    export_dir, out_dir = os.fspath(export_dir), os.path.normpath(os.fspath(out_dir))
    if not os.path.isdir(export_dir):
        raise KganError(f"{export_dir} is not an export folder: export a run with `kgan export RUN_DIR`")
    ort_folder = find_ort(ort_dir)[0] if ort_dir is not None else None
    check_site_target(out_dir, export_dir)
    runtime = GeneratorRuntime(export_dir)
    facts = site_facts(runtime)
    manifest = dict(runtime.manifest or {})  # None when missing or unreadable: the metadata says enough
    staging = staging_dir(out_dir)
    try:
        for role, model in facts["models"].items():
            shutil.copyfile(model.pop("source"), os.path.join(staging, model["file"]))
        for name in PAGE_FILES:
            shutil.copyfile(os.path.join(_HERE, name), os.path.join(staging, name))
        if ort_folder:
            log(f"kgan: copying onnxruntime-web {ORT_WEB_VERSION} from {ort_folder}")
            os.makedirs(os.path.join(staging, "ort"))
            for name in (n for files in ORT_FILES.values() for n in files):
                shutil.copyfile(os.path.join(ort_folder, name), os.path.join(staging, "ort", name))
            for notice in ("package.json", "README.md"):  # the package states its MIT licence
                source = os.path.join(os.path.dirname(os.path.abspath(ort_folder)), notice)
                if os.path.isfile(source):
                    shutil.copyfile(source, os.path.join(staging, "ort", notice))
        facts["ort"] = "ort/" if ort_folder else ORT_CDN
        manifest["web"] = facts
        with open(os.path.join(staging, "manifest.json"), "w") as handle:
            json.dump(manifest, handle, indent=2)
        for root, _, names in os.walk(staging):
            for name in names:
                os.chmod(os.path.join(root, name), usual_mode(0o666))
        files = {os.path.relpath(os.path.join(root, name), staging): os.path.getsize(os.path.join(root, name))
                 for root, _, names in os.walk(staging) for name in names}
        replace_dir(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return WebSite(out_dir=out_dir, files=dict(sorted(files.items())), ort=facts["ort"])
