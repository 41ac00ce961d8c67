import numpy as np
import pytest

from raretune import ConfigError, DataError
from raretune.thresholds import ProbabilityCalibrator, parse_threshold_spec, select_threshold

Y = np.array([0, 0, 0, 0, 1, 0, 1, 1])
P = np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.9])


def test_f1_threshold_is_between_the_chosen_score_and_the_next():
    # candidates: >=0.9 F1=.5, >=.7 .8, >=.6 .667, >=.4 .857 (tp3 fp1), >=.35 .75 ...
    assert select_threshold(Y, P) == pytest.approx((0.4 + 0.35) / 2)


def test_precision_and_recall_targets():
    assert select_threshold(Y, P, rule="precision", target=1.0) == pytest.approx((0.7 + 0.6) / 2)
    assert select_threshold(Y, P, rule="recall", target=1.0) == pytest.approx((0.4 + 0.35) / 2)
    assert select_threshold(Y, P, rule="recall", target=0.3) == pytest.approx((0.9 + 0.7) / 2)


def test_cost_threshold_minimises_expected_cost():
    t = select_threshold(Y, P, rule="cost", cost_fn=10, cost_fp=1)
    pred = P >= t
    cost = 10 * ((Y == 1) & ~pred).sum() + ((Y == 0) & pred).sum()
    assert cost == 1  # catch all three positives for one false alarm
    # when the top-scored row is a negative and false alarms are ruinous, predict nothing
    y2, p2 = np.array([0, 1, 0, 1]), np.array([0.9, 0.5, 0.4, 0.3])
    assert select_threshold(y2, p2, rule="cost", cost_fn=1, cost_fp=1000) > p2.max()


def test_threshold_errors():
    with pytest.raises(DataError, match="no positive"):
        select_threshold([0, 0], [0.1, 0.2])
    with pytest.raises(ConfigError, match="needs a target"):
        select_threshold(Y, P, rule="precision")
    with pytest.raises(ConfigError, match="'rule' parameter"):
        select_threshold(Y, P, rule="youden")


def test_prior_correction_undoes_a_known_prior_shift():
    rng = np.random.default_rng(0)
    true_p = rng.uniform(0.001, 0.05, size=20000)
    y = (rng.random(20000) < true_p).astype(int)
    # a model trained on data balanced to 50 % reports odds scaled by (0.5/0.5)/(pi/(1-pi))
    pi = y.mean()
    odds = true_p / (1 - true_p) * (1 - pi) / pi
    shifted = odds / (1 + odds)
    cal = ProbabilityCalibrator("prior", train_prior=0.5).fit(y, shifted)
    np.testing.assert_allclose(cal.transform(shifted), true_p, rtol=1e-6)


def test_auto_calibration_picks_a_method_that_lowers_log_loss():
    rng = np.random.default_rng(1)
    true_p = rng.uniform(0.0, 0.2, size=5000)
    y = (rng.random(5000) < true_p).astype(int)
    distorted = np.sqrt(true_p)  # over-confident, monotone
    cal = ProbabilityCalibrator("auto", train_prior=0.5, random_state=0).fit(y, distorted)
    assert cal.method_ in ("platt", "isotonic")
    assert cal.log_loss_[cal.method_] < cal.log_loss_["none"]
    state = ProbabilityCalibrator.from_dict(cal.to_dict())
    np.testing.assert_allclose(state.transform(distorted[:50]), cal.transform(distorted[:50]))


def test_alert_budget_flags_the_top_share_of_rows():
    score = np.linspace(0.01, 0.99, 200)  # distinct scores
    y = np.zeros(200, int)
    y[::7] = 1
    for share, flagged in [(0.005, 1), (0.05, 10), (0.1, 20), (0.0125, 3), (0.5, 100)]:
        # 0.0125 * 200 = 2.5 rounds half up to 3
        t = select_threshold(y, score, rule="alerts", target=share)
        assert (score >= t).sum() == flagged
    # the rule ignores labels: no positive at all is fine
    t = select_threshold(np.zeros(200, int), score, rule="alerts", target=0.1)
    assert (score >= t).sum() == 20


def test_alert_budget_with_ties_takes_the_closest_reachable_count():
    # distinct counts reachable from the top: 2, 5, 6, 10
    score = np.array([0.9, 0.9, 0.8, 0.8, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1])
    y = np.array([1, 0, 1, 0, 0, 0, 1, 0, 0, 0])
    assert (score >= select_threshold(y, score, rule="alerts", target=0.4)).sum() == 5  # wants 4
    assert (score >= select_threshold(y, score, rule="alerts", target=0.3)).sum() == 2  # 3: 2 and 5 -> 2 is closer
    assert (score >= select_threshold(y, score, rule="alerts", target=0.8)).sum() == 6  # 8: 6 and 10 tie -> fewer
    assert (score >= select_threshold(y, score, rule="alerts", target=0.01)).sum() == 2  # at least one row: 2


def test_alert_budget_target_is_checked():
    with pytest.raises(ConfigError, match="needs a target"):
        select_threshold(Y, P, rule="alerts")
    with pytest.raises(ConfigError, match=r"must be a float in \(0, 1\)"):
        select_threshold(Y, P, rule="alerts", target=1.0)


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("alerts=0.5%", ("alerts", 0.005)),
        ("alerts=0.005", ("alerts", 0.005)),
        ("precision=0.9", ("precision", 0.9)),
        ("recall = 80%", ("recall", 0.8)),
        ("recall=1", ("recall", 1.0)),
        ("f1", ("f1", None)),
        (" cost ", ("cost", None)),
        ("capacity=200/day", ("capacity", (200.0, "day"))),
        ("capacity = 1.5 / Week", ("capacity", (1.5, "week"))),
        ("capacity=3/hour", ("capacity", (3.0, "hour"))),
        ("capacity=1e3/month", ("capacity", (1000.0, "month"))),
    ],
)
def test_parse_threshold_spec(spec, expected):
    assert parse_threshold_spec(spec) == expected


@pytest.mark.parametrize(
    "spec, message",
    [
        ("youden", "Unknown threshold rule 'youden'"),
        ("precision", "needs a number"),
        ("precision=high", "needs a number"),
        ("precision=1.5", r"in \(0, 1\]"),
        ("alerts=100%", r"in \(0, 1\)"),
        ("alerts=0", r"in \(0, 1\)"),
        ("f1=0.3", "takes no value"),
        (0.9, "must be a str"),
        ("capacity", "alerts per period"),
        ("capacity=200", "alerts per period"),
        ("capacity=200/fortnight", "alerts per period"),
        ("capacity=200/", "alerts per period"),
        ("capacity=lots/day", "needs a number of alerts"),
        ("capacity=0/day", r"in \(0, inf\)"),
        ("capacity=-5/day", r"in \(0, inf\)"),
        ("capacity=inf/day", r"in \(0, inf\)"),
        ("capacity=nan/day", r"in \(0, inf\)"),
        ("capacity=5%/day", "needs a number of alerts"),
    ],
)
def test_parse_threshold_spec_refuses_in_one_line(spec, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_threshold_spec(spec)
    assert "\n" not in str(info.value)
