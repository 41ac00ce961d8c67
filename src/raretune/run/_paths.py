"""Which paths raretune may write: a run folder (``run --out``) or an output file (predict,
evaluate, export). Checks only, no side effects; each refusal is one line."""

from __future__ import annotations

import os
from pathlib import Path

from .._errors import RunStateError
from .._io import read_json

__all__ = ["RUN_FILES", "is_run_dir", "check_run_target", "check_output_file"]

#: Entries whose presence marks a folder as (part of) a raretune run.
RUN_FILES = ("metrics.json", "config.json", "model.keras", "trials.json", "tuner")

# folders of the system: never a run folder, never the folder of an output file
_SYSTEM = frozenset({
    "/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/proc", "/run",
    "/sbin", "/srv", "/sys", "/usr", "/var", "/System", "/Library", "/Applications", "/private",
    "/private/etc", "/private/var",
})
# folders shared by users or programs: fine for an output file, not as a run folder itself
_SHARED = frozenset({"/home", "/root", "/tmp", "/mnt", "/media", "/Users", "/Volumes", "/private/tmp"})
# kernel file systems: nothing under them is a file to write
_VIRTUAL = ("/proc", "/sys")


def is_run_dir(path) -> bool:
    """Whether ``path`` is a folder holding (part of) a raretune run: one of :data:`RUN_FILES`."""
    path = Path(path)
    return path.is_dir() and any((path / name).exists() for name in RUN_FILES)


def check_run_target(out, *, writable: bool = True) -> Path:
    """Check ``out`` as a run folder and return it normalised lexically.

    ``a/b/../c`` becomes ``a/c`` (so that no empty ``a/b`` is made on the way).

    Parameters
    ----------
    out : path-like
        The run folder.
    writable : bool
        Whether this process will write there (its parent must then be writable: the lock
        and the staging folder live beside it).

    Raises
    ------
    RunStateError
        ``out`` is empty, a system folder or the home folder, a file, inside a file, or its
        parent is not writable.
    """
    text = os.fspath(out)
    if not str(text).strip():
        raise RunStateError("--out is empty; name a folder for the run, e.g. runs/first.")
    target = Path(os.path.normpath(text))
    if _is_system(target, _SYSTEM | _SHARED | _home()):
        raise RunStateError(f"--out {str(text)!r} is a system folder; give the run a folder of its own, e.g. runs/first.")
    if target.exists() and not target.is_dir():
        raise RunStateError(f"--out {str(text)!r} is a file, not a folder.")
    if writable:
        problem = _unwritable(Path(os.path.abspath(target)).parent)
        if target.is_dir() and not os.access(target, os.W_OK | os.X_OK):
            problem = f"{str(target)!r} is not writable"
        if problem:
            raise RunStateError(f"Cannot write the run {str(text)!r}: {problem}.")
    return target


def check_output_file(path) -> Path:
    """Check ``path`` as a file that predict, evaluate or export will write; return it normalised.

    Parameters
    ----------
    path : path-like
        The output file.

    Raises
    ------
    RunStateError
        ``path`` is empty, a folder, in a system folder, inside a raretune run folder (whose
        files only a run writes: ``predict --out RUN/metrics.json`` would destroy the run), or
        its folder cannot be written.

    Examples
    --------
    >>> check_output_file("predictions.csv")
    PosixPath('predictions.csv')
    """
    text = os.fspath(path)
    if not str(text).strip():
        raise RunStateError("The output file name is empty.")
    target = Path(os.path.normpath(text))
    shown = str(text)
    if target.is_dir():
        raise RunStateError(f"Cannot write {shown!r}: it is a folder; name a file.")
    absolute = Path(os.path.abspath(target))
    if _is_system(absolute, _SYSTEM | _SHARED) or _is_system(absolute.parent, _SYSTEM):
        raise RunStateError(f"Cannot write {shown!r}: it is in a system folder.")
    for folder in _ancestors(absolute):
        if _is_raretune_run(folder):
            raise RunStateError(
                f"Cannot write {shown!r}: it is inside the raretune run {str(folder)!r}, "
                "whose files only a run writes; write it elsewhere."
            )
    problem = _unwritable(absolute.parent)
    if problem:
        raise RunStateError(f"Cannot write {shown!r}: {problem}.")
    return target


def _home() -> set:
    try:
        return {str(Path.home())}
    except (RuntimeError, KeyError):  # no HOME and no passwd entry
        return set()


def _is_system(path: Path, folders) -> bool:
    """Whether ``path``, as written or with links resolved, is one of ``folders`` or under /proc, /sys."""
    resolved = {os.path.realpath(folder) for folder in folders}  # /etc is /private/etc on macOS
    for form in {os.path.abspath(path), os.path.realpath(path)}:
        if form in folders or form in resolved:
            return True
        if any(form == v or form.startswith(v + os.sep) for v in _VIRTUAL):
            return True
    return False


def _ancestors(path: Path) -> list:
    """The folders holding ``path``, as written and with links resolved, innermost first."""
    seen, found = set(), []
    for form in (path, Path(os.path.realpath(path))):
        for folder in form.parents:
            if folder not in seen:
                seen.add(folder)
                found.append(folder)
    return found


def _is_raretune_run(folder: Path) -> bool:
    """Like :func:`is_run_dir`, but a lone ``config.json`` counts only if a run wrote it:
    an unrelated project folder with its own config.json is no run."""
    if not folder.is_dir():
        return False
    present = [name for name in RUN_FILES if (folder / name).exists()]
    if len(present) >= 2:
        return True
    if present == ["config.json"]:
        try:
            return "fingerprint" in read_json(folder / "config.json")
        except (OSError, ValueError, TypeError):
            return False
    return bool(present)


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be made in ``folder`` (created as needed), or None if they can."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            if not candidate.is_dir():
                return f"{str(candidate)!r} is a file"
            if not os.access(candidate, os.W_OK | os.X_OK):
                return f"{str(candidate)!r} is not writable"
            return None
    return None
