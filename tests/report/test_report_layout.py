"""The report's layout at 1280 px, measured in real Chromium through Playwright.

Every summary card's label, value and detail holds on one line, and every leaderboard
column says which way is better and in what unit. Skips like the explorer's test when
Playwright or Chromium is missing (fails under ``CI``).
"""

from __future__ import annotations

import json
import shutil

import pytest

from raretune.report import write_report
from raretune.report._html_search import _column_header

from test_report_explorer import page  # noqa: F401 - the same Playwright page at 1280 px

# each line of each card: does it spill out of its box, and how many lines does it take?
_CARD_LINES = """() => [...document.querySelectorAll('#summary .card')].flatMap(card =>
  [...card.children].map(part => {
    const style = getComputedStyle(part);
    const lineHeight = parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize);
    return {card: card.querySelector('.label').textContent, part: part.className,
            text: part.textContent, scroll: part.scrollWidth, client: part.clientWidth,
            lines: part.getBoundingClientRect().height / lineHeight};
  }))"""


def _bad(lines) -> list:
    return [line for line in lines if line["scroll"] > line["client"] or line["lines"] > 1.5]


def _realistic(source, target):
    """A copy of a fixture run with what a real run adds: an ensemble, an alert capacity, a refit."""
    run = shutil.copytree(source, target)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["ensemble"] = {"candidates": 13, "validation_score": 0.2345, "members": [
        {"trial_id": "0003", "strategy": "class_weight", "weight": 3},
        {"trial_id": "0007", "strategy": "focal", "weight": 1},
        {"trial_id": "0011", "strategy": "balanced_bagging", "weight": 1},
        {"trial_id": None, "strategy": "none", "model": "logistic_regression", "C": 1.0, "weight": 2},
        {"trial_id": None, "strategy": "none", "model": "boosted_trees", "config": "depth 3", "weight": 1}]}
    if metrics.get("threshold"):
        metrics["threshold"].update(rule="alerts", target=0.0123, capacity={
            "alerts": 1250.0, "period": "month", "alert_share": 0.0123, "rows_per_period": 101_626.0,
            "span_periods": 11.9, "n_rows": 1_209_350, "validation_alert_share": 0.01231,
            "validation_alerts_per_period": 1251.3})
        metrics["refit"] = {"n_rows": 1_209_350, "threshold": {"value": 0.0123, "rule": "alerts"}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    return write_report(run)


@pytest.fixture(scope="module")
def reports(binary_run, multiclass_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("layout")
    return {"binary": _realistic(binary_run, root / "binary"),
            "multiclass": _realistic(multiclass_run, root / "multiclass")}


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_summary_cards_hold_on_one_line(page, reports, kind):  # noqa: F811
    page.goto(reports[kind].resolve().as_uri())
    lines = page.evaluate(_CARD_LINES)
    cards = {line["card"].replace(" (macro)", "") for line in lines}
    assert {"test PR-AUC", "chosen model"} <= cards
    if kind == "binary":
        assert {"threshold", "alert capacity", "expected cost (test)", "test precision"} <= cards
    assert _bad(lines) == []
    # the ensemble's make-up, too long for a card, is in the note under the cards
    assert "an ensemble of 3 trials + 1 logistic regression + 1 boosted-trees model" in page.inner_text("#summary")


def test_the_longest_model_names_fit_a_card(page, reports):  # noqa: F811
    """A single chosen model is named on its card: the longest names fit too."""
    page.goto(reports["binary"].resolve().as_uri())
    for name in ("balanced_bagging", "logistic regression", "boosted-trees model"):
        page.evaluate("name => { const cards = [...document.querySelectorAll('#summary .card')];"
                      " cards.find(c => c.textContent.startsWith('chosen model'))"
                      "      .querySelector('.value').textContent = name; }", name)
        assert _bad(page.evaluate(_CARD_LINES)) == [], name


def test_checks_catch_a_wrapped_card(page, reports):  # noqa: F811
    """The measure above is not vacuous: a detail too long for its card is seen."""
    page.goto(reports["binary"].resolve().as_uri())
    page.evaluate("() => { document.querySelector('#summary .card .detail').textContent ="
                  " 'a detail far too long to hold on one line of a card at this width'; }")
    assert len(_bad(page.evaluate(_CARD_LINES))) == 1


def test_leaderboard_headers_carry_direction_and_unit(page, reports):  # noqa: F811
    page.goto(reports["binary"].resolve().as_uri())
    headers = page.evaluate("() => [...document.querySelectorAll('#leaderboard th')].map(th => th.textContent)")
    expected = {"validation objective: PR-AUC ↑", "validation PR-AUC ↑", "test PR-AUC ↑", "time (s) ↓"}
    assert expected <= set(headers)
    scored = [h for h in headers if any(w in h for w in ("AUC", "F1", "cost", "recall", "objective"))]
    assert scored and all(h.endswith(("↑", "↓")) for h in scored)


@pytest.mark.parametrize("objective, key, header", [
    ({"name": "val_cost", "objective": "cost", "direction": "min"}, "validation_score",
     "validation objective: cost per row ↓"),
    ({"name": "val_recall_at_precision", "objective": "recall_at_precision", "direction": "max",
      "precision": 0.9}, "test_score", "test objective: recall at precision 0.9 ↑"),
    ({"name": "val_f1", "objective": "f1", "direction": "max"}, "validation_score", "validation objective: best F1 ↑"),
    ({}, "seconds", "time (s) ↓"),
    ({}, "trial_id", "trial"),
])
def test_column_headers_of_every_objective(objective, key, header):
    assert _column_header(key, objective) == header
