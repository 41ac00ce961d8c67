"""Nothing lost, nothing leaked: crashes, resumes, damaged state, failed trials, atomic writes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from raretune._io import atomic_path, write_json

from tests.conftest import make_frame


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"version": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text('{"version": 2, "trunc')
            raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_nan_trial_fails_once_is_reported_and_never_chosen(tmp_path):
    import keras

    from raretune.datasets import load_data, stratified_split
    from raretune.metrics import get_objective
    from raretune.models import FeatureSchema
    from raretune.tuning import TabularHyperModel, completed_trials, make_tuner

    class NaNForNone(TabularHyperModel):
        def build(self, hp):
            model = super().build(hp)
            if hp.get("strategy") == "none":
                model.compile(optimizer="adam", loss=lambda y, p: keras.ops.mean(p) * float("nan"))
            return model

    split = stratified_split(load_data(make_frame(n=1200, seed=5), target="label"), random_state=0)
    hm = NaNForNone(FeatureSchema.from_data(split.train), strategies=["none", "class_weight"], random_state=0)
    events = []
    tuner = make_tuner("random", hm, get_objective("pr_auc"), max_trials=6, max_epochs=1,
                       directory=tmp_path, seed=0, progress=events.append)
    tuner.search(train=split.train, validation=split.validation, epochs=1, verbose=0)
    trials = list(tuner.oracle.trials.values())
    failed = [t for t in trials if t.hyperparameters.get("strategy") == "none"]
    assert failed and all(t.status == "FAILED" for t in failed)
    assert all("training loss became nan" in t.message for t in failed)
    assert len(trials) == 6  # the search went on to its full budget
    assert all(tuner.oracle._run_times[t.trial_id] == 1 for t in failed)  # never retried
    assert all(t.hyperparameters.get("strategy") == "class_weight" for t in completed_trials(tuner.oracle))
    assert {e["status"] for e in events} >= {"FAILED", "COMPLETED"}


def _trial_scores(run_dir: Path) -> dict:
    scores = {}
    for path in sorted((run_dir / "tuner").glob("trial_*/trial.json")):
        state = json.loads(path.read_text())
        if state["status"] == "COMPLETED":
            scores[state["trial_id"]] = (state["score"], state["hyperparameters"]["values"])
    return scores


@pytest.mark.slow
def test_sigkill_then_resume_keeps_finished_trials_and_completes_the_budget(tmp_path):
    data = tmp_path / "d.csv"
    make_frame(n=2000, seed=6).to_csv(data, index=False)
    out = tmp_path / "run"
    args = [sys.executable, "-m", "raretune", "run", "--data", str(data), "--target", "label", "--out", str(out),
            "--max-trials", "4", "--max-epochs", "2", "--tuner", "random", "--no-baseline", "--quiet",
            "--strategies", "none,class_weight,smote", "--folds", "3",
            # the trials are what a kill and a resume must keep; the stages after the search are not
            "--no-refit", "--no-report", "--no-trees", "--no-forests", "--no-smote-linear", "--no-knn"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(_trial_scores(out)) < 2 and proc.poll() is None:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _trial_scores(out)
    assert 2 <= len(before) < 4, before
    interrupted = {}
    for path in (out / "tuner").glob("trial_*/trial.json"):
        state = json.loads(path.read_text())
        if state["status"] == "RUNNING":
            interrupted[state["trial_id"]] = state["hyperparameters"]["values"]
    # a second run without --resume refuses and leaves the state alone
    refused = subprocess.run(args, capture_output=True, text=True)
    assert refused.returncode == 2 and "already holds a run" in refused.stderr
    assert _trial_scores(out) == before
    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = _trial_scores(out)
    assert len(after) == 4
    for trial_id, (score, values) in before.items():
        assert after[trial_id] == (score, values)  # finished trials kept, score unchanged
    for trial_id, values in interrupted.items():
        assert after[trial_id][1] == values  # the interrupted trial ran again, same hyperparameters
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["search"]["n_trials"] == 4
    # resuming with other data is refused
    make_frame(n=2000, seed=7).to_csv(data, index=False)
    other = subprocess.run(args + ["--resume"], capture_output=True, text=True)
    assert other.returncode == 2 and "other data or another search space" in other.stderr


@pytest.mark.slow
def test_a_damaged_state_file_is_refused_clearly(tmp_path):
    import raretune

    frame = make_frame(n=1500, seed=8)
    out = tmp_path / "run"
    options = dict(data=frame, target="label", out=out, max_trials=2, max_epochs=1, baseline=False,
                   quiet=True, strategies=["none"], refit=False, report=False, linear=False, trees=False,
                   forests=False, smote_linear=False, knn=False, folds=1)
    raretune.run(**options)
    oracle = out / "tuner" / "oracle.json"
    oracle.write_text(oracle.read_text()[:40])  # truncated, as a crash mid-write would leave it
    metrics_before = (out / "metrics.json").read_bytes()
    with pytest.raises(raretune.RunStateError, match="is damaged"):
        raretune.run(**options, resume=True)
    assert (out / "metrics.json").read_bytes() == metrics_before
