"""Training speed of kgan against the keras.io pattern and PyTorch on the same layers.

    python benchmarks/train_speed.py [--repeats 5] [--only mnist,dcgan64] [--variants ...]
                                     [--out benchmarks/train_speed.jsonl]

The presets `digits`, `ring8` and `digits-r3gan`, and R3GAN's networks at the `digits` preset's parameter
count (`r3gan-size`), run their own GANs on their own data; the script prints each r3gan variant's speed as a
ratio to the `digits` preset's. Two architectures, batch 64, the same random data in memory, all in one process with
the variants interleaved in every repeat (the machine is shared and noisy):

- `mnist`: the GAN of keras.io's "Customizing what happens in fit()" guide (28x28x1,
  latent 128, no normalization).
- `dcgan64`: pytorch/examples' DCGAN (64x64x3, nz 100, ngf = ndf = 64, BatchNorm).

Variants: `keras.io` (the guide's `train_step`, written here in Keras 3 spelling: the
fakes made outside any tape, real and fake through the discriminator in one call,
sigmoid cross-entropy on logits, the models called without `training`, so BatchNorm
runs in inference mode), `keras.io-train` (the same with `training=True`, as kgan and
PyTorch train), `kgan` (`kgan.GAN` over the same generator and
discriminator), `kgan-xla` (`jit_compile=True`), `kgan-bf16` (`mixed_bfloat16`),
`kgan-xla-bf16` (both),
`kgan-spe` (`steps_per_execution=8`), `kgan-split` and `kgan-dense` (the r3gan family's grouped
convolutions one a group or as one block-diagonal convolution, `kgan.layers.GroupedConv2D`), the speed options `kgan-reuse`
(`update="reuse_fakes"`), `kgan-sim` (`update="simultaneous"`) and `kgan-sim-bf16` (with
`mixed_bfloat16`), `kgan-tapeall` (tapes that watch every variable they touch, as kgan's
did before they watched only the side they differentiate), and `torch` (the same layers
in PyTorch on the CPU, as pytorch/examples trains them; needs the `bench` extra). Each repeat times a
fixed number of steps after a traced warm-up; the table gives images per second, the
best and the median over repeats, and each variant's ratio to `keras.io` (medians).
The achieved FLOP/s use a count of each step's multiply-adds (forward x 3 for a pass
with its backward) against a same-process 4096 x 4096 matmul, the practical limit. The
count is the alternating step's, so for the update options (which skip part of that
work) it is an effective rate. Each run appends a line to `--out`, which the documentation's Benchmarks
page draws (`section`).
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

BATCH = 64
PRESETS = ("digits", "ring8", "digits-r3gan", "r3gan-size")
# R3GAN's networks on the digits at about the digits preset's parameter count (404k): widths 72 (364k).
R3GAN_SIZE = {"widths": 72}
# How the r3gan variants run their grouped convolutions (kgan.layers.GroupedConv2D).
IMPLEMENTATIONS = {"kgan-split": "split", "kgan-dense": "dense"}


def settings(variant):
    """What a kgan variant changes: precision, XLA, steps per execution, update, joint call, tapes."""
    return {
        "precision": "mixed_bfloat16" if variant.endswith("bf16") else "float32",
        "xla": variant.startswith("kgan-xla"),
        "spe": 8 if variant == "kgan-spe" else 1,
        "update": {"kgan-reuse": "reuse_fakes", "kgan-sim": "simultaneous",
                   "kgan-sim-bf16": "simultaneous"}.get(variant, "alternating"),
        "apart": variant == "kgan-apart",
        "tapeall": variant == "kgan-tapeall",
    }


def kgan_class(tapeall):
    """kgan.GAN, or with `tapeall` a GAN whose tapes watch every variable they touch."""
    import contextlib

    import tensorflow as tf

    import kgan

    if not tapeall:
        return kgan.GAN

    class WatchAllGAN(kgan.GAN):
        @staticmethod
        @contextlib.contextmanager
        def _watching(variables):
            with tf.GradientTape() as tape:
                yield tape

    return WatchAllGAN


# -- the layers, in Keras --------------------------------------------------------


def keras_models(arch):
    import keras
    from keras import layers

    if arch == "mnist":
        latent = 128
        discriminator = keras.Sequential([
            keras.Input((28, 28, 1)),
            layers.Conv2D(64, 3, strides=2, padding="same"), layers.LeakyReLU(0.2),
            layers.Conv2D(128, 3, strides=2, padding="same"), layers.LeakyReLU(0.2),
            layers.GlobalMaxPooling2D(), layers.Dense(1),
        ], name="discriminator")
        generator = keras.Sequential([
            keras.Input((latent,)),
            layers.Dense(7 * 7 * 128), layers.LeakyReLU(0.2), layers.Reshape((7, 7, 128)),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
            layers.Conv2D(1, 7, padding="same", activation="sigmoid", dtype="float32"),
        ], name="generator")
        return generator, discriminator, latent, (28, 28, 1)
    latent, ngf, ndf = 100, 64, 64
    g = [keras.Input((latent,)), layers.Reshape((1, 1, latent)),
         layers.Conv2DTranspose(ngf * 8, 4, strides=1, padding="valid", use_bias=False),
         layers.BatchNormalization(), layers.ReLU()]
    for width in (ngf * 4, ngf * 2, ngf):
        g += [layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False),
              layers.BatchNormalization(), layers.ReLU()]
    g += [layers.Conv2DTranspose(3, 4, strides=2, padding="same", use_bias=False),
          layers.Activation("tanh", dtype="float32")]
    d = [keras.Input((64, 64, 3)), layers.Conv2D(ndf, 4, strides=2, padding="same", use_bias=False), layers.LeakyReLU(0.2)]
    for width in (ndf * 2, ndf * 4, ndf * 8):
        d += [layers.Conv2D(width, 4, strides=2, padding="same", use_bias=False), layers.BatchNormalization(),
              layers.LeakyReLU(0.2)]
    d += [layers.Conv2D(1, 4, padding="valid", use_bias=False), layers.Flatten(), layers.Activation("linear", dtype="float32")]
    return keras.Sequential(g, name="generator"), keras.Sequential(d, name="discriminator"), latent, (64, 64, 3)


def keras_io_gan(generator, discriminator, latent, training=None):
    """keras.io's GAN `train_step` ("Customizing what happens in fit()"), Keras 3 spelling.

    As on keras.io the models are called without `training`, which in Keras 3 runs
    BatchNormalization in inference mode inside `fit`: it never normalizes by the batch
    nor updates its moving statistics. `training=True` is the pattern with that fixed.
    """
    import keras
    import tensorflow as tf
    from keras import ops

    class KerasIOGAN(keras.Model):
        def __init__(self):
            super().__init__()
            self.generator, self.discriminator = generator, discriminator
            self.seed_generator = keras.random.SeedGenerator(1337)
            self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def compile(self, d_optimizer, g_optimizer, **kwargs):
            super().compile(**kwargs)
            self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

        def train_step(self, real_images):
            batch_size = ops.shape(real_images)[0]
            z = keras.random.normal((batch_size, latent), seed=self.seed_generator)
            generated = self.generator(z, training=training)
            combined = ops.concatenate([generated, real_images], axis=0)
            labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
            labels += 0.05 * keras.random.uniform(ops.shape(labels), seed=self.seed_generator)
            with tf.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.discriminator(combined, training=training))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply(grads, self.discriminator.trainable_weights)
            z = keras.random.normal((batch_size, latent), seed=self.seed_generator)
            with tf.GradientTape() as tape:
                fakes = self.generator(z, training=training)
                g_loss = self.loss_fn(ops.zeros((batch_size, 1)), self.discriminator(fakes, training=training))
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply(grads, self.generator.trainable_weights)
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    return KerasIOGAN()


class KerasRunner:
    """A compiled Keras model whose `fit` runs `steps` steps of in-memory data per call."""

    def __init__(self, arch, variant, data):
        import keras
        import tensorflow as tf

        import kgan

        options = settings(variant)
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(options["precision"])
        try:
            keras.utils.set_random_seed(0)
            generator, discriminator, latent, _ = keras_models(arch)
            adam = lambda: keras.optimizers.Adam(2e-4, beta_1=0.5)  # noqa: E731
            if variant.startswith("keras.io"):
                self.model = keras_io_gan(generator, discriminator, latent,
                                          training=True if variant == "keras.io-train" else None)
                self.model.compile(adam(), adam(), jit_compile=False)
            else:
                self.model = kgan_class(options["tapeall"])(
                    generator, discriminator, latent_dim=latent, seed=0, update=options["update"],
                    joint_discriminator=False if options["apart"] else "auto")
                self.model.compile(adam(), adam(), jit_compile=options["xla"], steps_per_execution=options["spe"])
        finally:
            keras.mixed_precision.set_global_policy(previous)
        options = tf.data.Options()
        options.autotune.enabled = False  # as kgan's own pipelines: no teardown stalls (docs/benchmarks.md)
        self.dataset = (tf.data.Dataset.from_tensor_slices(data).batch(BATCH, drop_remainder=True).repeat()
                        .with_options(options))
        self.flops = step_flops(generator, discriminator, latent)

    def run(self, steps):
        self.model.fit(self.dataset, epochs=1, steps_per_epoch=steps, verbose=0)


class PresetRunner:
    """A kgan preset's own GAN and data (`digits`, `ring8`); `kgan-apart` calls the
    discriminator on real and fake apart, as kgan did before it joined them."""

    def __init__(self, preset, variant):
        import keras

        import kgan
        from kgan import gan as gan_module
        from kgan import training

        options = settings(variant)
        if preset == "r3gan-size":
            base = kgan.get_preset("digits-r3gan").replace(generator=R3GAN_SIZE, discriminator=R3GAN_SIZE)
        else:
            base = kgan.get_preset(preset)
        if variant in IMPLEMENTATIONS:
            implementation = {"implementation": IMPLEMENTATIONS[variant]}
            base = base.replace(generator=dict(base.generator, **implementation),
                                discriminator=dict(base.discriminator, **implementation))
        config = base.replace(
            xla=options["xla"], steps_per_execution=options["spe"], precision=options["precision"],
            update=options["update"])
        keras.utils.set_random_seed(0)
        dataset, info = kgan.load_dataset(config.dataset, batch_size=BATCH, labels=config.conditional, seed=0,
                                          num_examples=config.num_examples)
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(config.precision)
        original = gan_module.GAN  # build_gan's class
        gan_module.GAN = kgan_class(options["tapeall"])
        try:
            self.model = training.build_gan(config.replace(batch_size=BATCH), info)
        finally:
            gan_module.GAN = original
            keras.mixed_precision.set_global_policy(previous)
        if options["apart"]:
            self.model.joint_discriminator = False
        self.dataset = dataset.repeat()
        self.flops = step_flops(self.model.generator, self.model.discriminator, self.model.latent_dim)

    def run(self, steps):
        self.model.fit(self.dataset, epochs=1, steps_per_epoch=steps, verbose=0)


# -- the same layers, in PyTorch ---------------------------------------------------


class TorchRunner:
    """pytorch/examples' DCGAN loop (dcgan64) and the keras.io loop (mnist) on the same layers."""

    def __init__(self, arch, data):
        import torch
        from torch import nn

        torch.manual_seed(0)
        torch.set_num_threads(os.cpu_count() or 1)
        self.torch, self.arch = torch, arch
        if arch == "mnist":
            self.latent = 128
            self.d = nn.Sequential(nn.Conv2d(1, 64, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 3, 2, 1),
                                   nn.LeakyReLU(0.2), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(128, 1))
            self.g = nn.Sequential(nn.Linear(128, 7 * 7 * 128), nn.LeakyReLU(0.2), nn.Unflatten(1, (128, 7, 7)),
                                   nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.LeakyReLU(0.2),
                                   nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.LeakyReLU(0.2),
                                   nn.Conv2d(128, 1, 7, 1, 3), nn.Sigmoid())
        else:
            self.latent, ngf, ndf = 100, 64, 64
            self.g = nn.Sequential(
                nn.Unflatten(1, (100, 1, 1)),
                nn.ConvTranspose2d(100, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
                nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())
            self.d = nn.Sequential(
                nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Flatten())
        self.opt_d = torch.optim.Adam(self.d.parameters(), 2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.g.parameters(), 2e-4, betas=(0.5, 0.999))
        self.loss = nn.BCEWithLogitsLoss()
        self.data = torch.from_numpy(np.ascontiguousarray(np.moveaxis(data, -1, 1)))
        self.batches = len(self.data) // BATCH

    def step(self, i):
        torch = self.torch
        real = self.data[(i % self.batches) * BATCH : (i % self.batches + 1) * BATCH]
        ones, zeros = torch.ones(BATCH, 1), torch.zeros(BATCH, 1)
        fake = self.g(torch.randn(BATCH, self.latent))
        self.opt_d.zero_grad()
        if self.arch == "mnist":  # keras.io: one discriminator call on fake + real, a fresh z for G
            labels = torch.cat([ones, zeros]) + 0.05 * torch.rand(2 * BATCH, 1)
            self.loss(self.d(torch.cat([fake.detach(), real])), labels).backward()
            self.opt_d.step()
            self.opt_g.zero_grad()
            self.loss(self.d(self.g(torch.randn(BATCH, self.latent))), zeros).backward()
        else:  # pytorch/examples: real and fake in two calls, the same fakes for G
            self.loss(self.d(real), ones).backward()
            self.loss(self.d(fake.detach()), zeros).backward()
            self.opt_d.step()
            self.opt_g.zero_grad()
            self.loss(self.d(fake), ones).backward()
        self.opt_g.step()

    def run(self, steps):
        for i in range(steps):
            self.step(i)


# -- measuring ------------------------------------------------------------------------


def _macs(model):
    """Multiply-adds of one forward pass of one example through Conv / Dense layers."""
    import keras

    total = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            kernel = int(np.prod(layer.kernel.shape))
            out = layer.output.shape if isinstance(layer, keras.layers.Conv2D) else layer.input.shape
            total += kernel * int(np.prod(out[1:3]))
    return total


def step_flops(generator, discriminator, latent):
    """FLOPs of one step: G forward for D's step, D forward + backward on 2B, G and D forward +
    backward on B for G's step; a backward is counted as two forwards."""
    g, d = 2 * _macs(generator), 2 * _macs(discriminator)
    return BATCH * (g + 3 * 2 * d + 3 * g + 3 * d)


def matmul_flops(dtype="float32", n=4096, repeats=5):
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    tf.matmul(a, a).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tf.matmul(a, a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="mnist,dcgan64,digits,ring8")
    parser.add_argument("--variants", default="keras.io,keras.io-train,kgan,kgan-tapeall,kgan-xla,kgan-bf16,kgan-xla-bf16,"
                        "kgan-spe,kgan-reuse,kgan-sim,kgan-sim-bf16,torch")
    parser.add_argument("--steps", default="mnist=24,dcgan64=8,digits=56,ring8=96", help="steps timed per repeat")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_speed.jsonl"),
                        help="where the run's line goes (JSON lines)")
    args = parser.parse_args()
    steps = dict(item.split("=") for item in args.steps.split(","))
    rng = np.random.default_rng(0)
    limit, limit_bf16 = matmul_flops(), matmul_flops("bfloat16")
    print(f"machine: {os.cpu_count()} cores; float32 4096x4096 matmul {limit / 1e9:.0f} GFLOP/s, "
          f"bfloat16 {limit_bf16 / 1e9:.0f} GFLOP/s")
    rows = []
    for arch in args.only.split(","):
        shape = (28, 28, 1) if arch == "mnist" else (64, 64, 3)
        data = rng.uniform(-1, 1, (8 * BATCH, *shape)).astype(np.float32)
        runners = {}
        variants = args.variants.split(",")
        if arch in PRESETS:  # kgan's own models: against kgan as it was, with no keras.io or torch twin
            variants = ["kgan-apart"] + [v for v in variants if v.startswith("kgan") and v != "kgan-apart"]
            if "r3gan" not in arch:
                variants = [v for v in variants if v not in IMPLEMENTATIONS]
        for variant in variants:
            if arch in PRESETS:
                runners[variant] = PresetRunner(arch, variant)
            elif variant == "torch":
                try:
                    runners[variant] = TorchRunner(arch, data)
                except ImportError:
                    print("torch is not installed (pip install 'kgan[bench]'): skipping it")
                    continue
            else:
                runners[variant] = KerasRunner(arch, variant, data)
            runners[variant].run(8)  # trace, compile, warm up
        flops = next(r.flops for r in runners.values() if hasattr(r, "flops"))
        n = int(steps[arch])
        times = {v: [] for v in runners}
        for _ in range(args.repeats):
            for variant, runner in runners.items():
                start = time.perf_counter()
                runner.run(n)
                times[variant].append(time.perf_counter() - start)
        reference = next(v for v in ("keras.io", "kgan-apart", *times) if v in times)
        base = statistics.median(times[reference]) if reference in times else None
        print(f"\n{arch}: {n} steps of batch {BATCH} per repeat, {args.repeats} repeats, "
              f"{flops / 1e9:.2f} GFLOP a step")
        for variant, seconds in times.items():
            best, median = n * BATCH / min(seconds), n * BATCH / statistics.median(seconds)
            ratio = base / statistics.median(seconds) if base else float("nan")
            achieved = flops * n / statistics.median(seconds)
            row = {"arch": arch, "variant": variant, "best_img_s": best, "median_img_s": median,
                   "reference": reference, "ratio": ratio, "gflop_s": achieved / 1e9, "of_matmul": achieved / limit}
            rows.append(row)
            print(f"  {variant:10s} best {best:7.1f} img/s  median {median:7.1f} img/s  {ratio:5.2f}x {reference}  "
                  f"{achieved / 1e9:6.1f} GFLOP/s ({achieved / limit:.0%} of matmul)")
    by_arch = {(r["arch"], r["variant"]): r["median_img_s"] for r in rows}
    for arch in ("digits-r3gan", "r3gan-size"):  # R3GAN's networks against the DCGAN preset, variant by variant
        for variant in sorted({v for a, v in by_arch if a == arch}):
            if ("digits", variant) in by_arch:
                print(f"  {arch} / digits, {variant}: {by_arch[(arch, variant)] / by_arch[('digits', variant)]:.2f}x")
    from record import append

    append(args.out, {"repeats": args.repeats, "steps": steps, "batch": BATCH, "matmul_gflop_s": limit / 1e9,
                      "matmul_bf16_gflop_s": limit_bf16 / 1e9, "rows": rows})


ARCHS = {"mnist": "keras.io MNIST GAN (28×28)", "dcgan64": "pytorch/examples DCGAN (64×64×3, BatchNorm)",
         "digits": "`digits` preset", "ring8": "`ring8` preset", "digits-r3gan": "`digits-r3gan` preset",
         "r3gan-size": "r3gan at the `digits` preset's size"}
VARIANT_NAMES = {
    "keras.io": "keras.io pattern", "keras.io-train": "keras.io pattern with `training=True`",
    "kgan-apart": "kgan, the discriminator called on real and fake apart", "kgan": "**kgan** (default)",
    "kgan-tapeall": "kgan, tapes watching every variable", "kgan-xla": "kgan `jit_compile=True`",
    "kgan-bf16": "kgan `mixed_bfloat16`", "kgan-xla-bf16": "kgan XLA + `mixed_bfloat16`",
    "kgan-spe": "kgan `steps_per_execution=8`", "kgan-reuse": "kgan `update=\"reuse_fakes\"`",
    "kgan-sim": "kgan `update=\"simultaneous\"`", "kgan-sim-bf16": "kgan `update=\"simultaneous\"` + `mixed_bfloat16`",
    "torch": "PyTorch, the same layers", "kgan-split": "kgan, grouped convolutions split a group each",
    "kgan-dense": "kgan, grouped convolutions as block-diagonal dense ones"}


def section(row):
    """The Benchmarks page's training-speed table, from one result line: images per second, median
    (best), and the ratio of medians to each column's reference."""
    from record import source

    rows, archs = row["rows"], [a for a in ARCHS if any(r["arch"] == a for r in row["rows"])]
    cell = {(r["arch"], r["variant"]): r for r in rows}
    variants = [v for v in VARIANT_NAMES if any(r["variant"] == v for r in rows)]
    lines = ["| variant | " + " | ".join(ARCHS[a] for a in archs) + " |", "| --- |" + " --- |" * len(archs)]
    for variant in variants:
        cells = []
        for arch in archs:
            r = cell.get((arch, variant))
            cells.append("" if r is None else f"{r['median_img_s']:,.{0 if r['median_img_s'] >= 100 else 1}f} "
                         f"({r['best_img_s']:,.{0 if r['best_img_s'] >= 100 else 1}f}), {r['ratio']:.2f}×")
        lines.append(f"| {VARIANT_NAMES[variant]} | " + " | ".join(cells) + " |")
    references = ", ".join(f"{ARCHS[a]}: {VARIANT_NAMES[next(r['reference'] for r in rows if r['arch'] == a)]}"
                           for a in archs)
    # The multiply-add count knows Keras's own layers: the r3gan family's (GroupedConv2D...) count as none.
    use = ", ".join(f"{ARCHS[a]} {100 * cell[(a, 'kgan')]['of_matmul']:.0f} %" for a in archs
                    if (a, "kgan") in cell and cell[(a, "kgan")]["of_matmul"] > 0)
    return "\n\n".join([source(row), "\n".join(lines), (
        f"Images per second, median (best) of {row['repeats']} repeats of batch {row['batch']}, and the ratio of "
        f"medians to each column's reference ({references}). The machine's practical limit, a same-process 4096² "
        f"matmul, was {row['matmul_gflop_s']:,.0f} GFLOP/s in float32 ({row['matmul_bf16_gflop_s']:,.0f} in "
        f"bfloat16); counting each step's multiply-adds (a backward pass as two forward passes), the default "
        f"reaches {use} of it.")])


if __name__ == "__main__":
    main()
