"""The `kgan` command: a thin layer of flags over the library.

Every user error prints one line `kgan: error: ...` on stderr and exits with 2.
"""

import argparse
import contextlib
import os
import sys

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error that points at --help."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _add_train(subparsers):
    from kgan.losses import LOSSES

    parser = subparsers.add_parser(
        "train",
        help="train a GAN and write its run directory",
        description=(
            "Train a GAN from a preset, overriding any of its settings. Writes DIR/model.keras, "
            "DIR/config.json, DIR/history.json and DIR/samples/epoch_NNN.png (DIR defaults to "
            "saved_models/<preset>)."
        ),
    )
    parser.add_argument("--preset", default="digits", help="named configuration (default: digits); see `kgan presets`")
    parser.add_argument(
        "--dataset",
        help="digits, mnist, fashion_mnist, cifar10, ring8, grid25, stacked-digits, "
        "a folder of PNG/JPEG images or a .npz/.npy file (default: the preset's)",
    )
    parser.add_argument("--loss", help=f"one of {', '.join(LOSSES)} (default: the preset's)")
    parser.add_argument("--epochs", type=_positive_int, help="number of epochs")
    parser.add_argument("--steps-per-epoch", type=_positive_int, help="steps per epoch (default: one pass)")
    parser.add_argument("--batch-size", type=_positive_int, help="examples per step")
    parser.add_argument("--latent-dim", type=_positive_int, help="size of the latent vector z")
    parser.add_argument("--image-size", type=_positive_int, help="resize images to this square side")
    parser.add_argument("--lr", type=_positive_float, help="Adam learning rate of both networks")
    parser.add_argument("--seed", type=int, help="seed of weights, data order and latents (default 0)")
    parser.add_argument("--out", metavar="DIR", help="run directory (default: saved_models/<preset>)")
    parser.add_argument("--no-export", action="store_true", help="do not export to ONNX when training ends")
    parser.add_argument(
        "--xla",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="force XLA compilation on (--xla) or off (--no-xla); default: Keras decides (on with a GPU)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run_train)


def _run_train(args):
    from kgan.presets import get_preset
    from kgan.training import train

    config = get_preset(args.preset).replace(
        dataset=args.dataset,
        loss=args.loss,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        latent_dim=args.latent_dim,
        image_size=args.image_size,
        lr=args.lr,
        seed=args.seed,
        out=args.out,
        xla=args.xla,
    )
    if args.no_export:
        config = config.replace(export=False)
    result = train(config, verbose=0 if args.quiet else 1)
    print(f"kgan: trained in {result.seconds:.1f} s; run directory {result.run_dir}")
    print(f"  model    {result.files['model']}")
    print(f"  samples  {result.files['samples']}")
    print(f"  history  {result.files['history']}")
    print(f"  config   {result.files['config']}")
    return 0


def _add_presets(subparsers):
    parser = subparsers.add_parser("presets", help="list the named training configurations")
    parser.set_defaults(func=_run_presets)


def _run_presets(args):
    from kgan.presets import PRESETS

    for name, config in PRESETS.items():
        print(f"{name:20s} {config.description}")
    return 0


def build_parser():
    from kgan import __version__

    parser = _Parser(
        prog="kgan", description="Train GANs with Keras 3, export them to ONNX, and sample from them."
    )
    parser.add_argument("--version", action="version", version=f"kgan {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _add_train(subparsers)
    _add_presets(subparsers)
    return parser


@contextlib.contextmanager
def _stderr_silenced():
    """Points file descriptor 2 at /dev/null (C++ libraries write there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_tensorflow_quietly():
    # TensorFlow's C++ runtime logs informational lines (oneDNN, missing CUDA
    # drivers) while it loads and discovers devices, before TF_CPP_MIN_LOG_LEVEL can apply. Set
    # KGAN_TF_LOGS=1 to see them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with contextlib.nullcontext() if os.environ.get("KGAN_TF_LOGS") else _stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # device discovery logs here too
    # Grappler's remapper fails to fuse Conv2D + BiasAdd + LeakyReLU inside the
    # discriminator's gradient and logs an error each time it tries; the step runs
    # the same (measured no slower) without the pass.
    tf.config.optimizer.set_experimental_options({"remapping": False})


def main(argv=None):
    """Runs the `kgan` command; returns the exit status."""
    from kgan.errors import KganError

    _import_tensorflow_quietly()

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KganError as error:
        print(f"kgan: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kgan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
