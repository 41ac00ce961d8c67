"""Interim run folder (replaced by the locked, staged RunFolder)."""

from __future__ import annotations

import shutil
from pathlib import Path

from .._errors import RunStateError
from .._io import read_json

RUN_FILES = ("metrics.json", "config.json", "model.keras", "trials.json", "tuner")


def is_run_dir(path) -> bool:
    """Whether ``path`` holds (part of) a raretune run."""
    path = Path(path)
    return path.is_dir() and any((path / name).exists() for name in RUN_FILES)


class RunFolder:
    def __init__(self, out, *, mode: str):
        self.target = Path(out)
        self.mode = mode
        if self.target.exists() and not self.target.is_dir():
            raise RunStateError(f"--out {str(self.target)!r} is a file, not a folder.")
        existing = is_run_dir(self.target)
        if existing and mode == "new":
            raise RunStateError(f"{str(self.target)!r} already holds a run; pass --resume to continue it or "
                                "--overwrite to replace it.")
        if mode == "resume" and not existing:
            raise RunStateError(f"Nothing to resume in {str(self.target)!r}: it holds no run.")
        self.path = self.target

    def __enter__(self):
        if self.mode == "overwrite":
            for name in list(RUN_FILES) + ["report.html", "scores.npz", "history.json", "tensorboard"]:
                p = self.target / name
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
        self.target.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc):
        return False

    def read_config(self) -> dict:
        try:
            return read_json(self.target / "config.json")
        except (OSError, ValueError):
            raise RunStateError(f"{str(self.target)!r} has no readable config.json; it cannot be resumed.") from None

    def check_fingerprint(self, fingerprint: str) -> None:
        if self.read_config().get("fingerprint") != fingerprint:
            raise RunStateError(f"{str(self.target)!r} was run on other data or another search space; resuming it "
                                "with these would mix results. Use a new --out, or --overwrite.")

    def commit(self) -> Path:
        return self.target
