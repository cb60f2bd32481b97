"""Models saved by earlier versions load and give the same samples and scores.

Each folder under tests/fixtures/ is named after the commit whose code wrote it
(`tests/fixtures/make_fixtures.py`); add one whenever a change touches what is saved or
how a saved model is rebuilt.
"""

import glob
import os

import numpy as np
import pytest

import kgan

FIXTURES = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "*", "*.keras")))


@pytest.mark.parametrize("path", FIXTURES, ids=[os.path.relpath(p, os.path.dirname(os.path.dirname(p)))
                                                for p in FIXTURES])
def test_saved_models_load_and_give_the_same_samples_and_scores(path):
    expected = np.load(path.replace(".keras", ".npz"))
    gan = kgan.load_model(path)
    labels = np.arange(8) % 3 if gan.conditional else None
    samples = gan.generate(8, seed=0, labels=labels)
    np.testing.assert_allclose(samples, expected["samples"], atol=1e-6)
    d_in = [samples, labels.astype(np.int32)] if gan.conditional else samples
    np.testing.assert_allclose(np.asarray(gan.discriminator(d_in, training=False)).reshape(-1), expected["logits"],
                               atol=1e-5)


def test_there_are_fixtures():
    assert len(FIXTURES) >= 3
