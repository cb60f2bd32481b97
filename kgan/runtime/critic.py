"""The discriminator as a critic of single samples, as the samplers read it (numpy only).

A `Critic` holds the discriminator's raw logit of a batch of samples, optionally the raw
latent energy E(z) = ‖z‖²/2 − D(G(z)) with its gradient, and the Platt scaling
(`kgan.runtime.calibration`) fitted for it. `choose` runs a sampler
(`kgan.runtime.samplers`) on a generator's proposals with that critic: the checks, the
calibration and the `Proposals` are the same for a Keras `GAN` (`kgan.critic.KerasCritic`)
and an ONNX export (`GeneratorRuntime`); only where the logits come from differs.
"""

import numpy as np

from kgan.errors import KganError
from kgan.runtime.calibration import calibrated, calibrated_energy
from kgan.runtime.samplers import Proposals, get_sampler
from kgan.runtime.samples import get_kind

__all__ = ["Critic", "IDENTITY"]

IDENTITY = {"a": 1.0, "b": 0.0}  # the raw logit: what top-k ranks by


class Critic:
    """The discriminator's logits and energy, and their calibration.

    Args:
        logits: `logits(samples, labels) -> [n]`, the raw logit of each sample.
        calibration: `{"a", "b", ...}` Platt scaling, or None (uncalibrated).
        latent_energy: `latent_energy(feeds) -> (energy [n], grad_z [n, d])` raw, or None
            when there is none (then `langevin` cannot run).
        remedy: how a user calibrates, for the error an uncalibrated critic gives.
    """

    remedy = ": calibrate the discriminator first"

    def __init__(self, logits, calibration=None, latent_energy=None, remedy=None):
        self._logits, self._latent_energy = logits, latent_energy
        self.calibration = calibration
        self.remedy = remedy or self.remedy

    def logits(self, samples, labels=None):
        return self._logits(samples, labels)

    def raw_energy(self, feeds):
        """`(E(z), dE/dz)` of the raw logit, or None without a latent energy."""
        return None if self._latent_energy is None else self._latent_energy(feeds)

    @property
    def has_energy(self):
        return self._latent_energy is not None

    def choose(self, sampler, spec, n, seed, labels, draw, latents, decode):
        """What `sampler` (a name such as `"topk:k=8"`, or a `Sampler`) chose among proposals
        of samples of `spec`: a `Chosen`. `draw(m, seed)` gives `m` samples, `latents(m, seed)`
        generator inputs and `decode(feeds)` the samples they make (for `langevin`)."""
        sampler = get_sampler(sampler, get_kind(spec))
        if labels is not None and np.ndim(labels):
            raise KganError("with a sampler, give one label or none (the proposals cycle the classes)")
        calibration = self.calibration if sampler.calibrated else IDENTITY
        if calibration is None:
            raise KganError(f"the {sampler.name} sampler needs a calibrated discriminator{self.remedy}")

        def energy(feeds):
            raw, grad = self.raw_energy(feeds)
            return calibrated_energy(feeds["z"], raw, grad, calibration)

        return sampler(n, Proposals(
            draw=lambda m, s: {"samples": draw(m, s)},
            score=lambda batch: calibrated(self.logits(batch["samples"], labels), calibration),
            latents=latents, energy=energy if self.has_energy else None, decode=decode), seed=seed)
