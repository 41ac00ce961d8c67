"""raretune: tune Keras classifiers on highly imbalanced data.

Importing raretune is cheap: TensorFlow, Keras Tuner and imbalanced-learn load on first use
of a name that needs them. Once ``tensorflow_datasets`` is imported (before or after
raretune), raretune's locally generated datasets (``synthetic_fraud``, ``synthetic_digits``)
are registered, so ``tfds.load("synthetic_fraud")`` works after ``import raretune``.
"""

from __future__ import annotations

import importlib
import sys

from ._errors import ConfigError, DataError, RaretuneError, RunStateError

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily)
_LAZY = {
    # data
    "load_data": "raretune.datasets",
    "TabularData": "raretune.datasets",
    "describe_imbalance": "raretune.datasets",
    "stratified_split": "raretune.datasets",
    # weighting, metrics, thresholds
    "class_weights": "raretune.weighting",
    "output_bias": "raretune.weighting",
    "score_predictions": "raretune.metrics",
    "get_objective": "raretune.metrics",
    "select_threshold": "raretune.thresholds",
    # search and runs
    "TabularHyperModel": "raretune.tuning",
    "make_tuner": "raretune.tuning",
    "RunConfig": "raretune._run",
    "run": "raretune._run",
    "predict": "raretune._run",
    "load_run": "raretune._run",
    # resampling
    "rebalance": "raretune.resample",
    "TomekLinks": "raretune.resample",
    "EditedNearestNeighbours": "raretune.resample",
    "SMOTETomek": "raretune.resample",
    "SMOTEENN": "raretune.resample",
}

__all__ = sorted(
    ["ConfigError", "DataError", "RaretuneError", "RunStateError", "__version__", *_LAZY]
)


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'raretune' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__


def _register_tfds_builders() -> None:
    importlib.import_module("raretune.datasets.builders")


class _TfdsImportHook:
    """Register raretune's TFDS builders right after ``tensorflow_datasets`` is imported.

    Importing TFDS costs seconds (it imports TensorFlow), so ``import raretune`` does not do
    it; this finder waits for the user's own ``import tensorflow_datasets``.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow_datasets":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            pass
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module):
            original_exec(module)
            _register_tfds_builders()

        loader.exec_module = exec_module
        return spec


import importlib.util  # noqa: E402

if "tensorflow_datasets" in sys.modules:
    _register_tfds_builders()
else:
    sys.meta_path.insert(0, _TfdsImportHook())
