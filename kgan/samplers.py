"""Samplers that use the discriminator to choose among the generator's proposals.

A sampler sees two callables and nothing else, so Keras (`GAN.generate`) and onnxruntime
(`GeneratorRuntime.generate`, `kgan generate --sampler`, the demo) share it:

- `draw(m, seed)` returns a batch of `m` proposals: a dict of aligned arrays holding the
  samples under `"samples"` (and any inputs that go with them, such as `"label"`);
- `score(batch)` returns the discriminator's logit for each proposal, float `[m]`.

`sampler(n, draw, score, seed)` returns the `n` chosen rows of such a batch with their
`"scores"`. A new sampler is a subclass with one `select` method, registered with
`register_sampler`; `get_sampler("name:key=value,...")` builds one from text.
Numpy only.

Example:
    >>> sampler = get_sampler("topk:k=4")
    >>> chosen = sampler(8, runtime_draw, runtime_score, seed=0)
"""

import numpy as np

from kgan.errors import KganError

__all__ = ["Sampler", "TopK", "SAMPLERS", "register_sampler", "get_sampler"]

SAMPLERS = {}


def register_sampler(cls):
    """Class decorator: makes a `Sampler` subclass available by its `name`."""
    SAMPLERS[cls.name] = cls
    return cls


class Sampler:
    """Chooses `n` samples from the generator's proposals with the discriminator's scores."""

    name = None

    def __call__(self, n, draw, score, seed=None):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise KganError(f"n must be a positive integer, got {n!r}")
        return self.select(int(n), draw, score, seed)

    def select(self, n, draw, score, seed):
        raise NotImplementedError

    @staticmethod
    def take(batch, rows):
        return {key: value[rows] for key, value in batch.items()}

    def __repr__(self):
        options = ",".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{self.name}:{options}" if options else self.name


@register_sampler
class TopK(Sampler):
    """Best-of-k oversampling: draw `k * n` proposals, keep the `n` the discriminator
    scores highest, in the order they were drawn.

    The proposals for `(n, seed)` are the first `k * n` samples of that seed, so the
    chosen samples are a subset of `draw(k * n, seed)`.

    Args:
        k: proposals per kept sample (1 keeps every proposal).
    """

    name = "topk"

    def __init__(self, k=4):
        if isinstance(k, bool) or int(k) != k or int(k) < 1:
            raise KganError(f"topk's k must be a positive integer, got {k!r}")
        self.k = int(k)

    def select(self, n, draw, score, seed):
        batch = draw(n * self.k, seed)
        scores = np.asarray(score(batch), np.float32).reshape(-1)
        keep = np.sort(np.argsort(-scores, kind="stable")[:n])
        return dict(self.take(batch, keep), scores=scores[keep])


def _value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def get_sampler(spec):
    """A sampler from a name and options (`"topk"`, `"topk:k=8"`), a `Sampler`, or None.

    Raises:
        KganError: for an unknown name or a bad option.
    """
    if spec is None or isinstance(spec, Sampler):
        return spec
    name, _, options = str(spec).partition(":")
    if name not in SAMPLERS:
        raise KganError(f"unknown sampler {name!r}: choose one of {', '.join(SAMPLERS)}")
    kwargs = {}
    for item in filter(None, options.split(",")):
        key, equals, value = item.partition("=")
        if not equals:
            raise KganError(f"sampler options are key=value pairs, got {item!r} (e.g. {name}:k=4)")
        kwargs[key.strip()] = _value(value.strip())
    try:
        return SAMPLERS[name](**kwargs)
    except TypeError as error:
        raise KganError(f"bad option for sampler {name}: {error}") from None
