"""Shared fixtures: small imbalanced tables made in the test, never downloaded."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One OpenMP thread per test process, as raretune's own scikit-learn phases use
# (raretune._threads.sklearn_phase): the suite runs a worker per core, and tests that fit
# boosted trees outside a run would otherwise busy-wait on each other's cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
import pytest


def make_frame(n=3000, positive_rate=0.06, seed=0, categorical=True, label_text=True):
    """A learnable imbalanced table: numeric signal in ``a`` and ``b``, a category with signal."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    cat = rng.choice(["web", "pos", "atm"], size=n, p=[0.5, 0.3, 0.2])
    offset = np.log(positive_rate / (1 - positive_rate)) - 1.0
    logit = offset + 2.0 * X[:, 0] + 1.2 * X[:, 1] + (cat == "web") * 0.8
    y = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    if categorical:
        frame["channel"] = cat
    frame["label"] = np.where(y, "fraud", "ok") if label_text else y.astype(int)
    return frame


@pytest.fixture
def frame():
    return make_frame()


@pytest.fixture
def csv_path(tmp_path, frame):
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def plain_keras_predict(path, inputs: dict) -> list:
    """Predictions of the saved model at ``path`` in a fresh process that imports Keras, not raretune."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, numpy as np, keras, tensorflow as tf\n"
        f"m = keras.models.load_model({str(path)!r})\n"
        "assert 'raretune' not in sys.modules\n"
        "x = {k: np.array(v, dtype=object if isinstance(v[0][0], str) else 'float32') for k, v in json.loads(sys.argv[1]).items()}\n"
        "p = m.predict(tf.data.Dataset.from_tensor_slices(x).batch(4), verbose=0)\n"
        "print(json.dumps(np.asarray(p).ravel().tolist()))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, json.dumps({k: v.tolist() for k, v in inputs.items()})],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
