"""The imbalance remedies raretune searches over, and their hyperparameters.

A remedy acts in one or more places: the training rows (a sampler), the loss (class weights,
focal loss), or the output layer's initial bias. Each declares its own knobs inside a Keras
Tuner conditional scope, so the search tunes ``smote_k`` only in trials that use SMOTE.
Every remedy touches training rows only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .._errors import ConfigError

__all__ = [
    "DATA_KINDS",
    "DEFAULT_IMAGE_STRATEGIES",
    "DEFAULT_STRATEGIES",
    "REMEDIES",
    "Remedy",
    "check_strategies",
    "declare_data_knobs",
    "declare_strategy",
    "is_sampler",
    "make_sampler",
    "remedy_settings",
]


@dataclass(frozen=True)
class Remedy:
    """A named remedy: where it acts and when to use it.

    Parameters
    ----------
    name : str
        The name used by ``--strategies``.
    acts_on : str
        ``"data"``, ``"loss"``, ``"bias"``, ``"ensemble"`` or ``"nothing"``.
    summary : str
        What it does.
    when : str
        When it tends to help.
    kinds : tuple of str
        The data it applies to: ``"table"``, ``"image"`` or both.
    """

    name: str
    acts_on: str
    summary: str
    when: str
    kinds: tuple = ("table",)


#: The kinds of data remedies apply to.
DATA_KINDS = ("table", "image")
_BOTH = ("table", "image")


REMEDIES = {
    r.name: r
    for r in [
        Remedy("none", "nothing", "Plain training; the threshold is still tuned on validation.",
               "Always worth a trial: with a tuned threshold it is often as good as any remedy.", kinds=_BOTH),
        Remedy("class_weight", "loss", "Weights the loss by class: balanced weights raised to a tuned strength (0.5-1).",
               "A cheap first remedy for neural networks; no extra rows, no extra time.", kinds=_BOTH),
        Remedy("bias_init", "bias", "Sets the output bias to log(p/n) so training starts at the base rate.",
               "Very rare positives: removes the early epochs spent learning the prior.", kinds=_BOTH),
        Remedy("random_over", "data", "Duplicates minority rows up to a tuned ratio (imbalanced-learn RandomOverSampler).",
               "Small data where every positive counts; can overfit duplicated rows.", kinds=_BOTH),
        Remedy("random_under", "data", "Drops majority rows down to a tuned ratio (RandomUnderSampler).",
               "Large data: trains much faster; loses majority information.", kinds=_BOTH),
        Remedy("smote", "data", "Synthesises minority rows between neighbours (SMOTE; SMOTE-NC or SMOTEN with categorical columns).",
               "Minority classes that form compact regions in feature space.", kinds=_BOTH),
        Remedy("borderline_smote", "data", "SMOTE only from minority rows near the class border (Borderline-SMOTE).",
               "Overlapping classes where the border matters most."),
        Remedy("adasyn", "data", "Synthesises more rows where minority rows are hardest to learn (ADASYN).",
               "Minority classes with hard, sparse regions; noisier than SMOTE."),
        Remedy("tomek", "data", "Removes majority rows that form Tomek links with minority rows.",
               "Cleaning a noisy class border; removes few rows."),
        Remedy("enn", "data", "Removes majority rows misclassified by their neighbours (Edited Nearest Neighbours).",
               "Noisy majority class near the minority; removes more rows than Tomek links."),
        Remedy("smote_tomek", "data", "SMOTE, then Tomek-link cleaning.",
               "SMOTE where synthetic rows invade the majority region."),
        Remedy("smote_enn", "data", "SMOTE, then ENN cleaning.",
               "Like smote_tomek with stronger cleaning."),
        Remedy("focal", "loss", "Focal cross-entropy (Keras), gamma and alpha tuned: focuses on hard examples.",
               "Many easy negatives drown the loss; no extra rows.", kinds=_BOTH),
        Remedy("balanced_bagging", "ensemble", "K networks on shared inputs, each trained on all positives plus a fresh random draw of negatives every epoch, averaged; saved as one .keras model.",
               "The undersampling ensemble: robust across datasets, fast on very large majorities."),
        Remedy("stream", "data", "Rebalances inside tf.data: minority rows drawn at a tuned share of every batch, majority rows streamed once per epoch.",
               "Large data that should not be copied in memory."),
        Remedy("augment", "data", "Images: minority images drawn, randomly flipped, rotated, zoomed and contrast-changed inside tf.data, up to a tuned ratio of the largest class; other images once per epoch.",
               "Image data: new minority views instead of duplicates; the first image remedy to try.", kinds=("image",)),
    ]
}

#: Remedies searched when ``strategies`` is not given.
DEFAULT_STRATEGIES = ("none", "class_weight", "random_over", "smote")

#: Remedies searched on images when ``strategies`` is not given.
DEFAULT_IMAGE_STRATEGIES = ("none", "class_weight", "random_over", "augment")

_SAMPLERS = {"random_over", "random_under", "smote", "borderline_smote", "adasyn", "tomek", "enn", "smote_tomek", "smote_enn"}


def check_strategies(strategies, *, kind: str | None = None) -> tuple:
    """Validate remedy names; return them as a tuple without duplicates.

    Parameters
    ----------
    strategies : str or sequence of str
        Remedy names (a comma-separated string is split).
    kind : {"table", "image"}, optional
        The data the remedies will be applied to; a remedy for the other kind is refused.
    """
    if isinstance(strategies, str):
        strategies = [s.strip() for s in strategies.split(",") if s.strip()]
    strategies = tuple(dict.fromkeys(strategies))
    if not strategies:
        raise ConfigError("Name at least one remedy in strategies; known: " + ", ".join(REMEDIES) + ".")
    unknown = [s for s in strategies if s not in REMEDIES]
    if unknown:
        raise ConfigError(f"Unknown remedy {unknown[0]!r}; known: {', '.join(REMEDIES)}.")
    if kind is not None:
        wrong = [s for s in strategies if kind not in REMEDIES[s].kinds]
        if wrong:
            fits = [name for name, remedy in REMEDIES.items() if kind in remedy.kinds]
            data = "images" if kind == "image" else "tables"
            raise ConfigError(f"Remedy {wrong[0]!r} does not apply to {data}; for {data} use: {', '.join(fits)}.")
    return strategies


def declare_strategy(hp, strategies) -> str:
    """Declare the ``strategy`` choice and the loss knobs (model side); return the choice."""
    strategy = hp.Choice("strategy", list(strategies))
    if "balanced_bagging" in strategies:
        with hp.conditional_scope("strategy", ["balanced_bagging"]):
            hp.Choice("bagging_k", [3, 5], default=5)
    if "focal" in strategies:
        with hp.conditional_scope("strategy", ["focal"]):
            hp.Choice("focal_gamma", [1.0, 2.0, 3.0], default=2.0)
            hp.Choice("focal_alpha", [0.25, 0.5, 0.75], default=0.5)
    return strategy


def declare_data_knobs(hp, strategies) -> None:
    """Declare the knobs of the remedies that act on data or weights (fit side)."""
    for name in strategies:
        with hp.conditional_scope("strategy", [name]):
            if name == "class_weight":
                hp.Choice("cw_strength", [0.5, 0.75, 1.0], default=1.0)
            elif name == "random_over":
                hp.Choice("over_ratio", [0.1, 0.3, 1.0], default=0.3)
            elif name == "random_under":
                hp.Choice("under_ratio", [0.05, 0.2, 1.0], default=0.2)
            elif name in ("smote", "borderline_smote", "adasyn", "smote_tomek", "smote_enn"):
                hp.Choice(f"{name}_ratio", [0.1, 0.3, 1.0], default=0.3)
                hp.Choice(f"{name}_k", [3, 5, 10], default=5)
            elif name == "enn":
                hp.Choice("enn_k", [3, 5], default=3)
            elif name == "stream":
                hp.Choice("stream_share", [0.1, 0.25, 0.5], default=0.25)
            elif name == "balanced_bagging":
                hp.Choice("bagging_neg_ratio", [1.0, 3.0], default=1.0)
            elif name == "augment":
                hp.Choice("augment_ratio", [0.25, 0.5, 1.0], default=0.5)
                hp.Choice("augment_strength", [0.05, 0.1, 0.2], default=0.1)
                hp.Boolean("augment_flip", default=False)


def remedy_settings(hp) -> dict:
    """The active remedy and its knobs, read from a trial's hyperparameters."""
    strategy = hp.get("strategy")
    knobs = {k: hp.values[k] for k in hp.values if k != "strategy" and hp.is_active(k) and _belongs(k, strategy)}
    return {"strategy": strategy, **knobs}


def _belongs(knob: str, strategy: str) -> bool:
    prefixes = {
        "class_weight": ("cw_",),
        "random_over": ("over_",),
        "random_under": ("under_",),
        "focal": ("focal_",),
        "stream": ("stream_",),
        "balanced_bagging": ("bagging_",),
        "enn": ("enn_",),
    }.get(strategy, (f"{strategy}_",))
    return knob.startswith(prefixes)


def is_sampler(strategy: str) -> bool:
    """Whether the remedy changes the training rows through an imbalanced-learn sampler."""
    return strategy in _SAMPLERS


def make_sampler(settings: dict, y, *, n_classes: int, numeric, categorical, random_state: int):
    """The imbalanced-learn sampler for a sampling remedy, sized for ``y``.

    Returns
    -------
    sampler, categorical_mode
        ``categorical_mode`` tells :func:`raretune.resample.resample_table` how to encode
        categorical columns ("ordinal" for SMOTE-NC/SMOTEN, else "onehot").
    """
    from imblearn import combine, over_sampling, under_sampling

    from .. import resample
    from ..resample._tabular import target_counts

    strategy = settings["strategy"]
    counts = np.bincount(np.asarray(y), minlength=n_classes)
    smallest = int(counts[counts > 0].min())

    def k_for(name):
        k = int(settings.get(f"{name}_k", 5))
        if k >= smallest:
            fallback = max(1, smallest - 1)
            warnings.warn(
                f"{name}: the smallest class has {smallest} training rows, fewer than "
                f"k_neighbors + 1 = {k + 1}; using k_neighbors={fallback}.",
                stacklevel=3,
            )
            k = fallback
        return k

    def over(name):
        return target_counts(y, ratio=float(settings[f"{name}_ratio"]), kind="over", n_classes=n_classes)

    mode = "onehot"
    if strategy == "random_over":
        strategy_counts = target_counts(y, ratio=settings["over_ratio"], kind="over", n_classes=n_classes)
        return over_sampling.RandomOverSampler(sampling_strategy=strategy_counts or "not majority", random_state=random_state), mode
    if strategy == "random_under":
        strategy_counts = target_counts(y, ratio=settings["under_ratio"], kind="under", n_classes=n_classes)
        return under_sampling.RandomUnderSampler(sampling_strategy=strategy_counts or "not minority", random_state=random_state), mode
    if strategy == "tomek":
        return _fast(resample, "TomekLinks", under_sampling)(), mode
    if strategy == "enn":
        return _fast(resample, "EditedNearestNeighbours", under_sampling)(n_neighbors=int(settings["enn_k"])), mode
    if smallest < 2:
        raise ConfigError(f"{strategy} needs at least 2 training rows in every class; the smallest has {smallest}.")
    if strategy == "smote":
        k = k_for("smote")
        if categorical and numeric:
            mode = "ordinal"
            cat_index = list(range(len(numeric), len(numeric) + len(categorical)))
            return over_sampling.SMOTENC(cat_index, sampling_strategy=over("smote") or "auto", k_neighbors=k, random_state=random_state), mode
        if categorical:
            mode = "ordinal"
            return over_sampling.SMOTEN(sampling_strategy=over("smote") or "auto", k_neighbors=k, random_state=random_state), mode
        return over_sampling.SMOTE(sampling_strategy=over("smote") or "auto", k_neighbors=k, random_state=random_state), mode
    if strategy == "borderline_smote":
        k = k_for("borderline_smote")
        return over_sampling.BorderlineSMOTE(sampling_strategy=over("borderline_smote") or "auto", k_neighbors=k, m_neighbors=max(k, 10), random_state=random_state), mode
    if strategy == "adasyn":
        k = k_for("adasyn")
        return over_sampling.ADASYN(sampling_strategy=over("adasyn") or "auto", n_neighbors=k, random_state=random_state), mode
    if strategy in ("smote_tomek", "smote_enn"):
        k = k_for(strategy)
        smote = over_sampling.SMOTE(sampling_strategy=over(strategy) or "auto", k_neighbors=k, random_state=random_state)
        if strategy == "smote_tomek":
            cls = _fast(resample, "SMOTETomek", combine)
            return cls(smote=smote, random_state=random_state), mode
        cls = _fast(resample, "SMOTEENN", combine)
        return cls(smote=smote, random_state=random_state), mode
    raise ConfigError(f"{strategy!r} is not a sampling remedy.")


def _fast(module, name, fallback):
    """raretune's exact fast version of an imbalanced-learn sampler when available."""
    return getattr(module, name, None) or getattr(fallback, name)
