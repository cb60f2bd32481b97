import keras
import numpy as np
import pytest

from kgan.data.text import Oracle
from kgan.errors import KganError
from kgan.mle import nll, pretrain
from kgan.models.sequence import SequenceGenerator


@pytest.mark.slow(minutes=0.2)  # trains or scores a model, 10 s or more: CI runs it
def test_pretraining_lowers_nll_test_toward_the_oracles_own():
    oracle = Oracle(vocab_size=30, embedding_dim=8, hidden_dim=8, length=6, seed=1)
    train, held_out = oracle.sample(3000, seed=1), oracle.sample(500, seed=2)
    keras.utils.set_random_seed(0)
    generator = SequenceGenerator(30, 6, embedding_dim=16, hidden_dim=16)
    floor = oracle.nll(held_out)  # the oracle's own NLL of its held-out sequences: the best possible
    before = nll(generator, held_out)
    losses = pretrain(generator, train, epochs=3)
    after = nll(generator, held_out)
    # Measured: 3.40 (as initialised, log 30 = 3.40) -> 2.76, floor 2.68.
    assert losses[-1] < losses[0]
    assert after < before - 0.4 and after - floor < 0.25 * (before - floor)
    # Its samples moved toward the oracle too (NLL-oracle, measured 2.81).
    u = np.random.default_rng(0).random((2000, 6)).astype(np.float32)
    assert oracle.nll(np.asarray(generator(u))) < before - 0.3


def test_pretraining_refuses_foreign_sequences():
    generator = SequenceGenerator(5, 3, embedding_dim=4, hidden_dim=4)
    with pytest.raises(KganError, match="sequences of 3 tokens"):
        pretrain(generator, np.zeros((4, 4), np.int64))
    with pytest.raises(KganError, match=r"tokens must be in \[0, 5\)"):
        nll(generator, np.full((4, 3), 5))
    with pytest.raises(KganError, match="labels exactly when the generator is conditional"):
        pretrain(generator, np.zeros((4, 3), np.int64), labels=np.zeros(4))
