"""One search, many machines: chief and workers on 127.0.0.1, leases, restarts.

The end-to-end tests start real processes (``python -m raretune run``) on loopback ports;
every wait is bounded and every child is killed in ``finally``.
"""

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from raretune import ConfigError, RunConfig
from raretune.metrics import get_objective

from tests.conftest import make_frame


# -- options and roles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(chief="127.0.0.1:9000", worker="127.0.0.1:9000", worker_id="w"), "not both"),
        (dict(chief="127.0.0.1"), "'chief' parameter of run must be HOST:PORT"),
        (dict(chief="127.0.0.1:0"), "'chief' parameter of run must be HOST:PORT"),
        (dict(worker="127.0.0.1:99999", worker_id="w"), "'worker' parameter of run must be HOST:PORT"),
        (dict(worker="127.0.0.1:9000"), "needs a name"),
        (dict(worker="127.0.0.1:9000", worker_id="my chief"), "'worker_id' parameter"),
        (dict(worker_id="w"), "--worker-id needs --worker"),
        (dict(chief="127.0.0.1:9000", lease_seconds=0), "'lease_seconds' parameter of run must be a number > 0"),
        (dict(chief="127.0.0.1:9000", out=None), "needs --out"),
        (dict(worker="127.0.0.1:9000", worker_id="w", overwrite=True), "never replaces"),
    ],
)
def test_distributed_options_are_checked(options, message):
    options = {"out": "runs/x", **options}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")) as info:
        RunConfig(**options).validated()
    assert "\n" not in str(info.value)


def test_role_from_flags_or_keras_tuner_environment():
    from raretune.tuning.distributed import Role, kt_environment, resolve_role

    assert resolve_role(environ={}) is None
    assert resolve_role(chief="127.0.0.1:9000", environ={}) == Role("chief", "chief", "127.0.0.1", 9000)
    assert resolve_role(worker="node:9000", worker_id="w1") == Role("worker", "w1", "node", 9000)
    env = {"KERASTUNER_TUNER_ID": "tuner3", "KERASTUNER_ORACLE_IP": "10.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"}
    assert resolve_role(environ=env) == Role("worker", "tuner3", "10.0.0.1", 8000)
    assert resolve_role(environ={**env, "KERASTUNER_TUNER_ID": "chief"}).kind == "chief"
    with pytest.raises(ConfigError, match="KERASTUNER_TUNER_ID is not"):
        resolve_role(environ={"KERASTUNER_ORACLE_IP": "10.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"})
    saved = {k: os.environ.get(k) for k in env}
    with kt_environment(Role("worker", "w1", "127.0.0.1", 9000)):
        assert os.environ["KERASTUNER_TUNER_ID"] == "w1" and os.environ["KERASTUNER_ORACLE_PORT"] == "9000"
    assert {k: os.environ.get(k) for k in env} == saved


# -- the lease, exactly (a fake clock, no processes) ------------------------------------------


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _oracle(tmp_path, max_trials=3):
    import keras_tuner as kt

    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("score", "max"), max_trials=max_trials, seed=1)
    oracle._set_project_dir(str(tmp_path), "project")
    hp = kt.HyperParameters()
    hp.Int("x", 0, 1000)
    oracle.update_space(hp)
    return oracle


def _finish(leased, trial, tuner_id, score):
    """What a worker sends at the end of a trial (a copy of the trial, as over gRPC)."""
    leased.update_trial(trial.trial_id, {"score": score}, tuner_id=tuner_id)
    ended = copy.deepcopy(trial)
    ended.status = "COMPLETED"
    return leased.end_trial(ended, tuner_id=tuner_id)


def test_silent_worker_loses_its_trial_and_its_late_result_is_ignored(tmp_path):
    from raretune.tuning.distributed import LeasedOracle

    clock, events = _Clock(), []
    leased = LeasedOracle(_oracle(tmp_path), lease_seconds=10, clock=clock, on_trial_end=events.append)
    lost = leased.create_trial("a")
    first_b = leased.create_trial("b")
    assert lost.status == first_b.status == "RUNNING" and lost.trial_id != first_b.trial_id
    clock.now = 6.0
    assert leased.heartbeat("b", first_b.trial_id) and leased.reclaim_expired() == []
    clock.now = 12.0  # "a" silent for 12 s > 10 s; "b" spoke 6 s ago
    assert _finish(leased, first_b, "b", 0.5)
    again = leased.create_trial("b")
    assert again.trial_id == lost.trial_id and again.hyperparameters.values == lost.hyperparameters.values
    assert leased.owners == {lost.trial_id: "b"}
    assert not leased.heartbeat("a", lost.trial_id)  # "a" learns that it lost the trial
    # the lost worker's late result and end are ignored; the new owner's count, once
    assert not _finish(leased, lost, "a", 0.99)
    assert not leased.oracle.trials[lost.trial_id].metrics.exists("score")
    assert _finish(leased, again, "b", 0.25)
    assert leased.oracle.trials[lost.trial_id].score == 0.25
    last = leased.create_trial("a")  # "a" comes back and takes the last trial of the budget
    assert last.status == "RUNNING"
    assert leased.create_trial("b").status == "IDLE"  # budget spent, but "a"'s trial may come back
    assert not leased.finished()
    assert _finish(leased, last, "a", 0.1)
    assert leased.create_trial("b").status == "STOPPED" and leased.finished()
    assert not leased.released()  # "a" has not been told to stop, nor been silent for a lease
    assert leased.create_trial("a").status == "STOPPED" and leased.released()
    oracle = leased.oracle
    assert sorted(oracle.end_order) == sorted(oracle.trials) and len(oracle.end_order) == 3
    assert [(e["trial_id"], e["tuner_id"]) for e in events] == [
        (first_b.trial_id, "b"), (lost.trial_id, "b"), (last.trial_id, "a")]


def test_dead_worker_does_not_keep_the_chief_waiting(tmp_path):
    from raretune.tuning.distributed import LeasedOracle

    clock = _Clock()
    leased = LeasedOracle(_oracle(tmp_path, max_trials=1), lease_seconds=5, clock=clock)
    trial = leased.create_trial("a")
    assert _finish(leased, trial, "a", 0.5)
    assert leased.create_trial("b").status == "STOPPED" and leased.finished()
    assert not leased.released()  # "a" finished its trial and died before asking again
    clock.now = 5.0
    assert leased.released()


def test_finished_trial_saved_as_ongoing_does_not_run_again(tmp_path):
    """Keras Tuner's end_trial saves oracle.json before it forgets the trial as ongoing."""
    from raretune.tuning.distributed import LeasedOracle

    oracle = _oracle(tmp_path, max_trials=1)
    trial = oracle.create_trial("w1")
    oracle.update_trial(trial.trial_id, {"score": 0.5})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)  # Keras Tuner's own chief does this, and saves nothing after
    state = json.loads((tmp_path / "project" / "oracle.json").read_text())
    assert state["ongoing_trials"] == {"w1": trial.trial_id}
    restarted = _oracle(tmp_path, max_trials=1)
    restarted.reload()
    assert restarted._retry_queue == [trial.trial_id]  # Keras Tuner alone would run it again
    leased = LeasedOracle(restarted, lease_seconds=5)
    assert restarted._retry_queue == [] and leased.finished()
    assert json.loads((tmp_path / "project" / "oracle.json").read_text())["retry_queue"] == []
    assert leased.create_trial("w2").status == "STOPPED"


# -- chief and workers, as processes ----------------------------------------------------------

# one network, not an ensemble of trials: the chief's scores must then be the best trial's own
# the distributed search is what is tested: no converged candidate families beside its trials
COMMON = ["--target", "label", "--max-trials", "6", "--max-epochs", "2", "--no-baseline",
          "--strategies", "none,class_weight", "--seed", "0", "--ensemble", "1",
          "--no-linear", "--no-trees", "--no-forests", "--no-smote-linear", "--no-knn"]
_RUN_FILES = {"metrics.json", "model.keras", "scores.npz", "history.json", "trials.json", "config.json",
              "report.html", "tuner"}


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Processes:
    """Child ``raretune run`` processes; every one is killed on exit."""

    def __init__(self, root: Path):
        self.root = root
        self.procs = {}
        self.logs = {}

    def start(self, name, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        log = open(self.root / f"{name}.log", "w")
        self.logs[name] = log
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "raretune", "run", *args], cwd=self.root, env=env,
            stdout=log, stderr=subprocess.STDOUT,
        )
        return self.procs[name]

    def log(self, name):
        return (self.root / f"{name}.log").read_text()

    def wait(self, names, deadline):
        for name in names:
            try:
                code = self.procs[name].wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name} did not finish in time:\n{self.log(name)[-3000:]}")
            assert code == 0, f"{name} exited with {code}:\n{self.log(name)[-3000:]}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for log in self.logs.values():
            log.close()


def _trials(out):
    return json.loads((out / "trials.json").read_text())


def _check_counted_once(out, max_trials):
    trials = _trials(out)
    assert len(trials) == max_trials and all(t["status"] == "COMPLETED" for t in trials), trials
    oracle = json.loads((out / "tuner" / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == sorted(t["trial_id"] for t in trials)
    assert oracle["ongoing_trials"] == {} and oracle["retry_queue"] == []
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["search"]["n_trials"] == max_trials and metrics["search"]["n_failed"] == 0
    return trials, metrics


#: Keys whose contents depend on which trial won or which calibration was chosen.
_MODEL_DEPENDENT = ("per_class", "remedy", "hyperparameters", "params", "cv_log_loss")


def _key_tree(value):
    """The nested key structure of a JSON record (values, and model-dependent contents, dropped)."""
    if isinstance(value, dict):
        return {k: (None if k in _MODEL_DEPENDENT else _key_tree(v)) for k, v in value.items()}
    return None


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    """A chief and two workers run a 6-trial Hyperband search to completion."""
    root = tmp_path_factory.mktemp("cluster")
    make_frame(n=800, positive_rate=0.08, seed=1).to_csv(root / "d.csv", index=False)
    address = f"127.0.0.1:{_free_port()}"
    args = ["--data", "d.csv", *COMMON, "--out", "run", "--lease-seconds", "30"]
    started = time.monotonic()
    with _Processes(root) as procs:
        procs.start("chief", *args, "--chief", address)
        procs.start("w1", *args, "--worker", address, "--worker-id", "w1")
        procs.start("w2", *args, "--worker", address, "--worker-id", "w2")
        # a worker whose split differs (another seed) is refused before it runs anything
        procs.start("bad", *[a if a != "0" else "1" for a in args], "--worker", address, "--worker-id", "bad")
        deadline = started + 150
        try:
            code = procs.procs["bad"].wait(timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail("the mismatched worker was not refused in time")
        assert code == 2, procs.log("bad")
        procs.wait(["w1", "w2", "chief"], deadline)
        logs = {name: procs.log(name) for name in ("chief", "w1", "w2", "bad")}
    return root, root / "run", logs, time.monotonic() - started


@pytest.mark.slow
def test_chief_and_two_workers_write_a_one_machine_run(cluster_run, tmp_path):
    import raretune

    root, out, logs, seconds = cluster_run
    trials, metrics = _check_counted_once(out, 6)
    assert {t["tuner_id"] for t in trials} == {"w1", "w2"}, trials  # both workers ran trials
    assert "differ from the chief's" in logs["bad"] and "bad" not in {t["tuner_id"] for t in trials}
    assert "class_weight" not in logs["w1"].splitlines()  # Keras Tuner's stray print is silenced
    # the same files and record structure as a one-machine run
    reference = raretune.run(data=str(root / "d.csv"), target="label", out=tmp_path / "one", max_trials=1,
                             max_epochs=1, baseline=False, strategies=["none", "class_weight"], quiet=True, ensemble=1,
                             linear=False, trees=False, forests=False, smote_linear=False, knn=False)
    names = {p.name for p in out.iterdir()}
    assert names == {p.name for p in reference.out.iterdir()} and _RUN_FILES <= names
    assert _key_tree(metrics) == _key_tree(reference.metrics)
    assert set(trials[0]) == set(_trials(reference.out)[0])
    assert _trials(reference.out)[0]["tuner_id"] == "tuner0"
    assert metrics["search"]["max_trials"] == 6 and metrics["best"]["trial_id"] in {t["trial_id"] for t in trials}
    # the chief loaded the best trial's checkpoint, written by a worker: it scores as the trial did
    best = next(t for t in trials if t["trial_id"] == metrics["best"]["trial_id"])
    scores = np.load(out / "scores.npz")
    raw_score = get_objective("pr_auc").score(scores["validation_y"], scores["validation_score_raw"])
    assert raw_score == pytest.approx(best["score"], abs=5e-3)


@pytest.mark.slow
def test_restarting_a_finished_project_runs_nothing_again(cluster_run, tmp_path):
    root, out, _, _ = cluster_run
    again = tmp_path / "run"
    shutil.copytree(out, again)
    shutil.copy(root / "d.csv", tmp_path / "d.csv")
    # leave the state as Keras Tuner's own chief leaves it: the last trial still "ongoing"
    state_path = again / "tuner" / "oracle.json"
    state = json.loads(state_path.read_text())
    state["ongoing_trials"] = {"w2": state["end_order"][-1]}
    state_path.write_text(json.dumps(state))
    before = _trials(again)
    with _Processes(tmp_path) as procs:  # the chief alone: no worker is needed, none would run
        procs.start("chief", "--data", "d.csv", *COMMON, "--out", "run", "--resume",
                    "--chief", f"127.0.0.1:{_free_port()}")
        procs.wait(["chief"], time.monotonic() + 120)
        log = procs.log("chief")
    assert "no trial runs again" in log
    assert _trials(again) == before
    _check_counted_once(again, 6)


@pytest.mark.slow
def test_killed_worker_trial_goes_back_to_the_pool(tmp_path):
    make_frame(n=800, positive_rate=0.08, seed=1).to_csv(tmp_path / "d.csv", index=False)
    address = f"127.0.0.1:{_free_port()}"
    args = ["--data", "d.csv", *COMMON, "--tuner", "random", "--out", "run", "--lease-seconds", "5"]
    state_path = tmp_path / "run" / "tuner" / "oracle.json"
    with _Processes(tmp_path) as procs:
        procs.start("chief", *args, "--chief", address)
        procs.start("doomed", *args, "--worker", address, "--worker-id", "doomed")
        procs.start("steady", *args, "--worker", address, "--worker-id", "steady")
        deadline = time.monotonic() + 120
        killed = None
        while killed is None and time.monotonic() < deadline:
            try:
                ongoing = json.loads(state_path.read_text())["ongoing_trials"]
            except (OSError, ValueError, KeyError):
                ongoing = {}
            if "doomed" in ongoing:  # it has just been handed a trial: kill it mid-trial
                procs.procs["doomed"].send_signal(signal.SIGKILL)
                killed = ongoing["doomed"]
            time.sleep(0.05)
        assert killed is not None, procs.log("chief")[-3000:]
        procs.procs["doomed"].wait(timeout=10)
        procs.wait(["steady", "chief"], time.monotonic() + 120)
        chief_log = procs.log("chief")
    trials, _ = _check_counted_once(tmp_path / "run", 6)  # the full budget, every trial once
    owner = {t["trial_id"]: t["tuner_id"] for t in trials}
    assert owner[killed] == "steady", (killed, owner)
    assert f"trial {killed}: no word from doomed" in chief_log
