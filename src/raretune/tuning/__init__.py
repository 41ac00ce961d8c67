"""Keras Tuner glue: hypermodels over network and remedy, cross-fitting, callbacks, the tuner.

Plain Keras graphs live in :mod:`raretune.models`, remedies in :mod:`raretune.remedies`, a
search over several machines in :mod:`raretune.tuning.distributed`. Names are imported on
first use (most of them import Keras): the distributed option checks load without it.
"""

from __future__ import annotations

import importlib

# public name -> module that defines it
_NAMES = {
    "ValidationScorer": "._callbacks",
    "FOREST_CONFIGS": "._converged",
    "KNN_NEIGHBORS": "._converged",
    "LINEAR_C": "._converged",
    "SMOTE_C": "._converged",
    "TREE_CONFIGS": "._converged",
    "cross_fit_logistic": "._converged",
    "cross_fit_trees": "._converged",
    "cross_fit_forest": "._converged",
    "cross_fit_knn": "._converged",
    "cross_fit_smote_logistic": "._converged",
    "CrossFitter": "._crossfit",
    "fold_assignment": "._crossfit",
    "greedy_ensemble": "._ensemble",
    "TabularHyperModel": "._hypermodel",
    "ImageHyperModel": "._image",
    "augment_stream": "._image",
    "make_augmenter": "._image",
    "TUNERS": "._tuner",
    "completed_trials": "._tuner",
    "make_tuner": "._tuner",
}

__all__ = sorted([*_NAMES, "distributed"])


def __getattr__(name):
    if name == "distributed":
        return importlib.import_module(".distributed", __name__)
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
