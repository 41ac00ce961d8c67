"""Remedies that keep the training rows: plain training, class weights, output bias, focal loss."""

from __future__ import annotations

import numpy as np

from ..weighting import class_weights, output_bias
from ._base import Remedy

__all__ = ["REMEDIES"]

_BOTH = ("table", "image")


class NoRemedy(Remedy):
    name = "none"
    acts_on = "nothing"
    summary = "Plain training; the threshold is still tuned on validation."
    when = "Always worth a trial: with a tuned threshold it is often as good as any remedy."
    kinds = _BOTH


class ClassWeight(Remedy):
    name = "class_weight"
    acts_on = "loss"
    summary = "Weights the loss by class: balanced weights raised to a tuned strength (0.5-1)."
    when = "A cheap first remedy for neural networks; no extra rows, no extra time."
    kinds = _BOTH

    def declare_data_knobs(self, hp) -> None:
        hp.Choice("cw_strength", [0.5, 0.75, 1.0], default=1.0)

    def _knob_names(self):
        return ("cw_strength",)

    def _table(self, settings, y, n_classes) -> np.ndarray:
        table = class_weights(y, strength=float(settings["cw_strength"]), n_classes=n_classes)
        return np.array([table[k] for k in range(n_classes)], dtype="float32")

    def row_weights(self, settings, y, n_classes):
        return self._table(settings, y, n_classes)[np.asarray(y)]

    def _weight_per_class(self, settings, y, n_classes):
        return self._table(settings, y, n_classes).astype(float)


class BiasInit(Remedy):
    name = "bias_init"
    acts_on = "bias"
    summary = "Sets the output bias to log(p/n) so training starts at the base rate."
    when = "Very rare positives: removes the early epochs spent learning the prior."
    kinds = _BOTH

    def initial_bias(self, class_counts):
        counts = np.asarray(class_counts)
        return output_bias(np.repeat(np.arange(len(counts)), counts), n_classes=len(counts))

    def training_prior(self, settings, y, n_classes):
        return None


class Focal(Remedy):
    name = "focal"
    acts_on = "loss"
    summary = "Focal cross-entropy (Keras), gamma and alpha tuned: focuses on hard examples."
    when = "Many easy negatives drown the loss; no extra rows."
    kinds = _BOTH

    def declare_model_knobs(self, hp) -> None:
        hp.Choice("focal_gamma", [1.0, 2.0, 3.0], default=2.0)
        hp.Choice("focal_alpha", [0.25, 0.5, 0.75], default=0.5)

    def _knob_names(self):
        return ("focal_gamma", "focal_alpha")

    def loss(self, settings, n_classes):
        import keras

        gamma, alpha = settings["focal_gamma"], settings["focal_alpha"]
        if n_classes == 2:
            return keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=alpha, gamma=gamma)
        return keras.losses.CategoricalFocalCrossentropy(alpha=alpha, gamma=gamma)

    def one_hot_labels(self, n_classes):
        return n_classes > 2  # categorical focal loss wants one-hot labels

    def training_prior(self, settings, y, n_classes):
        return None


REMEDIES = (NoRemedy(), ClassWeight(), BiasInit(), Focal())
