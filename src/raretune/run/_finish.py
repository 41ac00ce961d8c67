"""The finish stage of a streamed run: the chosen networks trained on over every training row.

The search saw the streaming pass's sample. With ``finish_epochs=N``, each network member of
the chosen ensemble (not a compiled tree or linear member) trains ``N`` more epochs over the
*full* training part, read from the shards as a ``tf.data`` pipeline that is never
materialised (:class:`~raretune.run._finish_data.TrainingShards`). Every member keeps the
class prior it was searched under, so the ensemble weights and a prior correction keep their
meaning, and the calibration that follows (fitted on the full validation part) stays valid:

* data remedies and plain training (binary): every negative row streams once per epoch and
  the streaming rebalancer (:func:`raretune.resample.rebalance`) adds positives up to the
  member's prior: SMOTE points for the SMOTE family on all-numeric inputs (copies when
  SMOTE cannot run, e.g. missing values), copies for the others; the undersampling remedies
  (``random_under``, ``tomek``, ``enn``) drop negatives instead;
* ``class_weight`` (and data remedies of a multiclass task, which the rebalancer does not
  handle): per-class row weights that give the same prior, ``prior_k / share_k``;
* remedies that define no prior (``focal``, ``bias_init``): the natural stream;
* ``balanced_bagging`` members (one tower per bag) are kept as they are.

Each member trains with a fresh Adam whose learning rate is annealed along a cosine from the
trial's rate to 1 % of it over the finish's expected steps. At the trial's rate throughout, a
network searched with a high rate (0.007) moved twice its weights' norm and lost what the
search had found (``docs/scale.md``).

The ensemble is then rebuilt from the finished members with the same weights.
"""

from __future__ import annotations

import time

import numpy as np

from .._errors import ConfigError, DataError
from ..datasets._shards import sharded_source
from ..remedies import get_remedy, remedy_settings
from ._ensemble import Chosen
from ._finish_data import TrainingShards, finish_steps, train_epochs
from ._workers import cluster_task, place

__all__ = ["finish_balance", "finish_chosen", "finish_network", "finish_strategy", "is_chief"]

_UNDERSAMPLING = ("random_under", "tomek", "enn")
_SMOTE_FAMILY = {"smote": "smote_k", "borderline_smote": "borderline_smote_k", "smote_tomek": "smote_k",
                 "smote_enn": "smote_k", "adasyn": "adasyn_k"}


def finish_balance(strategy: str, settings: dict, prior, counts, *, numeric_only: bool) -> dict:
    """How a member's finish keeps the prior it was searched under (see the module's notes).

    Parameters
    ----------
    strategy : str
        The member's remedy.
    settings : dict
        Its knobs (``remedy_settings``).
    prior : float, list or None
        The class prior it was trained under (positive share for a binary task).
    counts : array-like of int
        Rows of each class in the full training part.
    numeric_only : bool
        Whether every input is numeric (SMOTE interpolates rows).

    Returns
    -------
    dict
        ``{"method": ...}`` with ``"ratio"`` (and ``"k_neighbors"``) for the rebalancer or
        ``"weights"`` per class; ``{"method": "kept"}`` for a member that is not finished.

    Examples
    --------
    >>> finish_balance("class_weight", {}, 0.5, [900, 100], numeric_only=True)
    {'method': 'class_weight', 'weights': [0.5555555555555556, 5.0]}
    >>> finish_balance("random_over", {}, 0.25, [900, 100], numeric_only=True)
    {'method': 'random', 'ratio': 0.3333333333333333}
    """
    counts = np.asarray(counts, dtype="float64")
    if strategy == "balanced_bagging":
        return {"method": "kept"}
    if prior is None:
        return {"method": "natural"}
    shares = counts / counts.sum()
    wanted = np.atleast_1d(np.asarray(prior, dtype="float64"))
    wanted = np.r_[1.0 - wanted[0], wanted[0]] if wanted.size == 1 else wanted
    if strategy == "class_weight" or len(counts) != 2:
        return {"method": "class_weight", "weights": (wanted / np.maximum(shares, 1e-300)).tolist()}
    ratio = float(wanted[1] / wanted[0])
    if ratio <= counts[1] / counts[0] * (1 + 1e-9):  # the data already holds that share of positives
        return {"method": "natural"}
    if strategy in _UNDERSAMPLING:
        return {"method": "undersample", "ratio": ratio}
    if strategy in _SMOTE_FAMILY and numeric_only:
        return {"method": "smote", "ratio": ratio, "k_neighbors": int(settings.get(_SMOTE_FAMILY[strategy], 5))}
    return {"method": "random", "ratio": ratio}


def finish_strategy():
    """``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names several chief and worker tasks, else
    the default strategy.

    ``TF_CONFIG`` is read through ``tf.distribute.cluster_resolver.TFConfigClusterResolver``
    (:func:`raretune.run._workers.cluster_task`). The multi-worker strategy must be made before
    TensorFlow runs anything else in the process (TensorFlow configures its collective ops once).

    Raises
    ------
    ConfigError
        ``TF_CONFIG`` is not JSON.
    """
    import tensorflow as tf

    if cluster_task().count > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy) -> bool:
    """Whether this process writes the run folder: the first of the cluster's chief and worker tasks
    (the chief, else worker 0 of a cluster without a chief); a process without a cluster always.
    The other workers write nothing (their weights are the same).

    The strategy's cluster resolver (a ``TFConfigClusterResolver`` under
    ``MultiWorkerMirroredStrategy``) tells the cluster; a strategy without one is one process.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return place(resolver.cluster_spec(), resolver.task_type, resolver.task_id).index == 0


def finish_network(network, files, rule, reference, schema, *, balance: dict, batch_size: int, epochs: int,
                   labels: str, seed=None, steps: int | None = None, strategy=None):
    """Train a copy of ``network`` for ``epochs`` epochs over the training rows of ``files``.

    A fresh Adam starts at the network's learning rate; with ``steps`` (the expected steps,
    :func:`~raretune.run._finish_data.finish_steps`) it is annealed along a cosine to 1 % of
    that rate by the last step.

    Under a multi-worker ``strategy`` every worker runs this with the same arguments and reads
    its own shards: ``files[i::n]`` for the ``i``-th of ``n`` input pipelines.

    Returns
    -------
    (keras.Model, dict)
        The trained copy and what was done: ``weight_change`` (the distance the weights
        moved, relative to their norm), ``rows_read`` and ``batches_read`` (every pass, a
        rebalancer's counting pass included), ``files_read``, ``steps``, ``seconds``, ``loss``,
        ``learning_rate`` (first and last).
    """
    files = tuple(files)
    readers = []

    def make_dataset(context):
        own = files[context.input_pipeline_id::context.num_input_pipelines]
        if not own:
            raise ConfigError(f"{context.num_input_pipelines} workers for {len(files)} shards: each worker needs "
                              "a shard of its own.")
        shards = TrainingShards(own, rule, reference, schema, seed=seed)
        readers.append(shards)
        local_batch = context.get_per_replica_batch_size(batch_size)
        try:
            return shards.dataset(balance=balance, batch_size=local_batch, labels=labels,
                                  n_classes=reference.n_classes)
        except (ValueError, DataError):  # SMOTE needs rows without gaps and k + 1 positives: copies instead
            if balance["method"] != "smote":
                raise
            balance.update(method="random")
            return shards.dataset(balance=balance, batch_size=local_batch, labels=labels,
                                  n_classes=reference.n_classes)

    model, fitted = train_epochs(network, make_dataset, epochs=epochs, global_batch=batch_size, decay_steps=steps,
                                 strategy=strategy)
    before, after = network.get_weights(), model.get_weights()
    moved = np.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(after, before)))
    size = np.sqrt(sum(float(np.sum(b ** 2)) for b in before))
    record = {"balance": dict(balance), "weight_change": moved / max(size, 1e-12),
              "rows_read": sum(r.rows_read for r in readers),
              "batches_read": sum(r.batches_read for r in readers),
              "files_read": sorted(set().union(*(r.files_read for r in readers))), **fitted}
    return model, record


def finish_chosen(plan, search, chosen, candidates, modality, stream, data, split, *, strategy=None):
    """The chosen model with its network members finished on the full training part.

    In this process; or, without ``strategy`` and under a ``TF_CONFIG`` that names several
    chief and worker tasks, by one fresh process per task
    (:func:`~raretune.run._finish_cluster.finish_in_cluster`).

    Parameters
    ----------
    plan : RunPlan
        ``config.finish_epochs``, ``config.data`` (the shards) and the seed.
    search : SearchResult
        The trials (each member's remedy settings and batch size).
    chosen : Chosen
    candidates : list of Candidate
        The ensemble's candidates (each member's network and prior).
    modality : TableModality
    stream : StreamPass
        Its ``rule`` and class counts.
    data : TabularData
        The sample (the columns rows are typed with).
    split : DataSplit
        Its validation rows are scored again with the finished model.

    Returns
    -------
    (Chosen, dict)
        The rebuilt model (same members, same weights, same prior) and what was finished.
    """
    from ..models import average_models

    started = time.perf_counter()
    epochs = int(plan.config.finish_epochs)
    files = sharded_source(plan.config.data).files
    counts = _training_counts(stream, files, data)
    networks, members, jobs = [], [], {}
    for i, member in enumerate(chosen.members):
        candidate = next(c for c in candidates if c.member == {k: v for k, v in member.items() if k != "weight"})
        networks.append(candidate.network)
        if member.get("trial_id") is None:  # a compiled tree or linear model: nothing to train on
            members.append({**_label(member), "balance": {"method": "kept"}})
            continue
        hp = search.tuner.oracle.get_trial(member["trial_id"]).hyperparameters
        settings = remedy_settings(hp)
        balance = finish_balance(settings["strategy"], settings, candidate.prior, counts,
                                 numeric_only=not modality.schema.categorical)
        members.append({**_label(member), "balance": balance})
        if balance["method"] == "kept":
            continue
        remedy = get_remedy(settings["strategy"])
        labels = "binary" if data.is_binary else "one_hot" if remedy.one_hot_labels(data.n_classes) else "sparse"
        batch_size = int(hp.values["batch_size"])
        jobs[i] = (candidate.network, {"balance": balance, "batch_size": batch_size, "epochs": epochs, "labels": labels,
                                       "seed": None if plan.seed is None else plan.seed + i,
                                       "steps": finish_steps(balance, counts, epochs=epochs, batch_size=batch_size)})
    if jobs and strategy is None and cluster_task().count > 1:  # fresh processes, one per task
        from ._finish_cluster import finish_in_cluster

        done = finish_in_cluster(plan.config.out, files, stream.rule, data.classes, data.target, modality.schema,
                                 list(jobs.values()))
    else:
        done = [finish_network(network, files, stream.rule, data, modality.schema, strategy=strategy, **keywords)
                for network, keywords in jobs.values()]
    for i, (network, record) in zip(jobs, done):
        networks[i] = network
        members[i] = {**members[i], **record}
    weights = [m["weight"] for m in chosen.members]
    model = networks[0] if len(networks) == 1 else average_models(networks, weights)
    raw = modality.predict_raw(model, split.validation)
    finished = {"epochs": epochs, "members": members, "seconds": time.perf_counter() - started,
                "rows_read": sum(m.get("rows_read", 0) for m in members)}
    return Chosen(model, raw, chosen.members, chosen.prior, chosen.n_candidates), finished


def _label(member: dict) -> dict:
    return {"trial_id": member.get("trial_id"), "strategy": member.get("strategy"), "weight": member.get("weight")}


def _training_counts(stream, files, data) -> np.ndarray:
    """Rows of each class (index of ``data.classes``) in the full training part: from the pass's
    part counts, or with a time split (whose parts the pass learnt only at its end) by one more pass."""
    counts = None
    if stream.part_counts is not None:
        train = {str(label.item() if hasattr(label, "item") else label): n
                 for label, n in stream.part_counts["train"].items()}
        counts = np.array([train.get(str(name), 0) for name in data.classes], dtype="int64")
    if counts is None or not counts.all():
        shards = TrainingShards(tuple(files), stream.rule, data, None)
        counts = np.zeros(data.n_classes, dtype="int64")
        for _, y in shards.frames():
            counts += np.bincount(y, minlength=data.n_classes)
    return counts
