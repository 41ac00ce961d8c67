"""Keras Tuner glue: hypermodels over network and remedy, cross-fitting, callbacks, the tuner.

Plain Keras graphs live in :mod:`raretune.models`, remedies in :mod:`raretune.remedies`, a
search over several machines in :mod:`raretune.tuning.distributed`. Names are imported on
first use: ``raretune.tuning.distributed``'s option checks load without Keras.
"""

from __future__ import annotations

import importlib

# public name -> module that defines it (imported on first use: most of them import Keras)
_NAMES = {
    "ValidationScorer": "._callbacks",
    "CrossFitter": "._crossfit",
    "fold_assignment": "._crossfit",
    "greedy_ensemble": "._ensemble",
    "average_models": "._ensemble",
    "TabularHyperModel": "._hypermodel",
    "build_tabular_model": "._hypermodel",
    "ImageHyperModel": "._image",
    "ImageSchema": "._image",
    "augment_stream": "._image",
    "build_image_model": "._image",
    "make_augmenter": "._image",
    "LINEAR_C": "._linear",
    "cross_fit_logistic": "._linear",
    "linear_features": "._linear",
    "logistic_model": "._linear",
    "FeatureSchema": "._schema",
    "TREE_CONFIGS": "._trees",
    "cross_fit_trees": "._trees",
    "trees_model": "._trees",
    "TUNERS": "._tuner",
    "completed_trials": "._tuner",
    "make_tuner": "._tuner",
}

__all__ = sorted([*_NAMES, "distributed"])


def __getattr__(name):
    if name == "distributed":
        return importlib.import_module("._distributed", __name__)
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
