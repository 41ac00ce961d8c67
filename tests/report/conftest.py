"""Fake run folders shaped like those of ``raretune run`` (see docs/run-folder.md)."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from raretune.metrics import threshold_sweep
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

OPTIONAL_FILES = ("scores.npz", "history.json", "trials.json")


def _binary_scores(rng, n, rate):
    y = (rng.random(n) < rate).astype(np.int64)
    y[:2] = [0, 1]  # both classes, whatever the seed
    # a model that ranks positives higher but is over-confident before calibration
    logit = np.where(y == 1, rng.normal(-1.2, 1.5, n), rng.normal(-4.8, 1.1, n))
    raw = 1 / (1 + np.exp(-(1.6 * logit + 1.5)))
    calibrated = 1 / (1 + np.exp(-logit))
    return y, np.round(calibrated, 6), np.round(raw, 6)


def _binary_metrics(y, score, threshold):
    pred = (score >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    recall = recall_score(y, pred, zero_division=0)
    specificity = tn / (tn + fp)
    return {
        "pr_auc": float(average_precision_score(y, score)),
        "roc_auc": float(roc_auc_score(y, score)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall),
        "mcc": float(matthews_corrcoef(y, pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "g_mean": float(np.sqrt(recall * specificity)),
        "threshold": float(threshold),
        "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
    }


def _multiclass_scores(rng, n, priors):
    k = len(priors)
    y = rng.choice(k, size=n, p=priors)
    y[:k] = np.arange(k)
    logits = rng.normal(0, 1, (n, k)) + np.log(priors)
    logits[np.arange(n), y] += rng.normal(2.2, 1.0, n)
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba


def _multiclass_metrics(y, proba, names):
    pred = proba.argmax(axis=1)
    k = len(names)
    per_class = {}
    for i, name in enumerate(names):
        target = (y == i).astype(int)
        per_class[name] = {
            "pr_auc": float(average_precision_score(target, proba[:, i])),
            "precision": float(precision_score(target, pred == i, zero_division=0)),
            "recall": float(recall_score(target, pred == i, zero_division=0)),
            "f1": float(f1_score(target, pred == i, zero_division=0)),
            "support": int(target.sum()),
        }
    return {
        "pr_auc": float(np.mean([v["pr_auc"] for v in per_class.values()])),
        "roc_auc": float(roc_auc_score(y, proba, multi_class="ovr", average="macro")),
        "f1": float(f1_score(y, pred, average="macro")),
        "precision": float(precision_score(y, pred, average="macro", zero_division=0)),
        "recall": float(recall_score(y, pred, average="macro")),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "confusion_matrix": confusion_matrix(y, pred, labels=list(range(k))).tolist(),
        "per_class": per_class,
    }


def _counts(y, names):
    return {name: int(np.sum(y == i)) for i, name in enumerate(names)}


def build_run(
    path: pathlib.Path,
    *,
    multiclass: bool = False,
    n_test: int = 30_000,
    seed: int = 0,
    omit: tuple[str, ...] = (),
    with_intervals: bool = True,
    costs: dict | None = None,
) -> pathlib.Path:
    """Write a realistic run folder into ``path`` and return it.

    ``omit`` names optional files not to write; ``with_intervals=False`` leaves
    ``test.intervals`` out of metrics.json (the report then computes them).
    """
    from raretune.report import bootstrap_intervals

    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    n_val = n_test
    if multiclass:
        names = ["card_present", "online", "atm", "transfer & <wire>"]
        priors = np.array([0.90, 0.07, 0.025, 0.005])
        y_val, s_val = _multiclass_scores(rng, n_val, priors)
        y_test, s_test = _multiclass_scores(rng, n_test, priors)
        raw_val, raw_test = s_val, s_test
        validation = _multiclass_metrics(y_val, s_val, names)
        test = _multiclass_metrics(y_test, s_test, names)
        task = {"type": "multiclass", "target": "channel", "classes": names, "positive": None}
        threshold = None
        calibration = {"method": "none"}
    else:
        names = ["0", "1"]
        rate = 0.004
        y_val, s_val, raw_val = _binary_scores(rng, n_val, rate)
        y_test, s_test, raw_test = _binary_scores(rng, n_test, rate)
        thresholds, tp, fp = threshold_sweep(y_val, s_val)
        f1s = 2 * tp / (2 * tp + fp + (tp[-1] - tp))
        threshold = float(thresholds[int(np.argmax(f1s))])
        validation = _binary_metrics(y_val, s_val, threshold)
        test = _binary_metrics(y_test, s_test, threshold)
        if with_intervals:
            test["intervals"] = bootstrap_intervals(y_test, s_test, threshold, n_resamples=200)
        task = {"type": "binary", "target": "is_fraud", "classes": names, "positive": "1"}
        calibration = {
            "method": "platt",
            "brier_before": float(brier_score_loss(y_test, raw_test)),
            "brier_after": float(brier_score_loss(y_test, s_test)),
            "log_loss_before": float(log_loss(y_test, raw_test)),
            "log_loss_after": float(log_loss(y_test, s_test)),
        }
    n_train = 4 * n_test
    y_train = rng.choice(len(names), size=n_train, p=np.bincount(y_test) / n_test)
    split_counts = {
        "train": _counts(y_train, names),
        "validation": _counts(y_val, names),
        "test": _counts(y_test, names),
    }
    class_counts = {c: sum(split_counts[s][c] for s in split_counts) for c in names}
    n_rows = n_train + n_val + n_test
    strategies = ["none", "class_weight", "random_over", "smote", "focal_loss"]
    trials = []
    for i in range(12):
        strategy = strategies[i % len(strategies)]
        status = "FAILED" if i == 5 else "COMPLETED"
        trials.append({
            "trial_id": f"{i:02d}",
            "status": status,
            "score": None if status == "FAILED" else float(0.2 + 0.25 * rng.random()),
            "hyperparameters": {
                "strategy": strategy, "units": int(rng.choice([32, 64, 128])),
                "layers": int(rng.integers(1, 4)), "dropout": float(rng.choice([0.0, 0.2, 0.4])),
                "learning_rate": float(10 ** rng.uniform(-4, -2)), "batch_size": 2048,
                "tuner/epochs": 8, "tuner/bracket": 1,
            },
            "seconds": float(5 + 30 * rng.random()),
            "message": ("ValueError: SMOTE needs at least 6 minority samples per batch; "
                        "got k_neighbors=5 with 3 minority samples <script>x</script>")
            if status == "FAILED" else "",
        })
    best = max((t for t in trials if t["score"] is not None), key=lambda t: t["score"])
    leaderboard = []
    for strategy in strategies:
        done = [t for t in trials if t["hyperparameters"]["strategy"] == strategy and t["score"]]
        if done:
            top = max(done, key=lambda t: t["score"])
            leaderboard.append({"name": strategy, "kind": "remedy", "trial_id": top["trial_id"],
                                "validation_pr_auc": top["score"],
                                "validation_score": top["score"], "seconds": top["seconds"]})
    leaderboard.sort(key=lambda r: -r["validation_pr_auc"])
    leaderboard.append({"name": "hist_gradient_boosting", "kind": "baseline",
                        "validation_pr_auc": 0.3312, "test_pr_auc": 0.3187, "seconds": 3.0})
    metrics = {
        "raretune_version": "0.1.0",
        "created": "2026-11-28T17:00:00+00:00",
        "command": ["raretune", "run", "--data", "tfds:synthetic_fraud", "--target",
                    task["target"], "--out", "runs/my run", "--fast"],
        "versions": {"python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1",
                     "keras_tuner": "1.4.8", "scikit_learn": "1.9.1",
                     "imbalanced_learn": "0.14.2"},
        "seconds": 123.4,
        "task": task,
        "data": {
            "source": "tfds:synthetic_fraud",
            "n_rows": n_rows, "n_train": n_train, "n_validation": n_val, "n_test": n_test,
            "class_counts": class_counts,
            "split_class_counts": split_counts,
            "positive_rate": None if multiclass else class_counts["1"] / n_rows,
            "imbalance_ratio": max(class_counts.values()) / max(min(class_counts.values()), 1),
            "columns": {"numeric": ["amount", "hour", "merchant_risk", "distance_km",
                                    "account_age_days", "n_tx_24h"],
                        "categorical": ["channel", "country", "device_type"]},
            "notes": ["column 'distance_km': 412 missing values imputed with the training median",
                      "column 'customer_id' dropped: an identifier (unique per row)"],
        },
        "search": {"tuner": "hyperband", "objective": {"name": "val_pr_auc", "direction": "max"},
                   "max_trials": 12, "max_epochs": 8, "n_trials": 12, "n_failed": 1,
                   "seconds": 300.0, "strategies": strategies},
        "best": {"trial_id": best["trial_id"], "strategy": best["hyperparameters"]["strategy"],
                 "hyperparameters": best["hyperparameters"], "validation_score": best["score"]},
        "threshold": None if threshold is None else {"value": threshold, "rule": "f1"},
        "calibration": calibration,
        "validation": validation,
        "test": test,
        "leaderboard": leaderboard,
    }
    if costs is not None:
        metrics["costs"] = costs
    (path / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if "scores.npz" not in omit:
        np.savez(path / "scores.npz", validation_y=y_val, test_y=y_test,
                 validation_score=s_val, test_score=s_test,
                 validation_score_raw=raw_val, test_score_raw=raw_test)
    if "history.json" not in omit:
        epochs = 8
        decay = np.exp(-np.arange(epochs) / 3)
        history = {
            "loss": (0.05 + 0.3 * decay).tolist(),
            "val_loss": (0.06 + 0.28 * decay + 0.004 * np.arange(epochs)).tolist(),
            "pr_auc": (0.5 - 0.35 * decay).tolist(),
            "val_pr_auc": (0.42 - 0.3 * decay).tolist(),
            "recall": (0.6 - 0.4 * decay).tolist(),
            "val_recall": (0.55 - 0.4 * decay).tolist(),
            "learning_rate": [0.001] * epochs,
        }
        (path / "history.json").write_text(json.dumps(history))
    if "trials.json" not in omit:
        (path / "trials.json").write_text(json.dumps(trials, indent=2))
    return path


@pytest.fixture(scope="session")
def binary_run(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("binary_run"), costs={"fn": 100, "fp": 1})


@pytest.fixture(scope="session")
def multiclass_run(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("multiclass_run"), multiclass=True, n_test=6000)


@pytest.fixture
def make_run(tmp_path):
    """``make_run(**options)``: a fresh run folder under the test's tmp_path."""
    counter = iter(range(1000))

    def make(**options):
        return build_run(tmp_path / f"run{next(counter)}", **options)

    return make


def resolve_metric(metrics: dict, path: str):
    """The value at a ``data-metric`` path (``test.intervals.pr_auc.0``) in metrics.json."""
    value = metrics
    for key in path.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def metric_text(value) -> str:
    """How the report writes a number: 4 decimals for floats, thousands separators for ints."""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4f}"


@pytest.fixture
def expected_metric_text():
    """``expected(metrics, path)``: the text a ``data-metric`` element must show."""
    return lambda metrics, path: metric_text(resolve_metric(metrics, path))
