import numpy as np
import pytest

from kgan.errors import KganError
from kgan.runtime.inference import GeneratorRuntime
from kgan.runtime.samplers import SAMPLERS, Sampler, TopK, get_sampler


def _draw(m, seed):
    values = np.random.default_rng(seed).normal(size=(m, 2)).astype(np.float32)
    return {"samples": values, "label": np.arange(m) % 3}


def _score(batch):
    return batch["samples"][:, 0]  # the first coordinate is the "realness"


def test_topk_keeps_the_best_scored_n_of_k_n_in_drawn_order():
    chosen = TopK(k=5)(6, _draw, _score, seed=3)
    pool = _draw(30, 3)
    best = np.sort(np.argsort(-pool["samples"][:, 0])[:6])
    np.testing.assert_array_equal(chosen["samples"], pool["samples"][best])
    np.testing.assert_array_equal(chosen["label"], pool["label"][best])  # what goes with a sample stays with it
    np.testing.assert_array_equal(chosen["scores"], pool["samples"][best, 0])
    assert chosen["scores"].min() >= np.sort(pool["samples"][:, 0])[-6]
    plain = TopK(k=1)(6, _draw, _score, seed=3)
    np.testing.assert_array_equal(plain["samples"], _draw(6, 3)["samples"])


def test_samplers_by_name_with_options():
    assert isinstance(get_sampler("topk"), TopK) and get_sampler("topk").k == 4
    assert get_sampler("topk:k=8").k == 8 and repr(get_sampler("topk:k=8")) == "topk:k=8"
    sampler = TopK(2)
    assert get_sampler(sampler) is sampler and get_sampler(None) is None
    assert set(SAMPLERS) >= {"topk"} and issubclass(SAMPLERS["topk"], Sampler)
    for spec, message in [("best", "unknown sampler 'best'"), ("topk:8", "key=value pairs"),
                          ("topk:k=0", "positive integer"),
                          ("topk:bogus=1", "the topk sampler has no option 'bogus': its options are k$"),
                          ("drs:k=3", "the drs sampler has no option 'k': its options are q, epsilon, burn_in, budget$"),
                          ("langevin:steps=5,size=1", "its options are steps, step_size, budget$")]:
        with pytest.raises(KganError, match=message) as caught:
            get_sampler(spec)
        assert "TypeError" not in str(caught.value) and "__init__" not in str(caught.value)
    with pytest.raises(KganError, match="positive integer"):
        TopK()(0, _draw, _score)


def test_keras_and_onnxruntime_choose_the_same_samples(exported):
    gan, result = exported("dcgan", True)
    runtime = GeneratorRuntime(result.out_dir)
    kept = gan.generate(6, seed=5, labels=1, sampler="topk:k=3")
    pool = gan.generate(18, seed=5, labels=1)
    scores = gan.score(pool, labels=1)
    np.testing.assert_allclose(kept, pool[np.sort(np.argsort(-scores)[:6])], atol=1e-6)
    chosen = runtime.generate_with("topk:k=3", 6, seed=5, labels=1)
    np.testing.assert_array_equal(chosen["samples"], runtime.generate(6, seed=5, labels=1, sampler="topk:k=3"))
    assert np.abs(chosen["samples"].astype(int) - runtime.generate(6, seed=5, labels=1).astype(int)).max() > 0
    pool = runtime.generate(18, seed=5, labels=1)  # the runtime chooses among what it shows, scored as shown
    np.testing.assert_array_equal(chosen["samples"], pool[np.sort(np.argsort(-runtime.score(pool, labels=1))[:6])])
    with pytest.raises(KganError, match="give one label or none"):
        runtime.generate(3, seed=0, labels=[0, 1, 2], sampler="topk")


def test_generate_command_samples_with_the_sampler(exported, tmp_path):
    from kgan.cli import main

    _, result = exported("mlp", False)
    runtime = GeneratorRuntime(result.out_dir)
    out = tmp_path / "kept.npy"
    assert main(["generate", result.out_dir, "-n", "20", "--seed", "4", "--sampler", "topk:k=4",
                 "--npy", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), runtime.generate(20, seed=4, sampler="topk:k=4"))
    scores = runtime.score(np.load(out))
    assert scores.mean() > runtime.score(runtime.generate(20, seed=4)).mean()
