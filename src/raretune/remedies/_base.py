"""What every remedy is: a name, where it acts, its knobs, and the hooks training asks it for.

A remedy is searched as a hyperparameter (``strategy``) with knobs of its own, declared in
Keras Tuner conditional scopes so that ``smote_k`` is tuned only in SMOTE trials. Training
asks the chosen remedy, through the hooks below, for what it changes: the loss, the output
layer's initial bias, the training rows (a sampler), per-row weights, and the class prior the
network ends up trained under (for calibration). Every hook sees training rows only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Remedy"]

#: Kinds of data a remedy may apply to.
DATA_KINDS = ("table", "image")


class Remedy:
    """A remedy for class imbalance; subclasses override the hooks they need.

    Class attributes
    ----------------
    name : str
        The name used by ``--strategies``.
    acts_on : str
        ``"data"``, ``"loss"``, ``"bias"``, ``"ensemble"`` or ``"nothing"`` (for the table).
    summary, when : str
        What it does and when it helps (``raretune remedies`` prints them).
    kinds : tuple of str
        ``"table"``, ``"image"`` or both.
    resamples : bool
        Whether it changes the training rows through an imbalanced-learn sampler (such
        remedies are replaced by ``stream`` on tables too large to copy).
    """

    name: str = ""
    acts_on: str = "nothing"
    summary: str = ""
    when: str = ""
    kinds: tuple = ("table",)
    resamples: bool = False

    # -- knobs ----------------------------------------------------------------------------

    def declare_model_knobs(self, hp) -> None:
        """Declare the knobs the network depends on (called in ``HyperModel.build``)."""

    def declare_data_knobs(self, hp) -> None:
        """Declare the knobs the training data depends on (called in ``HyperModel.fit``)."""

    def knobs(self, hp) -> dict:
        """This remedy's knobs and their values in a trial's hyperparameters."""
        names = set(self._knob_names())
        return {k: hp.values[k] for k in hp.values if k in names and hp.is_active(k)}

    def _knob_names(self) -> tuple:
        return ()

    # -- what training asks ---------------------------------------------------------------

    def loss(self, settings: dict, n_classes: int):
        """The Keras loss to train with (cross-entropy unless the remedy changes it)."""
        import keras

        return keras.losses.BinaryCrossentropy() if n_classes == 2 else keras.losses.SparseCategoricalCrossentropy()

    def one_hot_labels(self, n_classes: int) -> bool:
        """Whether multiclass labels must be one-hot (else class indices)."""
        return False

    def initial_bias(self, class_counts):
        """The output layer's initial bias, or ``None`` for the default (zeros)."""
        return None

    def sampler(self, settings: dict, y, *, n_classes: int, numeric=(), categorical=(), random_state=None):
        """``(imbalanced-learn sampler, categorical encoding)`` for the training rows, or ``None``."""
        return None

    def row_weights(self, settings: dict, y, n_classes: int) -> np.ndarray:
        """Per-row loss weights of training rows ``y`` (after the sampler), float32."""
        return np.ones(len(y), dtype="float32")

    def training_prior(self, settings: dict, y, n_classes: int):
        """The class prior the network is trained under, given its training rows ``y``.

        Binary: the positive share (float); multiclass: a list of shares; ``None`` when the
        remedy defines none (a changed loss or bias), so calibration cannot correct for it.
        """
        counts = np.bincount(np.asarray(y), minlength=n_classes).astype(float)
        counts = counts * self._weight_per_class(settings, y, n_classes)
        prior = counts / counts.sum()
        return float(prior[1]) if n_classes == 2 else prior.tolist()

    def _weight_per_class(self, settings, y, n_classes) -> np.ndarray:
        return np.ones(n_classes)

    def __repr__(self) -> str:
        return f"<remedy {self.name}>"
