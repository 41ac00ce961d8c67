"""The search: a Keras Tuner hypermodel over network and remedy, and tuner construction.

Importing this module imports Keras and Keras Tuner.
"""

from ._ensemble import average_models, greedy_ensemble
from ._hypermodel import TabularHyperModel, ValidationScorer, build_tabular_model, fold_assignment
from ._image import ImageHyperModel, ImageSchema, augment_stream, build_image_model, make_augmenter
from ._linear import LINEAR_C, cross_fit_logistic, linear_features, logistic_model
from ._remedies import DEFAULT_IMAGE_STRATEGIES, DEFAULT_STRATEGIES, REMEDIES, Remedy, check_strategies
from ._schema import FeatureSchema
from ._trees import TREE_CONFIGS, cross_fit_trees, trees_model
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
