"""Trains SGD steps on 1 replica and on 2 logical CPU replicas; prints JSON.

The weights compared include the generator's moving average.

Run in a fresh process: logical devices must be configured before TensorFlow starts.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from kgan.gan import GAN  # noqa: E402
from kgan.models import DCGANDiscriminator, DCGANGenerator, R3GANDiscriminator, R3GANGenerator  # noqa: E402
from kgan.schedules import CosineRamp, HalfLifeDecay  # noqa: E402


def run(strategy, loss, steps):
    images = np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 1)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(8)
    with strategy.scope():
        keras.utils.set_random_seed(0)
        if loss == "r3gan":  # the family with its recipe: the pairing loss, R1 and R2 and the EMA on schedules
            generator = R3GANGenerator((8, 8, 1), latent_dim=4, widths=8, cardinality=2)
            discriminator = R3GANDiscriminator((8, 8, 1), widths=8, cardinality=2)
            gan = GAN(generator, discriminator, loss="rpgan", r1_penalty=CosineRamp(1.0, 0.1, 4),
                      r2_penalty=CosineRamp(1.0, 0.1, 4), ema=HalfLifeDecay(CosineRamp(0.0, 64.0, 4), 8), seed=3)
        else:
            # No BatchNorm: per-replica batch statistics would differ by design.
            generator = DCGANGenerator((8, 8, 1), latent_dim=4, filters=4, batch_norm=False)
            discriminator = DCGANDiscriminator((8, 8, 1), filters=4)
            gan = GAN(generator, discriminator, loss=loss, gradient_penalty=1.0 if loss == "wasserstein" else 0.0,
                      seed=3, ema=0.5)
        gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), jit_compile=False)
    history = gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    weights = [v.numpy() for v in generator.weights + discriminator.weights + gan.ema_generator.weights]
    return weights, {k: float(v[-1]) for k, v in history.history.items()}


def main():
    """Arguments: losses (comma-separated, default non_saturating) and steps; one JSON line a loss."""
    losses = sys.argv[1].split(",") if len(sys.argv) > 1 else ["non_saturating"]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    for loss in losses:
        one_weights, one_logs = run(tf.distribute.OneDeviceStrategy("/cpu:0"), loss, steps)
        mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        two_weights, two_logs = run(mirrored, loss, steps)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(one_weights, two_weights))
        print(json.dumps({"loss": loss, "replicas": mirrored.num_replicas_in_sync, "max_weight_diff": diff,
                          "one": one_logs, "two": two_logs}))


if __name__ == "__main__":
    main()
