"""The report renders in a real browser: headless Chromium over the DevTools protocol.

Skips when Chromium is missing, unless ``CI`` is set: then a missing browser is a failure
(``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import shutil

import pytest
from PIL import Image

from raretune.report import write_report
from _browser import Chromium, find_chromium

WIDTH = 1280
REPO = pathlib.Path(__file__).resolve().parents[2]

# every <img> decodes; every tagged number, as shown
_PAGE_STATE = """({
  images: document.images.length,
  broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
  metrics: [...document.querySelectorAll('[data-metric]')]
             .map(e => [e.dataset.metric, e.textContent.trim()]),
  scrollWidth: document.documentElement.scrollWidth,
  sections: [...document.querySelectorAll('section[id]')].map(s => s.id),
})"""


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def browser():
    if find_chromium() is None:
        if _ci():
            pytest.fail("CI is set but Chromium is missing: apt-get install -y chromium "
                        "(or set RARETUNE_CHROMIUM to a Chrome/Chromium binary).")
        pytest.skip("Chromium is not installed (apt-get install -y chromium); CI is not set.")
    with Chromium(width=WIDTH) as chromium:
        yield chromium


def _render(browser, report: pathlib.Path) -> dict:
    browser.open(report)
    state = browser.evaluate(_PAGE_STATE)
    state["errors"] = browser.console_errors()
    state["urls"] = browser.requested_urls()
    return state


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_report_renders_in_chromium(browser, kind, request, expected_metric_text):
    run = request.getfixturevalue(f"{kind}_run")
    report = write_report(run)
    metrics = json.loads((run / "metrics.json").read_text())
    state = _render(browser, report)

    assert state["errors"] == []
    assert state["images"] == report.read_text(encoding="utf-8").count("<img ")
    assert state["images"] >= 3
    assert state["broken"] == []
    # self-contained: the page itself is the only request that leaves the page
    assert [u for u in state["urls"] if not u.startswith("data:")] == [report.resolve().as_uri()]
    # readable at 1280 px: nothing pushes the page wider than the window
    assert state["scrollWidth"] <= WIDTH
    assert "test" in state["sections"] and "reproduce" in state["sections"]

    shown = {}
    for path, text in state["metrics"]:
        shown.setdefault(path, set()).add(text)
    key = ["test.pr_auc", "test.f1", "test.roc_auc", "test.precision", "test.recall"]
    if kind == "binary":
        key += ["threshold.value", "test.threshold", "test.intervals.pr_auc.0",
                "test.intervals.pr_auc.1", "test.intervals.f1.0", "test.intervals.f1.1"]
    else:
        key += [f"test.per_class.{c}.pr_auc" for c in metrics["test"]["per_class"]]
    assert set(key) <= set(shown)
    for path, texts in shown.items():
        assert texts == {expected_metric_text(metrics, path)}, path


def test_checks_catch_a_broken_page(browser, tmp_path):
    """The checks above are not vacuous: a broken image and a console error are seen."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                    '<img alt="bad" src="data:image/png;base64,iVBORw0KGgo=">'
                    '<script>console.error("boom")</script></body></html>')
    state = _render(browser, page)
    assert state["broken"] == ["bad"]
    assert any("boom" in e for e in state["errors"])


def test_make_screenshot_cli(binary_run, tmp_path):
    if (shutil.which("chromium") is None or importlib.util.find_spec("playwright") is None) \
            and not _ci():
        pytest.skip("Chromium or playwright is not installed; CI is not set.")
    spec = importlib.util.spec_from_file_location("make_screenshot",
                                                  REPO / "docs" / "make_screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "report.png"
    assert module.main([str(write_report(binary_run)), str(out)]) == 0
    with Image.open(out) as image:
        width, height = image.size
    assert width == WIDTH
    assert height > 3000  # the whole page, not just the first screen
    # moved off the deployed threshold first, and only the explorer
    assert module.main([str(binary_run / "report.html"), str(out), "--threshold", "0.05",
                        "--clip-to", "#operating-point"]) == 0
    with Image.open(out) as image:
        assert image.size[0] == WIDTH and 200 < image.size[1] < 1500
