"""Fitted scikit-learn models compiled into plain Keras graphs (built-in layers only).

:func:`linear_features` is the design matrix the models are fitted on;
:func:`logistic_model`, :func:`trees_model` and :func:`forest_model` turn the fitted models into Keras models
with the same inputs and output as raretune's networks.
"""

from ._forests import forest_model
from ._linear import linear_features, logistic_model
from ._trees import DEFAULT_MAX_TREE_PARAMS, ModelTooLarge, trees_model

__all__ = ["DEFAULT_MAX_TREE_PARAMS", "ModelTooLarge", "forest_model", "linear_features", "logistic_model",
           "trees_model"]
