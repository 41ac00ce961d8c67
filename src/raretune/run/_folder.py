"""The run folder: which folder a run may write, who holds it, and how ``--overwrite`` swaps.

Beside a run folder ``runs/r`` live hidden siblings, so that the run folder holds only the run:

``runs/.r.lock``
    An advisory lock (``flock``) that the one writing process holds for the whole run, with
    its pid inside. Readers (predict, report) take no lock: every file is replaced atomically.
``runs/.r.staging``
    ``--overwrite`` writes the new run here; the old run stays whole (and usable) meanwhile.
``runs/.r.old``
    The old run during the swap in :meth:`RunFolder.commit`: rename ``r`` to ``.r.old``,
    ``.r.staging`` to ``r``, then delete ``.r.old``.
``runs/.r.replaced``
    A distributed chief's ``--overwrite`` works in place (workers know only ``runs/r``), so it
    moves the old run here first and restores it if the run fails.

A kill can stop any of these steps; the next writer repairs under the lock before it starts.
One rename decides each outcome, so the folder ends as the old run or the complete new one:
``.r.old`` without ``r`` is restored (the swap stopped between its renames), ``.r.old`` beside
``r`` is deleted (the swap finished), ``.r.replaced`` replaces a partial ``r``, and a staging
folder, never committed, is deleted.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, runs are not guarded
    fcntl = None

from .._errors import ConfigError, RunStateError
from .._io import is_temporary, read_json, remove_temporaries
from ._paths import RUN_FILES, check_run_target, is_run_dir

__all__ = ["RUN_FILES", "RunFolder", "is_run_dir"]

# everything a run writes: not carried over from a replaced run
_RUN_ARTEFACTS = frozenset(RUN_FILES + ("report.html", "scores.npz", "history.json", "tensorboard"))
_MODES = ("new", "resume", "overwrite")
_ROLES = (None, "chief", "worker")


class RunFolder:
    """The folder one run writes: checked, locked, repaired, and swapped in on success.

    Parameters
    ----------
    out : path-like
        The run folder (``--out``), normalised lexically (``a/b/../c`` is ``a/c``).
    mode : {"new", "resume", "overwrite"}
        ``"new"`` refuses a folder that holds a run; ``"resume"`` needs one; ``"overwrite"``
        replaces one only when :meth:`commit` is called, and is ``"new"`` when there is none.
    role : {None, "chief", "worker"}
        Distributed role. A chief works in place (its workers share ``out``) and locks; a
        worker neither checks, locks, repairs nor swaps: the chief owns the folder.

    Attributes
    ----------
    target : pathlib.Path
        The run folder once the run is done.
    path : pathlib.Path
        Where the run writes now: the staging folder for a local ``--overwrite`` of an existing
        run (known for sure once entered), else ``target``; ``target`` again after :meth:`commit`.

    Raises
    ------
    RunStateError
        A system folder or a file as ``out``, an unwritable parent, a run where ``"new"``
        wants none, no run to resume; again on entering, if another process holds the folder.

    Examples
    --------
    >>> with RunFolder("runs/r", mode="overwrite") as folder:   # doctest: +SKIP
    ...     write_json(folder.path / "metrics.json", metrics)
    ...     final = folder.commit()

    Leaving the block without :meth:`commit` (an exception, Ctrl-C) drops a staging folder and
    keeps the old run; a fresh run keeps what it wrote (to be resumed) unless that is nothing,
    in which case the folders it created are removed.
    """

    def __init__(self, out, *, mode: str, role: str | None = None):
        if mode not in _MODES:
            raise ConfigError(f"The 'mode' parameter of RunFolder must be one of {_MODES}. Got {mode!r} instead.")
        if role not in _ROLES:
            raise ConfigError(f"The 'role' parameter of RunFolder must be one of {_ROLES}. Got {role!r} instead.")
        if role == "worker" and mode == "overwrite":
            raise ConfigError("A worker never replaces the run folder; pass --overwrite to the chief.")
        self.mode, self.role = mode, role
        self.target = check_run_target(out, writable=role != "worker")
        if self.target.is_symlink():  # swap the folder the link points to, not the link
            self.target = Path(os.path.realpath(self.target))
        # hidden siblings, named relative to the target as the user wrote it ("." needs the absolute form)
        base = self.target if self.target.name not in ("", "..") else Path(os.path.abspath(self.target))
        self._lock_path, self._staging, self._old, self._replaced = (
            base.parent / f".{base.name}{suffix}" for suffix in (".lock", ".staging", ".old", ".replaced")
        )
        holds_run = self._will_hold_run()
        if role != "worker":
            self._check_state(holds_run)
            here, mine = os.path.realpath(os.getcwd()), os.path.realpath(self.target)
            # the swap renames the folder: the process would be left working in the deleted old run
            if mode == "overwrite" and holds_run and (here == mine or here.startswith(mine + os.sep)):
                raise RunStateError(
                    f"Cannot replace {str(self.target)!r} from inside it; run from elsewhere or use another --out."
                )
        self.path = self._staging if self._swaps(holds_run) else self.target
        self._lock_fd = None
        self._owner = False  # locked (or past the lock where there are no locks): ours to clean
        self._created: list[Path] = []  # folders this run made, outermost first
        self._entered = self._active = self._committed = False

    # -- checks ----------------------------------------------------------------------------

    def _will_hold_run(self) -> bool:
        """Whether ``target`` holds a run once the leftovers of a killed swap are repaired."""
        if self._replaced.exists():
            return is_run_dir(self._replaced)
        if not self.target.exists() and self._old.exists():
            return is_run_dir(self._old)
        return is_run_dir(self.target)

    def _check_state(self, holds_run: bool) -> None:
        shown = str(self.target)
        if holds_run and self.mode == "new":
            raise RunStateError(f"{shown!r} already holds a run; pass --resume to continue it or --overwrite to replace it.")
        if not holds_run and self.mode == "resume":
            raise RunStateError(f"Nothing to resume in {shown!r}: it holds no run.")

    def _swaps(self, holds_run: bool) -> bool:
        return self.mode == "overwrite" and self.role is None and holds_run

    def read_config(self) -> dict:
        """The ``config.json`` of the run in ``target`` (inside the ``with`` block: after repairs).

        Raises
        ------
        RunStateError
            If it is missing or not JSON.
        """
        try:
            return read_json(self.target / "config.json")
        except (OSError, ValueError):
            raise RunStateError(f"{str(self.target)!r} has no readable config.json; it cannot be resumed.") from None

    def check_fingerprint(self, fingerprint: str) -> None:
        """Refuse to resume a run made from other data or another search space (inside ``with``).

        Raises
        ------
        RunStateError
            If ``config.json`` is unreadable or records another fingerprint.
        """
        if self.read_config().get("fingerprint") != fingerprint:
            raise RunStateError(
                f"{str(self.target)!r} was run on other data or another search space; resuming it with "
                "these would mix results. Use a new --out, or --overwrite."
            )

    # -- life cycle --------------------------------------------------------------------------

    def __enter__(self) -> "RunFolder":
        if self._entered:
            raise RuntimeError("A RunFolder is entered once.")
        self._entered = True
        if self.role == "worker":
            self.target.mkdir(parents=True, exist_ok=True)
            self._active = True
            return self
        self._make_folders(self._lock_path.parent)
        try:
            self._lock()
            self._owner = True
            self._repair()
            holds_run = is_run_dir(self.target)
            self._check_state(holds_run)  # again: the folder may have changed since __init__
            if self.mode == "resume":
                remove_temporaries(self.target)
            if self._swaps(holds_run):
                self._staging.mkdir()
                # the new run keeps the old folder's permissions
                os.chmod(self._staging, self.target.stat().st_mode & 0o7777)
                self.path = self._staging
            else:
                if self.mode == "overwrite" and holds_run:  # a chief: the old run waits aside
                    os.rename(self.target, self._replaced)
                    _sync_folder(self._replaced.parent)
                self.path = self.target
                self._make_folders(self.target)
        except BaseException:
            self._abandon()
            raise
        self._active = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._active = False
        if self.role == "worker":
            return
        if self._committed:
            self._unlock()
        else:
            self._abandon()

    def commit(self) -> Path:
        """Make the run final: swap a staged ``--overwrite`` in; otherwise nothing to do.

        Call it inside the ``with`` block once the model, metrics and report are written.

        Returns
        -------
        pathlib.Path
            The run folder, ``target``.
        """
        if not self._active:
            raise RuntimeError("RunFolder.commit() belongs inside its with block.")
        if self.path == self._staging:
            _carry_foreign(self.target, self._staging)
            os.rename(self.target, self._old)
            _sync_folder(self._old.parent)
            os.rename(self._staging, self.target)
            _sync_folder(self.target.parent)
            shutil.rmtree(self._old, ignore_errors=True)  # what is left, the next start deletes
        elif self._replaced.exists() and self.role == "chief":
            os.rename(self._replaced, self._old)
            _sync_folder(self._old.parent)
            shutil.rmtree(self._old, ignore_errors=True)
        self.path = self.target
        self._committed = True
        return self.target

    def _repair(self) -> None:
        """Finish or undo what a killed run left: see the module's docstring."""
        if self._old.exists():
            if self.target.exists():
                shutil.rmtree(self._old)
            else:
                os.rename(self._old, self.target)
                _sync_folder(self.target.parent)
        if self._replaced.exists():
            if self.target.exists():
                shutil.rmtree(self.target)
            os.rename(self._replaced, self.target)
            _sync_folder(self.target.parent)
        if self._staging.exists():
            shutil.rmtree(self._staging)

    def _abandon(self) -> None:
        """Leave the folder as it was before this run, or as a resumable partial run; unlock."""
        try:
            if not self._owner:
                return  # the folder is another run's: this one did nothing there
            self._repair()  # drops a staging folder, puts an old run set aside back in place
            if self.target in self._created and not is_run_dir(self.target):
                shutil.rmtree(self.target, ignore_errors=True)  # made for a run that wrote nothing
        finally:
            self._unlock()
            for folder in reversed(self._created):
                try:
                    folder.rmdir()  # only if empty: a folder with anything in it stays
                except FileNotFoundError:
                    continue
                except OSError:
                    break

    def _make_folders(self, folder: Path) -> None:
        """Create ``folder`` and its missing parents, remembering them to remove on failure."""
        missing = []
        for candidate in (folder, *folder.parents):
            if candidate.exists():
                break
            missing.append(candidate)
        for candidate in reversed(missing):
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            self._created.append(candidate)

    def _lock(self) -> None:
        if fcntl is None:
            return
        while True:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                who = "another process" if holder is None else f"process {holder}"
                raise RunStateError(
                    f"{str(self.target)!r} is in use by {who} (a raretune run); wait for it or use another --out."
                ) from None
            # The holder we waited on unlinks the file as it lets go: if it did so after our
            # open, we hold a lock on a file nobody else will open; lock the one there now.
            try:
                current = os.stat(self._lock_path)
            except FileNotFoundError:
                current = None
            mine = os.fstat(fd)
            if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is None:
            return
        try:
            self._lock_path.unlink()  # while still locked, so no one can lock the old file meanwhile
        except FileNotFoundError:
            pass
        os.close(self._lock_fd)
        self._lock_fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _carry_foreign(old: Path, new: Path) -> None:
    """Bring the entries of ``old`` a run did not write (notes, say) into ``new`` (hard links).

    Linked or copied, not moved, so that the old run stays whole until the swap.
    """
    for entry in old.iterdir():
        if entry.name in _RUN_ARTEFACTS or is_temporary(entry.name) or (new / entry.name).exists():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, new / entry.name, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, new / entry.name)


def _link_or_copy(source, destination) -> None:
    if os.path.islink(source):
        os.symlink(os.readlink(source), destination)
        return
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` survive a power cut (no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
