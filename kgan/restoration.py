"""`evaluate_restoration(source)`: how well a generator that takes an image restores held-out images.

Each held-out image (whole) is degraded by the model's task and restored; the report gives PSNR and
SSIM (scikit-image's, on [0, 1]) of the model and of the task's baseline (bicubic upsampling, the
noisy input, the masked input), a sharpness figure for each (the high-frequency energy, the
Laplacian's, as a ratio to the truth's: adversarial training trades a little PSNR for detail,
which brings it toward 1), and for digits our digit classifier's accuracy on restored, degraded
and real held-out digits. `against` scores a second model of the same task beside it (the U-Net
trained on L1 alone), and `picture` writes input, baseline, the second model, the model and the
truth side by side.
"""

import os

import numpy as np

from kgan.data.pairs import clean_images, held_out_count, held_out_names, paired_images
from kgan.errors import KganError
from kgan.features import DomainFeatures
from kgan.run import load_run
from kgan.runtime import images
from kgan.runtime.inference import GeneratorRuntime
from kgan.runtime.restore import Task, to_unit

__all__ = ["evaluate_restoration", "restorer", "sharpness"]


def restorer(source):
    """`(restore(image, mask) -> float32 images, facts)` for a run directory or an export of a
    generator that takes an image; None when `source` is another kind of model."""
    path = os.fspath(source)
    if path.endswith(".onnx") or os.path.isfile(os.path.join(path, "generator.onnx")):
        runtime = GeneratorRuntime(path)
        if not runtime.takes_image:
            return None
        facts = {"task": runtime.task, "dataset": (runtime.manifest or {}).get("dataset"),
                 "preset": runtime.metadata.get("kgan.preset")}
        return lambda image, mask=None: runtime.restore(image, mask), facts
    gan, config = load_run(path)
    if not hasattr(gan, "restore"):
        return None
    facts = {"task": gan.task, "dataset": config.get("dataset"), "preset": config.get("preset")}
    return lambda image, mask=None: gan.restore(image, mask), facts


def sharpness(restored, truth):
    """The restored images' high-frequency energy (the mean squared Laplacian of the luminance) as a
    ratio to the truth's, averaged over images: 1 is as sharp as the truth, below 1 blurrier."""
    from scipy.ndimage import laplace

    ratios = []
    for a, b in zip(restored, truth):
        energy = [np.mean(laplace(to_unit(x).mean(axis=-1)) ** 2) for x in (a, b)]
        ratios.append(energy[0] / max(energy[1], 1e-12))
    return float(np.mean(ratios))


def _scores(restored, truth):
    from skimage.metrics import structural_similarity

    psnr, ssim = [], []
    for a, b in zip(restored, truth):
        psnr.append(_psnr(a, b))
        a, b = to_unit(a), to_unit(b)
        ssim.append(structural_similarity(b, a, data_range=1.0, channel_axis=-1, win_size=min(7, *b.shape[:2]) | 1))
    return float(np.mean(psnr)), float(np.mean(ssim))


def _psnr(image, truth):
    from skimage.metrics import peak_signal_noise_ratio

    return float(peak_signal_noise_ratio(to_unit(truth), to_unit(image), data_range=1.0))


def _held_out(dataset, task):
    if task.name == "paired":
        inputs, targets = paired_images(dataset)
        keep = held_out_count(len(targets), paired=True)
        return targets[-keep:], [x[None] for x in inputs[-keep:]]
    truths = clean_images(dataset, "held_out")
    if not truths:
        raise KganError(f"{dataset} has no held-out images to restore")
    f = task.factor
    truths = [t[: t.shape[0] // f * f, : t.shape[1] // f * f] for t in truths]
    return truths, None


def evaluate_restoration(source, dataset=None, seed=0, against=None, picture=None, batch=64):
    """Scores a generator that takes an image on the held-out images of its data set.

    Args:
        source: a run directory or an export of such a generator.
        dataset: the clean images (default: the model's data set).
        seed: seed of the degradations (noise, rectangles).
        against: a second model of the same task, scored beside it (`<metric>_against`).
        picture: write a PNG of input | baseline | `against` | model | truth, a row an image.
        batch: images restored at once when they share a size (digits).

    Returns:
        a dict: `psnr`, `ssim`, `sharpness` for the model, `baseline_*` for the task's baseline,
        `psnr_gain_per_image` (the model's PSNR less the baseline's, by image name; not for digits),
        `*_against` for `against`, and for digits `accuracy`, `baseline_accuracy`, `real_accuracy`.
    """
    found = restorer(source)
    if found is None:
        raise KganError(f"{source} does not take an image")
    restore, facts = found
    task = facts["task"]
    dataset = dataset or facts.get("dataset")
    if not dataset:
        raise KganError("cannot tell which images this model restores: pass --dataset")
    other = None
    if against is not None:
        other = restorer(against)
        if other is None or str(other[1]["task"]) != str(task):
            raise KganError(f"{against} is not a model of the {task} task: give one trained on the same task")
    truths, given_inputs = _held_out(dataset, task)
    rng = np.random.default_rng(seed)
    inputs = given_inputs or [task.degrade(t[None], rng) for t in truths]
    same_size = len({t.shape for t in truths}) == 1

    def run(fn):
        if same_size and given_inputs is None:  # one batch at a time
            joined = {k: np.concatenate([x[k] for x in inputs]) for k in inputs[0]}
            out = [fn(joined["image"][i : i + batch], None if "mask" not in joined else joined["mask"][i : i + batch])
                   for i in range(0, len(truths), batch)]
            return list(np.concatenate(out))
        return [fn(x["image"], x.get("mask"))[0] for x in inputs]

    restored = run(restore)
    baseline = [task.baseline(x, *t.shape[:2])[0] for x, t in zip(inputs, truths)]
    report = {"source": os.fspath(source), "dataset": dataset, "task": str(task), "images": len(truths), "seed": seed}
    report["psnr"], report["ssim"] = _scores(restored, truths)
    report["sharpness"] = sharpness(restored, truths)
    report["baseline_psnr"], report["baseline_ssim"] = _scores(baseline, truths)
    report["baseline_sharpness"] = sharpness(baseline, truths)
    names = held_out_names(dataset, paired=task.name == "paired")
    if names:  # which images a model helps and which it does not (a blurred truth loses to any sharpening)
        report["psnr_gain_per_image"] = {name: _psnr(a, t) - _psnr(b, t) for name, a, b, t in
                                         zip(names, restored, baseline, truths)}
    columns = [baseline]
    if other is not None:
        others = run(other[0])
        report["against"] = os.fspath(against)
        report["psnr_against"], report["ssim_against"] = _scores(others, truths)
        report["sharpness_against"] = sharpness(others, truths)
        columns.append(others)
    if dataset == "digits":
        classifier = DomainFeatures("digits")
        labels = classifier.held_out[1]
        for name, shown in (("accuracy", restored), ("baseline_accuracy", baseline), ("real_accuracy", truths)):
            report[name] = float(np.mean(classifier.predict(np.stack(shown)) == labels))
        if other is not None:
            report["accuracy_against"] = float(np.mean(classifier.predict(np.stack(columns[1])) == labels))
    if picture:
        _write_picture(picture, inputs, columns + [restored, truths], task)
        report["picture"] = picture
    return report


def _write_picture(path, inputs, columns, task, rows=8, side=128):
    """input | baseline | (against) | model | truth: a centre crop of `side` pixels of each of `rows` images."""
    tiles = []
    for i in range(min(rows, len(columns[-1]))):
        truth = columns[-1][i]
        h, w = truth.shape[:2]
        s = min(side, h, w)
        top, left = (h - s) // 2, (w - s) // 2
        shown = np.repeat(np.repeat(inputs[i]["image"][0], task.factor, 0), task.factor, 1)  # the input, nearest
        for image in [shown] + [c[i] for c in columns]:
            tiles.append(image[top : top + s, left : left + s])
    grid = images.make_grid(images.to_uint8(np.stack(tiles)), columns=len(columns) + 1,
                            scale=4 if tiles[0].shape[0] < 32 else 1)
    images.save_png(grid[..., 0] if grid.shape[-1] == 1 else grid, path)
