"""Drives the demo and the web page in Debian's headless Chromium through playwright.

Used by tests/test_demo.py and tests/test_web.py, and by docs/figures.py for the documentation's
screenshots of the demo.
"""

import contextlib
import functools
import http.server
import os
import threading

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


MIME_TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
              ".json": "application/json", ".onnx": "application/octet-stream"}


class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = dict(http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES)
    isolated = False

    def end_headers(self):
        if self.isolated:  # what lets a page use SharedArrayBuffer, and so onnxruntime-web's threads
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_folder(folder, isolated=False):
    """Serves `folder` as a static host on 127.0.0.1 from a thread; yields its base URL.

    `isolated` adds the cross-origin isolation headers (COOP/COEP) a host must send for
    onnxruntime-web to run on several threads."""
    handler = type("Handler", (_StaticHandler,), {"isolated": isolated})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def route_cdn(page, cdn, dist):
    """Answers the page's requests to the onnxruntime-web CDN `cdn` from the npm copy `dist`, as
    the CDN does (CORS open), so a site built for the CDN runs offline; records the files asked for."""
    asked = []

    def fulfil(route):
        name = route.request.url[len(cdn):].split("?")[0]
        path = os.path.join(dist, name)
        asked.append(name)
        if "/" in name or not os.path.isfile(path):
            return route.fulfill(status=404, body="not found")
        content_type = MIME_TYPES.get(os.path.splitext(name)[1], "application/octet-stream")
        route.fulfill(path=path, headers={"Content-Type": content_type, "Access-Control-Allow-Origin": "*",
                                          "Cross-Origin-Resource-Policy": "cross-origin"})

    page.route(cdn + "**", fulfil)
    return asked


def exercise_demo(url, folder):
    """Clicks Generate, checks the gallery decoded, makes a GIF; saves two screenshots."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url)
            page.get_by_role("button", name="Generate", exact=True).click()
            page.wait_for_function(
                "() => { const imgs = [...document.querySelectorAll('#gallery img')];"
                " return imgs.length >= 16 && imgs.every(i => i.complete && i.naturalWidth > 0); }",
                timeout=60_000,
            )
            widths = page.eval_on_selector_all("#gallery img", "imgs => imgs.map(i => i.naturalWidth)")
            page.wait_for_timeout(500)
            page.screenshot(path=os.path.join(folder, "demo.png"), full_page=True)
            page.get_by_role("tab", name="Interpolation").click()
            page.get_by_role("button", name="Make GIF").click()
            page.wait_for_function(
                "() => { const i = document.querySelector('#walk img');"
                " return i && i.complete && i.naturalWidth > 0 && i.src.includes('.gif'); }",
                timeout=60_000,
            )
            gif_width = page.eval_on_selector("#walk img", "i => i.naturalWidth")
            page.screenshot(path=os.path.join(folder, "demo-interpolation.png"), full_page=True)
        finally:
            browser.close()
    return {"gallery_images": len(widths), "min_natural_width": min(widths), "gif_natural_width": gif_width}
