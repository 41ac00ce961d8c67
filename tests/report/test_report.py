"""The report page and the bootstrap intervals, without a browser."""

from __future__ import annotations

import base64
import io
import json
import sys
import time
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import average_precision_score, f1_score

from raretune import ConfigError, DataError, RunStateError
from raretune.report import bootstrap_intervals, write_report
from raretune.report._intervals import _average_precision, _draw_counts

SECTIONS = ("summary", "operating-point", "data", "leaderboard", "trials", "test", "intervals", "training",
            "reproduce")


class _Page(HTMLParser):
    """Collects section ids, images, links, scripts and tagged numbers of a page.

    ``metrics`` and ``computed`` map a ``data-metric``/``data-computed`` name to the texts of
    all the elements carrying it.
    """

    def __init__(self, text):
        super().__init__()
        self.ids, self.images, self.urls, self.scripts = [], [], [], []
        self.metrics, self.computed = {}, {}
        self._open = []  # (attribute kind, name) of tagged elements being read
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        for key in ("src", "href"):
            if key in attrs:
                self.urls.append(attrs[key])
        for kind, target in (("data-metric", self.metrics), ("data-computed", self.computed)):
            if kind in attrs:
                # one entry per occurrence: a number may appear in a card and in a table
                target.setdefault(attrs[kind], []).append("")
                self._open.append((target, attrs[kind], tag))

    def handle_data(self, data):
        if self._open:
            target, name, _ = self._open[-1]
            target[name][-1] += data

    def handle_endtag(self, tag):
        if self._open and self._open[-1][2] == tag:
            self._open.pop()


@pytest.fixture(scope="module")
def binary_report(binary_run):
    path = write_report(binary_run)
    metrics = json.loads((binary_run / "metrics.json").read_text())
    return path, _Page(path.read_text(encoding="utf-8")), metrics


@pytest.fixture(scope="module")
def multiclass_report(multiclass_run):
    path = write_report(multiclass_run)
    metrics = json.loads((multiclass_run / "metrics.json").read_text())
    return path, _Page(path.read_text(encoding="utf-8")), metrics


def _png_size(uri: str) -> tuple[int, int]:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    data = base64.b64decode(uri[len(prefix):], validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size


# ----------------------------------------------------------------------------- binary report


def test_report_has_every_section_and_is_self_contained(binary_report):
    path, page, _ = binary_report
    assert path.name == "report.html"
    for section in SECTIONS:
        assert section in page.ids
    # the explorer's data island and its code, both inline
    assert page.scripts == [{"type": "application/json", "id": "explorer-data"}, {}]
    offsite = [u for u in page.urls if not u.startswith(("data:", "#"))]
    assert offsite == []


def test_report_images_are_png_data_uris(binary_report):
    _, page, _ = binary_report
    alts = [img["alt"] for img in page.images]
    assert alts == ["metrics by threshold", "precision-recall curve", "ROC curve",
                    "confusion matrix", "calibration curve", "score histograms by class",
                    "cumulative capture and lift", "training curves"]
    for img in page.images:
        width, height = _png_size(img["src"])
        assert width > 300 and height > 200


def test_report_shows_every_test_metric_as_in_metrics_json(binary_report, expected_metric_text):
    _, page, metrics = binary_report
    numeric = [k for k, v in metrics["test"].items() if isinstance(v, float)]
    assert {"pr_auc", "roc_auc", "f1", "precision", "recall", "mcc", "threshold"} <= set(numeric)
    paths = [f"test.{k}" for k in numeric] + [
        "threshold.value", "test.intervals.pr_auc.0", "test.intervals.pr_auc.1",
        "test.intervals.f1.0", "test.intervals.f1.1", "calibration.brier_before",
        "calibration.brier_after", "data.n_rows", "data.class_counts.1",
    ]
    for path in paths:
        assert path in page.metrics, path
    # every tagged number, wherever it appears, is the one in metrics.json
    for path, texts in page.metrics.items():
        assert set(texts) == {expected_metric_text(metrics, path)}, path
    assert len(page.metrics["test.pr_auc"]) == 3  # summary card, metrics table, intervals


def test_report_escapes_text_from_the_run(binary_report):
    path, _, _ = binary_report
    text = path.read_text(encoding="utf-8")
    assert "<script>x</script>" not in text
    assert "&lt;script&gt;x&lt;/script&gt;" in text
    assert "raretune run --data tfds:synthetic_fraud" in text
    assert "&#x27;runs/my run&#x27;" in text  # the command, quoted for a shell


def test_report_shows_expected_cost_and_failed_trial(binary_report):
    path, page, metrics = binary_report
    (tn, fp), (fn, tp) = metrics["test"]["confusion_matrix"]
    assert page.computed["test.expected_cost"] == [f"{100 * fn + fp:,}"]
    text = path.read_text(encoding="utf-8")
    assert '<tr class="failed">' in text
    assert "SMOTE needs at least 6 minority samples" in text


def test_write_report_replaces_atomically(make_run):
    run = make_run(n_test=1500)
    first = write_report(run)
    first.write_text("stale")
    second = write_report(run)
    assert second == first
    assert second.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in run.iterdir()) == [
        "history.json", "metrics.json", "report.html", "scores.npz", "trials.json"]


def test_report_leaves_matplotlib_state_alone(make_run):
    import matplotlib

    backend = matplotlib.get_backend()
    rc = dict(matplotlib.rcParams)
    write_report(make_run(n_test=1500))
    assert matplotlib.get_backend() == backend
    assert dict(matplotlib.rcParams) == rc
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []


# ----------------------------------------------------------------------------- multiclass


def test_multiclass_report(multiclass_report, expected_metric_text):
    path, page, metrics = multiclass_report
    alts = [img["alt"] for img in page.images]
    assert alts == ["per-class precision-recall curves", "confusion matrix", "training curves"]
    for img in page.images:
        _png_size(img["src"])
    for name, values in metrics["test"]["per_class"].items():
        for key in ("pr_auc", "precision", "recall", "f1", "support"):
            p = f"test.per_class.{name}.{key}"
            assert set(page.metrics[p]) == {expected_metric_text(metrics, p)}
    assert set(page.metrics["test.pr_auc"]) == {expected_metric_text(metrics, "test.pr_auc")}
    assert "threshold.value" not in page.metrics
    assert page.scripts == []
    text = path.read_text(encoding="utf-8")
    assert "transfer &amp; &lt;wire&gt;" in text
    assert "binary tasks only" in text


# ----------------------------------------------------------------------------- missing files


def test_missing_optional_files_say_not_recorded(make_run):
    run = make_run(n_test=1500, omit=("scores.npz", "history.json", "trials.json"))
    page_text = write_report(run).read_text(encoding="utf-8")
    page = _Page(page_text)
    for section in SECTIONS:
        assert section in page.ids
    assert page_text.count("not recorded") >= 3
    assert "Trials (trials.json): not recorded" in page_text
    assert "Training history (history.json): not recorded" in page_text
    assert "Test scores (scores.npz), needed for the curves: not recorded" in page_text
    # the confusion matrix comes from metrics.json alone
    assert [img["alt"] for img in page.images] == ["confusion matrix"]


def test_intervals_are_computed_when_metrics_json_has_none(make_run):
    run = make_run(n_test=3000, with_intervals=False)
    page = _Page(write_report(run).read_text(encoding="utf-8"))
    assert "test.intervals.pr_auc.0" not in page.metrics
    low, high = (float(page.computed[f"intervals.pr_auc.{i}"][0]) for i in (0, 1))
    assert low <= float(page.metrics["test.pr_auc"][0]) <= high


def test_missing_metrics_json_is_a_run_state_error(tmp_path):
    with pytest.raises(RunStateError, match="has no metrics.json"):
        write_report(tmp_path)
    with pytest.raises(RunStateError, match="does not exist"):
        write_report(tmp_path / "nope")


# ----------------------------------------------------------------------------- bootstrap


def _scores(n, seed=0, rate=0.02):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    y[:2] = [0, 1]
    score = 1 / (1 + np.exp(-np.where(y == 1, rng.normal(0, 1.5, n), rng.normal(-3, 1, n))))
    return y, np.round(score, 4)


def test_average_precision_matches_sklearn_with_weights():
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0])
    score = np.array([.9, .8, .8, .7, .6, .6, .6, .5, .4, .4, .3, .3, .3, .2, .2, .1, .1, .1, .05, .0])
    weights = np.array([2, 0, 1, 1, 3, 1, 0, 1, 1, 2, 1, 1, 0, 1, 2, 1, 1, 1, 1, 1])
    order = np.argsort(-score, kind="stable")
    s, yy, w = score[order], y[order], weights[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    tp = np.cumsum(w * yy)[ends][None]
    fp = np.cumsum(w * (1 - yy))[ends][None]
    expected = average_precision_score(y, score, sample_weight=weights)
    assert _average_precision(tp.astype(float), fp.astype(float), (w * yy).sum()) == \
        pytest.approx([expected], abs=1e-12)


def test_resamples_keep_the_class_counts():
    counts = _draw_counts(np.random.default_rng(0), 7, 5)
    assert counts.shape == (7, 5)
    assert counts.sum(axis=1).tolist() == [5] * 7


def test_intervals_contain_the_point_estimate():
    y, score = _scores(5000)
    iv = bootstrap_intervals(y, score, 0.4, n_resamples=400)
    assert set(iv) == {"pr_auc", "f1", "level", "n_resamples"}
    assert iv["level"] == 0.95 and iv["n_resamples"] == 400
    assert iv["pr_auc"][0] < average_precision_score(y, score) < iv["pr_auc"][1]
    assert iv["f1"][0] < f1_score(y, score >= 0.4) < iv["f1"][1]


def test_intervals_shrink_with_more_data():
    small = bootstrap_intervals(*_scores(2000, seed=1), 0.4, n_resamples=300)
    large = bootstrap_intervals(*_scores(20000, seed=1), 0.4, n_resamples=300)
    for key in ("pr_auc", "f1"):
        assert np.diff(large[key])[0] < 0.6 * np.diff(small[key])[0]


def test_intervals_are_reproducible():
    y, score = _scores(3000)
    a = bootstrap_intervals(y, score, 0.4, n_resamples=200, random_state=3)
    b = bootstrap_intervals(y, score, 0.4, n_resamples=200, random_state=3)
    c = bootstrap_intervals(y, score, 0.4, n_resamples=200, random_state=4)
    assert a == b
    assert a != c
    narrow = bootstrap_intervals(y, score, 0.4, n_resamples=200, random_state=3, level=0.5)
    assert a["pr_auc"][0] < narrow["pr_auc"][0] < narrow["pr_auc"][1] < a["pr_auc"][1]


def test_intervals_are_fast_enough():
    y, score = _scores(30_000, rate=0.003)
    start = time.process_time()
    bootstrap_intervals(y, score, 0.3, n_resamples=1000)
    # CPU time rather than wall time: a busy shared machine should not fail this
    assert time.process_time() - start < 2.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"y_true": [0, 0, 0]}, DataError, r"both classes 0 and 1.*Got labels \[0\]"),
        ({"y_true": [0, 1, 2]}, DataError, r"Got labels \[0, 1, 2\]"),
        ({"score": [0.1, 0.2]}, DataError, r"same length. Got shapes \(3,\) and \(2,\)"),
        ({"score": [0.1, np.nan, 0.3]}, DataError, "finite"),
        ({"level": 1.0}, ConfigError, r"'level' parameter of bootstrap_intervals must be a float in \(0, 1\)"),
        ({"n_resamples": 0}, ConfigError, r"'n_resamples' parameter .* int in \[1, inf\)"),
        ({"threshold": "high"}, ConfigError, "'threshold' parameter"),
    ],
)
def test_intervals_reject_bad_input(kwargs, error, message):
    args = {"y_true": [0, 1, 0], "score": [0.1, 0.9, 0.3], "threshold": 0.5, **kwargs}
    with pytest.raises(error, match=message):
        bootstrap_intervals(args.pop("y_true"), args.pop("score"), args.pop("threshold"), **args)


def test_cross_fitted_ensemble_and_refit_are_reported(make_run, expected_metric_text):
    run = make_run()
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["data"]["folds"] = 5
    metrics["data"]["n_validation"] = 0
    metrics["ensemble"] = {"candidates": 10, "validation_score": 0.8, "members": [
        {"trial_id": "03", "strategy": "smote", "weight": 3}, {"trial_id": "07", "strategy": "none", "weight": 1}]}
    metrics["refit"] = {"n_rows": 1234, "folds": 5, "members": [], "validation_score": 0.7,
                        "calibration": metrics["calibration"], "threshold": {"value": 0.3125, "rule": "f1", "target": None}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    page = _Page(write_report(run).read_text(encoding="utf-8"))
    text = page.text if hasattr(page, "text") else (run / "report.html").read_text(encoding="utf-8")
    assert "ensemble of 2 trials" in text and "none, smote" in text
    assert "5-fold cross-fitted" in text
    assert "never saw the test rows" in text
    for path in ("refit.n_rows", "refit.threshold.value"):
        assert set(page.metrics[path]) == {expected_metric_text(metrics, path)}, path


def test_converged_members_are_named(make_run):
    run = make_run()
    metrics = json.loads((run / "metrics.json").read_text())
    linear = {"trial_id": None, "model": "logistic_regression", "C": 0.1, "strategy": "class_weight"}
    metrics["ensemble"] = {"candidates": 14, "validation_score": 0.8, "members": [
        {"trial_id": "03", "strategy": "smote", "weight": 3}, {**linear, "weight": 2}, {**linear, "C": 1.0, "weight": 1}]}
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = write_report(run).read_text(encoding="utf-8")
    assert "ensemble of 1 trial + 2 logistic regressions" in text
    metrics["ensemble"]["members"] = [{**linear, "weight": 5}]
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = write_report(run).read_text(encoding="utf-8")
    assert "logistic regression" in text and "C=0.1" in text and "ensemble of" not in text
    metrics["ensemble"]["members"] = [{"trial_id": "03", "strategy": "smote", "weight": 3},
                                      {"trial_id": None, "model": "boosted_trees", "config": "default", "strategy": "class_weight", "weight": 2}]
    (run / "metrics.json").write_text(json.dumps(metrics))
    assert "ensemble of 1 trial + 1 boosted-trees model" in write_report(run).read_text(encoding="utf-8")


def test_verdict_compares_remedies_not_converged_models(make_run):
    run = make_run()
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["leaderboard"] = [
        {"name": "smote", "kind": "remedy", "trial_id": "01", "validation_pr_auc": 0.40},
        {"name": "boosted trees (default)", "kind": "converged", "validation_pr_auc": 0.90},
        {"name": "hist_gradient_boosting", "kind": "baseline", "validation_pr_auc": 0.50},
    ]
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = write_report(run).read_text(encoding="utf-8")
    assert "the baseline beats every remedy" in text and "boosted trees (default)" in text


def test_text_from_the_data_never_reaches_mathtext(make_run):
    """Class names with "$" are text (matplotlib would parse "$x^$" as TeX and fail), while the
    log axes keep their mathtext tick labels."""
    run = make_run(n_test=1500)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["task"]["classes"] = ["$ok^{$", "$x_$"]
    (run / "metrics.json").write_text(json.dumps(metrics))
    from raretune.report._plots import plain_text

    assert plain_text("$x_$") == r"\$x_\$"
    assert "report.html" in str(write_report(run))
