"""The imbalance remedies raretune searches over: one registry, one object per remedy.

Each remedy (:class:`Remedy`) owns its knobs and what it changes in training: the loss,
the output bias, the training rows (a sampler), per-row weights, the class prior it trains
under. Adding a remedy means adding one class to one of ``_plain``, ``_sampling`` or
``_streams``. Importing this package is cheap (no TensorFlow).
"""

from __future__ import annotations

from .._errors import ConfigError
from ._base import DATA_KINDS, Remedy
from ._plain import REMEDIES as _PLAIN
from ._sampling import REMEDIES as _SAMPLING
from ._streams import REMEDIES as _STREAMS
from ._streams import stream_class_shares

__all__ = [
    "DATA_KINDS",
    "DEFAULT_IMAGE_STRATEGIES",
    "DEFAULT_STRATEGIES",
    "REMEDIES",
    "Remedy",
    "check_strategies",
    "declare_data_knobs",
    "declare_strategy",
    "get_remedy",
    "remedy_settings",
    "stream_class_shares",
]

#: Every remedy by name, in the order ``raretune remedies`` lists them.
REMEDIES = {r.name: r for r in (*_PLAIN[:3], *_SAMPLING, _PLAIN[3], *_STREAMS)}

#: Remedies searched on tables when ``strategies`` is not given.
DEFAULT_STRATEGIES = ("none", "class_weight", "random_over", "smote")
#: Remedies searched on images when ``strategies`` is not given.
DEFAULT_IMAGE_STRATEGIES = ("none", "class_weight", "random_over", "augment")


def get_remedy(name: str) -> Remedy:
    """The remedy called ``name`` (``ConfigError`` for an unknown name)."""
    try:
        return REMEDIES[name]
    except KeyError:
        raise ConfigError(f"Unknown remedy {name!r}; known: {', '.join(REMEDIES)}.") from None


def check_strategies(strategies, *, kind: str | None = None) -> tuple:
    """Validate remedy names; return them as a tuple without duplicates.

    Parameters
    ----------
    strategies : str or sequence of str
        Remedy names (a comma-separated string is split).
    kind : {"table", "image"}, optional
        The data the remedies will be applied to; a remedy for the other kind is refused.
    """
    if isinstance(strategies, str):
        strategies = [s.strip() for s in strategies.split(",") if s.strip()]
    elif not isinstance(strategies, (list, tuple)) or not all(isinstance(s, str) for s in strategies):
        raise ConfigError(f"The 'strategies' parameter of run must be a list of remedy names. Got {strategies!r} instead.")
    strategies = tuple(dict.fromkeys(strategies))
    if not strategies:
        raise ConfigError("Name at least one remedy in strategies; known: " + ", ".join(REMEDIES) + ".")
    for name in strategies:
        get_remedy(name)
    if kind is not None:
        wrong = [s for s in strategies if kind not in REMEDIES[s].kinds]
        if wrong:
            fits = [name for name, remedy in REMEDIES.items() if kind in remedy.kinds]
            data = "images" if kind == "image" else "tables"
            raise ConfigError(f"Remedy {wrong[0]!r} does not apply to {data}; for {data} use: {', '.join(fits)}.")
    return strategies


def declare_strategy(hp, strategies) -> str:
    """Declare the ``strategy`` choice and the model-side knobs; return the trial's choice."""
    strategy = hp.Choice("strategy", list(strategies))
    for name in strategies:
        with hp.conditional_scope("strategy", [name]):
            REMEDIES[name].declare_model_knobs(hp)
    return strategy


def declare_data_knobs(hp, strategies) -> None:
    """Declare the knobs of the remedies that act on data or weights (fit side)."""
    for name in strategies:
        with hp.conditional_scope("strategy", [name]):
            REMEDIES[name].declare_data_knobs(hp)


def remedy_settings(hp) -> dict:
    """The active remedy and its knobs, read from a trial's hyperparameters."""
    strategy = hp.get("strategy")
    return {"strategy": strategy, **REMEDIES[strategy].knobs(hp)}
