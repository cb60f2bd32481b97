"""Token rows as text and back, with numpy only: what the runtime needs to show token samples.

In text, a vocabulary's first entry is `END` (`""`): the end of a sequence, and the
padding after it.

Example:
    >>> ids = encode(["ab"], ["", "a", "b"], length=4)
    >>> ids.tolist(), decode(ids, ["", "a", "b"])
    ([[1, 2, 0, 0]], ['ab'])
"""

import numpy as np

from kgan.errors import KganError

__all__ = ["END", "encode", "decode", "split_tokens"]

END = ""  # vocabulary[0] of text: the end of a sequence and the padding after it


def split_tokens(text, separator=""):
    """The tokens of one text: its characters, or its pieces between separators."""
    return text.split(separator) if separator else list(text)


def encode(texts, vocabulary, length, separator=""):
    """Token ids `[n, length]` of texts, ended and padded by `END` (token 0)."""
    index = {token: i for i, token in enumerate(vocabulary)}
    out = np.zeros((len(texts), length), np.int64)
    for row, text in enumerate(texts):
        tokens = split_tokens(text, separator)
        unknown = [t for t in tokens if t not in index]
        if unknown:
            raise KganError(f"{unknown[0]!r} is not in the model's vocabulary of {len(vocabulary)} tokens: "
                            "use only tokens of the training text")
        ids = [index[t] for t in tokens][:length]
        out[row, : len(ids)] = ids
    return out


def decode(tokens, vocabulary, separator=""):
    """Strings of token rows: up to the first end token when the vocabulary has one."""
    ended = len(vocabulary) > 0 and vocabulary[0] == END
    texts = []
    for row in np.asarray(tokens):
        words = []
        for token in row:
            if ended and token == 0:
                break
            words.append(vocabulary[int(token)])
        texts.append(separator.join(words))
    return texts
