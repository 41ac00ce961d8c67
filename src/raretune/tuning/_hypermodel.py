"""The tabular hypermodel: an MLP over raw columns, searched jointly with the remedy."""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from ..datasets import TabularData
from ..metrics import Objective, get_objective
from ..weighting import class_weights, output_bias
from ..models import FeatureSchema, build_stacked_model, build_tabular_model, predict_proba
from ..models import tower_outputs as _tower_outputs
from . import _remedies

__all__ = ["TabularHyperModel", "ValidationScorer", "fold_assignment"]

_CACHE_SIZE = 3


def estimate_resampled_bytes(train: TabularData, sampler) -> int:
    """Rough peak bytes of resampling ``train`` with ``sampler`` (see ``resample_table``).

    The sampler works on an encoded float64 matrix (numeric columns plus one-hot blocks),
    then the rows are decoded into a table and into model inputs: about three float copies
    of the output rows plus the strings of the categorical columns.
    """
    counts = np.bincount(train.y, minlength=train.n_classes)
    strategy = getattr(sampler, "sampling_strategy", None)
    if isinstance(strategy, dict):
        counts = counts.copy()
        for k, n in strategy.items():
            counts[k] = max(counts[k], n)
    smote = getattr(sampler, "smote", None)
    if smote is not None and isinstance(getattr(smote, "sampling_strategy", None), dict):
        for k, n in smote.sampling_strategy.items():
            counts[k] = max(counts[k], n)
    n_out = int(counts.sum())
    width = len(train.numeric) + sum(train.features[c].nunique() for c in train.categorical)
    return int(n_out * (3 * 8 * width + 64 * len(train.categorical)))


def available_memory() -> int:
    """Bytes of memory available now (Linux: MemAvailable; else physical pages free)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def check_resampling_memory(train: TabularData, sampler, budget: int | None = None) -> None:
    """Refuse, with the figure, a resampling whose result would not fit in memory.

    Raises
    ------
    keras_tuner.errors.FailedTrialError
        In a search this fails the trial (the search goes on with other remedies).
    """
    need = estimate_resampled_bytes(train, sampler)
    budget = available_memory() // 2 if budget is None else budget
    if need > budget:
        raise kt.errors.FailedTrialError(
            f"{type(sampler).__name__} would need about {need / 2**30:.1f} GiB for "
            f"{train.n_rows:,} training rows, over the {budget / 2**30:.1f} GiB budget; "
            "use --strategies stream, random_under or class_weight for data this large"
        )


def cached_rows(hypermodel, train, settings: dict, seed, compute):
    """``compute()``'s resampled rows, kept for the last few (data, settings, seed) keys.

    Hyperband continues a trial in a later round with the same settings and seed; the cache
    spares it a second resampling. Shared by the tabular and image hypermodels.
    """
    cache = hypermodel.__dict__.setdefault("_rows_cache", OrderedDict())
    key = (id(train), json.dumps(settings, sort_keys=True), seed)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    rows = cache[key] = compute()
    # cross-fitting resamples each fold's rows: keep a few trials' worth of folds
    while len(cache) > _CACHE_SIZE * max(1, int(getattr(hypermodel, "folds", 1))):
        cache.popitem(last=False)
    return rows


def batch_size_choices(n_rows: int, *, candidates=(32, 64, 128, 256, 512, 1024), min_steps: int = 16, keep: int = 3) -> list:
    """The batch sizes to search: the ``keep`` largest that still give ``min_steps`` steps an epoch.

    A fixed 256-1024 leaves a 200-row training set one gradient step per epoch; a fixed 32
    makes a 140,000-row epoch slow. The choice depends only on the training split's size, so
    it is the same in every trial of a run.

    Examples
    --------
    >>> batch_size_choices(140_000), batch_size_choices(5_000), batch_size_choices(300)
    ([256, 512, 1024], [64, 128, 256], [32])
    """
    fitting = [b for b in candidates if n_rows / b >= min_steps] or [candidates[0]]
    return fitting[-keep:]


def initial_bias(class_counts, strategy: str):
    """The output bias a remedy asks for: the log prior for ``bias_init``, else ``None``."""
    if strategy != "bias_init":
        return None
    counts = np.asarray(class_counts)
    return output_bias(np.repeat(np.arange(len(counts)), counts), n_classes=len(counts))


def _loss(schema: FeatureSchema, hp, strategy: str):
    binary = schema.n_classes == 2
    if strategy == "focal":
        gamma, alpha = hp.get("focal_gamma"), hp.get("focal_alpha")
        if binary:
            return keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=alpha, gamma=gamma)
        return keras.losses.CategoricalFocalCrossentropy(alpha=alpha, gamma=gamma)
    return keras.losses.BinaryCrossentropy() if binary else keras.losses.SparseCategoricalCrossentropy()


def validation_logs(objective: Objective, y, proba, epoch: int) -> dict:
    """Exact validation scores of one epoch, as Keras log entries.

    ``<objective.metric>``, ``val_pr_auc`` and ``val_loss``. Predictions that are not finite
    fail the trial (``keras_tuner.errors.FailedTrialError``).
    """
    if not np.isfinite(proba).all():
        raise kt.errors.FailedTrialError(f"predictions are not finite at epoch {epoch + 1}")
    logs = {objective.metric: objective.score(y, proba)}
    if objective.name != "pr_auc":
        logs["val_pr_auc"] = get_objective("pr_auc").score(y, proba)
    logs["val_loss"] = _log_loss(y, proba)
    return logs


def fold_assignment(y, folds: int, *, random_state=None) -> np.ndarray:
    """Stratified K-fold ids (0 to ``folds`` - 1) of the rows with labels ``y``.

    Every class is spread over the folds as evenly as it can be, so each fold's held-out
    rows contain the rare class. ``folds`` must not exceed the smallest class count.

    Examples
    --------
    >>> ids = fold_assignment(np.r_[np.zeros(20, int), np.ones(5, int)], 5, random_state=0)
    >>> np.bincount(ids[20:]).tolist()
    [1, 1, 1, 1, 1]
    """
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    smallest = int(np.bincount(y).min()) if y.size else 0
    if folds < 2 or folds > smallest:
        raise ValueError(f"fold_assignment needs 2 <= folds <= the smallest class count ({smallest}); got {folds}.")
    ids = np.empty(len(y), dtype="int64")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    for k, (_, held_out) in enumerate(splitter.split(np.zeros((len(y), 1)), y)):
        ids[held_out] = k
    return ids


class ValidationScorer(keras.callbacks.Callback):
    """Keras callback that scores the validation rows exactly after every epoch.

    It writes ``val_<objective>`` (and ``val_pr_auc``, ``val_loss``) into the epoch logs, so
    Keras Tuner and early stopping read an exact score rather than Keras's approximations.
    A loss or prediction that is not finite fails the trial with the reason
    (``keras_tuner.errors.FailedTrialError``), which Keras Tuner does not retry.

    Parameters
    ----------
    inputs : dict
        Validation model inputs.
    y : numpy.ndarray
        Validation class indices.
    objective : Objective
    batch_size : int
        Prediction batch size.
    """

    def __init__(self, inputs, y, objective: Objective, *, batch_size: int = 4096):
        super().__init__()
        self.inputs = inputs
        self.y = y
        self.objective = objective
        self.batch_size = batch_size

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        loss = logs.get("loss")
        if loss is not None and not np.isfinite(loss):
            raise kt.errors.FailedTrialError(f"training loss became {loss} at epoch {epoch + 1}")
        proba = predict_proba(self.model, self.inputs, batch_size=self.batch_size)
        logs.update(validation_logs(self.objective, self.y, proba, epoch))

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            raise kt.errors.FailedTrialError(f"training loss became {loss} in batch {batch + 1}")


def _log_loss(y, proba) -> float:
    proba = np.clip(np.asarray(proba, dtype="float64"), 1e-7, 1 - 1e-7)
    if proba.ndim == 1:
        return float(-np.mean(y * np.log(proba) + (1 - y) * np.log1p(-proba)))
    return float(-np.mean(np.log(proba[np.arange(len(y)), y])))


class TabularHyperModel(kt.HyperModel):
    """Keras Tuner hypermodel for tables: network and imbalance remedy searched together.

    ``build(hp)`` makes the network (depth, width, dropout, learning rate; the loss and
    output bias that the remedy asks for). ``fit(hp, model, train=..., validation=...)``
    applies the remedy to the training rows only (resampling, class weights, streaming
    rebalancing), tunes the batch size, and scores the validation rows exactly after every
    epoch with :class:`ValidationScorer`.

    Parameters
    ----------
    schema : FeatureSchema
        Learnt from the training rows.
    strategies : sequence of str, default=DEFAULT_STRATEGIES
        Remedies to search (see ``raretune.tuning.REMEDIES``).
    objective : Objective, default=PR-AUC
    random_state : int or None
        Seed of weights, resampling and shuffling, combined with each trial's
        hyperparameters so that a trial repeats exactly. ``None``: fresh randomness.
    memory_budget : int, optional
        Bytes a resampled training set may take; default half the memory available when
        the trial starts. A remedy whose result would not fit fails its trial with the
        figure (the search goes on) instead of getting the process killed.
    folds : int, default=1
        Cross-fitting for small data. With ``folds`` = K > 1, ``fit`` takes every search row
        as ``train`` (``validation`` is ignored), splits it into K stratified folds, and
        trains K networks (the towers of one model), network k on the rows outside fold k
        with the remedy applied to those rows only. Each epoch is scored on the pooled
        out-of-fold predictions, so every rare-class row counts in the choice between
        trials, and the model Keras Tuner keeps averages the K networks. The search space
        then also holds linear models (``layers`` = 0).

    Examples
    --------
    >>> import keras_tuner as kt                                   # doctest: +SKIP
    >>> hm = TabularHyperModel(FeatureSchema.from_data(train))     # doctest: +SKIP
    >>> model = hm.build(kt.HyperParameters())                     # doctest: +SKIP
    """

    def __init__(self, schema: FeatureSchema, *, strategies=_remedies.DEFAULT_STRATEGIES, objective: Objective | None = None, random_state: int | None = None, memory_budget: int | None = None, folds: int = 1):
        super().__init__(name="raretune_tabular", tunable=True)
        self.memory_budget = memory_budget
        self.folds = folds
        self.schema = schema
        self.strategies = tuple(strategies)
        self.objective = objective
        self.random_state = random_state

    # -- helpers ------------------------------------------------------------------------

    def trial_seed(self, hp) -> int | None:
        """Seed of one trial: the run seed combined with the trial's hyperparameters."""
        if self.random_state is None:
            return None
        values = {k: v for k, v in hp.values.items() if not k.startswith("tuner/")}
        digest = hashlib.sha256(json.dumps([self.random_state, values], sort_keys=True, default=str).encode())
        return int.from_bytes(digest.digest()[:4], "little") % (2**31 - 1)

    def _objective(self) -> Objective:
        return self.objective if self.objective is not None else get_objective("pr_auc")

    # -- Keras Tuner API ----------------------------------------------------------------

    def build(self, hp):
        """Build and compile the network for one trial."""
        _remedies.check_strategies(self.strategies, kind="table")
        strategy = _remedies.declare_strategy(hp, self.strategies)
        layers = hp.Int("layers", 0 if self.folds > 1 else 1, 3, default=2)
        units = hp.Choice("units", [32, 64, 128, 256], default=64)
        dropout = hp.Choice("dropout", [0.0, 0.1, 0.3], default=0.1)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        seed = self.trial_seed(hp)
        bias = initial_bias(self.schema.class_counts, strategy)
        if self.folds > 1:  # cross-fitting: one tower per fold (balanced bagging: one bag per fold)
            model = build_stacked_model(
                self.schema, n_towers=self.folds, layers=layers, units=units, dropout=dropout, initial_bias=bias, seed=seed,
            )
        else:
            model = build_tabular_model(
                self.schema, layers=layers, units=units, dropout=dropout, initial_bias=bias, seed=seed,
                n_towers=hp.get("bagging_k") if strategy == "balanced_bagging" else 1,
            )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
            loss=_loss(self.schema, hp, strategy),
        )
        return model

    def fit(self, hp, model, *args, train: TabularData = None, validation: TabularData = None, callbacks=None, epochs: int = 1, initial_epoch: int = 0, verbose=0, **kwargs):
        """Apply the remedy to ``train``, train ``model``, score ``validation`` each epoch.

        Returns
        -------
        keras.callbacks.History
        """
        _remedies.declare_data_knobs(hp, self.strategies)
        n_fit = train.n_rows if self.folds < 2 else train.n_rows * (self.folds - 1) // self.folds
        choices = batch_size_choices(n_fit)
        batch_size = hp.Choice("batch_size", choices, default=choices[len(choices) // 2])
        settings = _remedies.remedy_settings(hp)
        seed = self.trial_seed(hp)
        if self.folds > 1:
            return self._fit_folds(
                model, train, settings, batch_size=batch_size, seed=seed, callbacks=list(callbacks or []),
                epochs=epochs, initial_epoch=initial_epoch,
            )
        scorer = ValidationScorer(self.schema.inputs(validation.features), validation.y, self._objective())
        if settings["strategy"] == "balanced_bagging":
            return self._fit_bagging(
                model, train, settings, batch_size=batch_size, seed=seed, callbacks=[scorer, *(callbacks or [])],
                epochs=epochs, initial_epoch=initial_epoch,
            )
        dataset = self.training_dataset(train, settings, batch_size=batch_size, seed=seed)
        return model.fit(
            dataset,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=[scorer, *(callbacks or [])],
            verbose=verbose,
            shuffle=False,  # the dataset is already shuffled, seeded, every epoch
        )

    def _fit_bagging(self, model, train, settings, *, batch_size, seed, callbacks, epochs, initial_epoch):
        """Train each tower of the ensemble on its own balanced bag; callbacks see the ensemble.

        Every epoch, tower ``t`` is fitted for one pass over all training positives plus
        ``bagging_neg_ratio`` times as many negatives drawn afresh (seeded by trial, tower and
        epoch), so over the epochs the towers see different parts of the majority class. The
        epoch's logs (mean tower loss, exact validation scores of the averaged ensemble) go to
        the tuner's callbacks as if ``model.fit`` had run.
        """
        import tensorflow as tf

        towers = [keras.Model(model.inputs, layer.output) for layer in _tower_outputs(model)]
        for tower in towers:
            tower.compile(optimizer=keras.optimizers.Adam(learning_rate=float(model.optimizer.learning_rate)), loss=model.loss)
        history = keras.callbacks.History()
        callback_list = keras.callbacks.CallbackList([*callbacks, history], model=model, epochs=epochs)
        inputs = self.schema.inputs(train.features)
        labels = self._labels(train.y, "balanced_bagging")
        ratio = float(settings["bagging_neg_ratio"])
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            callback_list.on_epoch_begin(epoch)
            losses = []
            for t, tower in enumerate(towers):
                rng = np.random.default_rng(None if seed is None else [seed, t, epoch])
                rows = rng.permutation(_balanced_bag_rows(train.y, np.ones(train.n_rows, dtype=bool), ratio, rng))
                bag = tf.data.Dataset.from_tensor_slices(({k: v[rows] for k, v in inputs.items()}, labels[rows]))
                result = tower.fit(bag.batch(batch_size), epochs=1, verbose=0, shuffle=False)
                losses.append(result.history["loss"][-1])
            logs = {"loss": float(np.mean(losses))}
            callback_list.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        callback_list.on_train_end()
        return history

    # -- cross-fitting ------------------------------------------------------------------

    def folds_of(self, train: TabularData):
        """``(fold ids, parts)`` of ``train``: part k holds the rows outside fold k.

        Seeded by ``random_state`` alone, so every trial sees the same folds (paired
        comparisons); kept for the last ``train`` seen.
        """
        cached = self.__dict__.get("_folds_cache")
        if cached is not None and cached[0] is train:
            return cached[1], cached[2]
        ids = fold_assignment(train.y, self.folds, random_state=self.random_state)
        parts = [train.take(np.flatnonzero(ids != k)) for k in range(self.folds)]
        self._folds_cache = (train, ids, parts)
        return ids, parts

    def out_of_fold(self, model, train: TabularData, *, batch_size: int = 4096) -> np.ndarray:
        """Each row's prediction by the tower that did not train on it (cross-fitted models).

        Returns shape (n,) for two classes, (n, K) otherwise, as float64.
        """
        ids, _ = self.folds_of(train)
        every = self._towers(model)
        inputs = self.__dict__.get("_oof_inputs")
        if inputs is None or inputs[0] is not train:
            inputs = (train, self.schema.inputs(train.features))
            self._oof_inputs = inputs
        # cross-fitting is for small tables: an eager call per chunk, no predict function to trace
        chunks = []
        for start in range(0, len(ids), batch_size):
            chunk = {k: v[start:start + batch_size] for k, v in inputs[1].items()}
            chunks.append(keras.ops.convert_to_numpy(every(chunk, training=False)))
        outputs = np.concatenate(chunks).astype("float64")  # (rows, towers, outputs)
        proba = outputs[np.arange(len(ids)), ids]
        return proba[:, 0] if proba.shape[1] == 1 else proba

    def _fit_folds(self, model, train, settings, *, batch_size, seed, callbacks, epochs, initial_epoch):
        """Train tower k on the rows outside fold k; score the pooled out-of-fold predictions.

        The towers are one stacked network (:func:`build_stacked_model`) trained in one
        ``fit``: each row carries one sample weight per tower, zero for the towers that must
        not see it (its own fold's tower; for a resampled fold, every other tower), and
        batches are scaled so that each tower still gets about ``batch_size`` rows a step.
        The callbacks (Keras Tuner's checkpointing among them) see the averaged model and
        exact out-of-fold scores each epoch, as if ``model.fit`` had run on it.
        """
        ids, parts = self.folds_of(train)
        n_folds = len(parts)
        view = self._towers(model)
        view.compile(optimizer=keras.optimizers.Adam(learning_rate=float(model.optimizer.learning_rate)), loss=model.loss)
        fold_seeds = [None if seed is None else (seed + 7919 * (k + 1)) % (2**31 - 1) for k in range(n_folds)]
        history = keras.callbacks.History()
        callback_list = keras.callbacks.CallbackList([*callbacks, history], model=model, epochs=epochs)
        objective = self._objective()

        class Forward(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                callback_list.on_epoch_begin(epoch)

            def on_train_batch_end(self, batch, logs=None):
                loss = (logs or {}).get("loss")
                if loss is not None and not np.isfinite(loss):
                    raise kt.errors.FailedTrialError(f"training loss became {loss} in batch {batch + 1}")

            def on_epoch_end(inner, epoch, logs=None):
                loss = (logs or {}).get("loss", np.nan)
                if not np.isfinite(loss):
                    raise kt.errors.FailedTrialError(f"training loss became {loss} at epoch {epoch + 1}")
                logs = {"loss": float(loss), **validation_logs(objective, train.y, self.out_of_fold(model, train), epoch)}
                callback_list.on_epoch_end(epoch, logs)
                if model.stop_training:
                    inner.model.stop_training = True

        callback_list.on_train_begin()
        if settings["strategy"] == "balanced_bagging":  # fresh bags every epoch
            for epoch in range(initial_epoch, epochs):
                dataset, steps = self._balanced_bags(train, ids, settings, batch_size, [seed or 0, epoch])
                view.fit(dataset, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=steps, callbacks=[Forward()],
                         verbose=0, shuffle=False)
                if model.stop_training:
                    break
        else:
            dataset, steps = self._fold_dataset(train, ids, parts, settings, batch_size=batch_size, seeds=fold_seeds, seed=seed)
            view.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps, callbacks=[Forward()],
                     verbose=0, shuffle=False)
        callback_list.on_train_end()
        return history

    def _towers(self, model):
        """A model with every tower's output, ``(batch, towers, outputs)``, sharing ``model``'s layers."""
        cached = self.__dict__.get("_towers_view")
        if cached is None or cached[0] is not model:
            cached = (model, keras.Model(model.inputs, model.get_layer("towers").output))
            self._towers_view = cached
        return cached[1]

    def _tower_labels(self, y, strategy, n_folds):
        """Labels repeated for every tower: (n, towers, 1), (n, towers) or one-hot (n, towers, K)."""
        labels = self._labels(y, strategy)
        if labels.ndim == 1:  # class indices (sparse multiclass)
            return np.repeat(labels[:, None], n_folds, axis=1)
        return np.repeat(labels[:, None, :], n_folds, axis=1)

    def _fold_dataset(self, train, ids, parts, settings, *, batch_size, seeds, seed):
        """``(dataset, steps per epoch)`` for all towers: rows with a per-tower sample weight.

        Without a sampler the rows are ``train``'s own, weighted 0 for their own fold's
        tower. With a sampler each fold's resampled rows are stacked, weighted only for
        that fold's tower (a synthetic row never reaches a tower whose held-out fold it
        was made from). ``stream`` draws its minority share into every batch.
        """
        import tensorflow as tf

        n_folds = len(parts)
        strategy = settings["strategy"]
        if _remedies.is_sampler(strategy):
            tables = [self.training_rows(part, settings, seed=s) for part, s in zip(parts, seeds)]
            owner = np.concatenate([np.full(t.n_rows, k) for k, t in enumerate(tables)])
            rows = tables[0].with_rows(pd.concat([t.features for t in tables], ignore_index=True),
                                       np.concatenate([t.y for t in tables]))
            mask = owner[:, None] == np.arange(n_folds)[None, :]
            scale = n_folds
        else:
            rows = train
            mask = ids[:, None] != np.arange(n_folds)[None, :]
            scale = n_folds / (n_folds - 1)
        per_tower = mask.astype("float32")
        if strategy == "class_weight":  # each tower's weights from its own training rows
            for k in range(n_folds):
                table = class_weights(rows.y[mask[:, k]], strength=float(settings["cw_strength"]), n_classes=rows.n_classes)
                lookup = np.array([table[c] for c in range(rows.n_classes)], dtype="float32")
                per_tower[:, k] *= lookup[rows.y]
        inputs = self.schema.inputs(rows.features)
        labels = self._tower_labels(rows.y, strategy, n_folds)
        if strategy == "stream":
            steps = -(-rows.n_rows // batch_size)
            return _stream_dataset(inputs, labels, per_tower, rows.y, float(settings["stream_share"]), batch_size, seed).repeat(), steps
        total_batch = int(min(rows.n_rows, round(batch_size * scale)))
        # an endless reshuffled stream of full batches: one traced train step (no short last
        # batch to trace again)
        dataset = tf.data.Dataset.from_tensor_slices((inputs, labels, per_tower)).shuffle(
            rows.n_rows, seed=seed, reshuffle_each_iteration=True)
        steps = -(-rows.n_rows // total_batch)
        return dataset.repeat().batch(total_batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE), steps

    def _balanced_bags(self, train, ids, settings, batch_size, seed):
        """One epoch of balanced bags, ``(dataset, steps)``: tower k's bag is every rare row
        outside fold k plus ``bagging_neg_ratio`` times as many other rows outside fold k,
        drawn afresh."""
        import tensorflow as tf

        n_folds = int(ids.max()) + 1
        rng = np.random.default_rng(seed)
        mask = np.zeros((train.n_rows, n_folds), dtype="float32")
        for k in range(n_folds):
            mask[_balanced_bag_rows(train.y, ids != k, float(settings["bagging_neg_ratio"]), rng), k] = 1.0
        rows = np.flatnonzero(mask.any(axis=1))
        inputs = {name: v[rows] for name, v in self.schema.inputs(train.features).items()}
        labels = self._tower_labels(train.y[rows], "balanced_bagging", n_folds)
        bag_size = mask.sum(axis=0).mean()
        total_batch = int(min(rows.size, round(batch_size * rows.size / max(bag_size, 1))))
        dataset = tf.data.Dataset.from_tensor_slices((inputs, labels, mask[rows])).shuffle(rows.size, seed=seed[0] + seed[1])
        return dataset.batch(total_batch, drop_remainder=True), max(1, rows.size // total_batch)

    # -- data ---------------------------------------------------------------------------

    def training_rows(self, train: TabularData, settings: dict, *, seed: int | None) -> TabularData:
        """The training rows after the remedy's sampler (cached per settings and seed)."""
        if not _remedies.is_sampler(settings["strategy"]):
            return train
        from ..resample._tabular import resample_table

        def resample():
            sampler, mode = _remedies.make_sampler(
                settings, train.y, n_classes=train.n_classes, numeric=train.numeric,
                categorical=train.categorical, random_state=seed,
            )
            check_resampling_memory(train, sampler, self.memory_budget)
            return resample_table(train, sampler, categorical_mode=mode)

        return cached_rows(self, train, settings, seed, resample)

    def training_dataset(self, train: TabularData, settings: dict, *, batch_size: int, seed: int | None):
        """The ``tf.data`` pipeline of one trial: remedy applied, shuffled, batched."""
        import tensorflow as tf

        strategy = settings["strategy"]
        rows = self.training_rows(train, settings, seed=seed)
        y = rows.y
        weights = np.ones(len(y), dtype="float32")
        if strategy == "class_weight":
            table = class_weights(y, strength=float(settings["cw_strength"]), n_classes=rows.n_classes)
            weights = np.array([table[int(k)] for k in y], dtype="float32")
        labels = self._labels(y, strategy)
        inputs = self.schema.inputs(rows.features)
        if strategy == "stream":
            return _stream_dataset(inputs, labels, weights, y, float(settings["stream_share"]), batch_size, seed)
        return _shuffled_batches((inputs, labels, weights), len(y), batch_size, seed).prefetch(tf.data.AUTOTUNE)

    def _labels(self, y, strategy):
        if self.schema.n_classes == 2:
            return y.astype("float32").reshape(-1, 1)
        if strategy == "focal":  # categorical focal loss wants one-hot labels
            return np.eye(self.schema.n_classes, dtype="float32")[y]
        return y.astype("int32")


def _balanced_bag_rows(y, eligible, ratio: float, rng) -> np.ndarray:
    """One balanced bag among the ``eligible`` rows: every rare-class row plus ``ratio``
    times as many majority rows drawn without replacement (majority of all of ``y``)."""
    majority = int(np.argmax(np.bincount(y)))
    minority_rows = np.flatnonzero(eligible & (y != majority))
    majority_rows = np.flatnonzero(eligible & (y == majority))
    n_major = int(min(majority_rows.size, round(ratio * minority_rows.size)))
    return np.concatenate([minority_rows, rng.choice(majority_rows, size=n_major, replace=False)])


#: Up to this many rows, every epoch reshuffles rows; above, rows are permuted once per
#: trial and the batch order is reshuffled every epoch (no per-row work inside tf.data).
_ROW_SHUFFLE_MAX = 250_000


def _shuffled_batches(arrays, n: int, batch_size: int, seed):
    """Batches of ``arrays`` (a nest of row-aligned arrays) in a new random order every epoch."""
    import tensorflow as tf

    if n <= _ROW_SHUFFLE_MAX:
        dataset = tf.data.Dataset.from_tensor_slices(arrays).shuffle(n, seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size)
    order = np.random.default_rng(seed).permutation(n)
    tensors = tf.nest.map_structure(lambda a: tf.constant(a[order]), arrays)
    n_batches = -(-n // batch_size)

    def take(i):
        start = i * batch_size
        return tf.nest.map_structure(lambda t: t[start : tf.minimum(start + batch_size, n)], tensors)

    # whole batches are sliced out of the tensors: no per-row work inside tf.data
    order_of_batches = tf.data.Dataset.range(n_batches).shuffle(n_batches, seed=seed, reshuffle_each_iteration=True)
    return order_of_batches.map(take, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _stream_dataset(inputs, labels, weights, y, share, batch_size, seed):
    """Streaming rebalance inside tf.data: every batch holds minority rows at ``share``.

    Majority rows pass once per epoch in shuffled batches and are never copied; the minority
    rows (rare by definition) stay in memory and each batch draws its share of them at
    random, vectorised (``tf.gather`` on stateless random indices from a seeded
    ``Dataset.random`` stream that changes every epoch).
    """
    import tensorflow as tf

    counts = np.bincount(y)
    majority = int(np.argmax(counts))
    is_majority = y == majority
    arrays = (inputs, labels, weights)
    major = tf.nest.map_structure(lambda a: a[is_majority], arrays)
    minor = tf.nest.map_structure(lambda a: tf.constant(a[~is_majority]), arrays)
    n_minor = int((~is_majority).sum())
    share = max(share, counts.min() / counts.sum())
    k = int(min(batch_size - 1, max(1, round(batch_size * share))))
    batches = _shuffled_batches(major, int(is_majority.sum()), batch_size - k, seed)
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def add_minority(batch, draw):
        index = tf.random.stateless_uniform([k], seed=tf.stack([draw, tf.constant(0, tf.int64)]),
                                            maxval=n_minor, dtype=tf.int64)
        return tf.nest.map_structure(lambda b, m: tf.concat([b, tf.gather(m, index)], axis=0), batch, minor)

    return tf.data.Dataset.zip((batches, draws)).map(add_minority, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )
