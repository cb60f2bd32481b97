"""Sampling from an exported generator with onnxruntime: no TensorFlow, no Keras.

Needs numpy, Pillow and onnxruntime only, so it runs on servers and edge devices
where the training stack is not installed. The model's facts (latent size, classes,
output shape) come from the ONNX file's own metadata, so the `.onnx` file is all a
runtime needs; `discriminator.onnx` beside it enables `score`.

Example:
    >>> from kgan.inference import GeneratorRuntime
    >>> runtime = GeneratorRuntime("export/digits")
    >>> images = runtime.generate(16, seed=0)          # uint8 [16, 8, 8, 1]
    >>> runtime.providers
    ['CPUExecutionProvider']
"""

import json
import math
import os

import numpy as np

from kgan import images as image_utils
from kgan.errors import KganError
from kgan.labels import resolve_labels

__all__ = ["GeneratorRuntime", "PROVIDER_PREFERENCE", "latents"]

PROVIDER_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise KganError("sampling needs onnxruntime: pip install onnxruntime (or 'kgan[export]')") from None
    return onnxruntime


def latents(n, latent_dim, seed=None, truncation=1.0):
    """The latents for `n` samples: numpy's standard normal for `seed`, times `truncation`.

    The same draws as `kgan.GAN.generate(n, seed)`, so a seed gives the same samples in
    Keras and here. `truncation` < 1 pulls latents toward the mean (the truncation
    trick: less variety, more typical samples); 1.0 leaves them as drawn.
    """
    z = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)
    return z * np.float32(truncation)


def _slerp(a, b, t):
    """Spherical interpolation between latent batches (White 2016, "Sampling Generative Networks")."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    cos = np.sum(a64 * b64, axis=-1, keepdims=True) / (
        np.linalg.norm(a64, axis=-1, keepdims=True) * np.linalg.norm(b64, axis=-1, keepdims=True) + 1e-12
    )
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    sin = np.sin(omega)
    linear = sin < 1e-6
    safe = np.where(linear, 1.0, sin)
    mixed = np.sin((1.0 - t) * omega) / safe * a64 + np.sin(t * omega) / safe * b64
    return np.where(linear, (1.0 - t) * a64 + t * b64, mixed).astype(np.float32)


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
    """

    def __init__(self, path, providers="auto", batch_size=256):
        ort = _onnxruntime()
        path = os.fspath(path)
        if os.path.isdir(path):
            folder, path = path, os.path.join(path, "generator.onnx")
            if not os.path.isfile(path):
                raise KganError(f"{folder} has no generator.onnx: export a run with `kgan export RUN_DIR`")
        if not os.path.isfile(path):
            raise KganError(f"no such model file: {path}")
        self.path = path
        self.batch_size = int(batch_size)
        self.session = self._session(ort, path, providers)
        self.metadata = self._read_metadata(self.session, path, "generator")
        self.latent_dim = int(self.metadata["kgan.latent_dim"])
        classes = self.metadata.get("kgan.num_classes", "")
        self.num_classes = int(classes) if classes else None
        self.output_shape = tuple(json.loads(self.metadata["kgan.output_shape"]))
        self.kind = self.metadata.get("kgan.kind", "image" if len(self.output_shape) == 3 else "vector")
        self.value_range = tuple(json.loads(self.metadata.get("kgan.value_range", "null")) or (-1.0, 1.0))
        self.providers = self.session.get_providers()
        self.manifest = self._read_manifest(os.path.dirname(os.path.abspath(path)))
        self._discriminator = None
        self._discriminator_path = os.path.join(os.path.dirname(os.path.abspath(path)), "discriminator.onnx")
        self._requested_providers = providers

    # -- loading -------------------------------------------------------------

    @staticmethod
    def _providers(ort, providers):
        if providers == "auto":
            available = set(ort.get_available_providers())
            return [p for p in PROVIDER_PREFERENCE if p in available] or ["CPUExecutionProvider"]
        return list(providers)

    def _session(self, ort, path, providers):
        options = ort.SessionOptions()
        options.log_severity_level = 3  # GPU providers that cannot start warn; get_providers() tells
        try:
            return ort.InferenceSession(path, sess_options=options, providers=self._providers(ort, providers))
        except Exception as error:
            first = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
            raise KganError(f"{path} is not a loadable ONNX model ({first}); export one with `kgan export`") from None

    @staticmethod
    def _read_metadata(session, path, role):
        meta = dict(session.get_modelmeta().custom_metadata_map)
        if "kgan.role" not in meta or (role == "generator" and "kgan.latent_dim" not in meta):
            raise KganError(f"{path} is an ONNX model without kgan metadata: export it with `kgan export`")
        if meta["kgan.role"] != role:
            raise KganError(f"{path} is a kgan {meta['kgan.role']}, not a {role}: give generator.onnx")
        return meta

    @staticmethod
    def _read_manifest(folder):
        path = os.path.join(folder, "manifest.json")
        if not os.path.isfile(path):
            return None
        try:
            with open(path) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    @property
    def conditional(self):
        return self.num_classes is not None

    @property
    def has_discriminator(self):
        return os.path.isfile(self._discriminator_path)

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

    def run(self, z, labels=None):
        """Runs the generator on given latents (and labels); float32 outputs, in chunks."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise KganError(f"z must have shape [n, {self.latent_dim}], got {z.shape}")
        labels = self._labels(len(z), labels)
        chunks = []
        for start in range(0, len(z), self.batch_size):
            feeds = {"z": z[start : start + self.batch_size]}
            if labels is not None:
                feeds["label"] = labels[start : start + self.batch_size]
            chunks.append(self.session.run(None, feeds)[0])
        return np.concatenate(chunks).astype(np.float32)

    def sample(self, n, seed=None, labels=None, truncation=1.0):
        """`n` raw float32 samples (images in [-1, 1], or vectors)."""
        n = self._check_count(n)
        truncation = self._check_truncation(truncation)
        return self.run(latents(n, self.latent_dim, seed, truncation), self._labels(n, labels))

    def generate(self, n, seed=None, labels=None, truncation=1.0):
        """`n` samples: uint8 NHWC images, or float32 vectors for 2-D generators.

        Args:
            n: number of samples.
            seed: latent seed; the same seed gives the same samples.
            labels: for conditional models, one label or `n` labels; default cycles
                through the classes.
            truncation: latent scale in (0, 2]; below 1 trades variety for typicality.
        """
        samples = self.sample(n, seed, labels, truncation)
        if self.kind != "image":
            return samples
        return image_utils.to_uint8(samples, self.value_range)

    def interpolate(self, seed_a, seed_b, steps=16, n=1, labels=None, truncation=1.0):
        """Frames of a spherical latent walk from `seed_a`'s latents to `seed_b`'s.

        Returns:
            `[steps, n, ...]`: uint8 images (or float vectors) for each step; frame 0
            equals `generate(n, seed_a)` and the last frame `generate(n, seed_b)`.
        """
        n = self._check_count(n)
        steps = self._check_count(steps)
        truncation = self._check_truncation(truncation)
        labels = self._labels(n, labels)
        a = latents(n, self.latent_dim, seed_a, truncation)
        b = latents(n, self.latent_dim, seed_b, truncation)
        ts = np.linspace(0.0, 1.0, steps) if steps > 1 else np.zeros(1)
        z = np.concatenate([_slerp(a, b, t) for t in ts])
        out = self.run(z, None if labels is None else np.tile(labels, steps))
        out = out.reshape(steps, n, *out.shape[1:])
        return image_utils.to_uint8(out, self.value_range) if self.kind == "image" else out

    # -- scoring -------------------------------------------------------------

    def score(self, samples, labels=None):
        """The discriminator's logit for each sample (higher: judged more real).

        Args:
            samples: uint8 images (0..255), float images in [-1, 1], or vectors,
                shaped `[n, *output_shape]`.
            labels: class labels for conditional models.

        Returns:
            float32 `[n]`.
        """
        if not self.has_discriminator:
            raise KganError(f"no discriminator.onnx beside {self.path}: export with `kgan export` to score")
        if self._discriminator is None:
            ort = _onnxruntime()
            self._discriminator = self._session(ort, self._discriminator_path, self._requested_providers)
            self._read_metadata(self._discriminator, self._discriminator_path, "discriminator")
        samples = np.asarray(samples)
        if samples.shape[1:] != self.output_shape:
            raise KganError(f"samples must have shape [n, {', '.join(map(str, self.output_shape))}], got {samples.shape}")
        if samples.dtype == np.uint8:
            low, high = self.value_range
            samples = samples.astype(np.float32) / 255.0 * (high - low) + low
        samples = samples.astype(np.float32)
        labels = self._labels(len(samples), labels)
        name = self._discriminator.get_inputs()[0].name
        chunks = []
        for start in range(0, len(samples), self.batch_size):
            feeds = {name: samples[start : start + self.batch_size]}
            if labels is not None:
                feeds["label"] = labels[start : start + self.batch_size]
            chunks.append(self._discriminator.run(None, feeds)[0])
        return np.concatenate(chunks).reshape(-1).astype(np.float32)

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
        }
        parity = self.metadata.get("kgan.parity")
        if parity:
            card["parity"] = json.loads(parity)
        return card
