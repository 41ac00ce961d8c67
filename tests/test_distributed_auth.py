"""Nobody joins a search uninvited: the chief checks a shared token on every call; TLS on loopback."""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from raretune import ConfigError, RunStateError

grpc = pytest.importorskip("grpc")

ROOT = Path(__file__).resolve().parents[1]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _leased(tmp_path):
    import keras_tuner as kt

    from raretune.tuning.distributed import LeasedOracle

    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("score", "max"), max_trials=3, seed=1)
    oracle._set_project_dir(str(tmp_path), "project")
    hp = kt.HyperParameters()
    hp.Int("x", 0, 1000)
    oracle.update_space(hp)
    return LeasedOracle(oracle, lease_seconds=30)


def _stub(channel):
    from keras_tuner.src import protos

    return protos.get_service_grpc().OracleStub(channel), protos.get_service()


def _code(call):
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()


def test_calls_without_the_token_are_refused_before_the_oracle_sees_them(tmp_path):
    from keras_tuner.src.engine import trial as trial_module

    from raretune.tuning.distributed import Auth
    from raretune.tuning.distributed._servicer import start_server

    leased, logs = _leased(tmp_path), []
    address = f"127.0.0.1:{_free_port()}"
    server = start_server(leased, address, auth=Auth(token="right-token"), log=logs.append)
    channel = grpc.insecure_channel(address)
    try:
        stub, service = _stub(channel)
        wrong = (("raretune-auth-token", "wrong-token"),)
        right = (("raretune-auth-token", "right-token"), ("raretune-tuner-id", "w1"))
        # a plain gRPC client (as Keras Tuner's own worker) and a wrong token: refused
        assert _code(lambda: stub.CreateTrial(service.CreateTrialRequest(tuner_id="plain"), timeout=30)) \
            == grpc.StatusCode.UNAUTHENTICATED
        assert _code(lambda: stub.CreateTrial(service.CreateTrialRequest(tuner_id="intruder"), metadata=wrong,
                                              timeout=30)) == grpc.StatusCode.UNAUTHENTICATED
        assert leased.oracle.trials == {}
        trial = trial_module.Trial.from_proto(
            stub.CreateTrial(service.CreateTrialRequest(tuner_id="w1"), metadata=right, timeout=30).trial)
        assert trial.status == "RUNNING" and list(leased.oracle.trials) == [trial.trial_id]
        # an intruder cannot report a result or end the trial it guessed
        update = service.UpdateTrialRequest(trial_id=trial.trial_id, metrics={"score": 0.99}, step=0)
        assert _code(lambda: stub.UpdateTrial(update, metadata=wrong, timeout=30)) == grpc.StatusCode.UNAUTHENTICATED
        ended = trial_module.Trial(trial.hyperparameters, trial_id=trial.trial_id, status="COMPLETED")
        end = service.EndTrialRequest(trial=ended.to_proto())
        assert _code(lambda: stub.EndTrial(end, timeout=30)) == grpc.StatusCode.UNAUTHENTICATED
        assert not leased.oracle.trials[trial.trial_id].metrics.exists("score")
        assert leased.owners == {trial.trial_id: "w1"} and leased.oracle.end_order == []
        # the invited worker's result counts
        stub.UpdateTrial(service.UpdateTrialRequest(trial_id=trial.trial_id, metrics={"score": 0.5}, step=0),
                         metadata=right, timeout=30)
        stub.EndTrial(end, metadata=right, timeout=30)
        assert leased.oracle.trials[trial.trial_id].score == 0.5 and leased.oracle.end_order == [trial.trial_id]
    finally:
        channel.close()
        server.stop(grace=None)
    refused = [line for line in logs if "refused a call" in line]
    assert len(refused) == 4 and all("auth token" in line for line in refused)


def test_the_chief_does_not_listen_to_the_network_without_a_token(tmp_path):
    from raretune.tuning.distributed import Auth, Role, serve_search
    from raretune.tuning.distributed._auth import check_listen_address, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("node-1")
    for host in ("0.0.0.0", "10.1.2.3", "node-1"):
        with pytest.raises(ConfigError, match="without a token") as info:
            serve_search(None, Role("chief", "chief", host, 8470))  # refused before it serves anything
        assert "\n" not in str(info.value)
    check_listen_address("0.0.0.0", Auth(token="t"))
    check_listen_address("0.0.0.0", None, allow_open=True)
    check_listen_address("127.0.0.1", None)


def test_auth_options(tmp_path):
    from raretune.tuning.distributed import Auth

    assert Auth.from_options(environ={}) is None
    assert Auth.from_options(environ={"RARETUNE_AUTH_TOKEN": "env-token"}).token == "env-token"
    (tmp_path / "token").write_text("file-token\n")
    assert Auth.from_options(token_file=tmp_path / "token", environ={"RARETUNE_AUTH_TOKEN": "x"}).token == "file-token"
    assert Auth.from_options(token="given", environ={"RARETUNE_AUTH_TOKEN": "x"}).token == "given"
    assert Auth(token="t").accepts([]) is False and Auth().accepts([])
    bad = [
        (dict(token="a", token_file=tmp_path / "token"), "not both"),
        (dict(token_file=tmp_path / "missing"), "Cannot read the auth token file"),
        (dict(token=" padded "), "without surrounding spaces"),
        (dict(tls_cert=tmp_path / "token"), "both a certificate"),
        (dict(tls_ca=tmp_path / "missing.pem"), "'tls_ca' parameter"),
    ]
    for options, message in bad:
        with pytest.raises(ConfigError, match=message):
            Auth.from_options(environ={}, **options)


def _certificate(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def test_tls_chief_answers_tls_workers_only(tmp_path):
    from raretune.tuning.distributed import Auth
    from raretune.tuning.distributed._servicer import start_server

    cert, key = _certificate(tmp_path)
    leased = _leased(tmp_path)
    address = f"127.0.0.1:{_free_port()}"
    server = start_server(leased, address, auth=Auth(token="t0k", tls_cert=str(cert), tls_key=str(key)))
    worker = Auth(token="t0k", tls_ca=str(cert))
    try:
        channel = worker.channel(address)
        stub, service = _stub(channel)
        reply = stub.CreateTrial(service.CreateTrialRequest(tuner_id="w1"), metadata=worker.headers(), timeout=30)
        assert reply.trial.status  # answered over TLS
        channel.close()
        plain = grpc.insecure_channel(address)
        stub, service = _stub(plain)
        assert _code(lambda: stub.CreateTrial(service.CreateTrialRequest(tuner_id="w2"), metadata=worker.headers(),
                                              timeout=5)) == grpc.StatusCode.UNAVAILABLE
        plain.close()
    finally:
        server.stop(grace=None)
    assert len(leased.oracle.trials) == 1


def test_join_search_names_a_refused_token(tmp_path):
    from raretune.tuning.distributed import Auth, Role, join_search
    from raretune.tuning.distributed._servicer import start_server

    port = _free_port()
    server = start_server(_leased(tmp_path), f"127.0.0.1:{port}", auth=Auth(token="right"))
    try:
        with pytest.raises(RunStateError, match="refused this worker: its auth token is missing or differs"):
            join_search(Role("worker", "w1", "127.0.0.1", port), tmp_path, "fp", timeout=30, auth=Auth(token="wrong"))
        with pytest.raises(RunStateError, match="refused this worker"):
            join_search(Role("worker", "w1", "127.0.0.1", port), tmp_path, "fp", timeout=30)
        # the right token passes the door; then the run folder is checked
        with pytest.raises(RunStateError, match="holds no readable run record"):
            join_search(Role("worker", "w1", "127.0.0.1", port), tmp_path, "fp", timeout=30, auth=Auth(token="right"))
    finally:
        server.stop(grace=None)


_SCRIPT = textwrap.dedent('''
    import json, sys
    from raretune.datasets import load_data, stratified_split
    from raretune.metrics import get_objective
    from raretune.models import FeatureSchema
    from raretune.tuning import TabularHyperModel, distributed, make_tuner
    from tests.conftest import make_frame

    kind, address, name, token, out = sys.argv[1:6]
    split = stratified_split(load_data(make_frame(n=300, seed=3), target="label"), random_state=0)
    hm = TabularHyperModel(FeatureSchema.from_data(split.train), strategies=["none", "class_weight"], random_state=0)
    auth = None if token == "-" else distributed.Auth(token=token)
    if kind == "chief":
        role = distributed.resolve_role(chief=address)
    else:
        role = distributed.resolve_role(worker=address, worker_id=name)
    say = lambda line: print(line, flush=True)
    with distributed.kt_environment(role):
        tuner = make_tuner("random", hm, get_objective("pr_auc"), max_trials=2, max_epochs=1, directory=out, seed=0)
        if kind == "chief":
            distributed.serve_search(tuner, role, lease_seconds=60, auth=auth, log=say,
                                     on_trial_end=lambda event: say("EVENT " + json.dumps(event)))
        else:
            distributed.run_worker(tuner, lease_seconds=60, auth=auth, log=say, train=split.train,
                                   validation=split.validation, epochs=1, verbose=0)
''')


@pytest.mark.slow
def test_only_the_worker_with_the_token_runs_trials(tmp_path):
    script = tmp_path / "node.py"
    script.write_text(_SCRIPT)
    address = f"127.0.0.1:{_free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERASTUNER_", "RARETUNE_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    procs, logs = {}, {}
    nodes = [("chief", "chief", "s3cret"), ("worker", "good", "s3cret"), ("worker", "wrong", "guess"),
             ("worker", "plain", "-")]
    try:
        for kind, name, token in nodes:
            logs[name] = open(tmp_path / f"{name}.log", "w")
            procs[name] = subprocess.Popen([sys.executable, str(script), kind, address, name, token, str(tmp_path / "run")],
                                           cwd=ROOT, env=env, stdout=logs[name], stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 400
        codes = {name: procs[name].wait(timeout=max(1.0, deadline - time.monotonic())) for name in procs}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        for log in logs.values():
            log.close()
    text = {name: (tmp_path / f"{name}.log").read_text() for name in procs}
    assert codes["chief"] == 0 and codes["good"] == 0, (text["chief"][-2000:], text["good"][-2000:])
    for name in ("wrong", "plain"):
        assert codes[name] != 0 and "refused this worker" in text[name], text[name][-2000:]
    events = [json.loads(line[6:]) for line in text["chief"].splitlines() if line.startswith("EVENT ")]
    assert [e["tuner_id"] for e in events] == ["good", "good"]
    assert text["chief"].count("refused a call from") >= 2
    state = json.loads((tmp_path / "run" / "tuner" / "oracle.json").read_text())
    assert len(state["end_order"]) == 2 and state["ongoing_trials"] == {}


def test_run_options_refuse_an_open_chief_early():
    from raretune.tuning.distributed import Auth, check_distributed_options

    with pytest.raises(ConfigError, match="without a token"):
        check_distributed_options("0.0.0.0:8470", None, None, 30)
    check_distributed_options("0.0.0.0:8470", None, None, 30, auth=Auth(token="t"))
    check_distributed_options("127.0.0.1:8470", None, None, 30)
    check_distributed_options(None, "10.0.0.1:8470", "w1", 30)  # a worker may dial out without a token
