"""Remedies that shape every batch or epoch instead of copying rows: bags, streams, augmentation.

Their training loops live in :mod:`raretune.tuning`; here each owns its knobs and the class
prior its batches train the network under.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_number
from ._base import Remedy

__all__ = ["REMEDIES", "stream_class_shares"]


class BalancedBagging(Remedy):
    name = "balanced_bagging"
    acts_on = "ensemble"
    summary = ("K networks on shared inputs, each trained on all positives plus a fresh random draw of negatives "
               "every epoch, averaged; saved as one .keras model.")
    when = "The undersampling ensemble: robust across datasets, fast on very large majorities."

    def declare_model_knobs(self, hp) -> None:
        hp.Choice("bagging_k", [3, 5], default=5)

    def declare_data_knobs(self, hp) -> None:
        hp.Choice("bagging_neg_ratio", [1.0, 3.0], default=1.0)

    def _knob_names(self):
        return ("bagging_k", "bagging_neg_ratio")

    def training_prior(self, settings, y, n_classes):
        return 1.0 / (1.0 + float(settings["bagging_neg_ratio"])) if n_classes == 2 else None


class Stream(Remedy):
    name = "stream"
    acts_on = "data"
    summary = ("Rebalances inside tf.data: minority rows drawn at a tuned share of every batch, majority rows "
               "streamed once per epoch.")
    when = "Large data that should not be copied in memory."

    def declare_data_knobs(self, hp) -> None:
        hp.Choice("stream_share", [0.1, 0.25, 0.5], default=0.25)

    def _knob_names(self):
        return ("stream_share",)

    def share(self, settings, y) -> float:
        """The minority share of every batch: the tuned one, never below the natural one."""
        counts = np.bincount(np.asarray(y))
        return max(float(settings["stream_share"]), counts.min() / counts.sum())

    def training_prior(self, settings, y, n_classes):
        return self.share(settings, y) if n_classes == 2 else None


class Augment(Remedy):
    name = "augment"
    acts_on = "data"
    summary = ("Images: minority images drawn, randomly flipped, rotated, zoomed and contrast-changed inside "
               "tf.data, up to a tuned ratio of the largest class; other images once per epoch.")
    when = "Image data: new minority views instead of duplicates; the first image remedy to try."
    kinds = ("image",)

    def declare_data_knobs(self, hp) -> None:
        hp.Choice("augment_ratio", [0.25, 0.5, 1.0], default=0.5)
        hp.Choice("augment_strength", [0.05, 0.1, 0.2], default=0.1)
        hp.Boolean("augment_flip", default=False)

    def _knob_names(self):
        return ("augment_ratio", "augment_strength", "augment_flip")

    def training_prior(self, settings, y, n_classes):
        shares = stream_class_shares(y, float(settings["augment_ratio"]), n_classes=n_classes)
        return float(shares[1]) if n_classes == 2 else shares.tolist()


def stream_class_shares(y, ratio: float, *, n_classes: int | None = None) -> np.ndarray:
    """Expected share of each class in one epoch of augmentation at ``ratio``.

    Every class with fewer than ``ratio`` times the images of the largest class is drawn
    as if it had ``ratio * largest`` images; the others keep their counts.

    Examples
    --------
    >>> stream_class_shares([0] * 90 + [1] * 10, 0.5).round(3).tolist()
    [0.667, 0.333]
    """
    check_number(ratio, "ratio", "stream_class_shares", low=0, high=1, closed="right")
    counts = np.bincount(np.asarray(y), minlength=n_classes or 0).astype(float)
    goal = ratio * counts.max()
    drawn = np.where((counts > 0) & (counts < goal), goal, counts)
    return drawn / drawn.sum()


REMEDIES = (BalancedBagging(), Stream(), Augment())
