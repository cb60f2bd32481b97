"""How the names GAN loses its variety, and what the likelihood term's weight does to it.

    python benchmarks/names_collapse.py [--seed 0] [--weights 0 0.1 0.3 1 3] [--steps 200] [--every 20]
                                        [--out benchmarks/names_collapse.jsonl]

Trains the `names` preset once for each likelihood weight (`--mle-weight`), `--steps` adversarial
steps in epochs of `--every`, and after each epoch samples 1,000 names from the generator and
measures: the share that are distinct and that are not training names, NLL-test (the model's
negative log-likelihood a character of the held-out names), the bigram distance to the held-out
names, the entropy of the first letters and of the lengths, and the discriminator's mean logits on
real and generated names. Step 0 is the maximum-likelihood start. Each invocation appends a line
to `--out`.
"""

import argparse
import collections
import json
import math
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _entropy(values):
    counts = collections.Counter(values)
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values())


def measure(seed, weights, steps, every, log=print):
    import keras
    import numpy as np

    import kgan
    from kgan.data.text import decode, text_source
    from kgan.mle import nll
    from kgan.runtime.metrics.text import bigram_distance, novelty, uniqueness

    text = text_source("names")
    training = decode(text.train, text.vocabulary)
    references = [list(t) for t in decode(text.held_out, text.vocabulary)]

    def figures(generator, step, logs=None):
        u = np.random.default_rng(10_000 + seed).random((1000, generator.length), dtype=np.float32)
        names = decode(np.asarray(generator(u)), text.vocabulary)
        point = {"step": step, "uniqueness": uniqueness(names), "novelty": novelty(names, training),
                 "nll_test": nll(generator, text.held_out), "bigram_distance": bigram_distance(map(list, names), references),
                 "first_letter_entropy": _entropy(n[:1] for n in names), "length_entropy": _entropy(len(n) for n in names)}
        point.update({k: float(logs[k]) for k in ("real_score", "fake_score") if logs and k in logs})
        return point

    class Trajectory(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.points = []

        def on_train_begin(self, logs=None):
            self.points.append(figures(self.model.sampling_generator, 0))

        def on_epoch_end(self, epoch, logs=None):
            self.points.append(figures(self.model.sampling_generator, (epoch + 1) * every, logs))

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for weight in weights:
            trajectory = Trajectory()
            config = kgan.get_preset("names").replace(out=os.path.join(tmp, str(weight)), export=False, seed=seed,
                                                      mle_weight=weight, epochs=steps // every, steps_per_epoch=every)
            kgan.train(config, callbacks=[trajectory], verbose=0, log=lambda *_: None)
            last = trajectory.points[-1]
            log(f"weight {weight:g}: distinct {trajectory.points[0]['uniqueness']:.3f} -> {last['uniqueness']:.3f}, "
                f"NLL-test {trajectory.points[0]['nll_test']:.3f} -> {last['nll_test']:.3f}")
            runs.append({"mle_weight": weight, "points": trajectory.points})
    return {"seed": seed, "steps": steps, "every": every, "runs": runs}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.1, 0.3, 1.0, 3.0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "names_collapse.jsonl"))
    args = parser.parse_args()
    from record import append

    row = append(args.out, measure(args.seed, args.weights, args.steps, args.every))
    print(json.dumps({r["mle_weight"]: r["points"][-1] for r in row["runs"]}, indent=1))


if __name__ == "__main__":
    main()
