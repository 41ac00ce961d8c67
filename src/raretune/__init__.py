"""raretune: tune Keras classifiers on highly imbalanced data.

The workflow is here: :func:`run`, :func:`predict`, :func:`load_run`, :class:`RunConfig`,
:class:`RunResult`, the errors a user can cause, and :class:`RareTuneClassifier` (a run as a
scikit-learn estimator, imported on first use). Building blocks live in their
subpackages (``raretune.datasets``, ``raretune.remedies``, ``raretune.models``,
``raretune.tuning``, ``raretune.resample``, ``raretune.metrics``, ``raretune.thresholds``,
``raretune.report``). Importing raretune does not import TensorFlow; once
``tensorflow_datasets`` is imported (before or after raretune), raretune's locally generated
datasets (``synthetic_fraud``, ``synthetic_digits``) are registered, so
``tfds.load("synthetic_fraud")`` works after ``import raretune``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

from ._errors import ConfigError, DataError, RaretuneError, RunStateError

from ._version import __version__  # noqa: E402,F401

# The run package is TensorFlow-free at import; importing it here also keeps the name
# ``raretune.run`` bound to the function, not to the subpackage of the same name.
from .run import RunConfig, RunResult, load_run, predict, run  # noqa: E402

__all__ = [
    "ConfigError",
    "DataError",
    "RareTuneClassifier",
    "RaretuneError",
    "RunConfig",
    "RunResult",
    "RunStateError",
    "__version__",
    "load_run",
    "predict",
    "run",
]


def __getattr__(name: str):
    # scikit-learn takes seconds to import: only users of the estimator pay for it.
    if name == "RareTuneClassifier":
        from .estimator import RareTuneClassifier

        return RareTuneClassifier
    raise AttributeError(f"module 'raretune' has no attribute {name!r}")


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
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module):
            original_exec(module)
            _register_tfds_builders()

        loader.exec_module = exec_module
        return spec


if "tensorflow_datasets" in sys.modules:
    _register_tfds_builders()
else:
    sys.meta_path.insert(0, _TfdsImportHook())
