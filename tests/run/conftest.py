"""A finished run shared by the tests of deploying and predicting (trained once per session)."""

import pytest

import raretune
from tests.conftest import make_frame


@pytest.fixture(scope="session")
def finished(tmp_path_factory):
    """One tiny run with a fixed test set and Platt scaling (a calibration that moves scores)."""
    out = tmp_path_factory.mktemp("deploy") / "run"
    test_frame = make_frame(n=300, seed=7)
    raretune.run(data=make_frame(n=600), test_data=test_frame, target="label", calibration="platt", max_trials=1,
                 max_epochs=1, folds=1, baseline=False, quiet=True, out=out)
    return out, test_frame.drop(columns="label")
