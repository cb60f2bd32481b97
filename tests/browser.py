"""Drives the demo in Debian's headless Chromium through playwright.

Used by tests/test_demo.py; also makes the README's screenshots from a real export:

    python tests/browser.py --model export/digits --out docs
"""

import argparse
import os
import sys

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


def main():
    parser = argparse.ArgumentParser(description="Screenshot the demo over a real export.")
    parser.add_argument("--model", default="export/digits")
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()
    from kgan.demo import launch

    demo, url = launch(args.model, port=None, block=False)
    try:
        print(exercise_demo(url, args.out))
    finally:
        demo.close()


if __name__ == "__main__":
    sys.exit(main())
