"""Run folders: nothing lost on --overwrite, one writer at a time, no writes where they do harm."""

import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

from raretune import ConfigError, RunStateError
from raretune._io import atomic_path, is_temporary, write_bytes, write_json
from raretune.run._folder import RunFolder, is_run_dir
from raretune.run._paths import check_output_file

from tests.run.fake_overwrite import NEW_FILES, fake_overwrite

SRC = Path(__file__).resolve().parents[2] / "src"
OLD_FILES = {
    "config.json": b'{"fingerprint": "old"}\n',
    "metrics.json": b'{"pr_auc": 0.5}\n',
    "model.keras": b"old model " * 100,
    "trials.json": b"[0]\n",
    "tuner/trial_0/trial.json": b'{"trial": 0}\n',
    "scores.npz": b"old scores",
    "report.html": b"<html>old</html>\n",
}


def make_run(folder: Path, files=OLD_FILES) -> dict:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return checksums(folder)


def checksums(folder: Path) -> dict:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def siblings(folder: Path) -> list:
    """Everything next to the run folder but the run folder itself."""
    return sorted(p.name for p in folder.parent.iterdir() if p != folder)


def child_env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(SRC.parent)])}


# -- new, resume, overwrite -------------------------------------------------------------------


def test_new_run_writes_in_place_and_refuses_a_folder_that_holds_a_run(tmp_path):
    out = tmp_path / "runs" / "r"
    with RunFolder(out, mode="new") as folder:
        assert folder.path == folder.target == out and out.is_dir()
        write_json(folder.path / "config.json", {"fingerprint": "f"})
        assert folder.commit() == out
    assert siblings(out) == []  # the lock file goes with the run
    with pytest.raises(RunStateError, match=r"already holds a run; pass --resume .* or --overwrite"):
        RunFolder(out, mode="new")
    with pytest.raises(RunStateError, match="Nothing to resume in .*: it holds no run."):
        RunFolder(tmp_path / "runs" / "other", mode="resume")
    with pytest.raises(ConfigError, match="never replaces"):
        RunFolder(out, mode="overwrite", role="worker")


def test_failed_overwrite_leaves_the_old_run_byte_identical(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    before = make_run(out)
    with pytest.raises(RuntimeError, match="search failed"):
        with RunFolder(out, mode="overwrite") as folder:
            assert folder.path == tmp_path / ".r.staging"
            for name, data in NEW_FILES.items():
                write_bytes(folder.path / name, data)
            assert checksums(out) == before  # readers still see the old run meanwhile
            raise RuntimeError("search failed")
    assert checksums(out) == before
    assert siblings(out) == []


def test_leaving_without_commit_keeps_the_old_run(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    before = make_run(out)
    with RunFolder(out, mode="overwrite") as folder:
        write_bytes(folder.path / "metrics.json", b"{}")
    assert checksums(out) == before and siblings(out) == []


def test_commit_swaps_in_the_new_run_and_keeps_the_users_own_files(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    make_run(out)
    (out / "notes.md").write_text("why I ran this")
    os.chmod(out, 0o750)
    with RunFolder(out, mode="overwrite") as folder:
        for name, data in NEW_FILES.items():
            write_bytes(folder.path / name, data)
        assert folder.commit() == out
        assert folder.path == out
    assert checksums(out) == make_run(tmp_path / "expected", NEW_FILES) | {
        "notes.md": hashlib.sha256(b"why I ran this").hexdigest()}
    assert not (out / "scores.npz").exists()  # the old run's files are gone, all of them
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    assert siblings(out) == ["expected"]


def test_overwrite_through_a_link_replaces_the_run_it_points_to(tmp_path):
    (tmp_path / "disk").mkdir()
    make_run(tmp_path / "disk")
    (tmp_path / "r").symlink_to(tmp_path / "disk")
    with RunFolder(tmp_path / "r", mode="overwrite") as folder:
        write_bytes(folder.path / "config.json", b"new")
        folder.commit()
    assert (tmp_path / "r").is_symlink() and (tmp_path / "r" / "config.json").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "r"]


def test_overwrite_of_a_folder_without_a_run_writes_in_place(tmp_path):
    out = tmp_path / "r"
    with RunFolder(out, mode="overwrite") as folder:
        assert folder.path == out
        write_json(folder.path / "config.json", {})
        folder.commit()
    assert is_run_dir(out)


def test_resume_works_in_place_and_sweeps_a_killed_writers_temporaries(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    make_run(out)
    stale = [out / ".model.keras.1a2b3c4d.tmp.keras", out / ".metrics.json.deadbeef.tmp",
             out / "tuner" / ".oracle.json.0badf00d.tmp",
             out / ".model.keras.k_3x9qzp.keras", out / ".history.json.ab_cd123.tmp"]  # mkstemp's names
    for path in stale:
        path.write_bytes(b"half")
    kept = [out / ".keep", out / ".notes.abcdefgh.txt", out / "tuner" / "oracle.json.12345678.tmp"]
    for path in kept:
        path.write_text("the user's")
    with RunFolder(out, mode="resume") as folder:
        assert folder.path == out
        assert not any(path.exists() for path in stale)
        assert all(path.exists() for path in kept)
        folder.check_fingerprint("old")
        with pytest.raises(RunStateError, match="other data or another search space"):
            folder.check_fingerprint("new")


def test_atomic_paths_temporaries_are_recognised(tmp_path):
    for name, suffix in (("metrics.json", ""), ("model.keras", ".keras"), ("p.csv", ".csv")):
        with atomic_path(tmp_path / name, suffix=suffix) as tmp:
            assert is_temporary(tmp.name) and tmp.name.endswith(suffix) and tmp.parent == tmp_path
    assert not any(is_temporary(name) for name in ("metrics.json", ".keep", "a.12345678.tmp", ".a.b.txt"))


def test_unreadable_config_cannot_be_resumed(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "config.json").write_text("{trunc")
    with RunFolder(out, mode="resume") as folder:
        with pytest.raises(RunStateError, match="no readable config.json"):
            folder.read_config()


def test_failed_fresh_run_keeps_what_can_be_resumed_and_removes_folders_made_for_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with RunFolder(tmp_path / "a" / "b" / "r", mode="new"):
            raise RuntimeError("bad data")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError):
        with RunFolder(tmp_path / "runs" / "r", mode="new") as folder:
            write_json(folder.path / "config.json", {"fingerprint": "f"})
            raise RuntimeError("killed by a bad trial")
    assert (tmp_path / "runs" / "r" / "config.json").exists()
    with RunFolder(tmp_path / "runs" / "r", mode="resume") as folder:
        folder.check_fingerprint("f")


def test_an_existing_empty_folder_is_kept_after_a_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with RunFolder(tmp_path, mode="new"):
            raise RuntimeError
    assert tmp_path.is_dir()


def test_a_chief_overwrites_in_place_and_restores_the_old_run_on_failure(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    before = make_run(out)
    with pytest.raises(RuntimeError):
        with RunFolder(out, mode="overwrite", role="chief") as folder:
            assert folder.path == out and not (out / "scores.npz").exists()
            write_bytes(out / "config.json", b"new")
            raise RuntimeError
    assert checksums(out) == before and siblings(out) == []
    with RunFolder(out, mode="overwrite", role="chief") as folder:
        write_bytes(out / "config.json", b"new")
        folder.commit()
    assert checksums(out) == {"config.json": hashlib.sha256(b"new").hexdigest()}
    assert siblings(out) == []


# -- the lock -------------------------------------------------------------------------------

HOLDER = """
import sys
from raretune.run._folder import RunFolder
with RunFolder(sys.argv[1], mode=sys.argv[2]) as folder:
    print("locked", flush=True)
    sys.stdin.readline()
    folder.commit()
"""


def hold(out, mode="new"):
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(out), mode], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=child_env())
    assert child.stdout.readline().strip() == "locked"
    return child


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    out = tmp_path / "r"
    child = hold(out)
    try:
        for mode in ("new", "overwrite"):  # "new": the folder holds no run yet, so only the lock refuses
            with pytest.raises(RunStateError) as caught:
                with RunFolder(out, mode=mode):
                    pass
            assert str(caught.value) == (f"{str(out)!r} is in use by process {child.pid} (a raretune run); "
                                         "wait for it or use another --out.")
        assert out.is_dir()  # the refused writer removed nothing of the holder's
        with RunFolder(out, mode="new", role="worker") as folder:  # workers share the chief's folder
            assert folder.path == out
    finally:
        child.communicate("go\n", timeout=30)
    assert child.returncode == 0
    with RunFolder(out, mode="overwrite"):  # free again
        pass


def test_writers_started_together_one_wins_the_others_are_refused(tmp_path):
    out = tmp_path / "runs" / "r"
    go_read, go_write = os.pipe()
    children = []
    for _ in range(4):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.read(go_read, 1)  # all start at once
                try:
                    with RunFolder(out, mode="new") as folder:
                        write_bytes(folder.path / "config.json", str(os.getpid()).encode())
                        time.sleep(0.3)
                        write_bytes(folder.path / "metrics.json", str(os.getpid()).encode())
                        folder.commit()
                    message = "won"
                except RunStateError as exc:
                    message = str(exc)
                except BaseException:  # shown in the assertion below
                    message = traceback.format_exc()
                os.write(write, message.encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        children.append((pid, read))
    os.write(go_write, b"x" * len(children))
    results = {}
    for pid, read in children:
        with os.fdopen(read) as pipe:
            results[pid] = pipe.read()
        os.waitpid(pid, 0)
    winners = [pid for pid, message in results.items() if message == "won"]
    assert len(winners) == 1, results
    for pid, message in results.items():
        if pid not in winners:
            assert re.fullmatch(r"'.*' (is in use by (process \d+|another process) \(a raretune run\)|already holds a run).*",
                                message), message
    assert (out / "config.json").read_text() == (out / "metrics.json").read_text() == str(winners[0])


def test_a_killed_holder_frees_the_folder(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    before = make_run(out)
    child = hold(out, "overwrite")
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert (tmp_path / ".r.lock").read_text().strip() == str(child.pid)  # stale, but unlocked
    assert (tmp_path / ".r.staging").is_dir()
    with RunFolder(out, mode="resume"):
        assert not (tmp_path / ".r.staging").exists()
    assert checksums(out) == before and siblings(out) == []


# -- leftovers of a killed swap -----------------------------------------------------------------


def test_a_swap_killed_between_its_renames_is_undone(tmp_path):
    old = tmp_path / ".r.old"
    old.mkdir()
    before = make_run(old)
    (tmp_path / ".r.staging").mkdir()
    make_run(tmp_path / ".r.staging", NEW_FILES)
    folder = RunFolder(tmp_path / "r", mode="resume")  # the old run counts, though aside
    with folder:
        pass
    assert checksums(tmp_path / "r") == before and siblings(tmp_path / "r") == []


def test_a_finished_swap_left_with_the_old_run_aside_is_cleaned(tmp_path):
    (tmp_path / ".r.old").mkdir()
    make_run(tmp_path / ".r.old")
    (tmp_path / "r").mkdir()
    after = make_run(tmp_path / "r", NEW_FILES)
    with pytest.raises(RunStateError, match="already holds a run"):
        with RunFolder(tmp_path / "r", mode="new"):
            pass
    assert (tmp_path / ".r.old").exists()  # a refused run does not touch the folder
    with RunFolder(tmp_path / "r", mode="resume"):
        pass
    assert checksums(tmp_path / "r") == after and siblings(tmp_path / "r") == []


def test_a_killed_chief_overwrite_is_undone(tmp_path):
    (tmp_path / ".r.replaced").mkdir()
    before = make_run(tmp_path / ".r.replaced")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text("partial")
    with RunFolder(tmp_path / "r", mode="resume", role="chief"):
        pass
    assert checksums(tmp_path / "r") == before and siblings(tmp_path / "r") == []


def in_child(function, *args) -> tuple:
    """Run ``function(*args)`` in a forked child: (signal that ended it or None, its result or None)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read)
            os.write(write, str(function(*args)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        result = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) or os.WEXITSTATUS(status) == 0
    return (os.WTERMSIG(status) if os.WIFSIGNALED(status) else None), result or None


def test_overwrite_killed_at_every_step_leaves_the_old_run_or_the_new_one(tmp_path):
    """SIGKILL before each file operation of a fake overwrite (writes, commit, cleanup)."""
    old_run, new_run = tmp_path / "old", tmp_path / "new"
    old_run.mkdir()
    new_run.mkdir()
    old, new = make_run(old_run), make_run(new_run, NEW_FILES)
    out = tmp_path / "place" / "r"

    def attempt(kill_after):
        shutil.rmtree(out.parent, ignore_errors=True)
        shutil.copytree(old_run, out)
        return in_child(fake_overwrite, out, kill_after)

    signal_, steps = attempt(0)
    assert signal_ is None and checksums(out) == new and siblings(out) == []
    steps = int(steps)
    assert steps >= 25
    outcomes = []
    for kill_after in range(1, steps + 1):
        signal_, _ = attempt(kill_after)
        assert signal_ == signal.SIGKILL, kill_after
        with RunFolder(out, mode="resume"):  # the next start repairs
            pass
        found = checksums(out)
        assert found in (old, new), (kill_after, sorted(os.listdir(out.parent)), found)
        assert siblings(out) == [], kill_after
        outcomes.append("new" if found == new else "old")
    # the first kills stop the writes, the last ones the clean-up after the swap's last rename
    assert outcomes[0] == "old" and outcomes[-1] == "new"
    assert outcomes == sorted(outcomes, key=lambda o: o == "new")  # never back to old once new


# -- paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize("out", ["/", "/etc", "/usr", "/bin", "/proc", "/sys", "/dev", "/proc/self", "~", "/tmp/.."])
def test_system_folders_are_refused_as_run_folders(out):
    out = os.path.expanduser(out)
    for mode in ("new", "overwrite", "resume"):
        with pytest.raises(RunStateError, match=r"^--out .* is a system folder; give the run a folder of its own"):
            RunFolder(out, mode=mode)


def test_a_file_is_refused_as_run_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunStateError, match=r"is a file, not a folder\.$"):
        RunFolder(tmp_path / "f", mode="new")
    with pytest.raises(RunStateError, match=r"^Cannot write the run .*: '.*f' is a file\.$"):
        RunFolder(tmp_path / "f" / "r", mode="new")


def test_dot_dot_in_the_run_folder_makes_no_empty_folder(tmp_path):
    out = f"{tmp_path}/a/b/../c"
    with RunFolder(out, mode="new") as folder:
        assert folder.target == tmp_path / "a" / "c"
        write_json(folder.path / "config.json", {})
        folder.commit()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["c"]


def test_the_current_folder_cannot_be_replaced_from_inside(tmp_path, monkeypatch):
    make_run(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RunStateError, match="from inside it"):
        RunFolder(".", mode="overwrite")


def test_unwritable_parents_are_refused(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    if os.geteuid() == 0:  # root writes anywhere: let os.access answer as for anyone else
        access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and access(path, mode))
    try:
        with pytest.raises(RunStateError, match=r"^Cannot write the run .*: '.*locked' is not writable\.$"):
            RunFolder(locked / "runs" / "r", mode="new")
        with pytest.raises(RunStateError, match=r"^Cannot write .*: '.*locked' is not writable\.$"):
            check_output_file(locked / "out" / "p.csv")
        assert RunFolder(locked / "r", mode="new", role="worker").target == locked / "r"  # no lock beside it for a worker
    finally:
        os.chmod(locked, 0o700)


def test_output_files_inside_a_run_are_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    make_run(run)
    for path in (run / "metrics.json", run / "predictions.csv", run / "tuner" / "new" / "p.csv",
                 tmp_path / "run" / "x" / ".." / "model.keras"):
        with pytest.raises(RunStateError, match=r"^Cannot write .*: it is inside the raretune run .*run'"):
            check_output_file(path)
    fresh = tmp_path / "fresh"  # a run that wrote only its config.json yet
    fresh.mkdir()
    write_json(fresh / "config.json", {"fingerprint": "f"})
    with pytest.raises(RunStateError, match="inside the raretune run"):
        check_output_file(fresh / "p.csv")
    project = tmp_path / "project"  # someone else's config.json makes no run
    project.mkdir()
    (project / "config.json").write_text('{"name": "my project"}')
    assert check_output_file(project / "p.csv") == project / "p.csv"
    assert check_output_file(f"{tmp_path}/out/../p.csv") == tmp_path / "p.csv"


@pytest.mark.parametrize("path", ["/", "/etc/p.csv", "/usr/p.csv", "/p.csv", "/proc/self/p.csv", "/sys/p"])
def test_output_files_in_system_folders_are_refused(path):
    with pytest.raises(RunStateError, match=r"^Cannot write .*: it (is in a system folder|is a folder; name a file)\.$"):
        check_output_file(path)


def test_an_output_file_that_is_a_folder_is_refused(tmp_path):
    with pytest.raises(RunStateError, match="it is a folder; name a file"):
        check_output_file(tmp_path)


# -- file modes -------------------------------------------------------------------------------


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600), (0o222, 0o444)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        write_json(tmp_path / "metrics.json", {"a": 1})
        with atomic_path(tmp_path / "model.keras", suffix=".keras") as tmp:
            tmp.write_bytes(b"model")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "metrics.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "model.keras").stat().st_mode) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "model.keras"]
