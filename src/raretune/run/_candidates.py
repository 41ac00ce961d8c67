"""The ensemble's candidates: the search's best trials and, with cross-fitting, converged models.

A candidate is a network (or a compiled converged model), its validation scores (out of
fold with cross-fitting) and the class prior it was trained under. The search's best
distinct configurations come first; logistic regressions (with class weights, and after
SMOTE), boosted trees, random forests and extra trees fitted to convergence on the same
folds follow, and on small tables k-nearest neighbours over the stored fold training rows
(:mod:`raretune.tuning` fits them, :mod:`raretune.models`
compiles them into Keras layers).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from ..remedies import get_remedy, remedy_settings
from ._search import distinct_configurations

__all__ = ["Candidate", "REPEAT_BELOW_RARE_ROWS", "REPEAT_MIN_TRIALS", "REPEATED_LAYOUTS", "converged_candidates",
           "converged_out_of_fold", "fit_converged", "knn_fits", "member_label", "repeat_cross_fitting",
           "repeated_layouts", "training_prior",
           "trial_candidates", "validation_scores"]

#: Below this many rows of the rarest class (among the cross-fitted rows) the converged
#: candidates are cross-fitted on several fold layouts. benchmarks/selection_stability.py,
#: KEEL tables with 9-36 rare rows: a candidate's out-of-fold PR-AUC moves by 0.011-0.052
#: (standard deviation) from one fold layout to the next, as much as the gaps greedy
#: selection acts on, and a selection made on one layout scores up to 0.05 lower on fresh
#: layouts than on its own. That noise shrinks as one over the root of the rare rows (at
#: 100 it is half that at 25; 0.005 at 63 on vowel0), while a repeat costs as much at any size.
REPEAT_BELOW_RARE_ROWS = 100

#: Fold layouts are repeated only for a search of at least this many trials (the default for
#: small tables is 40). A shorter search is a quick look (``--max-trials 3``, the tests): the
#: repeats would triple the converged candidates' fitting time and dominate the run.
REPEAT_MIN_TRIALS = 10

#: Fold layouts (the search's, then fresh ones) whose out-of-fold scores are averaged for
#: the ensemble selection when rare rows are few.
REPEATED_LAYOUTS = 3


class Candidate(NamedTuple):
    """One model the ensemble selection may use: its ``members`` entry, model, scores, prior."""

    member: dict
    network: object
    raw: np.ndarray
    prior: object
    seconds: float = 0.0
    #: what the ensemble selection reads (``None``: ``raw``): the mean of the out-of-fold
    #: scores over ``layouts`` fold layouts (:func:`repeat_cross_fitting`)
    selection_raw: np.ndarray | None = None
    layouts: int = 1
    #: seconds spent on the extra layouts (``seconds`` is the search layout's fit)
    layout_seconds: float = 0.0


def validation_scores(plan, modality, hypermodel, network, validation) -> np.ndarray:
    """Raw validation scores of a network: out of fold with cross-fitting."""
    if plan.cross_fitted:  # the validation rows are the search rows, each scored by the tower that never saw it
        return hypermodel.out_of_fold(network, validation)
    return modality.predict_raw(network, validation)


def trial_candidates(plan, modality, hypermodel, search, split) -> list:
    """The best trial, then the best trials of other configurations, ``plan.ensemble`` in all."""
    pool = distinct_configurations(search.ranked)[: max(1, plan.ensemble)] if plan.ensemble > 1 else search.ranked[:1]
    out = []
    for trial in pool:
        network = search.tuner.load_model(trial)
        member = {"trial_id": trial.trial_id, "strategy": trial.hyperparameters.values["strategy"]}
        out.append(Candidate(member, network, validation_scores(plan, modality, hypermodel, network, split.validation),
                             training_prior(hypermodel, split.train, trial)))
    return out


def training_prior(hypermodel, train, trial):
    """The class prior a trial's network was trained under, after its remedy and the sample
    weights (``None``: undefined)."""
    settings = remedy_settings(trial.hyperparameters)
    remedy = get_remedy(settings["strategy"])
    rows = train
    weight = getattr(hypermodel, "sample_weight", None)
    if remedy.resamples and weight is None:
        rows = hypermodel.training_rows(train, settings, seed=hypermodel.trial_seed(trial.hyperparameters))
    elif remedy.resamples:
        rows, weight = hypermodel.training_rows_weighted(train, settings, seed=hypermodel.trial_seed(trial.hyperparameters),
                                                         sample_weight=hypermodel.weights_of(train))
    prior = remedy.training_prior(settings, rows.y, train.n_classes)
    return prior if prior is None or weight is None else _weighted_prior(prior, rows.y, weight)


def _weighted_prior(prior, y, sample_weight):
    """The prior once every row's loss is multiplied by its sample weight: each class's share
    scaled by its mean weight among the training rows (exact for counted rows, expected for drawn ones)."""
    shares = np.atleast_1d(np.asarray(prior, dtype=float))
    shares = np.r_[1.0 - shares[0], shares[0]] if shares.size == 1 else shares
    y, sample_weight = np.asarray(y), np.asarray(sample_weight, dtype=float)
    mean = np.array([sample_weight[y == k].mean() if (y == k).any() else 1.0 for k in range(shares.size)])
    weighted = shares * mean / max(float(np.sum(shares * mean)), 1e-300)
    return float(weighted[1]) if np.ndim(prior) == 0 else weighted.tolist()


def converged_candidates(plan, hypermodel, rows, progress, budget=None, warnings=None) -> list:
    """Converged models cross-fitted on the search's folds: regressions, boosted trees, forests.

    Each family has its switch in the run's options (``linear``, ``trees``, ``forests``,
    ``smote_linear``). Under a time limit (``budget``) a model starts only if one more like
    the slowest so far still fits; the ones left out are named. Tree models whose compiled
    Keras form would be too large are skipped, with a line in ``warnings``.
    ``knn`` offers k-nearest neighbours, last, on tables where :func:`knn_fits`.
    """
    from ..models.export import ModelTooLarge

    from ..tuning import FOREST_CONFIGS, KNN_NEIGHBORS, LINEAR_C, SMOTE_C, TREE_CONFIGS

    config = plan.config
    ids, _ = hypermodel.folds_of(rows)
    # balanced class weights, SMOTE up to the largest class: both train under a uniform prior
    prior = 0.5 if rows.is_binary else [1.0 / rows.n_classes] * rows.n_classes
    members = ([{"model": "logistic_regression", "C": C} for C in LINEAR_C] if config.linear else []) + (
        [{"model": "boosted_trees", "config": name} for name in TREE_CONFIGS] if config.trees else []) + (
        [{"model": name} for name in FOREST_CONFIGS] if config.forests else []) + (
        [{"model": "smote_logistic_regression", "C": SMOTE_C}] if config.smote_linear else [])
    if config.knn and knn_fits(hypermodel.schema, rows, int(np.max(ids)) + 1):
        members.append({"model": "knn", "n_neighbors": KNN_NEIGHBORS})
    elif config.knn:
        progress.say("k-nearest neighbours left out: the table is over their size cap", verbose_only=True)
    out, slowest = [], 0.0
    for i, member in enumerate(members, start=1):
        strategy = "smote" if member["model"] == "smote_logistic_regression" else "class_weight"
        member = {"trial_id": None, **member, "strategy": strategy}
        if budget is not None and not budget.fits(1.5 * slowest):
            left = ", ".join(member_label(m) for m in members[i - 1:])
            progress.say(f"time limit: converged candidates left out: {left}")
            break
        started = time.monotonic()
        progress.say(f"candidate {i}/{len(members)}: {member_label(member)}, {hypermodel.folds} folds",
                     verbose_only=True)
        try:
            raw, network = fit_converged(hypermodel.schema, rows, ids, member, plan.seed, hypermodel.weights_of(rows))
        except ModelTooLarge as exc:
            message = f"{member_label(member)} left out: {exc}"
            progress.say(f"warning: {message}")
            if warnings is not None:
                warnings.append(message)
            continue
        seconds = time.monotonic() - started
        slowest = max(slowest, seconds)
        if network is None:  # many classes, few categories: no linear layout (see logistic_model)
            continue
        out.append(Candidate(member, network, raw, prior, seconds))
    return out


def fit_converged(schema, rows, fold_ids, member: dict, seed, sample_weight=None):
    """Cross-fit one converged model (a ``members`` entry): ``(out-of-fold scores, Keras model or None)``.

    ``sample_weight``: of ``rows``, passed to every fold's fit.
    """
    from ..models.export import forest_model, knn_model, logistic_model, trees_model
    from ..tuning import cross_fit_forest, cross_fit_knn, cross_fit_logistic, cross_fit_smote_logistic, cross_fit_trees

    if member["model"] == "logistic_regression":
        raw, fitted = cross_fit_logistic(schema, rows, fold_ids, C=member["C"], random_state=seed,
                                         sample_weight=sample_weight)
        return raw, logistic_model(schema, fitted)
    if member["model"] == "smote_logistic_regression":
        raw, fitted = cross_fit_smote_logistic(schema, rows, fold_ids, C=member["C"], random_state=seed,
                                               sample_weight=sample_weight)
        return raw, logistic_model(schema, fitted)
    if member["model"] in ("random_forest", "extra_trees"):
        raw, fitted = cross_fit_forest(schema, rows, fold_ids, config=member["model"], random_state=seed,
                                       sample_weight=sample_weight)
        return raw, forest_model(schema, fitted)
    if member["model"] == "knn":  # the cap is checked when it is offered (knn_fits): a refit has more rows
        raw, store = cross_fit_knn(schema, rows, fold_ids, n_neighbors=member["n_neighbors"],
                                   sample_weight=sample_weight)
        return raw, knn_model(schema, store, max_values=None)
    raw, fitted = cross_fit_trees(schema, rows, fold_ids, config=member["config"], random_state=seed,
                                  sample_weight=sample_weight)
    return raw, trees_model(schema, fitted)


def repeated_layouts(plan, rows, fold_layout: dict | None = None) -> int:
    """Fold layouts to cross-fit the converged candidates on: 1, or ``REPEATED_LAYOUTS`` when the
    rarest class of the cross-fitted ``rows`` has fewer than ``REPEAT_BELOW_RARE_ROWS`` rows
    and the search has at least ``REPEAT_MIN_TRIALS`` trials.

    Blocked time folds (``fold_layout`` with ``"order"``) have a single layout: 1.
    """
    if (not plan.cross_fitted or plan.max_trials < REPEAT_MIN_TRIALS
            or (fold_layout or {}).get("order") is not None):
        return 1
    rarest = int(np.bincount(np.asarray(rows.y), minlength=rows.n_classes).min())
    return REPEATED_LAYOUTS if rarest < REPEAT_BELOW_RARE_ROWS else 1


def repeat_cross_fitting(plan, hypermodel, rows, candidates, progress, budget=None,
                         layouts: int | None = None) -> list:
    """The converged ``candidates`` with ``selection_raw``: their out-of-fold scores averaged
    over the search's fold layout and ``layouts - 1`` fresh ones (seeded from the run's seed).

    Only the scores are kept: each candidate's model stays the one cross-fitted on the
    search's folds (the saved model holds those), and ``raw`` stays its out-of-fold scores
    there. The networks are not refitted; the selection reads their search-layout scores.
    Under a time limit a layout starts only if one more like the first still fits (every
    candidate is then averaged over the same layouts). ``layouts``: default
    :func:`repeated_layouts`.
    """
    from ..tuning import fold_assignment

    layout = hypermodel.fold_layout if rows is getattr(hypermodel, "rows", None) else {}
    if layouts is None:
        layouts = repeated_layouts(plan, rows, layout)
    if layouts <= 1 or not candidates:
        return list(candidates)
    totals = [np.asarray(c.raw, dtype="float64").copy() for c in candidates]
    seconds = [0.0] * len(candidates)
    one_layout = sum(c.seconds for c in candidates)
    done = 1
    for r in range(1, layouts):
        if budget is not None and not budget.fits(1.5 * one_layout):
            progress.say(f"time limit: the converged candidates are scored on {done} fold layout(s), not {layouts}")
            break
        try:
            ids = fold_assignment(rows.y, plan.folds, random_state=_layout_seed(plan.seed, r), **layout)
        except ValueError as exc:  # grouped folds: another shuffle can leave a fold without a class
            progress.say(f"repeated cross-fitting stops at {done} fold layout(s): {exc}")
            break
        progress.say(f"repeated cross-fitting: fold layout {r + 1}/{layouts} for {len(candidates)} converged "
                     "candidates", verbose_only=True)
        for i, c in enumerate(candidates):
            started = time.monotonic()
            totals[i] += converged_out_of_fold(hypermodel.schema, rows, ids, c.member, plan.seed,
                                               hypermodel.weights_of(rows))
            seconds[i] += time.monotonic() - started
        done += 1
    return [c._replace(selection_raw=total / done, layouts=done, layout_seconds=s)
            for c, total, s in zip(candidates, totals, seconds)]


def _layout_seed(seed, r: int):
    """Seed of fold layout ``r`` (0: the search's, seeded ``seed``); ``None`` stays ``None``."""
    return None if seed is None else seed if r == 0 else (seed + 104_729 * r) % (2**31 - 1)


def converged_out_of_fold(schema, rows, fold_ids, member: dict, seed, sample_weight=None) -> np.ndarray:
    """Out-of-fold scores of one converged model (a ``members`` entry) on ``fold_ids``, with
    no Keras model compiled; a model this function does not know goes through :func:`fit_converged`."""
    from ..tuning import cross_fit_forest, cross_fit_knn, cross_fit_logistic, cross_fit_smote_logistic, cross_fit_trees

    kind = member["model"]
    if kind == "logistic_regression":
        return cross_fit_logistic(schema, rows, fold_ids, C=member["C"], random_state=seed,
                                  sample_weight=sample_weight)[0]
    if kind == "smote_logistic_regression":
        return cross_fit_smote_logistic(schema, rows, fold_ids, C=member["C"], random_state=seed,
                                        sample_weight=sample_weight)[0]
    if kind in ("random_forest", "extra_trees"):
        return cross_fit_forest(schema, rows, fold_ids, config=kind, random_state=seed,
                                sample_weight=sample_weight)[0]
    if kind == "boosted_trees":
        return cross_fit_trees(schema, rows, fold_ids, config=member["config"], random_state=seed,
                               sample_weight=sample_weight)[0]
    if kind == "knn":
        return cross_fit_knn(schema, rows, fold_ids, n_neighbors=member["n_neighbors"], sample_weight=sample_weight)[0]
    return fit_converged(schema, rows, fold_ids, member, seed, sample_weight)[0]


def member_label(member: dict) -> str:
    """How a member is named in the log, the report and the leaderboard."""
    if member.get("model") == "logistic_regression":
        return f"logistic regression (C={member['C']:g})"
    if member.get("model") == "boosted_trees":
        return f"boosted trees ({member['config']})"
    if member.get("model") == "smote_logistic_regression":
        return f"SMOTE + logistic regression (C={member['C']:g})"
    if member.get("model") in ("random_forest", "extra_trees"):
        return member["model"].replace("_", " ")
    if member.get("model") == "knn":
        return f"k-nearest neighbours (k={member['n_neighbors']})"
    return f"trial {member['trial_id']} ({member['strategy']})"


def knn_fits(schema, rows, folds: int) -> bool:
    """Whether k-nearest neighbours cross-fitted on ``rows`` in ``folds`` folds are under the
    default caps of :func:`raretune.models.export.knn_over_cap`.

    The compiled model stores every row's design-matrix values (numbers and category
    indicators), and predicting one row computes one distance per stored row: the caps keep
    both small (at most 5,000 search rows).
    """
    from ..models.export import knn_over_cap
    from ..tuning import KNN_NEIGHBORS

    width = len(schema.numeric) + sum(len(vocabulary) for vocabulary in schema.vocabularies)
    return knn_over_cap(rows.n_rows, width, folds, rows.n_classes, KNN_NEIGHBORS) is None
