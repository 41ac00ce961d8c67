"""SIGKILL real ``raretune run --overwrite`` runs at random moments; the old run or the new one survives.

Issue 18's contract: a failed or killed ``--overwrite`` leaves either the old run exactly as
it was, or the new run complete — never a mixture, never nothing. The script makes one
finished run, then starts ``--overwrite`` runs over it and kills each at a random moment
across all phases (loading, search, ensemble, decision, writing, the swap); after each kill
it checks the folder (a fresh ``RunFolder`` repairs what the kill left first, as the next
run would).

Example::

    python benchmarks/kill_overwrite.py --kills 20
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def checksums(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def command(csv: Path, out: Path, seed: int) -> list:
    return [sys.executable, "-m", "raretune", "run", "--data", str(csv), "--target", "label", "--out", str(out),
            "--overwrite", "--max-trials", "2", "--max-epochs", "1", "--folds", "1", "--no-baseline", "--quiet",
            "--seed", str(seed)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from raretune.run._folder import RunFolder
    from tests.conftest import make_frame

    rng = random.Random(args.seed)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory(prefix="raretune-kill-") as tmp:
        tmp = Path(tmp)
        csv = tmp / "data.csv"
        make_frame(n=1500, positive_rate=0.08, seed=3).to_csv(csv, index=False)
        out = tmp / "run"
        started = time.monotonic()
        subprocess.run(command(csv, out, 0), check=True, env=env, capture_output=True)
        full = time.monotonic() - started
        print(f"a whole run takes {full:.1f} s; killing {args.kills} overwrite runs at random moments")
        known = checksums(out)
        outcomes = {"old run intact": 0, "new run complete": 0}
        for i in range(args.kills):
            process = subprocess.Popen(command(csv, out, i + 1), env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            delay = rng.uniform(0.5, full * 1.1)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait()
            with RunFolder(out, mode="resume"):  # the next start repairs what the kill left
                pass
            now = checksums(out)
            if now == known:
                outcome = "old run intact"
            else:
                metrics = json.loads((out / "metrics.json").read_text())
                assert (out / "model.keras").is_file() and (out / "report.html").is_file(), now
                assert metrics["search"]["seed"] == i + 1, "a mixture of two runs"
                outcome = "new run complete"
                known = now
            outcomes[outcome] += 1
            print(f"kill {i + 1:2d} after {delay:5.1f} s: {outcome}")
        print(json.dumps(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
