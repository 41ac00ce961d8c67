"""This process's place in a cluster that ``TF_CONFIG`` describes, and its share of the shards.

``TF_CONFIG`` is read through TensorFlow's public
:class:`tf.distribute.cluster_resolver.TFConfigClusterResolver` (its ``cluster_spec()``,
``task_type`` and ``task_id``), as ``MultiWorkerMirroredStrategy`` reads it. The tasks that
compute are the ``chief`` and ``worker`` tasks, in one stable order: the chief first, then the
workers by index (``evaluator`` and ``ps`` tasks are not counted). It is the order of
``MultiWorkerMirroredStrategy``'s input pipelines, so the ``i``-th of ``n`` tasks reads the shards
``files[i::n]`` in the streamed finish and in streaming predict alike.

Streaming predict needs no strategy: scoring has no gradients to keep in step, so each task
loads the run and scores its own shards alone, and the tasks never talk to each other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from .._errors import ConfigError, DataError, RunStateError

__all__ = ["ClusterTask", "PredictShare", "cluster_task", "place", "predict_share", "task_order"]

_COMPUTING = ("chief", "worker")


@dataclass(frozen=True)
class ClusterTask:
    """One task of the computing tasks ``TF_CONFIG`` names.

    Attributes
    ----------
    index : int or None
        Its place in :func:`task_order` (0 for a single process); None for a task that is
        neither a chief nor a worker, or is not in the cluster.
    count : int
        How many chief and worker tasks there are (1 without ``TF_CONFIG``).
    task_type : str or None
    task_id : int or None
    """

    index: int | None
    count: int
    task_type: str | None = None
    task_id: int | None = None

    def __str__(self) -> str:
        return f"{self.task_type}:{self.task_id}"


def task_order(cluster_spec) -> list:
    """The chief and worker tasks of a ``tf.train.ClusterSpec``, as ``(type, id)``: the chief first,
    then the workers by index.

    Examples
    --------
    >>> import tensorflow as tf
    >>> task_order(tf.train.ClusterSpec({"worker": ["h1:2222", "h2:2222"], "chief": ["h0:2222"]}))
    [('chief', 0), ('worker', 0), ('worker', 1)]
    """
    return [(job, i) for job in _COMPUTING if job in cluster_spec.jobs for i in cluster_spec.task_indices(job)]


def place(cluster_spec, task_type, task_id) -> ClusterTask:
    """The :class:`ClusterTask` of ``(task_type, task_id)`` in ``cluster_spec`` (a ``tf.train.ClusterSpec``).

    Examples
    --------
    >>> import tensorflow as tf
    >>> place(tf.train.ClusterSpec({"worker": ["h1:2222", "h2:2222"], "chief": ["h0:2222"]}), "worker", 1)
    ClusterTask(index=2, count=3, task_type='worker', task_id=1)
    """
    order = task_order(cluster_spec)
    me = (task_type, None if task_id is None else int(task_id))
    if not order:  # no cluster: one process
        return ClusterTask(0, 1, task_type, task_id)
    return ClusterTask(order.index(me) if me in order else None, len(order), task_type, task_id)


def cluster_task() -> ClusterTask:
    """This process's place among the chief and worker tasks ``TF_CONFIG`` names.

    Without ``TF_CONFIG`` (or with one that names no chief or worker) this is task 0 of 1, and
    TensorFlow is not imported.

    Raises
    ------
    ConfigError
        ``TF_CONFIG`` is not JSON.
    """
    if not os.environ.get("TF_CONFIG"):
        return ClusterTask(0, 1)
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        spec = resolver.cluster_spec()
        task_type, task_id = resolver.task_type, resolver.task_id
    except ValueError as exc:  # json's decode error, or a cluster TensorFlow cannot read
        raise ConfigError(f"TF_CONFIG cannot be read ({type(exc).__name__}: {str(exc)[:160]}).") from None
    return place(spec, task_type, task_id)


@dataclass(frozen=True)
class PredictShare:
    """The input shards one task of several scores and the folder it writes into.

    Attributes
    ----------
    task : ClusterTask
    files : tuple of Path
        Its own shards: ``all_files[task.index::task.count]``.
    all_files : tuple of Path
        Every shard the source names, in the order a single process reads them.
    folder : Path
        The output folder the tasks share.
    """

    task: ClusterTask
    files: tuple
    all_files: tuple
    folder: Path

    def own(self, table_files):
        """``table_files`` (a ``TableFiles``) narrowed to this task's shards."""
        return replace(table_files, paths=self.files)


def predict_share(data, out, task: ClusterTask | None = None) -> PredictShare | None:
    """This task's share of a streaming predict when ``TF_CONFIG`` names several tasks, else None.

    Only files scored into files are shared: rows in memory, or predictions returned to the
    caller (``out=None``), are all scored by every task that asks.

    Task ``i`` of ``n`` (see :func:`task_order`) scores the input shards ``files[i::n]`` and
    writes their output files only, under the names a single process gives them, into the
    folder ``out`` that every task shares. The folder is created here (so that tasks finishing
    together do not race to create it); it may already hold other tasks' output files, but
    none of this task's and nothing else.

    Parameters
    ----------
    data : str or path
        A folder or glob of Parquet files, or TFRecord shards: what ``predict`` reads.
    out : str, path or None
        The shared output folder.
    task : ClusterTask, optional
        Default: :func:`cluster_task`, from ``TF_CONFIG``.

    Raises
    ------
    ConfigError
        Several tasks and files written, but ``out`` is not a folder, there are fewer shards
        than tasks, or this process is not one of the chief and worker tasks.
    DataError
        Two input shards have the same base name (they would write the same output file).
    RunStateError
        The folder cannot be written, or holds this task's output files or other files.
    """
    from ._paths import check_output_file
    from ._predict_io import _shard_name, is_table_path, table_files

    task = cluster_task() if task is None else task
    if task.count <= 1:
        return None
    if out is None or not is_table_path(data):
        return None  # rows in memory, or predictions returned to the caller: no file is shared, all are scored
    where = f"TF_CONFIG names {task.count} chief and worker tasks"
    if task.index is None:
        raise ConfigError(f"{where}, and this process ({task}) is not one of them; run predict on those tasks.")
    text = os.fspath(out)
    if text == "-" or not (text.endswith(("/", os.sep)) or Path(text).is_dir()):
        raise ConfigError(f"{where}: write to a folder each task adds its shards' predictions to (--out preds/), "
                          f"not {'standard output' if text == '-' else repr(text)}.")
    all_files = tuple(table_files(data).paths)
    if len(all_files) < task.count:
        raise ConfigError(f"{where} for {len(all_files)} shard(s): each task needs a shard of its own.")
    files = all_files[task.index::task.count]
    folder = Path(os.path.normpath(text))
    if folder.exists() and not folder.is_dir():
        raise RunStateError(f"Cannot write the folder {text!r}: it is a file.")
    check_output_file(folder / "predictions.parquet")
    names, theirs = {_shard_name(Path(p)) for p in files}, {_shard_name(Path(p)) for p in all_files}
    if len(theirs) < len(all_files):  # one process finds this as it writes; here two tasks would overwrite
        raise DataError(f"Two input shards of {str(data)!r} would write the same output file; give shards "
                        "distinct names.")
    if folder.is_dir():
        present = sorted(p.name for p in folder.iterdir())
        mine, other = [n for n in present if n in names], [n for n in present if n not in theirs]
        if mine or other:
            raise RunStateError(f"Cannot write predictions into {text!r}: it already holds {(mine or other)[0]!r}; "
                                "name a new or empty folder.")
    folder.mkdir(parents=True, exist_ok=True)
    return PredictShare(task, files, all_files, folder)
