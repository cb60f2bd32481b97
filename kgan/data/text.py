"""Token sequences: SeqGAN's oracle, the census name lists, and text files.

A sequence is a row of int64 token ids `[n, length]` with a vocabulary of strings. In
text (names, files) the vocabulary's first entry is `""`, the end of a sequence: it
follows the last real token and pads the row to `length`. The oracle's sequences have
no end; every one of their `length` tokens is drawn.

Example:
    >>> oracle = Oracle(vocab_size=50, length=5)
    >>> tokens = oracle.sample(3, seed=0)
    >>> tokens.shape, oracle.nll(tokens) > 0
    ((3, 5), True)
"""

import dataclasses
import functools
import os

import numpy as np

from kgan.data.digits import held_out_split
from kgan.errors import KganError
from kgan.runtime.text import END, decode, encode, split_tokens

__all__ = ["END", "TEXT_SOURCES", "TEXT_SUFFIXES", "TOKENIZERS", "Oracle", "TextData", "oracle_data", "names_data",
           "read_text_file", "is_text_source", "text_source", "source_options", "encode", "decode"]

NAME_LISTS = {"names": ("dist.female.first", "dist.male.first"), "surnames": ("dist.all.last",)}
ORACLE_SEED = 0  # the oracle's weights: one fixed benchmark, whatever the training seed
ORACLE_TRAIN, ORACLE_HELD_OUT = 10_000, 2_000  # SeqGAN's 10,000 training sequences
HELD_OUT_SHARE = 0.1  # of the name lists, kept out of training for BLEU and novelty
TEXT_SOURCES = ("oracle", *NAME_LISTS)
TEXT_SUFFIXES = (".txt",)
TOKENIZERS = ("chars", "words")


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class Oracle:
    """SeqGAN's synthetic language (Yu et al., AAAI 2017): an LSTM with N(0, 1) weights.

    The oracle is the real distribution, so the likelihood of any sequence is exact:
    NLL-oracle (its negative log-likelihood of generated sequences) measures their
    quality. It reads a start token 0, then draws `length` tokens, each from the
    softmax of its output layer, fed back as the next input. Computed in float64.

    Args:
        vocab_size: tokens (SeqGAN: 5,000).
        embedding_dim: size of the token embedding (SeqGAN: 32).
        hidden_dim: LSTM units (SeqGAN: 32).
        length: tokens a sequence (SeqGAN: 20).
        seed: seed of the weights.
    """

    def __init__(self, vocab_size=5000, embedding_dim=32, hidden_dim=32, length=20, seed=ORACLE_SEED):
        rng = np.random.default_rng(seed)
        self.vocab_size, self.hidden_dim, self.length = vocab_size, hidden_dim, length
        self.embedding = rng.standard_normal((vocab_size, embedding_dim))
        # Gates in the order input, forget, candidate, output (Keras' LSTM order).
        self.kernel = rng.standard_normal((embedding_dim, 4 * hidden_dim))
        self.recurrent_kernel = rng.standard_normal((hidden_dim, 4 * hidden_dim))
        self.bias = rng.standard_normal(4 * hidden_dim)
        self.output_kernel = rng.standard_normal((hidden_dim, vocab_size))
        self.output_bias = rng.standard_normal(vocab_size)

    def _step(self, tokens, h, c):
        """One step from the previous tokens: `(log-probabilities of the next, h, c)`."""
        gates = self.embedding[tokens] @ self.kernel + h @ self.recurrent_kernel + self.bias
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        logits = h @ self.output_kernel
        logits += self.output_bias  # in place: the same numbers, one [rows, vocab] array fewer
        logits -= logits.max(-1, keepdims=True)
        logits -= np.log(np.exp(logits).sum(-1, keepdims=True))
        return logits, h, c

    def _start(self, n):
        zeros = np.zeros((n, self.hidden_dim))
        return np.zeros(n, np.int64), zeros, zeros.copy()

    # Rows a chunk: rows are computed apart, so the chunk changes the speed, not the samples (the
    # benchmark's data are those drawn in chunks of 2,000); [100, vocab] arrays stay in the cache.
    CHUNK = 100

    def sample(self, n, seed=0, chunk=CHUNK):
        """`n` sequences `[n, length]` int64, drawn exactly (inverse transform of uniforms)."""
        rng = np.random.default_rng(seed)
        uniforms = rng.random((n, self.length))
        out = np.empty((n, self.length), np.int64)
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            previous, h, c = self._start(stop - start)
            for t in range(self.length):
                log_p, h, c = self._step(previous, h, c)
                cumulative = np.cumsum(np.exp(log_p, out=log_p), axis=-1, out=log_p)
                u = uniforms[start:stop, t, None] * cumulative[:, -1:]
                previous = np.minimum((cumulative <= u).sum(-1), self.vocab_size - 1)
                out[start:stop, t] = previous
        return out

    def log_likelihood(self, tokens, chunk=CHUNK):
        """Per-token log-probabilities `[n, length]` of given sequences under the oracle."""
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] != self.length:
            raise KganError(f"the oracle scores sequences of {self.length} tokens, got shape {list(tokens.shape)}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise KganError(f"tokens must be in [0, {self.vocab_size}), got {tokens.min()}..{tokens.max()}")
        out = np.empty(tokens.shape, np.float64)
        for start in range(0, len(tokens), chunk):
            rows = tokens[start:start + chunk]
            previous, h, c = self._start(len(rows))
            for t in range(self.length):
                log_p, h, c = self._step(previous, h, c)
                out[start:start + chunk, t] = log_p[np.arange(len(rows)), rows[:, t]]
                previous = rows[:, t]
        return out

    def nll(self, tokens):
        """NLL-oracle: the mean negative log-likelihood a token (SeqGAN's figure)."""
        return float(-self.log_likelihood(tokens).mean())


def oracle_data(num_examples=None):
    """`(train, held_out, vocabulary, oracle)`: SeqGAN's benchmark, the same for every seed."""
    oracle = Oracle()
    train = oracle.sample(num_examples or ORACLE_TRAIN, seed=ORACLE_SEED + 1)
    held_out = oracle.sample(ORACLE_HELD_OUT, seed=ORACLE_SEED + 2)
    return train, held_out, tuple(str(i) for i in range(oracle.vocab_size)), oracle


def _split(sequences):
    """Training and held-out rows: a fixed share held out, chosen by a fixed permutation."""
    train, _, held_out, _ = held_out_split(sequences, sequences, fraction=HELD_OUT_SHARE)
    return train, held_out


def _vocabulary_of(texts, separator):
    tokens = set()
    for text in texts:
        tokens.update(split_tokens(text, separator))
    tokens.discard(END)
    return (END, *sorted(tokens))


def _sequences(texts, separator, length, what):
    if not texts:
        raise KganError(f"{what} has no text: give one sequence a line")
    vocabulary = _vocabulary_of(texts, separator)
    longest = max(len(split_tokens(text, separator)) for text in texts)
    length = longest + 1 if length is None else int(length)  # room for the end
    if length < 1:
        raise KganError(f"a sequence length must be at least 1, got {length}")
    return encode(texts, vocabulary, length, separator), vocabulary


def names_data(source="names", length=None):
    """`(train, held_out, vocabulary)`: the US census name lists of the `names` package.

    `names`: first names (female and male lists, 5,163 names); `surnames`: last names
    (88,799). Lower case, one character a token.
    """
    try:
        import names
    except ImportError:
        raise KganError(f"the {source!r} data set is the `names` package's census lists: "
                        "pip install 'kgan[text]' (or pip install names)") from None
    folder = os.path.dirname(names.__file__)
    texts = set()
    for file in NAME_LISTS[source]:
        with open(os.path.join(folder, file), encoding="ascii") as f:
            texts.update(line.split()[0].lower() for line in f if line.strip())
    sequences, vocabulary = _sequences(sorted(texts), "", length, f"the {source} list")
    return (*_split(sequences), vocabulary)


def read_text_file(path, tokens="chars", length=None):
    """`(train, held_out, vocabulary, separator)` of a text file, one sequence a line.

    Args:
        tokens: `"chars"` (a token a character) or `"words"` (split at whitespace).
        length: tokens a sequence; longer lines are cut. Default: the longest line and
            its end.
    """
    if tokens not in ("chars", "words"):
        raise KganError(f"tokens must be 'chars' or 'words', got {tokens!r}")
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except UnicodeDecodeError:
        raise KganError(f"{path} is not UTF-8 text: give a text file, one sequence a line") from None
    separator = "" if tokens == "chars" else " "
    texts = [line if tokens == "chars" else " ".join(line.split()) for line in lines if line]
    sequences, vocabulary = _sequences(texts, separator, length, path)
    if len(sequences) < 2:
        return sequences, sequences[:0], vocabulary, separator
    return (*_split(sequences), vocabulary, separator)


@dataclasses.dataclass(frozen=True)
class TextData:
    """A text data set: training and held-out token ids `[n, length]` int64, the vocabulary
    (strings, the end token `""` first for text), what joins tokens into text, and the oracle
    that generated them (the `oracle` data set) or None."""

    train: np.ndarray
    held_out: np.ndarray
    vocabulary: tuple
    separator: str
    oracle: Oracle | None = None


def is_text_source(source):
    """Whether a data set name or path is text: a named text source or a `.txt` file."""
    source = os.fspath(source)
    return source in TEXT_SOURCES or source.lower().endswith(TEXT_SUFFIXES)


def text_source(source, tokens="chars", length=None):
    """The `TextData` of `oracle`, `names`, `surnames` or a `.txt` file (tokenized by `tokens`,
    `"chars"` or `"words"`; `length` tokens a sequence, default the longest and its end); read
    once a process (the oracle takes seconds to sample)."""
    source = os.fspath(source)
    if length is not None and int(length) < 1:
        raise KganError(f"a sequence length must be at least 1 token, got {length}")
    if source in TEXT_SOURCES:
        return _named_source(source, length)
    if not os.path.isfile(source):
        raise KganError(f"no such file: {source}; check the path")
    return _file_source(os.path.abspath(source), tokens, length, os.path.getmtime(source))


def source_options(spec):
    """The `tokens` and `length` that read a data set as a model of this `SampleSpec` was trained
    on it (`{}` for samples that are not tokens): words where its texts join with spaces."""
    if spec.kind != "tokens":
        return {}
    return {"tokens": "words" if spec.separator == " " else "chars", "length": spec.shape[0]}


@functools.lru_cache(maxsize=None)
def _named_source(name, length):
    if name == "oracle":
        if length not in (None, Oracle().length):
            raise KganError(f"the oracle's sequences are {Oracle().length} tokens: drop the length")
        train, held_out, vocabulary, oracle = oracle_data()
        return TextData(train, held_out, vocabulary, " ", oracle)
    return TextData(*names_data(name, length), "")


@functools.lru_cache(maxsize=8)
def _file_source(path, tokens, length, mtime):
    return TextData(*read_text_file(path, tokens, length))
