"""`evaluate(source)`: sample quality of a trained run or an exported generator.

2-D mixtures get the mode metrics (modes, % high quality, reverse KL); image data sets
get FID, KID, improved precision / recall and density / coverage in the features of
a domain classifier, next to the floor (real training data against held-out data),
and the class accuracy of conditional generators; clips get frame FID, content
consistency and motion metrics; text gets BLEU and Self-BLEU (and NLL-oracle on the
oracle, novelty and uniqueness on names and text files) and, from a run that kept its
maximum-likelihood start, both models' quality-diversity curves over the sampling temperature
(`kgan.quality_diversity`); generators that restore images get
PSNR, SSIM and sharpness on held-out images (`kgan.restoration`).
"""

import json
import os

import numpy as np

from kgan.data import MIXTURES, load_arrays, mixture_means, mixture_std
from kgan.data.moving import moving_digits
from kgan.data.digits import digits, held_out_split
from kgan.data.sources import BUILTIN, MOVING
from kgan.data.text import decode, is_text_source, source_options, text_source
from kgan.errors import KganError
from kgan.run import MLE_START, load_mle_start, load_run
from kgan.features import DomainFeatures, InceptionFeatures, labelled_split
from kgan.mle import nll
from kgan.models.base import protocol
from kgan.presets import PRESETS
from kgan.quality_diversity import draw, quality_diversity
from kgan.restoration import evaluate_restoration
from kgan.runtime.images import atomic_write_bytes
from kgan.runtime.inference import GeneratorRuntime
from kgan.runtime.metrics import (density_coverage, frechet_distance, kernel_distance, mixture_mode_metrics,
                                  precision_recall)
from kgan.runtime.metrics.text import bleu, novelty, self_bleu, uniqueness
from kgan.runtime.metrics.video import average_content_distance, content_consistency, motion_distance
from kgan.runtime.samplers import get_sampler
from kgan.runtime.samples import get_kind
from kgan.runtime.text import split_tokens

__all__ = ["evaluate", "format_report", "REPORTS"]

# Neighbours of the k-NN metrics: improved precision / recall (Kynkäänniemi et al. use 3)
# and density / coverage (Naeem et al. use 5). Each set needs more samples than k.
PRECISION_RECALL_K = 3
DENSITY_COVERAGE_K = 5


def _sampler(source, sampler=None):
    """`(sample(n, seed, labels) -> float array, facts dict)` for a run dir or an ONNX model; with a
    `kgan.runtime.samplers` sampler, its choices, and `facts["sampling"]` adds up what they cost."""
    path = os.fspath(source)
    if path.endswith(".onnx") or os.path.isfile(os.path.join(path, "generator.onnx")):
        runtime = GeneratorRuntime(path)
        facts = {
            "preset": runtime.metadata.get("kgan.preset"),
            "num_classes": runtime.num_classes,
            "dataset": (runtime.manifest or {}).get("dataset"),
            "sample_spec": runtime.sample_spec,
        }
        plain = lambda n, seed, labels=None: runtime.sample(n, seed=seed, labels=labels)  # noqa: E731

        def chosen(n, seed, label):
            out = runtime.generate_with(sampler, n, seed=seed, labels=label)
            return get_kind(runtime.sample_spec).from_display(out["samples"], runtime.sample_spec), out.report
    else:
        gan, config = load_run(path)
        facts = {"preset": config.get("preset"), "num_classes": gan.num_classes, "dataset": config.get("dataset"),
                 "sample_spec": gan.sample_spec}
        if protocol(gan.sampling_generator).log_probs is not None:  # a language model: its likelihood of held-out text

            facts["nll"] = lambda sequences: nll(gan.sampling_generator, sequences)
            start = os.path.join(path, MLE_START)
            if os.path.isfile(start):  # the run's maximum-likelihood start: the curves compare the two
                facts["generator"] = gan.sampling_generator
                facts["mle_generator"] = lambda: load_mle_start(path)
        plain = lambda n, seed, labels=None: gan.generate(n, seed=seed, labels=labels)  # noqa: E731

        def chosen(n, seed, label):
            out = gan.generate_with(sampler, n, seed=seed, labels=label)
            return out["samples"], out.report
    if sampler is None:
        return plain, facts
    facts["sampling"] = cost = {"sampler": repr(sampler), "samples": 0, "proposals": 0, "seconds": 0.0, "accepted": 0.0}

    def sample(n, seed, labels=None):
        if labels is None or not np.ndim(labels):
            parts = [(np.arange(n), chosen(n, seed, labels))]
        else:  # one call per label: a sampler takes one label at a time
            labels = np.asarray(labels)
            parts = [(np.flatnonzero(labels == v), chosen(int((labels == v).sum()), seed, int(v))) for v in np.unique(labels)]
        out = None
        for rows, (samples, report) in parts:
            out = np.empty((n, *samples.shape[1:]), samples.dtype) if out is None else out
            out[rows] = samples
            cost["samples"] += len(rows)
            cost["proposals"] += report["proposals"]
            cost["seconds"] += report["seconds"]
            cost["accepted"] += report["acceptance_rate"] * report["proposals"]
        cost["acceptance_rate"] = cost["accepted"] / cost["proposals"]  # the samplers' own, weighted by proposals
        cost["samples_per_second"] = cost["samples"] / max(cost["seconds"], 1e-9)
        return out

    return sample, facts


def _dataset_for(facts, dataset):
    if dataset:
        return dataset
    if facts.get("dataset"):
        return facts["dataset"]
    preset = facts.get("preset")

    if preset in PRESETS:
        return PRESETS[preset].dataset
    raise KganError("cannot tell which data set this model was trained on: pass --dataset NAME")


def evaluate(source, dataset=None, samples=None, seed=0, features_root=None, inception_weights=None, sampler=None,
             against=None, picture=None):
    """Scores a run directory or an exported generator against its data set.

    Args:
        source: a run directory (`model.keras`), an export folder or a generator `.onnx`.
        dataset: the data set to compare with; default: the one the model was trained on.
        samples: generated samples (default 2,500 for 2-D mixtures, 1,000 for images).
        seed: latent seed.
        features_root: cache folder of the domain classifiers.
        inception_weights: score images in InceptionV3 features instead (a local weights
            file, or "imagenet" to download them), as published FIDs are.
        sampler: score what a `kgan.runtime.samplers` sampler chooses (`"drs"`, `"mh:k=32"`, ...);
            the report's `sampling` says what it cost.
        against: a model that restores images: a second one of its task scored beside it
            (`kgan.restoration.evaluate_restoration`).
        picture: a model that restores images: write its side-by-side picture here; a text run with its
            maximum-likelihood start: both quality-diversity curves.

    Returns:
        a dict of metrics (see the module docstring).
    """

    sample, facts = _sampler(source, get_sampler(sampler))
    if facts["sample_spec"].kind == "restored":  # a generator of images from images: PSNR, SSIM, sharpness
        if sampler is not None:
            raise KganError("a model that restores images has nothing for a sampler to choose among: drop --sampler")
        return evaluate_restoration(source, dataset, seed=seed, against=against, picture=picture)
    if against is not None:
        raise KganError("--against compares models that restore images: drop it")
    if picture is not None and "mle_generator" not in facts:
        raise KganError("--picture draws models that restore images, or a text run's curves beside its maximum-likelihood "
                        "start (a run trained with --pretrain): drop it")
    facts["picture"] = picture
    dataset = _dataset_for(facts, dataset)
    if samples is not None and int(samples) <= 1:
        raise KganError(f"--samples must be at least 2, got {samples}")

    if dataset not in BUILTIN and not os.path.exists(dataset):
        raise KganError(f"unknown data set {dataset!r}: choose one of {', '.join(BUILTIN)}, or give a path")

    spec = facts["sample_spec"]
    holds = ("vector" if dataset in MIXTURES else "video" if dataset in MOVING else
             "tokens" if is_text_source(dataset) else "image")
    if spec.kind != holds and (dataset in BUILTIN or spec.kind != "video"):
        raise KganError(f"{dataset} holds {get_kind(holds).noun()} but the model generates {get_kind(spec).noun()}: "
                        "pass the right --dataset")
    if spec.kind not in REPORTS:
        raise KganError(f"kgan evaluate has no metrics for {spec.kind} samples yet")
    report = {"source": os.fspath(source), "dataset": dataset, "seed": seed}
    report.update(REPORTS[spec.kind](sample, dataset, samples, seed, facts, features_root=features_root,
                                     inception_weights=inception_weights))
    if "sampling" in facts:
        report["sampling"] = facts["sampling"]
    return report


def mixture_report(sample, dataset, samples, seed, facts, features_root=None, inception_weights=None):
    """Modes captured (of `num_modes`), % high quality and reverse KL of 2-D samples."""
    if inception_weights:
        raise KganError(f"{dataset} is scored by its modes, not in InceptionV3 features: leave out --inception-weights")
    n = int(samples or 2500)
    report = dict(samples=n, **mixture_mode_metrics(sample(n, seed), mixture_means(dataset), mixture_std(dataset)))
    report["num_modes"] = len(mixture_means(dataset))
    return report


def image_report(sample, dataset, samples, seed, facts, features_root=None, inception_weights=None):
    """FID, KID, precision / recall, density / coverage (and class accuracy) of images; modes of stacked digits."""
    if dataset == "stacked-digits":
        if inception_weights:
            raise KganError(f"{dataset} is scored by its modes, not in InceptionV3 features: leave out "
                            "--inception-weights")
        n = int(samples or 10_000)
        return dict(samples=n, **stacked_mode_metrics(sample(n, seed), DomainFeatures("digits", root=features_root)))
    if inception_weights:  # no domain classifier to train: only the data set's split is needed

        extractor, features = InceptionFeatures(inception_weights), "InceptionV3 pool3"
        train_x, _, held_x, _, _ = labelled_split(dataset)
    else:
        extractor = DomainFeatures(dataset, root=features_root)
        features = f"domain classifier ({extractor.held_out_accuracy:.3f} held-out accuracy)"
        (train_x, _), (held_x, _) = extractor.train, extractor.held_out
    n = int(samples or 1000)
    if n <= DENSITY_COVERAGE_K:
        raise KganError(f"--samples must be more than {DENSITY_COVERAGE_K} for images (density and coverage use "
                        f"{DENSITY_COVERAGE_K} nearest neighbours), got {n}; 1,000 is the default")
    labels = None
    if facts["num_classes"]:
        labels = np.arange(n) % facts["num_classes"]
    generated = sample(n, seed, labels)
    real_features = extractor(held_x)
    fake_features = extractor(generated)
    floor_features = extractor(train_x[: max(len(held_x), min(n, len(train_x)))])
    kid, kid_std = kernel_distance(real_features, fake_features, subset_size=min(1000, len(held_x)))
    report = dict(
        samples=n,
        real_held_out=len(held_x),
        features=features,
        fid=frechet_distance(real_features, fake_features),
        fid_floor=frechet_distance(real_features, floor_features),
        kid=kid,
        kid_std=kid_std,
        **precision_recall(real_features, fake_features, k=PRECISION_RECALL_K),
        **density_coverage(real_features, fake_features, k=DENSITY_COVERAGE_K),
    )
    if labels is not None:
        judge = extractor if isinstance(extractor, DomainFeatures) else DomainFeatures(dataset, root=features_root)
        report["class_accuracy"] = float(np.mean(judge.predict(generated) == labels))
    return report


# Moving-digit clips the frame classifier learns from (every 4th frame of each), and its cache's name.
FRAME_CLASSIFIER_CLIPS = 2000
FRAME_STRIDE = 4


def moving_digit_frames(frames, size, seed=0):
    """The frame classifier's data and the real clips of the video floors, from a fixed split
    of the embedded digits: `(split, train_digits, held_digits)` where `split` is
    `DomainFeatures`' `(x_train, y_train, x_held, y_held, name)` of single frames, and each
    `*_digits` is `(images, labels)` of 8x8 digits."""
    x_train, y_train, x_held, y_held = held_out_split(*digits(), seed=seed)

    def frames_of(images, labels, clips, clip_seed):
        x, y, _ = moving_digits(clips, frames=frames, size=size, seed=clip_seed, images=images, labels=labels)
        x = x[:, ::FRAME_STRIDE]
        return x.reshape(-1, *x.shape[2:]), np.repeat(y, x.shape[1])

    split = (*frames_of(x_train, y_train, FRAME_CLASSIFIER_CLIPS, 100),
             *frames_of(x_held, y_held, FRAME_CLASSIFIER_CLIPS // 4, 101), f"moving-digit-frames-{size}px")
    return split, (x_train, y_train), (x_held, y_held)


def video_report(sample, dataset, samples, seed, facts, features_root=None, inception_weights=None):
    """Video metrics beside their real-data floors: frame FID, content consistency and ACD in a
    frame classifier's features (moving digits), and the motion distance (any clips)."""
    if inception_weights:
        raise KganError("clips are scored in a frame classifier's features, not InceptionV3's: leave out "
                        "--inception-weights")
    spec = facts["sample_spec"]
    frames, size = spec.shape[0], spec.shape[1]
    n = int(samples or 500)
    labels = np.arange(n) % facts["num_classes"] if facts["num_classes"] else None
    generated = sample(n, seed, labels)
    if dataset != "moving-digits":  # no classifier of its content: the motion alone, against half the clips each
        x, _, kind, name = load_arrays(dataset, image_size=size, frames=frames, seed=seed,
                                       num_examples=2 * n if dataset in MOVING else None)
        if kind != "video" or x.shape[1:] != tuple(spec.shape):
            raise KganError(f"{name} holds samples of shape {list(x.shape[1:])} but the model generates clips of "
                            f"{list(spec.shape)}: pass the data set it was trained on (--dataset)")
        order = np.random.default_rng(seed).permutation(len(x))
        held, floor = x[order[: len(x) // 2]], x[order[len(x) // 2:]]
        return dict(samples=n, real_held_out=len(held), motion_w1=motion_distance(held, generated),
                    motion_w1_floor=motion_distance(held, floor))
    split, (train_x, train_y), (held_x, held_y) = moving_digit_frames(frames, size)
    extractor = DomainFeatures(split[-1], root=features_root, split=split, pooled=True)
    held, _, _ = moving_digits(n, frames=frames, size=size, seed=seed + 202, images=held_x, labels=held_y)
    floor, _, _ = moving_digits(n, frames=frames, size=size, seed=seed + 303, images=train_x, labels=train_y)

    def per_frame(function, clips):
        out = np.asarray(function(clips.reshape(-1, *clips.shape[2:])))
        return out.reshape(len(clips), frames, *out.shape[1:])

    features = {name: per_frame(extractor, clips) for name, clips in
                (("held", held), ("floor", floor), ("generated", generated))}
    flat = {name: f.reshape(-1, f.shape[-1]) for name, f in features.items()}
    probabilities = {name: per_frame(extractor.probabilities, clips) for name, clips in
                     (("floor", floor), ("generated", generated))}
    report = dict(
        samples=n,
        real_held_out=n,
        features=f"frame classifier ({extractor.held_out_accuracy:.3f} held-out accuracy)",
        frame_fid=frechet_distance(flat["held"], flat["generated"]),
        frame_fid_floor=frechet_distance(flat["held"], flat["floor"]),
        content_consistency=content_consistency(probabilities["generated"]),
        content_consistency_floor=content_consistency(probabilities["floor"]),
        acd=average_content_distance(features["generated"]),
        acd_floor=average_content_distance(features["floor"]),
        motion_w1=motion_distance(held, generated),
        motion_w1_floor=motion_distance(held, floor),
    )
    if labels is not None:
        report["class_accuracy"] = float(np.mean(probabilities["generated"].argmax(-1) == labels[:, None]))
    return report


def stacked_mode_metrics(images, digit_classifier):
    """Modes (of 1,000) and KL to uniform for stacked digits (VEEGAN / PacGAN Table 2).

    Each channel is read by a digit classifier; the mode is the three-digit number.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise KganError(f"stacked digits are [n, h, w, 3] images, got {images.shape}")
    digits = [digit_classifier.predict(images[..., c : c + 1]) for c in range(3)]
    modes = 100 * digits[0] + 10 * digits[1] + digits[2]
    frequencies = np.bincount(modes, minlength=1000) / len(modes)
    nonzero = frequencies > 0
    return {
        "modes": int(nonzero.sum()),
        "num_modes": 1000,
        "kl": float(np.sum(frequencies[nonzero] * np.log(frequencies[nonzero] * 1000))),
    }


# Texts BLEU and Self-BLEU read (nltk's sentence BLEU costs 30 to 60 ms a text against 1,000 references).
BLEU_SAMPLES, BLEU_REFERENCES = 200, 1000


def text_report(sample, dataset, samples, seed, facts, features_root=None, inception_weights=None):
    """BLEU-2..5 of the samples against held-out text and their Self-BLEU, each beside its real
    floor (training texts in their place); NLL-oracle on the oracle; the model's NLL-test (from a
    run directory); novelty and uniqueness of text that ends (names, text files); and the
    quality-diversity curves of a run that kept its maximum-likelihood start."""
    if inception_weights:
        raise KganError(f"{dataset} is text: leave out --inception-weights")
    spec = facts["sample_spec"]
    text = text_source(dataset, **source_options(spec))
    if tuple(spec.vocabulary) != tuple(text.vocabulary) or spec.shape[0] != text.train.shape[1]:
        raise KganError(f"the model writes another vocabulary or length than {dataset}'s: pass the data set it "
                        "trained on (--dataset)")
    n = int(samples or 1000)
    tokens = np.asarray(sample(n, seed))
    report = {"samples": n}
    if text.oracle is not None:
        report["nll_oracle"] = text.oracle.nll(tokens)
        report["nll_oracle_floor"] = text.oracle.nll(text.held_out)  # the oracle's own entropy a token
    if "nll" in facts:  # a run's language model: its likelihood of the held-out text
        report["nll_test"] = facts["nll"](text.held_out)

    def texts(rows):
        return decode(rows, spec.vocabulary, spec.separator or "")

    def token_lists(rows):
        return [split_tokens(t, spec.separator) for t in texts(rows)]

    references = token_lists(text.held_out[:BLEU_REFERENCES])
    generated, real = token_lists(tokens[:BLEU_SAMPLES]), token_lists(text.train[:BLEU_SAMPLES])
    for name, scores, floors in (("bleu", bleu(generated, references), bleu(real, references)),
                                 ("self_bleu", self_bleu(generated), self_bleu(real))):
        report.update({f"{name}_{n}": v for n, v in scores.items()})
        report.update({f"{name}_{n}_floor": v for n, v in floors.items()})
    if spec.vocabulary[0] == "":  # text that ends: names, text files
        shown = texts(tokens)
        report["novelty"] = novelty(shown, texts(text.train))
        report["uniqueness"] = uniqueness(shown)
        report["uniqueness_floor"] = uniqueness(texts(text.train[:n]))
    if "mle_generator" in facts:
        report["curves"] = quality_diversity(facts["generator"], facts["mle_generator"](), text, seed=seed)
        if facts.get("picture"):
            draw(report["curves"], facts["picture"])
            report["picture"] = facts["picture"]
    return report


def format_report(report):
    """The report as an aligned two-column table; modes read "captured of total"."""
    shown = {}
    for key, value in report.items():
        if key == "num_modes" and "modes" in report:
            shown["modes"] = f"{report['modes']} of {value}"
        elif key == "sampling":
            shown["sampler"] = (f"{value['sampler']}: {value['proposals']} proposals for {value['samples']} samples "
                                f"(acceptance {value['acceptance_rate']:.3f}), {value['samples_per_second']:.0f} "
                                "samples/s")
        elif key == "curves":
            shown.update(_curve_lines(value))
        elif key == "psnr_gain_per_image":
            shown[key] = ", ".join(f"{name} {gain:+.2f} dB" for name, gain in value.items())
        elif key != "modes" or "num_modes" not in report:
            shown[key] = f"{value:.4f}" if isinstance(value, float) else str(value)
    width = max(len(k) for k in shown)
    return "\n".join(f"{key:<{width}}  {value}" for key, value in shown.items())


def _curve_lines(curves):
    quality = curves["quality"]
    lines = {f"{model} at temperature": ", ".join(f"{p['temperature']:g}: {quality} {p['quality']:.3f} NLL-test "
                                                   f"{p['nll_test']:.3f}" for p in curves[model])
             for model in ("gan", "mle")}
    if curves["gap"] is None:
        lines["curve_gap"] = "none: the curves reach no NLL-test in common"
    else:
        low, high = curves["overlap"]
        lines["curve_gap"] = (f"{curves['gap']:+.3f} {curves['gap_unit']} at equal NLL-test ({low:.3f} to {high:.3f}; "
                              f"least {curves['worst']:+.3f}; positive: the GAN is ahead)")
    return lines


def write_json(report, path):
    atomic_write_bytes(path, json.dumps(report, indent=2).encode())


# The report of each kind of sample (`kgan.runtime.samples`): a new kind registers its own here.
REPORTS = {"image": image_report, "vector": mixture_report, "video": video_report, "tokens": text_report}
