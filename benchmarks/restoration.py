"""Restoring held-out images: each restoration preset as a GAN and as the same U-Net on L1 alone.

    python benchmarks/restoration.py [--presets photos-superres photos-denoise digits-inpaint]
                                     [--variants gan l1] [--seed 0] [--pictures DIR]
                                     [--out benchmarks/restoration.jsonl]

For each preset two runs train from scratch with the same steps, batch and crops, one at a time
(the training time is the preset's on this machine, pretraining included): `gan` is `kgan train --preset P`, `l1` is
`kgan train --preset P --no-adversarial` (the generator on its L1 term alone, no discriminator).
Each is scored by `kgan evaluate` on the preset's held-out images, whole (the 4 held-out photos,
or the 359 held-out digits): PSNR, SSIM and sharpness of the model and of the task's baseline
(bicubic upsampling, the noisy input, the masked input), the PSNR gain of each held-out photo, and
for digits the digit classifier's accuracy on restored, masked and real digits. `--pictures DIR`
also writes, for each preset, input | baseline | L1 U-Net | GAN | truth (`kgan evaluate
--against --picture`). Every finished run is appended to `--out`; the documentation's Benchmarks
page draws its table from the file.
"""

import argparse
import json
import os
import tempfile

from record import provenance, rows  # benchmarks/record.py

PRESETS = ("photos-superres", "photos-denoise", "digits-inpaint")
VARIANTS = ("gan", "l1")
KEYS = ("psnr", "ssim", "sharpness", "baseline_psnr", "baseline_ssim", "baseline_sharpness", "accuracy",
        "baseline_accuracy", "real_accuracy", "images", "task", "psnr_gain_per_image")


def run_one(preset, variant, seed, folder):
    """Trains one run into `folder` and scores it; returns its row."""
    import kgan
    from kgan.evaluate import evaluate

    config = kgan.get_preset(preset).replace(seed=seed, out=os.path.join(folder, f"{preset}-{variant}"), export=False,
                                             adversarial=variant == "gan")
    result = kgan.train(config, verbose=0, log=lambda *_: None)
    report = evaluate(config.out, seed=0)
    return {"preset": preset, "variant": variant, "seed": seed,
            "seconds": round(result.seconds + result.pretrain_seconds, 1),
            "pretrain_steps": config.pretrain_epochs * config.steps_per_epoch,
            "steps": int(result.gan.g_optimizer.iterations), "batch_size": config.batch_size,
            "patch_size": config.patch_size, "params": int(result.gan.generator.count_params()),
            **{k: report[k] for k in KEYS if k in report}}


def table(rows):
    """The Markdown table: a line a preset, baseline | L1 U-Net | GAN (PSNR dB / SSIM / sharpness)."""
    lines = ["| preset (task) | baseline: PSNR / SSIM / sharpness | L1 U-Net | GAN (pix2pix) | GAN − baseline PSNR | "
             "digits accuracy: baseline / L1 / GAN / real | train time (GAN, L1) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for preset in PRESETS:
        runs = {r["variant"]: r for r in rows if r["preset"] == preset}
        if "gan" not in runs:
            continue
        gan, l1 = runs["gan"], runs.get("l1")

        def cells(r, prefix=""):
            return f"{r[prefix + 'psnr']:.2f} / {r[prefix + 'ssim']:.3f} / {r[prefix + 'sharpness']:.3f}"

        accuracy = ""
        if "accuracy" in gan:
            accuracy = " / ".join(f"{100 * x:.1f} %" for x in (gan["baseline_accuracy"], l1["accuracy"] if l1 else
                                                               float("nan"), gan["accuracy"], gan["real_accuracy"]))
        times = f"{gan['seconds']:.0f} s, {l1['seconds']:.0f} s" if l1 else f"{gan['seconds']:.0f} s"
        lines.append(f"| `{preset}` ({gan['task']}) | {cells(gan, 'baseline_')} | {cells(l1) if l1 else ''} | "
                     f"{cells(gan)} | {gan['psnr'] - gan['baseline_psnr']:+.2f} dB | {accuracy} | {times} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pictures", metavar="DIR", help="also write input | baseline | L1 | GAN | truth pictures here")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "restoration.jsonl"))
    args = parser.parse_args()
    done = rows(args.out) if os.path.isfile(args.out) else []
    with tempfile.TemporaryDirectory() as folder:
        for preset in args.presets:
            for variant in args.variants:
                row = {**provenance(), **run_one(preset, variant, args.seed, folder)}
                done.append(row)
                with open(args.out, "a") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
            if args.pictures and set(args.variants) == set(VARIANTS):
                from kgan.evaluate import evaluate

                os.makedirs(args.pictures, exist_ok=True)
                evaluate(os.path.join(folder, f"{preset}-gan"), against=os.path.join(folder, f"{preset}-l1"),
                         picture=os.path.join(args.pictures, f"{preset}.png"))
    latest = {}
    for row in done:
        latest[row["preset"], row["variant"]] = row
    print(table(list(latest.values())))


if __name__ == "__main__":
    main()
