"""Stop a search that has stopped improving.

Without a converged reference (hold-out validation, the default above 20,000 training rows;
cross-fitting with the converged families left out), or where the networks beat it, nothing
but ``max_trials`` ends a search, and Hyperband spends its last trials carrying earlier
configurations on for the most epochs: on the Quickstart's 200,000 rows, the last five of 20
trials took 330 of 540 s and none improved on the best. The search stops starting trials
when all of these hold:

* every remedy has had its trial (the plan guarantees one trial each: that stays);
* some trial has trained the full ``max_epochs`` (with Hyperband, the end of its first
  bracket: before it, every score is of a network trained for a few epochs, and the
  longer-trained ones to come may well lead);
* none of the last :data:`PATIENCE` completed trials improved on the best trial before them
  by more than :data:`MIN_DELTA` of its size.

With cross-fitting's default 27 epochs, Hyperband's first full-length trial is its 40th, so
on small tables this rule leaves the search to the dominance rule (:mod:`._dominance`).
"""

from __future__ import annotations

import math

__all__ = ["MIN_DELTA", "PATIENCE", "PlateauStop"]

#: Completed trials in a row without an improvement before the search stops.
PATIENCE = 5

#: The least improvement that counts, as a share of the best score's size (relative, so
#: that it means the same for PR-AUC and for a cost in money).
MIN_DELTA = 0.005


class PlateauStop:
    """The rule that ends a search once its best score stops moving.

    Parameters
    ----------
    strategies : sequence of str
        The remedies that must each have had a trial first.
    max_epochs : int
        A full trial's epochs; one trial must have trained them all.
    direction : {"max", "min"}
        The objective's direction.
    patience : int
        Completed trials in a row without an improvement.
    min_delta : float
        The least improvement that counts, as a share of ``abs(best)``.

    Examples
    --------
    >>> rule = PlateauStop(["none", "smote"], max_epochs=9, direction="max", patience=2)
    >>> rule.reason([("none", 0.60, 9), ("smote", 0.70, 9), ("none", 0.69, 9), ("smote", 0.70, 9)])[:31]
    'the last 2 trials did not raise'
    >>> rule.reason([("none", 0.60, 1), ("smote", 0.70, 1), ("none", 0.69, 1), ("smote", 0.70, 3)]) is None
    True
    """

    cause = "plateau"

    def __init__(self, strategies, *, max_epochs: int, direction: str, patience: int = PATIENCE,
                 min_delta: float = MIN_DELTA):
        self.strategies = tuple(strategies)
        self.max_epochs = int(max_epochs)
        self.sign = 1.0 if direction == "max" else -1.0
        self.patience = patience
        self.min_delta = min_delta

    def reason(self, outcomes) -> str | None:
        """Why the search should stop now, or ``None`` to go on.

        Parameters
        ----------
        outcomes : sequence of (str, float or None, int)
            ``(remedy, score, epochs)`` of every ended trial, in the order they ended: the
            epochs its network has trained in all (Hyperband's ``tuner/epochs``); a failed
            trial's score is ``None`` (it counts as its remedy's trial, not as a score).
        """
        if any(strategy not in {o[0] for o in outcomes} for strategy in self.strategies):
            return None
        if not any(epochs >= self.max_epochs for _, score, epochs in outcomes if score is not None):
            return None
        scores = [self.sign * s for _, s, _ in outcomes if s is not None and math.isfinite(s)]
        if len(scores) <= self.patience:
            return None
        best_before = max(scores[:-self.patience])
        if max(scores[-self.patience:]) > best_before + self.min_delta * abs(best_before):
            return None
        return (f"the last {self.patience} trials did not raise the best score ({self.sign * best_before:.4f}) by "
                f"more than {self.min_delta:.1%}, and a trial has trained all {self.max_epochs} epochs")
