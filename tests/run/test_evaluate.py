"""``raretune evaluate``: a labelled batch scored with a finished run, compared with its test set."""

import hashlib
import json
import math
import re
from html import unescape

import numpy as np
import pandas as pd
import pytest

import raretune
from raretune import DataError, RunStateError
from raretune.cli import main
from raretune.datasets import read_rows
from raretune.metrics import score_predictions
from raretune.run._evaluate import evaluate, population_stability
from raretune.run._evaluation_html import render_evaluation
from tests.conftest import make_frame


def _checksums(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("evaluate")
    result = raretune.run(data=make_frame(n=1500), target="label", max_trials=1, max_epochs=1, folds=1,
                          baseline=False, quiet=True, out=base / "run")
    return result.out, _checksums(result.out)


def _shifted_batch():
    """Half positives (the run's test set has about 12%) and the strongest feature moved up."""
    big = make_frame(n=8000, seed=12)
    positives = big[big["label"] == "fraud"]
    batch = pd.concat([positives, big[big["label"] == "ok"].iloc[:len(positives)]]).sample(frac=1, random_state=0)
    batch["a"] = batch["a"] + 1.0
    return batch


def _shown(html):
    """``{data-metric path: shown text}`` of a page."""
    return {m.group(1): unescape(m.group(2)) for m in re.finditer(r'data-metric="([^"]+)">([^<]*)<', html)}


def test_psi_matches_the_formula_on_a_small_case():
    # deciles of 0..9 put one reference value in each of 10 bins (10% each)
    psi = population_stability(np.arange(10.0), [0.0, 0.0, 0.0, 9.0])
    shares = [b["actual"] for b in psi["bins"]]
    assert shares == [0.75] + [0.0] * 8 + [0.25]
    assert [b["expected"] for b in psi["bins"]] == pytest.approx([0.1] * 10)
    expected = 0.65 * math.log(7.5) + 0.15 * math.log(2.5) + 8 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    assert psi["value"] == pytest.approx(expected)
    assert psi["reading"] == "major shift"
    assert psi["bins"][0]["low"] is None and psi["bins"][-1]["high"] is None
    assert population_stability(np.arange(10.0), np.arange(10.0))["value"] == pytest.approx(0.0)


def test_psi_with_tied_reference_scores_uses_fewer_bins():
    psi = population_stability([0.2] * 8 + [0.9, 0.9], [0.2, 0.9])
    assert len(psi["bins"]) < 10
    assert sum(b["expected"] for b in psi["bins"]) == pytest.approx(1.0)


def test_same_distribution_metrics_equal_direct_scores_and_psi_is_small(trained, tmp_path):
    run_dir, _ = trained
    batch = make_frame(n=3000, seed=11)
    result = evaluate(run_dir, batch, out=tmp_path / "ev")

    loaded = raretune.load_run(run_dir)
    rows = read_rows(batch, loaded["modality"].reference(loaded["classes"], loaded["target"]))
    direct = score_predictions(rows.y, raretune.predict(run_dir, batch)["score"].to_numpy(),
                               threshold=loaded["threshold"])
    for key, value in direct.items():
        assert result["metrics"][key] == (pytest.approx(value, nan_ok=True) if isinstance(value, float) else value)
    assert result["threshold"] == loaded["threshold"]
    low, high = result["metrics"]["intervals"]["pr_auc"]
    assert low <= direct["pr_auc"] <= high
    assert result["metrics"]["decision_intervals"]["recall"]["value"] == pytest.approx(direct["recall"])
    test = loaded["metrics"]["test"]
    assert result["change"]["pr_auc"]["delta"] == pytest.approx(direct["pr_auc"] - test["pr_auc"])
    assert result["change"]["f1"]["run"] == test["f1"]
    assert result["psi"]["value"] < 0.1 and result["psi"]["reading"] == "stable"
    assert abs(result["positive_rate"]["delta"]) < 0.05

    saved = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert saved["metrics"]["pr_auc"] == pytest.approx(direct["pr_auc"])
    shown = _shown((tmp_path / "ev" / "evaluation.html").read_text())
    assert shown["metrics.pr_auc"] == f"{direct['pr_auc']:.4f}"
    assert shown["psi.value"] == f"{result['psi']['value']:.4f}"
    assert shown["metrics.confusion_matrix.1.1"] == f"{direct['confusion_matrix'][1][1]:,}"
    assert shown["change.recall.delta"] == f"{result['change']['recall']['delta']:+.4f}"


def test_shifted_batch_has_a_large_psi_and_a_positive_rate_shift(trained, tmp_path):
    run_dir, _ = trained
    result = evaluate(run_dir, _shifted_batch(), out=tmp_path / "ev")
    assert result["psi"]["value"] > 0.25 and result["psi"]["reading"] == "major shift"
    run_rate = raretune.load_run(run_dir)["metrics"]["test"]["positive_rate"]
    assert result["positive_rate"] == {"run": run_rate, "batch": 0.5, "delta": pytest.approx(0.5 - run_rate)}
    assert result["class_shares"]["batch"] == {"ok": 0.5, "fraud": 0.5}


def test_label_column_named_by_target(trained, tmp_path):
    run_dir, _ = trained
    batch = make_frame(n=400, seed=5)
    renamed = batch.rename(columns={"label": "outcome"})
    with pytest.raises(DataError, match="no labels in column 'label'"):
        evaluate(run_dir, renamed, out=tmp_path / "none")
    result = evaluate(run_dir, renamed, target="outcome", out=tmp_path / "ev")
    assert result["label_column"] == "outcome"
    assert result["rows"]["labelled"] == 400
    assert not (tmp_path / "none").exists()


def test_unknown_labels_and_missing_column_are_one_line_errors(trained, tmp_path, capsys):
    run_dir, _ = trained
    batch = make_frame(n=200, seed=6)
    strange = batch.assign(label="chargeback")
    with pytest.raises(DataError, match="Every label in column 'label' .* is unknown to the run"):
        evaluate(run_dir, strange, out=tmp_path / "ev")
    csv = tmp_path / "nolabel.csv"
    batch.drop(columns="label").to_csv(csv, index=False)
    assert main(["evaluate", str(run_dir), str(csv), "--out", str(tmp_path / "ev")]) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("[raretune]")]
    assert len(err) == 1 and err[0].startswith("raretune: error: ") and "no labels in column 'label'" in err[0]
    assert not (tmp_path / "ev").exists()


def test_out_inside_the_run_folder_is_refused(trained):
    run_dir, checksums = trained
    for out in (run_dir, run_dir / "evaluation"):
        with pytest.raises(RunStateError, match="inside the raretune run") as info:
            evaluate(run_dir, make_frame(n=200, seed=7), out=out)
        assert "\n" not in str(info.value)
    assert not (run_dir / "evaluation").exists()
    assert _checksums(run_dir) == checksums


def test_cli_default_folder_is_beside_the_run_and_the_run_is_unchanged(trained, tmp_path, capsys):
    run_dir, checksums = trained
    csv = tmp_path / "batch.csv"
    make_frame(n=600, seed=8).to_csv(csv, index=False)
    assert main(["evaluate", str(run_dir), str(csv)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) in (5, 6) and lines[0].startswith("evaluation: ")  # 6: a prevalence warning
    assert lines[1].startswith("PR-AUC ") and "[" in lines[1]
    assert lines[2].startswith("at threshold ") and "precision" in lines[2] and "recall" in lines[2]
    assert lines[3].startswith("score PSI ") and lines[4].startswith("positive rate estimated from the scores ")
    page = lines[0].removeprefix("evaluation: ")
    folder = run_dir.parent / page.split("/")[-2]
    assert folder.name.startswith(f"{run_dir.name}-evaluation-") and (folder / "evaluation.json").is_file()
    assert _checksums(run_dir) == checksums


def test_page_escapes_every_text():
    record = {"run": "<b>run</b>", "data": "x<script>alert(1)</script>.csv", "label_column": "<i>",
              "created": "now", "task": {"type": "binary", "classes": ["<ok>", "&fraud"]},
              "rows": {"n": 2, "labelled": 2, "unlabelled": 0}, "notes": ["<note>"], "threshold": 0.5,
              "metrics": {"pr_auc": 1.0, "confusion_matrix": [[1, 0], [0, 1]]},
              "class_shares": {"run": {"<ok>": 0.5, "&fraud": 0.5}, "batch": {"<ok>": 0.5, "&fraud": 0.5}},
              "psi": None, "change": {}}
    html = render_evaluation(record)
    assert "<script>" not in html and "<b>run" not in html and "<note>" not in html and "<ok>" not in html
    assert "&lt;script&gt;" in html and "&amp;fraud" in html
    assert _shown(html)["metrics.pr_auc"] == "1.0000"


def test_multiclass_metrics_have_no_threshold_intervals_and_one_psi_per_class(tmp_path):
    from raretune.run._evaluate import _batch_metrics, _psi

    rng = np.random.default_rng(0)
    classes = ["a", "b", "rare"]
    y = rng.integers(0, 3, size=300)
    score = rng.dirichlet([1, 1, 1], size=300)
    metrics = _batch_metrics(y, score, None, classes, {"fn": 5, "fp": 1})
    assert metrics["pr_auc"] == pytest.approx(score_predictions(y, score, class_names=classes)["pr_auc"])
    assert "intervals" not in metrics and "decision_intervals" not in metrics and "cost" not in metrics
    assert set(metrics["per_class"]) == set(classes)
    np.savez(tmp_path / "scores.npz", test_score=score)
    moved = score.copy()
    moved[:, 2] = moved[:, 2] ** 4  # only the third class's score shifts
    psi = _psi(tmp_path, moved, classes)
    assert list(psi["per_class"]) == classes
    assert psi["per_class"]["a"]["value"] == pytest.approx(0.0)
    assert psi["value"] == psi["per_class"]["rare"]["value"] > 0.25
    html = render_evaluation({"run": "r", "data": "d", "label_column": "y", "created": "now",
                              "task": {"type": "multiclass", "classes": classes}, "rows": {"labelled": 300},
                              "metrics": metrics, "psi": psi, "change": {}})
    assert _shown(html)["psi.per_class.rare.value"] == f"{psi['value']:.4f}"


def test_a_batch_without_positives_has_no_bootstrap_interval():
    from raretune.run._evaluate import _batch_metrics

    y = np.zeros(50, dtype=int)
    score = np.linspace(0, 1, 50)
    metrics = _batch_metrics(y, score, 0.5, ["ok", "fraud"], None)
    assert metrics["intervals"] is None and math.isnan(metrics["pr_auc"])
    assert metrics["alert_rate"] == pytest.approx(0.5)
    assert metrics["decision_intervals"]["alert_rate"]["successes"] == 25


def test_base_rate_estimated_from_scores_and_a_warning_when_training_lies_outside(trained, tmp_path, capsys):
    from raretune.prevalence import estimate_prevalence

    run_dir, _ = trained
    batch = _shifted_batch()
    result = evaluate(run_dir, batch, out=tmp_path / "ev")
    prevalence = result["prevalence"]
    train = raretune.load_run(run_dir)["metrics"]["data"]["positive_rate"]
    # the EM estimate of every scored row, beside the labelled rate
    expected = estimate_prevalence(raretune.predict(run_dir, batch)["score"].to_numpy(), train_prevalence=train,
                                   random_state=0)
    assert prevalence["estimated"] == pytest.approx(expected["prevalence"])
    assert prevalence["labelled"] == 0.5 and prevalence["train"] == train
    low, high = prevalence["interval"]
    assert low <= prevalence["estimated"] <= high
    # half positives against about 12 % in training: the estimate moves far above training's rate
    assert low > train and prevalence["estimated"] > 2 * train
    assert prevalence["warning"] and result["warnings"] == [prevalence["warning"]]
    assert "differs from training" in prevalence["warning"]
    saved = json.loads((result["out"] / "evaluation.json").read_text())
    assert saved["prevalence"]["interval"] == [low, high]
    html = (result["out"] / "evaluation.html").read_text()
    assert 'id="warnings"' in html and _shown(html)["prevalence.estimated"] == f"{prevalence['estimated']:.4f}"
    batch.to_csv(tmp_path / "batch.csv", index=False)
    assert main(["evaluate", str(run_dir), str(tmp_path / "batch.csv"), "--out", str(tmp_path / "ev2")]) == 0
    out = capsys.readouterr().out
    assert "positive rate estimated from the scores" in out and f"warning: {prevalence['warning']}" in out
