"""The streamed finish on one process against a chief and a worker on 127.0.0.1: same quality?

Runs the same streamed ``raretune run`` twice, with identical options and seed (one trial of one
epoch, class weights, no baseline or report, ``--memory-budget``, ``--finish-epochs N``): (a) in
one process without ``TF_CONFIG``, (b) as a chief and one worker on loopback (the chief runs
``raretune run``, the worker ``raretune finish-worker RUN``, each with its own ``TF_CONFIG``
task; task ``i`` of 2 reads the shards ``files[i::2]``, so there must be at least 2). Every run
is a fresh process, every wait is bounded and every child is killed in ``finally``. It prints
each run's wall seconds, test PR-AUC with its bootstrap interval and the finish's rows and
shards (each task's), then the difference b - a and whether it is within ``--tolerance``
(0.01, the issue's bound). The search runs in the chief alone, so only the finish should differ;
each run's best search score is recorded and a difference is printed.

Both runs test on the same rows: the hashed split depends only on the seed (``--seed 0``), so
every pass, in either run, puts the same rows in the test part; the script checks that both
runs scored the same number of test rows (``stream.json`` ``scored.test_rows``) and fails if not.

Default data: bench_scale.py's cached ``synthetic_fraud`` shards (``--rows`` rows in shards of
``--shard-rows``; written once if missing), target ``is_fraud``. Results go to
``benchmarks/results/finish_workers.json``.

    python benchmarks/bench_finish_workers.py --rows 1000000 --finish-epochs 1
    python benchmarks/bench_finish_workers.py --data 'shards/*.parquet' --target label --results /tmp/fw.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_scale import DEFAULT_CACHE, write_shards  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "finish_workers.json"
#: What ``raretune finish-worker`` prints per network (the worker's share of the finish).
WORKER_LINE = re.compile(r"finished network (\d+): ([\d,]+) rows of (.*) in ([\d.]+) s \((\d+) steps\)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_options(args, out: Path) -> list:
    return ["run", "--data", args.data, "--target", args.target, "--out", str(out), "--seed", str(args.seed),
            "--finish-epochs", str(args.finish_epochs), "--max-trials", "1", "--max-epochs", "1",
            "--strategies", "class_weight", "--no-baseline", "--no-report", "--memory-budget", args.budget, "--quiet"]


def _launch(args, out: Path, cluster: dict | None) -> tuple[float, list]:
    """Run (a) or (b) into ``out``: wall seconds and each child's stdout (chief first)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    commands = {"chief": _run_options(args, out)}
    if cluster is not None:
        commands["worker"] = ["finish-worker", str(out)]
    children = []
    start = time.perf_counter()
    try:
        for task, argv in commands.items():
            child_env = dict(env) if cluster is None else {
                **env, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": task, "index": 0}})}
            children.append(subprocess.Popen([sys.executable, "-m", "raretune", *argv], env=child_env,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outputs = [child.communicate(timeout=args.timeout) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    seconds = time.perf_counter() - start
    for child, (_, err) in zip(children, outputs):
        if child.returncode != 0:
            sys.exit(f"{' '.join(child.args[2:4])} failed ({child.returncode}):\n{err[-4000:]}")
    return seconds, [stdout for stdout, _ in outputs]


def _measure(args, out: Path, cluster: dict | None) -> dict:
    seconds, stdouts = _launch(args, out, cluster)
    metrics = json.loads((out / "metrics.json").read_text())
    stream = json.loads((out / "stream.json").read_text())
    finish = stream["finish"]
    tasks = [{"task": "chief" if cluster else "single", "rows_read": m["rows_read"], "files_read": m["files_read"],
              "steps": m["steps"], "seconds": m["seconds"]} for m in finish["members"]]
    for match in WORKER_LINE.finditer(stdouts[1] if cluster else ""):
        tasks.append({"task": "worker", "rows_read": int(match[2].replace(",", "")), "files_read": match[3].split(", "),
                      "steps": int(match[5]), "seconds": float(match[4])})
    return {"seconds": seconds, "test_pr_auc": metrics["test"]["pr_auc"],
            "test_pr_auc_interval": metrics["test"].get("intervals", {}).get("pr_auc"),
            "search_validation_score": metrics["best"]["validation_score"],
            "test_rows": stream["scored"]["test_rows"], "finish_seconds": finish["seconds"], "finish_tasks": tasks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="glob or folder of Parquet shards (default: bench_scale.py's cached shards)")
    parser.add_argument("--target", default="is_fraud")
    parser.add_argument("--rows", type=int, default=1_000_000, help="default data: rows of synthetic_fraud")
    parser.add_argument("--shard-rows", type=int, default=500_000, help="default data: rows per shard")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--finish-epochs", type=int, default=1)
    parser.add_argument("--budget", default="64MiB", help="--memory-budget of the sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=0.01, help="largest |PR-AUC b - a| that counts as the same")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds each run may take")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.data is None:
        args.data = str(write_shards(args.cache, args.rows, args.shard_rows) / "*.parquet")

    work = Path(tempfile.mkdtemp(prefix="bench_finish_workers-"))
    try:
        single = _measure(args, work / "single", None)
        print(f"(a) one process: {single['seconds']:.0f} s, test PR-AUC {single['test_pr_auc']:.4f}", flush=True)
        cluster = {"chief": [f"127.0.0.1:{_free_port()}"], "worker": [f"127.0.0.1:{_free_port()}"]}
        two = _measure(args, work / "cluster", cluster)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if single["test_rows"] != two["test_rows"]:
        sys.exit(f"the runs tested on different rows: {single['test_rows']} vs {two['test_rows']} test rows")

    diff = two["test_pr_auc"] - single["test_pr_auc"]
    print(f"\nstreamed run, finish {args.finish_epochs} epoch(s), budget {args.budget}, seed {args.seed}, "
          f"{single['test_rows']:,} test rows in both")
    print(f"{'run':<22} {'seconds':>8} {'finish s':>8} {'PR-AUC':>7} {'95% interval':>17}  finish rows (shards) per task")
    for name, r in (("(a) one process", single), ("(b) chief + worker", two)):
        low, high = r["test_pr_auc_interval"] or (float("nan"), float("nan"))
        tasks = "; ".join(f"{t['task']} {t['rows_read']:,} ({', '.join(t['files_read'])})" for t in r["finish_tasks"])
        print(f"{name:<22} {r['seconds']:>8.0f} {r['finish_seconds']:>8.1f} {r['test_pr_auc']:>7.4f} "
              f"[{low:.4f}, {high:.4f}]  {tasks}")
    if single["search_validation_score"] != two["search_validation_score"]:  # then more than the finish differs
        print(f"note: the searches differ (validation {single['search_validation_score']:.4f} vs "
              f"{two['search_validation_score']:.4f})")
    within = abs(diff) <= args.tolerance
    print(f"PR-AUC b - a = {diff:+.4f}: {'within' if within else 'NOT within'} {args.tolerance}")

    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({
        "settings": {"data": args.data, "target": args.target, "finish_epochs": args.finish_epochs, "budget": args.budget,
                     "seed": args.seed, "max_trials": 1, "max_epochs": 1, "strategies": "class_weight",
                     "baseline": False, "report": False, "tolerance": args.tolerance},
        "load_average": os.getloadavg(), "cpus": os.cpu_count(), "single": single, "chief_and_worker": two,
        "pr_auc_diff": diff, "within_tolerance": within}, indent=1) + "\n")


if __name__ == "__main__":
    main()
