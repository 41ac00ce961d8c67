"""Deploying a run: model.keras carries the calibration; the SavedModel scores and decides."""

import json
import subprocess
import sys

import numpy as np
import pytest

import raretune
from raretune._errors import RunStateError
from raretune.cli import main
from raretune.models import predict_proba
from raretune.run._export import export_saved_model
from tests.conftest import plain_keras_predict


def test_model_keras_gives_the_calibrated_scores_in_plain_keras(finished):
    out, rows = finished
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["deployed"]["calibration"]["method"] == "platt"
    with np.load(out / "scores.npz") as scores:
        calibrated, raw = scores["test_score"], scores["test_score_raw"]
    assert np.abs(calibrated - raw).max() > 1e-3  # the calibration matters here
    loaded = raretune.load_run(out)
    assert loaded["calibrated"]
    inputs = loaded["schema"].inputs(rows)
    plain = np.asarray(plain_keras_predict(out / "model.keras", inputs))
    assert np.abs(plain - calibrated).max() <= 1e-6
    # the network inside is kept whole: its raw scores are those the calibration was fitted on
    inner = predict_proba(loaded["model"].get_layer("uncalibrated"), inputs)
    assert np.abs(inner - raw).max() <= 1e-6
    # predict takes the model's output as it is: no second calibration
    predicted = raretune.predict(out, rows)
    assert np.abs(predicted["score"].to_numpy() - calibrated).max() <= 1e-6
    threshold = metrics["deployed"]["threshold"]["value"]
    classes = np.array(metrics["task"]["classes"], dtype=object)
    assert (predicted["prediction"].to_numpy() == classes[(predicted["score"].to_numpy() >= threshold).astype(int)]).all()


def _serve_in_plain_tensorflow(folder, columns: dict) -> dict:
    """The serving signature's outputs, in a fresh process that imports TensorFlow, not raretune."""
    code = (
        "import json, sys, tensorflow as tf\n"
        f"serve = tf.saved_model.load({str(folder)!r}).signatures['serving_default']\n"
        "assert 'raretune' not in sys.modules\n"
        "columns = json.loads(sys.argv[1])\n"
        "out = serve(**{k: tf.constant(v, dtype=tf.string if isinstance(v[0], str) else tf.float32)\n"
        "               for k, v in columns.items()})\n"
        "print(json.dumps({k: v.numpy().tolist() for k, v in out.items()}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, json.dumps(columns)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_export_saved_model_scores_and_decides_as_predict(finished, tmp_path, capsys):
    out, rows = finished
    rows = rows.head(5).copy()
    rows.loc[rows.index[0], "a"] = np.nan  # the graph imputes missing numbers itself
    target = tmp_path / "serving" / "1"
    assert main(["export", str(out), "--format", "saved_model", "--out", str(target)]) == 0
    assert capsys.readouterr().out.strip() == str(target)
    schema = raretune.load_run(out)["schema"]
    columns = {name: array[:, 0].tolist() for name, array in schema.inputs(rows).items()}  # NaN travels in JSON
    served = _serve_in_plain_tensorflow(target, columns)
    expected = raretune.predict(out, rows)
    score = np.asarray(served["score"], dtype=float)
    assert score.shape == (5,)
    assert np.abs(score - expected["score"].to_numpy()).max() <= 1e-6
    assert np.array_equal(np.asarray(served["decision"], dtype=int), (expected["prediction"] == "fraud").to_numpy())


def test_export_refuses_a_folder_with_files_or_inside_a_run(finished, tmp_path):
    out, _ = finished
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    with pytest.raises(RunStateError, match="not an empty folder"):
        export_saved_model(out, busy)
    with pytest.raises(RunStateError, match="inside the raretune run"):
        export_saved_model(out, out / "export")
    assert not (out / "export").exists()
