"""Named training configurations: each finishes within minutes on 2 CPU cores.

`PRESETS[name]` is a `TrainConfig`; the CLI's flags override its fields. Every
preset records why its settings were chosen.
"""

from kgan.errors import KganError
from kgan.config import TrainConfig

__all__ = ["PRESETS", "get_preset"]

PRESETS = {
    "digits": TrainConfig(
        preset="digits",
        description=(
            "DCGAN on scikit-learn's 1,797 embedded 8x8 handwritten digits: Adam(2e-4, 0.5) as in "
            "Radford et al. 2016, non-saturating loss with one-sided label smoothing 0.1 (Salimans et al. "
            "2016), a two-block discriminator; 150 epochs."
        ),
        dataset="digits",
        model="dcgan",
        generator={"filters": 64},
        discriminator={"filters": 64, "num_blocks": 2},
        latent_dim=64,
        batch_size=64,
        epochs=150,
        lr=2e-4,
        beta_1=0.5,
        label_smoothing=0.1,
    ),
    "ring8": TrainConfig(
        preset="ring8",
        description=(
            "MLP GAN on 8 Gaussians on the unit circle (std 0.01), the VEEGAN/PacGAN mode-coverage "
            "benchmark: the R1 penalty (gamma 0.1, Mescheder et al. 2018), batch 256, 45 x 200 steps of "
            "Adam 1e-3 decaying linearly, which settles the samples on the modes (benchmarks/quality.py)."
        ),
        dataset="ring8",
        model="mlp",
        generator={"hidden_units": [256, 256, 256]},
        discriminator={"hidden_units": [256, 256, 256]},
        latent_dim=8,
        batch_size=256,
        epochs=45,
        steps_per_epoch=200,
        lr=1e-3,
        lr_schedule="linear",
        beta_1=0.5,
        r1_penalty=0.1,
    ),
    "stacked-digits": TrainConfig(
        preset="stacked-digits",
        description=(
            "DCGAN on stacked digits: three embedded digits as the channels of one 8x8x3 image, 1,000 "
            "modes (the construction of stacked MNIST in VEEGAN and PacGAN); 60 x 200 steps, sampling "
            "from an exponential moving average of the generator (0.999), which evens out the modes' "
            "frequencies (benchmarks/quality.py)."
        ),
        dataset="stacked-digits",
        model="dcgan",
        generator={"filters": 64},
        discriminator={"filters": 64, "num_blocks": 2},
        latent_dim=64,
        batch_size=64,
        epochs=60,
        steps_per_epoch=200,
        lr=2e-4,
        beta_1=0.5,
        ema=0.999,
    ),
}


PRESETS["digits-conditional"] = PRESETS["digits"].replace(
    preset="digits-conditional",
    description=(
        "Class-conditional DCGAN on the embedded digits: label embedding joined to z in the "
        "generator, projection discriminator (Miyato & Koyama 2018); otherwise as digits."
    ),
    conditional=True,
)
PRESETS["grid25"] = PRESETS["ring8"].replace(
    preset="grid25",
    description=(
        "MLP GAN on 25 Gaussians on a 5x5 grid (std 0.05), the PacGAN mode-coverage benchmark: as "
        "ring8 at batch 512, for 60 epochs, sampling from an exponential moving average of the generator (0.999). "
        "R1 is what covers all 25 modes with sharp samples; packing covers them too but leaves the "
        "samples blurred at this budget (benchmarks/quality.py)."
    ),
    dataset="grid25",
    batch_size=512,
    epochs=60,
    ema=0.999,
)


PRESETS["moving-digits"] = TrainConfig(
    preset="moving-digits",
    description=(
        "Class-conditional video GAN on moving digits: 16-frame clips of one embedded digit bouncing on 16x16 "
        "frames (Moving MNIST's construction). MoCoGAN's split of z into content and a GRU's motion code a "
        "frame; the content is drawn once as an 8x8 sprite and each frame's motion code places it, at whole "
        "pixels (architecture 'sprite'); a Conv3D discriminator with a per-frame judge (MoCoGAN's two "
        "discriminators) and a projection of the label; Adam(1e-3, 0.5) (content consistency 85.4 % at seed 0, "
        "against 76.8 % at 5e-4 and 31.8 % at 2e-4: the video table of docs/benchmarks.md), one-sided label smoothing 0.1, "
        "60 x 100 steps of 32 clips, sampling from an exponential moving average of the generator (0.999)."
    ),
    dataset="moving-digits",
    model="video",
    generator={"architecture": "sprite", "filters": 64},
    discriminator={"filters": 32, "image_head": True},
    conditional=True,
    latent_dim=64,
    batch_size=32,
    epochs=60,
    steps_per_epoch=100,
    lr=1e-3,
    beta_1=0.5,
    label_smoothing=0.1,
    ema=0.999,
    num_samples=36,
)

PRESETS["oracle"] = TrainConfig(
    preset="oracle",
    description=(
        "SeqGAN's synthetic benchmark: 10,000 sequences of 20 tokens from an LSTM oracle with N(0, 1) weights "
        "(vocabulary 5,000, embedding and hidden 32). An LSTM generator of the oracle's size, pretrained by "
        "maximum likelihood for 10 epochs (Adam 1e-2, clipped to norm 5; NLL-test 7.76 after 5 epochs, 7.94 after 10 "
        "epochs), then 200 adversarial steps of RelGAN's Gumbel-softmax relaxation (inverse temperature 1 -> 2 "
        "over 400 steps; 2 is one of RelGAN's oracle settings), the relativistic standard loss, one "
        "discriminator step a generator step, generator Adam 1e-3 and discriminator 1e-4 (beta 0.9, 0.999). "
        "Seeds 0 and 1: NLL-oracle 7.7 % and 6.7 % below the MLE start (the text table of docs/benchmarks.md); at an inverse "
        "temperature rising to 100, or with the learning rates decaying, 2 %; after 200 steps the "
        "discriminator pushes NLL-oracle back up."
    ),
    dataset="oracle",
    model="sequence",
    generator={"embedding_dim": 32, "hidden_dim": 32, "max_inverse_temperature": 2.0, "temperature_steps": 400},
    discriminator={"embedding_dim": 64, "filters": 64, "hidden_units": 64},
    pretrain_epochs=10,
    loss="relativistic_standard",
    batch_size=64,
    epochs=2,
    steps_per_epoch=100,
    lr=1e-3,
    d_lr=1e-4,
    beta_1=0.9,
    num_samples=32,
)

PRESETS["names"] = PRESETS["oracle"].replace(
    preset="names",
    description=(
        "A character-level sequence GAN on the first names of the US census lists (the `names` package; 4,647 "
        "train, 516 held out): an LSTM generator (hidden 64) pretrained by maximum likelihood for 20 epochs "
        "(Adam 1e-2, clipped to norm 5, as RelGAN), then the oracle preset's adversarial phase: 200 steps of "
        "RelGAN's Gumbel-softmax relaxation (inverse temperature 1 -> 2 over 400 steps), the relativistic "
        "standard loss, generator Adam 1e-3 and discriminator 1e-4 (beta 0.9, 0.999), and 3 times the "
        "maximum-likelihood loss in the generator's (kgan.SequenceGAN): without it the game collapses onto a "
        "few names (38 % of 1,000 samples distinct at seed 0); with it they stay as varied as the MLE start's "
        "and its BLEU-4 curve over temperatures is ahead of the start's (the names table of docs/benchmarks.md)."
    ),
    dataset="names",
    generator=dict(PRESETS["oracle"].generator, hidden_dim=64),
    pretrain_epochs=20,
    mle_weight=3.0,
)


# R3GAN on CPU-sized data: its networks at width 32 (2 blocks a stage, 16 channels a group) and its
# recipe, with the learning rate ten times the paper's (2e-3 -> 5e-4: FID 1.18x the floor at seed 0
# against 2.57x at 1e-3 -> 2.5e-4 and 5.6x at the paper's 2e-4, in the DCGAN preset's time), gamma 1 -> 0.1,
# no augmentation (translation at probability 0 -> 0.3 gave 3.1x).
_SMALL_R3GAN = {"widths": 32, "blocks": 2}
_SMALL_RAMPS = {"lr": [2e-3, 5e-4], "beta_2": [0.9, 0.99], "r1_penalty": [1.0, 0.1], "r2_penalty": [1.0, 0.1],
                "ema_half_life": [0, 10_000]}
PRESETS["digits-r3gan"] = TrainConfig(
    preset="digits-r3gan",
    description=(
        "R3GAN (Huang et al., NeurIPS 2024) on the embedded digits, in the digits preset's training time on 2 CPU "
        "cores: its residual networks at width 32, the pairing loss (rpgan) with R1 and R2, Adam with beta_1 0, and "
        "its five cosine ramps over the run: lr 2e-3 -> 5e-4 (ten times the paper's: small networks, few steps), "
        "beta_2 0.9 -> 0.99, gamma 1 -> 0.1, EMA half-life 0 -> 10k images; 15 x 100 steps of 64 "
        "(the r3gan table of docs/benchmarks.md)."
    ),
    dataset="digits",
    model="r3gan",
    generator=_SMALL_R3GAN,
    discriminator=_SMALL_R3GAN,
    latent_dim=64,
    batch_size=64,
    epochs=15,
    steps_per_epoch=100,
    loss="rpgan",
    lr=2e-3,
    beta_1=0.0,
    beta_2=0.9,
    r1_penalty=1.0,
    r2_penalty=1.0,
    ramps=_SMALL_RAMPS,
)
PRESETS["stacked-r3gan"] = PRESETS["digits-r3gan"].replace(
    preset="stacked-r3gan",
    description=(
        "R3GAN on stacked digits (three embedded digits as the channels of one 8x8x3 image, 1,000 modes; the paper's "
        "loss study runs stacked MNIST): the digits-r3gan recipe at width 24 for 28 x 100 steps, about the "
        "stacked-digits DCGAN preset's training time on 2 CPU cores. At that time it covers fewer modes, less evenly, "
        "than the DCGAN preset: 868 modes and KL 0.76 over 3 seeds, against 1,000 and 0.047 (the r3gan table of "
        "docs/benchmarks.md; pilots at seed 0: width 32 and 2,700 steps 977 modes, KL 0.47; width 16 and 5,000 "
        "steps 800, 0.92)."
    ),
    dataset="stacked-digits",
    generator={"widths": 24, "blocks": 2},
    discriminator={"widths": 24, "blocks": 2},
    epochs=28,
)


def _r3gan(widths, cardinality, blocks=2):
    """R3GAN's networks: the generator's widths from 4x4 up, the discriminator's the same reversed."""
    return ({"widths": widths, "cardinality": cardinality, "blocks": blocks},
            {"widths": widths[::-1], "cardinality": cardinality[::-1], "blocks": blocks})


def _paper_ramps(lr, gamma, ema_images, augment, decay_images, batch):
    """R3GAN's five schedules (brownvc/R3GAN, train.py), over `decay_images` training images."""
    return {"ramps": {"lr": list(lr), "beta_2": [0.9, 0.99], "r1_penalty": list(gamma), "r2_penalty": list(gamma),
                      "ema_half_life": [0, ema_images], "augment_probability": [0, augment]},
            "ramp_steps": round(decay_images / batch)}


_CIFAR_G, _CIFAR_D = _r3gan([768] * 4, [96] * 4)
PRESETS["cifar10-r3gan"] = TrainConfig(
    preset="cifar10-r3gan",
    description=(
        "Paper settings, for a GPU; not measured on CPU. R3GAN's class-conditional CIFAR-10 configuration "
        "(brownvc/R3GAN, train.py --preset=CIFAR10: FID 1.96 in the paper): widths 768 at every stage, cardinality "
        "96, 2 blocks a stage, expansion 2, z of 64 and a label embedding of 64, batch 512, Adam with beta_1 0, "
        "the pairing loss (rpgan) with R1 and R2, and over 20M images lr 2e-4 -> 5e-5, beta_2 0.9 -> 0.99, gamma "
        "0.05 -> 0.005, EMA half-life 0 -> 5M images and augmentation probability 0 -> 0.55 (here DiffAugment's "
        "policies where R3GAN uses ADA's, and no x-flips); 20M images. CIFAR-10 comes through keras.datasets "
        "(online, or its file in ~/.keras/datasets)."
    ),
    dataset="cifar10",
    model="r3gan",
    conditional=True,
    generator=dict(_CIFAR_G, embedding_dim=64),
    discriminator=_CIFAR_D,
    latent_dim=64,
    batch_size=512,
    epochs=40,
    steps_per_epoch=977,
    loss="rpgan",
    lr=2e-4,
    beta_1=0.0,
    beta_2=0.9,
    r1_penalty=0.05,
    r2_penalty=0.05,
    augment=("translation", "color", "cutout"),
    **_paper_ramps((2e-4, 5e-5), (0.05, 0.005), 5_000_000, 0.55, 2e7, 512),
)

_FFHQ_G, _FFHQ_D = _r3gan([768, 768, 768, 768, 384], [96, 96, 96, 96, 48])
PRESETS["ffhq64-r3gan"] = PRESETS["cifar10-r3gan"].replace(
    preset="ffhq64-r3gan",
    description=(
        "Paper settings, for a GPU; not measured on CPU. R3GAN's FFHQ-64 configuration (train.py --preset=FFHQ-64: "
        "FID 1.95 in the paper): widths 768, 768, 768, 768, 384 from 4x4 to 64x64, cardinality 96 (48 at 64x64), "
        "unconditional, batch 256, and over 20M images lr 2e-4 -> 5e-5, beta_2 0.9 -> 0.99, gamma 2 -> 0.2, EMA "
        "half-life 0 -> 500k images, augmentation probability 0 -> 0.3. FFHQ is not downloadable here: put its "
        "64x64 images in datasets/ffhq-64 (or pass --dataset DIR; --image-size 64 resizes larger ones)."
    ),
    dataset="datasets/ffhq-64",
    image_size=64,
    conditional=False,
    generator=_FFHQ_G,
    discriminator=_FFHQ_D,
    batch_size=256,
    epochs=79,
    steps_per_epoch=1000,
    r1_penalty=2.0,
    r2_penalty=2.0,
    **_paper_ramps((2e-4, 5e-5), (2.0, 0.2), 500_000, 0.3, 2e7, 256),
)

PRESETS["photos-superres"] = TrainConfig(
    preset="photos-superres",
    description=(
        "x4 super-resolution of photographs (ESRGAN's recipe on pix2pix's parts: 8 residual blocks at the "
        "bicubic-downscaled image's size and a sub-pixel convolution to the output, a PatchGAN on (input, output) "
        "pairs, the non-saturating loss + 300 x L1) on random 64-pixel crops of the 13 training photos "
        "scikit-image ships; 4 whole photos held out. 3,000 steps on the L1 term alone, then 600 of the game, "
        "7 minutes on 2 CPU cores: +1.55 dB over bicubic (the L1 network: +1.61 dB) with more of the truth's "
        "high-frequency detail (docs/benchmarks.md)."
    ),
    dataset="photos",
    task="superres:4",
    patch_size=64,
    model="pix2pix",
    generator={"filters": 64, "depth": 0, "blocks": 8, "upsample": "shuffle"},
    discriminator={"filters": 32, "strided": 2},
    batch_size=16,
    pretrain_epochs=10,
    pretrain_lr=1e-3,
    epochs=2,
    steps_per_epoch=300,
    lr=2e-4,
    lr_schedule="linear",
    beta_1=0.9,
    l1_weight=300.0,
    ema=0.999,
)

PRESETS["photos-denoise"] = PRESETS["photos-superres"].replace(
    preset="photos-denoise",
    description=(
        "Denoising of photographs with Gaussian noise of sigma 0.1 on [0, 1] (pix2pix: U-Net + PatchGAN, "
        "non-saturating loss + 100 x L1) on random 32-pixel crops of the 13 training photos scikit-image ships; "
        "4 whole photos held out. 3,000 steps, 7 minutes on 2 CPU cores: +11.4 dB over the noisy input."
    ),
    task="denoise:0.1",
    patch_size=32,
    generator={"filters": 32, "depth": 3},
    pretrain_epochs=0,
    epochs=10,
    lr_schedule="constant",
    beta_1=0.5,
    l1_weight=100.0,
)

PRESETS["digits-inpaint"] = PRESETS["photos-superres"].replace(
    preset="digits-inpaint",
    description=(
        "Inpainting the lower half of each 8x8 digit (pix2pix: a U-Net given the upper half and the mask, a "
        "PatchGAN on (input, output) pairs, the non-saturating loss + 100 x L1) on the digit classifier's "
        "training split; its held-out digits are restored and classified: 91.1 % accuracy (masked: 59.9 %, real: "
        "98.6 %), 3.4 minutes on 2 CPU cores."
    ),
    dataset="digits",
    task="inpaint:lower",
    patch_size=8,
    generator={"filters": 32, "depth": 2},
    discriminator={"filters": 32, "strided": 2},
    batch_size=64,
    pretrain_epochs=0,
    epochs=20,
    steps_per_epoch=200,
    lr_schedule="constant",
    beta_1=0.5,
    l1_weight=100.0,
)

# The order `kgan presets` lists them in.
PRESETS = {name: PRESETS[name] for name in ("digits", "digits-conditional", "ring8", "grid25", "stacked-digits",
                                            "moving-digits", "oracle", "names", "digits-r3gan", "stacked-r3gan",
                                            "cifar10-r3gan", "ffhq64-r3gan", "photos-superres", "photos-denoise",
                                            "digits-inpaint")}


def get_preset(name):
    """Returns the `TrainConfig` of a named preset.

    Args:
        name: a key of `PRESETS` (`kgan presets` lists them).

    Returns:
        The preset's `TrainConfig`; `.replace(...)` changes any field.

    Raises:
        KganError: for an unknown name, listing the presets.

    Example:
        >>> get_preset("ring8").dataset
        'ring8'
    """
    if name not in PRESETS:
        raise KganError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
