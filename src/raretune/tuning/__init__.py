"""The search: a Keras Tuner hypermodel over network and remedy, and tuner construction.

Importing this module imports Keras and Keras Tuner.
"""

# graphs and compilers live in raretune.models; re-exported so callers of tuning keep working
from ..models import FeatureSchema, ImageSchema, average_models, build_image_model, build_tabular_model
from ..models.export import linear_features, logistic_model, trees_model
from ._converged import LINEAR_C, TREE_CONFIGS, cross_fit_logistic, cross_fit_trees
from ._ensemble import greedy_ensemble
from ._hypermodel import TabularHyperModel, ValidationScorer, fold_assignment
from ._image import ImageHyperModel, augment_stream, make_augmenter
from ._remedies import DEFAULT_IMAGE_STRATEGIES, DEFAULT_STRATEGIES, REMEDIES, Remedy, check_strategies
from ._tuner import TUNERS, completed_trials, make_tuner

__all__ = [
    "DEFAULT_IMAGE_STRATEGIES",
    "DEFAULT_STRATEGIES",
    "LINEAR_C",
    "REMEDIES",
    "TREE_CONFIGS",
    "TUNERS",
    "FeatureSchema",
    "ImageHyperModel",
    "ImageSchema",
    "Remedy",
    "TabularHyperModel",
    "ValidationScorer",
    "augment_stream",
    "average_models",
    "build_image_model",
    "build_tabular_model",
    "check_strategies",
    "completed_trials",
    "cross_fit_logistic",
    "cross_fit_trees",
    "fold_assignment",
    "greedy_ensemble",
    "linear_features",
    "logistic_model",
    "make_augmenter",
    "make_tuner",
    "trees_model",
]
