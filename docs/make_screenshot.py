"""Take a full-page screenshot of a raretune report with headless Chromium.

Usage::

    python docs/make_screenshot.py RUN_DIR/report.html docs/report.png [--width 1280]

Needs Chromium (Debian: ``apt-get install chromium``) or ``RARETUNE_CHROMIUM`` pointing at a
Chrome/Chromium binary. Fails (exit status 1) if the page logs console errors or an image does
not decode, so a broken report never becomes the documentation's picture.
"""

from __future__ import annotations

import argparse
import sys

from raretune.report._browser import BrowserError, Chromium

_BROKEN_IMAGES = "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", help="path of report.html")
    parser.add_argument("output", help="PNG file to write")
    parser.add_argument("--width", type=int, default=1280, help="page width in CSS px (1280)")
    args = parser.parse_args(argv)
    try:
        with Chromium(width=args.width) as browser:
            browser.open(args.report)
            problems = browser.console_errors()
            broken = browser.evaluate(_BROKEN_IMAGES)
            if broken:
                problems.append(f"{broken} image(s) did not decode")
            if problems:
                print("The report does not render cleanly:", *problems, sep="\n  ", file=sys.stderr)
                return 1
            path = browser.screenshot(args.output)
    except (BrowserError, OSError) as exc:
        print(f"make_screenshot: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
