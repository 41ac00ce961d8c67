"""The full training part of sharded Parquet as a ``tf.data`` pipeline, and a loop that trains on it.

:class:`TrainingShards` reads the training rows of some shards one record batch at a time
(nothing is materialised: a batch is read, typed, handed to ``tf.data`` and dropped) and
counts what it read. :meth:`TrainingShards.dataset` packs each batch into a float matrix (a
categorical value becomes its index in the schema's vocabulary) so that the streaming
rebalancer (:func:`raretune.resample.rebalance`) can work on it, then unpacks it into the
network's input dict. :func:`train_epochs` trains a copy of a network on such batches under a
``tf.distribute`` strategy (the default one, or ``MultiWorkerMirroredStrategy``): a plain
gradient loop, because Keras 3's ``fit`` cannot reduce its logs under a multi-worker strategy
(keras-team/keras#20585).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..datasets import read_rows
from ..datasets._shards import PART_CODES, PartRule, ShardedSource

__all__ = ["TrainingShards", "finish_steps", "train_epochs"]

#: The finish's learning rate at its end, as a share of its first.
_FINAL_RATE = 0.01

#: Rows per record batch read from a shard (the training batches are cut from these).
READ_BATCH = 65_536
#: Stands for a category outside the schema's vocabulary (the network's out-of-vocabulary slot).
_UNKNOWN = "\x00raretune-unknown"


@dataclass
class TrainingShards:
    """The training part of some shards, read a record batch at a time, as the network's inputs.

    Parameters
    ----------
    files : sequence of pathlib.Path
        The shards to read (a worker's own share of them).
    rule : PartRule
        Puts each row in its part, as in the streaming pass.
    reference : TabularData
        The sample: the columns, kinds and classes rows are typed with.
    schema : FeatureSchema
        The network's inputs (names, numeric and categorical columns, vocabularies).
    seed : int or None
        Seed of the shuffle inside each record batch.
    read_batch : int
        Rows per record batch.

    Attributes
    ----------
    rows_read, batches_read : int
        Training rows and record batches read so far (every pass, the rebalancer's counting
        pass included).
    files_read : set of str
        Names of the shards read.
    """

    files: tuple
    rule: PartRule
    reference: object
    schema: object
    seed: int | None = None
    read_batch: int = READ_BATCH
    rows_read: int = field(default=0, init=False)
    batches_read: int = field(default=0, init=False)
    files_read: set = field(default_factory=set, init=False)
    _passes: int = field(default=0, init=False, repr=False)

    def frames(self):
        """Yield ``(features, y)``: each record batch's labelled training rows, typed like
        ``reference`` (rows with a label the sample never held are left out)."""
        source = ShardedSource(tuple(self.files), 0, ())
        target = self.reference.target
        for file_name, first_row, frame in source.batches(batch_size=self.read_batch):
            self.files_read.add(file_name)
            keys = self.rule.keys(file_name, first_row, frame)  # keyed before dropping rows, as in the pass
            labelled = frame[target].notna().to_numpy()
            frame, keys = frame.loc[labelled], keys[labelled]
            train = self.rule.parts(keys, frame) == PART_CODES["train"]
            if not train.any():
                continue
            rows = read_rows(frame.loc[train], self.reference)
            known = rows.y >= 0
            self.rows_read += int(known.sum())
            self.batches_read += 1
            yield rows.features.loc[known], rows.y[known]

    def packed(self):
        """Yield ``(matrix, y)``: each batch as float32 columns in the schema's input order
        (categories as vocabulary indices) and int64 labels, shuffled with the batch's own seed."""
        self._passes += 1
        rng = np.random.default_rng(None if self.seed is None else [self.seed, self._passes])
        for features, y in self.frames():
            columns = []
            for column, vocabulary in zip(self.schema.columns, self._vocabularies()):
                if vocabulary is None:
                    columns.append(features[column].to_numpy(dtype="float32"))
                else:
                    codes = pd.Categorical(features[column].astype(str), categories=list(vocabulary)).codes
                    columns.append(np.where(codes < 0, len(vocabulary), codes).astype("float32"))
            order = rng.permutation(len(y))
            yield np.stack(columns, axis=1)[order], y[order].astype("int64")

    def _vocabularies(self) -> list:
        categorical = dict(zip(self.schema.categorical, self.schema.vocabularies))
        return [categorical.get(column) for column in self.schema.columns]

    def dataset(self, *, balance: dict, batch_size: int, labels: str, n_classes: int):
        """The training batches as a ``tf.data.Dataset`` of ``(inputs, labels, weights)``.

        Parameters
        ----------
        balance : dict
            ``{"method": "random" | "smote" | "undersample", "ratio", "k_neighbors"}`` for
            :func:`raretune.resample.rebalance` (binary), ``{"method": "class_weight",
            "weights": [...]}`` for per-class row weights, or ``{"method": "natural"}``.
        batch_size : int
            Rows per training batch.
        labels : {"binary", "sparse", "one_hot"}
            The form the network's loss wants.
        n_classes : int

        Returns
        -------
        tf.data.Dataset
            Re-read from the shards on every iteration.
        """
        import tensorflow as tf

        from ..resample import rebalance

        width = len(self.schema.columns)
        packed = tf.data.Dataset.from_generator(self.packed, output_signature=(
            tf.TensorSpec((None, width), tf.float32), tf.TensorSpec((None,), tf.int64)))
        method = balance["method"]
        if method in ("random", "smote", "undersample"):
            packed = rebalance(packed, method=method, ratio=float(balance["ratio"]),
                               k_neighbors=int(balance.get("k_neighbors", 5)), seed=self.seed)
        weights = tf.constant(balance.get("weights") or [1.0] * n_classes, tf.float32)
        vocabularies = [None if v is None else tf.constant([*v, _UNKNOWN]) for v in self._vocabularies()]
        names = list(self.schema.input_names)

        def unpack(matrix, y):
            inputs = {}
            for i, (name, vocabulary) in enumerate(zip(names, vocabularies)):
                column = matrix[:, i:i + 1]
                inputs[name] = column if vocabulary is None else tf.gather(vocabulary, tf.cast(column, tf.int64))
            if labels == "binary":
                target = tf.cast(tf.reshape(y, (-1, 1)), tf.float32)
            elif labels == "one_hot":
                target = tf.one_hot(y, n_classes, dtype=tf.float32)
            else:
                target = tf.cast(y, tf.int32)
            return inputs, target, tf.gather(weights, y)

        return (packed.map(unpack, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .rebatch(batch_size).prefetch(tf.data.AUTOTUNE))


def train_epochs(network, make_dataset, *, epochs: int, global_batch: int, decay_steps: int | None = None,
                 strategy=None):
    """Train a copy of ``network`` for ``epochs`` passes over ``make_dataset``'s batches.

    A fresh Adam starts at the network's learning rate. With ``decay_steps`` the rate is
    annealed along a cosine to 1 % of it over that many steps (and stays there): continuing
    at a constant rate a network searched on a sample undid what the search had found when
    the rate was high (measured in ``docs/scale.md``).

    Parameters
    ----------
    network : keras.Model
        A compiled network (its loss and its optimizer's learning rate are kept); it is not changed.
    make_dataset : callable
        ``make_dataset(input_context) -> tf.data.Dataset`` of ``(inputs, labels, weights)``
        batched per replica, given ``tf.distribute.InputContext`` (its
        ``input_pipeline_id`` and ``num_input_pipelines`` say which shards are this worker's).
    epochs : int
    global_batch : int
        Rows per step over all replicas.
    decay_steps : int, optional
        The steps the run is expected to take (:func:`finish_steps`); none: a constant rate.
    strategy : tf.distribute.Strategy, optional
        Default: the current strategy (one process).

    Returns
    -------
    (keras.Model, dict)
        The trained copy, outside any strategy, and ``{"steps", "seconds", "loss",
        "learning_rate"}`` (the last epoch's mean loss per row, weighted; the rate at the
        first and after the last step).
    """
    import keras
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    started = time.perf_counter()
    learning_rate = float(keras.ops.convert_to_numpy(network.optimizer.learning_rate))
    loss_config = {**network.loss.get_config(), "reduction": "sum"}  # divided by the global batch below
    with strategy.scope():
        model = keras.models.clone_model(network)
        model.set_weights(network.get_weights())
        rate = learning_rate if decay_steps is None else keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=max(int(decay_steps), 1), alpha=_FINAL_RATE)
        optimizer = keras.optimizers.Adam(learning_rate=rate)
        loss = type(network.loss).from_config(loss_config)
    batches = strategy.distribute_datasets_from_function(make_dataset)

    def replica_step(inputs, target, weight):
        with tf.GradientTape() as tape:
            # a scalar even for a worker's empty last batch (Keras returns an empty batch's losses unreduced)
            value = tf.reduce_sum(loss(target, model(inputs, training=True), sample_weight=weight)) / global_batch
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(value, variables), variables))  # gradients summed over replicas
        return value

    @tf.function
    def step(inputs, target, weight):
        per_replica = strategy.run(replica_step, args=(inputs, target, weight))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    steps, total, last = 0, 0.0, 0
    for _ in range(epochs):
        total, last = 0.0, 0
        for inputs, target, weight in batches:
            total += float(step(inputs, target, weight))
            last += 1
        steps += last
    plain = keras.models.clone_model(network)  # the trained weights, in a model no strategy owns
    plain.set_weights(model.get_weights())
    final = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    return plain, {"steps": steps, "seconds": time.perf_counter() - started, "loss": total / max(last, 1),
                   "learning_rate": {"first": learning_rate, "last": final}}


def finish_steps(balance: dict, counts, *, epochs: int, batch_size: int) -> int:
    """The steps of ``epochs`` epochs over the training part with ``balance``, from its class counts.

    Every row streams once per epoch (natural or weighted); the rebalancer adds positives up to
    ``ratio`` per negative, or keeps every positive and ``1 / ratio`` negatives per positive.

    Examples
    --------
    >>> finish_steps({"method": "class_weight", "weights": [0.5, 5.0]}, [900, 100], epochs=2, batch_size=64)
    32
    >>> finish_steps({"method": "random", "ratio": 1.0}, [900, 100], epochs=1, batch_size=64)
    29
    >>> finish_steps({"method": "undersample", "ratio": 0.5}, [900, 100], epochs=1, batch_size=64)
    5
    """
    negatives, positives = (float(counts[0]), float(counts[1])) if len(counts) == 2 else (float(sum(counts)), 0.0)
    method = balance["method"]
    if method in ("random", "smote"):
        rows = negatives * (1.0 + balance["ratio"])
    elif method == "undersample":
        rows = positives * (1.0 + 1.0 / balance["ratio"])
    else:
        rows = float(sum(counts))
    return epochs * math.ceil(rows / batch_size)
