"""`kgan train`: its flags, and the run it starts (TensorFlow's side loads only when it runs)."""

import argparse
import os

from kgan.cli_args import (LOSS_NAMES, _decay, _non_negative_float, _non_negative_int, _positive_float, _positive_int,
                           import_tensorflow_quietly)
from kgan.config import TrainConfig
from kgan.presets import get_preset

__all__ = ["add_train"]


def add_train(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a GAN and write its run directory",
        description=(
            "Train a GAN from a preset, overriding any of its settings. Writes DIR/model.keras, "
            "DIR/config.json, DIR/history.json and DIR/samples/epoch_NNN.png (DIR defaults to "
            "saved_models/<preset>, or saved_models/<data set name> when --dataset replaces the preset's data, "
            "which makes the run's preset custom)."
        ),
    )
    parser.add_argument("--preset", default="digits", help="named configuration (default: digits); see `kgan presets`")
    parser.add_argument(
        "--dataset",
        help="digits, mnist, fashion_mnist, cifar10, ring8, grid25, stacked-digits, moving-digits, oracle, names, "
        "surnames, a folder of PNG/JPEG images or GIF/MP4 clips, a .npz/.npy file, or a .txt file of text, one "
        "sequence a line (default: the preset's)",
    )
    parser.add_argument("--family", help="the model family (dcgan, mlp, r3gan, video, sequence, or one registered with "
                        "kgan.models.register_family; default: the preset's)")
    parser.add_argument("--loss", help=f"one of {LOSS_NAMES} (default: the preset's)")
    parser.add_argument("--epochs", type=_positive_int, help="number of epochs")
    parser.add_argument("--steps-per-epoch", type=_positive_int, help="steps per epoch (default: one pass)")
    parser.add_argument("--batch-size", type=_positive_int, help="examples per step")
    parser.add_argument("--latent-dim", type=_positive_int, help="size of the latent vector z")
    parser.add_argument("--image-size", type=_positive_int, help="resize images (and clips' frames) to this square side")
    parser.add_argument("--frames", type=_positive_int, help="frames a clip for video data (default 16)")
    parser.add_argument("--tokens", choices=["chars", "words"],
                        help="how a .txt file is cut into tokens: characters (default) or whitespace-separated words")
    parser.add_argument("--length", type=int, metavar="TOKENS",
                        help="tokens a text sequence; longer texts are cut (default: the longest text and its end)")
    parser.add_argument("--pretrain", type=_non_negative_int, metavar="EPOCHS",
                        help="epochs of pretraining before the adversarial phase: a sequence generator by maximum "
                        "likelihood (teacher forcing), a task's restorer on its L1 term (default: the preset's)")
    parser.add_argument("--pretrain-lr", type=float, metavar="LR", help="Adam's learning rate for --pretrain")
    parser.add_argument("--mle-weight", type=_non_negative_float, metavar="WEIGHT",
                        help="a sequence generator keeps this weight of its maximum-likelihood loss in the game "
                        "(kgan.SequenceGAN; 0: the adversarial loss alone; default: the preset's)")
    parser.add_argument("--task", metavar="TASK",
                        help="train a generator that restores images (the pix2pix family) on pairs made from the data "
                        "set's clean images: superres:2, superres:4, denoise:SIGMA, denoise:spAMOUNT, inpaint:lower, "
                        "inpaint:boxes; or paired for a folder with A/ (inputs) and B/ (targets)")
    parser.add_argument("--patch-size", type=_positive_int, metavar="PIXELS",
                        help="a task's training crops (default 64, or the images' side if smaller)")
    parser.add_argument("--l1-weight", type=_non_negative_float, metavar="LAMBDA",
                        help="a task's L1 term's weight (default 100, pix2pix's)")
    parser.add_argument("--feature-matching", type=_non_negative_float, metavar="WEIGHT",
                        help="weight of a task's feature-matching term (the discriminator's hidden features of output "
                        "and target; pix2pixHD: 10; default 0: none)")
    parser.add_argument("--adversarial", action=argparse.BooleanOptionalAction, default=None,
                        help="--no-adversarial trains a task's generator on the L1 term alone (the baseline)")
    parser.add_argument("--lr", type=_positive_float, help="Adam learning rate of both networks")
    parser.add_argument("--r1-penalty", type=_non_negative_float, metavar="GAMMA",
                        help="the R1 penalty GAMMA/2 E||grad D(x)||^2 on real samples (0: off; default: the preset's)")
    parser.add_argument("--r2-penalty", type=_non_negative_float, metavar="GAMMA",
                        help="the R2 penalty on generated samples, as R1 on real ones (R3GAN pairs the two with "
                        "--loss rpgan; default: the preset's)")
    parser.add_argument("--pack", type=_positive_int, help="PacGAN packing: the discriminator judges N samples at once")
    parser.add_argument("--augment", metavar="POLICY",
                        help="DiffAugment for images: a comma-separated subset of color,translation,cutout")
    parser.add_argument("--ema", type=_decay, metavar="DECAY",
                        help="sample from an exponential moving average of the generator's weights, e.g. 0.999 "
                        "(0: off)")
    parser.add_argument("--seed", type=int, help="seed of weights, data order and latents (default 0)")
    parser.add_argument("--out", metavar="DIR",
                        help="run directory (default: saved_models/<preset>, or saved_models/<data set name>)")
    parser.add_argument(
        "--no-export", action="store_true", help="do not export to SavedModel and ONNX when training ends"
    )
    parser.add_argument("--export-dir", metavar="DIR", help="where the ONNX export goes (default: export/<run name>)")
    parser.add_argument(
        "--xla",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="force XLA compilation on (--xla) or off (--no-xla); default: Keras decides (on with a GPU)",
    )
    parser.add_argument(
        "--strategy",
        choices=["default", "mirrored", "multiworker"],
        help="tf.distribute strategy: mirrored (all GPUs, or --devices logical CPUs without one) or "
        "multiworker (the cluster in TF_CONFIG; the chief writes the artifacts)",
    )
    parser.add_argument("--steps-per-execution", type=_positive_int, metavar="N",
                        help="training steps per call into the compiled step: less per-step overhead, the same "
                        "results (default: the preset's)")
    parser.add_argument("--update", choices=["alternating", "reuse_fakes", "simultaneous"],
                        help="how a step updates the two sides: alternating (default), or faster: reuse_fakes "
                        "(one batch of fakes for both), simultaneous (also one discriminator pass for both)")
    parser.add_argument("--mixture", type=_positive_int, metavar="K",
                        help="train a mixture of K generators (kgan.GeneratorMixture), sampled as one model")
    parser.add_argument("--diversity", type=_positive_float, metavar="BETA",
                        help="MGAN's diversity term: the discriminator learns which member made a sample and each "
                        "member pays BETA times its cross-entropy (needs --mixture)")
    parser.add_argument("--conditional", action=argparse.BooleanOptionalAction, default=None,
                        help="condition both networks on the data set's labels (default: the preset's)")
    parser.add_argument("--shared-members", action="store_true", default=None,
                        help="the mixture's members share all but their first layer, as in MGAN")
    parser.add_argument("--devices", type=_positive_int, help="devices of the mirrored strategy (default: all GPUs, or 2 CPUs)")
    parser.add_argument(
        "--precision",
        choices=["float32", "mixed_float16", "mixed_bfloat16"],
        help="compute precision (default float32); exported models keep float32 inputs and outputs",
    )
    parser.add_argument("--backup-every", type=_positive_int, metavar="N",
                        help="back up every N steps as well as every epoch (DIR/backup/)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the interrupted run in --out DIR (or saved_models/<preset>) from its backup")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run_train)


def _run_train(args):
    get_preset(args.preset)  # an unknown preset is refused before TensorFlow loads (seconds sooner)
    import_tensorflow_quietly()
    from kgan.training import train  # TensorFlow's side: imported by the commands that use it

    if args.resume:
        run_dir = args.out or get_preset(args.preset).with_flags(dataset=args.dataset).run_dir
        config = TrainConfig.from_run(run_dir).with_flags(epochs=args.epochs, backup_every=args.backup_every)
        result = train(config, verbose=0 if args.quiet else 1, resume=True)
        return _report_training(result)
    preset = get_preset(args.preset)
    config = preset.with_flags(
        dataset=args.dataset,
        # a task on a preset of latents: the family that takes images
        model=args.family or ("pix2pix" if args.task and preset.task is None else None),
        task=args.task,
        patch_size=args.patch_size,
        l1_weight=args.l1_weight,
        adversarial=args.adversarial,
        feature_matching=args.feature_matching,
        mle_weight=args.mle_weight,
        loss=args.loss,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        latent_dim=args.latent_dim,
        image_size=args.image_size,
        frames=args.frames,
        tokens=args.tokens,
        length=args.length,
        pretrain_epochs=args.pretrain,
        pretrain_lr=args.pretrain_lr,
        conditional=args.conditional,
        lr=args.lr,
        r1_penalty=args.r1_penalty,
        r2_penalty=args.r2_penalty,
        pack=args.pack,
        augment=tuple(a for a in args.augment.split(",") if a) if args.augment else None,
        ema=args.ema,
        seed=args.seed,
        out=args.out,
        xla=args.xla,
        steps_per_execution=args.steps_per_execution,
        update=args.update,
        mixture=args.mixture,
        diversity=args.diversity,
        shared_members=args.shared_members,
        export_dir=args.export_dir,
        strategy=args.strategy,
        devices=args.devices,
        precision=args.precision,
        backup_every=args.backup_every,
    )
    if args.no_export:
        config = config.replace(export=False)
    return _report_training(train(config, verbose=0 if args.quiet else 1))


def _report_training(result):
    print(f"kgan: trained in {result.seconds:.1f} s; run directory {result.run_dir}")
    for key in ("model", "samples", "history", "config", "saved_model", "onnx"):
        if result.files.get(key):
            print(f"  {key:12s} {result.files[key]}")
    if result.files.get("onnx"):
        folder = os.path.dirname(result.files["onnx"])
        print(f"kgan: sample from the ONNX generator with `kgan generate {folder} -n 64 -o grid.png`")
    return 0


