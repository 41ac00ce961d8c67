import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    matthews_corrcoef,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from raretune import ConfigError
from raretune.metrics import get_objective, score_predictions, threshold_sweep


@pytest.fixture
def scored():
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.05).astype(int)
    p = np.clip(0.05 + 0.5 * y * rng.random(2000) + 0.3 * rng.random(2000), 0, 1)
    return y, p


def test_scores_match_scikit_learn(scored):
    y, p = scored
    s = score_predictions(y, p, threshold=0.4)
    pred = (p >= 0.4).astype(int)
    assert s["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert s["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert s["f1"] == pytest.approx(f1_score(y, pred))
    assert s["precision"] == pytest.approx(precision_score(y, pred))
    assert s["recall"] == pytest.approx(recall_score(y, pred))
    assert s["mcc"] == pytest.approx(matthews_corrcoef(y, pred))
    assert s["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    tpr, tnr = recall_score(y, pred), recall_score(1 - y, 1 - pred)
    assert s["g_mean"] == pytest.approx(np.sqrt(tpr * tnr))
    tn, fp, fn, tp = np.bincount(2 * y + pred, minlength=4)
    assert s["confusion_matrix"] == [[tn, fp], [fn, tp]]


def test_multiclass_scores_are_macro():
    y = np.array([0, 0, 0, 0, 1, 1, 2])
    p = np.eye(3)[[0, 0, 1, 0, 1, 1, 2]] * 0.8 + 0.2 / 3
    s = score_predictions(y, p, class_names=["a", "b", "c"])
    assert s["threshold"] is None
    assert s["f1"] == pytest.approx(f1_score(y, p.argmax(1), average="macro"))
    assert set(s["per_class"]) == {"a", "b", "c"} and s["per_class"]["c"]["support"] == 1


def test_threshold_sweep_counts_match_a_direct_count(scored):
    y, p = scored
    t, tp, fp = threshold_sweep(y, p)
    for i in [0, 10, len(t) // 2, len(t) - 1]:
        assert tp[i] == ((p >= t[i]) & (y == 1)).sum()
        assert fp[i] == ((p >= t[i]) & (y == 0)).sum()


def test_objectives_have_explicit_directions():
    assert get_objective("pr_auc").keras_tuner().direction == "max"
    assert get_objective("f1").keras_tuner().direction == "max"
    assert get_objective("recall@precision=0.9").keras_tuner().direction == "max"
    assert get_objective("cost", cost_fn=50).keras_tuner().direction == "min"
    assert get_objective("pr_auc").metric == "val_pr_auc"


def test_best_f1_objective_is_the_best_over_thresholds(scored):
    y, p = scored
    precision, recall, _ = precision_recall_curve(y, p)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall + 1e-300), 0)
    assert get_objective("f1").score(y, p) == pytest.approx(f1.max())


def test_recall_at_precision_and_cost_by_brute_force(scored):
    y, p = scored
    best_recall, best_cost = 0.0, y.sum() * 20.0
    for t in np.unique(p):
        pred = p >= t
        tp, fp = (pred & (y == 1)).sum(), (pred & (y == 0)).sum()
        if tp and tp / (tp + fp) >= 0.5:
            best_recall = max(best_recall, tp / y.sum())
        best_cost = min(best_cost, 20.0 * (y.sum() - tp) + 1.0 * fp)
    assert get_objective("recall@precision=0.5").score(y, p) == pytest.approx(best_recall)
    assert get_objective("cost", cost_fn=20).score(y, p) == pytest.approx(best_cost / len(y))


def test_a_scorer_that_predicts_everything_positive_is_not_rewarded():
    y = np.r_[np.zeros(990), np.ones(10)].astype(int)
    constant = np.full(1000, 0.9)
    # F1 of "everything positive" is ~0.02; a useless model must not score like a good one
    assert get_objective("f1").score(y, constant) == pytest.approx(2 * 10 / (1000 + 10))
    assert get_objective("pr_auc").score(y, constant) == pytest.approx(0.01)


@pytest.mark.parametrize("name", ["val_f1_score", "recall@precision=1.5", "recall@precision=x", "auc"])
def test_bad_objective_names(name):
    with pytest.raises(ConfigError):
        get_objective(name)
