import numpy as np
import pytest

from raretune import ConfigError, DataError
from raretune.prevalence import (
    _em,
    _newton,
    _odds_against,
    adjust_prevalence,
    adjust_threshold,
    estimate_prevalence,
    prevalence_warning,
)

TRAIN = 0.005


def calibrated_batch(seed, n_rows, prevalence, *, mu=1.0, train=TRAIN):
    """Scores of a model that is exactly calibrated at ``train``: latent x ~ N(+-mu, 1), Bayes."""
    rng = np.random.default_rng(seed)
    y = rng.random(n_rows) < prevalence
    x = rng.normal(np.where(y, mu, -mu), 1.0)
    log_odds = np.log(train / (1 - train)) + 2 * mu * x  # log N(x; mu) / N(x; -mu) = 2 mu x
    return 1 / (1 + np.exp(-log_odds))


def textbook(p, pi, new):
    up = p * (new / pi)
    return up / (up + (1 - p) * ((1 - new) / (1 - pi)))


def test_adjusted_scores_equal_the_closed_form_and_keep_0_and_1():
    p = np.r_[0.0, np.linspace(0.001, 0.999, 41), 1.0]
    for pi, new in [(0.005, 0.02), (0.3, 0.01), (0.5, 0.9)]:
        np.testing.assert_allclose(adjust_prevalence(p, train_prevalence=pi, new_prevalence=new),
                                   textbook(p, pi, new), rtol=1e-12, atol=1e-300)
    moved = adjust_prevalence(p, train_prevalence=0.01, new_prevalence=0.2)
    assert moved[0] == 0.0 and moved[-1] == 1.0
    assert np.all(moved[1:-1] > p[1:-1])  # a higher base rate raises every interior score
    # hand-computed: odds 1 at pi=0.5, new odds 0.25 -> 0.2
    assert adjust_prevalence([0.5], train_prevalence=0.5, new_prevalence=0.2)[0] == pytest.approx(0.2)


def test_equal_prevalences_are_the_identity_and_a_round_trip_returns_the_scores():
    p = np.random.default_rng(0).random((50, 2))  # any shape
    np.testing.assert_array_equal(adjust_prevalence(p, train_prevalence=0.07, new_prevalence=0.07), p)
    there = adjust_prevalence(p, train_prevalence=0.005, new_prevalence=0.02)
    assert there.shape == p.shape and not np.allclose(there, p)
    back = adjust_prevalence(there, train_prevalence=0.02, new_prevalence=0.005)
    np.testing.assert_allclose(back, p, rtol=1e-10)


@pytest.mark.parametrize("train, new", [(0.005, 0.02), (0.02, 0.005), (0.3, 0.9)])
def test_the_adjusted_threshold_flags_exactly_the_same_rows(train, new):
    rng = np.random.default_rng(1)
    threshold = 0.37
    p = rng.random(20_000)
    moved_threshold = adjust_threshold(threshold, train_prevalence=train, new_prevalence=new)
    assert isinstance(moved_threshold, float) and moved_threshold != pytest.approx(threshold)
    moved = adjust_prevalence(p, train_prevalence=train, new_prevalence=new)
    np.testing.assert_array_equal(moved >= moved_threshold, p >= threshold)
    assert moved_threshold == adjust_prevalence([threshold], train_prevalence=train, new_prevalence=new)[0]


@pytest.mark.parametrize("train, new", [(0.005, 0.02), (0.02, 0.005), (0.3, 0.9), (0.9, 0.3)])
def test_at_the_last_float_no_flagged_row_is_lost_and_only_exact_ties_join(train, new):
    threshold = 0.37
    # every float from 3000 below to 3000 above the threshold
    p = threshold + np.arange(-3000, 3001) * np.spacing(threshold)
    moved_threshold = adjust_threshold(threshold, train_prevalence=train, new_prevalence=new)
    moved = adjust_prevalence(p, train_prevalence=train, new_prevalence=new)
    assert np.all(np.diff(moved) >= 0)  # non-decreasing in floating point (the textbook form is not)
    before, after = p >= threshold, moved >= moved_threshold
    assert np.all(after[before])
    assert np.all(moved[after & ~before] == moved_threshold)


def test_invalid_prevalences_thresholds_and_scores_are_one_line_errors():
    for bad in (0, 1, 0.0, -0.1, 1.5, float("nan"), "0.1", None):
        with pytest.raises(ConfigError, match=r"The 'new_prevalence' parameter of adjust_prevalence "
                                              r"must be a float in \(0, 1\)"):
            adjust_prevalence([0.5], train_prevalence=0.1, new_prevalence=bad)
    with pytest.raises(ConfigError, match="'train_prevalence' parameter of estimate_prevalence"):
        estimate_prevalence([0.5], train_prevalence=0)
    with pytest.raises(ConfigError, match="'threshold' parameter of adjust_threshold"):
        adjust_threshold(1.5, train_prevalence=0.1, new_prevalence=0.2)
    with pytest.raises(ConfigError, match="'n_bootstrap' parameter"):
        estimate_prevalence([0.5], train_prevalence=0.1, n_bootstrap=-1)
    for scores in ([0.2, 1.2], [np.nan], [-0.1]):
        with pytest.raises(DataError, match="probabilities in \\[0, 1\\]"):
            adjust_prevalence(scores, train_prevalence=0.1, new_prevalence=0.2)
    with pytest.raises(DataError, match="non-empty column"):
        estimate_prevalence([], train_prevalence=0.1)
    with pytest.raises(DataError, match="non-empty column"):
        estimate_prevalence(np.full((3, 2), 0.5), train_prevalence=0.1)


def test_em_recovers_a_shifted_prevalence_within_its_interval():
    scores = calibrated_batch(seed=3, n_rows=20_000, prevalence=0.02)
    result = estimate_prevalence(scores, train_prevalence=TRAIN, random_state=0)
    low, high = result["interval"]
    assert result["converged"] and 1 < result["iterations"] < 1000
    assert result["train_prevalence"] == TRAIN
    assert low < 0.02 < high
    assert low < result["prevalence"] < high
    assert result["prevalence"] == pytest.approx(0.02, abs=0.003)
    assert not low <= TRAIN <= high  # a four-fold shift is detected
    # the estimate is EM's fixed point: the mean of the scores adjusted to it
    adjusted = adjust_prevalence(scores, train_prevalence=TRAIN, new_prevalence=result["prevalence"])
    assert adjusted.mean() == pytest.approx(result["prevalence"], abs=1e-6)
    # and not the naive mean of the unadjusted scores, which stays near the training rate
    assert abs(scores.mean() - 0.02) > 0.005


def test_the_bootstrap_is_seeded_and_optional():
    scores = calibrated_batch(seed=4, n_rows=5_000, prevalence=0.05)
    one = estimate_prevalence(scores, train_prevalence=TRAIN, n_bootstrap=50, random_state=7)
    again = estimate_prevalence(scores, train_prevalence=TRAIN, n_bootstrap=50, random_state=7)
    other = estimate_prevalence(scores, train_prevalence=TRAIN, n_bootstrap=50, random_state=8)
    assert one == again and one["interval"] != other["interval"]
    bare = estimate_prevalence(scores, train_prevalence=TRAIN, n_bootstrap=0)
    assert bare["interval"] is None and bare["prevalence"] == one["prevalence"]
    assert prevalence_warning(bare) is None


def test_newton_on_the_resamples_solves_the_same_equation_as_em():
    for mu in (0.5, 1.0, 3.0):  # a weak model makes EM slow (hundreds of iterations)
        odds_against = _odds_against(calibrated_batch(seed=5, n_rows=20_000, prevalence=0.02, mu=mu))
        em, iterations, converged = _em(odds_against, TRAIN, TRAIN, 100_000, 1e-13)
        assert converged
        assert _newton(odds_against, TRAIN, TRAIN, 100, 1e-13) == pytest.approx(em, rel=1e-8)


def test_em_stops_at_max_iter_and_at_the_boundary():
    weak = calibrated_batch(seed=6, n_rows=2_000, prevalence=0.05, mu=0.5)
    capped = estimate_prevalence(weak, train_prevalence=TRAIN, max_iter=2, n_bootstrap=0)
    assert capped["iterations"] == 2 and not capped["converged"]
    zeros = estimate_prevalence(np.zeros(10), train_prevalence=0.1, n_bootstrap=5)
    assert zeros["prevalence"] == 0.0 and zeros["converged"] and zeros["interval"] == (0.0, 0.0)


def test_no_shift_gives_no_warning_and_a_shift_gives_one():
    same = estimate_prevalence(calibrated_batch(seed=2, n_rows=20_000, prevalence=TRAIN),
                               train_prevalence=TRAIN, random_state=0)
    low, high = same["interval"]
    assert low <= TRAIN <= high
    assert prevalence_warning(same) is None
    shifted = estimate_prevalence(calibrated_batch(seed=2, n_rows=20_000, prevalence=0.02),
                                  train_prevalence=TRAIN, random_state=0)
    line = prevalence_warning(shifted, name="fraud rate")
    assert line is not None and "\n" not in line
    assert line.startswith("the batch's estimated fraud rate ") and line.endswith("training's 0.50 %")


def test_warning_text_shows_two_significant_figures():
    estimate = {"prevalence": 0.0062, "interval": (0.0051, 0.0074), "train_prevalence": 0.003}
    assert prevalence_warning(estimate, name="fraud rate") == (
        "the batch's estimated fraud rate 0.62 % (95 % interval 0.51–0.74 %) differs from "
        "training's 0.30 %")
    tiny = {"prevalence": 0.000042, "interval": (0.00003, 0.00005), "train_prevalence": 0.001}
    assert prevalence_warning(tiny) == (
        "the batch's estimated positive rate 0.0042 % (95 % interval 0.0030–0.0050 %) differs "
        "from training's 0.1000 %")
    inside = {"prevalence": 0.004, "interval": (0.002, 0.006), "train_prevalence": 0.003}
    assert prevalence_warning(inside) is None
