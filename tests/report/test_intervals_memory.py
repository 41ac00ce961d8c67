"""The bootstrap's unweighted path trimmed to a few bytes a row: the very same draws and intervals."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raretune.report import bootstrap_intervals
from raretune.report._intervals import _CHUNK_ELEMENTS, _average_precision, _grouped_resamples


# The implementation before issue 17 (one argsort of the float64 scores), kept as the reference.
def _reference_resamples(y, s, threshold, n_resamples, rng) -> tuple[np.ndarray, np.ndarray]:
    """Unweighted resamples drawn as counts per group of rows, not per row.

    Average precision only moves at the distinct scores that hold a positive, and F1 only
    needs the counts at or above the threshold. So the negatives matter only through how
    many fall in each segment between those cut points, and the positives through how many
    fall at each cut. Drawing ``n`` rows uniformly with replacement from rows grouped this way
    puts a multinomial number of draws in each group, with probabilities the groups' shares:
    the same distribution as drawing the rows one by one, at a cost of the number of cuts
    (at most one per positive, plus one) rather than the number of rows.
    """
    order = np.argsort(s)[::-1]  # descending; the order within a run of tied scores does not matter
    s_sorted = s[order]
    positive = y[order] == 1
    del order  # test parts of millions of rows: hold one row-sized array at a time where possible
    n_pos = int(positive.sum())
    n_neg = s.size - n_pos
    # last row of each run of tied scores, and the positives / negatives at or above it
    group_ends = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])
    pos_above = np.cumsum(positive, dtype=np.int64)[group_ends]
    neg_above = group_ends + 1 - pos_above
    pos_in_group = np.diff(pos_above, prepend=0)
    at_or_above = int(np.count_nonzero(s_sorted[group_ends] >= threshold))  # groups flagged at the threshold
    cuts = np.flatnonzero(pos_in_group > 0)
    if at_or_above:
        cuts = np.union1d(cuts, [at_or_above - 1])
    neg_segments = np.diff(neg_above[cuts], prepend=0)
    neg_shares = np.r_[neg_segments, n_neg - neg_above[cuts[-1]]] / n_neg
    pos_shares = pos_in_group[cuts] / n_pos
    flagged = np.searchsorted(cuts, at_or_above - 1) if at_or_above else None

    pr_auc = np.empty(n_resamples)
    f1 = np.empty(n_resamples)
    chunk = max(1, _CHUNK_ELEMENTS // (cuts.size + 1))
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        tp = np.cumsum(rng.multinomial(n_pos, pos_shares, size=b), axis=1).astype(float)
        fp = np.cumsum(rng.multinomial(n_neg, neg_shares, size=b)[:, :-1], axis=1).astype(float)
        tp_at = tp[:, flagged] if flagged is not None else np.zeros(b)
        fp_at = fp[:, flagged] if flagged is not None else np.zeros(b)
        pr_auc[start : start + b] = _average_precision(tp, fp, n_pos)
        f1[start : start + b] = 2 * tp_at / (2 * tp_at + fp_at + (n_pos - tp_at))
    return pr_auc, f1


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 300), decimals=st.integers(0, 3),
       dtype=st.sampled_from([np.float32, np.float64]), rate=st.sampled_from([0.01, 0.2, 0.6]),
       where=st.sampled_from(["tied", "between", "above all", "below all", "0.5"]))
@settings(max_examples=150, deadline=None)
def test_the_draws_equal_the_reference_bit_for_bit(seed, n, decimals, dtype, rate, where):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(np.int8)
    y[:2] = [0, 1]
    score = np.round(rng.random(n), decimals).astype(dtype)  # few decimals: ties across classes
    threshold = {"tied": float(score[rng.integers(n)]), "between": float(np.unique(score)[:2].astype(float).mean()),
                 "above all": 1.5, "below all": -1.0, "0.5": 0.5}[where]
    lean = _grouped_resamples(y, score, threshold, 20, np.random.default_rng(seed))
    reference = _reference_resamples(y, score.astype(float), threshold, 20, np.random.default_rng(seed))
    for got, expected in zip(lean, reference):
        np.testing.assert_array_equal(got, expected)


def test_a_float32_score_just_below_the_threshold_is_not_flagged():
    score = np.array([0.1, 0.1, 0.9, 0.0, 0.3], dtype=np.float32)
    y = np.array([0, 1, 1, 0, 0], dtype=np.int8)
    threshold = float(score[0]) + 1e-12  # float32(threshold) == score[0]: a float32 comparison would flag it
    lean = _grouped_resamples(y, score, threshold, 5, np.random.default_rng(0))
    reference = _reference_resamples(y, score.astype(float), threshold, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(lean[1], reference[1])


def test_float32_and_float64_scores_give_the_same_intervals():
    rng = np.random.default_rng(3)
    y = (rng.random(5000) < 0.01).astype(np.int8)
    score = rng.random(5000, dtype=np.float32)
    assert bootstrap_intervals(y, score, 0.5, n_resamples=200) == \
        bootstrap_intervals(y, score.astype(float), 0.5, n_resamples=200)


@pytest.mark.parametrize("y", [[0, 0, 0], [1, 1, 1], [0, 2, 1]])
def test_labels_other_than_both_classes_are_refused(y):
    from raretune import DataError

    with pytest.raises(DataError, match="both classes 0 and 1"):
        bootstrap_intervals(np.array(y, dtype=np.int8), [0.1, 0.2, 0.3], 0.5)


def test_transient_memory_is_a_few_bytes_a_row():
    rng = np.random.default_rng(1)
    n = 300_000
    y = (rng.random(n) < 0.003).astype(np.int8)
    score = rng.random(n, dtype=np.float32)  # all distinct: as many groups as rows before
    tracemalloc.start()
    bootstrap_intervals(y, score, 0.5, n_resamples=50)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # a mask and one float32 copy (5 bytes a row) and the resamples' counts; the argsort path took 57
    assert peak < 10 * n
