"""Prevalence that moves: prior-shift correction and estimation of a batch's base rate.

A calibrated probability ``p`` is calibrated *at a base rate*: the positive share of the data
the model was trained and calibrated on. When the base rate of the data being scored differs
(fraud doubles over Christmas, a screening programme reaches a sicker population), the same
likelihood ratio means a different probability. Bayes' rule moves ``p`` from the training
rate ``pi`` to a new rate ``pi'`` without refitting anything::

    p' = p (pi'/pi) / (p (pi'/pi) + (1 - p) (1 - pi')/(1 - pi))

:func:`adjust_prevalence` applies it to scores and :func:`adjust_threshold` to a decision
threshold (the map is increasing, so the moved threshold flags the same rows).
:func:`estimate_prevalence` estimates ``pi'`` from an unlabelled batch of scores with the EM
procedure of Saerens, Latinne and Decaestecker (2002), with a bootstrap interval, and
:func:`prevalence_warning` turns an estimate that disagrees with training into one line.

References
----------
M. Saerens, P. Latinne and C. Decaestecker, "Adjusting the outputs of a classifier to new a
priori probabilities: a simple procedure", Neural Computation 14(1), 21-41, 2002.
"""

from __future__ import annotations

import math

import numpy as np

from ._errors import DataError
from ._validation import check_number

__all__ = ["adjust_prevalence", "adjust_threshold", "estimate_prevalence", "prevalence_warning"]


def adjust_prevalence(score, *, train_prevalence: float, new_prevalence: float) -> np.ndarray:
    """Move calibrated binary probabilities from the training base rate to a new one.

    Parameters
    ----------
    score : array-like of float
        Calibrated probabilities of the positive class, in [0, 1], of any shape.
    train_prevalence : float
        The positive share the probabilities are calibrated at, in (0, 1).
    new_prevalence : float
        The positive share of the data being scored, in (0, 1).

    Returns
    -------
    ndarray of float
        ``p (pi'/pi) / (p (pi'/pi) + (1 - p) (1 - pi')/(1 - pi))``, same shape as ``score``.
        Equal prevalences return the scores unchanged; 0 and 1 stay 0 and 1.

    Raises
    ------
    ConfigError
        A prevalence outside (0, 1).
    DataError
        A score that is not a finite number in [0, 1].

    Examples
    --------
    >>> from raretune.prevalence import adjust_prevalence
    >>> adjust_prevalence([0.0, 0.5, 1.0], train_prevalence=0.5, new_prevalence=0.2).round(3)
    array([0. , 0.2, 1. ])
    """
    train = _check_prevalence(train_prevalence, "train_prevalence", "adjust_prevalence")
    new = _check_prevalence(new_prevalence, "new_prevalence", "adjust_prevalence")
    return _shift(_check_scores(score, "adjust_prevalence"), train, new)


def adjust_threshold(threshold: float, *, train_prevalence: float, new_prevalence: float) -> float:
    """The threshold on the moved scale that flags the same rows as ``threshold``.

    :func:`adjust_prevalence` is increasing in the score, so ``score >= threshold`` holds
    exactly when ``adjusted score >= adjusted threshold``. In floating point the map is
    computed to be non-decreasing, so every row flagged before is flagged after, exactly; a
    row below the threshold is flagged after only when its adjusted score rounds to the very
    float the threshold does (a score within about 1e-15 of the threshold, relatively). Where
    even that must not happen, flag with the unadjusted scores and the original threshold.

    Parameters
    ----------
    threshold : float
        A threshold on the training scale, in [0, 1].
    train_prevalence, new_prevalence : float
        As in :func:`adjust_prevalence`.

    Returns
    -------
    float

    Examples
    --------
    >>> from raretune.prevalence import adjust_threshold
    >>> round(adjust_threshold(0.5, train_prevalence=0.01, new_prevalence=0.02), 4)
    0.6689
    """
    check_number(threshold, "threshold", "adjust_threshold", low=0, high=1)
    train = _check_prevalence(train_prevalence, "train_prevalence", "adjust_threshold")
    new = _check_prevalence(new_prevalence, "new_prevalence", "adjust_threshold")
    return float(_shift(np.asarray(float(threshold)), train, new))


def estimate_prevalence(
    score,
    *,
    train_prevalence: float,
    max_iter: int = 1000,
    tol: float = 1e-8,
    n_bootstrap: int = 200,
    random_state=None,
) -> dict:
    """Estimate the base rate of an unlabelled batch from its calibrated scores.

    The EM procedure of Saerens, Latinne and Decaestecker (2002): starting from the training
    rate, adjust the scores to the current estimate (E step) and take their mean as the next
    estimate (M step), until the estimate moves by less than ``tol``. It is the maximum
    likelihood estimate of the new rate when the scores are calibrated at ``train_prevalence``
    and only the base rate has changed (the class-conditional score distributions have not).

    The 95 % interval is the percentile interval of the same estimate on ``n_bootstrap``
    resamples of the batch (rows drawn with replacement). Each resample's estimate solves the
    same equation (the mean adjusted score equals the rate) by Newton steps started at the
    batch's estimate, since EM's slow linear convergence times ``n_bootstrap`` is too slow.

    Parameters
    ----------
    score : array-like of float, shape (n_rows,)
        Calibrated probabilities of the positive class, in [0, 1].
    train_prevalence : float
        The positive share the scores are calibrated at, in (0, 1).
    max_iter : int, default=1000
        Most EM iterations for the batch (and Newton steps for each resample).
    tol : float, default=1e-8
        EM stops when the estimate changes by less than this.
    n_bootstrap : int, default=200
        Bootstrap resamples for the interval; 0 gives no interval (``None``).
    random_state : int, numpy Generator or None, default=None
        Seeds the bootstrap.

    Returns
    -------
    dict
        ``{"prevalence": float, "interval": (low, high) or None, "iterations": int,
        "converged": bool, "train_prevalence": float}``; iterations and convergence are those
        of the batch's EM.

    Raises
    ------
    ConfigError
        An option out of range.
    DataError
        No scores, scores that are not one column, or a score outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from raretune.prevalence import estimate_prevalence
    >>> scores = np.r_[np.full(80, 0.1), np.full(20, 0.9)]
    >>> result = estimate_prevalence(scores, train_prevalence=0.5, n_bootstrap=0)
    >>> round(result["prevalence"], 3), result["converged"]
    (0.125, True)
    """
    owner = "estimate_prevalence"
    train = _check_prevalence(train_prevalence, "train_prevalence", owner)
    check_number(max_iter, "max_iter", owner, kind=int, low=1)
    check_number(tol, "tol", owner, low=0, closed="neither")
    check_number(n_bootstrap, "n_bootstrap", owner, kind=int, low=0)
    score = _check_scores(score, owner)
    if score.ndim == 2 and score.shape[1] == 1:
        score = score[:, 0]
    if score.ndim != 1 or score.size == 0:
        raise DataError(f"estimate_prevalence needs a non-empty column of scores; got shape {score.shape}.")

    odds_against = _odds_against(score)
    estimate, iterations, converged = _em(odds_against, train, train, max_iter, tol)
    interval = None
    if n_bootstrap:
        rng = np.random.default_rng(random_state)
        replicates = np.empty(n_bootstrap)
        for b in range(n_bootstrap):
            resample = odds_against[rng.integers(0, score.size, size=score.size)]
            replicates[b] = _newton(resample, train, estimate, max_iter, tol)
        low, high = np.percentile(replicates, [2.5, 97.5])
        interval = (float(low), float(high))
    return {
        "prevalence": float(estimate),
        "interval": interval,
        "iterations": int(iterations),
        "converged": bool(converged),
        "train_prevalence": float(train),
    }


def prevalence_warning(estimate: dict, *, name: str = "positive rate") -> str | None:
    """One line when the training rate lies outside the batch's estimated interval.

    Parameters
    ----------
    estimate : dict
        The result of :func:`estimate_prevalence`.
    name : str, default="positive rate"
        What the positive class's share is called ("fraud rate", "default rate").

    Returns
    -------
    str or None
        ``None`` when the interval contains the training rate, or when there is no interval.

    Examples
    --------
    >>> from raretune.prevalence import prevalence_warning
    >>> prevalence_warning({"prevalence": 0.0062, "interval": (0.0051, 0.0074),
    ...                     "train_prevalence": 0.003}, name="fraud rate")
    "the batch's estimated fraud rate 0.62 % (95 % interval 0.51–0.74 %) differs from training's 0.30 %"
    """
    interval = estimate.get("interval")
    if interval is None:
        return None
    low, high = interval
    train = estimate["train_prevalence"]
    if low <= train <= high:
        return None
    values = [estimate["prevalence"], low, high, train]
    smallest = min((v for v in values if v > 0), default=1.0)
    # two significant figures for the smallest of the four, the same decimals for all
    decimals = max(2, 1 - math.floor(math.log10(100 * smallest)))
    est, lo, hi, tr = (f"{100 * v:.{decimals}f}" for v in values)
    return (f"the batch's estimated {name} {est} % (95 % interval {lo}–{hi} %) "
            f"differs from training's {tr} %")


def _check_prevalence(value, name: str, owner: str) -> float:
    return float(check_number(value, name, owner, low=0, high=1, closed="neither"))


def _check_scores(score, owner: str) -> np.ndarray:
    score = np.asarray(score, dtype=float)
    if not np.all(np.isfinite(score)) or np.any(score < 0) or np.any(score > 1):
        raise DataError(f"{owner} needs probabilities in [0, 1]; got values outside it (or NaN).")
    return score


def _odds_against(score: np.ndarray) -> np.ndarray:
    """``(1 - p) / p``, infinite for ``p = 0``: the one per-row quantity the map needs."""
    with np.errstate(divide="ignore"):
        return (1.0 - score) / score


def _ratio(train: float, new: float) -> float:
    """The factor by which moving from ``train`` to ``new`` multiplies the odds against."""
    return (train * (1.0 - new)) / (new * (1.0 - train))


def _shift(score: np.ndarray, train: float, new: float) -> np.ndarray:
    """The prior-shift map, written so that it is non-decreasing in floating point too.

    ``p' = 1 / (1 + ratio * (1 - p) / p)`` with ``ratio = (pi (1 - pi')) / (pi' (1 - pi))``:
    every operation is a correctly rounded step that is monotone in ``p``, so a score below
    the threshold never rounds above the moved threshold (the plain quotient of the textbook
    form does not promise that). ``p = 0`` gives infinite odds against and the limit 0.
    """
    if new == train:
        return score.copy()
    return 1.0 / (1.0 + _ratio(train, new) * _odds_against(score))


def _em(odds_against: np.ndarray, train: float, start: float, max_iter: int, tol: float):
    """Saerens et al.'s fixed point ``pi <- mean(adjusted scores)``, from ``start``.

    Returns ``(estimate, iterations, converged)``.
    """
    current = start
    for iteration in range(1, max_iter + 1):
        updated = float(np.mean(1.0 / (1.0 + _ratio(train, current) * odds_against)))
        if updated <= 0.0 or updated >= 1.0:
            # every score is 0 (or 1): the rate sits on the boundary, where the map is absorbing
            return updated, iteration, True
        if abs(updated - current) < tol:
            return updated, iteration, True
        current = updated
    return current, max_iter, False


def _newton(odds_against: np.ndarray, train: float, start: float, max_iter: int, tol: float) -> float:
    """The same estimate as :func:`_em` by safeguarded Newton steps on the log-likelihood.

    EM converges linearly, and slowly for a weak model (hundreds of iterations at an AUC of
    0.75), which times 200 resamples is too slow; the resamples start next to the answer,
    where Newton takes a handful of steps. With ``w`` the scores adjusted to ``q``, the
    log-likelihood of the rate ``q`` has slope ``n (mean(w) - q) / (q (1 - q))`` (zero exactly
    at EM's fixed point) and curvature ``-sum((w - q)^2) / (q (1 - q))^2``; it is concave, so
    a bracket on the sign of the slope keeps every step safe (bisect when Newton leaves it).
    """
    if not 0.0 < start < 1.0:
        return start  # only a batch of all-0 (all-1) scores has its rate there, and so its resamples
    low, high, current = 0.0, 1.0, start
    for _ in range(max_iter):
        excess = 1.0 / (1.0 + _ratio(train, current) * odds_against) - current
        slope = float(np.sum(excess))
        spread = float(np.sum(excess * excess))
        if slope > 0:
            low = current
        else:
            high = current
        if spread == 0.0:
            return current
        updated = current + current * (1.0 - current) * slope / spread
        if not low < updated < high:
            updated = 0.5 * (low + high)
        if abs(updated - current) < tol:
            return updated
        current = updated
    return current
