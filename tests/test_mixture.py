import os

import keras
import numpy as np
import pytest

from kgan.errors import KganError
from kgan.mixture import GeneratorMixture, MemberInput, check_weights
from kgan.models import DCGANGenerator, MLPGenerator


def _latents(n, dim, seed=0):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_each_row_comes_from_the_member_it_names(training):
    members = [MLPGenerator(2, 4, hidden_units=(8,)) for _ in range(3)]
    mixture = GeneratorMixture(members, weights=[0.2, 0.3, 0.5])
    z, member = _latents(7, 4), np.array([2, 0, 1, 1, 2, 0, 2])
    out = keras.ops.convert_to_numpy(mixture([z, member], training=training))
    alone = [keras.ops.convert_to_numpy(m(z)) for m in members]
    for i, k in enumerate(member):
        np.testing.assert_allclose(out[i], alone[k][i], rtol=1e-6, atol=1e-7)
    assert np.abs(alone[0] - alone[1]).max() > 1e-3  # the members differ, so a wrong route shows


def test_training_runs_each_member_on_its_own_rows_only():
    # BatchNorm in training mode normalizes by the batch it is given: a member run on every row
    # (and masked) would give other values than the member run on its rows alone.
    members = [DCGANGenerator((8, 8, 1), 8, filters=4, num_classes=3) for _ in range(3)]
    mixture = GeneratorMixture(members)
    z, labels = _latents(9, 8), np.array([0, 1, 2, 2, 1, 0, 0, 2, 1])
    member = np.array([2, 0, 1, 1, 2, 0, 0, 2, 1])
    out = keras.ops.convert_to_numpy(mixture([z, labels, member], training=True))
    for k in range(3):
        rows = np.flatnonzero(member == k)
        alone = keras.ops.convert_to_numpy(members[k]([z[rows], labels[rows]], training=True))
        np.testing.assert_allclose(out[rows], alone, rtol=1e-5, atol=1e-5)
        everyone = keras.ops.convert_to_numpy(members[k]([z, labels], training=True))[rows]
        assert np.abs(everyone - alone).max() > 1e-3  # the batch statistics do tell them apart


def test_training_batches_are_blocks_sized_by_the_weights():
    from kgan.mixture import training_members

    assert np.asarray(training_members(8, [0.5, 0.25, 0.25])).tolist() == [0, 0, 0, 0, 1, 1, 2, 2]
    assert np.asarray(training_members(10, [0.2, 0.0, 0.8])).tolist() == [0, 0] + [2] * 8  # no rows for weight 0
    assert np.asarray(training_members(6, [1 / 3] * 3)).tolist() == [0, 0, 1, 1, 2, 2]


def test_parity_feeds_hold_every_member_in_any_k_rows_and_draws_follow_seeds():
    member = MemberInput("member", [0.9, 0.05, 0.05])
    for n in (3, 4, 7, 37):
        drawn = member.draw(n, np.random.default_rng(n), randomize=True)
        assert set(drawn.tolist()) == {0, 1, 2} and np.bincount(drawn).max() - np.bincount(drawn).min() <= 1
    first = member.draw(50, np.random.default_rng(4))
    np.testing.assert_array_equal(member.draw(50, np.random.default_rng(4)), first)
    assert not np.array_equal(member.draw(50, np.random.default_rng(5)), first)


def test_conditional_members_route_with_their_labels():
    members = [DCGANGenerator((8, 8, 1), 8, filters=4, num_classes=3) for _ in range(2)]
    mixture = GeneratorMixture(members)
    z, labels, member = _latents(4, 8), np.array([0, 1, 2, 0]), np.array([1, 1, 0, 1])
    out = keras.ops.convert_to_numpy(mixture([z, labels, member]))
    for i, k in enumerate(member):
        alone = keras.ops.convert_to_numpy(members[k]([z[i : i + 1], labels[i : i + 1]]))
        np.testing.assert_allclose(out[i], alone[0], rtol=1e-5, atol=1e-6)
    assert mixture.num_classes == 3 and mixture.latent_dim == 8 and mixture.mixture_weights == [0.5, 0.5]


def test_shared_members_keep_only_their_first_layer_apart(tmp_path):
    # Four members: from the fourth on, Keras' shared-object marks used to break loading.
    mixture = GeneratorMixture.build_members(lambda: DCGANGenerator((8, 8, 1), 8, filters=4), 4, shared=True)
    first = [m.layers[1] for m in mixture.members]  # the projection of z
    assert len({id(layer) for layer in first}) == 4
    assert all(a is b for a, b in zip(mixture.members[0].layers[2:], mixture.members[3].layers[2:]))
    z, member = _latents(8, 8), np.array([0, 1, 2, 3, 0, 1, 2, 3])
    before = keras.ops.convert_to_numpy(mixture([z, member]))
    path = tmp_path / "shared.keras"
    mixture.save(path)
    loaded = keras.models.load_model(path)
    assert len(loaded.trainable_variables) == len(mixture.trainable_variables)  # still shared after loading
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded([z, member])), before)


@pytest.mark.parametrize("members, weights, message", [
    (lambda: [MLPGenerator(2, 4), MLPGenerator(3, 4)], None, "samples of one shape"),
    (lambda: [MLPGenerator(2, 4), MLPGenerator(2, 5)], None, "one latent size"),
    (lambda: [MLPGenerator(2, 4), MLPGenerator(2, 4, num_classes=3)], None, "one label set"),
    (lambda: [MLPGenerator(2, 4), MLPGenerator(2, 4)], [0.5, 0.6], "must sum to 1"),
    (lambda: [MLPGenerator(2, 4), MLPGenerator(2, 4)], [1.0], "2 members but 1 weights"),
    (lambda: [MLPGenerator(2, 4), MLPGenerator(2, 4)], [1.5, -0.5], "finite and >= 0"),
    (lambda: [], None, "at least one member"),
])
def test_bad_mixtures_are_refused(members, weights, message):
    with pytest.raises(KganError, match=message):
        GeneratorMixture(members(), weights=weights)


def test_member_draws_follow_the_weights_and_can_be_given():
    drawn = MemberInput("member", [0.1, 0.0, 0.9]).draw(20_000, np.random.default_rng(0))
    assert np.bincount(drawn, minlength=3) / 20_000 == pytest.approx([0.1, 0.0, 0.9], abs=0.01)
    given = MemberInput("member", [0.5, 0.5]).draw(3, np.random.default_rng(0), given=1)
    assert given.tolist() == [1, 1, 1] and given.dtype == np.int64
    with pytest.raises(KganError, match="member must be an index in 0..1"):
        MemberInput("member", [0.5, 0.5]).draw(3, np.random.default_rng(0), given=2)
    assert check_weights(None, 4).tolist() == [0.25] * 4


# -- a mixture in kgan.GAN, exported, assembled ------------------------------------------


@keras.saving.register_keras_serializable(package="kgan_tests")
class HalfRing(keras.layers.Layer):
    """z -> a point near one of ring8's modes `first`..`first + 3`, each a quarter of the time."""

    def __init__(self, first, **kwargs):
        super().__init__(**kwargs)
        self.first = int(first)

    def call(self, z):
        from kgan.data import mixture_means

        means = keras.ops.convert_to_tensor(mixture_means("ring8").astype("float32"))
        uniform = 0.5 * (1.0 + keras.ops.erf(z[:, 0] / np.sqrt(2.0)))
        index = keras.ops.clip(keras.ops.cast(keras.ops.floor(uniform * 4.0), "int32"), 0, 3) + self.first
        return keras.ops.take(means, index, axis=0) + 0.01 * z[:, 1:3]

    def get_config(self):
        return dict(super().get_config(), first=self.first)


def half_ring(first):
    z = keras.Input((3,), name="z")
    return keras.Model(z, HalfRing(first)(z))


def saved_run(tmp_path, name, generator):
    """A run directory holding a GAN over `generator` trained on nothing (what `assemble` reads)."""
    import json

    from kgan.gan import GAN
    from kgan.models import MLPDiscriminator

    gan = GAN(generator, MLPDiscriminator(2, hidden_units=(8,)), seed=0)
    gan.compile("adam", "adam")
    run = tmp_path / name
    run.mkdir()
    gan.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"preset": "ring8", "dataset": "ring8"}))
    return str(run)


def test_fitted_weights_recover_a_known_mixture(tmp_path):
    # Two generators each draw half of ring8's modes and the third duplicates the second:
    # the fit gives the first half of the weight and the duplicate pair the other half.
    from kgan.ensemble import assemble

    runs = [saved_run(tmp_path, "low", half_ring(0)), saved_run(tmp_path, "high", half_ring(4)),
            saved_run(tmp_path, "again", half_ring(4))]
    report = assemble(runs, str(tmp_path / "ensemble"), weights="fit", samples=800, log=lambda *_: None)
    low, high, again = report["weights"]
    assert low == pytest.approx(0.5, abs=0.05) and high + again == pytest.approx(0.5, abs=0.05)
    assert report["mmd2"] < 0.5 * report["mmd2_uniform"]  # uniform weights give the high half 2/3
    # The result is a run directory: the mixture samples every mode of the ring.
    from kgan.evaluate import evaluate

    assert evaluate(str(tmp_path / "ensemble"), samples=2000)["modes"] == 8
    assert evaluate(runs[0], samples=2000)["modes"] == 4


def test_runs_of_other_shapes_are_refused(tmp_path):
    from kgan.ensemble import assemble

    runs = [saved_run(tmp_path, "a", half_ring(0)), saved_run(tmp_path, "b", MLPGenerator(3, 3))]
    with pytest.raises(KganError, match="the runs differ in their samples"):
        assemble(runs, str(tmp_path / "out"), log=lambda *_: None)
    assert not (tmp_path / "out").exists()
    with pytest.raises(KganError, match="must sum to 1"):
        assemble(runs[:1] * 2, str(tmp_path / "out"), weights="0.5,0.6", log=lambda *_: None)


@pytest.mark.slow(minutes=0.3)  # trains or scores a model, 10 s or more: CI runs it
def test_a_trained_mixture_exports_with_the_same_samples_per_member(tmp_path, digits_images):
    # Trained as kgan.GAN's generator, saved with its optimizer state, exported: the ONNX
    # runtime draws the members a seed draws in Keras, and each member matches Keras alone.
    import tensorflow as tf

    from kgan.export import export_model
    from kgan.gan import GAN
    from kgan.runtime.inference import GeneratorRuntime
    from kgan.models import DCGANDiscriminator

    keras.utils.set_random_seed(0)
    mixture = GeneratorMixture.build_members(lambda: DCGANGenerator((8, 8, 1), 8, filters=4), 3,
                                             weights=[0.5, 0.25, 0.25])
    gan = GAN(mixture, DCGANDiscriminator((8, 8, 1), filters=4, member_head=3), seed=0, diversity=0.5)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), run_eagerly=True)
    data = tf.data.Dataset.from_tensor_slices(digits_images[0]).batch(24, drop_remainder=True)
    history = gan.fit(data, epochs=2, verbose=0).history
    assert {"d_member_classifier", "g_diversity"} <= set(history)
    gan.save(tmp_path / "mixture.keras")
    loaded = keras.models.load_model(tmp_path / "mixture.keras")
    assert int(loaded.g_optimizer.iterations) == int(gan.g_optimizer.iterations) > 0
    assert loaded.diversity == 0.5 and loaded.generator.mixture_weights == [0.5, 0.25, 0.25]
    np.testing.assert_array_equal(loaded.generate(16, seed=5), gan.generate(16, seed=5))
    loaded.fit(data, epochs=1, verbose=0)  # training goes on

    result = export_model(gan, out_dir=str(tmp_path / "export"))
    parity = result.manifest["parity"]["generator"]
    assert set(parity["by_member"]) == {"0", "1", "2"} and max(parity["by_member"].values()) < 1e-4
    assert result.manifest["mixture"] == {"members": 3, "weights": [0.5, 0.25, 0.25]}
    runtime = GeneratorRuntime(tmp_path / "export")
    drawn = runtime.prior.draw(64, seed=7)["member"]
    assert 0 < (drawn == 0).mean() < 1 and set(drawn.tolist()) == {0, 1, 2}
    np.testing.assert_allclose(runtime.sample(64, seed=7), gan.generate(64, seed=7), atol=1e-5)
    for k in range(3):
        z = gan.latent_prior.draw(8, seed=3)["z"]
        alone = keras.ops.convert_to_numpy(mixture.members[k](z))
        np.testing.assert_allclose(runtime.sample(8, seed=3, member=k), alone, atol=1e-5)
    with pytest.raises(KganError, match="member must be an index in 0..2"):
        runtime.sample(4, seed=0, member=3)


@pytest.fixture(scope="module")
def mixture_export(tmp_path_factory):
    """An untrained mixture of three small DCGANs, exported."""
    from kgan.export import export_model
    from kgan.gan import GAN
    from kgan.models import DCGANDiscriminator

    keras.utils.set_random_seed(1)
    mixture = GeneratorMixture.build_members(lambda: DCGANGenerator((8, 8, 1), 8, filters=4), 3)
    gan = GAN(mixture, DCGANDiscriminator((8, 8, 1), filters=4), seed=0)
    return export_model(gan, out_dir=str(tmp_path_factory.mktemp("mixture") / "export")).out_dir


def test_the_demo_samples_one_member_or_the_mixture(mixture_export):
    pytest.importorskip("gradio", reason="the demo needs the app extra: pip install -e '.[app]'")
    from kgan.demo import DemoApp
    from kgan.runtime.inference import GeneratorRuntime

    path = os.path.join(mixture_export, "generator.onnx")
    app, runtime = DemoApp([path]), GeneratorRuntime(path)
    assert app.members() == ["mixture", "0", "1", "2"]
    assert "| mixture | 3 members, weights 0.333, 0.333, 0.333 |" in app.card()
    for member, given in (("1", {"member": 1}), ("mixture", {})):
        shown = np.stack([image for image, _ in app.generate(4, 6, member=member)])
        np.testing.assert_array_equal(shown, runtime.generate(6, seed=4, **given)[..., 0])
    one = np.stack([image for image, _ in app.generate(4, 6, member="1")])
    assert np.abs(one.astype(int) - np.stack([i for i, _ in app.generate(4, 6)]).astype(int)).max() > 0


def test_cli_member_and_weights_errors_are_one_line(mixture_export, tmp_path, capsys):
    from kgan.cli import main

    assert main(["generate", mixture_export, "-n", "4", "--member", "1", "-o", str(tmp_path / "one.png")]) == 0
    assert (tmp_path / "one.png").exists()
    for argv, message in (
        (["generate", mixture_export, "-n", "4", "--member", "3", "-o", str(tmp_path / "x.png")],
         "member must be an index in 0..2"),
        (["ensemble", "a", "b", "--out", str(tmp_path / "e"), "--weights", "0.5,0.6"], "must sum to 1"),
        (["ensemble", "a", "b", "--out", str(tmp_path / "e"), "--weights", "-1,2"],
         "mixture weights must be finite and >= 0, got [-1.0, 2.0]"),
        (["train", "--preset", "ring8", "--diversity", "0.5", "--out", str(tmp_path / "t"), "--no-export"],
         "add --mixture K"),
    ):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.startswith("kgan: error: ") and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "e").exists() and not (tmp_path / "t").exists()



def test_the_diversity_term_is_beta_times_the_member_heads_cross_entropy(digits_images):
    # One simultaneous step (both sides judge the same fakes with the same discriminator):
    # the generator pays beta times the member head's cross-entropy, which the head's own
    # loss is; the members of a batch are blocks sized by the weights.
    import tensorflow as tf

    from kgan.gan import GAN
    from kgan.models import DCGANDiscriminator

    keras.utils.set_random_seed(0)
    mixture = GeneratorMixture([DCGANGenerator((8, 8, 1), 8, filters=4) for _ in range(3)])
    gan = GAN(mixture, DCGANDiscriminator((8, 8, 1), filters=4, member_head=3), seed=0, diversity=0.25,
              update="simultaneous")
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0), run_eagerly=True)
    logs = {k: float(v) for k, v in gan.train_step(tf.constant(digits_images[0][:24])).items()}
    assert logs["g_diversity"] == pytest.approx(0.25 * logs["d_member_classifier"], rel=1e-5)
    assert logs["g_loss"] == pytest.approx(logs["g_adversarial"] + logs["g_diversity"], rel=1e-5)
    assert logs["d_loss"] == pytest.approx(logs["d_adversarial"] + logs["d_member_classifier"], rel=1e-5)
    members = keras.ops.convert_to_numpy(mixture.training_inputs(24)["member"])
    assert members.tolist() == [0] * 8 + [1] * 8 + [2] * 8  # blocks sized by the (uniform) weights
    assert logs["d_member_classifier"] > 0.5  # an untrained head: near log 3, not a constant 0


@pytest.mark.slow(minutes=4.2)
def test_mgan_covers_grid25_with_members_its_head_tells_apart(tmp_path, grid25_plain):
    # grid25's networks without R1 or EMA, batch 256, 30 x 200 steps, seed 0. Measured: one
    # generator 16-17 modes (reverse KL about 0.8); four without the diversity term 25 modes,
    # KL 0.087 (seed 1: 0.026), head accuracy 0.19; four with beta 1 25 modes, KL 0.013
    # (seed 1: 0.007), head accuracy 1.0.
    import kgan
    from conftest import grid25_plain_config
    from kgan.evaluate import evaluate

    base = grid25_plain_config().replace(export=False)
    runs = {"beta 0": base.replace(mixture=4, discriminator=dict(base.discriminator, member_head=4)),
            "MGAN": base.replace(mixture=4, diversity=1.0)}
    scores, accuracy = {"GAN": grid25_plain["scores"]}, {}
    for name, config in runs.items():
        out = str(tmp_path / name.replace(" ", ""))
        gan = kgan.train(config.replace(out=out), verbose=0, log=lambda *_: None).gan
        scores[name] = evaluate(out)
        said = [np.argmax(keras.ops.convert_to_numpy(gan.discriminator(gan.generate(250, seed=9, member=k))[1]), 1)
                for k in range(4)]
        accuracy[name] = float(np.mean([np.mean(s == k) for k, s in enumerate(said)]))
    print("grid25 MGAN", accuracy, {n: {k: scores[n][k] for k in ("modes", "high_quality", "reverse_kl")} for n in scores})
    assert scores["MGAN"]["modes"] >= scores["GAN"]["modes"] + 4, scores
    assert scores["MGAN"]["reverse_kl"] < scores["GAN"]["reverse_kl"] / 4, scores
    assert scores["MGAN"]["reverse_kl"] < scores["beta 0"]["reverse_kl"] / 2, scores  # the diversity term's own share
    assert scores["MGAN"]["high_quality"] > 0.75, scores
    assert accuracy["MGAN"] > 0.9 > 0.5 > accuracy["beta 0"], accuracy  # chance is 0.25
