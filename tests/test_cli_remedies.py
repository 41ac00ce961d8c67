"""Every remedy runs end to end through `raretune run --strategies NAME --fast`."""

import json

import pytest

from raretune.cli import main
from raretune.remedies import REMEDIES

from tests.conftest import make_frame

pytestmark = pytest.mark.slow

TABLE_REMEDIES = [name for name, remedy in REMEDIES.items() if "table" in remedy.kinds]


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("remedies") / "d.csv"
    make_frame(n=1200, positive_rate=0.08, seed=12).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("name", TABLE_REMEDIES)
def test_remedy_end_to_end(name, data_csv, tmp_path):
    out = tmp_path / name
    # the remedy is what is tested: no other candidate family, and the report for one remedy only
    report = name == "smote"
    code = main(["run", "--data", str(data_csv), "--target", "label", "--strategies", name, "--fast",
                 "--max-trials", "1", "--max-epochs", "1", "--no-baseline", "--quiet", "--out", str(out),
                 "--no-linear", "--no-trees", "--no-forests", "--no-smote-linear", "--no-knn",
                 *(() if report else ("--no-report",))])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["best"]["strategy"] == name
    assert metrics["search"]["n_trials"] == 1 and metrics["search"]["n_failed"] == 0
    assert (out / "model.keras").exists() and (out / "report.html").exists() == report


def test_default_fast_run_on_the_embedded_data(tmp_path):
    out = tmp_path / "fast"
    assert main(["run", "--fast", "--quiet", "--data-dir", str(tmp_path / "tfds"), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["source"] == "tfds:synthetic_fraud/small"
    assert metrics["task"]["target"] == "is_fraud"
    assert metrics["search"]["max_trials"] == 4 and metrics["search"]["max_epochs"] == 2
    assert metrics["test"]["pr_auc"] > 3 * metrics["data"]["positive_rate"]

    # predict straight from the TFDS table and from a tf.data pipeline of the same rows
    import numpy as np
    import tensorflow as tf

    import raretune
    from raretune.datasets import load_data

    tfds_scores = raretune.predict(out, "tfds:synthetic_fraud/small", data_dir=str(tmp_path / "tfds"))
    frame = load_data("tfds:synthetic_fraud/small", data_dir=str(tmp_path / "tfds")).features.head(300)
    assert len(tfds_scores) == 20_000
    pipeline = tf.data.Dataset.from_tensor_slices({name: frame[name].to_numpy() for name in frame.columns})
    from_tf = raretune.predict(out, pipeline)
    from_frame = raretune.predict(out, frame)
    np.testing.assert_allclose(from_tf["score"], from_frame["score"], rtol=1e-6)
    np.testing.assert_allclose(from_frame["score"], tfds_scores["score"].head(300), rtol=1e-6)
