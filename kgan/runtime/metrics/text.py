"""Quality and diversity of generated text: BLEU, Self-BLEU, novelty, uniqueness and the bigram distance.

Texygen's definitions (Zhu et al., SIGIR 2018), with nltk's BLEU: BLEU-n of a sample is
its sentence BLEU against every reference at once (uniform weights over 1..n-grams,
nltk's smoothing method 1), averaged over samples: quality. Self-BLEU-n is the same for
each sample against the other samples: high when the samples repeat each other, so
lower is more diverse. Texts are lists of tokens (characters or words).

Example:
    >>> bleu([list("anna")], [list("anna"), list("bob")], orders=(2,))
    {2: 1.0}
"""

from collections import Counter

import numpy as np

from kgan.errors import KganError

__all__ = ["bleu", "self_bleu", "novelty", "uniqueness", "bigram_distance", "BLEU_ORDERS"]

BLEU_ORDERS = (2, 3, 4, 5)


def _nltk_bleu():
    try:
        from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    except ImportError:
        raise KganError("BLEU needs nltk: pip install 'kgan[text]' (or pip install nltk)") from None
    return sentence_bleu, SmoothingFunction().method1


def bleu(samples, references, orders=BLEU_ORDERS):
    """`{n: mean sentence BLEU-n}` of `samples` against all of `references` (quality).

    Args:
        samples: generated texts, each a list of tokens.
        references: real texts, each a list of tokens.
        orders: the n of each BLEU-n.
    """
    sentence_bleu, smoothing = _nltk_bleu()
    references = [list(r) for r in references]
    if not references:
        raise KganError("BLEU needs at least one reference text")
    weights = [tuple([1.0 / n] * n) for n in orders]
    scores = np.array([sentence_bleu(references, list(sample), weights, smoothing_function=smoothing)
                       for sample in samples], np.float64).reshape(len(samples), len(orders))
    return {n: float(scores[:, i].mean()) for i, n in enumerate(orders)}


def self_bleu(samples, orders=BLEU_ORDERS):
    """`{n: mean BLEU-n of each sample against the others}` (lower: more diverse).

    Args:
        samples: generated texts, each a list of tokens (at least two).
        orders: the n of each BLEU-n.
    """
    sentence_bleu, smoothing = _nltk_bleu()
    samples = [list(s) for s in samples]
    if len(samples) < 2:
        raise KganError("Self-BLEU needs at least two samples")
    weights = [tuple([1.0 / n] * n) for n in orders]
    scores = np.array([sentence_bleu(samples[:i] + samples[i + 1:], sample, weights, smoothing_function=smoothing)
                       for i, sample in enumerate(samples)], np.float64).reshape(len(samples), len(orders))
    return {n: float(scores[:, i].mean()) for i, n in enumerate(orders)}


def novelty(samples, training):
    """The share of samples that are not in the training texts.

    Args:
        samples: generated texts (strings).
        training: the training texts (strings).
    """
    seen = set(training)
    return float(np.mean([s not in seen for s in samples]))


def uniqueness(samples):
    """The share of distinct samples among all.

    Args:
        samples: generated texts (strings).
    """
    return len(set(samples)) / len(samples)


def _bigram_counts(texts):
    counts = Counter()
    for tokens in texts:
        padded = ["\x02", *tokens, "\x03"]  # the start and the end count as tokens
        counts.update(zip(padded, padded[1:]))
    return counts


def bigram_distance(samples, references):
    """The Jensen-Shannon divergence (nats, 0 to ln 2) between the bigram distributions of `samples`
    and of `references`, start and end included: 0 when they write their tokens in the same pairs
    as often; a model that repeats a few texts, or writes unseen pairs, scores high.

    Args:
        samples: generated texts, each a list of tokens.
        references: real texts, each a list of tokens.
    """
    from scipy.spatial.distance import jensenshannon

    samples, references = _bigram_counts(samples), _bigram_counts(references)
    if not samples or not references:
        raise KganError("the bigram distance needs at least one text on each side")
    pairs = sorted(set(samples) | set(references))
    p = np.array([samples[k] for k in pairs], np.float64)
    q = np.array([references[k] for k in pairs], np.float64)
    return float(jensenshannon(p, q) ** 2)
