import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN's kernels, as `import kgan` asks for them (kgan/_onednn.py), also where a test imports
# TensorFlow before kgan.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # One pytest-xdist worker a core: TensorFlow's kernels in one thread each, so that the two
    # workers do not take each other's cores (measured on 2 cores: two single-threaded trainings
    # side by side each take what one alone does; two of two threads each take 1.5 times as long).
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

import numpy as np
import pytest

# CI (.ci/run) sets KGAN_NO_SKIPS=1: a test skipped there (a missing extra, no browser) fails
# instead, so a green run means every test ran.
NO_SKIPS = os.environ.get("KGAN_NO_SKIPS") == "1"


def _fail_skip(report):
    if NO_SKIPS and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, and KGAN_NO_SKIPS=1 forbids skips: {reason}"


# Tests that drive Chromium or serve pages, known by the fixtures they take: marked `browser`, left
# out of the default run (`pytest -m browser` runs them; CI does).
BROWSER_FIXTURES = {"chromium", "served", "client", "host"}


# Fixtures too costly to build once per pytest-xdist worker: their tests run on one worker.
SHARED_SESSION_FIXTURES = {"grid25_plain", "features_root", "exported"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if BROWSER_FIXTURES & names:
            item.add_marker(pytest.mark.browser)
        # Under `--dist loadgroup` the tests that share a module-scoped fixture (a trained run, a
        # served demo) go to one worker, which builds it once; the others spread one by one.
        info = getattr(item, "_fixtureinfo", None)
        definitions = [d for name in names for d in (info.name2fixturedefs.get(name, ()) if info else ())]
        shared = sorted(SHARED_SESSION_FIXTURES & names)
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
        elif any(d.scope == "module" for d in definitions):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    # Longest first (LPT): pytest-xdist hands out the groups and lone tests in this order, so the
    # presets start at once and the short tests fill the end, and two workers finish together.
    units = {}
    for item in items:
        group = item.get_closest_marker("xdist_group")
        units.setdefault(group.args[0] if group else item.nodeid, []).append(item)
    ordered = sorted(units.values(), key=lambda members: -unit_seconds(members))
    items[:] = [item for members in ordered for item in members]


def unit_seconds(members):
    """What a work unit takes: its tests, and the shared fixture a group builds first (a trained
    run, an export: 10 s, typically, on one core)."""
    group = len(members) > 1 or members[0].get_closest_marker("xdist_group")
    return sum(map(expected_seconds, members)) + (10 if group else 0)


def expected_seconds(item):
    """What a test takes on one core, for scheduling only: `slow(minutes=...)` where a test says
    (measured with `pytest -m slow --durations=0`), else a typical slow, guard, browser or fast test."""
    if "guard_server" in getattr(item, "fixturenames", ()):
        return 8
    slow = item.get_closest_marker("slow")
    if slow:
        return 60 * slow.kwargs.get("minutes", 0.3)
    return 6 if item.get_closest_marker("browser") else 0.5


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.fixture
def digits_images():
    """64 real 8x8 digits in [-1, 1], NHWC."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.images[:64].astype(np.float32) / 8.0 - 1.0)[..., None], bunch.target[:64]


@pytest.fixture
def tiny_dcgan():
    """A tiny unconditional 8x8 DCGAN pair (latent 8, 4 filters)."""
    from kgan.models import DCGANDiscriminator, DCGANGenerator

    def make(num_classes=None, **discriminator_kwargs):
        generator = DCGANGenerator((8, 8, 1), latent_dim=8, num_classes=num_classes, filters=4, embedding_dim=4)
        discriminator = DCGANDiscriminator((8, 8, 1), num_classes=num_classes, filters=4, **discriminator_kwargs)
        return generator, discriminator

    return make


# The sequence family's tokens: an end token and six letters.
TEXT_SPEC = {"kind": "tokens", "shape": [4], "dtype": "int64", "vocabulary": ["", "a", "b", "c", "d", "e", "f"],
             "separator": ""}


# Each family's tiny networks for the shared checks (a video architecture is the video family's):
# `(registered family, generator options, discriminator options)`. A registered family outside
# this table has its own test file (`run_family_test` in harness.py).
TINY = {
    "dcgan": ("dcgan", {"filters": 4, "embedding_dim": 3}, {"filters": 4}),
    "mlp": ("mlp", {"hidden_units": (8, 8)}, {"hidden_units": (8,)}),
    "r3gan": ("r3gan", {"widths": 8, "cardinality": 2, "blocks": 1}, {"widths": 8, "cardinality": 2, "blocks": 1}),
    **{architecture: ("video", {"architecture": architecture, "motion_dim": 2, "filters": 2, "embedding_dim": 3},
                      {"filters": 2, "image_head": True}) for architecture in ("mocogan", "vgan", "sprite")},
    "sequence": ("sequence", {"embedding_dim": 4, "hidden_dim": 5},
                 {"embedding_dim": 4, "widths": (2, 3), "filters": 3, "hidden_units": 4}),
}


def tiny_data(kind, rng):
    """16 examples of a kind, and its `SampleSpec`, for a couple of training steps."""
    from kgan.data.text import Oracle
    from kgan.runtime.samples import SampleSpec

    if kind == "tokens":
        return Oracle(vocab_size=7, embedding_dim=4, hidden_dim=4, length=4).sample(16, seed=0), \
            SampleSpec.from_dict(TEXT_SPEC)
    shape = {"image": (8, 8, 1), "video": (4, 8, 8, 1), "vector": (2,)}[kind]
    data = rng.normal(size=(16, *shape)) if kind == "vector" else rng.uniform(-1, 1, (16, *shape))
    return data.astype(np.float32), SampleSpec(kind, shape)


def make_gan(family, conditional=False, steps=2, loss="non_saturating"):
    """A tiny GAN of a family (or video architecture), built through the family registry and
    trained a couple of steps so BatchNorm statistics move (eagerly: a step costs no tracing;
    tests/test_gan.py checks that eager and graph steps train alike)."""
    import keras
    import tensorflow as tf

    from kgan.gan import GAN
    from kgan.models import get_family

    keras.utils.set_random_seed(0)
    classes = 3 if conditional else None
    rng = np.random.default_rng(0)
    name, generator_options, discriminator_options = TINY[family]
    registered = get_family(name)
    data, spec = tiny_data(registered.kind, rng)
    generator, discriminator = registered.build(spec, 3 if name == "mlp" else 6, classes, 1, generator_options,
                                                discriminator_options)
    gan = GAN(generator, discriminator, seed=0, loss=loss, sample_spec=TEXT_SPEC if name == "sequence" else None)
    gan.compile("adam", "adam", jit_compile=False, run_eagerly=True)
    labels = rng.integers(0, 3, 16)
    dataset = tf.data.Dataset.from_tensor_slices((data, labels) if conditional else data).batch(8)
    gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return gan


FAMILIES = [("dcgan", False), ("dcgan", True), ("mlp", False), ("mlp", True)]


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """`exported(family, conditional)` -> (gan, ExportResult), exported once per session."""
    from kgan.export import export_model

    cache = {}

    def get(family, conditional=False):
        key = (family, conditional)
        if key not in cache:
            gan = make_gan(family, conditional)
            out = tmp_path_factory.mktemp(f"export_{family}_{int(conditional)}")
            cache[key] = (gan, export_model(gan, out_dir=str(out / "onnx"), fp16=family == "dcgan" and not conditional,
                                            int8=family == "dcgan" and not conditional))
        return cache[key]

    return get


def tiny(preset, **changes):
    """A preset with tiny networks (and its other settings): for tests that need *a* run of it."""
    import kgan

    config = kgan.get_preset(preset)
    small = {"dcgan": dict(latent_dim=8, generator={"filters": 4}, discriminator={"filters": 4, "num_blocks": 2}),
             "mlp": dict(generator={"hidden_units": [16, 16]}, discriminator={"hidden_units": [16, 16]},
                         batch_size=64)}.get(config.model, {})
    return config.replace(**{**small, **changes})


@pytest.fixture(scope="session")
def features_root(tmp_path_factory):
    """One folder of domain classifiers for the session: each is trained once, then loaded."""
    return str(tmp_path_factory.mktemp("features"))


def grid25_plain_config():
    """grid25's networks without R1 or EMA, batch 256, 30 x 200 steps, seed 0: a plain GAN that
    drops modes, the baseline of the packing, MGAN and sampler tests."""
    import kgan

    return kgan.get_preset("grid25").replace(r1_penalty=0.0, ema=0.0, batch_size=256, epochs=30, seed=0)


@pytest.fixture(scope="session")
def grid25_plain(tmp_path_factory):
    """The plain grid25 GAN trained once (training on the CPU is deterministic for a seed):
    `{"run": run dir, "export": its export with the discriminator as trained, "scores": kgan
    evaluate's of the run}`."""
    import kgan
    from kgan.evaluate import evaluate
    from kgan.export import export_model

    folder = tmp_path_factory.mktemp("grid25_plain")
    run, export = str(folder / "run"), str(folder / "onnx")
    kgan.train(grid25_plain_config().replace(out=run, export=False), verbose=0, log=lambda *_: None)
    export_model(run, out_dir=export, refit_steps=0)
    return {"run": run, "export": export, "scores": evaluate(run)}
