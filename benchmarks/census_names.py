"""The `names` preset against its own maximum-likelihood start, on the census first names.

    python benchmarks/census_names.py [--samples 1000] [--out benchmarks/names.jsonl]

Trains the preset (`kgan train --preset names`) and the same command stopped after its
pretraining and a single adversarial step (`--epochs 1 --steps-per-epoch 1`: the MLE model),
then scores each with `kgan evaluate RUN --samples N`: BLEU and Self-BLEU on the first 200
samples beside their real floors, novelty and uniqueness on all N. Each run appends a line to
`--out`, which the documentation's Benchmarks page draws (`section`).
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def measure(samples):
    import kgan
    from kgan.evaluate import evaluate
    from kgan.runtime.text import decode

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in (("MLE (pretrained)", {"epochs": 1, "steps_per_epoch": 1}), ("GAN (the preset)", {})):
            out = os.path.join(tmp, name.split()[0])
            started = time.time()
            result = kgan.train(kgan.get_preset("names").replace(out=out, export=False, **flags), verbose=0,
                                log=lambda *_: None)
            seconds = time.time() - started
            report = evaluate(out, samples=samples)
            gan = kgan.load_model(result.files["model"])
            spec = gan.sample_spec
            texts = decode(gan.generate(12, seed=0), spec.vocabulary, spec.separator or "")
            rows[name] = {"seconds": seconds, "report": report, "examples": list(texts)}
    return {"samples": samples, "runs": rows}


KEYS = (("bleu_3", "BLEU-3"), ("bleu_4", "BLEU-4"), ("self_bleu_3", "Self-BLEU-3"), ("self_bleu_4", "Self-BLEU-4"))


def section(row):
    """The Benchmarks page's Names section, from one result line."""
    from record import source

    runs = row["runs"]
    gan = runs["GAN (the preset)"]
    floor = gan["report"]
    lines = ["| | " + " | ".join(label for _, label in KEYS) + " | novel | unique |",
             "| --- |" + " ---: |" * (len(KEYS) + 2),
             "| real floor (training names) | " + " | ".join(f"{floor[key + '_floor']:.3f}" for key, _ in KEYS)
             + f" | | {100 * floor['uniqueness_floor']:.0f} % |"]
    for name, run in runs.items():
        report = run["report"]
        lines.append(f"| {name} | " + " | ".join(f"{report[key]:.3f}" for key, _ in KEYS)
                     + f" | {100 * report['novelty']:.1f} % | {100 * report['uniqueness']:.1f} % |")
    return "\n\n".join([source(row), (
        f"The preset trained in {gan['seconds']:.0f} s, scored on {row['samples']:,} samples (BLEU and Self-BLEU on "
        "the first 200, as every text report does; novelty and uniqueness on all); beside it, the same command "
        "after pretraining and a single adversarial step, the MLE model:"), "\n".join(lines),
        f"Twelve of the preset's samples (seed 0): {', '.join(gan['examples'])}."])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "names.jsonl"))
    args = parser.parse_args()
    from record import append

    print(section(append(args.out, measure(args.samples))))


if __name__ == "__main__":
    main()
