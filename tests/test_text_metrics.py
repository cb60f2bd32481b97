"""BLEU, Self-BLEU, novelty and uniqueness, and `kgan evaluate`'s text report, on real names."""

import numpy as np
import pytest

from kgan.data.text import decode, text_source
from kgan.errors import KganError
from kgan.runtime.metrics.text import bigram_distance, bleu, novelty, self_bleu, uniqueness

@pytest.fixture(scope="module")
def names():
    return text_source("names")


@pytest.fixture(scope="module")
def texts(names):
    return decode(names.train[:300], names.vocabulary)


def test_bleu_rewards_texts_made_of_the_references_ngrams(texts):
    references = [list(t) for t in texts[:200]]
    real = bleu([list(t) for t in texts[200:260]], references)
    shuffled = bleu([list(np.random.default_rng(0).permutation(list(t))) for t in texts[200:260]], references)
    copied = bleu(references[:60], references)
    assert copied[2] == pytest.approx(1.0) and copied[5] > 0.9  # names of under 5 letters have no 5-grams
    # real names share the references' bigrams; their letters shuffled do not
    assert all(copied[n] > real[n] > shuffled[n] for n in (2, 3, 4, 5)), (real, shuffled)
    assert real[2] > real[3] > real[4] > real[5]  # longer n-grams match less often


def test_self_bleu_and_uniqueness_see_a_collapsed_sampler(texts):
    diverse = texts[:100]
    collapsed = [texts[i % 5] for i in range(100)]  # five names, each twenty times
    assert self_bleu(collapsed)[4] == pytest.approx(1.0)
    assert self_bleu([list(t) for t in diverse])[4] < 0.6
    assert uniqueness(collapsed) == 0.05 and uniqueness(diverse) == 1.0
    assert novelty(["zzyzx", texts[0]], texts) == 0.5
    with pytest.raises(KganError, match="Self-BLEU needs at least two samples"):
        self_bleu([list("anna")])


def test_the_bigram_distance_sees_collapse_and_letter_soup(names, texts):
    held_out = [list(t) for t in decode(names.held_out, names.vocabulary)]
    diverse = [list(t) for t in texts]
    collapsed = [list(texts[i % 5]) for i in range(300)]  # five names, each sixty times
    soup = [list(np.random.default_rng(0).permutation(list(t))) for t in texts]  # real letters, shuffled
    near, far, shuffled = (bigram_distance(x, held_out) for x in (diverse, collapsed, soup))
    assert near < 0.05 and far > 0.3 and shuffled > 0.1, (near, far, shuffled)
    assert bigram_distance(held_out, held_out) == 0.0
    assert bigram_distance([list("ab")], [list("zy")]) == pytest.approx(np.log(2))  # no pair in common
    with pytest.raises(KganError, match="at least one text on each side"):
        bigram_distance([], held_out)


@pytest.mark.slow(minutes=0.17)  # trains or scores a model, 10 s or more: CI runs it
def test_the_text_report_puts_real_names_at_the_floor_and_random_letters_below_it(names, monkeypatch):
    from kgan import evaluate
    from kgan.evaluate import text_report

    monkeypatch.setattr(evaluate, "BLEU_SAMPLES", 100)  # nltk's BLEU is slow; fewer texts keep the test short
    monkeypatch.setattr(evaluate, "BLEU_REFERENCES", 300)
    from kgan.runtime.samples import SampleSpec

    spec = SampleSpec("tokens", names.train.shape[1:], "int64", vocabulary=names.vocabulary, separator="")
    facts = {"sample_spec": spec}
    held = text_report(lambda n, seed: names.train[1000:1000 + n], "names", 300, 0, facts)  # not the floor's rows
    rng = np.random.default_rng(0)
    noise = text_report(lambda n, seed: rng.integers(1, len(names.vocabulary), (n, spec.shape[0])), "names", 300, 0,
                        facts)
    # other real names score as the floor's do; random letters far below, and all novel
    assert abs(held["bleu_3"] - held["bleu_3_floor"]) < 0.05 and held["novelty"] == 0.0 and noise["novelty"] == 1.0
    assert noise["bleu_3"] < 0.5 * held["bleu_3_floor"] and noise["self_bleu_3"] < held["self_bleu_3_floor"]
    assert held["uniqueness"] == 1.0
    other = SampleSpec("tokens", (5,), "int64", vocabulary=("", "a"), separator="")
    with pytest.raises(KganError, match="another vocabulary or length than names"):
        text_report(lambda n, seed: names.train[:n], "names", 300, 0, {"sample_spec": other})
