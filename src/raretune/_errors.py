"""Exceptions raised by raretune.

Every error a user can cause derives from :class:`RaretuneError`; the CLI turns any of
them into one line on standard error and exit status 2. Parameter errors of estimators use
scikit-learn's :class:`~sklearn.utils._param_validation.InvalidParameterError` (through
``_parameter_constraints``), which the CLI treats the same way.
"""

__all__ = ["RaretuneError", "DataError", "ConfigError", "RunStateError"]


class RaretuneError(Exception):
    """Base class of the errors a user can cause; the message is one line."""


class DataError(RaretuneError, ValueError):
    """The data cannot be used: missing file, unknown column, one class only, ..."""


class ConfigError(RaretuneError, ValueError):
    """An option has a value raretune does not accept."""


class RunStateError(RaretuneError):
    """A run folder is not in the state the command needs (exists, not a run, other data)."""
