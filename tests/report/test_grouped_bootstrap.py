"""The unweighted bootstrap draws counts per group of rows: same metrics, same distribution as per row."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from raretune.report import bootstrap_intervals
from raretune.report._intervals import _grouped_resamples, _row_resamples


class _WholeSample:
    """A generator stand-in whose every multinomial draw is the groups' own sizes: the resample
    that draws each row exactly once, so its metrics must be the data's own."""

    def multinomial(self, n, pvals, size):
        counts = np.rint(np.asarray(pvals) * n).astype(np.int64)
        return np.tile(counts, (size, 1))


def _rows(n=400, seed=0, rate=0.1):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    y[:2] = [0, 1]
    score = np.round(np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1), 2)  # rounded: ties across classes
    return y, score


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [0.5, 0.61, 1.5, -1.0])  # a score, between scores, above all, below all
def test_the_whole_sample_gives_scikit_learns_metrics(seed, threshold):
    y, score = _rows(seed=seed)
    if threshold == 0.61:
        threshold = float(score[y == 0][0])  # on a tied negative score, none of them a cut of the curve
    pr_auc, f1 = _grouped_resamples(y.astype(np.int8), score, threshold, 3, _WholeSample())
    assert pr_auc == pytest.approx([average_precision_score(y, score)] * 3, abs=1e-12)
    assert f1 == pytest.approx([f1_score(y, score >= threshold, zero_division=0)] * 3, abs=1e-12)


@pytest.mark.parametrize("rate", [0.02, 0.3])
def test_grouped_draws_have_the_distribution_of_row_draws(rate):
    y, score = _rows(n=3000, seed=5, rate=rate)
    y = y.astype(np.int8)
    grouped = _grouped_resamples(y, score, 0.5, 3000, np.random.default_rng(1))
    by_row = _row_resamples(y, score, np.ones(y.size), 0.5, 3000, np.random.default_rng(2))
    for a, b in zip(grouped, by_row):
        # means within four standard errors, spreads within 10 %
        assert abs(a.mean() - b.mean()) < 4 * np.hypot(a.std(), b.std()) / np.sqrt(a.size)
        assert 0.9 < a.std() / b.std() < 1.1
        assert np.percentile(a, 2.5) == pytest.approx(np.percentile(b, 2.5), abs=0.25 * b.std())


def test_equal_weights_take_the_unweighted_path():
    y, score = _rows()
    plain = bootstrap_intervals(y, score, 0.5, n_resamples=100)
    assert bootstrap_intervals(y, score, 0.5, n_resamples=100, sample_weight=np.full(y.size, 3.0)) == plain


def test_a_test_part_of_millions_of_rows_is_bootstrapped_by_groups():
    rng = np.random.default_rng(0)
    n = 2_000_000
    y = (rng.random(n) < 0.002).astype(np.int8)
    score = rng.random(n) * 0.8 + 0.2 * y
    pr_auc, f1 = _grouped_resamples(y, score, 0.9, 50, rng)
    point = average_precision_score(y, score)
    assert pr_auc.min() < point < pr_auc.max()
    assert np.all((f1 > 0) & (f1 < 1))
