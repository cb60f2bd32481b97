"""Sampling from an exported generator with onnxruntime: no TensorFlow, no Keras.

Needs numpy, Pillow and onnxruntime only, so it runs on servers and edge devices
where the training stack is not installed. The model's facts (latent size, classes,
output shape) come from the ONNX file's own metadata, so the `.onnx` file is all a
runtime needs; `discriminator.onnx` beside it enables `score`.

Example:
    >>> from kgan.runtime.inference import GeneratorRuntime
    >>> runtime = GeneratorRuntime("export/digits")
    >>> images = runtime.generate(16, seed=0)          # uint8 [16, 8, 8, 1]
    >>> runtime.providers
    ['CPUExecutionProvider']
"""

import json
import math
import os

import numpy as np

from kgan.errors import KganError
from kgan.runtime.critic import Critic
from kgan.runtime.labels import resolve_labels
from kgan.runtime.latent import LatentPrior, latents
from kgan.runtime.restore import Task, restore
from kgan.runtime.samplers import get_sampler
from kgan.runtime.samples import SampleSpec, get_kind

__all__ = ["GeneratorRuntime", "OnnxModel", "PROVIDER_PREFERENCE", "latents"]

PROVIDER_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise KganError("sampling needs onnxruntime: pip install onnxruntime (or 'kgan[export]')") from None
    return onnxruntime


def _providers(ort, providers):
    if providers == "auto":
        available = set(ort.get_available_providers())
        return [p for p in PROVIDER_PREFERENCE if p in available] or ["CPUExecutionProvider"]
    return list(providers)


class OnnxModel:
    """One exported kgan model in an onnxruntime session, fed by input name.

    Args:
        path: the `.onnx` file.
        role: the `kgan.role` its metadata must name (`"generator"`, `"discriminator"`, ...).
        providers: as for `GeneratorRuntime`.
        batch_size: rows per session run; longer inputs run in chunks.

    `run(feeds)` returns every named output, each with the dtype the model gives.
    """

    def __init__(self, path, role, providers="auto", batch_size=256):
        ort = _onnxruntime()
        self.path = os.fspath(path)
        self.role = role
        self.batch_size = int(batch_size)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # GPU providers that cannot start warn; get_providers() tells
        try:
            self.session = ort.InferenceSession(self.path, sess_options=options, providers=_providers(ort, providers))
        except Exception as error:
            first = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
            raise KganError(f"{self.path} is not a loadable ONNX model ({first}); export one with `kgan export`") from None
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        if "kgan.role" not in meta or (role == "generator" and "kgan.latent_dim" not in meta):
            raise KganError(f"{self.path} is an ONNX model without kgan metadata: export it with `kgan export`")
        if meta["kgan.role"] != role:
            raise KganError(f"{self.path} is a kgan {meta['kgan.role']}, not a {role}: give {role}.onnx")
        self.metadata = meta
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.providers = self.session.get_providers()
        first = self.session.get_inputs()[0].shape[0]
        self.fixed_batch = first if isinstance(first, int) else None  # latent_energy.onnx's

    def run(self, feeds):
        """`{output name: array}` for named inputs of equal length, in chunks of `batch_size`
        (of the model's own batch, the last one padded, when it has a fixed one)."""
        missing = [name for name in self.input_names if name not in feeds]
        if missing:
            raise KganError(f"{self.path} needs the inputs {', '.join(self.input_names)}; missing {', '.join(missing)}")
        rows = len(next(iter(feeds.values())))
        size = self.fixed_batch or self.batch_size
        chunks = []
        for start in range(0, rows, size):
            chunk = {name: np.asarray(feeds[name][start : start + size]) for name in self.input_names}
            short = size - len(next(iter(chunk.values()))) if self.fixed_batch else 0
            if short:
                chunk = {k: np.concatenate([v, np.repeat(v[-1:], short, axis=0)]) for k, v in chunk.items()}
            outputs = self.session.run(None, chunk)
            chunks.append([o[: size - short] for o in outputs])
        return {name: np.concatenate([c[i] for c in chunks]) for i, name in enumerate(self.output_names)}


def _read_manifest(folder):
    path = os.path.join(folder, "manifest.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _sample_spec(meta):
    """The generator's `SampleSpec`, from its metadata (exports before sample specs: from its shape)."""
    if meta.get("kgan.sample_spec"):
        return SampleSpec.from_dict(json.loads(meta["kgan.sample_spec"]))
    shape = json.loads(meta["kgan.output_shape"])
    kind = meta.get("kgan.kind") or SampleSpec.infer(shape).kind
    value_range = json.loads(meta.get("kgan.value_range", "null"))
    return SampleSpec(kind, shape, value_range=value_range or get_kind(kind).default_range)


def _prior(meta):
    if meta.get("kgan.prior"):
        return LatentPrior.from_dict(json.loads(meta["kgan.prior"]))
    classes = meta.get("kgan.num_classes", "")
    return LatentPrior.for_generator(int(meta["kgan.latent_dim"]), int(classes) if classes else None)


class GeneratorRuntime:
    """An exported kgan generator served by onnxruntime.

    Args:
        path: `generator.onnx` (or any kgan generator .onnx, such as the fp16 and int8
            variants), or an export folder holding `generator.onnx`.
        providers: `"auto"` picks TensorRT, then CUDA, then CPU among the providers
            this onnxruntime build offers; or an explicit list.
        batch_size: samples per session run; larger requests run in chunks.

    Attributes:
        providers: the execution providers the session really uses (onnxruntime
            falls back to CPU silently when a GPU provider cannot start).
        metadata: the model's kgan metadata; `latent_dim`, `num_classes`,
            `output_shape`, `kind` are also attributes.
        sample_spec: what the generator makes (`kgan.runtime.samples.SampleSpec`).
        prior: its named inputs and how a seed draws them (`kgan.runtime.latent.LatentPrior`).
    """

    def __init__(self, path, providers="auto", batch_size=256):
        path = os.fspath(path)
        if os.path.isdir(path):
            folder = path
            manifest = _read_manifest(folder) or {}
            path = os.path.join(folder, manifest.get("models", {}).get("generator", {}).get("file", "generator.onnx"))
            if not os.path.isfile(path):
                raise KganError(f"{folder} has no generator.onnx: export a run with `kgan export RUN_DIR`")
        if not os.path.isfile(path):
            raise KganError(f"no such model file: {path}")
        self.path = path
        self.batch_size = int(batch_size)
        self.model = OnnxModel(path, "generator", providers, batch_size)
        self.session = self.model.session
        self.metadata = self.model.metadata
        self.sample_spec = _sample_spec(self.metadata)
        self.prior = _prior(self.metadata)
        self.latent_dim = int(self.metadata["kgan.latent_dim"]) if self.metadata["kgan.latent_dim"] else None
        classes = self.metadata.get("kgan.num_classes", "")
        self.num_classes = int(classes) if classes else None
        self.output_shape = self.sample_spec.shape
        self.kind = self.sample_spec.kind
        self.value_range = tuple(self.sample_spec.value_range or (-1.0, 1.0))
        self.providers = self.model.providers
        folder = os.path.dirname(os.path.abspath(path))
        self.manifest = _read_manifest(folder)
        self._models = {"generator": self.model}
        self._paths = {role: os.path.join(folder, entry["file"])
                       for role, entry in (self.manifest or {}).get("models", {}).items()}
        self._paths.setdefault("discriminator", os.path.join(folder, "discriminator.onnx"))
        self._requested_providers = providers

    # -- loading -------------------------------------------------------------

    def model_for(self, role):
        """The `OnnxModel` of another role of this export.

        Args:
            role: `"generator"`, `"discriminator"` or `"latent_energy"`: found by `manifest.json`,
                else as `<role>.onnx` beside the generator.

        Returns:
            Its `OnnxModel` (loaded once, then kept).

        Raises:
            KganError: when the export has no such model.
        """
        if role not in self._models:
            path = self._paths.get(role) or os.path.join(os.path.dirname(os.path.abspath(self.path)), f"{role}.onnx")
            if not os.path.isfile(path):
                raise KganError(f"no {role}.onnx beside {self.path}: export with `kgan export`")
            self._models[role] = OnnxModel(path, role, self._requested_providers, self.batch_size)
        return self._models[role]

    @property
    def conditional(self):
        return self.num_classes is not None

    @property
    def has_discriminator(self):
        return os.path.isfile(self._paths["discriminator"])

    # -- validation ----------------------------------------------------------

    @staticmethod
    def _check_count(n):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise KganError(f"n must be a positive integer, got {n!r}")
        return int(n)

    @staticmethod
    def _check_truncation(truncation):
        try:
            value = float(truncation)
        except (TypeError, ValueError):
            raise KganError(f"truncation must be a number in (0, 2], got {truncation!r}") from None
        if not math.isfinite(value) or not 0.0 < value <= 2.0:
            raise KganError(f"truncation must be a finite number in (0, 2], got {truncation!r}")
        return value

    def _labels(self, n, labels):
        return resolve_labels(n, labels, self.num_classes)

    # -- sampling ------------------------------------------------------------

    def _output(self, feeds):
        return self.model.run(feeds)[self.sample_spec.tensor_name]

    def _conditioning(self, n, labels):
        labels = self._labels(n, labels)
        return {} if labels is None else {"label": labels}

    def run(self, z, labels=None):
        """Runs the generator on given latents, in chunks of `batch_size`.

        Args:
            z: latents `[n, latent_dim]`.
            labels: for conditional models, one label or `n` labels; default cycles through the classes.

        Returns:
            The raw outputs `[n, ...]`, float32.
        """
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise KganError(f"z must have shape [n, {self.latent_dim}], got {z.shape}")
        return self._output({"z": z, **self._conditioning(len(z), labels)}).astype(np.float32)

    def run_feeds(self, feeds):
        """Runs the generator on named inputs, for generators that take more than `z` and labels.

        Args:
            feeds: `{input name: array [n, ...]}`, as `prior.draw` gives them.

        Returns:
            `{output name: array}`, each with its dtype.
        """
        return self.model.run(feeds)

    def sample(self, n=None, seed=None, labels=None, truncation=1.0, **given):
        """`n` raw samples as the generator makes them.

        Args:
            n: number of samples (for a generator that takes an image: None, or the images given).
            seed: latent seed; the same seed gives the same samples.
            labels: for conditional models, one label or `n` labels; default cycles through the classes.
            truncation: latent scale in (0, 2]; 1 is off.
            **given: values of the generator's other named inputs (a mixture's `member`).

        Returns:
            Float32 images in [-1, 1] `[n, H, W, C]` (clips `[n, T, H, W, C]`), vectors `[n, d]`,
            or token ids for text.
        """
        if self.takes_image:
            return self.restore(n=n, **given)
        n = self._check_count(n)
        truncation = self._check_truncation(truncation)
        feeds = self.prior.draw(n, seed, truncation, **self._conditioning(n, labels), **given)
        return self._output(feeds).astype(self.sample_spec.dtype)

    @property
    def takes_image(self):
        """Whether the generator restores an image (`image` input) rather than sampling from latents."""
        return "image" in self.prior.names

    @property
    def task(self):
        """The `kgan.runtime.restore.Task` its inputs come from (None for a generator of latents)."""
        return Task.parse(self.prior["image"].task or "paired") if self.takes_image else None

    def restore(self, image, mask=None, n=None, tile=256):
        """The generator's outputs for input images of any size (padded, and tiled above `tile`).

        Args:
            image: one image `[H, W, C]` or a batch `[n, H, W, C]`: uint8, or float in [-1, 1],
                made as the task makes inputs (the small image for super-resolution, the noisy one
                for denoising, the image with its hole for inpainting).
            mask: inpainting's `[H, W, 1]` or `[n, H, W, 1]`, 1 where missing (default: the task's region).
            n: the number of images, when given as a check.
            tile: largest input side run at once.

        Returns:
            float32 `[n, H * factor, W * factor, C]` in the model's range (before clipping).
        """
        if image is None:
            raise KganError("this generator restores an image: give image=... (an array, or --input FILE)")
        spec = self.prior["image"]
        images = spec.draw(None, None, given=image)
        if n is not None and self._check_count(n) != len(images):
            raise KganError(f"n is {n} but {len(images)} image(s) were given: leave n out")
        masks = None if mask is None else self.prior["mask"].draw(None, None, given=mask)
        return restore(lambda feeds: self._output(feeds), self.task, images, masks, multiple=spec.multiple, tile=tile)

    def generate(self, n=None, seed=None, labels=None, truncation=1.0, sampler=None, **given):
        """`n` samples: uint8 NHWC images, float32 vectors for 2-D generators, strings for text; for a
        generator that takes an image, the restored `image=...` (and `mask=...`) as uint8.

        Args:
            n: number of samples (None with `image=`).
            seed: latent seed; the same seed gives the same samples.
            labels: for conditional models, one label or `n` labels; default cycles
                through the classes.
            truncation: latent scale in (0, 2]; below 1 trades variety for typicality.
            sampler: choose among proposals with the exported discriminator: a
                `kgan.runtime.samplers` name (`"topk"`, `"topk:k=8"`) or a `Sampler`; then
                `labels` is one label or None.
            **given: values of the generator's other inputs, e.g. `member=2` for one
                member of a mixture (default: drawn from its weights), or `image=` (and `mask=`).
        """
        if sampler is not None:
            return self.generate_with(sampler, n, seed, labels, truncation, **given)["samples"]
        return get_kind(self.sample_spec).to_display(self.sample(n, seed, labels, truncation, **given),
                                                     self.sample_spec)

    def generate_with(self, sampler, n, seed=None, labels=None, truncation=1.0, **given):
        """What a sampler chose, with what it cost.

        `drs`, `mh` and `langevin` read the calibrated logit, so they need an export with a
        calibration (`kgan calibrate`).

        Args:
            sampler: a name with options (`"topk:k=8"`, `"drs"`, `"mh:k=32"`, `"langevin"`) or a
                `kgan.runtime.samplers.Sampler`.
            n: number of samples.
            seed: seed of the proposals and of the sampler's own draws.
            labels: for conditional models, one label or `n` labels.
            truncation: latent scale in (0, 2] of the proposals.
            **given: values of the generator's other named inputs.

        Returns:
            A `kgan.runtime.samplers.Chosen`: `["samples"]` as `generate` gives them, `["scores"]`
            the logits it read, and `.report` (proposals, acceptance rate, seconds).
        """
        if not self.has_discriminator:
            name = get_sampler(sampler, get_kind(self.sample_spec)).name
            raise KganError(f"the {name} sampler needs discriminator.onnx beside {self.path}: "
                            "export with `kgan export`")
        n = self._check_count(n)
        truncation = self._check_truncation(truncation)
        kind = get_kind(self.sample_spec)

        def latents(m, s):
            return self.prior.draw(m, s, truncation, **self._conditioning(m, labels), **given)

        def decode(feeds):
            return {"samples": kind.to_display(self._output(feeds).astype(self.sample_spec.dtype), self.sample_spec)}

        return self.critic.choose(sampler, self.sample_spec, n, seed, labels,
                                  draw=lambda m, s: self.generate(m, s, labels, truncation, **given),
                                  latents=latents, decode=decode)

    @property
    def critic(self):
        """The exported discriminator as a `kgan.runtime.critic.Critic`: its logits, its latent
        energy where `latent_energy.onnx` is beside the generator, the export's calibration."""
        def energy(feeds):
            out = self.model_for("latent_energy").run(feeds)
            return out["energy"], out["grad_z"]

        has_energy = os.path.isfile(self._paths.get("latent_energy") or os.path.join(
            os.path.dirname(os.path.abspath(self.path)), "latent_energy.onnx"))
        return Critic(self.score, self.calibration, energy if has_energy else None,
                      remedy=f" and {self.path}'s export has none: run `kgan calibrate RUN_DIR`, or use --sampler topk")

    @property
    def calibration(self):
        """The discriminator's Platt scaling (`kgan.runtime.calibration`), or None for an uncalibrated export."""
        found = (self.manifest or {}).get("calibration")
        if found is None and self.has_discriminator:
            text = self.model_for("discriminator").metadata.get("kgan.calibration")
            found = json.loads(text) if text else None
        return found

    def interpolate(self, seed_a, seed_b, steps=16, n=1, labels=None, truncation=1.0, **given):
        """Frames of a spherical latent walk from `seed_a`'s latents to `seed_b`'s.

        Args:
            seed_a: seed of the walk's start.
            seed_b: seed of its end.
            steps: frames of the walk.
            n: walks side by side.
            labels: for conditional models, one label or `n` labels.
            truncation: latent scale in (0, 2].
            **given: values of the generator's other named inputs, held along the walk.

        Returns:
            `[steps, n, ...]`: uint8 images (or float vectors) for each step; frame 0
            equals `generate(n, seed_a)` and the last frame `generate(n, seed_b)`.
        """
        n = self._check_count(n)
        steps = self._check_count(steps)
        truncation = self._check_truncation(truncation)
        given = dict(self._conditioning(n, labels), **given)
        a = self.prior.draw(n, seed_a, truncation, **given)
        b = self.prior.draw(n, seed_b, truncation, **given)
        out = self._output(self.prior.walk(a, b, steps)).astype(self.sample_spec.dtype)
        out = out.reshape(steps, n, *out.shape[1:])
        return get_kind(self.sample_spec).to_display(out, self.sample_spec)

    # -- scoring -------------------------------------------------------------

    def score(self, samples, labels=None):
        """The discriminator's logit for each sample (higher: judged more real).

        Args:
            samples: what `generate` returns (uint8 images, 0..255), raw samples (float
                images in [-1, 1], vectors), shaped `[n, *output_shape]`.
            labels: class labels for conditional models.

        Returns:
            float32 `[n]`.
        """
        if not self.has_discriminator:
            raise KganError(f"no discriminator.onnx beside {self.path}: export with `kgan export` to score")
        discriminator = self.model_for("discriminator")
        samples = get_kind(self.sample_spec).from_display(np.asarray(samples), self.sample_spec)
        if samples.shape[1:] != self.output_shape:
            raise KganError(f"samples must have shape [n, {', '.join(map(str, self.output_shape))}], got {samples.shape}")
        feeds = {self.sample_spec.tensor_name: samples, **self._conditioning(len(samples), labels)}
        return discriminator.run(feeds)["logit"].reshape(-1).astype(np.float32)

    def describe(self):
        """The model card: metadata, parity figures and the providers in use."""
        card = {
            "path": self.path,
            "kind": self.kind,
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "output_shape": list(self.output_shape),
            "preset": self.metadata.get("kgan.preset"),
            "kgan_version": self.metadata.get("kgan.version"),
            "opset": self.metadata.get("kgan.opset"),
            "providers": self.providers,
            "discriminator": self.has_discriminator,
            "sample_spec": self.sample_spec.to_dict(),
            "inputs": list(self.prior.names),
        }
        if "member" in self.prior.names:
            card["mixture_weights"] = self.prior["member"].weights
        if self.has_discriminator and self.calibration:
            card["calibration"] = self.calibration
        parity = self.metadata.get("kgan.parity")
        if parity:
            card["parity"] = json.loads(parity)
        return card
