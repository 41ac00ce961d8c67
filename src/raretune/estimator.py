"""raretune as a scikit-learn classifier: one :func:`raretune.run` per ``fit``.

:class:`RareTuneClassifier` stores the options of a run, and ``fit`` runs the whole job
(split, search, ensemble, calibration, threshold) on ``(X, y)`` into a run folder; the fitted
estimator predicts with that run's deployed model, calibration and threshold, so it fits into
``Pipeline``, ``cross_val_score`` or ``TunedThresholdClassifierCV`` like any classifier.
TensorFlow is imported by ``fit``, not by importing this module.
"""

from __future__ import annotations

import numbers
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from ._errors import ConfigError, DataError

__all__ = ["RareTuneClassifier"]

#: Options passed to :func:`raretune.run` under the same name.
_RUN_OPTIONS = ("strategies", "tuner", "objective", "threshold", "cost_fn", "cost_fp", "calibration", "max_trials",
                "max_epochs", "validation_size", "test_size", "folds", "ensemble", "refit", "linear", "trees", "forests", "smote_linear",
                "knn", "positive", "baseline", "fast", "quiet")


class RareTuneClassifier(ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier whose ``fit`` is a whole raretune run.

    ``fit(X, y)`` calls :func:`raretune.run` on ``(X, y)``: a stratified train / validation /
    test split, the search over network and imbalance remedy, the ensemble, calibration and
    the decision threshold, all written to a run folder (``run_dir_``). ``predict_proba``
    gives the run's calibrated probabilities and ``predict`` applies its deployed threshold
    (two classes) or picks the most probable class.

    Parameters
    ----------
    strategies : sequence of str, optional
        Remedies to search (``raretune.remedies.REMEDIES``); default: raretune's default set.
    tuner : {"hyperband", "bayesian", "random"}, default="hyperband"
    objective : str, default="pr_auc"
        ``"pr_auc"``, ``"roc_auc"``, ``"f1"``, ``"recall@precision=P"`` or ``"cost"``.
    threshold : str, default="auto"
        The decision rule for two classes: ``"auto"`` (follows the objective), ``"f1"``,
        ``"precision=P"``, ``"recall=R"`` or ``"cost"``.
    cost_fn, cost_fp : float, default=1.0
        Costs of a missed positive and of a false alarm (objective and threshold "cost").
    calibration : {"auto", "none", "prior", "platt", "isotonic"}, default="auto"
    max_trials, max_epochs : int, optional
        Search budget; by default it follows the size of the data (see
        :class:`raretune.RunConfig`).
    validation_size, test_size : float, default=0.15
        Fractions of the rows held out inside ``fit`` for validation and test.
    folds : int, optional
        Cross-fitting folds for small tables (default: 5 below 20,000 rows; 1 is a hold-out
        validation part).
    ensemble : int, optional
        How many of the best trials the greedy ensemble selection may combine.
    refit : bool, default=True
        With cross-fitting, retrain the chosen models on every row after the test scoring.
    linear, trees, forests, smote_linear, knn : bool, default=True
        With cross-fitting, offer the ensemble converged logistic regressions, boosted trees,
        random forests and extra trees, SMOTE + logistic regression, and k-nearest neighbours
        (on tables small enough for it).
    positive : label, optional
        The positive class of a two-class problem (default: the rarer label). Only for two
        classes.
    baseline : bool, default=False
        Also fit a HistGradientBoosting baseline for the run's leaderboard (off: it adds time
        and does not change the model).
    random_state : int, RandomState instance or None, default=0
        The run's seed (:attr:`raretune.RunConfig.seed`); a ``RandomState`` draws one seed per
        ``fit``; ``None`` is an unseeded run.
    fast : bool, default=False
        raretune's smoke-test budget (at most 4 trials of 2 epochs, no cross-fitting).
    out : path, optional
        Run folder, replaced by every ``fit``. Default: a new temporary folder per ``fit``,
        deleted when the estimator is garbage-collected or fitted again; pass ``out`` to keep
        the run (its ``report.html``, ``metrics.json``, ``model.keras``). Estimators fitted in
        parallel need distinct folders, so leave it ``None`` there.
    quiet : bool, default=True
        No progress lines on standard error.

    Attributes
    ----------
    classes_ : numpy.ndarray of shape (n_classes,)
        The labels, sorted, in their original dtype: the columns of ``predict_proba``.
    decision_threshold_ : float or None
        Two classes: the deployed threshold on the probability of raretune's positive class
        (``positive_class_``); None for more classes.
    positive_class_ : label or None
        Two classes: the label raretune treated as positive.
    run_dir_ : pathlib.Path
        The run folder of the last ``fit``.
    metrics_ : dict
        Its ``metrics.json`` (test metrics, chosen remedy, threshold, leaderboard).
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray of str
        Only when ``X`` was a DataFrame with text column names.

    Examples
    --------
    >>> import numpy as np
    >>> from raretune import RareTuneClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3))
    >>> y = np.where(X[:, 0] + rng.normal(size=400) > 1.5, "fraud", "ok")
    >>> model = RareTuneClassifier(max_trials=1, max_epochs=1).fit(X, y)   # doctest: +SKIP
    >>> model.classes_, model.predict_proba(X[:2]).shape                  # doctest: +SKIP
    (array(['fraud', 'ok'], dtype='<U5'), (2, 2))
    """

    def __init__(self, *, strategies=None, tuner="hyperband", objective="pr_auc", threshold="auto", cost_fn=1.0,
                 cost_fp=1.0, calibration="auto", max_trials=None, max_epochs=None, validation_size=0.15,
                 test_size=0.15, folds=None, ensemble=None, refit=True, linear=True, trees=True, forests=True,
                 smote_linear=True, knn=True, positive=None,
                 baseline=False, random_state=0, fast=False, out=None, quiet=True):
        self.strategies = strategies
        self.tuner = tuner
        self.objective = objective
        self.threshold = threshold
        self.cost_fn = cost_fn
        self.cost_fp = cost_fp
        self.calibration = calibration
        self.max_trials = max_trials
        self.max_epochs = max_epochs
        self.validation_size = validation_size
        self.test_size = test_size
        self.folds = folds
        self.ensemble = ensemble
        self.refit = refit
        self.linear = linear
        self.trees = trees
        self.forests = forests
        self.smote_linear = smote_linear
        self.knn = knn
        self.positive = positive
        self.baseline = baseline
        self.random_state = random_state
        self.fast = fast
        self.out = out
        self.quiet = quiet

    def fit(self, X, y) -> "RareTuneClassifier":
        """Run raretune on ``(X, y)`` and keep the run for prediction.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Features; a DataFrame may hold text (categorical) columns and missing values.
        y : array-like of shape (n_samples,)
            Labels of any kind (text, integers, booleans). Every class needs a few rows in
            each part of raretune's split.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad data or options (raretune's ``DataError`` and ``ConfigError`` are ValueErrors).
        """
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import check_consistent_length, column_or_1d, validate_data

        from .run import load_run, run

        X = _checked(X)
        validate_data(self, X, y, skip_check_array=True, reset=True)
        frame = self._table(X, fitting=True)
        y = column_or_1d(y, warn=True)
        check_consistent_length(frame, y)
        check_classification_targets(y)
        classes = np.unique(y)
        names = _label_names(classes)
        if self.positive is not None and len(classes) > 2:
            raise ConfigError(f"The 'positive' parameter of RareTuneClassifier needs two classes; y has {len(classes)}.")

        self._workdir = None  # the previous fit's temporary folder goes with its old reference
        if self.out is None:
            self._workdir = tempfile.TemporaryDirectory(prefix="raretune-")
            out = Path(self._workdir.name) / "run"
        else:
            out = Path(self.out)
        target = _free_name("label", frame.columns)
        result = run(data=(frame, y), target=target, out=out, overwrite=True, seed=self._seed(),
                     report=False,  # a page per fit is not what a scikit-learn user asked for
                     **{name: getattr(self, name) for name in _RUN_OPTIONS})
        loaded = load_run(result.out)

        self.classes_ = classes
        self.run_dir_ = result.out
        self.metrics_ = result.metrics
        self._run = loaded
        # raretune's class order (binary: negative, positive) -> columns of classes_
        self._order = np.array([names.index(name) for name in loaded["classes"]]) if len(classes) > 2 else None
        if len(classes) == 2:
            self._positive_column = names.index(loaded["classes"][1])
            self.positive_class_ = classes[self._positive_column]
            self.decision_threshold_ = loaded["threshold"]
        else:
            self._positive_column = None
            self.positive_class_ = None
            self.decision_threshold_ = None
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        score = self._scores(X)
        if score.ndim == 1:
            proba = np.empty((score.shape[0], 2))
            proba[:, self._positive_column] = score
            proba[:, 1 - self._positive_column] = 1.0 - score
            return proba
        proba = np.empty_like(score, dtype=float)
        proba[:, self._order] = score
        return proba

    def predict(self, X) -> np.ndarray:
        """Labels: the deployed threshold for two classes, the most probable class otherwise.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            Values of ``classes_`` (the labels' original dtype).
        """
        proba = self.predict_proba(X)
        if len(self.classes_) == 2:
            positive = proba[:, self._positive_column] >= self.decision_threshold_
            return self.classes_[np.where(positive, self._positive_column, 1 - self._positive_column)]
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # raretune imputes missing numbers with the training median
        tags.classifier_tags.poor_score = True  # the budget is the user's; tiny ones learn little
        return tags

    def __getstate__(self):
        # The temporary folder belongs to this object only; a copy keeps the loaded model.
        state = super().__getstate__()
        state.pop("_workdir", None)
        return state

    def _seed(self) -> int | None:
        if self.random_state is None or isinstance(self.random_state, numbers.Integral):
            return self.random_state
        from sklearn.utils import check_random_state

        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _table(self, X, *, fitting: bool) -> pd.DataFrame:
        """Checked ``X`` as the DataFrame raretune reads: text column names kept, others x0, x1, ..."""
        if fitting:
            named = isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns)
            self._columns = list(X.columns) if named else [f"x{i}" for i in range(X.shape[1])]
        if not isinstance(X, pd.DataFrame):
            return pd.DataFrame(X, columns=self._columns)
        if list(X.columns) == self._columns or hasattr(self, "feature_names_in_"):
            return X.reset_index(drop=True)  # named columns are read by name
        return X.set_axis(self._columns, axis=1).reset_index(drop=True)

    def _scores(self, X) -> np.ndarray:
        """The run's calibrated scores: (n,) for two classes, (n, K) in raretune's class order."""
        from sklearn.utils.validation import validate_data

        from .datasets import read_rows
        from .run._predict import calibrated_scores

        X = _checked(X)
        validate_data(self, X, skip_check_array=True, reset=False)
        loaded = self._run
        modality = loaded["modality"]
        rows = read_rows(self._table(X, fitting=False), modality.reference(loaded["classes"], loaded["target"]))
        return calibrated_scores(loaded, modality.predict_raw(loaded["model"], rows))


def _checked(X):
    """A DataFrame as it is (raretune types its columns); anything else as a 2-D array of numbers.

    Text belongs in a DataFrame, where raretune types it column by column.
    """
    from sklearn.utils.validation import check_array

    if isinstance(X, pd.DataFrame):
        return X
    return check_array(X, dtype="numeric", ensure_all_finite="allow-nan")


def _label_names(classes: np.ndarray) -> list:
    """raretune's name of every label; two labels with one name (``1`` and ``"1"``) are refused."""
    from .datasets._labels import label_name

    names = [label_name(c) for c in classes]
    if len(set(names)) < len(names):
        raise DataError(f"Labels {list(classes)!r} are not distinct as text; raretune names classes by their text.")
    return names


def _free_name(name: str, taken) -> str:
    """``name``, or ``name`` with leading underscores until no column is called that."""
    taken = {str(c) for c in taken}
    while name in taken:
        name = "_" + name
    return name
