"""The named inputs of a generator, drawn for a seed: one prior for Keras, export and runtime.

A `LatentPrior` is an ordered list of named inputs. `z` is a standard normal vector;
`label` is a class index, cycling 0, 1, ..., k - 1 unless given. Mixtures (`member`) and
token samplers (`u`) add their own input types with `register_input`. `GAN.generate`,
the export's parity feeds and `GeneratorRuntime` all draw through it, so a seed gives the
same batch everywhere. Numpy only.

Example:
    >>> prior = LatentPrior.for_generator(latent_dim=4, num_classes=3)
    >>> feeds = prior.draw(5, seed=0)
    >>> sorted(feeds), feeds["label"].tolist()
    (['label', 'z'], [0, 1, 2, 0, 1])
"""

import numpy as np

from kgan.errors import KganError
from kgan.runtime.labels import resolve_labels

__all__ = ["LatentPrior", "NormalInput", "UniformInput", "ClassInput", "MemberInput", "INPUT_TYPES", "register_input", "check_weights",
           "latents", "slerp"]

INPUT_TYPES = {}


def register_input(cls):
    """Class decorator: makes an input type readable from its `to_dict()`."""
    INPUT_TYPES[cls.type] = cls
    return cls


def latents(n, latent_dim, seed=None, truncation=1.0):
    """The latents for `n` samples: numpy's standard normal for `seed`, times `truncation`.

    `truncation` < 1 pulls latents toward the mean (the truncation trick: less variety,
    more typical samples); 1.0 leaves them as drawn.
    """
    z = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)
    return z * np.float32(truncation)


def slerp(a, b, t):
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


class _Input:
    """One named input: its shape after the batch axis, its dtype, and how it is drawn."""

    type = None
    dtype = "float32"
    conditioning = False  # also an input of the discriminator (class labels are)

    def __init__(self, name):
        self.name = name

    @property
    def shape(self):
        return ()

    def draw(self, n, rng, given=None, truncation=1.0, randomize=False):
        raise NotImplementedError

    def walk(self, a, b, ts):
        """The inputs of a walk from batch `a` to batch `b`, steps `ts`, concatenated."""
        return np.tile(a, (len(ts),) + (1,) * (a.ndim - 1))

    def to_dict(self):
        return {"name": self.name, "type": self.type}


class _SeededVector(_Input):
    """`[batch, dim]` float32 values drawn from the seed only (none can be given)."""

    def __init__(self, name, dim):
        super().__init__(name)
        self.dim = int(dim)

    @property
    def shape(self):
        return (self.dim,)

    def draw(self, n, rng, given=None, truncation=1.0, randomize=False):
        if given is not None:
            raise KganError(f"{self.name} is drawn from the seed; it cannot be given")
        return self._draw(n, rng, truncation)

    def to_dict(self):
        return dict(super().to_dict(), dim=self.dim)


@register_input
class NormalInput(_SeededVector):
    """`[batch, dim]` float32 standard normal latents, scaled by the truncation."""

    type = "normal"

    def _draw(self, n, rng, truncation):
        return rng.standard_normal((n, self.dim)).astype(np.float32) * np.float32(truncation)

    def walk(self, a, b, ts):
        return np.concatenate([slerp(a, b, t) for t in ts])


@register_input
class UniformInput(_SeededVector):
    """`[batch, dim]` float32 uniforms in [0, 1): a token sampler's draws, one a token (the
    truncation does not apply); a walk moves them in a straight line."""

    type = "uniform"

    def _draw(self, n, rng, truncation):
        return rng.random((n, self.dim), dtype=np.float32)

    def walk(self, a, b, ts):
        return np.concatenate([((1.0 - t) * a + t * b).astype(np.float32) for t in ts])


@register_input
class ClassInput(_Input):
    """`[batch]` int64 class indices: given, or cycling through the classes (random for parity feeds)."""

    type = "classes"
    dtype = "int64"
    conditioning = True

    def __init__(self, name, num_classes):
        super().__init__(name)
        self.num_classes = int(num_classes)

    def draw(self, n, rng, given=None, truncation=1.0, randomize=False):
        if randomize and given is None:
            return rng.integers(0, self.num_classes, n).astype(np.int64)
        return resolve_labels(n, given, self.num_classes)

    def to_dict(self):
        return dict(super().to_dict(), num_classes=self.num_classes)


def check_weights(weights, k):
    """`weights` as a float64 probability vector of length `k` (None: uniform), or a KganError."""
    if weights is None:
        return np.full(k, 1.0 / k)
    try:
        values = np.asarray(weights, np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise KganError(f"mixture weights must be numbers, got {weights!r}") from None
    if len(values) != k:
        raise KganError(f"the mixture has {k} members but {len(values)} weights: give one weight a member")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise KganError(f"mixture weights must be finite and >= 0, got {values.tolist()}")
    if abs(values.sum() - 1.0) > 1e-6:
        raise KganError(f"mixture weights must sum to 1, got {values.tolist()} (sum {values.sum():.6g})")
    return values


@register_input
class MemberInput(_Input):
    """`[batch]` int64 member indices, drawn from the mixture weights (or all one member, given)."""

    type = "members"
    dtype = "int64"

    def __init__(self, name, weights):
        super().__init__(name)
        self.weights = [float(w) for w in check_weights(weights, len(weights))]

    @property
    def num_members(self):
        return len(self.weights)

    def draw(self, n, rng, given=None, truncation=1.0, randomize=False):
        if randomize and given is None:  # parity feeds: every member in any batch of K rows or more
            return rng.permutation(np.arange(n) % self.num_members).astype(np.int64)
        if given is None:
            p = np.asarray(self.weights)
            return rng.choice(self.num_members, size=n, p=p / p.sum()).astype(np.int64)
        values = np.broadcast_to(np.asarray(given), (n,))
        if not np.issubdtype(values.dtype, np.integer) or values.min() < 0 or values.max() >= self.num_members:
            raise KganError(f"member must be an index in 0..{self.num_members - 1}, got {given!r}")
        return values.astype(np.int64)

    def to_dict(self):
        return dict(super().to_dict(), weights=self.weights)


class LatentPrior:
    """The ordered, named inputs of a generator and how to draw them for a seed.

    Args:
        inputs: `_Input`s in the generator's input order.
    """

    def __init__(self, inputs):
        self.inputs = list(inputs)

    @classmethod
    def for_generator(cls, latent_dim, num_classes=None):
        """`z` of size `latent_dim`, and `label` when `num_classes` is set."""
        inputs = [NormalInput("z", latent_dim)]
        if num_classes:
            inputs.append(ClassInput("label", num_classes))
        return cls(inputs)

    @property
    def names(self):
        return tuple(i.name for i in self.inputs)

    @property
    def conditioning(self):
        """Names of the inputs the discriminator also takes (class labels)."""
        return tuple(i.name for i in self.inputs if i.conditioning)

    def __getitem__(self, name):
        return next(i for i in self.inputs if i.name == name)

    def signature(self):
        """`{name: (shape with None batch, dtype)}` in input order."""
        return {i.name: ((None, *i.shape), i.dtype) for i in self.inputs}

    def draw(self, n, seed=None, truncation=1.0, rng=None, randomize=False, **given):
        """The named inputs of `n` samples.

        The first input is drawn first from `numpy.random.default_rng(seed)`, so `z` is
        `latents(n, latent_dim, seed, truncation)` whatever follows it.

        Args:
            n: batch size.
            seed: integer seed (or give `rng`).
            truncation: scale of the normal latents.
            rng: a numpy Generator to draw from instead of `seed`.
            randomize: draw class inputs at random instead of cycling (parity, calibration).
            **given: values for inputs that can be given, e.g. `label=3`.
        """
        unknown = set(given) - set(self.names)
        if unknown:
            raise KganError(f"this generator has no input {sorted(unknown)[0]!r}: its inputs are {', '.join(self.names)}")
        rng = np.random.default_rng(seed) if rng is None else rng
        return {i.name: i.draw(n, rng, given.get(i.name), truncation, randomize) for i in self.inputs}

    def walk(self, a, b, steps):
        """A walk through the prior from one draw to another.

        Args:
            a: the start, a `draw` result (`{name: array [n, ...]}`).
            b: the end, another `draw` result of the same `n`.
            steps: frames of the walk.

        Returns:
            `{name: array [steps * n, ...]}`, the frames concatenated, each input walked its
            own way (spherical for Gaussian latents).
        """
        ts = np.linspace(0.0, 1.0, steps) if steps > 1 else np.zeros(1)
        return {i.name: i.walk(a[i.name], b[i.name], ts) for i in self.inputs}

    def to_dict(self):
        """The prior as JSON-ready values, an entry an input, as `manifest.json` stores it."""
        return [i.to_dict() for i in self.inputs]

    @classmethod
    def from_dict(cls, config):
        inputs = []
        for item in config:
            item = dict(item)
            kind = INPUT_TYPES.get(item.pop("type"))
            if kind is None:
                raise KganError("the model has an input this kgan cannot draw: upgrade kgan")
            inputs.append(kind(**item))
        return cls(inputs)
