"""The web page in headless Chromium against onnxruntime in Python: first sample and throughput.

    python benchmarks/web.py EXPORT_DIR [--ort-dir tests/web/node_modules/onnxruntime-web]
                             [--loads 5] [--batch 64] [--rounds 3] [--seconds 2]
                             [--out benchmarks/web.jsonl]

Builds the export's site with its own onnxruntime-web and serves it from 127.0.0.1.

- **Time to first sample**: page load (navigation start) to the first grid drawn, read
  from the page's own `kgan.timings`, over `--loads` loads each in a new browser context
  (an empty cache), with the stages in between: manifest read, onnxruntime-web loaded,
  models ready.
- **Samples per second** of the generator alone, batches of `--batch` latents, for
  `--seconds` after a warm-up, in rounds that alternate the runtimes so the machine's
  load touches all alike: onnxruntime-web's WebAssembly backend in Chromium on 1 thread
  (any static host) and on 2 threads (a host that sends the cross-origin isolation
  headers), and onnxruntime in Python with 1 and 2 intra-op threads. Medians over rounds.

- **Parity**: the largest |difference| between the page's `kgan.run` and onnxruntime in
  Python on 256 drawn inputs (labels and members at random), for the generator and the
  discriminator (on the generator's samples), in the WebAssembly backend and in the WebGPU
  one (Chromium's WebGPU over SwiftShader, its software Vulkan: no GPU needed).

`--parity-only` measures parity alone. (The documentation's screenshot of the page: `python docs/figures.py
--only web`.)
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from browser import CHROMIUM, CHROMIUM_ARGS, serve_folder  # noqa: E402

LOADED = "() => window.kgan && kgan.timings.first_sample_ms !== undefined"
PAGE_THROUGHPUT = """async ([batch, seconds]) => {
  const session = kgan.state.sessions.generator;
  const input = kgan.state.web.prior[0];
  const z = new Float32Array(batch * input.dim).map(() => Math.random() * 2 - 1);
  const feeds = {[input.name]: new ort.Tensor('float32', z, [batch, input.dim])};
  for (let i = 0; i < 3; i++) await session.run(feeds);
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) { await session.run(feeds); runs++; }
  return runs * batch / ((performance.now() - start) / 1000);
}"""


SOFTWARE_WEBGPU = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--enable-features=Vulkan",
                   "--use-vulkan=swiftshader", "--disable-vulkan-surface"]


def parity(page, folder, n=256):
    """`{role: max |diff|}` of the page's models against onnxruntime in Python, same inputs."""
    from kgan.runtime.inference import GeneratorRuntime

    runtime = GeneratorRuntime(folder)
    feeds = runtime.prior.draw(n, seed=0, randomize=True)
    tensor = runtime.sample_spec.tensor_name
    expected = runtime.run_feeds(feeds)[tensor]
    got = page.evaluate("feeds => kgan.run(feeds)", {k: v.tolist() for k, v in feeds.items()})[tensor]
    out = {"generator": float(np.abs(np.asarray(got["data"], expected.dtype).reshape(expected.shape)
                                     - expected).max())}
    if runtime.has_discriminator:
        d_feeds = {tensor: expected, **{k: feeds[k] for k in runtime.prior.conditioning}}
        logits = page.evaluate("feeds => kgan.run(feeds, 'discriminator')", {k: v.tolist() for k, v in d_feeds.items()})
        out["discriminator"] = float(np.abs(np.asarray(logits["logit"]["data"], np.float32)
                                            - runtime.model_for("discriminator").run(d_feeds)["logit"]).max())
    return out


def first_samples(browser, url, loads):
    rows = []
    for _ in range(loads):
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(LOADED, timeout=120_000)
        rows.append(page.evaluate("() => kgan.timings"))
        context.close()
    return rows


PYTHON_FIRST = ("from kgan.runtime.inference import GeneratorRuntime; from kgan import images; import sys; "
                "r = GeneratorRuntime(sys.argv[1]); s = r.generate(16, seed=0); r.score(s); "
                "images.encode_png(images.make_grid(s, scale=8))")


def python_first_samples(folder, loads):
    """Seconds from starting a Python process to 16 samples scored and drawn as a PNG grid."""
    import subprocess

    times = []
    for _ in range(loads):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", PYTHON_FIRST, folder], check=True, cwd=ROOT)
        times.append((time.perf_counter() - start) * 1000)
    return times


def python_throughput(path, batch, seconds, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0]
    feeds = {first.name: np.random.default_rng(0).uniform(-1, 1, (batch, first.shape[1])).astype(np.float32)}
    for _ in range(3):
        session.run(None, feeds)
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.run(None, feeds)
        runs += 1
    return runs * batch / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir")
    parser.add_argument("--ort-dir", default=os.path.join(ROOT, "tests", "web", "node_modules", "onnxruntime-web"))
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "web.jsonl"))
    parser.add_argument("--parity-only", action="store_true")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from kgan.web import build_site

    work = tempfile.mkdtemp(prefix="kgan-web-bench-")
    site = build_site(args.export_dir, os.path.join(work, "site"), ort_dir=args.ort_dir)
    model = os.path.join(site.out_dir, "generator.onnx")
    page_files = {k: v for k, v in site.files.items() if not k.startswith("ort/")}
    result = {
        "export": os.path.abspath(args.export_dir), "site_bytes": site.size,
        "site_bytes_without_ort": sum(page_files.values()), "files": site.files, "batch": args.batch,
        "chromium": None, "first_sample": None, "samples_per_second": {},
    }
    with serve_folder(work) as plain, serve_folder(work, isolated=True) as isolated, sync_playwright() as playwright:
        url = plain + "site/index.html"
        result["parity"] = {}
        for backend, extra in (("wasm", []), ("webgpu", SOFTWARE_WEBGPU)):
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=[a for a in CHROMIUM_ARGS if not extra or a != "--disable-gpu"] + extra)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function(LOADED, timeout=120_000)
            assert page.evaluate("() => kgan.state.backend.name") == backend
            result["parity"][backend] = parity(page, site.out_dir)
            browser.close()
        print(f"parity (max |diff| against onnxruntime in Python, 256 inputs): {result['parity']}")
        if args.parity_only:
            return
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        result["chromium"] = browser.version
        loads = first_samples(browser, url, args.loads)
        result["first_sample"] = {key: statistics.median(row[key] for row in loads) for key in loads[0]}
        result["first_sample_loads"] = loads
        result["python_first_sample_ms"] = python_first_samples(site.out_dir, args.loads)
        pages = {}
        for name, base in (("web 1 thread", plain), ("web 2 threads (isolated host)", isolated)):
            pages[name] = browser.new_page()
            pages[name].goto(base + "site/index.html")
            pages[name].wait_for_function(LOADED, timeout=120_000)
        threads = {name: page.evaluate("() => ort.env.wasm.numThreads") for name, page in pages.items()}
        assert list(threads.values()) == [1, 2], threads
        measured = {name: [] for name in [*pages, "python 1 thread", "python 2 threads"]}
        for _ in range(args.rounds):
            for name, page in pages.items():
                measured[name].append(page.evaluate(PAGE_THROUGHPUT, [args.batch, args.seconds]))
            for n in (1, 2):
                measured[f"python {n} thread{'s' if n > 1 else ''}"].append(
                    python_throughput(model, args.batch, args.seconds, n))
        result["samples_per_second"] = {name: statistics.median(values) for name, values in measured.items()}
        result["rounds"] = measured
        browser.close()
    first = result["first_sample"]
    print(f"site: {site.size / 1e6:.1f} MB ({result['site_bytes_without_ort'] / 1e6:.2f} MB without onnxruntime-web)")
    print(f"first sample: {first['first_sample_ms']:.0f} ms after navigation (manifest {first['manifest_ms']:.0f}, "
          f"onnxruntime-web {first['ort_ms']:.0f}, models ready {first['ready_ms']:.0f}); median of {args.loads}")
    print(f"python, process start to the first 16 samples scored and drawn: "
          f"{statistics.median(result['python_first_sample_ms']):.0f} ms; median of {args.loads}")
    python = result["samples_per_second"]["python 2 threads"]
    for name, value in result["samples_per_second"].items():
        print(f"{name:32s} {value:10.0f} samples/s  ({value / python:.2f} x python 2 threads)")
    from record import append

    print(section(append(args.out, result)))


def section(row):
    """The Benchmarks page's web page section, from one result line."""
    from record import source

    speed, first = row["samples_per_second"], row["first_sample"]
    names = list(speed)
    base = speed["python 2 threads"]
    return "\n\n".join([source(row), "\n".join([
        f"Chromium {row['chromium']} headless; the `digits` export. Samples per second of the generator alone "
        f"(batch {row['batch']}), each the median of its rounds, the runtimes taking turns:", "",
        "| | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names),
        "| samples per second | " + " | ".join(f"{speed[n]:,.0f}" for n in names) + " |",
        "| ratio to Python on 2 threads | " + " | ".join(f"{speed[n] / base:.2f}" for n in names) + " |"]),
        f"- **Time to first sample**: {first['first_sample_ms']:,.0f} ms from navigation to the first grid of 16 "
        f"scored digits (median of {len(row['first_sample_loads'])} loads, each in a new browser context with an "
        f"empty cache, served from 127.0.0.1): the manifest read by {first['manifest_ms']:,.0f} ms, onnxruntime-web "
        f"loaded by {first['ort_ms']:,.0f} ms, the models fetched, compiled and warmed up by "
        f"{first['ready_ms']:,.0f} ms. A Python process takes {statistics.median(row['python_first_sample_ms']):,.0f} "
        "ms from its start to the same 16 samples scored and drawn as a PNG grid (`GeneratorRuntime`).\n"
        "- **Parity** on 256 latents against onnxruntime in Python, largest |difference|: " + "; ".join(
            f"{backend} generator {p['generator']:.1e}, discriminator {p['discriminator']:.1e}"
            for backend, p in row["parity"].items()) + " (WebGPU: Chromium's over SwiftShader, its software Vulkan).\n"
        f"- **Size**: the site is {row['site_bytes_without_ort'] / 1e6:.2f} MB with the CDN and "
        f"{row['site_bytes'] / 1e6:.1f} MB with its own onnxruntime-web."])


if __name__ == "__main__":
    main()
