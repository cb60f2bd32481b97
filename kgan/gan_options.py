"""The `GAN`'s own arguments: checked and normalized once, and saved in its Keras config."""

import keras
import numpy as np

from kgan import losses as losses_lib
from kgan.augment import POLICIES
from kgan.errors import KganError
from kgan.models.base import protocol
from kgan.runtime.samples import SampleSpec
from kgan.schedules import is_schedule

__all__ = ["UPDATES", "check_options", "options_config", "loss_pair"]

UPDATES = ("alternating", "reuse_fakes", "simultaneous")


def check_options(generator, discriminator, loss, d_steps, gradient_penalty, r1_penalty, instance_noise,
                  instance_noise_steps, label_smoothing, latent_dim, num_classes, seed, pack, augment, ema,
                  sample_spec, joint_discriminator, update, diversity, calibration, r2_penalty=0.0,
                  augment_probability=1.0):
    """The GAN's attributes for its arguments (see `GAN`); a bad one is a `KganError` naming it."""
    hooks = protocol(generator)
    pair = loss_pair(loss)
    if int(d_steps) < 1:
        raise KganError(f"d_steps must be at least 1, got {d_steps!r}")
    r1_penalty, r2_penalty, ema, augment_probability = (
        _schedule_or_number(value) for value in (r1_penalty, r2_penalty, ema, augment_probability))
    for name, value in (("gradient_penalty", gradient_penalty), ("r1_penalty", r1_penalty),
                        ("r2_penalty", r2_penalty), ("instance_noise", instance_noise)):
        if not is_schedule(value) and (not np.isfinite(value) or value < 0):
            raise KganError(f"{name} must be a finite number >= 0 or a schedule, got {value!r}")
    if not is_schedule(augment_probability) and not 0.0 <= augment_probability <= 1.0:
        raise KganError(f"augment_probability must be in [0, 1] or a schedule, got {augment_probability!r}")
    if not 0.0 <= label_smoothing < 1.0:
        raise KganError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
    if label_smoothing and isinstance(loss, str) and loss not in losses_lib.SMOOTHABLE_LOSSES:
        raise KganError(f"label_smoothing applies to {', '.join(losses_lib.SMOOTHABLE_LOSSES)}, not to loss "
                        f"{loss!r}: drop it or change the loss")
    if int(pack) < 1:
        raise KganError(f"pack must be at least 1, got {pack!r}")
    augment = tuple([augment] if isinstance(augment, str) else augment or ())
    unknown = [a for a in augment if a not in POLICIES]
    if unknown:
        raise KganError(f"unknown augmentation {unknown[0]!r}: choose from {', '.join(POLICIES)}")
    if not is_schedule(ema) and not 0.0 <= float(ema) < 1.0:
        raise KganError(f"ema must be a decay in [0, 1) (0 is off, 0.999 is usual), got {ema!r}")
    latent_dim = latent_dim or hooks.latent_dim
    if latent_dim is None and hooks.latent_prior() is None:
        raise KganError("cannot read latent_dim from the generator: pass GAN(..., latent_dim=N)")
    if latent_dim is not None and int(latent_dim) <= 0:
        raise KganError(f"latent_dim must be a positive integer, got {latent_dim!r}")
    if num_classes is None:
        num_classes = hooks.num_classes
    if num_classes is None and hooks.latent_prior() is None and _input_count(generator) == 2:
        raise KganError("the generator takes two inputs: pass GAN(..., num_classes=N) for a conditional GAN")
    if int(pack) > 1 and num_classes:
        raise KganError("packing (pack > 1) works with unconditional GANs only: drop pack or the labels")
    if int(pack) > 1 and hooks.kind == "tokens":
        raise KganError("packing (pack > 1) joins samples along their last axis, which tokens do not have: drop pack")
    if joint_discriminator not in ("auto", True, False):
        raise KganError(f"joint_discriminator must be 'auto', True or False, got {joint_discriminator!r}")
    if update not in UPDATES:
        raise KganError(f"update must be one of {', '.join(UPDATES)}, got {update!r}")
    if not np.isfinite(float(diversity)) or float(diversity) < 0:
        raise KganError(f"diversity must be a finite number >= 0, got {diversity!r}")
    if diversity:
        _check_member_head(generator, discriminator)
        if int(pack) > 1:
            raise KganError("diversity classifies single samples: drop pack")
    return {
        "_loss_pair": pair, "loss_name": loss if isinstance(loss, str) else tuple(loss), "d_steps": int(d_steps),
        "gradient_penalty": float(gradient_penalty), "r1_penalty": r1_penalty, "r2_penalty": r2_penalty,
        "instance_noise": float(instance_noise), "instance_noise_steps": int(instance_noise_steps),
        "label_smoothing": float(label_smoothing), "seed": seed, "pack": int(pack), "augment": augment,
        "ema": ema, "augment_probability": augment_probability, "latent_dim": None if latent_dim is None else int(latent_dim),  # None: no `z`
        "num_classes": int(num_classes) if num_classes else None,
        "_sample_spec": SampleSpec.from_dict(sample_spec) if isinstance(sample_spec, dict) else sample_spec,
        "joint_discriminator": joint_discriminator, "update": update, "diversity": float(diversity),
        "calibration": dict(calibration) if calibration else None,
    }


def options_config(gan):
    """The GAN's arguments as its Keras config saves them (JSON: loss functions serialized)."""
    return {
        "generator": keras.layers.serialize(gan.generator),
        "discriminator": keras.layers.serialize(gan.discriminator),
        "loss": gan.loss_name if isinstance(gan.loss_name, str) else [
            keras.saving.serialize_keras_object(fn) for fn in gan.loss_name],
        **{name: getattr(gan, name) for name in (
            "d_steps", "gradient_penalty", "instance_noise", "instance_noise_steps", "label_smoothing",
            "latent_dim", "num_classes", "seed", "pack")},
        **{name: _saved(getattr(gan, name)) for name in ("r1_penalty", "r2_penalty", "ema", "augment_probability")},
        "augment": list(gan.augment),
        "sample_spec": None if gan._sample_spec is None else gan._sample_spec.to_dict(),
        "joint_discriminator": gan.joint_discriminator,
        "update": gan.update,
        "diversity": gan.diversity,
        "calibration": gan.calibration,
    }


def options_from_config(config):
    """`GAN(**options_from_config(config))`: the models and loss functions of a saved config rebuilt."""
    config = dict(config)
    config["generator"] = keras.layers.deserialize(config["generator"])
    config["discriminator"] = keras.layers.deserialize(config["discriminator"])
    for name in ("r1_penalty", "r2_penalty", "ema", "augment_probability"):
        if isinstance(config.get(name), dict):  # a schedule
            config[name] = keras.saving.deserialize_keras_object(config[name])
    if isinstance(config.get("loss"), list):
        config["loss"] = tuple(keras.saving.deserialize_keras_object(fn) for fn in config["loss"])
    return config


def loss_pair(loss):
    """`(generator_loss, discriminator_loss)` for a loss name or a pair of functions."""
    if isinstance(loss, str):
        return losses_lib.get_loss_pair(loss)
    if isinstance(loss, (tuple, list)) and len(loss) == 2 and all(callable(fn) for fn in loss):
        return tuple(loss)
    raise KganError(f"loss must be a name ({', '.join(losses_lib.LOSSES)}) or a pair of functions "
                    f"(generator_loss, discriminator_loss), got {loss!r}")


def _schedule_or_number(value):
    """A schedule as it is, anything else as a float (a bad value is left for the checks to name)."""
    if is_schedule(value):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise KganError(f"expected a number or a kgan.schedules schedule, got {value!r}") from None


def _saved(value):
    return keras.saving.serialize_keras_object(value) if is_schedule(value) else value


def _input_count(model):
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    return len(inputs) if inputs else None


def _check_member_head(generator, discriminator):
    """Raises unless `generator` is a mixture and `discriminator` has a member head of its size."""
    k = protocol(generator).num_members
    if not k:
        raise KganError("diversity trains the members of a mixture: give GAN a kgan.GeneratorMixture, or drop diversity")
    try:
        shapes = [tuple(out.shape) for out in discriminator.outputs]
    except (AttributeError, ValueError):
        shapes = []
    if len(shapes) != 2 or shapes[1][-1] != k:
        raise KganError(f"diversity needs a discriminator with a member head of {k} logits: build kgan's "
                        f"discriminator with member_head={k}, or give yours a second output of {k} logits")
