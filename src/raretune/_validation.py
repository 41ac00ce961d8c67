"""One error style for raretune's own checks.

Messages follow scikit-learn's wording so that a user sees the same sentence shape from
raretune's functions and from its samplers::

    The 'ratio' parameter of rebalance must be a float in (0, inf). Got -1 instead.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

from ._errors import ConfigError

__all__ = ["check_number", "check_option"]


def _fmt_interval(low, high, closed: str) -> str:
    left = "[" if closed in ("both", "left") else "("
    right = "]" if closed in ("both", "right") else ")"
    lo = "-inf" if low is None else low
    hi = "inf" if high is None else high
    return f"{left}{lo}, {hi}{right}"


def check_number(
    value,
    name: str,
    owner: str,
    *,
    kind: type = float,
    low=None,
    high=None,
    closed: str = "both",
):
    """Check that ``value`` is a number of ``kind`` inside an interval and return it.

    Parameters
    ----------
    value : object
        The value to check.
    name, owner : str
        Parameter name and the function or class it belongs to, for the message.
    kind : {int, float}
        ``int`` accepts integers only; ``float`` accepts any real number.
    low, high : float or None
        Interval bounds; ``None`` is unbounded.
    closed : {"both", "left", "right", "neither"}
        Which bounds belong to the interval.

    Returns
    -------
    value : int or float

    Raises
    ------
    ConfigError
        With the message "The 'name' parameter of owner must be ... Got ... instead."
    """
    type_name = "an int" if kind is int else "a float"
    ok_type = isinstance(value, numbers.Integral) if kind is int else isinstance(value, numbers.Real)
    ok_type = ok_type and not isinstance(value, bool)
    ok = ok_type
    if ok and low is not None:
        ok = value >= low if closed in ("both", "left") else value > low
    if ok and high is not None:
        ok = value <= high if closed in ("both", "right") else value < high
    if ok and kind is float and (value != value or value in (float("inf"), float("-inf"))):
        ok = False  # NaN, and infinities: an unbounded interval is open at infinity
    if not ok:
        raise ConfigError(
            f"The {name!r} parameter of {owner} must be {type_name} in "
            f"{_fmt_interval(low, high, closed)}. Got {value!r} instead."
        )
    return value


def check_option(value, name: str, owner: str, options: Iterable[str]) -> str:
    """Check that ``value`` is one of ``options`` and return it.

    Raises
    ------
    ConfigError
        "The 'name' parameter of owner must be a str among {...}. Got 'x' instead."
    """
    options = list(options)
    if not isinstance(value, str) or value not in options:
        shown = "{" + ", ".join(repr(o) for o in options) + "}"
        raise ConfigError(
            f"The {name!r} parameter of {owner} must be a str among {shown}. Got {value!r} instead."
        )
    return value
