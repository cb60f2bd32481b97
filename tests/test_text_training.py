"""The text presets, trained as `kgan train` trains them: what the adversarial phase does."""

import hashlib

import keras
import numpy as np
import pytest


class NllOracle(keras.callbacks.Callback):
    """NLL-oracle of the sampling generator when the adversarial phase starts and when it ends."""

    def __init__(self, oracle, samples=2000):
        super().__init__()
        self.oracle, self.samples, self.found = oracle, samples, {}

    def _measure(self):
        generator = self.model.sampling_generator
        u = np.random.default_rng(1).random((self.samples, generator.length), dtype=np.float32)
        return self.oracle.nll(np.asarray(generator(u)))

    def on_train_begin(self, logs=None):
        self.found["mle"] = self._measure()

    def on_train_end(self, logs=None):
        self.found["gan"] = self._measure()


@pytest.mark.slow(minutes=3.8)
def test_the_oracle_presets_adversarial_phase_lowers_nll_oracle(tmp_path):
    """Seed 0 of the `oracle` preset: the pretrained (MLE) generator against the same generator
    after the adversarial phase, by the oracle's own likelihood of their samples; first, the
    benchmark's data (SeqGAN's sizes, the same sequences as ever)."""
    import kgan
    from kgan.data.text import text_source

    source = text_source("oracle")  # the benchmark's data, drawn once a process: the run below reuses them
    train, held_out, oracle = source.train, source.held_out, source.oracle
    assert train.shape == (10_000, 20) and held_out.shape == (2_000, 20) and len(source.vocabulary) == 5000
    # The benchmark's sequences are the ones every earlier run was trained and scored on.
    digest = hashlib.sha256(train.tobytes() + held_out.tobytes()).hexdigest()
    assert digest == "9fcca88d1c3e21a1b3da99ce7b1f735126a609aefb2c7c7239004af0736eacd7"
    # Its own samples score the oracle's entropy rate; uniform tokens score far worse.
    assert oracle.nll(held_out) < 0.7 * oracle.nll(np.random.default_rng(0).integers(0, 5000, (500, 20)))

    measured = NllOracle(oracle)
    config = kgan.get_preset("oracle").replace(out=str(tmp_path / "run"), export=False)
    kgan.train(config, callbacks=[measured], verbose=0, log=lambda *_: None)
    mle, gan = measured.found["mle"], measured.found["gan"]
    # measured with the benchmark (benchmarks/text.py, 5,000 samples): 9.298 -> 8.583 (-7.7 %)
    assert gan < (1 - 0.033) * mle, measured.found  # SeqGAN's relative margin over MLE


@pytest.mark.slow(minutes=1.2)
def test_the_likelihood_term_keeps_the_names_gan_from_collapsing(tmp_path):
    """The names preset's first 120 adversarial steps, seed 0, with and without its likelihood term:
    the plain game has already lost much of its variety, the preset keeps its MLE start's."""
    import kgan
    from kgan.data.text import decode

    found = {}
    for weight in (0.0, kgan.get_preset("names").mle_weight):
        config = kgan.get_preset("names").replace(out=str(tmp_path / f"w{weight}"), export=False, epochs=1,
                                                  steps_per_epoch=120, mle_weight=weight)
        result = kgan.train(config, verbose=0, log=lambda *_: None)
        spec = result.gan.sample_spec
        for name, generator in (("mle", kgan.load_model(result.files["mle"])), (weight, result.gan.sampling_generator)):
            u = np.random.default_rng(1).random((1000, generator.length), dtype=np.float32)
            found[name] = len(set(decode(np.asarray(generator(u)), spec.vocabulary))) / 1000
    # measured: MLE start 0.96, plain game 0.51 (0.36 after the preset's 200 steps), preset 0.97
    assert found[0.0] < 0.75 * found["mle"] and found[3.0] > 0.95 * found["mle"] > 0.9, found
