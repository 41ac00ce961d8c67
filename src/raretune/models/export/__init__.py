"""Fitted scikit-learn models compiled into plain Keras graphs (built-in layers only).

:func:`linear_features` is the design matrix the models are fitted on;
:func:`logistic_model`, :func:`trees_model` and :func:`forest_model` turn the fitted models into Keras models
with the same inputs and output as raretune's networks; :func:`knn_model` does the same for
k-nearest neighbours over stored fold training rows (:class:`NeighbourStore`).
"""

from ._forests import forest_model
from ._knn import (DEFAULT_MAX_KNN_DISTANCES, DEFAULT_MAX_KNN_VALUES, NeighbourStore, knn_model, knn_over_cap,
                   knn_values, neighbour_probabilities, neighbour_store)
from ._linear import linear_features, logistic_model
from ._trees import DEFAULT_MAX_TREE_PARAMS, ModelTooLarge, trees_model

__all__ = ["DEFAULT_MAX_KNN_DISTANCES", "DEFAULT_MAX_KNN_VALUES", "DEFAULT_MAX_TREE_PARAMS", "ModelTooLarge",
           "NeighbourStore", "forest_model", "knn_model", "knn_over_cap", "knn_values", "linear_features", "logistic_model", "neighbour_probabilities", "neighbour_store",
           "trees_model"]
