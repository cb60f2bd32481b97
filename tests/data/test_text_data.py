import itertools

import keras
import numpy as np
import pytest

from kgan.data.text import END, Oracle, decode, encode, names_data, read_text_file
from kgan.errors import KganError


def keras_log_likelihood(oracle, tokens):
    """The oracle's per-token log-probabilities computed by Keras' own LSTM cell and softmax."""
    cell = keras.layers.LSTMCell(oracle.hidden_dim, dtype="float64")
    cell.build((None, oracle.embedding.shape[1]))
    cell.set_weights([oracle.kernel, oracle.recurrent_kernel, oracle.bias])
    n = len(tokens)
    state = [np.zeros((n, oracle.hidden_dim)), np.zeros((n, oracle.hidden_dim))]
    previous = np.zeros(n, np.int64)
    out = []
    for t in range(tokens.shape[1]):
        h, state = cell(oracle.embedding[previous], state)
        logits = np.asarray(h) @ oracle.output_kernel + oracle.output_bias
        log_p = np.asarray(keras.ops.log_softmax(logits, axis=-1))
        out.append(log_p[np.arange(n), tokens[:, t]])
        previous = tokens[:, t]
    return np.stack(out, 1)


def test_oracle_likelihood_is_an_lstm_language_model():
    oracle = Oracle(vocab_size=7, embedding_dim=3, hidden_dim=4, length=5, seed=3)
    tokens = oracle.sample(50, seed=1)
    np.testing.assert_allclose(oracle.log_likelihood(tokens), keras_log_likelihood(oracle, tokens), atol=1e-9)
    assert oracle.nll(tokens) == pytest.approx(-keras_log_likelihood(oracle, tokens).mean())


def test_oracle_samples_exactly_from_its_distribution():
    oracle = Oracle(vocab_size=3, embedding_dim=2, hidden_dim=2, length=2, seed=0)
    every = np.array(list(itertools.product(range(3), repeat=2)))
    p = np.exp(oracle.log_likelihood(every).sum(1))
    assert p.sum() == pytest.approx(1.0)
    draws = oracle.sample(40_000, seed=5)
    counts = np.array([np.all(draws == row, axis=1).sum() for row in every])
    # Every sequence's frequency within 4 standard errors of its probability.
    np.testing.assert_array_less(np.abs(counts / 40_000 - p), 4 * np.sqrt(p * (1 - p) / 40_000) + 1e-4)


def test_oracle_is_seeded_and_refuses_foreign_sequences():
    oracle = Oracle(vocab_size=11, length=4)
    np.testing.assert_array_equal(oracle.sample(5, seed=2), oracle.sample(5, seed=2))
    assert np.any(oracle.sample(5, seed=2) != oracle.sample(5, seed=3))
    with pytest.raises(KganError, match="sequences of 4 tokens"):
        oracle.log_likelihood(np.zeros((2, 5), np.int64))
    with pytest.raises(KganError, match=r"tokens must be in \[0, 11\)"):
        oracle.log_likelihood(np.full((2, 4), 11))


def test_the_oracles_chunks_change_its_speed_not_its_numbers():
    oracle = Oracle(vocab_size=40, length=6, seed=2)
    tokens = oracle.sample(25, seed=4, chunk=25)
    for chunk in (1, 7):
        np.testing.assert_array_equal(oracle.sample(25, seed=4, chunk=chunk), tokens)
        # BLAS may round a one-row product differently in the last bit
        np.testing.assert_allclose(oracle.log_likelihood(tokens, chunk=chunk), oracle.log_likelihood(tokens, chunk=25),
                                   rtol=1e-12)


def test_names_are_the_census_lists_split_for_held_out_checks():
    train, held_out, vocabulary = names_data("names")
    assert vocabulary[0] == END and "".join(vocabulary[1:]) == "abcdefghijklmnopqrstuvwxyz"
    assert len(train) + len(held_out) == 5163 and train.shape[1] == 12  # longest name (11) and its end
    texts = decode(train, vocabulary)
    assert "james" in texts + decode(held_out, vocabulary)
    assert not set(texts) & set(decode(held_out, vocabulary))
    np.testing.assert_array_equal(encode(texts, vocabulary, 12), train)


def test_text_files_by_characters_and_words(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("the cat sat\n\nthe dog  ran far\na cat\n", encoding="utf-8")
    train, held_out, vocabulary, separator = read_text_file(path, tokens="words")
    assert separator == " " and vocabulary == (END, "a", "cat", "dog", "far", "ran", "sat", "the")
    assert len(train) + len(held_out) == 3 and train.shape[1] == 5
    assert sorted(decode(np.concatenate([train, held_out]), vocabulary, " ")) == ["a cat", "the cat sat",
                                                                                  "the dog ran far"]
    train, held_out, vocabulary, separator = read_text_file(path, tokens="chars", length=4)
    assert separator == "" and train.shape[1] == 4 and " " in vocabulary


def test_bad_text_gets_one_line(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(KganError, match="has no text: give one sequence a line"):
        read_text_file(empty)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00abc")
    with pytest.raises(KganError, match="is not UTF-8 text"):
        read_text_file(binary)
    text = tmp_path / "ok.txt"
    text.write_text("abc\n", encoding="utf-8")
    with pytest.raises(KganError, match="length must be at least 1, got 0"):
        read_text_file(text, length=0)
    with pytest.raises(KganError, match="tokens must be 'chars' or 'words'"):
        read_text_file(text, tokens="bytes")
    with pytest.raises(KganError, match="'z' is not in the model's vocabulary"):
        encode(["abz"], (END, "a", "b", "c"), 4)
