"""RareTuneClassifier: scikit-learn's common estimator checks and the tools that use them."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from raretune import RareTuneClassifier


def _tiny(**params):
    """The smallest run: one trial of one epoch, a hold-out validation part, no extras."""
    return RareTuneClassifier(max_trials=1, max_epochs=1, folds=1, ensemble=1, refit=False, linear=False,
                              trees=False, **params)


EXPECTED_FAILED_CHECKS = {}


@pytest.mark.slow
@parametrize_with_checks([_tiny()], expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS)
def test_sklearn_checks(estimator, check):
    check(estimator)
