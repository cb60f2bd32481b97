"""The demo under load: start-up, one request alone, and 50 requests at concurrency 5.

    python benchmarks/demo.py EXPORT_DIR [--requests 50] [--concurrency 5] [--out benchmarks/demo.jsonl]

Launches the Gradio app over the export in this process and calls its `/generate` endpoint (16
images a request) through `gradio_client`, as a user's script would: the start-up (building the
app and launching its server), one request alone (median of 5), then `--requests` requests from
`--concurrency` clients at once (errors counted, p50 and p95 latency), and what the generator and
the discriminator themselves take for 16 images (median of 20, `GeneratorRuntime`). Each run appends
a line to `--out`, which the documentation's Benchmarks page draws (`section`).
"""

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def measure(export_dir, requests, concurrency):
    from gradio_client import Client

    from kgan.demo import launch
    from kgan.runtime.inference import GeneratorRuntime

    start = time.perf_counter()
    demo, url = launch(export_dir, port=None, export_root=os.path.dirname(os.path.abspath(export_dir)), block=False)
    startup = time.perf_counter() - start
    try:
        clients = [Client(url, verbose=False, analytics_enabled=False) for _ in range(concurrency)]
        alone = []
        for seed in range(5):
            start = time.perf_counter()
            clients[0].predict(seed=seed, count=16, api_name="/generate")
            alone.append(time.perf_counter() - start)

        def one(i):
            start = time.perf_counter()
            try:
                items = clients[i % concurrency].predict(seed=i, count=16, api_name="/generate")
            except Exception as error:  # counted: the run goes on and reports every failure
                return time.perf_counter() - start, repr(error)[:200]
            return time.perf_counter() - start, None if len(items) == 16 else f"{len(items)} images"

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(pool.map(one, range(requests)))
    finally:
        demo.close()
    runtime = GeneratorRuntime(export_dir)
    model = []
    for seed in range(20):
        start = time.perf_counter()
        runtime.score(runtime.generate(16, seed=seed))
        model.append(time.perf_counter() - start)
    latencies = sorted(seconds * 1000 for seconds, _ in results)
    return {"export": export_dir, "startup_s": startup, "alone_ms": 1000 * statistics.median(alone),
            "requests": requests, "concurrency": concurrency, "errors": [e for _, e in results if e],
            "p50_ms": statistics.median(latencies), "p95_ms": latencies[int(0.95 * len(latencies)) - 1],
            "model_ms": 1000 * statistics.median(model)}


def section(row):
    """The Benchmarks page's demo section, from one result line."""
    from record import source

    return "\n\n".join([source(row), (
        f"Start-up (building the app and launching it): {row['startup_s']:.2f} s. One `/generate` request of 16 "
        f"images alone: median {row['alone_ms']:,.0f} ms (of 5). {row['requests']} such requests at concurrency "
        f"{row['concurrency']} through `gradio_client`: {len(row['errors'])} errors, p50 {row['p50_ms']:,.0f} ms, "
        f"p95 {row['p95_ms']:,.0f} ms. The generator and the discriminator take {row['model_ms']:.2f} ms of a "
        "request (median of 20, `GeneratorRuntime` on 16 images); the rest is Gradio writing and serving 16 PNG "
        "files per request and the client fetching them.")])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo.jsonl"))
    args = parser.parse_args()
    from record import append

    print(section(append(args.out, measure(args.export_dir, args.requests, args.concurrency))))


if __name__ == "__main__":
    main()
