"""The tabular hypermodel: an MLP over raw columns, searched jointly with the remedy."""

from __future__ import annotations

import hashlib
import json

import keras
import keras_tuner as kt
import numpy as np

from ..datasets import TabularData
from ..metrics import Objective, get_objective
from ..remedies import DEFAULT_STRATEGIES, check_strategies, declare_data_knobs, declare_strategy, get_remedy, remedy_settings
from ._callbacks import ValidationScorer
from ._crossfit import CrossFitter
from ..resample import rebalance_arrays
from ._data import (RowsCache, balanced_bag_rows, batch_size_choices, check_resampling_memory, estimate_resampled_bytes,
                    resampled_origin, resampled_weights, training_batches)
from ..models import FeatureSchema, build_stacked_model, build_tabular_model
from ..models import tower_outputs as _tower_outputs

__all__ = ["TabularHyperModel", "trial_seed"]

#: Resampled training sets kept per fold (Hyperband continues trials with the same rows).
_CACHE_SIZE = 3


class TabularHyperModel(kt.HyperModel):
    """Keras Tuner hypermodel for tables: network and imbalance remedy searched together.

    ``build(hp)`` makes the network (depth, width, dropout, learning rate; the loss and
    output bias that the remedy asks for). ``fit(hp, model, train=..., validation=...)``
    applies the remedy to the training rows only (resampling, class weights, streaming
    rebalancing), tunes the batch size, and scores the validation rows exactly after every
    epoch with :class:`~raretune.tuning.ValidationScorer`.

    Parameters
    ----------
    schema : FeatureSchema
        Learnt from the training rows.
    strategies : sequence of str, default=DEFAULT_STRATEGIES
        Remedies to search (see ``raretune.remedies.REMEDIES``).
    objective : Objective, default=PR-AUC
    random_state : int or None
        Seed of weights, resampling and shuffling, combined with each trial's
        hyperparameters so that a trial repeats exactly. ``None``: fresh randomness.
    memory_budget : int, optional
        Bytes a resampled training set may take; default half the memory available when
        the trial starts. A remedy whose result would not fit fails its trial with the
        figure (the search goes on) instead of getting the process killed.
    folds : int, default=1
        Cross-fitting for small data (:class:`~raretune.tuning.CrossFitter`): with K > 1,
        ``fit`` takes every search row as ``train`` (``validation`` is ignored) and trains
        K networks (the towers of one model) on K stratified folds, scored on their pooled
        out-of-fold predictions. The search space then also holds linear models
        (``layers`` = 0).
    rows : TabularData, optional
        With cross-fitting, the rows ``fit`` will be given: each tower's preprocessing
        (imputation, normalisation, vocabularies) and ``bias_init``'s class counts are
        learnt from the rows outside its own fold (:func:`raretune.models.fold_schemas`).
        Without it every tower uses ``schema``.
    fold_layout : dict, optional
        What the folds of ``rows`` must respect (:func:`~raretune.tuning.fold_assignment`):
        ``groups`` (no group in two folds) and/or ``order`` (contiguous blocks of time),
        arrays aligned with ``rows``.
    sample_weight : array-like of float, optional
        Sample weights of the rows ``fit`` trains on (the search rows with cross-fitting),
        multiplied into the remedy's row weights; resampled rows carry them along
        (:func:`~raretune.tuning._data.resampled_weights`).

    Examples
    --------
    >>> import keras_tuner as kt                                   # doctest: +SKIP
    >>> hm = TabularHyperModel(FeatureSchema.from_data(train))     # doctest: +SKIP
    >>> model = hm.build(kt.HyperParameters())                     # doctest: +SKIP
    """

    def __init__(self, schema: FeatureSchema, *, strategies=DEFAULT_STRATEGIES, objective: Objective | None = None,
                 random_state: int | None = None, memory_budget: int | None = None, folds: int = 1,
                 rows: TabularData | None = None, fold_layout: dict | None = None, sample_weight=None):
        super().__init__(name="raretune_tabular", tunable=True)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight, dtype="float64")
        self.rows = rows
        self.fold_layout = dict(fold_layout or {})
        self.memory_budget = memory_budget
        self.folds = folds
        self.schema = schema
        self.strategies = tuple(strategies)
        self.objective = objective
        self.random_state = random_state
        self._cache = RowsCache(_CACHE_SIZE * max(1, int(folds)))
        self._crossfit = CrossFitter(self)

    # -- helpers ------------------------------------------------------------------------

    def trial_seed(self, hp) -> int | None:
        """Seed of one trial: the run seed combined with the trial's hyperparameters."""
        return trial_seed(self.random_state, hp)

    @property
    def objective_(self) -> Objective:
        """The objective validation is scored with (PR-AUC unless given)."""
        return self.objective if self.objective is not None else get_objective("pr_auc")

    # -- Keras Tuner API ----------------------------------------------------------------

    def build(self, hp):
        """Build and compile the network for one trial."""
        check_strategies(self.strategies, kind="table")
        strategy = declare_strategy(hp, self.strategies)
        remedy = get_remedy(strategy)
        layers = hp.Int("layers", 0 if self.folds > 1 else 1, 3, default=2)
        units = hp.Choice("units", [32, 64, 128, 256], default=64)
        dropout = hp.Choice("dropout", [0.0, 0.1, 0.3], default=0.1)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        seed = self.trial_seed(hp)
        if self.folds > 1:  # cross-fitting: one tower per fold (balanced bagging: one bag per fold)
            schemas = self._crossfit.schemas(self.rows) if self.rows is not None else [self.schema] * self.folds
            biases = [remedy.initial_bias(s.class_counts) for s in schemas]
            model = build_stacked_model(
                schemas=schemas, layers=layers, units=units, dropout=dropout, seed=seed,
                initial_bias=None if biases[0] is None else np.stack(biases),
            )
        else:
            bias = remedy.initial_bias(self.schema.class_counts)
            model = build_tabular_model(
                self.schema, layers=layers, units=units, dropout=dropout, initial_bias=bias, seed=seed,
                n_towers=hp.get("bagging_k") if strategy == "balanced_bagging" else 1,
            )
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                      loss=remedy.loss(remedy_settings(hp), self.schema.n_classes))
        return model

    def fit(self, hp, model, *args, train: TabularData = None, validation: TabularData = None, callbacks=None,
            epochs: int = 1, initial_epoch: int = 0, verbose=0, **kwargs):
        """Apply the remedy to ``train``, train ``model``, score ``validation`` each epoch.

        Returns
        -------
        keras.callbacks.History
        """
        declare_data_knobs(hp, self.strategies)
        n_fit = train.n_rows if self.folds < 2 else train.n_rows * (self.folds - 1) // self.folds
        choices = batch_size_choices(n_fit)
        batch_size = hp.Choice("batch_size", choices, default=choices[len(choices) // 2])
        settings = remedy_settings(hp)
        seed = self.trial_seed(hp)
        if self.folds > 1:
            return self._crossfit.fit(model, train, settings, batch_size=batch_size, seed=seed,
                                      callbacks=list(callbacks or []), epochs=epochs, initial_epoch=initial_epoch)
        scorer = ValidationScorer(self.schema.inputs(validation.features), validation.y, self.objective_)
        weight = self.weights_of(train)
        if settings["strategy"] == "balanced_bagging":
            return self._fit_bagging(model, train, settings, batch_size=batch_size, seed=seed, sample_weight=weight,
                                     callbacks=[scorer, *(callbacks or [])], epochs=epochs, initial_epoch=initial_epoch)
        dataset = self.training_dataset(train, settings, batch_size=batch_size, seed=seed, sample_weight=weight)
        return model.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, callbacks=[scorer, *(callbacks or [])],
                         verbose=verbose, shuffle=False)  # the dataset is already shuffled, seeded, every epoch

    def _fit_bagging(self, model, train, settings, *, batch_size, seed, callbacks, epochs, initial_epoch,
                     sample_weight=None):
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
            tower.compile(optimizer=keras.optimizers.Adam(learning_rate=float(model.optimizer.learning_rate)),
                          loss=model.loss)
        history = keras.callbacks.History()
        callback_list = keras.callbacks.CallbackList([*callbacks, history], model=model, epochs=epochs)
        inputs = self.schema.inputs(train.features)
        labels = self.labels(train.y, "balanced_bagging")
        ratio = float(settings["bagging_neg_ratio"])
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            callback_list.on_epoch_begin(epoch)
            losses = []
            for t, tower in enumerate(towers):
                rng = np.random.default_rng(None if seed is None else [seed, t, epoch])
                rows = rng.permutation(balanced_bag_rows(train.y, np.ones(train.n_rows, dtype=bool), ratio, rng))
                arrays = ({k: v[rows] for k, v in inputs.items()}, labels[rows])
                if sample_weight is not None:
                    arrays += (sample_weight[rows].astype("float32"),)
                bag = tf.data.Dataset.from_tensor_slices(arrays)
                result = tower.fit(bag.batch(batch_size), epochs=1, verbose=0, shuffle=False)
                losses.append(result.history["loss"][-1])
            callback_list.on_epoch_end(epoch, {"loss": float(np.mean(losses))})
            if model.stop_training:
                break
        callback_list.on_train_end()
        return history

    # -- cross-fitting ------------------------------------------------------------------

    def folds_of(self, train: TabularData):
        """``(fold ids, parts)`` of ``train`` (see :meth:`CrossFitter.folds_of`)."""
        return self._crossfit.folds_of(train)

    def out_of_fold(self, model, train: TabularData, *, batch_size: int = 4096) -> np.ndarray:
        """Each row's prediction by the tower that did not train on it (cross-fitted models)."""
        return self._crossfit.out_of_fold(model, train, batch_size=batch_size)

    # -- data ---------------------------------------------------------------------------

    def weights_of(self, train: TabularData):
        """The sample weights of ``train`` (the rows ``fit`` is given), or ``None`` without any."""
        if self.sample_weight is None:
            return None
        if len(self.sample_weight) != train.n_rows:
            raise ValueError(f"The hypermodel holds {len(self.sample_weight)} sample weights for "
                             f"{train.n_rows} training rows.")
        return self.sample_weight

    def training_rows(self, train: TabularData, settings: dict, *, seed: int | None) -> TabularData:
        """The training rows after the remedy's sampler (cached per rows, settings and seed)."""
        return self._resampled(train, settings, seed)[0]

    def training_rows_weighted(self, train: TabularData, settings: dict, *, seed: int | None, sample_weight=None):
        """``(rows, sample weights)`` after the remedy's sampler; weights ``None`` without ``sample_weight``."""
        rows, origin = self._resampled(train, settings, seed)
        if sample_weight is None:
            return rows, None
        if origin is None:
            return rows, np.asarray(sample_weight, dtype="float64")
        return rows, resampled_weights(sample_weight, train.y, origin, rows.y)

    def _resampled(self, train: TabularData, settings: dict, seed):
        """``(rows, origin)``: the sampler's rows and, per row, the training row it copies (-1:
        synthetic); ``origin`` is ``None`` when the remedy does not resample."""
        remedy = get_remedy(settings["strategy"])
        if not remedy.resamples:
            return train, None
        from ..resample._tabular import resample_table

        def resample():
            sampler, mode = remedy.sampler(settings, train.y, n_classes=train.n_classes, numeric=train.numeric,
                                           categorical=train.categorical, random_state=seed)
            check_resampling_memory(estimate_resampled_bytes(train, sampler),
                                    f"{type(sampler).__name__} for {train.n_rows:,} training rows", self.memory_budget,
                                    advice="use --strategies stream, random_under or class_weight for data this large")
            rows = resample_table(train, sampler, categorical_mode=mode)
            return rows, resampled_origin(train, rows, sampler)

        return self._cache.get(train, settings, seed, resample)

    def training_dataset(self, train: TabularData, settings: dict, *, batch_size: int, seed: int | None,
                         sample_weight=None):
        """The ``tf.data`` pipeline of one trial: remedy applied, shuffled, batched.

        ``sample_weight`` (of ``train``'s rows) multiplies the remedy's row weights.
        """
        strategy = settings["strategy"]
        rows, row_weight = self.training_rows_weighted(train, settings, seed=seed, sample_weight=sample_weight)
        weights = get_remedy(strategy).row_weights(settings, rows.y, rows.n_classes).astype("float32")
        if row_weight is not None:
            weights = (weights * row_weight).astype("float32")
        arrays = (self.schema.inputs(rows.features), self.labels(rows.y, strategy), weights)
        if strategy == "stream":
            return rebalance_arrays(arrays, rows.y, share=float(settings["stream_share"]), batch_size=batch_size,
                                    seed=seed)
        return training_batches(arrays, rows.n_rows, batch_size, seed)

    def labels(self, y, strategy):
        """Labels in the form the remedy's loss wants: (n, 1) floats, class indices or one-hot."""
        n_classes = self.schema.n_classes
        if n_classes == 2:
            return y.astype("float32").reshape(-1, 1)
        if get_remedy(strategy).one_hot_labels(n_classes):
            return np.eye(n_classes, dtype="float32")[y]
        return y.astype("int32")


def trial_seed(random_state, hp) -> int | None:
    """Seed of one trial: the run seed combined with the trial's hyperparameters (``None`` stays ``None``)."""
    if random_state is None:
        return None
    values = {k: v for k, v in hp.values.items() if not k.startswith("tuner/")}
    digest = hashlib.sha256(json.dumps([random_state, values], sort_keys=True, default=str).encode())
    return int.from_bytes(digest.digest()[:4], "little") % (2**31 - 1)
