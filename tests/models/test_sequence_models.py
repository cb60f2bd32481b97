import itertools

import keras
import numpy as np
import pytest

from kgan.errors import KganError
from kgan.models.sequence import SequenceGenerator


def tiny(num_classes=None, cell="lstm", seed=0, vocab_size=3, length=2):
    keras.utils.set_random_seed(seed)
    generator = SequenceGenerator(vocab_size, length, num_classes=num_classes, cell=cell, embedding_dim=4,
                                  hidden_dim=5)
    # Larger weights than the initializers give, so the distribution is far from uniform.
    generator.set_weights([w * 6.0 for w in generator.get_weights()])
    return generator


def probabilities(generator, labels=None):
    every = np.array(list(itertools.product(range(generator.vocab_size), repeat=generator.length)))
    if labels is not None:
        labels = np.full(len(every), labels)
    return every, np.exp(np.asarray(generator.log_probs(every, labels)).sum(1))


def frequencies(tokens, every):
    return np.array([np.all(tokens == row, axis=1).mean() for row in every])


def assert_matches(freq, p, n):
    # Every sequence's frequency within 4 standard errors of its probability.
    np.testing.assert_array_less(np.abs(freq - p), 4 * np.sqrt(p * (1 - p) / n) + 1e-3)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_inverse_transform_samples_exactly_from_the_model(cell):
    # Length 3: every fed-back token matters, the first and the second.
    generator = tiny(cell=cell, length=3)
    every, p = probabilities(generator)
    assert p.sum() == pytest.approx(1.0, abs=1e-5) and p.max() > 5 * p.min()
    n = 20_000
    u = np.random.default_rng(1).random((n, 3)).astype(np.float32)
    tokens = np.asarray(generator(u))
    assert tokens.dtype == np.int64
    assert_matches(frequencies(tokens, every), p, n)
    np.testing.assert_array_equal(np.asarray(generator(u[:50])), tokens[:50])  # deterministic for given u


def test_relaxed_sample_tends_to_the_categorical_one_as_the_temperature_falls():
    generator = tiny(seed=2, length=3)
    every, p = probabilities(generator)
    n = 20_000
    gumbel = -np.log(-np.log(np.random.default_rng(3).random((n, 3, 3)))).astype(np.float32)
    gaps = []
    for inverse_temperature in (1.0, 10.0, 100.0, 1000.0):
        soft, tokens = (np.asarray(x) for x in generator.relaxed(gumbel, inverse_temperature))
        np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-5)
        gaps.append(np.abs(soft - np.eye(3)[tokens]).max(-1).mean())
    assert gaps == sorted(gaps, reverse=True) and gaps[-1] < 1e-3 < gaps[0]
    # The fed-back Gumbel-max tokens are draws of the model's own distribution.
    assert_matches(frequencies(tokens, every), p, n)


def test_labels_condition_the_sequences_and_round_trip(tmp_path):
    generator = tiny(num_classes=2, cell="gru", vocab_size=5, length=4)
    _, p0 = probabilities(generator, labels=0)
    _, p1 = probabilities(generator, labels=1)
    assert 0.5 * np.abs(p0 - p1).sum() > 0.5  # total variation between the two classes' distributions
    u = np.random.default_rng(0).random((64, 4)).astype(np.float32)
    labels = np.arange(64) % 2
    path = tmp_path / "g.keras"
    generator.save(path)
    again = keras.models.load_model(path)
    assert again.get_config() == generator.get_config()
    np.testing.assert_array_equal(np.asarray(again([u, labels])), np.asarray(generator([u, labels])))


def test_bad_arguments_get_one_line():
    with pytest.raises(KganError, match="cell must be one of lstm, gru"):
        SequenceGenerator(5, 3, cell="rnn")
    with pytest.raises(KganError, match="length"):
        SequenceGenerator(5, 0)
    with pytest.raises(KganError, match="vocab_size"):
        SequenceGenerator(0, 3)
    with pytest.raises(KganError, match=r"takes \[u, label\]"):
        SequenceGenerator(5, 3, num_classes=2)(np.zeros((1, 3), np.float32))


def test_onnx_gives_the_same_tokens():
    import onnx.reference
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    generator = tiny(num_classes=3, vocab_size=50, length=6)
    spec = [tf.TensorSpec((None, 6), tf.float32, name="u"), tf.TensorSpec((None,), tf.int32, name="label")]

    @tf.function(input_signature=spec)
    def sample(u, label):
        return {"tokens": generator([u, label])}

    model, _ = tf2onnx.convert.from_function(sample, input_signature=spec, opset=17)
    u = np.random.default_rng(0).random((128, 6)).astype(np.float32)
    labels = (np.arange(128) % 3).astype(np.int32)
    expected = np.asarray(generator([u, labels]))
    feeds = {"u": u, "label": labels}
    got = onnxruntime.InferenceSession(model.SerializeToString()).run(None, feeds)[0]
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(onnx.reference.ReferenceEvaluator(model).run(None, feeds)[0], expected)


def test_discriminator_embeds_soft_tokens_as_their_mixture_and_round_trips(tmp_path):
    from kgan.models import SequenceDiscriminator

    d = SequenceDiscriminator(6, 5, num_classes=2, embedding_dim=4, widths=(2, 5), filters=3, hidden_units=4)
    rng = np.random.default_rng(0)
    soft = rng.dirichlet(np.ones(6), size=(3, 5)).astype(np.float32)
    embed = keras.Model(d.inputs, d.get_layer("token_embedding").output)
    table = d.get_layer("token_embedding").get_weights()[0]
    np.testing.assert_allclose(np.asarray(embed([soft, np.zeros(3)])), soft @ table, rtol=1e-5, atol=1e-6)
    one_hot = np.eye(6, dtype=np.float32)[rng.integers(0, 6, (3, 5))]
    assert np.abs(np.asarray(d([one_hot, np.zeros(3)])) - np.asarray(d([one_hot, np.ones(3)]))).max() > 0
    path = tmp_path / "d.keras"
    d.save(path)
    again = keras.models.load_model(path)
    assert again.get_config() == d.get_config()
    np.testing.assert_allclose(np.asarray(again([one_hot, np.ones(3)])), np.asarray(d([one_hot, np.ones(3)])),
                               rtol=1e-6)
    with pytest.raises(KganError, match="widths must be between 1 and the length 5"):
        SequenceDiscriminator(6, 5, widths=(6,))


def test_the_discriminator_teaches_the_generator_through_the_relaxed_sample():
    import tensorflow as tf

    from kgan.models import SequenceDiscriminator

    generator = tiny(vocab_size=6, length=5)
    d = SequenceDiscriminator(6, 5, embedding_dim=4, filters=3, hidden_units=4, dropout=0.0)
    gumbel = -np.log(-np.log(np.random.default_rng(0).random((8, 5, 6)))).astype(np.float32)
    with tf.GradientTape() as tape:
        soft, _ = generator.relaxed(gumbel, 5.0)
        score = tf.reduce_mean(d(soft))
    grads = tape.gradient(score, generator.trainable_variables)
    # The fed-back tokens are hard, so the gradient reaches the generator through the soft
    # one-hots alone: into the output layer and back through the cell's recurrence.
    size = {v.path: float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(g))))
            for v, g in zip(generator.trainable_variables, grads) if g is not None}
    assert size["token_logits/kernel"] > 0 and size["cell/kernel"] > 0 and size["cell/recurrent_kernel"] > 0


def test_temperature_sharpens_every_steps_softmax_and_the_sampler_follows():
    generator = tiny(length=2)
    every, p_one = probabilities(generator)
    generator.temperature = 0.5
    _, p_half = probabilities(generator)

    def first(p):  # the first token's marginal
        return np.array([p[every[:, 0] == v].sum() for v in range(generator.vocab_size)])

    # softmax(logits / 0.5) is p^2, renormalised
    np.testing.assert_allclose(first(p_half), first(p_one) ** 2 / (first(p_one) ** 2).sum(), rtol=1e-5)
    n = 20_000
    tokens = np.asarray(generator(keras.random.uniform((n, 2), seed=5)))
    assert_matches(frequencies(tokens, every), p_half, n)
    assert SequenceGenerator.from_config(generator.get_config()).temperature == 0.5


@pytest.mark.slow(minutes=0.2)
def test_the_sequence_family_trains_saves_exports_and_samples_by_name(tmp_path):
    from harness import run_family_test

    run_family_test("sequence", tmp_path, ("--pretrain", "0"))
