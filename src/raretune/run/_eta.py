"""The search's time left, counted in epochs rather than trials.

Hyperband's trials are not alike: its first trials train one epoch each, later ones carry
an earlier configuration on for more epochs. Median trial seconds times trials left is
then far too low (on a 200k-row run it said "175s left" after 9 of 20 trials, with 39 of 48 epochs to train).
Here the time left is the epochs that the trials still to come will train (Hyperband's
schedule, from its public parameters), priced by what the finished trials took.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .._validation import check_number

__all__ = ["describe_left", "hyperband_schedule", "planned_epochs", "seconds_left", "trained_epochs"]


def hyperband_schedule(max_epochs: int, factor: int, max_trials: int, *,
                       hyperband_iterations: float | None = None) -> list[tuple[int, int]]:
    """The ``(tuner/initial_epoch, tuner/epochs)`` of each Hyperband trial, in creation order.

    Keras Tuner's ``HyperbandOracle`` (1.4) as it runs when every trial ends before the
    next one starts: brackets from the most aggressive (most rounds) to bracket 0, each
    round's trials after the previous round's; the whole sweep again for each iteration;
    no trial past ``max_trials``. A trial trains ``epochs - initial_epoch`` epochs.

    Parameters
    ----------
    max_epochs, factor : int
        The oracle's ``max_epochs`` and ``factor``.
    max_trials : int
        Trials in all (raretune's oracle creates none past it).
    hyperband_iterations : int, optional
        Sweeps over all brackets; ``None`` (or infinity): as many as ``max_trials`` allows.

    Returns
    -------
    list of (int, int)

    Examples
    --------
    >>> hyperband_schedule(9, 3, 14)[8:]
    [(0, 1), (1, 3), (1, 3), (1, 3), (3, 9), (0, 3)]
    """
    check_number(max_epochs, "max_epochs", "hyperband_schedule", kind=int, low=1)
    check_number(factor, "factor", "hyperband_schedule", kind=int, low=2)
    check_number(max_trials, "max_trials", "hyperband_schedule", kind=int, low=0)
    # the oracle's own float expressions, so that any rounding agrees with it
    n_brackets, epochs = 0, max_epochs
    while epochs >= 1:  # the oracle's min_epochs
        epochs = epochs / factor
        n_brackets += 1
    bracket0_end_size = math.ceil(1 + math.log(max_epochs, factor))

    def size(bracket, rnd):
        return math.ceil(bracket0_end_size / (bracket + 1) * factor ** (bracket - rnd))

    def epochs_at(bracket, rnd):
        return math.ceil(max_epochs / factor ** (bracket - rnd))

    out, iteration = [], 0
    while len(out) < max_trials and (hyperband_iterations is None or iteration < hyperband_iterations):
        for bracket in range(n_brackets - 1, -1, -1):
            for rnd in range(bracket + 1):
                start = 0 if rnd == 0 else epochs_at(bracket, rnd - 1)
                out.extend([(start, epochs_at(bracket, rnd))] * size(bracket, rnd))
        iteration += 1
    return out[:max_trials]


def planned_epochs(oracle, *, max_epochs: int, max_trials: int) -> list[int]:
    """The epochs each trial of the search trains, in order, up to ``max_trials``.

    A Hyperband oracle's schedule is rebuilt from its public parameters (``max_epochs``,
    ``factor``, ``hyperband_iterations``); the Bayesian and random oracles train every
    trial ``max_epochs`` epochs.
    """
    from keras_tuner.oracles import HyperbandOracle

    if isinstance(oracle, HyperbandOracle):
        schedule = hyperband_schedule(oracle.max_epochs, oracle.factor, max_trials,
                                      hyperband_iterations=oracle.hyperband_iterations)
        return [end - start for start, end in schedule]
    return [max_epochs] * max_trials


def trained_epochs(values: Mapping, max_epochs: int) -> int:
    """The epochs a trial with these hyperparameter values trains (Hyperband's, or ``max_epochs``)."""
    if "tuner/epochs" in values:
        return int(values["tuner/epochs"]) - int(values.get("tuner/initial_epoch", 0))
    return max_epochs


def seconds_left(finished: Sequence[tuple[float, int]], epochs_to_come: Sequence[int]) -> float | None:
    """Seconds the trials to come need, priced by the finished ones.

    Parameters
    ----------
    finished : sequence of (float, int)
        Seconds and epochs trained of each finished trial.
    epochs_to_come : sequence of int
        Epochs each trial still to come will train.

    Returns
    -------
    float or None
        ``None`` before any trial has finished or when none is to come.

    Notes
    -----
    A trial costs ``a + b * epochs``: ``a`` per trial (building the model, tracing its
    graph, resampling, scoring) and ``b`` per epoch. The line is fitted by least squares
    through the *median* seconds of each epoch count (weighted by its trials), so that
    one slow trial (the first one traces the graph) does not tilt it. While every finished
    trial trained the same epochs (Hyperband's first round, or a Bayesian or random search)
    ``a`` and ``b`` cannot be told apart: the median seconds per epoch is used with
    ``a = 0``, which overprices the longer trials to come rather than underpricing them.
    The same happens if the fit is not physical (a negative cost).
    """
    finished = [(float(s), int(e)) for s, e in finished if e > 0]
    if not finished or not epochs_to_come:
        return None
    groups = {}
    for seconds, epochs in finished:
        groups.setdefault(epochs, []).append(seconds)
    per_trial, per_epoch = 0.0, float(np.median([s / e for s, e in finished]))
    if len(groups) > 1:
        x = np.array(sorted(groups), dtype=float)
        y = np.array([np.median(groups[e]) for e in sorted(groups)])
        w = np.sqrt([len(groups[e]) for e in sorted(groups)])  # polyfit squares the weights
        slope, intercept = np.polyfit(x, y, 1, w=w)
        if slope > 0 and intercept >= 0:
            per_trial, per_epoch = float(intercept), float(slope)
    return per_trial * len(epochs_to_come) + per_epoch * float(sum(epochs_to_come))


def describe_left(seconds: float) -> str:
    """``about 45s left`` under two minutes, ``about 8 min left`` from there."""
    if seconds < 120:
        return f"about {seconds:.0f}s left"
    return f"about {round(seconds / 60)} min left"
