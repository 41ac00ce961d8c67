"""AutoGluon-Tabular on one benchmark split; run by the Python of AutoGluon's own environment.

``benchmarks/keel.py`` writes the shared split to an ``.npz`` (``X_train``, ``y_train``,
``X_test``; label 1 = minority) and runs this script with the interpreter of a separate
virtual environment (AutoGluon is never a raretune dependency)::

    python3 -m venv /path/to/autogluon-venv
    /path/to/autogluon-venv/bin/pip install "autogluon.tabular[lightgbm,catboost,xgboost]==1.6.3"

The extras give LightGBM, CatBoost and XGBoost; random forest, extra trees and k-NN come
with scikit-learn. No extra pulls in PyTorch, so AutoGluon's neural networks are left out.

The script imports only numpy, pandas and AutoGluon. It fits ``TabularPredictor`` with
``eval_metric="average_precision"`` and the given preset on the training rows and writes
a JSON object: the test probabilities of the minority class, AutoGluon's own decisions
(``predict``, its default threshold 0.5), and the F1-best threshold that AutoGluon's
``calibrate_decision_threshold(metric="f1")`` chooses on its internal validation data
(the holdout rows it split off itself, or out-of-fold predictions when it bags).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import numpy as np
import pandas as pd

LABEL = "label"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/_autogluon_peer.py")
    parser.add_argument("--data", required=True, help=".npz with X_train, y_train, X_test")
    parser.add_argument("--preset", required=True, help="AutoGluon preset, e.g. medium_quality or best_quality")
    parser.add_argument("--time-limit", type=float, default=None, help="AutoGluon's time_limit in seconds")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args(argv)

    from autogluon.tabular import TabularPredictor
    from autogluon.tabular import __version__ as autogluon_version

    arrays = np.load(args.data)
    columns = [f"x{j}" for j in range(arrays["X_train"].shape[1])]
    train = pd.DataFrame(arrays["X_train"], columns=columns)
    # string labels so AutoGluon treats the task as binary classification and "pos" as the positive class
    train[LABEL] = np.where(arrays["y_train"] == 1, "pos", "neg")
    test = pd.DataFrame(arrays["X_test"], columns=columns)
    with tempfile.TemporaryDirectory(prefix="autogluon-peer-") as tmp:
        tic = time.monotonic()
        predictor = TabularPredictor(label=LABEL, eval_metric="average_precision", positive_class="pos",
                                     path=tmp, verbosity=0)
        # without PyTorch AutoGluon would try its two neural networks and skip them with import errors
        predictor.fit(train, presets=args.preset, time_limit=args.time_limit,
                      excluded_model_types=["NN_TORCH", "FASTAI"])
        fit_seconds = time.monotonic() - tic
        score = predictor.predict_proba(test)["pos"].to_numpy(dtype="float64")
        prediction = (predictor.predict(test) == "pos").to_numpy().astype(int)
        threshold = float(predictor.calibrate_decision_threshold(metric="f1", verbose=False))
        leaderboard = predictor.leaderboard(silent=True)
        result = {
            "score": score.tolist(),
            "prediction": prediction.tolist(),
            "decision_threshold": float(predictor.decision_threshold),
            "f1_threshold": threshold,
            "fit_seconds": fit_seconds,
            "best_model": predictor.model_best,
            "n_models": int(len(leaderboard)),
            "preset": args.preset,
            "time_limit": args.time_limit,
            "autogluon": autogluon_version,
        }
    with open(args.out, "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
