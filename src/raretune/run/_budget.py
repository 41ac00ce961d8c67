"""A whole-run time limit: how long the search may take, and whether a later phase still fits.

``--time-limit 90s`` bounds the run from loading to the report. The search gets the largest
share; it stops starting trials once its share is spent, and a trial running at that moment
stops at the end of its epoch (its best epoch so far is kept). The converged candidates
(fitted just before the search, with cross-fitting), the baseline and the refit run only when
their estimated cost fits in what is left, and say so when they are skipped.
"""

from __future__ import annotations

import re
import time

from .._errors import ConfigError

__all__ = ["Budget", "parse_duration"]

#: Share of the time left after loading that the search may use.
SEARCH_SHARE = 0.6

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value) -> float | None:
    """Seconds from ``90``, ``"90s"``, ``"10m"``, ``"1.5h"`` (``None`` stays ``None``).

    Examples
    --------
    >>> parse_duration("10m"), parse_duration(45), parse_duration("1.5h")
    (600.0, 45.0, 5400.0)
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", str(value))
        if not match:
            raise ConfigError(f"The 'time_limit' parameter of run must be a duration like '90s', '10m' or '1h'. "
                              f"Got {value!r} instead.")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigError(f"The 'time_limit' parameter of run must be a positive duration. Got {value!r} instead.")
    return seconds


class Budget:
    """The run's clock against its time limit (no limit: every check passes).

    Parameters
    ----------
    limit : float or None
        Seconds for the whole run.
    clock : callable
        Monotonic seconds (a test may pass a fake clock).
    """

    def __init__(self, limit: float | None, *, clock=time.monotonic):
        self.limit = limit
        self.clock = clock
        self.started = clock()
        self.search_deadline = None
        self.report_seconds = 0.0

    def reserve_for_report(self, seconds: float) -> None:
        """Keep ``seconds`` more at the end for the report, as measured on this machine now
        (:func:`raretune.report.report_seconds_estimate`): a loaded machine draws its
        figures several times slower, and the limit still holds."""
        self.report_seconds = max(0.0, float(seconds))

    def reserve(self) -> float:
        """Seconds kept for the end: scoring the test set and writing the run (a tenth of the
        limit, at least 5 seconds), plus the report's measured share."""
        return 0.0 if self.limit is None else max(5.0, 0.1 * self.limit) + self.report_seconds

    def left(self) -> float:
        """Seconds left (infinite without a limit)."""
        return float("inf") if self.limit is None else self.limit - (self.clock() - self.started)

    def start_search(self) -> None:
        """Fix the search's deadline: its share of the time left now, less the report's reserve."""
        if self.limit is not None:
            self.search_deadline = self.clock() + SEARCH_SHARE * max(self.left() - self.report_seconds, 0.0)

    def search_over(self) -> bool:
        """Whether the search has spent its share."""
        return self.search_deadline is not None and self.clock() >= self.search_deadline

    def fits(self, estimate: float) -> bool:
        """Whether a phase estimated to take ``estimate`` seconds fits in the time left.

        The time left keeps :meth:`reserve` for the end of the run.
        """
        if self.limit is None:
            return True
        return estimate <= self.left() - self.reserve()

    def callback(self):
        """A Keras callback that ends a trial's training at the first epoch end past the search deadline."""
        import keras

        budget = self

        class SearchDeadline(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if budget.search_over():
                    self.model.stop_training = True

        return SearchDeadline()
