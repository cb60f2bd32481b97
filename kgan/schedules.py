"""Values that change over a run, evaluated at the step inside the compiled train step.

R3GAN (Huang et al., NeurIPS 2024) ramps five values along half a cosine over its run: the
learning rate (2e-4 -> 5e-5), Adam's beta_2 (0.9 -> 0.99), the R1 and R2 weight gamma (down
tenfold), the EMA half-life (0 -> a few million images) and the augmentation probability
(0 -> about 0.5). Here each is a Keras schedule, `schedule(step) -> value`, a
`keras.optimizers.schedules.LearningRateSchedule` so that optimizers take it as they take a
learning-rate schedule and it saves with the model: `kgan.GAN` takes one for `r1_penalty`,
`r2_penalty`, `ema` and `augment_probability`, `ScheduledAdam` for `beta_2`. Being functions of
the step counter, they resume exactly and hold under `steps_per_execution` and
`tf.distribute`, where a callback setting values between batches would not.
"""

import math

import keras
from keras import ops

__all__ = ["CosineRamp", "HalfLifeDecay", "ScheduledAdam", "value_at", "is_schedule"]


def is_schedule(value):
    """Whether `value` is a schedule (a function of the step) rather than a number.

    Args:
        value: a number or a `keras.optimizers.schedules.LearningRateSchedule`.

    Returns:
        True for a schedule.
    """
    return isinstance(value, keras.optimizers.schedules.LearningRateSchedule)


def value_at(value, step):
    """A number as a float32 tensor, or a schedule's value at `step`.

    Args:
        value: a number or a schedule.
        step: the step (an integer tensor or number).

    Returns:
        A float32 scalar tensor.
    """
    if is_schedule(value):
        return ops.cast(value(step), "float32")
    return ops.convert_to_tensor(float(value), "float32")


@keras.saving.register_keras_serializable(package="kgan")
class CosineRamp(keras.optimizers.schedules.LearningRateSchedule):
    """From `start` to `end` along half a cosine over `steps`, then `end`.

    `start + (end - start) * (1 - cos(pi * t / steps)) / 2`: R3GAN's
    `cosine_decay_with_warmup` without warmup, used for every value it schedules (a ramp
    up as well as a decay).

    Args:
        start: the value at step 0.
        end: the value from step `steps` on.
        steps: the length of the ramp, in steps of the optimizer (or GAN) that reads it.

    Example:
        >>> ramp = CosineRamp(2e-4, 5e-5, steps=1000)
        >>> float(ramp(500))  # halfway
        0.000125
    """

    def __init__(self, start, end, steps):
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ValueError(f"a ramp goes between finite numbers, got {start!r} -> {end!r}")
        if int(steps) < 1:
            raise ValueError(f"a ramp lasts at least one step, got {steps!r}")
        self.start, self.end, self.steps = float(start), float(end), int(steps)

    def __call__(self, step):
        t = ops.minimum(ops.cast(step, "float32") / float(self.steps), 1.0)
        return self.start + (self.end - self.start) * 0.5 * (1.0 - ops.cos(math.pi * t))

    def get_config(self):
        """The ramp's arguments, for Keras serialization."""
        return {"start": self.start, "end": self.end, "steps": self.steps}

    def __str__(self):
        return f"{self.start:g} -> {self.end:g} over {self.steps} steps (cosine)"


@keras.saving.register_keras_serializable(package="kgan")
class HalfLifeDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The EMA decay `0.5 ** (batch_size / half_life)` for a half-life counted in images.

    R3GAN's EMA (after Karras et al.'s StyleGAN2): the average forgets half its weight over
    `half_life` training images; a half-life ramped from 0 makes the average follow the
    generator closely early on and smooth it late.

    Args:
        half_life: images, a number or a schedule of them.
        batch_size: images a generator step.
    """

    def __init__(self, half_life, batch_size):
        if isinstance(half_life, dict):
            half_life = keras.saving.deserialize_keras_object(half_life)
        self.half_life, self.batch_size = half_life, int(batch_size)

    def __call__(self, step):
        half_life = ops.maximum(value_at(self.half_life, step), 1e-8)
        return ops.power(0.5, float(self.batch_size) / half_life)

    def __str__(self):
        return f"EMA half-life {self.half_life} images, batch {self.batch_size}"

    def get_config(self):
        """The decay's arguments (a schedule of half-lives serialized), for Keras serialization."""
        half_life = self.half_life
        return {"half_life": keras.saving.serialize_keras_object(half_life) if is_schedule(half_life) else half_life,
                "batch_size": self.batch_size}


@keras.saving.register_keras_serializable(package="kgan")
class ScheduledAdam(keras.optimizers.Adam):
    """Adam whose `beta_2` may be a schedule (R3GAN ramps it from 0.9 to 0.99).

    The update is Keras's Adam with the step's beta_2 in both the second-moment average and
    its bias correction, as PyTorch's Adam does when a training loop sets a parameter group's
    betas every step. With a number it is Keras's Adam.

    Args:
        learning_rate: a number or a learning-rate schedule.
        beta_1: the first moment's decay (R3GAN: 0).
        beta_2: a number or a schedule of the optimizer's step.
        epsilon: Adam's epsilon (R3GAN: 1e-8).
        **kwargs: Keras optimizer arguments.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        if isinstance(beta_2, dict):
            beta_2 = keras.saving.deserialize_keras_object(beta_2)
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=0.999, epsilon=epsilon, **kwargs)
        self.beta_2 = beta_2

    def update_step(self, gradient, variable, learning_rate):
        """Keras's Adam update with this step's beta_2 (see the class).

        Args:
            gradient: the variable's gradient.
            variable: the variable to update.
            learning_rate: this step's learning rate.
        """
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        local_step = ops.cast(self.iterations + 1, variable.dtype)
        beta_1 = ops.cast(self.beta_1, variable.dtype)
        beta_2 = ops.cast(value_at(self.beta_2, self.iterations), variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        alpha = lr * ops.sqrt(1 - ops.power(beta_2, local_step)) / (1 - ops.power(beta_1, local_step))
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - beta_2))
        if self.amsgrad:
            v_hat = self._velocity_hats[self._get_variable_index(variable)]
            self.assign(v_hat, ops.maximum(v_hat, v))
            v = v_hat
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon)))

    def get_config(self):
        """Adam's configuration, a scheduled beta_2 serialized."""
        config = super().get_config()
        if is_schedule(self.beta_2):
            config["beta_2"] = keras.saving.serialize_keras_object(self.beta_2)
        return config
