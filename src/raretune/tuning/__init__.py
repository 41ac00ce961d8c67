"""The search: a Keras Tuner hypermodel over network and remedy, and tuner construction.

Importing this module imports Keras and Keras Tuner.
"""

from ._hypermodel import TabularHyperModel, ValidationScorer, build_tabular_model
from ._remedies import DEFAULT_STRATEGIES, REMEDIES, Remedy, check_strategies
from ._schema import FeatureSchema
from ._tuner import TUNERS, completed_trials, make_tuner

__all__ = [
    "DEFAULT_STRATEGIES",
    "REMEDIES",
    "TUNERS",
    "FeatureSchema",
    "Remedy",
    "TabularHyperModel",
    "ValidationScorer",
    "build_tabular_model",
    "check_strategies",
    "completed_trials",
    "make_tuner",
]
