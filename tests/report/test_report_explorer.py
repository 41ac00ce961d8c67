"""The threshold explorer, driven in real Chromium through Playwright.

The live confusion matrix must equal :func:`raretune.metrics.score_predictions` on the same
validation scores. Skips when Playwright or Chromium is missing, unless ``CI`` is set: then it
fails (``.ci/run`` installs Debian's ``chromium``; the ``dev`` extra pins ``playwright``).
Playwright never downloads a browser here: it drives the system Chromium.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil

import numpy as np
import pytest

from raretune.metrics import score_predictions
from raretune.report import write_report
from raretune.report._explorer import compact_scores

WIDTH = 1280


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[dev]')"
    if shutil.which("chromium") is None:
        return "Chromium is not installed (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="module")
def page():
    why = _missing()
    if why is not None:
        if _ci():
            pytest.fail(f"CI is set but {why}.")
        pytest.skip(f"{why}; CI is not set.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                             args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": WIDTH, "height": 900})
        finally:
            browser.close()


class _Explorer:
    """The page's explorer, read and moved the way a user would."""

    def __init__(self, page, report):
        self.page = page
        self.errors, self.urls = [], []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.urls.append(r.url))
        page.goto(report.resolve().as_uri())
        self.report = report

    def threshold(self) -> float:
        return float(self.page.get_attribute("#threshold-explorer", "data-threshold"))

    def value(self, name: str, prefix: str = "explorer-") -> float | None:
        text = self.page.get_attribute(f"#{prefix}{name}", "data-value")
        return None if text == "" else float(text)

    def matrix(self, prefix: str = "explorer-") -> list[list[int]]:
        tn, fp, fn, tp = (int(self.value(c, prefix)) for c in ("tn", "fp", "fn", "tp"))
        return [[tn, fp], [fn, tp]]

    def type_threshold(self, t: float) -> None:
        self.page.fill("#explorer-threshold", repr(t))


def _validation(run):
    with np.load(run / "scores.npz") as npz:
        return npz["validation_y"], npz["validation_score"]


def _check_live_values(explorer, y, score, t, costs):
    expected = score_predictions(y, score, threshold=t, costs=costs)
    assert explorer.matrix() == expected["confusion_matrix"]
    (tn, fp), (fn, tp) = expected["confusion_matrix"]
    assert explorer.value("precision") == pytest.approx(expected["precision"])
    assert explorer.value("recall") == pytest.approx(expected["recall"])
    assert explorer.value("f1") == pytest.approx(expected["f1"])
    assert explorer.value("alert-rate") == pytest.approx((tp + fp) / y.size)
    assert explorer.value("per10k") == pytest.approx(1e4 * (tp + fp) / y.size)
    assert explorer.value("cost-per-row") == pytest.approx(expected["expected_cost"])
    assert explorer.value("cost") == pytest.approx(costs["fn"] * fn + costs["fp"] * fp)


def test_explorer_matches_score_predictions(page, binary_run):
    report = write_report(binary_run)
    metrics = json.loads((binary_run / "metrics.json").read_text())
    y, score = _validation(binary_run)
    costs = metrics["costs"]
    explorer = _Explorer(page, report)
    deployed = metrics["threshold"]["value"]
    assert page.get_attribute("#threshold-explorer", "data-scale") == "log"  # rare positives
    assert explorer.threshold() == pytest.approx(deployed, rel=1e-6)
    assert page.is_disabled("#explorer-reset")
    _check_live_values(explorer, y, score, deployed, costs)
    assert explorer.matrix("explorer-deployed-") == explorer.matrix()

    # typed thresholds: between scores, and exactly on a score (ties are flagged)
    for t in (0.05, float(np.sort(score)[-40]), 0.5):
        explorer.type_threshold(t)
        assert explorer.threshold() == t
        _check_live_values(explorer, y, score, t, costs)

    # the slider, moved with the keyboard as a user would
    page.focus("#explorer-slider")
    page.keyboard.press("Home")
    low = explorer.threshold()
    for _ in range(5):
        page.keyboard.press("PageUp")
    moved = explorer.threshold()
    assert low < moved != pytest.approx(deployed)
    _check_live_values(explorer, y, score, moved, costs)
    assert not page.is_disabled("#explorer-reset")
    # the deployed column does not move with the slider
    assert explorer.matrix("explorer-deployed-") == score_predictions(
        y, score, threshold=deployed)["confusion_matrix"]

    page.click("#explorer-reset")
    assert explorer.threshold() == pytest.approx(deployed, rel=1e-6)
    assert float(page.input_value("#explorer-threshold")) == explorer.threshold()
    _check_live_values(explorer, y, score, deployed, costs)
    assert page.is_disabled("#explorer-reset")

    assert explorer.errors == []
    assert explorer.urls == [report.resolve().as_uri()]  # no network


def test_explorer_quantile_scale_and_refit_threshold(page, make_run):
    run = make_run(n_test=4000, costs={"fn": 20, "fp": 1})
    y, score = _validation(run)
    score = np.round(score ** 0.15, 6)  # most scores well above 0.05: quantile steps
    with np.load(run / "scores.npz") as npz:
        arrays = dict(npz)
    np.savez(run / "scores.npz", **{**arrays, "validation_score": score})
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["data"]["folds"] = 5
    metrics["refit"] = {"n_rows": 9000, "threshold": {"value": 0.61, "rule": "f1"}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    explorer = _Explorer(page, write_report(run))

    assert page.get_attribute("#threshold-explorer", "data-scale") == "quantile"
    assert explorer.threshold() == 0.61  # the refitted model's threshold is the deployed one
    assert "out-of-fold predictions" in page.text_content("#operating-point")
    _check_live_values(explorer, y, score, 0.61, metrics["costs"])
    page.fill("#explorer-slider", "900")  # 90 % of the rows below the threshold
    t = explorer.threshold()
    assert t in set(score.tolist())
    assert np.mean(score < t) == pytest.approx(0.9, abs=0.01)
    _check_live_values(explorer, y, score, t, metrics["costs"])
    page.click("#explorer-reset")
    assert explorer.threshold() == 0.61
    assert explorer.errors == []


def test_explorer_without_costs(page, make_run):
    run = make_run(n_test=1500)  # no costs in metrics.json: no cost rows, no script errors
    y, score = _validation(run)
    explorer = _Explorer(page, write_report(run))
    assert page.query_selector("#explorer-cost") is None
    explorer.type_threshold(0.1)
    assert explorer.matrix() == score_predictions(y, score, threshold=0.1)["confusion_matrix"]
    assert explorer.errors == []


# ----------------------------------------------------------------------------- no browser


def test_compact_scores_keeps_every_count():
    y = np.array([0, 1, 1, 0, 0, 1])
    score = np.array([0.2, 0.9, 0.2, 0.2, 1.234567891e-5, 0.9])
    data = compact_scores(y, score)
    assert data == {"scores": [1.23457e-05, 0.2, 0.9], "neg": [1, 2, 0], "pos": [0, 1, 2]}


def test_multiclass_and_thresholdless_runs_have_no_explorer(multiclass_run, make_run):
    text = write_report(multiclass_run).read_text(encoding="utf-8")
    assert 'id="threshold-explorer"' not in text and "explorer is for binary tasks" in text
    run = make_run(n_test=1500, omit=("scores.npz",))
    text = write_report(run).read_text(encoding="utf-8")
    assert 'id="threshold-explorer"' not in text
    assert "Validation scores (scores.npz): not recorded." in text
