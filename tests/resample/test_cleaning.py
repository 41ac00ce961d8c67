"""The fast cleaning samplers keep exactly the rows imbalanced-learn keeps."""

import imblearn.combine
import imblearn.under_sampling
import numpy as np
import pytest
from imblearn.over_sampling import SMOTE
from imblearn.utils.estimator_checks import parametrize_with_checks
from scipy import sparse

from raretune.resample import SMOTEENN, EditedNearestNeighbours, SMOTETomek, TomekLinks
from raretune.resample import _cleaning

PAIRS = {
    TomekLinks: imblearn.under_sampling.TomekLinks,
    EditedNearestNeighbours: imblearn.under_sampling.EditedNearestNeighbours,
}


def _random_data(n, d, classes=(0.9, 0.1), seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(len(classes), size=n, p=classes)
    X = rng.normal(size=(n, d)) + y[:, None] * 0.8
    return X, y


def _lattice_data(n, d, seed=0, classes=3):
    """Integer points with many exact duplicates and exactly tied distances."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(n, d)).astype(float)
    y = rng.choice(classes, size=n, p=np.r_[0.7, np.full(classes - 1, 0.3 / (classes - 1))])
    return X, y


def _assert_same_cleaning(ours, theirs, X, y):
    X_ours, y_ours = ours.fit_resample(X, y)
    X_theirs, y_theirs = theirs.fit_resample(X, y)
    np.testing.assert_array_equal(ours.sample_indices_, theirs.sample_indices_)
    if sparse.issparse(X_ours):
        X_ours, X_theirs = X_ours.toarray(), X_theirs.toarray()
    np.testing.assert_array_equal(X_ours, X_theirs)
    np.testing.assert_array_equal(y_ours, y_theirs)


PARAMS = [
    (TomekLinks, {}),
    (TomekLinks, {"sampling_strategy": "all"}),
    (EditedNearestNeighbours, {}),
    (EditedNearestNeighbours, {"kind_sel": "mode"}),
    (EditedNearestNeighbours, {"sampling_strategy": "all", "n_neighbors": 5}),
]


def test_tomek_small_exact():
    # Rows 1 and 2 are each other's nearest neighbour and of different classes.
    X = np.array([[0.0], [1.0], [1.4], [3.0], [5.0]])
    y = np.array([0, 0, 1, 0, 0])
    sampler = TomekLinks()
    sampler.fit_resample(X, y)
    np.testing.assert_array_equal(sampler.sample_indices_, [0, 2, 3, 4])
    sampler = TomekLinks(sampling_strategy="all")
    sampler.fit_resample(X, y)
    np.testing.assert_array_equal(sampler.sample_indices_, [0, 3, 4])


def test_enn_small_exact():
    X = np.array([[0.0], [0.1], [0.2], [0.3], [0.35], [5.0], [5.1]])
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    sampler = EditedNearestNeighbours(n_neighbors=2)
    sampler.fit_resample(X, y)
    # Row 3's two nearest are 4 (class 1) and 2: removed. Row 2's are 1 and 3: kept.
    np.testing.assert_array_equal(sampler.sample_indices_, [0, 1, 2, 4, 5, 6])


@pytest.mark.parametrize("cls, params", PARAMS)
@pytest.mark.parametrize(
    "data",
    [
        pytest.param(lambda: _random_data(300, 4), id="small-kdtree"),
        pytest.param(lambda: _random_data(4000, 30, seed=1), id="medium-brute"),
        pytest.param(lambda: _lattice_data(600, 3), id="duplicates-3class-kdtree"),
        pytest.param(lambda: _lattice_data(3000, 20, seed=2), id="duplicates-3class-brute"),
        pytest.param(lambda: _random_data(3000, 20, (0.6, 0.3, 0.1), seed=3), id="multiclass"),
    ],
)
@pytest.mark.parametrize("force_bounds", [False, True], ids=["auto", "bounds-always"])
def test_same_rows_as_imblearn(cls, params, data, force_bounds, monkeypatch):
    if force_bounds:  # run the proofs on every size, duplicates included
        monkeypatch.setattr(_cleaning, "_MIN_ROWS_FOR_BOUNDS", 0)
    X, y = data()
    _assert_same_cleaning(cls(**params), PAIRS[cls](**params), X, y)


@pytest.mark.parametrize("n_rows", [40, 3000])  # scikit-learn's parallel strategy flips at 2048
def test_duplicated_rows_with_two_labels(n_rows):
    # Each point appears twice, once per class: whether the "nearest neighbour" of a row is
    # its twin or itself is decided by scikit-learn's tie order, which we must follow.
    rng = np.random.default_rng(4)
    points = rng.integers(0, 4, size=(n_rows // 2, 30)).astype(float)
    X = np.concatenate([points, points])
    y = np.r_[np.zeros(n_rows // 2, int), np.ones(n_rows // 2, int)]
    y[rng.random(n_rows) < 0.3] = 0
    for cls, params in PARAMS:
        _assert_same_cleaning(cls(**params), PAIRS[cls](**params), X, y)


def test_string_labels_and_float32():
    X, y = _random_data(2500, 8, seed=5)
    labels = np.array(["legit", "fraud"])[y]
    for cls, params in PARAMS:
        if params.get("kind_sel") == "mode":
            continue  # scipy's mode rejects strings, in imbalanced-learn as here
        _assert_same_cleaning(cls(**params), PAIRS[cls](**params), X.astype(np.float32), labels)


@pytest.mark.parametrize("cls, params", PARAMS[:3])
def test_unsupported_layouts_fall_back_identically(cls, params):
    X, y = _random_data(500, 6, seed=6)
    _assert_same_cleaning(cls(**params), PAIRS[cls](**params), sparse.csr_matrix(X), y)
    _assert_same_cleaning(cls(**params), PAIRS[cls](**params), np.asfortranarray(X), y)


@pytest.mark.parametrize(
    "ours, theirs",
    [(SMOTETomek, imblearn.combine.SMOTETomek), (SMOTEENN, imblearn.combine.SMOTEENN)],
)
@pytest.mark.parametrize(
    "data",
    [
        pytest.param(lambda: _random_data(6000, 30, (0.97, 0.03), seed=7), id="binary"),
        pytest.param(lambda: _random_data(3000, 10, (0.8, 0.15, 0.05), seed=8), id="multiclass"),
        pytest.param(lambda: _lattice_data(3000, 6, seed=9, classes=2), id="duplicates"),
    ],
)
@pytest.mark.parametrize("random_state", [0, 42])
def test_combined_same_output_as_imblearn(ours, theirs, data, random_state):
    X, y = data()
    X_ours, y_ours = ours(random_state=random_state).fit_resample(X, y)
    X_theirs, y_theirs = theirs(random_state=random_state).fit_resample(X, y)
    np.testing.assert_array_equal(X_ours, X_theirs)
    np.testing.assert_array_equal(y_ours, y_theirs)


def test_combined_with_explicit_steps():
    X, y = _random_data(3000, 12, (0.95, 0.05), seed=10)
    smote = SMOTE(k_neighbors=3, random_state=1)
    tomek = imblearn.under_sampling.TomekLinks(sampling_strategy="majority")
    ours = SMOTETomek(smote=smote, tomek=tomek)
    X_ours, y_ours = ours.fit_resample(X, y)
    assert type(ours.tomek_) is TomekLinks  # imbalanced-learn's step swapped for ours
    X_theirs, y_theirs = imblearn.combine.SMOTETomek(smote=smote, tomek=tomek).fit_resample(X, y)
    np.testing.assert_array_equal(X_ours, X_theirs)
    np.testing.assert_array_equal(y_ours, y_theirs)

    enn = imblearn.under_sampling.EditedNearestNeighbours(n_neighbors=4, kind_sel="mode")
    X_ours, y_ours = SMOTEENN(smote=smote, enn=enn).fit_resample(X, y)
    X_theirs, y_theirs = imblearn.combine.SMOTEENN(smote=smote, enn=enn).fit_resample(X, y)
    np.testing.assert_array_equal(X_ours, X_theirs)
    np.testing.assert_array_equal(y_ours, y_theirs)


def test_smote_segments_hold_every_new_row():
    X, y = _random_data(4000, 30, (0.98, 0.02), seed=11)
    smote = SMOTE(random_state=0)
    X_res, y_res = smote.fit_resample(X, y)
    segments = _cleaning._smote_segments(smote, X, y)
    bounds = _cleaning._LeafBounds(X_res, y_res, 2, _cleaning._segments_by_code(segments, [0, 1]))
    distance = bounds._segment_lower(np.flatnonzero(y_res == 1), 1, np.inf)
    assert distance.max() == 0.0


def test_parameter_errors_read_like_imblearn():
    X, y = _random_data(100, 3)
    with pytest.raises(ValueError, match="'kind_sel' parameter of EditedNearestNeighbours"):
        EditedNearestNeighbours(kind_sel="most").fit_resample(X, y)


@parametrize_with_checks(
    [TomekLinks(), EditedNearestNeighbours(), SMOTETomek(random_state=0), SMOTEENN(random_state=0)],
    legacy=True,
)
def test_imblearn_estimator_checks(estimator, check):
    check(estimator)
