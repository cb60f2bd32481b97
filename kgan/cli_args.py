"""The CLI's argument parsing: one-line errors, value types, and TensorFlow loaded quietly."""

import argparse
import contextlib
import os

from kgan._quiet import stderr_silenced

__all__ = ["LOSS_NAMES", "import_tensorflow_quietly", "joined_signed_values"]


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error that points at --help."""

    def error(self, message):
        # One form for every error line, the parser's and the library's: `kgan: error: ...`.
        self.exit(2, f"kgan: error: {message}; see {self.prog} --help\n")


def _value_type(convert, accepts, expected):
    """An argparse type: `convert(text)` where `accepts` the value, else "expected ..., got 'text'"."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accepts(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _value_type(int, lambda v: v > 0, "a positive integer")
_non_negative_int = _value_type(int, lambda v: v >= 0, "a non-negative integer")
_non_negative_float = _value_type(float, lambda v: 0 <= v < float("inf"), "a number >= 0")
_positive_float = _value_type(float, lambda v: v > 0 and v != float("inf"), "a positive number")
_decay = _value_type(float, lambda v: 0.0 <= v < 1.0, "a decay in [0, 1)")
_refit_steps = _value_type(lambda text: "auto" if text == "auto" else int(text),
                           lambda v: v == "auto" or v >= 0, "auto or a non-negative integer")


LOSS_NAMES = ("non_saturating (cross-entropy), minimax, least_squares, wasserstein, hinge, kl, reverse_kl, "
              "relativistic_standard (RelGAN's RSGAN), rpgan (R3GAN's name for it), ragan (relativistic average)")


def import_tensorflow_quietly():
    # TensorFlow's C++ runtime logs informational lines (oneDNN, missing CUDA
    # drivers) while it loads and discovers devices, before TF_CPP_MIN_LOG_LEVEL can apply. Set
    # KGAN_TF_LOGS=1 to see them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with contextlib.nullcontext() if os.environ.get("KGAN_TF_LOGS") else stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # device discovery logs here too


# Options whose values may start with "-" (argparse would read "--weights -1,2" as a missing value).
SIGNED_VALUES = ("--weights",)


def joined_signed_values(argv):
    """`--weights -1,2` as `--weights=-1,2`, so the value reaches its own check."""
    out, items = [], iter(argv)
    for item in items:
        if item in SIGNED_VALUES:
            value = next(items, None)
            if value is None or value.startswith("--"):
                out += [item] + ([] if value is None else [value])
            else:
                out.append(f"{item}={value}")
        else:
            out.append(item)
    return out


