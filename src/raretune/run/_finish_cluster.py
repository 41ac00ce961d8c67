"""The finish of ``raretune run --finish-epochs N`` across the machines ``TF_CONFIG`` names.

``MultiWorkerMirroredStrategy`` must be made before TensorFlow runs anything else in a process,
and the run's own process has run the whole search by the time it finishes. So the finish is
done by fresh processes, one per task, that make the strategy first and then wait for work:

* every task other than the chief runs ``raretune finish-worker RUN``
  (:func:`raretune.run._finish_worker.serve_finish`);
* the chief's ``raretune run`` writes a request (each member's network as ``.keras`` and what
  :func:`~raretune.run._finish.finish_network` needs, as JSON) into ``.RUN.finish`` beside the
  run folder on the shared storage, then starts ``raretune finish-worker RUN`` itself with its
  own ``TF_CONFIG`` (the chief's task) and waits for it (:func:`finish_in_cluster`);
* each of these processes runs the same finish steps on its own shards; the chief's writes the
  trained networks and records back, the run reads them and removes the exchange folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .._errors import ConfigError, RunStateError

__all__ = ["REQUEST", "exchange_folder", "finish_in_cluster", "json_value"]

#: The file name of the request in the exchange folder.
REQUEST = "request.json"


def exchange_folder(run_dir) -> Path:
    """Where the chief and the workers of a cluster finish meet: ``.NAME.finish`` beside ``run_dir``."""
    run_dir = Path(os.path.normpath(os.fspath(run_dir)))
    return run_dir.parent / f".{run_dir.name}.finish"


def finish_in_cluster(out, files, rule, classes, target, schema, jobs) -> list:
    """The chief's side: ``(network, record)`` for each of ``jobs``, finished by every task.

    Parameters
    ----------
    out : path
        The run folder (its exchange folder is made beside it).
    files : sequence of Path
        Every shard.
    rule : PartRule
    classes : sequence
    target : str
    schema : FeatureSchema
    jobs : list of (keras.Model, dict)
        Each network to finish and the keywords of ``finish_network`` for it (``balance``,
        ``batch_size``, ``epochs``, ``labels``, ``seed``).

    Raises
    ------
    ConfigError
        The run has no ``out``.
    RunStateError
        The chief's finish process failed (its last line is shown).
    """
    import keras

    if out is None:
        raise ConfigError("A finish across TF_CONFIG's tasks needs --out: the workers find the run by its folder.")
    folder = exchange_folder(out)
    if folder.exists():  # left by a run that stopped: its requests are not this run's
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    try:
        members = []
        for i, (network, keywords) in enumerate(jobs):
            network.save(folder / f"member-{i}.keras")
            members.append({"network": f"member-{i}.keras", **keywords})
        request = {"files": [str(f) for f in files], "rule": rule.to_dict(), "classes": list(classes),
                   "target": target, "schema": schema.to_dict(), "members": members}
        staged = folder / f".{REQUEST}.tmp"
        staged.write_text(json.dumps(request, default=json_value))
        os.replace(staged, folder / REQUEST)  # workers see the whole request or none
        done = subprocess.run([sys.executable, "-m", "raretune", "finish-worker", str(out), "--quiet"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise RunStateError(f"The chief's finish process failed: {lines[-1] if lines else done.returncode}")
        results = []
        for i in range(len(jobs)):
            record = json.loads((folder / f"result-{i}.json").read_text())
            results.append((keras.models.load_model(folder / f"result-{i}.keras", compile=False), record))
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def json_value(value):
    """``json.dumps``'s ``default``: numpy numbers as Python numbers, anything else as text."""
    return value.item() if hasattr(value, "item") else str(value)
