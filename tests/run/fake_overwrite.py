"""A fake run that replaces the run in a folder, killing itself with SIGKILL just before file
operation number ``kill_after`` (counting from 1): tests/run/test_folder.py forks a child per kill.

The counting wrappers replace ``os`` functions, so call :func:`fake_overwrite` only in a child
process that exits right after (``python tests/run/fake_overwrite.py FOLDER [KILL_AFTER]`` works too).
"""

import os
import shutil
import signal
import sys

from raretune._io import write_bytes
from raretune.run._folder import RunFolder

NEW_FILES = {
    "config.json": b'{"fingerprint": "new"}\n',
    "trials.json": b"[1, 2, 3]\n",
    "tuner/oracle.json": b'{"oracle": "new"}\n',
    "model.keras": b"new model " * 100,
    "history.json": b'{"loss": [0.5, 0.4]}\n',
    "metrics.json": b'{"pr_auc": 0.9}\n',
    "report.html": b"<html>new</html>\n",
}
COUNTED = ("open", "fsync", "chmod", "replace", "rename", "unlink", "rmdir", "mkdir", "link", "write", "ftruncate")


def fake_overwrite(target, kill_after: int = 0) -> int:
    """Overwrite the run in ``target`` with :data:`NEW_FILES`; return the file operations made."""
    count = 0

    def counted(function):
        def wrapper(*args, **kwargs):
            nonlocal count
            count += 1
            if count == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            return function(*args, **kwargs)
        return wrapper

    for name in COUNTED:
        setattr(os, name, counted(getattr(os, name)))
    shutil.copy2 = counted(shutil.copy2)
    with RunFolder(target, mode="overwrite") as folder:
        for name, data in NEW_FILES.items():
            write_bytes(folder.path / name, data)
        folder.commit()
    return count


if __name__ == "__main__":
    print(fake_overwrite(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0))
