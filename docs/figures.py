"""Makes the documentation's pictures from real runs of the presets:

    pip install -e ".[docs]" && npm ci --prefix tests/web && python docs/figures.py

Trains each preset it draws, in full (`kgan train --preset NAME`, into `--runs`; a run that
finished before is reused), then writes `docs/figures/`:

- `samples-PRESET.png`: each image preset's samples (`kgan generate EXPORT -n 64 --seed 0`; the
  conditional preset cycles the classes) and each 2-D preset's 2,500 over its modes;
- `moving-digits.gif`: 36 clips of the video preset, a column a class;
- `curves-digits.png`: the digits run's training curves, drawn from its `history.json`;
- `samplers-grid25.png`: grid25's samples drawn plainly, then chosen by the calibrated
  discriminator (rejection sampling, Metropolis-Hastings);
- `text-temperature.png`: the MLE and GAN temperature sweeps of `benchmarks/text.jsonl`;
- `demo.png`, `demo-interpolation.png` and `web.png`: the demo and the web page over the
  digits export, in Debian's Chromium;
- `names-curves.png`: the names preset's quality-diversity curves beside its maximum-likelihood
  start (`kgan evaluate RUN --picture`);
- `photos-superres.png`: input | bicubic | L1 U-Net | GAN | truth on the held-out photos (`kgan
  evaluate EXPORT --against L1_RUN --picture`, the L1 run trained with `--no-adversarial`).

`--only NAME ...` makes some of them (the names above without extension); `--jobs` trains that
many presets at once, one TensorFlow thread each.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIGURES = os.path.join(ROOT, "docs", "figures")
IMAGE_PRESETS = ("digits", "digits-conditional", "stacked-digits")
POINT_PRESETS = ("ring8", "grid25")
VIDEO_PRESETS = ("moving-digits",)
RESTORATION_PRESETS = ("photos-superres",)
TEXT_PRESETS = ("names",)
FIGURE_NAMES = (*(f"samples-{p}" for p in IMAGE_PRESETS + POINT_PRESETS), "moving-digits",
                "curves-digits", "samplers-grid25", "text-temperature", "names-curves",
                "demo", "web", *RESTORATION_PRESETS)


def preset_of(figure):
    """The preset a figure draws from, or None."""
    for preset in IMAGE_PRESETS + POINT_PRESETS + VIDEO_PRESETS + RESTORATION_PRESETS + TEXT_PRESETS:
        if figure in (f"samples-{preset}", f"curves-{preset}", f"samplers-{preset}", f"{preset}-curves", preset):
            return preset
    return "digits" if figure in ("demo", "web") else None


def files(figure):
    """The files in docs/figures/ that making `figure` writes."""
    if figure == "demo":
        return ["demo.png", "demo-interpolation.png"]
    return [figure + (".gif" if figure in VIDEO_PRESETS else ".png")]


def train(preset, runs, threads):
    """Trains `preset` into RUNS/PRESET with its export in RUNS/export/PRESET, unless done before."""
    run, export = os.path.join(runs, preset), os.path.join(runs, "export", preset)
    if os.path.isfile(os.path.join(export, "manifest.json")):
        return preset, 0.0
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **({"TF_NUM_INTRAOP_THREADS": "1"} if threads else {}))
    started = time.time()
    subprocess.run([sys.executable, "-m", "kgan", "train", "--preset", preset, "--out", run, "--export-dir", export,
                    "--quiet"], check=True, env=env)
    return preset, time.time() - started


def restoration(preset, runs, path):
    """The side-by-side picture of a restoration preset's GAN against its U-Net trained on L1 alone."""
    l1 = os.path.join(runs, f"{preset}-l1")
    if not os.path.isfile(os.path.join(l1, "model.keras")):
        kgan("train", "--preset", preset, "--no-adversarial", "--out", l1, "--no-export", "--quiet")
    kgan("evaluate", os.path.join(runs, "export", preset), "--against", l1, "--picture", path)


def kgan(*args):
    subprocess.run([sys.executable, "-m", "kgan", *args], check=True,
                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), stdout=subprocess.DEVNULL)


def curves(preset, runs, path):
    """Losses and the discriminator's mean scores per epoch, from the run's history.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(os.path.join(runs, preset, "history.json")) as handle:
        history = json.load(handle)
    epochs = history["epoch"]
    figure, (losses, scores) = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True)
    for key in ("d_loss", "g_loss"):
        losses.plot(epochs, history[key], label=key)
    for key in ("real_score", "fake_score"):
        if key in history:
            scores.plot(epochs, history[key], label=key)
    losses.set(xlabel="epoch", title=f"{preset}: losses")
    scores.set(xlabel="epoch", title="discriminator's mean logit")
    for axes in (losses, scores):
        axes.legend(frameon=False)
        axes.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def samplers(runs, path):
    """grid25's export sampled plainly, with DRS and with MH, over the modes' 3-std circles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from kgan.data import mixture_means, mixture_std
    from kgan.runtime.inference import GeneratorRuntime
    from kgan.runtime.metrics import mixture_mode_metrics

    runtime = GeneratorRuntime(os.path.join(runs, "export", "grid25"))
    means, std = mixture_means("grid25"), mixture_std("grid25")
    figure, panels = plt.subplots(1, 3, figsize=(10.5, 4.3), sharex=True, sharey=True, constrained_layout=True)
    for axes, (name, sampler) in zip(panels, (("plain", None), ("DRS", "drs"), ("Metropolis-Hastings", "mh"))):
        points = np.asarray(runtime.generate(2500, seed=0, sampler=sampler), np.float64).reshape(-1, 2)
        report = mixture_mode_metrics(points, means, std)
        for mean in means:
            axes.add_patch(plt.Circle(mean, 3 * std, fill=False, color="0.7", lw=0.8))
        axes.scatter(points[:, 0], points[:, 1], s=1.5, alpha=0.5, color="tab:blue")
        axes.set_title(f"{name}\n{report['modes']} modes, {100 * report['high_quality']:.1f} % high quality",
                       fontsize=10)
        axes.set_aspect("equal")
    figure.savefig(path, dpi=100)
    plt.close(figure)


def text_temperature(path):
    """NLL-oracle against NLL-test over the temperature sweeps, MLE and GAN, mean of the seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    with open(os.path.join(ROOT, "benchmarks", "text.jsonl")) as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    figure, axes = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    temperatures = sorted(rows[0]["mle_nll_oracle"], key=float)
    for model, colour in (("mle", "tab:orange"), ("gan", "tab:blue")):
        mean = {key: [np.mean([row[f"{model}_{key}"][t] for row in rows]) for t in temperatures]
                for key in ("nll_oracle", "nll_test")}
        axes.plot(mean["nll_test"], mean["nll_oracle"], "o-", color=colour, label=model.upper())
        for t, x, y in zip(temperatures, mean["nll_test"], mean["nll_oracle"]):
            axes.annotate(t, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    axes.set(xlabel="NLL-test (diversity: lower is better)", ylabel="NLL-oracle (quality: lower is better)",
             title=f"oracle, mean of {len(rows)} seeds, temperatures {temperatures[0]} to {temperatures[-1]}")
    axes.legend(frameon=False)
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def screenshots(runs, wanted):
    """The demo and the web page over the digits export, in Chromium."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from browser import CHROMIUM, CHROMIUM_ARGS, exercise_demo, serve_folder
    from playwright.sync_api import sync_playwright

    export = os.path.join(runs, "export", "digits")
    if "demo" in wanted:
        from kgan.demo import launch

        demo, url = launch(export, port=None, export_root=os.path.join(runs, "export"), block=False)
        try:
            exercise_demo(url, FIGURES)
        finally:
            demo.close()
    if "web" in wanted:
        from kgan.web import build_site

        with tempfile.TemporaryDirectory() as work:
            build_site(export, os.path.join(work, "site"),
                       ort_dir=os.path.join(ROOT, "tests", "web", "node_modules", "onnxruntime-web"))
            with serve_folder(work) as base, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1180, "height": 900})
                page.goto(base + "site/index.html")
                page.wait_for_function("() => window.kgan && kgan.timings.first_sample_ms !== undefined", timeout=120_000)
                page.fill("#count", "64")
                page.click("#generate")
                page.wait_for_function("() => kgan.last().feeds.z.dims[0] === 64", timeout=60_000)
                page.screenshot(path=os.path.join(FIGURES, "web.png"), full_page=True)
                browser.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=os.path.join(ROOT, "runs", "figures"),
                        help="where the presets train (a finished run is reused; default runs/figures)")
    parser.add_argument("--only", nargs="+", choices=FIGURE_NAMES, default=list(FIGURE_NAMES))
    parser.add_argument("--jobs", type=int, default=2, help="presets trained at once (default 2)")
    args = parser.parse_args(argv)
    os.makedirs(FIGURES, exist_ok=True)
    presets = sorted({preset_of(name) for name in args.only} - {None},
                     key=lambda p: -{"moving-digits": 9, "grid25": 6, "stacked-digits": 5, "ring8": 3}.get(p, 1))
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for preset, seconds in pool.map(lambda p: train(p, args.runs, args.jobs > 1), presets):
            print(f"{preset}: {'trained in %.0f s' % seconds if seconds else 'reused'}", flush=True)
    for name in args.only:
        preset, path = preset_of(name), os.path.join(FIGURES, name)
        export = os.path.join(args.runs, "export", preset or "")
        if name.startswith("samples-"):
            kgan("generate", export, "-n", "2500" if preset in POINT_PRESETS else "64", "--seed", "0",
                 "-o", path + ".png")
        elif name in VIDEO_PRESETS:
            kgan("generate", export, "-n", "36", "--seed", "0", "-o", path + ".gif")
        elif name.startswith("curves-"):
            curves(preset, args.runs, path + ".png")
        elif name == "samplers-grid25":
            samplers(args.runs, path + ".png")
        elif name == "text-temperature":
            text_temperature(path + ".png")
        elif name == "names-curves":
            kgan("evaluate", os.path.join(args.runs, preset), "--picture", path + ".png")
        elif name in RESTORATION_PRESETS:
            restoration(preset, args.runs, path + ".png")
        else:
            continue
        print("wrote", os.path.relpath(path, ROOT), flush=True)
    shots = {"demo", "web"} & set(args.only)
    if shots:
        screenshots(args.runs, shots)
        print("wrote", ", ".join(f"docs/figures/{file}" for name in sorted(shots) for file in files(name)), flush=True)


if __name__ == "__main__":
    main()
