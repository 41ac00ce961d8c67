"""One task's side of the finish across a cluster: ``raretune finish-worker RUN``.

See :mod:`raretune.run._finish_cluster` for the chief's side and how the two meet.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .._errors import ConfigError, RunStateError
from ._finish import finish_network, finish_strategy, is_chief
from ._finish_cluster import REQUEST, exchange_folder, json_value
from ._workers import cluster_task

__all__ = ["serve_finish"]


def serve_finish(run_dir, *, timeout: float = 600.0, poll: float = 1.0) -> list:
    """One task's side: make the strategy, wait for the chief's request, run its finish steps.

    Every task of the cluster (the chief's run starts its own) runs this with the same
    request; task ``i`` of ``n`` reads the shards ``files[i::n]``. The first task (the chief)
    writes each trained network and its record into the exchange folder; the others write
    nothing. Making the strategy waits until every task has joined (TensorFlow's own wait,
    unbounded here): a worker started early waits through the chief's search, and since the
    chief's process starts after its request is written, the request is then there (``timeout``
    covers shared storage that shows it late).

    Parameters
    ----------
    run_dir : path
        The run folder the chief's ``raretune run --finish-epochs N --out RUN`` writes.
    timeout : float
        Seconds to wait for the request once every task has joined.
    poll : float
        Seconds between looks for it.

    Returns
    -------
    list of dict
        This task's record of each member (rows and shards read, steps, seconds, loss).

    Raises
    ------
    ConfigError
        ``TF_CONFIG`` names fewer than two chief and worker tasks.
    RunStateError
        No request came within ``timeout`` seconds.
    """
    if cluster_task().count < 2:
        raise ConfigError("finish-worker runs in a cluster: TF_CONFIG must name at least two chief and worker tasks.")
    strategy = finish_strategy()  # first: TensorFlow configures its collective ops once
    folder = exchange_folder(run_dir)
    deadline = time.monotonic() + timeout
    while not (folder / REQUEST).is_file():
        if time.monotonic() > deadline:
            raise RunStateError(f"No finish request in {str(folder)!r} after {timeout:g} s.")
        time.sleep(poll)
    request = json.loads((folder / REQUEST).read_text())
    return _run_request(request, folder, strategy, writes=is_chief(strategy))


def _run_request(request: dict, folder: Path, strategy, *, writes: bool) -> list:
    import keras

    from ..datasets._shards import PartRule
    from ..models import FeatureSchema
    from ._modality import TableModality

    schema = FeatureSchema.from_dict(request["schema"])
    reference = TableModality(schema).reference(request["classes"], request["target"])
    rule = PartRule(**{**request["rule"], "cuts": None if request["rule"]["cuts"] is None
                       else tuple(request["rule"]["cuts"])})
    files = [Path(f) for f in request["files"]]
    records = []
    for i, member in enumerate(request["members"]):
        network = keras.models.load_model(folder / member["network"])
        keywords = {k: v for k, v in member.items() if k != "network"}
        model, record = finish_network(network, files, rule, reference, schema, strategy=strategy, **keywords)
        if writes:
            model.save(folder / f"result-{i}.keras")
            (folder / f"result-{i}.json").write_text(json.dumps(record, default=json_value))
        records.append(record)
    return records
