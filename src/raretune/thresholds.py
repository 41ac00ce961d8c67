"""The decision threshold, chosen on validation data only.

Resampling and class weights move a network's outputs away from probabilities (a SMOTE-
balanced model predicts 50 % where the truth is 0.3 %). :class:`raretune.calibration.ProbabilityCalibrator`
maps them back (it is re-exported here for older imports); :func:`select_threshold` then picks
the operating point the user asked for.
"""

from __future__ import annotations

import numpy as np

from ._errors import ConfigError, DataError
from ._validation import check_number, check_option
from .calibration import ProbabilityCalibrator
from .metrics import alert_count, cost_sweep, threshold_sweep

__all__ = ["CAPACITY_PERIODS", "THRESHOLD_RULES", "ProbabilityCalibrator", "capacity_share", "parse_threshold_spec",
           "select_threshold"]

#: Rules accepted by :func:`select_threshold`.
THRESHOLD_RULES = ("f1", "precision", "recall", "cost", "alerts")

#: Rules that take a target value (``"precision=0.9"``, ``"alerts=0.5%"``).
_RULES_WITH_TARGET = ("precision", "recall", "alerts")

#: Periods of an analysts' capacity (``"capacity=200/day"``), in seconds; a month is the mean
#: Gregorian month (365.2425 / 12 days).
CAPACITY_PERIODS = {"hour": 3600.0, "day": 86400.0, "week": 604800.0, "month": 2629746.0}


def parse_threshold_spec(spec: str) -> tuple:
    """Read a threshold rule written as text.

    Parameters
    ----------
    spec : str
        ``"f1"``, ``"cost"``, ``"precision=P"``, ``"recall=R"`` (P, R in (0, 1]),
        ``"alerts=A"`` (A in (0, 1), the share of rows flagged) or ``"capacity=N/PERIOD"``
        (N > 0 alerts a ``"hour"``, ``"day"``, ``"week"`` or ``"month"``). A value may be
        written as a percentage: ``"alerts=0.5%"`` is ``"alerts=0.005"``.

    Returns
    -------
    tuple
        ``(rule, target)`` for :func:`select_threshold`; ``target`` is ``None`` for
        ``"f1"`` and ``"cost"``. For ``"capacity"`` it is ``(N, period)``: a capacity becomes
        an ``"alerts"`` share only against timed rows (:func:`capacity_share`).

    Raises
    ------
    ConfigError
        With one line naming the accepted forms.

    Examples
    --------
    >>> parse_threshold_spec("alerts=0.5%")
    ('alerts', 0.005)
    >>> parse_threshold_spec(" precision = 0.9 ")
    ('precision', 0.9)
    >>> parse_threshold_spec("f1")
    ('f1', None)
    >>> parse_threshold_spec("capacity=200/day")
    ('capacity', (200.0, 'day'))
    """
    forms = "'f1', 'cost', 'precision=0.9', 'recall=0.8', 'alerts=0.5%' or 'capacity=200/day'"
    if not isinstance(spec, str):
        raise ConfigError(f"A threshold rule must be a str like {forms}. Got {spec!r} instead.")
    rule, equals, value = (part.strip() for part in spec.strip().partition("="))
    if rule == "capacity":
        return rule, _parse_capacity(value, spec)
    if rule not in THRESHOLD_RULES:
        raise ConfigError(f"Unknown threshold rule {spec!r}: use {forms}.")
    if rule not in _RULES_WITH_TARGET:
        if equals:
            raise ConfigError(f"The threshold rule {rule!r} takes no value; got {spec!r}.")
        return rule, None
    scale = 1.0
    if value.endswith("%"):
        value, scale = value[:-1].strip(), 0.01
    try:
        target = float(value) * scale
    except ValueError:
        example = "alerts=0.5%" if rule == "alerts" else f"{rule}=0.9"
        raise ConfigError(f"The threshold rule {rule!r} needs a number, e.g. {example!r}; got {spec!r}.") from None
    if rule == "alerts":
        check_number(target, "alerts", "the threshold rule", low=0, high=1, closed="neither")
    else:
        check_number(target, rule, "the threshold rule", low=0, high=1, closed="right")
    return rule, round(target, 12)  # "0.5%" is 0.005, not 0.005000000000000001


def _parse_capacity(value: str, spec: str) -> tuple:
    """``(N, period)`` from the ``"N/PERIOD"`` of ``"capacity=N/PERIOD"``."""
    count, slash, period = (part.strip() for part in value.partition("/"))
    periods = ", ".join(CAPACITY_PERIODS)
    if not slash or period.lower() not in CAPACITY_PERIODS:
        raise ConfigError(f"The threshold rule 'capacity' needs alerts per period ({periods}), e.g. "
                          f"'capacity=200/day'; got {spec!r}.")
    try:
        alerts = float(count)
    except ValueError:
        raise ConfigError(f"The threshold rule 'capacity' needs a number of alerts, e.g. 'capacity=200/day'; "
                          f"got {spec!r}.") from None
    check_number(alerts, "capacity", "the threshold rule", low=0, closed="neither")
    return alerts, period.lower()


def capacity_share(alerts: float, period: str, times) -> dict:
    """The share of rows that an analysts' capacity of ``alerts`` a ``period`` can review.

    The rows arrive at ``n / span`` a period, where ``span`` is the time from the first
    row to the last; ``alerts`` of them a period is the share ``alerts * span / n``, which
    :func:`select_threshold` flags with the ``"alerts"`` rule.

    Parameters
    ----------
    alerts : float
        Alerts the analysts can review per period, > 0.
    period : {"hour", "day", "week", "month"}
    times : array-like of float
        The time of each row the threshold is chosen on, in seconds (dates as seconds since
        1970, as :func:`raretune.datasets.load_data` stores them).

    Returns
    -------
    dict
        ``alerts``, ``period``, ``alert_share`` (in (0, 1)), ``rows_per_period``,
        ``span_periods`` (the rows' time span in periods) and ``n_rows``.

    Raises
    ------
    DataError
        When the rows span no time, or the capacity covers every row (nothing to choose).

    Examples
    --------
    >>> out = capacity_share(20, "day", np.arange(1000) * 864.0)  # 100 rows a day
    >>> round(out["alert_share"], 4), round(out["rows_per_period"], 1)
    (0.1998, 100.1)
    """
    check_option(period, "period", "capacity_share", tuple(CAPACITY_PERIODS))
    check_number(alerts, "alerts", "capacity_share", low=0, closed="neither")
    times = np.asarray(times, dtype=float).ravel()
    if times.size < 2 or not np.isfinite(times).all() or times.max() <= times.min():
        raise DataError(f"capacity={alerts:g}/{period} needs rows spread over time; the {times.size} validation "
                        "rows share one time.")
    span = float(times.max() - times.min()) / CAPACITY_PERIODS[period]
    rows_per_period = times.size / span
    share = alerts / rows_per_period
    if share >= 1.0:
        raise DataError(f"capacity={alerts:g}/{period} covers every row: validation has {rows_per_period:,.1f} rows "
                        f"a {period}; flag everyone, or lower the capacity.")
    return {"alerts": float(alerts), "period": period, "alert_share": share, "rows_per_period": rows_per_period,
            "span_periods": span, "n_rows": int(times.size)}


def select_threshold(
    y_true,
    score,
    *,
    rule: str = "f1",
    target: float | None = None,
    cost_fn: float = 1.0,
    cost_fp: float = 1.0,
    cost=None,
    sample_weight=None,
) -> float:
    """Choose a binary decision threshold on validation scores.

    A row is predicted positive when ``score >= threshold``. The threshold returned lies
    half-way between the chosen validation score and the next lower one, so that every
    threshold in that gap (which gives the same validation result) is treated alike.

    Parameters
    ----------
    y_true : array-like of {0, 1}
    score : array-like of float
        Positive-class probabilities on validation rows.
    rule : {"f1", "precision", "recall", "cost", "alerts"}
        ``"f1"``: the highest F1. ``"precision"``: the highest recall with precision at
        least ``target`` (when no threshold reaches it, the highest precision).
        ``"recall"``: the highest precision with recall at least ``target``. ``"cost"``:
        the lowest money lost, ``cost_fn * FN + cost_fp * FP`` or, with per-row ``cost``,
        the sum of the missed positives' costs plus ``cost_fp * FP``
        (:func:`raretune.metrics.cost_sweep`). ``"alerts"``: an alert budget, flags
        the top ``target`` share of rows: ``k = max(1, floor(target * n + 0.5))`` rows
        (``round(target * n)``, halves up, at least one), within one row when scores tie;
        when ties make that impossible, the reachable count closest to ``k`` (the smaller
        one when two are equally close). Labels are not used.
    target : float, optional
        Precision or recall floor, in (0, 1]; or, for ``"alerts"``, the share of rows to
        flag, in (0, 1).
    cost_fn, cost_fp : float
        Costs of a missed positive and of a false alarm, for ``"cost"``.
    cost : array-like of float, optional
        For ``"cost"``: each row's cost of being missed (e.g. its amount); replaces ``cost_fn``.
    sample_weight : array-like of float, optional
        Row weights: TP, FP and FN become sums of weights for every rule but ``"alerts"``,
        which counts rows (an analyst reviews rows).

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    DataError
        If ``y_true`` has no positive row (except for ``"alerts"``, which ignores labels).

    Examples
    --------
    >>> round(select_threshold([0, 0, 1, 1, 0], [0.1, 0.3, 0.6, 0.8, 0.7]), 6)
    0.45
    >>> round(select_threshold([0, 0, 1, 1, 0], [0.1, 0.3, 0.6, 0.8, 0.7], rule="precision", target=1.0), 6)
    0.75
    >>> round(select_threshold([0, 0, 1, 1, 0], [0.1, 0.3, 0.6, 0.8, 0.7], rule="alerts", target=0.4), 6)
    0.65
    """
    check_option(rule, "rule", "select_threshold", THRESHOLD_RULES)
    y_true = np.asarray(y_true).astype(int)
    score = np.asarray(score, dtype=float)
    if y_true.shape != score.shape or y_true.ndim != 1:
        raise DataError(f"y_true and score must be 1-D of the same length; got {y_true.shape} and {score.shape}.")
    if rule in _RULES_WITH_TARGET:
        if target is None:
            where = "(0, 1)" if rule == "alerts" else "(0, 1]"
            raise ConfigError(f"The {rule!r} threshold rule needs a target value in {where}.")
        closed = "neither" if rule == "alerts" else "right"
        check_number(target, "target", "select_threshold", low=0, high=1, closed=closed)
    if rule != "alerts" and not y_true.any():
        raise DataError("Cannot choose a threshold: the validation rows hold no positive example.")
    if y_true.size == 0:
        raise DataError("Cannot choose a threshold on no validation rows.")
    thresholds, tp, fp = threshold_sweep(y_true, score, None if rule == "alerts" else sample_weight)
    n_pos = tp[-1]
    flagged = tp + fp  # with sample weights a threshold may flag only rows of weight 0
    precision = np.divide(tp, flagged, out=np.zeros(tp.shape), where=flagged > 0)
    # no positives (or positives of weight 0 only) leaves recall 0; "alerts" ignores it anyway
    recall = tp / n_pos if n_pos > 0 else np.zeros(tp.shape)
    if rule == "f1":
        value = np.divide(2 * tp, flagged + n_pos, out=np.zeros(tp.shape), where=flagged + n_pos > 0)
        best = _argbest(value)
    elif rule == "precision":
        ok = precision >= target - 1e-12
        best = _argbest(np.where(ok, recall, -1.0)) if ok.any() else _argbest(precision)
    elif rule == "recall":
        ok = recall >= target - 1e-12
        best = _argbest(np.where(ok, precision, -1.0))
    elif rule == "alerts":
        wanted = alert_count(target, y_true.size)
        # flagged counts grow as the threshold falls; the first closest one is the smaller
        best = int(np.argmin(np.abs((tp + fp) - wanted)))
    else:
        check_number(cost_fn, "cost_fn", "select_threshold", low=0, closed="neither")
        check_number(cost_fp, "cost_fp", "select_threshold", low=0, closed="neither")
        _, lost, nobody = cost_sweep(y_true, score, cost_fn=cost_fn, cost_fp=cost_fp, cost=cost,
                                     sample_weight=sample_weight)
        if nobody <= lost.min():  # predicting nothing positive is cheapest
            return float(min(1.0, np.nextafter(thresholds[0], np.inf)))
        best = _argbest(-lost)
    upper = thresholds[best]
    lower = thresholds[best + 1] if best + 1 < thresholds.size else 0.0
    return float(np.clip((upper + lower) / 2.0, 0.0, 1.0))


def _argbest(values) -> int:
    """Index of the largest value; ties go to the highest threshold (fewest alarms)."""
    return int(np.flatnonzero(values == values.max())[0])
