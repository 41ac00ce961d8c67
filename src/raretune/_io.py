"""Crash-safe writes: every artefact goes to a temporary file in the same folder, then is
renamed into place, so a reader sees the old file or the new one, never half of one.

Temporary names look like ``.metrics.json.1f2e3d4c.tmp`` (``.model.keras.1f2e3d4c.tmp.keras``
when a suffix is asked for): :func:`is_temporary` recognises them, so that a resumed run can
sweep away those a killed process left behind. Files are created with mode ``0666`` less the
user's umask, as ``open`` would, not ``0600`` as :func:`tempfile.mkstemp` does.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
from pathlib import Path

import numpy as np

__all__ = [
    "atomic_path", "is_temporary", "remove_temporaries", "write_bytes", "write_json", "write_text",
    "read_json", "to_jsonable",
]

# ".<final name>.<8 hex digits>.tmp[<suffix>]", as made by atomic_path; and the names of its
# tempfile.mkstemp days (".<final name>.<8 of [a-z0-9_]><.tmp or the suffix of a model or scores>")
_TEMPORARY = re.compile(r"^\..+\.([0-9a-f]{8}\.tmp(\.[A-Za-z0-9]+)?|[a-z0-9_]{8}\.(tmp|keras|npz))$")


@contextlib.contextmanager
def atomic_path(path, *, suffix: str = ""):
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds.

    Parameters
    ----------
    path : path-like
        Final location.
    suffix : str
        Suffix of the temporary name (Keras wants ``.keras`` for models).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp{suffix}"
        try:
            # 0o666: the kernel applies the umask, which tells the mode a plain open would give
            # without the process-wide os.umask() dance
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        break
    try:
        mode = os.fstat(fd).st_mode & 0o777
        os.fchmod(fd, 0o600)  # private and writable while it is being written (even under umask 0222)
    finally:
        os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def is_temporary(name: str) -> bool:
    """Whether a file name is one of :func:`atomic_path`'s temporary names."""
    return _TEMPORARY.match(name) is not None


def remove_temporaries(folder) -> list:
    """Delete the temporary files a killed writer left in ``folder`` and its subfolders.

    Only call it on a folder no other process is writing to: a live writer's temporary file
    looks the same as a dead one's.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    removed = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if is_temporary(name):
                path = Path(root) / name
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                removed.append(path)
    return removed


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj):
    """Convert numpy scalars/arrays and non-finite floats (to ``None``) for strict JSON."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path, obj) -> None:
    """Write ``obj`` as indented, strict JSON, atomically."""
    write_text(path, json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n")


def read_json(path):
    """Read a JSON file."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
