"""k-nearest neighbours over stored fold training rows, compiled into Keras layers."""

import numpy as np
import pandas as pd
import pytest

from raretune.datasets import TabularData
from raretune.models import FeatureSchema, average_models, predict_proba
from raretune.models.export import (ModelTooLarge, knn_model, knn_over_cap, knn_values, linear_features,
                                    neighbour_probabilities, neighbour_store)
from raretune.tuning import KNN_NEIGHBORS, cross_fit_knn, fold_assignment

from tests.conftest import plain_keras_predict


def _table(n_classes=2, n=240, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n) * 2 + 1, "c": rng.choice(list("xyz"), n)})
    score = np.abs(frame["a"].to_numpy()) * 1.5 + (frame["b"].to_numpy() > 2) + (frame["c"] == "x") * 1.5
    y = np.digitize(score + rng.normal(scale=0.5, size=n), [2.8, 3.8][: n_classes - 1])
    return TabularData(frame, y, tuple(str(i) for i in range(n_classes)), "t", numeric=("a", "b"), categorical=("c",))


def _sklearn_average(X_store, y, ids, X, *, n_neighbors, weights):
    """The fold models' average, each scikit-learn's brute-force neighbours on the rows outside its fold."""
    from sklearn.neighbors import KNeighborsClassifier

    return np.mean([KNeighborsClassifier(n_neighbors=n_neighbors, weights=weights, algorithm="brute")
                    .fit(X_store[ids != f], y[ids != f]).predict_proba(X) for f in range(int(ids.max()) + 1)], axis=0)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_uniform_unbalanced_model_is_scikit_learns_neighbours(n_classes):
    data = _table(n_classes)
    schema = FeatureSchema.from_data(data)
    ids = fold_assignment(data.y, 3, random_state=0)
    _, store = cross_fit_knn(schema, data, ids, n_neighbors=7, weights="uniform", balanced=False)
    frame = pd.concat([data.features, _table(n_classes, n=100, seed=1).features], ignore_index=True)  # unseen rows too
    frame.loc[:10, "c"] = "never seen"  # out of vocabulary: every indicator 0, as in the design matrix
    X = linear_features(schema, frame)
    want = _sklearn_average(linear_features(schema, data.features), data.y, ids, X, n_neighbors=7, weights="uniform")
    reference = np.mean([neighbour_probabilities(store, X, f) for f in range(3)], axis=0)
    np.testing.assert_allclose(reference, want, atol=1e-12)
    got = predict_proba(knn_model(schema, store), schema.inputs(frame))
    np.testing.assert_allclose(got, want[:, 1] if n_classes == 2 else want, atol=1e-5, rtol=0)


def test_balanced_distance_weighted_model_matches_its_reference():
    data = _table()
    schema = FeatureSchema.from_data(data)
    ids = fold_assignment(data.y, 3, random_state=1)
    oof, store = cross_fit_knn(schema, data, ids)
    assert store.n_neighbors == KNN_NEIGHBORS and store.weights == "distance"
    X = linear_features(schema, _table(n=150, seed=3).features)
    # balanced: scikit-learn's distance-weighted shares, each class divided by its count in the fold's training rows
    from sklearn.neighbors import KNeighborsClassifier

    rows = linear_features(schema, data.features)
    want = []
    for f in range(3):
        fitted = KNeighborsClassifier(KNN_NEIGHBORS, weights="distance", algorithm="brute").fit(rows[ids != f],
                                                                                               data.y[ids != f])
        shares = fitted.predict_proba(X) / np.bincount(data.y[ids != f])
        want.append(shares / shares.sum(axis=1, keepdims=True))
    want = np.mean(want, axis=0)
    reference = np.mean([neighbour_probabilities(store, X, f) for f in range(3)], axis=0)
    np.testing.assert_allclose(reference, want, atol=1e-12)
    got = predict_proba(knn_model(schema, store), schema.inputs(_table(n=150, seed=3).features))
    np.testing.assert_allclose(got, want[:, 1], atol=1e-4, rtol=0)  # float32 distances: 1/d moves by 1e-6 relative
    # balanced votes raise the rare class's share wherever the neighbours are mixed, never lower it
    unbalanced, _ = cross_fit_knn(schema, data, ids, balanced=False)
    mixed = (unbalanced > 0) & (unbalanced < 1)
    assert mixed.sum() > 20 and np.all(oof[mixed] > unbalanced[mixed]) and np.all(oof[~mixed] == unbalanced[~mixed])


def test_each_row_is_scored_by_the_rows_outside_its_fold():
    data = _table()
    schema = FeatureSchema.from_data(data)
    ids = fold_assignment(data.y, 4, random_state=2)
    oof, store = cross_fit_knn(schema, data, ids, n_neighbors=1, weights="uniform", balanced=False)
    X = linear_features(schema, data.features)
    for f in range(4):
        # one neighbour, the nearest row of another fold: never the row itself (which would give its own label)
        from sklearn.neighbors import NearestNeighbors

        nearest = NearestNeighbors(n_neighbors=1).fit(X[ids != f]).kneighbors(X[ids == f], return_distance=False)[:, 0]
        np.testing.assert_array_equal(oof[ids == f], data.y[ids != f][nearest])
    assert np.mean(oof == data.y) < 1.0


def test_ties_in_distance_go_to_the_row_that_comes_first():
    # rows 0-3 sit at the same point with labels 0, 1, 1, 0; the query is that point
    rows = np.array([[0.0], [0.0], [0.0], [0.0], [5.0], [5.0]])
    y = np.array([0, 1, 1, 0, 0, 1])
    ids = np.array([0, 0, 1, 1, 0, 1])
    store = neighbour_store(rows, y, ids, n_classes=2, n_neighbors=1, weights="uniform", balanced=False)
    # fold 0 answers from rows 2, 3, 5: rows 2 and 3 tie, row 2 (label 1) comes first; fold 1 from 0, 1, 4: row 0
    np.testing.assert_array_equal(neighbour_probabilities(store, [[0.0]], 0), [[0.0, 1.0]])
    np.testing.assert_array_equal(neighbour_probabilities(store, [[0.0]], 1), [[1.0, 0.0]])
    frame = pd.DataFrame({"a": rows[:, 0]})
    data = TabularData(frame, y, ("0", "1"), "t", numeric=("a",), categorical=())
    schema = FeatureSchema.from_data(data)
    store = neighbour_store(linear_features(schema, frame), y, ids, n_classes=2, n_neighbors=1, weights="uniform",
                            balanced=False)
    got = predict_proba(knn_model(schema, store), schema.inputs(frame.head(1)))
    np.testing.assert_allclose(got, [0.5], atol=1e-7)  # (1 + 0) / 2: the same two rows win in the graph


def test_ties_across_folds_go_to_the_lower_fold():
    # rows 0 (fold 2, label 1) and 1 (fold 1, label 0) sit at the query; the rows are kept in fold order
    rows = np.array([[0.0], [0.0], [5.0], [5.0], [9.0], [9.0]])
    y = np.array([1, 0, 0, 1, 1, 0])
    ids = np.array([2, 1, 0, 0, 1, 2])
    frame = pd.DataFrame({"a": rows[:, 0]})
    schema = FeatureSchema.from_data(TabularData(frame, y, ("0", "1"), "t", numeric=("a",), categorical=()))
    store = neighbour_store(linear_features(schema, frame), y, ids, n_classes=2, n_neighbors=1, weights="uniform",
                            balanced=False)
    query = linear_features(schema, frame.head(1))
    # fold 0 answers from folds 1 and 2: row 1 (fold 1) wins the tie; folds 1 and 2 each see one of the two
    assert [neighbour_probabilities(store, query, f)[0, 1] for f in range(3)] == [0.0, 1.0, 0.0]
    got = predict_proba(knn_model(schema, store), schema.inputs(frame.head(1)))
    np.testing.assert_allclose(got, [1 / 3], atol=1e-7)


def test_size_is_counted_and_capped():
    data = _table(n=90)
    schema = FeatureSchema.from_data(data)
    _, store = cross_fit_knn(schema, data, fold_assignment(data.y, 3, random_state=0))
    model = knn_model(schema, store)
    assert np.bincount(store.fold_ids).tolist() == [30, 30, 30]  # no padding: 90 stored rows
    n = knn_values(90, store.rows.shape[1], 3, 2, KNN_NEIGHBORS)
    assert model.count_params() == n
    with pytest.raises(ModelTooLarge, match=f"would store {n:,} values"):
        knn_model(schema, store, max_values=n - 1)
    with pytest.raises(ModelTooLarge, match="would compute 90 distances per row"):
        knn_model(schema, store, max_distances=89)
    assert knn_over_cap(5000, 90, 5, 2, 15) is None
    assert knn_over_cap(5001, 10, 5, 2, 15) is not None and knn_over_cap(2000, 250, 5, 2, 15) is not None


def test_bad_arguments_are_refused():
    rows, y = np.zeros((6, 1)), np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match="Invalid `n_neighbors`. Expected 1 to 3"):
        neighbour_store(rows, y, [0, 0, 0, 1, 1, 1], n_classes=2, n_neighbors=4)
    with pytest.raises(ValueError, match="Expected at least 2 folds"):
        neighbour_store(rows, y, [0] * 6, n_classes=2, n_neighbors=1)
    with pytest.raises(ValueError, match="Received: weights='manhattan'"):
        neighbour_store(rows, y, [0, 0, 0, 1, 1, 1], n_classes=2, n_neighbors=1, weights="manhattan")


def test_a_compiled_knn_model_loads_in_plain_keras(tmp_path):
    data = _table(n=120)
    schema = FeatureSchema.from_data(data)
    ids = fold_assignment(data.y, 2, random_state=0)
    _, store = cross_fit_knn(schema, data, ids)
    _, uniform = cross_fit_knn(schema, data, ids, n_neighbors=3, weights="uniform")
    alone = knn_model(schema, store)
    # nested in an ensemble, as the run saves it
    model = average_models([alone, knn_model(schema, uniform)], [2, 1])
    model.save(tmp_path / "m.keras")
    expected = predict_proba(model, schema.inputs(data.features.head(4)))
    np.testing.assert_allclose(expected, (2 * predict_proba(alone, schema.inputs(data.features.head(4)))
                                          + predict_proba(knn_model(schema, uniform),
                                                          schema.inputs(data.features.head(4)))) / 3, rtol=1e-6)
    got = plain_keras_predict(tmp_path / "m.keras", schema.inputs(data.features.head(4)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
