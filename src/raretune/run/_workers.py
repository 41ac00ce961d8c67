"""This process's place in a cluster that ``TF_CONFIG`` describes, and its share of the shards.

``TF_CONFIG`` is read through TensorFlow's public
:class:`tf.distribute.cluster_resolver.TFConfigClusterResolver` (its ``cluster_spec()``,
``task_type`` and ``task_id``), as ``MultiWorkerMirroredStrategy`` reads it. The tasks that
compute are the ``chief`` and ``worker`` tasks, in one stable order: the chief first, then the
workers by index (``evaluator`` and ``ps`` tasks are not counted). It is the order of
``MultiWorkerMirroredStrategy``'s input pipelines, so the ``i``-th of ``n`` tasks reads the shards
``files[i::n]`` in the streamed finish.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .._errors import ConfigError

__all__ = ["ClusterTask", "cluster_task", "place", "task_order"]

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
