"""The image hypermodel: a small CNN searched jointly with the imbalance remedy.

The remedies for images (``REMEDIES[name].kinds`` holds ``"image"``) are ``none``,
``class_weight``, ``bias_init``, ``focal``, ``random_over``, ``random_under``, ``smote``
(on flattened pixels, with a memory warning) and ``augment``: minority images drawn,
randomly flipped, rotated, zoomed and contrast-changed inside ``tf.data``
(:func:`augment_stream`). Every remedy touches training images only.
"""

from __future__ import annotations

import warnings

import keras
import keras_tuner as kt
import numpy as np

from .._validation import check_number
from ..datasets import ImageData
from ..metrics import Objective, get_objective
from ..models import ImageSchema, build_image_model
from ..models._predict import IMAGE_BATCH as _PREDICT_BATCH
from ..remedies import (DEFAULT_IMAGE_STRATEGIES, check_strategies, declare_data_knobs, declare_strategy, get_remedy,
                        remedy_settings)
from ._callbacks import ValidationScorer
from ._data import RowsCache, check_resampling_memory
from ._hypermodel import trial_seed

__all__ = ["ImageHyperModel", "augment_stream", "make_augmenter"]

#: Resampled image sets kept (Hyperband continues trials with the same rows).
_CACHE_SIZE = 3


# -- minority augmentation inside tf.data -----------------------------------------------------


def make_augmenter(strength: float = 0.1, *, flip: bool = False, seed: int | None = None):
    """A function that randomly transforms one uint8 image inside ``tf.data``.

    Keras's ``RandomFlip`` (horizontal, only with ``flip``), ``RandomRotation`` (up to
    ``strength * 180`` degrees), ``RandomZoom`` (up to ``strength``) and
    ``RandomContrast`` (up to ``2 * strength``); the result is rounded back to uint8
    0-255. With a seed, a fresh augmenter repeats the same transformations.

    Parameters
    ----------
    strength : float in (0, 0.5]
    flip : bool
        Mirror images left-right at random (wrong for digits and text).
    seed : int or None

    Returns
    -------
    callable
        ``augment(image) -> image``, for ``Dataset.map``.
    """
    import tensorflow as tf

    check_number(strength, "strength", "make_augmenter", low=0, high=0.5, closed="right")

    def seed_of(i):
        return None if seed is None else seed + i

    layers = []
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed_of(0)))
    layers += [
        keras.layers.RandomRotation(strength / 2, fill_mode="nearest", seed=seed_of(1)),
        keras.layers.RandomZoom(strength, fill_mode="nearest", seed=seed_of(2)),
        keras.layers.RandomContrast(min(2 * strength, 1.0), seed=seed_of(3)),
    ]

    def augment(image):
        x = tf.cast(image, "float32")
        for layer in layers:
            x = layer(x, training=True)
        return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)

    return augment


def augment_stream(
    images: np.ndarray,
    y,
    *,
    ratio: float = 0.5,
    strength: float = 0.1,
    flip: bool = False,
    seed: int | None = None,
):
    """One epoch of training images with augmented minority classes, as ``tf.data``.

    Classes with fewer than ``ratio`` times the images of the largest class are minority
    classes: each is repeated without end, reshuffled and randomly transformed
    (:func:`make_augmenter`), and drawn as if it had ``ratio * largest`` images. All other
    images pass exactly once per epoch, unchanged, in shuffled order. The mix comes from
    ``tf.data.Dataset.sample_from_datasets(..., seed=seed)`` and ends when those images are
    used up, so every iteration of the dataset is one epoch with fresh draws.

    Parameters
    ----------
    images : numpy.ndarray of shape (n, H, W, C), uint8
        Training images only.
    y : array-like of shape (n,)
        Class indices.
    ratio : float in (0, 1]
        Minority target relative to the largest class (binary: the minority share of the
        stream is ``ratio / (1 + ratio)``; see :func:`stream_class_shares`).
    strength : float in (0, 0.5]
        Size of the random transformations.
    flip : bool
        Also mirror minority images left-right at random.
    seed : int or None
        Seed of the shuffles, the mix and the transformations; ``None``: fresh randomness.

    Returns
    -------
    tf.data.Dataset
        Unbatched ``(image, class_index)`` pairs, images uint8 of the input shape.
    """
    import tensorflow as tf

    y = np.asarray(y).astype(np.int64)
    check_number(ratio, "ratio", "augment_stream", low=0, high=1, closed="right")
    counts = np.bincount(y)
    goal = ratio * counts.max()
    rare = [k for k in range(counts.size) if 0 < counts[k] < goal]

    def seed_of(i):
        return None if seed is None else seed + 7919 * i

    common_rows = np.flatnonzero(~np.isin(y, rare))
    common = tf.data.Dataset.from_tensor_slices((images[common_rows], y[common_rows]))
    common = common.shuffle(len(common_rows), seed=seed, reshuffle_each_iteration=True)
    if not rare:
        return common
    parts, weights = [common], [float(len(common_rows))]
    for i, k in enumerate(rare, start=1):
        rows = np.flatnonzero(y == k)
        augment = make_augmenter(strength, flip=flip, seed=seed_of(i))
        part = tf.data.Dataset.from_tensor_slices((images[rows], y[rows]))
        part = part.shuffle(len(rows), seed=seed_of(i), reshuffle_each_iteration=True).repeat()
        parts.append(part.map(lambda image, label, augment=augment: (augment(image), label)))
        weights.append(goal)
    weights = (np.asarray(weights) / np.sum(weights)).tolist()
    return tf.data.Dataset.sample_from_datasets(
        parts, weights=weights, seed=seed, stop_on_empty_dataset=True, rerandomize_each_iteration=True,
    )


# -- SMOTE on pixels ------------------------------------------------------------------------------


def _smote_bytes(train: ImageData, sampler) -> int:
    """Rough peak bytes of SMOTE on flattened pixels: float32 input and output, uint8 result."""
    counts = train.class_counts.copy()
    strategy = getattr(sampler, "sampling_strategy", None)
    if isinstance(strategy, dict):
        for k, n in strategy.items():
            counts[k] = max(counts[k], n)
    else:  # "auto": every class up to the largest
        counts = np.full_like(counts, counts.max())
    width = int(np.prod(train.image_shape))
    return int(width * (4 * train.n_rows + 9 * counts.sum()))


class ImageHyperModel(kt.HyperModel):
    """Keras Tuner hypermodel for images: a small CNN and the imbalance remedy, searched together.

    ``build(hp)`` makes the CNN (:func:`build_image_model`: blocks, filters, dropout,
    learning rate; the loss and output bias the remedy asks for). ``fit(hp, model,
    train=..., validation=...)`` applies the remedy to the training images only, tunes the
    batch size and scores the validation images exactly after every epoch
    (:class:`~raretune.tuning.ValidationScorer`).

    Parameters
    ----------
    schema : ImageSchema
        Learnt from the training images.
    strategies : sequence of str, default=DEFAULT_IMAGE_STRATEGIES
        Remedies to search; each must apply to images (``REMEDIES[name].kinds``).
    objective : Objective, default=PR-AUC
    random_state : int or None
        Seed of weights, resampling, augmentation and shuffling, combined with each trial's
        hyperparameters so that a trial repeats exactly. ``None``: fresh randomness.
    memory_budget : int, optional
        Bytes SMOTE on pixels may take; default half the memory available when the trial
        starts. Past it the trial fails with the figure (the search goes on).

    Examples
    --------
    >>> import keras_tuner as kt                                            # doctest: +SKIP
    >>> hm = ImageHyperModel(ImageSchema.from_data(train), random_state=0)  # doctest: +SKIP
    >>> model = hm.build(kt.HyperParameters())                              # doctest: +SKIP
    """

    def __init__(self, schema: ImageSchema, *, strategies=DEFAULT_IMAGE_STRATEGIES, objective: Objective | None = None,
                 random_state: int | None = None, memory_budget: int | None = None):
        super().__init__(name="raretune_image", tunable=True)
        self.schema = schema
        self.strategies = tuple(strategies)
        self.objective = objective
        self.random_state = random_state
        self.memory_budget = memory_budget
        self._cache = RowsCache(_CACHE_SIZE)

    def trial_seed(self, hp) -> int | None:
        """Seed of one trial: the run seed combined with the trial's hyperparameters."""
        return trial_seed(self.random_state, hp)

    @property
    def objective_(self) -> Objective:
        """The objective validation is scored with (PR-AUC unless given)."""
        return self.objective if self.objective is not None else get_objective("pr_auc")

    def build(self, hp):
        """Build and compile the CNN for one trial."""
        check_strategies(self.strategies, kind="image")
        strategy = declare_strategy(hp, self.strategies)
        remedy = get_remedy(strategy)
        blocks = hp.Int("conv_blocks", 1, 3, default=2)
        filters = hp.Choice("filters", [8, 16, 32], default=16)
        dropout = hp.Choice("dropout", [0.0, 0.25, 0.5], default=0.25)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        bias = remedy.initial_bias(self.schema.class_counts)
        model = build_image_model(
            self.schema, blocks=blocks, filters=filters, dropout=dropout, initial_bias=bias,
            seed=self.trial_seed(hp),
        )
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=remedy.loss(remedy_settings(hp), self.schema.n_classes))
        return model

    def fit(self, hp, model, *args, train: ImageData = None, validation: ImageData = None, callbacks=None, epochs: int = 1, initial_epoch: int = 0, verbose=0, **kwargs):
        """Apply the remedy to ``train``, train ``model``, score ``validation`` each epoch.

        Returns
        -------
        keras.callbacks.History
        """
        declare_data_knobs(hp, self.strategies)
        batch_size = hp.Choice("batch_size", [32, 64, 128], default=64)
        settings = remedy_settings(hp)
        dataset = self.training_dataset(train, settings, batch_size=batch_size, seed=self.trial_seed(hp))
        scorer = ValidationScorer(validation.images, validation.y, self.objective_, batch_size=_PREDICT_BATCH)
        return model.fit(
            dataset, epochs=epochs, initial_epoch=initial_epoch, callbacks=[scorer, *(callbacks or [])], verbose=verbose,
        )

    # -- data -------------------------------------------------------------------------------

    def training_rows(self, train: ImageData, settings: dict, *, seed: int | None) -> ImageData:
        """The training images after the remedy's sampler (cached per settings and seed).

        ``random_over``/``random_under`` pick whole images (imbalanced-learn on image
        indices); ``smote`` interpolates flattened pixels (float32), rounded back to uint8,
        and warns with its memory estimate. Other remedies return ``train`` itself.
        """
        strategy = settings["strategy"]
        if strategy not in ("random_over", "random_under", "smote"):
            return train
        return self._cache.get(train, settings, seed, lambda: self._resample(train, settings, seed))

    def _resample(self, train: ImageData, settings: dict, seed) -> ImageData:
        strategy = settings["strategy"]
        sampler, _ = get_remedy(strategy).sampler(settings, train.y, n_classes=train.n_classes, random_state=seed)
        if strategy == "smote":
            need = _smote_bytes(train, sampler)
            shape = "x".join(map(str, train.image_shape))
            check_resampling_memory(need, f"smote on {train.n_rows:,} images of {shape}", self.memory_budget,
                                    advice="use augment or random_over for images")
            warnings.warn(
                f"smote on images interpolates flattened pixels: about {need / 2**20:,.1f} MiB for "
                f"{train.n_rows:,} training images of {shape}; augment is lighter and keeps images realistic.",
                UserWarning,
                stacklevel=2,
            )
            flat = train.images.reshape(train.n_rows, -1).astype("float32")
            pixels, y = sampler.fit_resample(flat, train.y)
            images = np.clip(np.rint(pixels), 0, 255).astype(np.uint8).reshape((-1, *train.image_shape))
        else:
            index, y = sampler.fit_resample(np.arange(train.n_rows).reshape(-1, 1), train.y)
            images = train.images[np.asarray(index)[:, 0]]
        return train.with_rows(images, np.asarray(y, dtype=np.int64))

    def training_dataset(self, train: ImageData, settings: dict, *, batch_size: int, seed: int | None):
        """The ``tf.data`` pipeline of one trial: remedy applied, shuffled, batched.

        Elements are ``(image, label, sample_weight)``.
        """
        import tensorflow as tf

        strategy = settings["strategy"]
        if strategy == "augment":
            stream = augment_stream(
                train.images, train.y, ratio=float(settings["augment_ratio"]),
                strength=float(settings["augment_strength"]), flip=bool(settings["augment_flip"]), seed=seed,
            )
            binary = self.schema.n_classes == 2

            def label(image, k):
                target = tf.reshape(tf.cast(k, "float32"), (1,)) if binary else tf.cast(k, "int32")
                return image, target, tf.constant(1.0)

            return stream.map(label).batch(batch_size).prefetch(tf.data.AUTOTUNE)
        rows = self.training_rows(train, settings, seed=seed)
        weights = get_remedy(strategy).row_weights(settings, rows.y, rows.n_classes).astype("float32")
        dataset = tf.data.Dataset.from_tensor_slices((rows.images, self._labels(rows.y, strategy), weights))
        dataset = dataset.shuffle(rows.n_rows, seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def _labels(self, y, strategy):
        n_classes = self.schema.n_classes
        if n_classes == 2:
            return y.astype("float32").reshape(-1, 1)
        if get_remedy(strategy).one_hot_labels(n_classes):
            return np.eye(n_classes, dtype="float32")[y]
        return y.astype("int32")
