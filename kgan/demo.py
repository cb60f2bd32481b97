"""The Gradio demo: sample, walk and score an exported generator in the browser.

Built on `kgan.runtime.inference` only (numpy, Pillow, onnxruntime, gradio): it never imports
TensorFlow or Keras. Works offline: analytics off, system fonts, no share link.

    kgan demo [--model EXPORT_DIR|MODEL.onnx] [--host 127.0.0.1] [--port 7860]

The Restore tab serves models that take an image (`/restore(image, model, degrade=False, seed=0)`).
The Generate button is also an API endpoint, `/generate(seed, count, label=-1,
truncation=1.0, model=<first>, oversample=1, member="mixture")`, returning the gallery
(`member`: one member of a mixture by its index, or "mixture" for members drawn by weight);
for text models `/texts` (same arguments) returns the samples as text, one a line.
"""

import glob
import math
import os
import tempfile
import threading

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from kgan.errors import KganError  # noqa: E402
from kgan.runtime import images  # noqa: E402
from kgan.runtime.inference import GeneratorRuntime  # noqa: E402
from kgan.runtime.samplers import TopK, get_sampler  # noqa: E402
from kgan.runtime.samples import get_kind  # noqa: E402

__all__ = ["find_models", "build_demo", "launch", "MAX_COUNT", "VECTOR_SAMPLES"]

MAX_COUNT = 64
MAX_OVERSAMPLE = 8
# The demo's samplers: topk with the oversampling slider's k, the others with their defaults.
SAMPLER_CHOICES = ("topk", "drs", "mh", "langevin")
VECTOR_SAMPLES = 2500
WALK_POINTS = 500
NO_MODEL = (
    "No exported model found. Make one with `kgan train` (it exports to export/<preset>/) "
    "or `kgan export RUN_DIR`, then restart the demo or pass --model."
)
CSS = ".pixelated img { image-rendering: pixelated; }"


def find_models(export_root="export", extra=None):
    """Paths of `export/*/generator.onnx`, plus `extra` (a .onnx file or export folder)."""
    found = sorted(glob.glob(os.path.join(export_root, "*", "generator.onnx")))
    if extra:
        path = os.path.join(extra, "generator.onnx") if os.path.isdir(extra) else extra
        if not os.path.isfile(path):
            raise KganError(f"--model {extra}: no such generator .onnx file or export folder")
        path = os.path.normpath(path)
        found = [path] + [p for p in found if os.path.abspath(p) != os.path.abspath(path)]
    return found


def check_models(paths):
    """Loads each model once, so a file that cannot serve is refused before the app starts.

    Raises:
        KganError: naming the first model that does not load as a kgan generator.
    """
    for path in paths:
        GeneratorRuntime(path)


class _Runtimes:
    """One GeneratorRuntime per model file, reloaded when the file changes."""

    def __init__(self):
        self._cache = {}
        self._lock = threading.Lock()

    def get(self, path):
        import gradio as gr

        if not path:
            raise gr.Error(NO_MODEL)
        if not os.path.isfile(path):
            raise gr.Error(f"The model file {path} no longer exists: export it again or pick another model.")
        stamp = os.stat(path).st_mtime_ns
        with self._lock:
            cached = self._cache.get(path)
            if cached and cached[0] == stamp:
                return cached[1]
        try:
            runtime = GeneratorRuntime(path)
        except KganError as error:
            raise gr.Error(str(error)) from None
        with self._lock:
            self._cache[path] = (stamp, runtime)
        return runtime


def _int(name, value, low, high):
    import gradio as gr

    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name} must be a whole number, got {value!r}") from None
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise gr.Error(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(number)


def _labels(runtime, label):
    import gradio as gr

    label = _int("label", -1 if label is None else label, -1, 10**6)
    if label == -1:
        return None
    if not runtime.conditional:
        raise gr.Error("This model is unconditional: leave the label at -1 (no class).")
    if label >= runtime.num_classes:
        raise gr.Error(f"label must be -1 (every class in turn) or 0 to {runtime.num_classes - 1}, got {label}")
    return label


def _member(runtime, member):
    """`{"member": k}` for one member of a mixture, `{}` for "mixture" (members drawn by weight)."""
    import gradio as gr

    if member in (None, "", "mixture"):
        return {}
    if "member" not in runtime.prior.names:
        raise gr.Error("This model is not a mixture: leave member at 'mixture'.")
    count = runtime.prior["member"].num_members
    return {"member": _int("member", member, 0, count - 1)}


def _truncation(value):
    import gradio as gr

    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not math.isfinite(number) or not 0.0 < number <= 2.0:
        raise gr.Error(f"truncation must be a number in (0, 2], got {value!r}")
    return number


class DemoApp:
    """The demo's callbacks, separate from the layout so tests can call them."""

    def __init__(self, models):
        self.models = list(models)
        self.runtimes = _Runtimes()
        self.workdir = tempfile.mkdtemp(prefix="kgan-demo-")
        self._lock = threading.Lock()
        self._last = None  # (arguments, result) of the last draw

    def _draw(self, seed, count, label, truncation, model, oversample, member="mixture", sampler="topk", reuse=False):
        """`(runtime, samples as generate gives them, scores or None, report or None)`: chosen with
        the discriminator by `sampler` (topk keeps the best-scored of `oversample` x candidates).
        `reuse`: the last draw if it had these arguments (the grid and the report after the gallery)."""
        import gradio as gr

        key = (seed, count, label, truncation, model, oversample, member, sampler)
        with self._lock:
            if reuse and self._last is not None and self._last[0] == key:
                return self._last[1]
        runtime = self.runtimes.get(model)
        if runtime.takes_image:
            raise gr.Error("This model restores an image: upload one in the Restore tab.")
        given = _member(runtime, member)
        seed = _int("seed", seed, 0, 2**32 - 1)
        count = _int("count", count, 1, MAX_COUNT)
        oversample = _int("oversample", oversample if oversample is not None else 1, 1, MAX_OVERSAMPLE)
        label = _labels(runtime, label)
        truncation = _truncation(truncation)
        if sampler not in (None, "", *SAMPLER_CHOICES):
            raise gr.Error(f"sampler must be one of {', '.join(SAMPLER_CHOICES)}, got {sampler!r}")
        chooser = TopK(oversample) if sampler in (None, "", "topk") else get_sampler(sampler)
        try:
            if get_kind(runtime.sample_spec).cloud and chooser.name == "topk":  # one picture of many samples
                result = runtime, runtime.generate(VECTOR_SAMPLES, seed=seed, labels=label, truncation=truncation,
                                                   **given), None, None
            elif not runtime.has_discriminator:
                if chooser.name != "topk":
                    raise KganError(f"the {chooser.name} sampler needs this model's discriminator.onnx: export it "
                                    "with `kgan export`")
                result = runtime, runtime.generate(count, seed=seed, labels=label, truncation=truncation,
                                                   **given), None, None
            else:
                n = VECTOR_SAMPLES if get_kind(runtime.sample_spec).cloud else count
                chosen = runtime.generate_with(chooser, n, seed=seed, labels=label, truncation=truncation, **given)
                result = runtime, chosen["samples"], chosen["scores"], chosen.report
        except KganError as error:
            raise gr.Error(str(error)) from None
        with self._lock:
            self._last = (key, result)
        return result

    def report(self, seed, count, label=-1, truncation=1.0, model=None, oversample=1, member="mixture",
               sampler="topk"):
        """What the last draw cost, as Markdown: proposals, acceptance rate, seconds."""
        *_, report = self._draw(seed, count, label, truncation, model or self._default(), oversample, member,
                                sampler, reuse=True)
        if report is None:
            return "Plain sampling: every proposal is kept."
        return (f"**{report['sampler']}**: {report['proposals']} proposals, acceptance rate "
                f"{report['acceptance_rate']:.3f}, {report['seconds']:.2f} s")

    def generate(self, seed, count, label=-1, truncation=1.0, model=None, oversample=1, member="mixture",
                 sampler="topk"):
        """The gallery: `count` PNG images (one scatter plot for 2-D models, a GIF a clip for video
        models, each playing); `member`: one member
        of a mixture, or "mixture" for members drawn by their weights; `sampler`: how the
        discriminator chooses (topk, drs, mh, langevin)."""
        runtime, shown, scores, _ = self._draw(seed, count, label, truncation, model or self._default(), oversample,
                                               member, sampler)
        captions = [f"D {s:+.2f}" for s in scores] if scores is not None else [f"#{i}" for i in range(len(shown))]
        return get_kind(runtime.sample_spec).gallery(shown, runtime.sample_spec, captions, folder=self.workdir)

    def texts(self, seed, count, label=-1, truncation=1.0, model=None, oversample=1, member="mixture",
              sampler="topk"):
        """The same samples as text, one a line with its score, for text models (hidden for others)."""
        import gradio as gr

        runtime, shown, scores, _ = self._draw(seed, count, label, truncation, model or self._default(), oversample,
                                               member, sampler, reuse=True)
        if not get_kind(runtime.sample_spec).text:
            return gr.update(value="", visible=False)
        marks = [f"D {s:+.2f}  " for s in scores] if scores is not None else [""] * len(shown)
        return gr.update(value="\n".join(f"{mark}{text}" for mark, text in zip(marks, shown)), visible=True)

    def grid(self, seed, count, label=-1, truncation=1.0, model=None, oversample=1, member="mixture", sampler="topk"):
        """A downloadable grid PNG of the same samples."""
        runtime, shown, _, _ = self._draw(seed, count, label, truncation, model or self._default(), oversample, member,
                                          sampler, reuse=True)
        spec, kind = runtime.sample_spec, get_kind(runtime.sample_spec)
        path = os.path.join(self.workdir, f"grid-seed{int(float(seed))}.png")
        images.save_png(kind.picture(kind.from_display(shown, spec), spec), path)
        return path

    def interpolate(self, seed_a, seed_b, steps=24, count=8, label=-1, truncation=1.0, model=None, member="mixture"):
        """An animated GIF of the spherical latent walk from seed_a to seed_b."""
        runtime = self.runtimes.get(model or self._default())
        given = _member(runtime, member)
        seed_a = _int("seed_a", seed_a, 0, 2**32 - 1)
        seed_b = _int("seed_b", seed_b, 0, 2**32 - 1)
        steps = _int("steps", steps, 2, 64)
        count = _int("count", count, 1, 16)
        label = _labels(runtime, label)
        truncation = _truncation(truncation)
        spec, kind = runtime.sample_spec, get_kind(runtime.sample_spec)
        n = WALK_POINTS if kind.cloud else count
        walk = runtime.interpolate(seed_a, seed_b, steps=steps, n=n, labels=label, truncation=truncation, **given)
        pictures = kind.frames(kind.from_display(walk, spec), spec, columns=count)
        path = os.path.join(self.workdir, f"walk-{seed_a}-{seed_b}-{steps}-{count}.gif")
        images.save_gif(pictures, path, duration_ms=90)
        return path

    def card(self, model=None):
        """The model card, as Markdown."""
        model = model or self._default()
        if not model:
            return NO_MODEL
        try:
            info = self.runtimes.get(model).describe()
        except Exception as error:  # gr.Error: show it in the card instead
            return f"**{error}**"
        lines = [
            f"**{os.path.basename(os.path.dirname(os.path.abspath(model)))}** — `{model}`",
            "",
            "| property | value |",
            "| --- | --- |",
            f"| preset | {info['preset']} |",
            f"| kind | {info['kind']} |",
            f"| inputs | {', '.join(info['inputs'])} |",
            f"| latent size | {info['latent_dim'] or 'none'} |",
            f"| classes | {info['num_classes'] or 'unconditional'} |",
            f"| output shape | {' x '.join(map(str, info['output_shape']))} |",
            f"| discriminator | {'yes: scores and filtered sampling' if info['discriminator'] else 'no'} |",
            f"| onnxruntime providers | {', '.join(info['providers'])} |",
            f"| kgan | {info['kgan_version']}, opset {info['opset']} |",
        ]
        calibration = info.get("calibration")
        if calibration:
            lines.append(f"| calibration | Platt a {calibration['a']:.3g}, b {calibration['b']:.3g}; held-out accuracy "
                         f"{calibration['accuracy']:.3f}, ECE {calibration['ece']:.3f} |")
        if "mixture_weights" in info:
            weights = ", ".join(f"{w:.3f}" for w in info["mixture_weights"])
            lines.append(f"| mixture | {len(info['mixture_weights'])} members, weights {weights} |")
        parity = info.get("parity")
        if parity:
            lines.append(
                f"| parity vs Keras | SavedModel {parity['keras_vs_saved_model']:.1e}, onnxruntime "
                f"{parity['keras_vs_onnxruntime']:.1e}, ONNX reference {parity['keras_vs_onnx_reference']:.1e} |"
            )
        return "\n".join(lines)

    def members(self, model=None):
        """The member choices of a model: "mixture", then each member's index."""
        model = model or self._default()
        try:
            prior = self.runtimes.get(model).prior if model else None
        except Exception:  # gr.Error: the card says what is wrong
            prior = None
        count = prior["member"].num_members if prior is not None and "member" in prior.names else 0
        return ["mixture", *[str(k) for k in range(count)]]

    def _default(self):
        return self.models[0] if self.models else None

    def restore(self, image, model=None, degrade=False, seed=0):
        """An uploaded image restored by a model that takes one, beside the task's baseline.

        Args:
            image: the upload, uint8 `[H, W, C]` (converted to the model's channels).
            model: the model file.
            degrade: first make the input from the upload as the task does in training (shrink it,
                add noise, mask the region), so the upload is also the truth shown beside.
            seed: seed of that degradation's noise.

        Returns:
            Gallery items: the input, the baseline (bicubic upsampling, the noisy or masked input),
            the restored image, and with `degrade` the truth.
        """
        import gradio as gr
        import numpy as np

        runtime = self.runtimes.get(model or self._default())
        if not runtime.takes_image:
            raise gr.Error("This model samples from latents, not from an image: use the Generate tab.")
        if image is None:
            raise gr.Error("Upload an image first.")
        picture = np.asarray(image)
        if picture.ndim not in (2, 3) or picture.dtype != np.uint8:
            raise gr.Error("The upload is not an 8-bit image: upload a PNG or JPEG.")
        channels = runtime.prior["image"].channels
        picture = picture[..., None] if picture.ndim == 2 else picture[..., :3]
        if picture.shape[-1] != channels:  # an upload is what it is: convert it rather than refuse it
            picture = picture.mean(axis=-1, keepdims=True).astype(np.uint8) if channels == 1 else \
                np.repeat(picture[..., :1], 3, axis=-1)
        task = runtime.task
        truth = None
        try:
            if degrade:
                f = task.factor
                height, width = picture.shape[0] // f * f, picture.shape[1] // f * f
                truth = picture[:height, :width].astype(np.float32)[None] / 127.5 - 1.0
                inputs = task.degrade(truth, np.random.default_rng(_int("seed", seed, 0, 2**32 - 1)))
            else:
                inputs = task.degrade(picture.astype(np.float32)[None] / 127.5 - 1.0, None) \
                    if task.masked and task.region == "lower" else {"image": picture}
            restored = runtime.restore(inputs["image"], inputs.get("mask"))
        except KganError as error:
            raise gr.Error(str(error)) from None
        height, width = restored.shape[1:3]
        shown_input = runtime.prior["image"].draw(None, None, given=inputs["image"])
        baseline = task.baseline({"image": shown_input}, height, width)
        names = {"superres": "bicubic upsampling", "denoise": "noisy input", "inpaint": "masked input"}
        items = [(shown_input, "input"), (baseline, names.get(task.name, "input")), (restored, f"restored ({task})")]
        if truth is not None:
            items.append((truth, "truth"))
        return [(_shown(images.to_uint8(x[0], runtime.value_range)), caption) for x, caption in items]


def _shown(image):
    return image[..., 0] if image.shape[-1] == 1 else image


def build_demo(models):
    """The Gradio Blocks app over the given generator files (the first is selected)."""
    import gradio as gr

    app = DemoApp(models)
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    with gr.Blocks(title="kgan demo") as demo:
        demo.kgan_app = app
        demo.kgan_theme = theme
        gr.Markdown("# kgan — sample a trained generator\nRuns the exported ONNX generator with onnxruntime.")
        if not models:
            gr.Markdown(f"### {NO_MODEL}")
        with gr.Row():
            model = gr.Dropdown(choices=models, value=app._default(), label="model", allow_custom_value=False,
                                scale=3)
        card = gr.Markdown(app.card())
        with gr.Tab("Generate"):
            with gr.Row():
                seed = gr.Number(value=0, precision=0, label="seed", minimum=0)
                count = gr.Slider(1, MAX_COUNT, value=16, step=1, label="count")
                label = gr.Number(value=-1, precision=0, label="class label (-1: every class in turn)")
                truncation = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="truncation")
                oversample = gr.Slider(1, MAX_OVERSAMPLE, value=1, step=1,
                                       label="keep the best-scored of k x candidates")
                member = gr.Dropdown(choices=app.members(), value="mixture", label="member (of a mixture)",
                                     allow_custom_value=False)
                sampler = gr.Dropdown(choices=list(SAMPLER_CHOICES), value="topk", allow_custom_value=False,
                                      label="sampler (drs, mh, langevin: calibrated discriminator)")
            button = gr.Button("Generate", variant="primary")
            report = gr.Markdown(elem_id="sampling-report")
            texts = gr.Textbox(label="texts", lines=8, max_lines=MAX_COUNT, elem_id="texts", visible=False,
                               interactive=False)
            gallery = gr.Gallery(label="samples", format="png", columns=8, object_fit="contain", height="auto",
                                 elem_id="gallery", elem_classes="pixelated")
            grid_file = gr.File(label="grid PNG")
        with gr.Tab("Interpolation"):
            with gr.Row():
                seed_a = gr.Number(value=0, precision=0, label="from seed", minimum=0)
                seed_b = gr.Number(value=1, precision=0, label="to seed", minimum=0)
                steps = gr.Slider(2, 64, value=24, step=1, label="frames")
                walk_count = gr.Slider(1, 16, value=8, step=1, label="samples per frame")
            walk_button = gr.Button("Make GIF")
            walk = gr.Image(type="filepath", label="latent walk (GIF)", elem_id="walk", elem_classes="pixelated")
        with gr.Tab("Restore"):
            gr.Markdown("For models that restore an image (super-resolution, denoising, inpainting): upload one.")
            with gr.Row():
                upload = gr.Image(type="numpy", image_mode=None, format="png", label="image", elem_id="upload")
                with gr.Column():
                    degrade = gr.Checkbox(value=False, label="degrade it first as in training (it is then the truth)")
                    restore_seed = gr.Number(value=0, precision=0, label="noise seed", minimum=0)
                    restore_button = gr.Button("Restore", variant="primary")
            restored = gr.Gallery(label="input, baseline, restored (, truth)", format="png", columns=4,
                                  object_fit="contain", height="auto", elem_id="restored")
        restore_button.click(app.restore, inputs=[upload, model, degrade, restore_seed], outputs=restored,
                             api_name="restore")
        inputs = [seed, count, label, truncation, model, oversample, member, sampler]
        button.click(app.generate, inputs=inputs, outputs=gallery, api_name="generate").then(
            app.grid, inputs=inputs, outputs=grid_file, api_name=False
        ).then(app.report, inputs=inputs, outputs=report, api_name=False
        ).then(app.texts, inputs=inputs, outputs=texts, api_name="texts")
        walk_button.click(
            app.interpolate, inputs=[seed_a, seed_b, steps, walk_count, label, truncation, model, member], outputs=walk,
            api_name="interpolate",
        )
        model.change(app.card, inputs=model, outputs=card, api_name=False)
        model.change(lambda m: gr.update(choices=app.members(m), value="mixture"), inputs=model, outputs=member,
                     api_name=False)
    return demo


def launch(model=None, host="127.0.0.1", port=7860, export_root="export", block=True):
    """Builds the demo and serves it; returns `(demo, url)`.

    Raises:
        KganError: before serving, when a model does not load (`check_models`).
    """
    models = find_models(export_root, model)
    check_models(models)
    demo = build_demo(models)
    demo.queue(default_concurrency_limit=4)
    _, url, _ = demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=not block,
        quiet=True,
        theme=demo.kgan_theme,
        css=CSS,
    )
    return demo, url
