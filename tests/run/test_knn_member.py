"""k-nearest neighbours as a converged candidate: offered on small tables, saved, loaded, scored."""

import numpy as np
import pandas as pd
import pytest

import raretune
from raretune.datasets import TabularData
from raretune.models import FeatureSchema, predict_proba
from raretune.run._candidates import fit_converged, knn_fits, member_label
from raretune.tuning import KNN_NEIGHBORS, fold_assignment

from tests.conftest import plain_keras_predict


def _ring(n=360, seed=0):
    """Positives inside a small disc of two numbers (about 1 in 8): what neighbours see at once
    and a one-epoch network does not."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    label = np.where((X ** 2).sum(axis=1) < 0.27, "pos", "neg")
    return pd.DataFrame(X, columns=["a", "b"]).assign(channel=rng.choice(["web", "atm"], size=n), label=label)


def test_a_knn_member_is_cross_fitted_and_compiled():
    frame = _ring()
    data = TabularData(frame[["a", "b", "channel"]], (frame["label"] == "pos").to_numpy().astype(int), ("neg", "pos"),
                       "label", numeric=("a", "b"), categorical=("channel",))
    schema = FeatureSchema.from_data(data)
    ids = fold_assignment(data.y, 3, random_state=0)
    member = {"trial_id": None, "model": "knn", "n_neighbors": 5, "strategy": "class_weight"}
    oof, model = fit_converged(schema, data, ids, member, 0)
    assert member_label(member) == "k-nearest neighbours (k=5)"
    assert oof.shape == (data.n_rows,) and oof[data.y == 1].mean() > 0.5 > oof[data.y == 0].mean()
    scores = predict_proba(model, schema.inputs(data.features))
    assert scores.shape == (data.n_rows,) and np.all((scores >= 0) & (scores <= 1))
    # the size caps: 5,000 search rows are offered, 5,001 are not
    assert knn_fits(schema, type("Rows", (), {"n_rows": 5000, "n_classes": 2})(), 5)
    assert not knn_fits(schema, type("Rows", (), {"n_rows": 5001, "n_classes": 2})(), 5)


@pytest.mark.slow
def test_a_run_with_a_knn_member_saves_loads_and_scores_identically(tmp_path):
    frame = _ring()
    result = raretune.run(data=frame, target="label", out=tmp_path / "k", strategies=["none"], max_trials=1,
                          max_epochs=1, folds=3, linear=False, trees=False, forests=False, smote_linear=False,
                          baseline=False, report=False, quiet=True, seed=0)
    m = result.metrics
    knn = [x for x in m["ensemble"]["members"] if x.get("model") == "knn"]
    assert len(knn) == 1 and knn[0]["weight"] >= 1  # neighbours see the disc: chosen over the one-epoch network
    assert knn[0] == {"trial_id": None, "model": "knn", "n_neighbors": KNN_NEIGHBORS, "strategy": "class_weight",
                      "weight": knn[0]["weight"]}
    assert any(r["name"] == f"k-nearest neighbours (k={KNN_NEIGHBORS})" for r in m["leaderboard"])
    # refitted on every row (train + test), then saved: raretune.predict, a second load and
    # plain Keras in a process without raretune give the same scores
    assert [x for x in m["refit"]["members"] if x.get("model") == "knn"] == [{**knn[0], "epochs": None}]
    rows = frame.drop(columns="label").head(40)
    first = raretune.predict(result.out, rows)["score"].to_numpy()
    np.testing.assert_allclose(raretune.predict(result.out, rows)["score"], first, rtol=1e-6)
    loaded = raretune.load_run(result.out)
    inputs = loaded["schema"].inputs(rows[list(loaded["schema"].columns)])
    np.testing.assert_allclose(predict_proba(loaded["model"], inputs), first, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(plain_keras_predict(result.out / "model.keras", inputs), first, rtol=1e-5, atol=1e-7)
