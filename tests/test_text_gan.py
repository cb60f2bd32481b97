"""Text GANs on kgan's path: `fit` on token ids, `.keras`, an export that gives the same tokens
everywhere, and a runtime that returns strings."""

import itertools
import os

import keras
import numpy as np
import onnx
import pytest

from conftest import TEXT_SPEC, make_gan
from kgan.data.text import encode
from kgan.models import SequenceGenerator

VOCABULARY = TEXT_SPEC["vocabulary"]


def labels_of(gan, n):
    return np.arange(n) % 3 if gan.conditional else None


@pytest.mark.parametrize("conditional", [False, True], ids=["plain", "conditional"])
def test_a_text_gan_trains_on_token_ids_and_round_trips(tmp_path, conditional):
    gan = make_gan("sequence", conditional, steps=2)
    assert int(gan.g_optimizer.iterations) == 2
    assert gan.latent_prior.names == (("u", "label") if conditional else ("u",))
    labels = labels_of(gan, 6)
    tokens = gan.generate(6, seed=0, labels=labels)
    assert tokens.dtype == np.int64 and tokens.shape == (6, 4) and 0 <= tokens.min() and tokens.max() < 7
    # generate's tokens are the generator's on the seed's uniforms
    feeds = gan.latent_prior.draw(6, seed=0, **({"label": labels} if conditional else {}))
    inputs = [feeds["u"], labels.astype(np.int32)] if conditional else feeds["u"]
    np.testing.assert_array_equal(tokens, gan.sampling_generator(inputs))
    # the discriminator judges token ids as one-hot rows
    one_hot = np.eye(7, dtype=np.float32)[tokens]
    logits = gan.discriminator([one_hot, labels.astype(np.int32)] if conditional else one_hot)
    np.testing.assert_allclose(gan.score(tokens, labels), np.asarray(logits).reshape(-1), rtol=1e-6)
    path = str(tmp_path / "text.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.sample_spec.vocabulary == tuple(VOCABULARY)
    np.testing.assert_array_equal(loaded.generate(6, seed=0, labels=labels), tokens)
    np.testing.assert_allclose(loaded.score(tokens, labels), gan.score(tokens, labels), rtol=1e-6)


def test_the_relaxed_training_sample_sharpens_with_the_generator_step():
    generator = SequenceGenerator(7, 4, max_inverse_temperature=100.0, temperature_steps=10)
    assert [float(generator.inverse_temperature(s)) for s in (0, 5, 10, 40)] == pytest.approx([1, 10, 100, 100])
    gan = make_gan("sequence", steps=1)
    gan.generator.temperature_steps = 10

    def sharpness(step):
        gan.g_optimizer.iterations.assign(step)
        soft = np.asarray(gan._generate(256, None, training=True))
        assert soft.shape == (256, 4, 7)
        np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-5)
        return soft.max(-1).mean()

    # at inverse temperature 1 the rows are spread; at 100 they are nearly one-hot
    assert sharpness(0) < 0.7 and sharpness(10) > 0.95


@pytest.mark.parametrize("conditional", [False, True], ids=["plain", "conditional"])
def test_text_export_gives_the_same_tokens_everywhere_and_the_runtime_strings(exported, conditional):
    import onnxruntime as ort

    from kgan.runtime.inference import GeneratorRuntime

    gan, result = exported("sequence", conditional)
    figures = result.manifest["parity"]["generator"]
    assert figures["tolerance"] == 0.0  # tokens compare exactly
    assert [figures[k] for k in ("keras_vs_saved_model", "keras_vs_onnxruntime", "keras_vs_onnx_reference")] == [0] * 3
    assert not os.path.exists(os.path.join(result.out_dir, "latent_energy.onnx"))  # no latent to move
    path = os.path.join(result.out_dir, "generator.onnx")
    model = onnx.load(path)
    assert [i.name for i in model.graph.input] == (["u", "label"] if conditional else ["u"])
    assert [(o.name, o.type.tensor_type.elem_type) for o in model.graph.output] == [("tokens", onnx.TensorProto.INT64)]
    # measured here: onnxruntime on fresh uniforms gives Keras' tokens
    labels = labels_of(gan, 9)
    feeds = gan.latent_prior.draw(9, seed=3, **({"label": labels} if conditional else {}))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    tokens = gan.generate(9, seed=3, labels=labels)
    np.testing.assert_array_equal(session.run(["tokens"], feeds)[0], tokens)
    runtime = GeneratorRuntime(result.out_dir)
    assert runtime.sample_spec.vocabulary == tuple(VOCABULARY) and runtime.latent_dim is None
    texts = runtime.generate(9, seed=3, labels=labels)
    # same seed, same strings: each row's letters up to its first end token (id 0)
    assert texts.tolist() == ["".join(VOCABULARY[t] for t in itertools.takewhile(bool, row)) for row in tokens]
    # a text is scored as the ids of its tokens, padded by the end token as real text is
    np.testing.assert_allclose(runtime.score(texts, labels), gan.score(encode(texts, VOCABULARY, 4), labels),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("conditional", [False, True], ids=["plain", "conditional"])
def test_the_likelihood_term_is_the_teacher_forced_nll_of_the_real_batch(tmp_path, conditional):
    import tensorflow as tf

    from kgan import SequenceGAN
    from kgan.errors import KganError
    from kgan.mle import nll

    trained = make_gan("sequence", conditional, steps=1, loss="relativistic_standard")
    gan = SequenceGAN(trained.generator, trained.discriminator, mle_weight=2.5, loss="relativistic_standard",
                      sample_spec=TEXT_SPEC, seed=0)
    gan.compile("adam", "adam", jit_compile=False, run_eagerly=True)
    assert gan.loss_terms()["generator"] == ("adversarial", "mle")
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 7, (8, 4))
    labels = rng.integers(0, 3, 8) if conditional else None
    expected = 2.5 * nll(gan.generator, tokens, labels)  # kgan.mle's, the pretraining's own
    one_hot = tf.constant(np.eye(7, dtype=np.float32)[tokens])  # the real batch as the train step has it
    terms = gan.generator_terms(None if labels is None else tf.constant(labels), 8, training=False, real=one_hot)
    assert set(terms) == {"adversarial", "mle"}
    assert float(terms["mle"]) == pytest.approx(expected, rel=1e-5)
    # the adversarial term is the plain GAN's: the same discriminator, the same loss
    plain = make_gan("sequence", conditional, steps=1, loss="relativistic_standard")
    assert "mle" not in plain.loss_terms()["generator"]
    data = tf.data.Dataset.from_tensor_slices((tokens, labels) if conditional else tokens).batch(8)
    logs = gan.fit(data, epochs=1, steps_per_epoch=1, verbose=0).history
    assert logs["g_mle"][0] == pytest.approx(expected, rel=1e-4)  # logged before the step's update
    path = str(tmp_path / "mixed.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is SequenceGAN and loaded.mle_weight == 2.5
    np.testing.assert_array_equal(loaded.generate(5, seed=0, labels=labels_of(gan, 5)),
                                  gan.generate(5, seed=0, labels=labels_of(gan, 5)))
    with pytest.raises(KganError, match="mle_weight must be a finite number >= 0"):
        SequenceGAN(gan.generator, gan.discriminator, mle_weight=-1, sample_spec=TEXT_SPEC)
    image = make_gan("dcgan", steps=1)
    with pytest.raises(KganError, match="needs a generator with log_probs"):
        SequenceGAN(image.generator, image.discriminator)
