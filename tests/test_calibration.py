"""Weighted calibration: a row of integer weight k calibrates as that row repeated k times."""

import types

import numpy as np
import pytest

from raretune import DataError
from raretune.calibration import ProbabilityCalibrator
from raretune.thresholds import ProbabilityCalibrator as OldImport


def _rows(n=400, seed=0):
    rng = np.random.default_rng(seed)
    true_p = rng.uniform(0.02, 0.6, size=n)
    y = (rng.random(n) < true_p).astype(int)
    score = np.clip(np.sqrt(true_p) + rng.normal(0, 0.05, n), 0.01, 0.99)  # over-confident
    weight = rng.integers(0, 4, size=n)  # 0 leaves a row out, 3 counts it three times
    return y, score, weight


@pytest.mark.parametrize("method", ["platt", "isotonic", "prior"])
def test_integer_weights_calibrate_like_repeated_rows(method):
    y, score, weight = _rows()
    weighted = ProbabilityCalibrator(method, train_prior=0.5).fit(y, score, sample_weight=weight)
    repeated = ProbabilityCalibrator(method, train_prior=0.5).fit(np.repeat(y, weight), np.repeat(score, weight))
    unweighted = ProbabilityCalibrator(method, train_prior=0.5).fit(y, score)
    grid = np.linspace(0.01, 0.99, 99)
    np.testing.assert_allclose(weighted.transform(grid), repeated.transform(grid), atol=1e-4)
    # and the weights do matter: the fit on the rows as they stand is another one
    assert np.abs(unweighted.transform(grid) - weighted.transform(grid)).max() > 1e-3


def test_equal_weights_leave_the_automatic_choice_as_it_was():
    y, score, _ = _rows(n=600, seed=1)
    plain = ProbabilityCalibrator("auto", train_prior=0.5, random_state=0).fit(y, score)
    tripled = ProbabilityCalibrator("auto", train_prior=0.5, random_state=0).fit(y, score, sample_weight=np.full(y.size, 3.0))
    assert tripled.method_ == plain.method_
    for method, loss in plain.log_loss_.items():
        assert tripled.log_loss_[method] == pytest.approx(loss, rel=1e-4)


def test_weights_move_the_prior_correction_to_the_weighted_base_rate():
    y = np.array([0, 0, 0, 1])
    cal = ProbabilityCalibrator("prior", train_prior=0.5).fit(y, [0.2, 0.3, 0.4, 0.6], sample_weight=[1, 1, 1, 3])
    assert cal.params_["true_prior"] == [0.5]
    np.testing.assert_allclose(cal.transform([0.3, 0.7]), [0.3, 0.7])


def test_bad_weights_are_refused_in_one_line():
    with pytest.raises(DataError, match="3 values for 4 rows"):
        ProbabilityCalibrator("platt").fit([0, 1, 0, 1], [0.1, 0.8, 0.3, 0.6], sample_weight=[1, 1, 1])
    with pytest.raises(DataError, match="positive sum"):
        ProbabilityCalibrator("platt").fit([0, 1, 0, 1], [0.1, 0.8, 0.3, 0.6], sample_weight=[0, 0, 0, 0])


def test_the_old_import_path_still_works():
    assert OldImport is ProbabilityCalibrator


def test_the_decision_stage_fits_the_calibration_with_the_validation_weights():
    from raretune.run._decide import decide

    y, score, weight = _rows()
    config = types.SimpleNamespace(calibration="platt", cost_fn=1.0, cost_fp=1.0)
    plan = types.SimpleNamespace(config=config, seed=0, threshold=("f1", None))
    values = {"cost": None, "sample_weight": weight.astype(float)}
    decided = decide(plan, y, score, 0.5, values)
    expected = ProbabilityCalibrator("platt").fit(y, score, sample_weight=weight)
    assert decided.calibrator.params_ == pytest.approx(expected.params_)
    assert decide(plan, y, score, 0.5).calibrator.params_ != pytest.approx(expected.params_)


def test_a_large_validation_part_compares_the_methods_on_a_stratified_sample_and_fits_on_all(monkeypatch):
    import raretune.calibration as calibration

    rng = np.random.default_rng(3)
    n = 6000
    y = (rng.random(n) < 0.05).astype(int)
    score = np.clip(0.35 * y + rng.random(n) * 0.65, 1e-3, 1 - 1e-3)
    monkeypatch.setattr(calibration, "CV_MAX_ROWS", 1000)
    cal = ProbabilityCalibrator("auto").fit(y, score)
    assert cal.cv_rows_ == pytest.approx(1000, abs=2)
    rows = calibration._stratified_rows(y, 1000, 0)
    assert abs(y[rows].mean() - y.mean()) < 1.5 / 1000  # the class shares are kept
    # the log-losses are those of the sample; the chosen method is fitted on every row
    on_sample = ProbabilityCalibrator(cal.method_)
    assert cal.log_loss_[cal.method_] == pytest.approx(on_sample._cv_log_loss(cal.method_, y[rows], score[rows], None))
    direct = ProbabilityCalibrator(cal.method_).fit(y, score)
    np.testing.assert_allclose(cal.transform(score), direct.transform(score), rtol=1e-12)
    monkeypatch.setattr(calibration, "CV_MAX_ROWS", 10_000)  # below the cap: every row, as before
    assert ProbabilityCalibrator("auto").fit(y, score).cv_rows_ == n


def test_tens_of_millions_of_validation_rows_are_decided_on_positives_and_weighted_negatives(monkeypatch):
    import sys

    from sklearn.metrics import f1_score

    from raretune.run._decide import decide

    rng = np.random.default_rng(7)
    n = 40_000
    y = (rng.random(n) < 0.01).astype(np.int8)
    raw = np.clip(0.3 * y + rng.random(n) * 0.7, 1e-3, 1 - 1e-3).astype(np.float32)
    config = types.SimpleNamespace(calibration="platt", cost_fn=1.0, cost_fp=1.0)
    plan = types.SimpleNamespace(config=config, seed=0, threshold=("f1", None))
    full = decide(plan, y, raw, 0.5)
    assert full.sample is None and "fitted_on" not in full.threshold_record()
    monkeypatch.setattr(sys.modules["raretune.run._decide"], "DECIDE_MAX_ROWS", 4000)
    sampled = decide(plan, y, raw, 0.5)
    fitted = sampled.threshold_record()["fitted_on"]
    assert fitted["positives"] == int(y.sum()) and fitted["rows"] == pytest.approx(4000, rel=0.1)
    assert fitted["negative_rate"] == pytest.approx((4000 - y.sum()) / (n - y.sum()))
    # the weighted negatives stand for all of them: the same calibration and nearly the same F1
    assert sampled.calibrator.params_["b"] == pytest.approx(full.calibrator.params_["b"], abs=0.25)
    f1 = [f1_score(y, d.scores(raw) >= d.threshold) for d in (full, sampled)]
    assert f1[1] >= f1[0] - 0.03
    # a rule that counts rows is fitted on every row
    alerts = types.SimpleNamespace(config=config, seed=0, threshold=("alerts", 0.01))
    assert decide(alerts, y, raw, 0.5).sample is None


def test_the_calibration_record_is_summed_in_chunks_with_the_whole_part_values():
    from sklearn.metrics import brier_score_loss

    from raretune.metrics import log_loss
    from raretune.run._decide import calibration_scores

    rng = np.random.default_rng(0)
    y = (rng.random(25_000) < 0.05).astype(np.int8)
    raw, calibrated = rng.random(y.size), rng.random(y.size)
    chunked = calibration_scores(y, raw, calibrated, chunk=7000)  # four chunks, the last one short
    assert chunked == pytest.approx({"brier_before": brier_score_loss(y, raw), "brier_after": brier_score_loss(y, calibrated),
                                     "log_loss_before": log_loss(y, raw), "log_loss_after": log_loss(y, calibrated)},
                                    rel=1e-12)


@pytest.mark.parametrize("method", ["platt", "isotonic", "prior"])
def test_blocks_of_rows_transform_exactly_as_the_whole_column(method, monkeypatch):
    from raretune import calibration

    rng = np.random.default_rng(7)
    y = (rng.random(5000) < 0.1).astype(int)
    score = np.clip(rng.beta(2, 8, 5000) + 0.3 * y, 0, 1)
    fitted = ProbabilityCalibrator(method=method, train_prior=0.3).fit(y, score)
    whole = fitted.transform(score)
    monkeypatch.setattr(calibration, "TRANSFORM_BLOCK", 777)  # 7 blocks, the last one short
    blocks = fitted.transform(score)
    assert blocks.dtype == whole.dtype and np.array_equal(blocks, whole)
    assert np.array_equal(fitted.transform(score[:777]), whole[:777])  # one block: no copy into an output


def test_multiclass_prior_correction_transforms_in_blocks_of_rows(monkeypatch):
    from raretune import calibration

    rng = np.random.default_rng(3)
    proba = rng.dirichlet([1, 2, 3], size=2000)
    y = rng.integers(0, 3, 2000)
    fitted = ProbabilityCalibrator(method="prior", train_prior=[1 / 3] * 3).fit(y, proba)
    whole = fitted.transform(proba)
    monkeypatch.setattr(calibration, "TRANSFORM_BLOCK", 300)
    assert np.array_equal(fitted.transform(proba), whole) and whole.shape == (2000, 3)
