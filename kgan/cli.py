"""The `kgan` command: a thin layer of flags over the library.

Every user error prints one line `kgan: error: ...` on stderr and exits with 2.
`kgan generate` imports neither TensorFlow nor Keras, so it runs where only numpy,
Pillow and onnxruntime are installed: the five imports of the training side (training in
`kgan.cli_train`; export, ensemble, evaluate here) sit in the commands that use them, the
only kgan imports inside functions in the package.
"""

import os
import sys

from kgan import __version__
from kgan.cli_args import LOSS_NAMES  # noqa: F401  (kgan.cli.LOSS_NAMES, its earlier home)
from kgan.cli_args import _Parser, _positive_int, _refit_steps, import_tensorflow_quietly, joined_signed_values
from kgan.cli_train import add_train
from kgan.demo import find_models, launch
from kgan.errors import KganError
from kgan.presets import PRESETS
from kgan.runtime import images
from kgan.runtime.inference import GeneratorRuntime
from kgan.runtime.restore import read_image
from kgan.runtime.samplers import get_sampler
from kgan.runtime.samples import VIDEO_FRAME_MS, get_kind
from kgan.web import ORT_WEB_VERSION, build_site, check_site_target, find_ort

__all__ = ["main", "build_parser"]


def _add_export(subparsers):
    parser = subparsers.add_parser(
        "export",
        help="export a trained run to SavedModel and ONNX",
        description=(
            "Export RUN_DIR/model.keras: RUN_DIR/saved_model/ and DIR/generator.onnx, "
            "DIR/discriminator.onnx, DIR/manifest.json, with Keras/SavedModel/ONNX parity checked."
        ),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `kgan train`")
    parser.add_argument("--out", metavar="DIR", help="the export folder (default: export/<run name>)")
    parser.add_argument("--opset", type=_positive_int, default=17, help="ONNX opset, 13 to 18 (default 17)")
    parser.add_argument("--fp16", action="store_true", help="also write generator.fp16.onnx")
    parser.add_argument("--int8", action="store_true", help="also write generator.int8.onnx (static QDQ)")
    parser.add_argument("--calibration-data", metavar="DATA",
                        help="real data to calibrate the discriminator on: a data set name or path (default: the "
                        "run's data set)")
    parser.add_argument("--refit-steps", type=_refit_steps, default="auto", metavar="N",
                        help="first train the exported discriminator N more steps against the fixed generator on that "
                        "data, toward the density ratio the drs, mh and langevin samplers read; auto (the default): "
                        "twice the generator's training steps, at most 5000, on data drawn afresh (the 2-D "
                        "mixtures), else none (the run's model.keras keeps its own)")
    parser.add_argument("--web", metavar="DIR", help="also write a static web site that samples the export in the "
                        "browser (as `kgan web`)")
    _add_ort_dir(parser)
    parser.set_defaults(func=_run_export)


def _add_ort_dir(parser):
    parser.add_argument("--ort-dir", metavar="PATH",
                        help="a local onnxruntime-web (node_modules/onnxruntime-web, from `npm install "
                        "onnxruntime-web@<version>`) to copy into the site, for pages that work offline (default: the "
                        "page loads it from a CDN)")


def _run_export(args):
    if args.web:  # checked before the export, so a bad site folder costs nothing

        if args.ort_dir:
            find_ort(args.ort_dir)
        check_site_target(args.web, args.out or os.path.join("export", os.path.basename(os.path.normpath(
            os.path.abspath(args.run_dir)))))
    elif args.ort_dir:
        raise KganError("--ort-dir goes with --web DIR: it is the onnxruntime-web copied into the site")
    import_tensorflow_quietly()
    from kgan.export import export_model  # TensorFlow's side: imported by the commands that use it

    result = export_model(args.run_dir, out_dir=args.out, opset=args.opset, fp16=args.fp16, int8=args.int8, log=print,
                          calibration_data=args.calibration_data, refit_steps=args.refit_steps)
    _print_export(result)
    if args.web:
        _write_site(result.out_dir, args.web, args.ort_dir)
    return 0


def _add_web(subparsers):
    parser = subparsers.add_parser(
        "web",
        help="write a static web site that samples an export in the visitor's browser (onnxruntime-web)",
        description="Write index.html, kgan.js, the export's models and manifest.json into DIR: a page that "
        "samples, walks and scores the generator on the visitor's device, from any static host.",
    )
    parser.add_argument("export_dir", metavar="EXPORT_DIR", help="an export folder of `kgan export`")
    parser.add_argument("--out", metavar="DIR", help="the site's folder (default: web/<export name>)")
    _add_ort_dir(parser)
    parser.set_defaults(func=_run_web)


def _run_web(args):
    out = args.out or os.path.join("web", os.path.basename(os.path.normpath(os.path.abspath(args.export_dir))))
    _write_site(args.export_dir, out, args.ort_dir)
    return 0


def _write_site(export_dir, out_dir, ort_dir):
    site = build_site(export_dir, out_dir, ort_dir=ort_dir, log=print)
    source = "its own copy in ort/" if site.ort == "ort/" else f"{site.ort} (the visitor must be online)"
    print(f"kgan: wrote the web site to {site.out_dir}: {len(site.files)} files, {site.size / 1e6:.1f} MB; "
          f"onnxruntime-web {ORT_WEB_VERSION} from {source}")
    print(f"kgan: serve it with `python -m http.server -d {site.out_dir}` and open http://localhost:8000")


def _add_calibrate(subparsers):
    parser = subparsers.add_parser(
        "calibrate",
        help="refit the exported discriminator's calibration (for the drs, mh and langevin samplers)",
        description="Fit Platt scaling of RUN_DIR's discriminator on real data against generated samples and write "
        "it into the export's manifest.json and ONNX metadata.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `kgan train`")
    parser.add_argument("--export", metavar="DIR", help="its export folder (default: export/<run name>)")
    parser.add_argument("--data", metavar="DATA", help="a data set name or path (default: the run's data set)")
    parser.add_argument("--refit-steps", type=_refit_steps, metavar="N",
                        help="refit the discriminator N steps first (auto: as `kgan export` does by default) and "
                        "export it again (default: as the export was)")
    parser.set_defaults(func=_run_calibrate)


def _run_calibrate(args):
    import_tensorflow_quietly()
    from kgan.export import calibrate_export  # TensorFlow's side: imported by the commands that use it

    calibration = calibrate_export(args.run_dir, args.export, data=args.data,
                                   log=print if args.refit_steps else None, refit_steps=args.refit_steps)
    print(f"kgan: calibrated {calibration['export']} on {calibration['real']} real samples of {calibration['data']}: "
          f"a {calibration['a']:.4g}, b {calibration['b']:.4g}, held-out accuracy {calibration['accuracy']:.3f}, "
          f"ECE {calibration['ece']:.3f} (raw {calibration['ece_raw']:.3f})")
    return 0


def _print_export(result):
    manifest = result.manifest
    print(f"kgan: exported to {result.out_dir} (SavedModel in {result.saved_model_dir})")
    for role, figures in manifest["parity"].items():
        worst = max(v for k, v in figures.items() if k.startswith("keras_vs"))
        scale = " x the largest |value|" if "tolerance_relative_to" in figures else ""
        kinked = sum(figures.get("rows_on_a_kink", {}).values())
        kinked = f"; {kinked} rows on a ReLU's kink compared one-sided" if kinked else ""
        print(f"  {role:13s} parity: max |diff| {worst:.2e} against Keras (tolerance {figures['tolerance']:g}{scale})"
              f"{kinked}")
    for name, variant in manifest["variants"].items():
        print(
            f"  {variant['file']:20s} max |error| vs fp32 {variant['max_abs_error_vs_fp32']:.2e}, "
            f"{variant['latency_ms_batch1']:.3f} ms at batch 1 (fp32 {variant['fp32_latency_ms_batch1']:.3f} ms)"
        )


def _add_ensemble(subparsers):
    parser = subparsers.add_parser(
        "ensemble",
        help="assemble runs of one data set into one mixture (a run directory)",
        description="Build a kgan.GeneratorMixture of the runs' generators and write it as a run directory that "
        "kgan export, generate, evaluate and demo take.",
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories of `kgan train`")
    parser.add_argument("--out", metavar="DIR", required=True, help="the new run directory")
    parser.add_argument("--weights", default="uniform", metavar="uniform|fit|W1,W2,...",
                        help="how often sampling picks each run: uniform (default), fit (minimum kernel MMD to "
                        "held-out data in kgan evaluate's features) or one weight a run, summing to 1")
    parser.add_argument("--samples", type=_positive_int, default=1000, help="samples per run for --weights fit")
    parser.add_argument("--seed", type=int, default=0, help="latent seed of the fit and the sample grid")
    parser.set_defaults(func=_run_ensemble)


def _run_ensemble(args):
    import_tensorflow_quietly()
    from kgan.ensemble import assemble  # TensorFlow's side: imported by the commands that use it

    report = assemble(args.run_dirs, args.out, weights=args.weights, samples=args.samples, seed=args.seed, log=print)
    fitted = f" (MMD^2 {report['mmd2']:.2e}; uniform weights {report['mmd2_uniform']:.2e})" if "mmd2" in report else ""
    print(f"kgan: a mixture of {len(args.run_dirs)} runs in {report['run_dir']}, weights "
          f"{', '.join(f'{w:.3f}' for w in report['weights'])}{fitted}")
    return 0


def _add_generate(subparsers):
    parser = subparsers.add_parser(
        "generate",
        help="sample from an exported generator (onnxruntime; no TensorFlow)",
        description="Write a grid PNG (a scatter plot for 2-D models; for video models an animated GIF or MP4 grid "
        "of clips, or a PNG film strip; for text models, print the texts, or write them to a .txt file or a PNG), "
        "raw samples, or a latent-walk GIF.",
    )
    parser.add_argument("model", metavar="MODEL", help="a generator .onnx file or an export folder")
    parser.add_argument("-n", "--num", type=_positive_int, default=64, help="number of samples (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="latent seed (default 0): the same seed, the same bytes")
    parser.add_argument("--label", type=int, help="class label for conditional models (default: cycle the classes)")
    parser.add_argument("--truncation", type=float, default=1.0, help="latent scale in (0, 2] (default 1: off)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="grid or scatter plot, .png (default generated.png; video models: generated.gif); for "
                        "video models also .gif or .mp4 (the video extra), the clips playing in a grid")
    parser.add_argument("--npy", metavar="FILE", help="also save the raw float32 samples")
    parser.add_argument("--gif", metavar="FILE", help="also write a latent walk from --seed to --seed + 1")
    parser.add_argument("--steps", type=_positive_int, default=24, help="frames of the --gif walk (default 24)")
    parser.add_argument("--sampler", metavar="NAME[:K=V,...]",
                        help="choose samples with the exported discriminator: topk (keep the best-scored n of k x n; "
                        "topk:k=8), drs (rejection, drs:q=95), mh (Metropolis-Hastings chains, mh:k=32) or langevin "
                        "(latent Langevin, langevin:steps=100,step_size=0.0001); the last three need a calibrated "
                        "export (kgan calibrate)")
    parser.add_argument("--member", type=int, metavar="K",
                        help="a mixture's member K only (default: members drawn from the mixture's weights)")
    parser.add_argument("--input", metavar="IMAGE",
                        help="models that restore an image: the image to restore (PNG, JPEG, ...; any size), made as "
                        "the model's task makes inputs (the small image for super-resolution); writes the result to -o")
    parser.add_argument("--mask", metavar="IMAGE", help="inpainting models: the mask, white where the image is missing "
                        "(default: the task's region)")
    parser.add_argument("--tile", type=_positive_int, default=256,
                        help="largest input side run at once; larger images run in overlapping tiles (default 256)")
    parser.set_defaults(func=_run_generate)


def _run_generate(args):
    for path in filter(None, (args.output, args.npy, args.gif)):
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise KganError(f"cannot write {path}: the folder {folder} does not exist; create it first")
    sampler = get_sampler(args.sampler)
    runtime = GeneratorRuntime(args.model)
    if runtime.takes_image or args.input or args.mask:
        return _run_restore(args, runtime)
    spec, kind = runtime.sample_spec, get_kind(runtime.sample_spec)
    output = args.output or (None if (args.npy or args.gif or kind.text) else
                             "generated.gif" if kind.animated else "generated.png")
    suffix = os.path.splitext(output or "")[1].lower()
    allowed = (*(images.ANIMATION_SUFFIXES if kind.animated else ()), *((".txt",) if kind.text else ()), ".png")
    if output and suffix not in allowed:
        names = f"{', '.join(allowed[:-1])} or {allowed[-1]}" if len(allowed) > 1 else allowed[0]
        raise KganError(f"cannot write {kind.name} samples to {output}: name it {names}")
    labels = args.label
    given = {}
    if args.member is not None:
        if "member" not in runtime.prior.names:
            raise KganError(f"{runtime.path} is not a mixture: drop --member")
        given["member"] = args.member
    if sampler is None:
        samples = runtime.sample(args.num, seed=args.seed, labels=labels, truncation=args.truncation, **given)
    else:
        chosen = runtime.generate_with(sampler, args.num, seed=args.seed, labels=labels, truncation=args.truncation,
                                       **given)
        samples = kind.from_display(chosen["samples"], spec)
    columns = runtime.num_classes if runtime.conditional and labels is None and sampler is None else None

    written = []
    if kind.text and suffix != ".png":
        lines = "".join(f"{text}\n" for text in kind.to_display(samples, spec))
        if output:
            images.atomic_write_bytes(output, lines.encode("utf-8"))
            written.append(output)
        elif not (args.npy or args.gif):
            sys.stdout.write(lines)
            written.append("standard output")
    elif output and suffix == ".png":
        images.save_png(kind.picture(samples, spec, columns=columns), output)
        written.append(output)
    elif output:
        images.save_animation(kind.animation(samples, spec, columns=columns), output, duration_ms=VIDEO_FRAME_MS)
        written.append(output)
    if args.npy:
        import io

        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, samples)
        images.atomic_write_bytes(args.npy, buffer.getvalue())
        written.append(args.npy)
    if args.gif:
        walk = runtime.interpolate(args.seed, args.seed + 1, steps=args.steps, n=args.num, labels=labels,
                                   truncation=args.truncation, **given)
        images.save_gif(kind.frames(kind.from_display(walk, spec), spec, columns=columns), args.gif)
        written.append(args.gif)
    chosen_by = ""
    if sampler:
        report = chosen.report
        chosen_by = (f", chosen by {sampler!r} from {report['proposals']} proposals (acceptance "
                     f"{report['acceptance_rate']:.3f}, {report['seconds']:.2f} s)")
    print(f"kgan: {args.num} samples from {runtime.path} on {', '.join(runtime.providers)}{chosen_by}: "
          f"{', '.join(written)}", file=sys.stderr if "standard output" in written else sys.stdout)
    return 0


def _add_demo(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="serve the Gradio demo of exported generators (onnxruntime; no TensorFlow)",
        description="A browser app over export/*/generator.onnx: samples, latent walks, discriminator scores.",
    )
    parser.add_argument("--model", metavar="EXPORT_DIR|MODEL.onnx", help="a model to list first")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_positive_int, default=7860, help="port (default 7860)")
    parser.add_argument("--export-root", default="export", help="where to look for */generator.onnx (default export)")
    parser.set_defaults(func=_run_demo)


def _run_demo(args):
    try:
        import gradio  # noqa: F401  kgan.demo imports it only when the app is built
    except ImportError as error:
        raise KganError(f"the demo needs gradio ({error.name} is missing): pip install 'kgan[app]'") from None
    models = find_models(args.export_root, args.model)
    try:
        demo, url = launch(args.model, host=args.host, port=args.port, export_root=args.export_root, block=False)
    except OSError as error:
        raise KganError(f"cannot serve on {args.host}:{args.port} ({error}); choose another --port") from None
    print(f"kgan: serving {len(models)} model(s) on {url} (Ctrl-C stops)", flush=True)  # once the port is bound
    demo.block_thread()
    return 0


def _run_restore(args, runtime):
    """`kgan generate EXPORT --input IMAGE -o OUT.png`: a model that restores an image, on one image."""
    if not runtime.takes_image:
        raise KganError(f"{runtime.path} makes samples from latents, not from an image: drop --input and --mask")
    if not args.input:
        raise KganError(f"{runtime.path} restores an image: give it with --input IMAGE")
    output = args.output or "restored.png"
    if os.path.splitext(output)[1].lower() != ".png":
        raise KganError(f"cannot write the restored image to {output}: name it .png")
    channels = runtime.prior["image"].channels
    image = read_image(args.input, channels)
    mask = None if args.mask is None else (read_image(args.mask, 1) > 127).astype("float32")
    restored = runtime.restore(image, mask, tile=args.tile)
    picture = images.to_uint8(restored[0], runtime.value_range)
    images.save_png(picture[..., 0] if channels == 1 else picture, output)
    written = [output]
    if args.npy:
        import io

        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, restored)
        images.atomic_write_bytes(args.npy, buffer.getvalue())
        written.append(args.npy)
    height, width = picture.shape[:2]
    print(f"kgan: restored {args.input} ({image.shape[1]}x{image.shape[0]}, {runtime.task}) to {width}x{height}; "
          f"wrote {', '.join(written)}")
    return 0


def _add_evaluate(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="measure sample quality of a run or an exported generator",
        description=(
            "2-D mixtures: modes captured, % high-quality samples, reverse KL. Images: FID, KID, precision, "
            "recall, density, coverage in a domain classifier's features, beside the real-vs-real floor."
        ),
    )
    parser.add_argument("source", metavar="RUN_DIR|MODEL.onnx", help="a run directory, export folder or .onnx file")
    parser.add_argument("--dataset", help="data set to compare with (default: the one it was trained on)")
    parser.add_argument("--samples", type=_positive_int,
                        help="generated samples (default 2500 for 2-D, 10000 for stacked digits, 1000 for images)")
    parser.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--inception-weights", metavar="FILE|imagenet",
                        help="score images in InceptionV3 features, as published FIDs are: a local weights file of "
                        "keras.applications.InceptionV3(include_top=False), or imagenet to download them "
                        "(default: the data set's own classifier, offline)")
    parser.add_argument("--sampler", metavar="NAME[:K=V,...]",
                        help="score what a discriminator sampler chooses (topk, drs, mh, langevin; see kgan generate)")
    parser.add_argument("--against", metavar="RUN_DIR|MODEL",
                        help="models that restore images: score a second model of the same task beside it (e.g. the "
                        "U-Net trained with --no-adversarial)")
    parser.add_argument("--picture", metavar="FILE.png",
                        help="models that restore images: write input | baseline | --against | model | truth")
    parser.set_defaults(func=_run_evaluate)


def _run_evaluate(args):
    for path in filter(None, (args.json, args.picture)):
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise KganError(f"cannot write {path}: its folder does not exist; create it first")
    import_tensorflow_quietly()
    from kgan.evaluate import evaluate, format_report, write_json  # TensorFlow's side: imported by the commands that use it

    report = evaluate(args.source, dataset=args.dataset, samples=args.samples, seed=args.seed,
                      inception_weights=args.inception_weights, sampler=get_sampler(args.sampler), against=args.against,
                      picture=args.picture)
    print(format_report(report))
    if args.json:
        write_json(report, args.json)
    return 0


def _add_presets(subparsers):
    parser = subparsers.add_parser("presets", help="list the named training configurations")
    parser.set_defaults(func=_run_presets)


def _run_presets(args):
    for name, config in PRESETS.items():
        print(f"{name:20s} {config.description}")
    return 0


def build_parser():
    parser = _Parser(
        prog="kgan", description="Train GANs with Keras 3, export them to ONNX, and sample from them."
    )
    parser.add_argument("--version", action="version", version=f"kgan {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    add_train(subparsers)
    _add_export(subparsers)
    _add_calibrate(subparsers)
    _add_ensemble(subparsers)
    _add_generate(subparsers)
    _add_demo(subparsers)
    _add_web(subparsers)
    _add_evaluate(subparsers)
    _add_presets(subparsers)
    return parser


def main(argv=None):
    """Runs the `kgan` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(joined_signed_values(sys.argv[1:] if argv is None else argv))
    try:
        return args.func(args)
    except KganError as error:
        print(f"kgan: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kgan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
