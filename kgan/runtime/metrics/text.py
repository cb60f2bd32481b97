"""Quality and diversity of generated text: BLEU, Self-BLEU, novelty and uniqueness.

Texygen's definitions (Zhu et al., SIGIR 2018), with nltk's BLEU: BLEU-n of a sample is
its sentence BLEU against every reference at once (uniform weights over 1..n-grams,
nltk's smoothing method 1), averaged over samples: quality. Self-BLEU-n is the same for
each sample against the other samples: high when the samples repeat each other, so
lower is more diverse. Texts are lists of tokens (characters or words).

Example:
    >>> bleu([list("anna")], [list("anna"), list("bob")], orders=(2,))
    {2: 1.0}
"""

import numpy as np

from kgan.errors import KganError

__all__ = ["bleu", "self_bleu", "novelty", "uniqueness", "BLEU_ORDERS"]

BLEU_ORDERS = (2, 3, 4, 5)


def _nltk_bleu():
    try:
        from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    except ImportError:
        raise KganError("BLEU needs nltk: pip install 'kgan[text]' (or pip install nltk)") from None
    return sentence_bleu, SmoothingFunction().method1


def bleu(samples, references, orders=BLEU_ORDERS):
    """`{n: mean sentence BLEU-n}` of `samples` (token lists) against all of `references`."""
    sentence_bleu, smoothing = _nltk_bleu()
    references = [list(r) for r in references]
    if not references:
        raise KganError("BLEU needs at least one reference text")
    weights = [tuple([1.0 / n] * n) for n in orders]
    scores = np.array([sentence_bleu(references, list(sample), weights, smoothing_function=smoothing)
                       for sample in samples], np.float64).reshape(len(samples), len(orders))
    return {n: float(scores[:, i].mean()) for i, n in enumerate(orders)}


def self_bleu(samples, orders=BLEU_ORDERS):
    """`{n: mean BLEU-n of each sample against the others}` (lower: more diverse)."""
    sentence_bleu, smoothing = _nltk_bleu()
    samples = [list(s) for s in samples]
    if len(samples) < 2:
        raise KganError("Self-BLEU needs at least two samples")
    weights = [tuple([1.0 / n] * n) for n in orders]
    scores = np.array([sentence_bleu(samples[:i] + samples[i + 1:], sample, weights, smoothing_function=smoothing)
                       for i, sample in enumerate(samples)], np.float64).reshape(len(samples), len(orders))
    return {n: float(scores[:, i].mean()) for i, n in enumerate(orders)}


def novelty(samples, training):
    """The share of samples (strings) that are not in the training texts."""
    seen = set(training)
    return float(np.mean([s not in seen for s in samples]))


def uniqueness(samples):
    """The share of distinct samples among all."""
    return len(set(samples)) / len(samples)
