"""Remedies that change the training rows through imbalanced-learn samplers.

Each builds its sampler for the training rows it is given (sized from their class counts);
raretune's exact, fast versions of the cleaning samplers replace imbalanced-learn's.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._errors import ConfigError
from ._base import Remedy

__all__ = ["REMEDIES"]

_BOTH = ("table", "image")


class _Sampling(Remedy):
    acts_on = "data"
    resamples = True

    def _knob_names(self):
        return tuple(name for name, _, _ in self._knobs)

    _knobs = ()  # (name, choices, default)

    def declare_data_knobs(self, hp) -> None:
        for name, choices, default in self._knobs:
            hp.Choice(name, list(choices), default=default)

    def sampler(self, settings, y, *, n_classes, numeric=(), categorical=(), random_state=None):
        counts = np.bincount(np.asarray(y), minlength=n_classes)
        return self._make(settings, np.asarray(y), counts, n_classes=n_classes, numeric=numeric,
                          categorical=categorical, random_state=random_state)


def _over(settings, key, y, n_classes):
    from ..resample._tabular import target_counts

    return target_counts(y, ratio=float(settings[key]), kind="over", n_classes=n_classes) or "auto"


def _k_for(name, settings, counts, *, key=None) -> int:
    """The tuned neighbour count, lowered (with a warning) when the smallest class is smaller."""
    smallest = int(counts[counts > 0].min())
    if smallest < 2:
        raise ConfigError(f"{name} needs at least 2 training rows in every class; the smallest has {smallest}.")
    k = int(settings.get(key or f"{name}_k", 5))
    if k >= smallest:
        fallback = max(1, smallest - 1)
        warnings.warn(f"{name}: the smallest class has {smallest} training rows, fewer than "
                      f"k_neighbors + 1 = {k + 1}; using k_neighbors={fallback}.", stacklevel=4)
        k = fallback
    return k


class RandomOver(_Sampling):
    name = "random_over"
    summary = "Duplicates minority rows up to a tuned ratio (imbalanced-learn RandomOverSampler)."
    when = "Small data where every positive counts; can overfit duplicated rows."
    kinds = _BOTH
    _knobs = (("over_ratio", (0.1, 0.3, 1.0), 0.3),)

    def _make(self, settings, y, counts, *, n_classes, random_state, **_):
        from imblearn.over_sampling import RandomOverSampler
        from ..resample._tabular import target_counts

        goal = target_counts(y, ratio=float(settings["over_ratio"]), kind="over", n_classes=n_classes)
        return RandomOverSampler(sampling_strategy=goal or "not majority", random_state=random_state), "onehot"


class RandomUnder(_Sampling):
    name = "random_under"
    summary = "Drops majority rows down to a tuned ratio (RandomUnderSampler)."
    when = "Large data: trains much faster; loses majority information."
    kinds = _BOTH
    _knobs = (("under_ratio", (0.05, 0.2, 1.0), 0.2),)

    def _make(self, settings, y, counts, *, n_classes, random_state, **_):
        from imblearn.under_sampling import RandomUnderSampler
        from ..resample._tabular import target_counts

        goal = target_counts(y, ratio=float(settings["under_ratio"]), kind="under", n_classes=n_classes)
        return RandomUnderSampler(sampling_strategy=goal or "not minority", random_state=random_state), "onehot"


class Smote(_Sampling):
    name = "smote"
    summary = "Synthesises minority rows between neighbours (SMOTE; SMOTE-NC or SMOTEN with categorical columns)."
    when = "Minority classes that form compact regions in feature space."
    kinds = _BOTH
    _knobs = (("smote_ratio", (0.1, 0.3, 1.0), 0.3), ("smote_k", (3, 5, 10), 5))

    def _make(self, settings, y, counts, *, n_classes, numeric, categorical, random_state):
        from imblearn import over_sampling

        k = _k_for("smote", settings, counts)
        goal = _over(settings, "smote_ratio", y, n_classes)
        if categorical and numeric:
            cat_index = list(range(len(numeric), len(numeric) + len(categorical)))
            return over_sampling.SMOTENC(cat_index, sampling_strategy=goal, k_neighbors=k,
                                         random_state=random_state), "ordinal"
        if categorical:
            return over_sampling.SMOTEN(sampling_strategy=goal, k_neighbors=k, random_state=random_state), "ordinal"
        return over_sampling.SMOTE(sampling_strategy=goal, k_neighbors=k, random_state=random_state), "onehot"


class BorderlineSmote(_Sampling):
    name = "borderline_smote"
    summary = "SMOTE only from minority rows near the class border (Borderline-SMOTE)."
    when = "Overlapping classes where the border matters most."
    _knobs = (("borderline_smote_ratio", (0.1, 0.3, 1.0), 0.3), ("borderline_smote_k", (3, 5, 10), 5))

    def _make(self, settings, y, counts, *, n_classes, random_state, **_):
        from imblearn.over_sampling import BorderlineSMOTE

        k = _k_for(self.name, settings, counts)
        return BorderlineSMOTE(sampling_strategy=_over(settings, "borderline_smote_ratio", y, n_classes),
                               k_neighbors=k, m_neighbors=max(k, 10), random_state=random_state), "onehot"


class Adasyn(_Sampling):
    name = "adasyn"
    summary = "Synthesises more rows where minority rows are hardest to learn (ADASYN)."
    when = "Minority classes with hard, sparse regions; noisier than SMOTE."
    _knobs = (("adasyn_ratio", (0.1, 0.3, 1.0), 0.3), ("adasyn_k", (3, 5, 10), 5))

    def _make(self, settings, y, counts, *, n_classes, random_state, **_):
        from imblearn.over_sampling import ADASYN

        k = _k_for(self.name, settings, counts)
        return ADASYN(sampling_strategy=_over(settings, "adasyn_ratio", y, n_classes), n_neighbors=k,
                      random_state=random_state), "onehot"


class Tomek(_Sampling):
    name = "tomek"
    summary = "Removes majority rows that form Tomek links with minority rows."
    when = "Cleaning a noisy class border; removes few rows."

    def _make(self, settings, y, counts, **_):
        from ..resample import TomekLinks

        return TomekLinks(), "onehot"


class Enn(_Sampling):
    name = "enn"
    summary = "Removes majority rows misclassified by their neighbours (Edited Nearest Neighbours)."
    when = "Noisy majority class near the minority; removes more rows than Tomek links."
    _knobs = (("enn_k", (3, 5), 3),)

    def _make(self, settings, y, counts, **_):
        from ..resample import EditedNearestNeighbours

        return EditedNearestNeighbours(n_neighbors=int(settings["enn_k"])), "onehot"


class _SmoteThenClean(_Sampling):
    _cleaner = ""

    def _make(self, settings, y, counts, *, n_classes, random_state, **_):
        from imblearn.over_sampling import SMOTE

        from .. import resample

        k = _k_for(self.name, settings, counts)
        smote = SMOTE(sampling_strategy=_over(settings, f"{self.name}_ratio", y, n_classes), k_neighbors=k,
                      random_state=random_state)
        return getattr(resample, self._cleaner)(smote=smote, random_state=random_state), "onehot"


class SmoteTomek(_SmoteThenClean):
    name = "smote_tomek"
    summary = "SMOTE, then Tomek-link cleaning."
    when = "SMOTE where synthetic rows invade the majority region."
    _cleaner = "SMOTETomek"
    _knobs = (("smote_tomek_ratio", (0.1, 0.3, 1.0), 0.3), ("smote_tomek_k", (3, 5, 10), 5))


class SmoteEnn(_SmoteThenClean):
    name = "smote_enn"
    summary = "SMOTE, then ENN cleaning."
    when = "Like smote_tomek with stronger cleaning."
    _cleaner = "SMOTEENN"
    _knobs = (("smote_enn_ratio", (0.1, 0.3, 1.0), 0.3), ("smote_enn_k", (3, 5, 10), 5))


REMEDIES = (RandomOver(), RandomUnder(), Smote(), BorderlineSmote(), Adasyn(), Tomek(), Enn(), SmoteTomek(),
            SmoteEnn())
