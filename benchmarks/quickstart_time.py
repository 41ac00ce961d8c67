"""The Quickstart's run (``raretune run``, every option at its default) timed for two versions of raretune.

Each version is a ``src`` folder (for instance a ``git worktree`` of an older commit); each
run is ``python -m raretune run --quiet --out DIR`` in a fresh process with that folder on
``PYTHONPATH``, one after the other on the same machine, so their ratio is meaningful where
their seconds are not (a shared machine). The embedded data (``synthetic_fraud``, 200,000
rows) is prepared once before the first timed run (``--data-dir``), so neither run times
its generation. Prints and writes each run's seconds, test PR-AUC with its bootstrap interval,
trials and, where recorded, its phases; then the ratio.

    git worktree add --detach /tmp/raretune-old 5549458
    python benchmarks/quickstart_time.py --old /tmp/raretune-old/src --new src
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "quickstart_time.json"


def timed_run(src: str, out: Path, data_dir: str) -> dict:
    """One default run of the raretune in ``src``; its wall time and test figures."""
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src), "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "raretune", "run", "--quiet", "--data-dir", data_dir, "--out", str(out)],
                   check=True, env=env)
    seconds = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    interval = (test.get("intervals") or {}).get("pr_auc")
    if interval is None:  # older runs left the intervals to the report: the same bootstrap from the scores
        import numpy as np

        from raretune.report import bootstrap_intervals

        scores = np.load(out / "scores.npz")
        threshold = (metrics.get("threshold") or {}).get("value", test.get("threshold"))
        interval = bootstrap_intervals(scores["test_y"], scores["test_score"], float(threshold))["pr_auc"]
    return {"src": src, "seconds": seconds, "test_pr_auc": test["pr_auc"], "test_pr_auc_interval": interval,
            "n_trials": metrics["search"].get("n_trials"), "timing": metrics.get("timing")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="src folder of the older raretune")
    parser.add_argument("--new", required=True, help="src folder of the newer raretune")
    parser.add_argument("--data-dir", default=None, help="TFDS data folder (default: a temporary one)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or str(Path(tmp) / "tfds")
        env = {**os.environ, "PYTHONPATH": os.path.abspath(args.new), "TF_CPP_MIN_LOG_LEVEL": "3"}
        subprocess.run([sys.executable, "-c", "from raretune.datasets import load_data; "
                        f"load_data('tfds:synthetic_fraud', data_dir={data_dir!r})"], check=True, env=env)
        runs = {}
        for name, src in (("old", args.old), ("new", args.new)):
            runs[name] = timed_run(src, Path(tmp) / name, data_dir)
            print(f"{name}: {runs[name]['seconds']:.0f} s, test PR-AUC {runs[name]['test_pr_auc']:.4f} "
                  f"{runs[name]['test_pr_auc_interval']}, {runs[name]['n_trials']} trials", flush=True)
    ratio = runs["new"]["seconds"] / runs["old"]["seconds"]
    low, high = runs["old"]["test_pr_auc_interval"] or (None, None)
    inside = low is not None and low <= runs["new"]["test_pr_auc"] <= high
    print(f"new / old time: {ratio:.2f}; new test PR-AUC inside the old one's interval: {inside}")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"runs": runs, "time_ratio": ratio, "new_inside_old_interval": inside,
                                        "load_before": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
