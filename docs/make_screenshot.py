"""Take a full-page screenshot of a raretune report with headless Chromium (via Playwright).

Usage::

    python docs/make_screenshot.py RUN_DIR/report.html docs/report.png [--width 1280]
    python docs/make_screenshot.py RUN_DIR/report.html docs/report-explorer.png \
        --threshold 0.05 --clip-to '#operating-point'

``--threshold`` types a threshold into the report's explorer before the shot. Needs the
``playwright`` package (the ``dev`` extra) and the system Chromium (Debian: ``apt-get install
chromium``, or ``RARETUNE_CHROMIUM`` naming a binary); Playwright never downloads a browser
here. Fails (exit status 1) if the page logs console errors or an image does not decode, so a
broken report never becomes the documentation's picture.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys

_BROKEN_IMAGES = "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length"


def _chromium() -> str | None:
    return shutil.which(os.environ.get("RARETUNE_CHROMIUM") or "chromium")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", help="path of report.html")
    parser.add_argument("output", help="PNG file to write")
    parser.add_argument("--width", type=int, default=1280, help="page width in CSS px (1280)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="move the threshold explorer to this threshold first")
    parser.add_argument("--clip-to", default=None,
                        help="CSS selector: shoot only the band of the page holding this element")
    args = parser.parse_args(argv)
    binary = _chromium()
    if binary is None:
        print("make_screenshot: no Chromium found (apt-get install chromium).", file=sys.stderr)
        return 1
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        print("make_screenshot: needs playwright (pip install -e '.[dev]').", file=sys.stderr)
        return 1
    problems: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=binary, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": args.width, "height": 900})
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.goto(pathlib.Path(args.report).resolve().as_uri())
                if args.threshold is not None:
                    page.fill("#explorer-threshold", repr(args.threshold))
                broken = page.evaluate(_BROKEN_IMAGES)
                if broken:
                    problems.append(f"{broken} image(s) did not decode")
                if problems:
                    print("The report does not render cleanly:", *problems, sep="\n  ",
                          file=sys.stderr)
                    return 1
                if args.clip_to:
                    box = page.locator(args.clip_to).bounding_box()
                    if box is None:
                        print(f"make_screenshot: nothing visible matches {args.clip_to!r}.",
                              file=sys.stderr)
                        return 1
                    # the page's full width, so the picture shows the layout a reader gets
                    page.screenshot(path=args.output, full_page=True, clip={
                        "x": 0, "y": max(box["y"] - 12, 0), "width": args.width,
                        "height": box["height"] + 24})
                else:
                    page.screenshot(path=args.output, full_page=True)
            finally:
                browser.close()
    except (Error, OSError) as exc:
        print(f"make_screenshot: {exc}", file=sys.stderr)
        return 1
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
