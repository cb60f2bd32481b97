"""GAN objectives as pure, paired functions.

Naming: every objective `<kind>` has `<kind>_generator_loss(fake_logits)` and
`<kind>_discriminator_loss(real_logits, fake_logits)`. A relativistic generator
loss also compares each fake with a real: it takes `(fake_logits, real_logits)` and
carries `needs_real_logits = True`, which tells the GAN to pass them. Logits are the
discriminator's raw, unbounded outputs, any shape (usually `[batch, 1]`); each loss
is a scalar: the mean over all elements. Cross-entropy and least-squares
discriminator losses take `label_smoothing`, the one-sided smoothing of the real
target (Salimans et al. 2016), 1 becoming `1 - label_smoothing`.

`get_loss_pair(name)` returns `(generator_loss, discriminator_loss)` for a name in
`LOSSES`. `rpgan` is a second name of `relativistic_standard` (R3GAN's name for the
pairing loss, Huang et al. 2024); `ALIASES` maps it to the first.
"""

from keras import ops
from kgan.errors import KganError

__all__ = [
    "LOSSES",
    "SMOOTHABLE_LOSSES",
    "get_loss_pair",
    "needs_real_logits",
    "non_saturating_generator_loss",
    "non_saturating_discriminator_loss",
    "minimax_generator_loss",
    "minimax_discriminator_loss",
    "least_squares_generator_loss",
    "least_squares_discriminator_loss",
    "wasserstein_generator_loss",
    "wasserstein_discriminator_loss",
    "hinge_generator_loss",
    "hinge_discriminator_loss",
    "kl_generator_loss",
    "kl_discriminator_loss",
    "reverse_kl_generator_loss",
    "reverse_kl_discriminator_loss",
    "relativistic_standard_generator_loss",
    "relativistic_standard_discriminator_loss",
    "rpgan_generator_loss",
    "rpgan_discriminator_loss",
    "ragan_generator_loss",
    "ragan_discriminator_loss",
    "ALIASES",
]


def _float(x):
    return ops.cast(ops.convert_to_tensor(x), "float32")


def _cross_entropy_discriminator(real_logits, fake_logits, label_smoothing):
    real_logits, fake_logits = _float(real_logits), _float(fake_logits)
    target = 1.0 - label_smoothing
    # -[t log s(x) + (1 - t) log(1 - s(x))] = softplus(x) - t x, stable for any x.
    real = ops.mean(ops.softplus(real_logits) - target * real_logits)
    fake = ops.mean(ops.softplus(fake_logits))
    return real + fake


def non_saturating_generator_loss(fake_logits):
    """-log D(G(z)): the generator loss Goodfellow et al. (2014) recommend in practice.

    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, section 3.

    Args:
        fake_logits: the discriminator's logits on generated samples, any shape.

    Returns:
        The scalar loss: the mean over all elements.
    """
    return ops.mean(ops.softplus(-_float(fake_logits)))


def non_saturating_discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """Binary cross-entropy: real labelled `1 - label_smoothing`, fake labelled 0.

    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.

    Args:
        real_logits: the discriminator's logits on real samples, any shape.
        fake_logits: its logits on generated samples, any shape.
        label_smoothing: one-sided smoothing of the real target, in [0, 1): the target 1
            becomes `1 - label_smoothing` (Salimans et al. 2016).

    Returns:
        The scalar loss: the sum of the means over each side.
    """
    return _cross_entropy_discriminator(real_logits, fake_logits, label_smoothing)


def minimax_generator_loss(fake_logits):
    """log(1 - D(G(z))): the original, saturating minimax generator objective.

    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, equation 1.

    Args:
        fake_logits: the discriminator's logits on generated samples, any shape.

    Returns:
        The scalar loss: the mean over all elements.
    """
    return -ops.mean(ops.softplus(_float(fake_logits)))


def minimax_discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """Binary cross-entropy, as in the non-saturating game.

    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, equation 1.

    Args:
        real_logits: the discriminator's logits on real samples, any shape.
        fake_logits: its logits on generated samples, any shape.
        label_smoothing: one-sided smoothing of the real target, in [0, 1): the target 1
            becomes `1 - label_smoothing` (Salimans et al. 2016).

    Returns:
        The scalar loss: the sum of the means over each side.
    """
    return _cross_entropy_discriminator(real_logits, fake_logits, label_smoothing)


def least_squares_generator_loss(fake_logits):
    """1/2 E[(D(G(z)) - 1)^2] (LSGAN with a=0, b=c=1).

    Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017, eq. 2.

    Args:
        fake_logits: the discriminator's logits on generated samples, any shape.

    Returns:
        The scalar loss: the mean over all elements.
    """
    return 0.5 * ops.mean(ops.square(_float(fake_logits) - 1.0))


def least_squares_discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """1/2 E[(D(x) - b)^2] + 1/2 E[D(G(z))^2], b = 1 - label_smoothing.

    Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017, eq. 2.

    Args:
        real_logits: the discriminator's logits on real samples, any shape.
        fake_logits: its logits on generated samples, any shape.
        label_smoothing: one-sided smoothing of the real target, in [0, 1): the target 1
            becomes `1 - label_smoothing` (Salimans et al. 2016).

    Returns:
        The scalar loss: the sum of the means over each side.
    """
    target = 1.0 - label_smoothing
    real = 0.5 * ops.mean(ops.square(_float(real_logits) - target))
    fake = 0.5 * ops.mean(ops.square(_float(fake_logits)))
    return real + fake


def wasserstein_generator_loss(fake_logits):
    """-E[D(G(z))] for a critic D.

    Arjovsky et al., "Wasserstein GAN", ICML 2017; use with a gradient penalty
    (Gulrajani et al. 2017).

    Args:
        fake_logits: the discriminator's logits on generated samples, any shape.

    Returns:
        The scalar loss: the mean over all elements.
    """
    return -ops.mean(_float(fake_logits))


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """E[D(G(z))] - E[D(x)]: the negated Kantorovich-Rubinstein estimate.

    Arjovsky et al., "Wasserstein GAN", ICML 2017.

    Args:
        real_logits: the discriminator's logits on real samples, any shape.
        fake_logits: its logits on generated samples, any shape.

    Returns:
        The scalar loss: the sum of the means over each side.
    """
    return ops.mean(_float(fake_logits)) - ops.mean(_float(real_logits))


def hinge_generator_loss(fake_logits):
    """-E[D(G(z))].

    Lim & Ye, "Geometric GAN", 2017; Miyato et al., "Spectral Normalization for
    GANs", ICLR 2018.

    Args:
        fake_logits: the discriminator's logits on generated samples, any shape.

    Returns:
        The scalar loss: the mean over all elements.
    """
    return -ops.mean(_float(fake_logits))


def hinge_discriminator_loss(real_logits, fake_logits):
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))].

    Lim & Ye, "Geometric GAN", 2017.

    Args:
        real_logits: the discriminator's logits on real samples, any shape.
        fake_logits: its logits on generated samples, any shape.

    Returns:
        The scalar loss: the sum of the means over each side.
    """
    real = ops.mean(ops.relu(1.0 - _float(real_logits)))
    fake = ops.mean(ops.relu(1.0 + _float(fake_logits)))
    return real + fake


def kl_generator_loss(fake_logits):
    """-E[g_f(V(G(z)))] with g_f(v) = v: f-GAN's alternative generator update for KL.

    Nowozin et al., "f-GAN", NeurIPS 2016, section 3.2 and Table 2 (KL row).

    Args:
        fake_logits: the discriminator's logits on generated samples, any shape.

    Returns:
        The scalar loss: the mean over all elements.
    """
    return -ops.mean(_float(fake_logits))


def kl_discriminator_loss(real_logits, fake_logits):
    """-(E_real[v] - E_fake[exp(v - 1)]): the variational bound of KL(P || Q), negated.

    The output activation is g_f(v) = v and the conjugate f*(t) = exp(t - 1).
    Nowozin et al., "f-GAN", NeurIPS 2016, equation 6 and Table 2 (KL row).

    Args:
        real_logits: the discriminator's logits on real samples, any shape.
        fake_logits: its logits on generated samples, any shape.

    Returns:
        The scalar loss: the sum of the means over each side.
    """
    real = ops.mean(_float(real_logits))
    fake = ops.mean(ops.exp(_float(fake_logits) - 1.0))
    return fake - real


def reverse_kl_generator_loss(fake_logits):
    """-E[g_f(V(G(z)))] with g_f(v) = -exp(-v): E[exp(-v)] for reverse KL.

    Nowozin et al., "f-GAN", NeurIPS 2016, section 3.2 and Table 2 (reverse KL row).

    Args:
        fake_logits: the discriminator's logits on generated samples, any shape.

    Returns:
        The scalar loss: the mean over all elements.
    """
    return ops.mean(ops.exp(-_float(fake_logits)))


def reverse_kl_discriminator_loss(real_logits, fake_logits):
    """-(E_real[-exp(-v)] - E_fake[-1 + v]): the bound of KL(Q || P), negated.

    g_f(v) = -exp(-v) and f*(t) = -1 - log(-t), so f*(g_f(v)) = v - 1.
    Nowozin et al., "f-GAN", NeurIPS 2016, equation 6 and Table 2 (reverse KL row).

    Args:
        real_logits: the discriminator's logits on real samples, any shape.
        fake_logits: its logits on generated samples, any shape.

    Returns:
        The scalar loss: the sum of the means over each side.
    """
    real = ops.mean(ops.exp(-_float(real_logits)))
    fake = ops.mean(_float(fake_logits)) - 1.0
    return real + fake


def relativistic_standard_generator_loss(fake_logits, real_logits):
    """-E[log sigmoid(D(G(z)) - D(x))]: each fake judged as more real than the real beside it.

    Jolicoeur-Martineau, "The relativistic discriminator", ICLR 2019 (RSGAN); the loss of
    RelGAN (Nie et al., ICLR 2019). Fakes and reals pair by position in the batch.

    Args:
        fake_logits: the discriminator's logits on generated samples.
        real_logits: its logits on real samples, the same shape: element i of each is a pair.

    Returns:
        The scalar loss: the mean over all pairs.
    """
    return ops.mean(ops.softplus(_float(real_logits) - _float(fake_logits)))


relativistic_standard_generator_loss.needs_real_logits = True


def relativistic_standard_discriminator_loss(real_logits, fake_logits):
    """-E[log sigmoid(D(x) - D(G(z)))]: each real judged as more real than its fake.

    Jolicoeur-Martineau, "The relativistic discriminator", ICLR 2019 (RSGAN).

    Args:
        real_logits: the discriminator's logits on real samples.
        fake_logits: its logits on generated samples, the same shape: element i of each is a pair.

    Returns:
        The scalar loss: the mean over all pairs.
    """
    return ops.mean(ops.softplus(_float(fake_logits) - _float(real_logits)))


rpgan_generator_loss = relativistic_standard_generator_loss
rpgan_discriminator_loss = relativistic_standard_discriminator_loss


def ragan_generator_loss(fake_logits, real_logits):
    """RaSGAN's generator loss: each fake judged against the reals' mean, each real against the fakes'.

    -E_fake[log sigmoid(D(G(z)) - E_real D(x))] - E_real[log sigmoid(E_fake D(G(z)) - D(x))].
    Jolicoeur-Martineau, "The relativistic discriminator", ICLR 2019, equation 16 (RaSGAN).
    Unlike `rpgan`, it compares with batch means, so the order of the fakes does not matter.

    Args:
        fake_logits: the discriminator's logits on generated samples.
        real_logits: its logits on real samples.

    Returns:
        The scalar loss: the sum of the means over each side.
    """
    fake, real = _float(fake_logits), _float(real_logits)
    return ops.mean(ops.softplus(ops.mean(real) - fake)) + ops.mean(ops.softplus(real - ops.mean(fake)))


ragan_generator_loss.needs_real_logits = True


def ragan_discriminator_loss(real_logits, fake_logits):
    """RaSGAN's discriminator loss: each real judged as more real than the average fake, each fake less
    real than the average real.

    -E_real[log sigmoid(D(x) - E_fake D(G(z)))] - E_fake[log sigmoid(E_real D(x) - D(G(z)))].
    Jolicoeur-Martineau, "The relativistic discriminator", ICLR 2019, equation 15 (RaSGAN).

    Args:
        real_logits: the discriminator's logits on real samples.
        fake_logits: its logits on generated samples.

    Returns:
        The scalar loss: the sum of the means over each side.
    """
    real, fake = _float(real_logits), _float(fake_logits)
    return ops.mean(ops.softplus(ops.mean(fake) - real)) + ops.mean(ops.softplus(fake - ops.mean(real)))


def needs_real_logits(generator_loss):
    """Whether a generator loss takes `(fake_logits, real_logits)` (a relativistic one).

    Args:
        generator_loss: a generator loss function.

    Returns:
        True when the GAN must pass the real samples' logits too.
    """
    return bool(getattr(generator_loss, "needs_real_logits", False))


LOSSES = {
    "non_saturating": (non_saturating_generator_loss, non_saturating_discriminator_loss),
    "minimax": (minimax_generator_loss, minimax_discriminator_loss),
    "least_squares": (least_squares_generator_loss, least_squares_discriminator_loss),
    "wasserstein": (wasserstein_generator_loss, wasserstein_discriminator_loss),
    "hinge": (hinge_generator_loss, hinge_discriminator_loss),
    "kl": (kl_generator_loss, kl_discriminator_loss),
    "reverse_kl": (reverse_kl_generator_loss, reverse_kl_discriminator_loss),
    "relativistic_standard": (relativistic_standard_generator_loss, relativistic_standard_discriminator_loss),
    "rpgan": (rpgan_generator_loss, rpgan_discriminator_loss),
    "ragan": (ragan_generator_loss, ragan_discriminator_loss),
}

# A second name and the loss it names.
ALIASES = {"rpgan": "relativistic_standard"}

SMOOTHABLE_LOSSES = ("non_saturating", "minimax", "least_squares")


def get_loss_pair(name):
    """Returns `(generator_loss, discriminator_loss)` for a loss name.

    Args:
        name: a key of `LOSSES`.

    Returns:
        The pair of functions.

    Raises:
        KganError: for an unknown name, naming the choices.

    Example:
        >>> g_loss, d_loss = get_loss_pair("hinge")
    """
    if name not in LOSSES:
        raise KganError(f"unknown loss {name!r}: choose one of {', '.join(LOSSES)}")
    return LOSSES[name]
