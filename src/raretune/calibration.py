"""Probability calibration: map a network's scores back to probabilities, fitted on validation rows.

Resampling and class weights move a network's outputs away from probabilities (a SMOTE-
balanced model predicts 50 % where the truth is 0.3 %). :class:`ProbabilityCalibrator` maps
them back before :func:`raretune.thresholds.select_threshold` picks the operating point. With
sample weights every method counts a row ``weight`` times, as if it were repeated: the
Platt and isotonic fits take them as scikit-learn's ``sample_weight``, the prior correction
and the cross-validated log-loss that ``"auto"`` compares are weighted means.
"""

from __future__ import annotations

import math

import numpy as np

from ._errors import ConfigError, DataError
from ._validation import check_option
from .metrics import log_loss
from .prevalence import adjust_prevalence

__all__ = ["ProbabilityCalibrator"]

#: ``"auto"`` calibration considers isotonic regression only with this many positives.
_ISOTONIC_MIN_POSITIVES = 50
#: ``"auto"`` compares the methods' cross-validated log-loss on at most this many rows (a
#: stratified sample of a larger validation part); the chosen method is then fitted on all.
#: 20 fits on the 1.5M validation rows of a streamed 10M-row run took 69 s.
CV_MAX_ROWS = 200_000
#: ``transform`` works on blocks of this many rows: the formula's temporaries stay a few MB
#: where a whole streamed validation part (15M rows at 100M) would need one column each.
TRANSFORM_BLOCK = 1_000_000


class ProbabilityCalibrator:
    """Map a network's scores to probabilities, fitted on validation data.

    Parameters
    ----------
    method : {"auto", "none", "prior", "platt", "isotonic"}, default="auto"
        ``"prior"``: Bayes prior correction from the training prior the network saw (after
        resampling or weighting) to the true one. ``"platt"``: logistic regression on the
        logit. ``"isotonic"``: isotonic regression. ``"auto"`` picks the method with the
        lowest 5-fold cross-validated log-loss on the validation rows (on a stratified sample
        of :data:`CV_MAX_ROWS` rows of a larger part), then refits it on all of them; it tries
        isotonic regression only with at least 50 validation positives (rows, whatever their
        weights). Multiclass supports ``"none"`` and ``"prior"``.
    train_prior : float or array-like, optional
        The class prior the network was trained under (binary: positive share), for
        ``"prior"``. Without it, ``"prior"`` is skipped by ``"auto"``.
    random_state : int or None, default=0
        Seed of the cross-validation folds.

    Attributes
    ----------
    method_ : str
        The method in use after ``fit``.
    log_loss_ : dict
        Cross-validated log-loss of each method tried (``"auto"`` only).
    cv_rows_ : int
        Rows the log-losses were measured on (``"auto"`` only; all rows up to :data:`CV_MAX_ROWS`).

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1, 0, 1])
    >>> score = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    >>> cal = ProbabilityCalibrator("isotonic").fit(y, score, sample_weight=[1, 1, 2, 1, 1, 1])
    >>> cal.transform([0.35, 0.4]).round(3).tolist()
    [0.667, 0.667]
    """

    _METHODS = ("auto", "none", "prior", "platt", "isotonic")

    def __init__(self, method: str = "auto", *, train_prior=None, random_state: int | None = 0):
        self.method = method
        self.train_prior = train_prior
        self.random_state = random_state

    def fit(self, y_true, score, sample_weight=None) -> "ProbabilityCalibrator":
        """Fit on validation labels and scores.

        Parameters
        ----------
        y_true : array-like of int
        score : array-like, shape (n,) or (n, K)
        sample_weight : array-like of float, shape (n,), optional
            Row weights (>= 0); a row of weight 2 counts as that row twice.

        Returns
        -------
        self

        Raises
        ------
        DataError
            ``sample_weight`` of another length than the rows, or summing to 0.
        """
        check_option(self.method, "method", "ProbabilityCalibrator", self._METHODS)
        y_true = np.asarray(y_true).astype(int)
        score = _as_scores(score)
        weight = _weights(sample_weight, len(y_true))
        self.true_prior_ = _prior(y_true, score, weight)
        candidates = ["none", "prior", "platt", "isotonic"] if score.ndim == 1 else ["none", "prior"]
        if score.ndim == 1 and self.method == "auto" and min(y_true.sum(), len(y_true) - y_true.sum()) < _ISOTONIC_MIN_POSITIVES:
            # a step function fitted on a handful of positives ties many scores and costs ranking
            candidates.remove("isotonic")
        if self.train_prior is None:
            candidates.remove("prior")
        if self.method != "auto":
            if self.method not in candidates:
                raise ConfigError(
                    f"Calibration method {self.method!r} is not available here "
                    f"(available: {', '.join(candidates)})."
                )
            self.method_ = self.method
            self.log_loss_ = {}
        else:
            rows = _stratified_rows(y_true, CV_MAX_ROWS, self.random_state)
            self.cv_rows_ = len(y_true) if rows is None else rows.size
            if rows is None:
                self.log_loss_ = {m: self._cv_log_loss(m, y_true, score, weight) for m in candidates}
            else:
                sampled = None if weight is None else weight[rows]
                self.log_loss_ = {m: self._cv_log_loss(m, y_true[rows], score[rows], sampled) for m in candidates}
            self.method_ = min(self.log_loss_, key=lambda m: (self.log_loss_[m], candidates.index(m)))
        self._fit_method(self.method_, y_true, score, weight)
        return self

    def _cv_log_loss(self, method, y_true, score, weight) -> float:
        """Out-of-fold log-loss of ``method``, each held-out row counted by its weight."""
        from sklearn.model_selection import StratifiedKFold

        n_splits = int(min(5, np.bincount(y_true).min()))
        if n_splits < 2:
            return math.inf if method in ("platt", "isotonic") else log_loss(y_true, score, sample_weight=weight)
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        total, mass = 0.0, 0.0
        for fit_rows, held_rows in folds.split(score.reshape(len(score), -1), y_true):
            fit_weight = None if weight is None else weight[fit_rows]
            held_weight = None if weight is None else weight[held_rows]
            held_mass = len(held_rows) if weight is None else float(held_weight.sum())
            if held_mass <= 0 or (fit_weight is not None and fit_weight.sum() <= 0):
                continue  # a fold of weight 0 neither fits nor tests anything
            part = ProbabilityCalibrator(method, train_prior=self.train_prior)
            part.true_prior_ = _prior(y_true[fit_rows], score[fit_rows], fit_weight)
            part._fit_method(method, y_true[fit_rows], score[fit_rows], fit_weight)
            total += log_loss(y_true[held_rows], part.transform(score[held_rows]), sample_weight=held_weight) * held_mass
            mass += held_mass
        return float(total / mass) if mass > 0 else math.inf

    def _fit_method(self, method, y_true, score, weight=None):
        self.method_ = method
        self.params_ = {}
        if method == "platt":
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=1e6, max_iter=1000)
            model.fit(_logit(score).reshape(-1, 1), y_true, sample_weight=weight)
            self.params_ = {"a": float(model.coef_[0, 0]), "b": float(model.intercept_[0])}
        elif method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(score, y_true, sample_weight=weight)
            self.params_ = {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
        elif method == "prior":
            train = np.atleast_1d(np.asarray(self.train_prior, dtype=float))
            true = np.atleast_1d(np.asarray(self.true_prior_, dtype=float))
            self.params_ = {"train_prior": train.tolist(), "true_prior": true.tolist()}

    def transform(self, score) -> np.ndarray:
        """Calibrated probabilities for scores of the same form as in ``fit``.

        Row by row, so millions of rows are transformed a block at a time into the output:
        the same values, without the formula's temporaries for the whole column.
        """
        score = np.asarray(score)
        if len(score) <= TRANSFORM_BLOCK or self.method_ == "none":
            return self._transform(_as_scores(score))
        if score.ndim == 2 and score.shape[1] == 1:
            score = score[:, 0]
        out = np.empty(score.shape, dtype=float)
        for start in range(0, len(score), TRANSFORM_BLOCK):  # float32 scores are widened a block at a time
            out[start:start + TRANSFORM_BLOCK] = self._transform(_as_scores(score[start:start + TRANSFORM_BLOCK]))
        return out

    def _transform(self, score: np.ndarray) -> np.ndarray:
        method = self.method_
        if method == "none":
            return score
        if method == "platt":
            z = self.params_["a"] * _logit(score) + self.params_["b"]
            return 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))
        if method == "isotonic":
            return np.interp(score, self.params_["x"], self.params_["y"])
        train = np.asarray(self.params_["train_prior"])
        true = np.asarray(self.params_["true_prior"])
        if score.ndim == 1:
            return adjust_prevalence(score, train_prevalence=float(train[0]), new_prevalence=float(true[0]))
        weighted = score * (true / np.maximum(train, 1e-12))
        return weighted / np.maximum(weighted.sum(axis=1, keepdims=True), 1e-300)

    def to_dict(self) -> dict:
        """JSON-ready state (method, parameters, cross-validated log-losses)."""
        return {"method": self.method_, "params": self.params_, "cv_log_loss": self.log_loss_}

    @classmethod
    def from_dict(cls, state: dict) -> "ProbabilityCalibrator":
        """Rebuild a fitted calibrator from :meth:`to_dict` output."""
        calibrator = cls(method=state["method"])
        calibrator.method_ = state["method"]
        calibrator.params_ = state.get("params", {})
        calibrator.log_loss_ = state.get("cv_log_loss", {})
        return calibrator


def _stratified_rows(y_true: np.ndarray, limit: int, random_state) -> np.ndarray | None:
    """Sorted indices of a sample of ``limit`` rows with each class's share kept (at least one
    row of each class); None when there are no more than ``limit`` rows."""
    if len(y_true) <= limit:
        return None
    rng = np.random.default_rng(random_state)
    picked = []
    for label in np.unique(y_true):
        members = np.flatnonzero(y_true == label)
        take = max(1, int(round(limit * members.size / len(y_true))))
        picked.append(rng.choice(members, size=min(take, members.size), replace=False))
    return np.sort(np.concatenate(picked))


def _weights(sample_weight, n: int):
    """``sample_weight`` as float64 of length ``n`` (``None`` stays ``None``)."""
    if sample_weight is None:
        return None
    weight = np.asarray(sample_weight, dtype=float).ravel()
    if weight.size != n:
        raise DataError(f"sample_weight has {weight.size} values for {n} rows.")
    if not np.isfinite(weight).all() or (weight < 0).any() or weight.sum() <= 0:
        raise DataError("sample_weight must be finite numbers >= 0 with a positive sum.")
    return weight


def _prior(y_true, score, weight):
    """The (weighted) class shares: the positive share for binary scores, every class's otherwise."""
    if score.ndim == 1:
        return float(np.average(y_true, weights=weight))
    counts = np.bincount(y_true, weights=weight, minlength=score.shape[1])
    return counts / counts.sum()


def _as_scores(score) -> np.ndarray:
    score = np.asarray(score, dtype=float)
    if score.ndim == 2 and score.shape[1] == 1:
        score = score[:, 0]
    return score


def _logit(p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)
