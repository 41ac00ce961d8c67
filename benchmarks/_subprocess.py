"""Run one benchmark measurement per fresh Python process, so each peak memory is its own."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys


def run_workers(script: str, argument_lists) -> dict:
    """Run ``script --worker *arguments`` once per list; summarise the JSON each prints last.

    Every worker prints one JSON object as its last line, with at least ``seconds`` and
    ``peak_mb``. Returns the first worker's fields, with ``seconds`` replaced by the median
    over workers, ``peak_mb`` by the largest, and ``repeats`` the number of workers.
    """
    runs = []
    for arguments in argument_lists:
        out = subprocess.run(
            [sys.executable, script, "--worker", *map(str, arguments)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        **runs[0],
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "repeats": len(runs),
    }
