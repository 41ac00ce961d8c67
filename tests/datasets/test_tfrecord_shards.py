"""TFRecord shards written by TFDS, streamed: the rows of the in-memory reader, stable parts, one batch at a time."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from raretune import DataError
from raretune.datasets import PartRule, is_sharded_source, sharded_source, stream_pass
from raretune.datasets._tfds import read_tfds
from raretune.datasets._tfrecord_shards import TFRecordShards
from raretune.datasets.builders import SyntheticFraudConfig
from raretune.datasets.builders.synthetic_fraud import synthetic_fraud_dataset_builder as sf


def write_tfds(data_dir, name, splits: dict, features=None):
    """A TFDS dataset folder with one TFRecord shard per split, written by TFDS.

    ``splits`` maps a split name to its columns (a DataFrame, or a dict of arrays); by default
    text columns become ``Text`` features and the others scalars of their dtype.
    """
    splits = {split: {c: np.asarray(v) if not isinstance(v, pd.Series) else v.to_numpy() for c, v in cols.items()}
              for split, cols in splits.items()}
    first = next(iter(splits.values()))
    if features is None:
        features = tfds.features.FeaturesDict({
            c: tfds.features.Text() if v.dtype.kind in "OUS" else tfds.features.Scalar(v.dtype)
            for c, v in first.items()})
    datasets = {split: tf.data.Dataset.from_tensor_slices(cols) for split, cols in splits.items()}
    builder = tfds.dataset_builders.store_as_tfds_dataset(name=name, version="1.0.0", features=features,
                                                          split_datasets=datasets, config=None,
                                                          data_dir=str(data_dir))
    return Path(builder.data_dir)


@pytest.fixture(scope="module")
def fraud(tmp_path_factory):
    """``synthetic_fraud`` prepared locally as three shards (1,000, 1,000 and 600 records)."""
    data_dir = tmp_path_factory.mktemp("tfds")
    patch = pytest.MonkeyPatch()
    patch.setattr(sf, "CHUNK_ROWS", 250)
    patch.setattr(sf, "SHARD_ROWS", 1_000)
    try:
        builder = tfds.builder("synthetic_fraud", config=SyntheticFraudConfig(n_rows=2_600), data_dir=data_dir)
        builder.download_and_prepare()
    finally:
        patch.undo()
    frame = read_tfds("tfds:synthetic_fraud/n2600", data_dir=data_dir).frame
    return Path(builder.data_dir), frame


def _parts_by_place(source, rule, batch_size):
    out = {}
    for name, first, frame in source.batches(batch_size=batch_size):
        parts = rule.parts(rule.keys(name, first, frame), frame)
        out.update(((name, first + i), int(p)) for i, p in enumerate(parts))
    return out


def test_a_tfds_folder_and_a_glob_of_its_shards_yield_the_rows_of_the_in_memory_reader(fraud):
    folder, expected = fraud
    for source in (folder, f"{folder}/*.tfrecord*"):
        assert is_sharded_source(source)
        shards = sharded_source(source)
        assert isinstance(shards, TFRecordShards)
        assert shards.n_rows == 2_600 and set(shards.columns) == set(expected.columns)
        assert [p.name for p in shards.files] == [f"synthetic_fraud-train.tfrecord-0000{i}-of-00003" for i in range(3)]
        batches = list(shards.batches(batch_size=700))
        # 700 + 300 records in each 1,000-record shard, then 600: a batch never spans two shards
        assert [(name[-14:-9], first, len(f)) for name, first, f in batches] == [
            ("00000", 0, 700), ("00000", 700, 300), ("00001", 0, 700), ("00001", 700, 300), ("00002", 0, 600)]
        got = pd.concat([f for _, _, f in batches], ignore_index=True)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    only = next(sharded_source(folder).batches(columns=["is_fraud", "amount"], batch_size=10))[2]
    pd.testing.assert_frame_equal(only, expected[["is_fraud", "amount"]].head(10), check_exact=True)


def test_features_decoded_one_example_at_a_time_equal_the_in_memory_reader(tmp_path):
    """A vector and a class label take TFDS's own per-example decoding; each shard's rows keep their order."""
    rng = np.random.default_rng(0)
    features = tfds.features.FeaturesDict({"x": tfds.features.Tensor(shape=(2,), dtype=np.float32),
                                           "tag": tfds.features.ClassLabel(names=["a", "b", "c"]),
                                           "word": tfds.features.Text(), "label": np.int64})
    splits = {split: {"x": rng.normal(size=(n, 2)).astype(np.float32), "tag": rng.integers(0, 3, n),
                      "word": rng.choice(["é", "b"], n), "label": (rng.random(n) < 0.2).astype(np.int64)}
              for split, n in (("train", 300), ("test", 120))}
    folder = write_tfds(tmp_path, "vectors", splits, features)
    shards = sharded_source(folder)
    assert shards.n_rows == 420 and shards.columns == ("label", "tag", "word", "x_0", "x_1")
    by_file = {}
    for name, _, frame in shards.batches(batch_size=64):
        by_file.setdefault(name.split(".")[0].split("-")[1], []).append(frame)
    for split in splits:
        expected = read_tfds(f"tfds:vectors:{split}", data_dir=tmp_path).frame
        got = pd.concat(by_file[split], ignore_index=True)[list(expected.columns)]
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        assert got["word"].isin(["é", "b"]).all()


def test_each_rows_part_is_the_same_on_two_passes_and_any_batch_size(fraud):
    folder, _ = fraud
    shards, rule = sharded_source(folder), PartRule(validation_size=0.2, test_size=0.1)
    first = _parts_by_place(shards, rule, 128)
    assert first == _parts_by_place(shards, rule, 128) == _parts_by_place(shards, rule, 1_000)
    assert len(first) == 2_600
    shares = np.bincount(list(first.values()), minlength=3) / len(first)
    assert np.allclose(shares, [0.7, 0.2, 0.1], atol=4 * np.sqrt(0.25 / 2_600))
    assert _parts_by_place(shards, PartRule(validation_size=0.2, test_size=0.1, salt=1), 1_000) != first


def test_id_column_parts_follow_the_id_across_shards_and_batch_sizes(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"rid": np.arange(900, dtype=np.int64), "v": rng.normal(size=900).astype(np.float32)})
    a = write_tfds(tmp_path / "a", "ids", {"train": frame})
    shuffled = frame.sample(frac=1.0, random_state=2).reset_index(drop=True)
    b = write_tfds(tmp_path / "b", "ids", {"x": shuffled[:400], "y": shuffled[400:]})
    rule = PartRule(id_column="rid")

    def by_id(folder, batch_size):
        out = {}
        for name, first, batch in sharded_source(folder).batches(batch_size=batch_size):
            out.update(zip(batch["rid"].tolist(), rule.parts(rule.keys(name, first, batch), batch).tolist()))
        return out

    assert len(by_id(a, 100)) == 900
    assert by_id(a, 100) == by_id(a, 899) == by_id(b, 77)


def test_the_reader_holds_one_batch_and_opens_a_shard_only_when_it_gets_there(fraud, tmp_path):
    folder, expected = fraud
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in folder.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    batches = sharded_source(copy).batches(batch_size=97)
    name, first, frame = next(batches)
    assert first == 0 and len(frame) == 97
    for later in sorted(copy.glob("*.tfrecord-0000[12]-*")):
        later.unlink()  # a reader that had read ahead would not notice
    rest = []
    with pytest.raises(DataError, match="Cannot read the TFRecord shard .*00001-of-00003"):
        for item in batches:
            rest.append(item)
    assert all(n == name for n, _, _ in rest) and max(len(f) for _, _, f in rest) <= 97
    got = pd.concat([frame] + [f for _, _, f in rest], ignore_index=True)
    pd.testing.assert_frame_equal(got, expected.head(1_000), check_exact=True)


def test_the_streaming_pass_counts_every_record(fraud):
    folder, expected = fraud
    result = stream_pass(sharded_source(folder), target="is_fraud", rule=PartRule(), memory_budget=2**30,
                         batch_size=512)
    assert result.n_rows == 2_600 and result.rate == 1.0
    assert result.class_counts == expected["is_fraud"].value_counts().to_dict()
    assert result.numeric["amount"]["count"] == sum(result.part_counts["train"].values())


def test_errors_are_one_line(fraud, tmp_path):
    folder, _ = fraud
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "d-train.tfrecord-00000-of-00001").write_bytes((next(folder.glob("*.tfrecord*"))).read_bytes())
    with pytest.raises(DataError, match="no features.json"):
        sharded_source(lone / "*.tfrecord*")
    (lone / "features.json").write_bytes((folder / "features.json").read_bytes())
    assert sharded_source(lone).n_rows == 1_000  # no dataset_info.json: the records are counted
    (lone / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="not a TFRecord shard"):
        sharded_source(lone / "*")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "e-train.tfrecord-00000-of-00001").write_bytes(b"")
    with pytest.raises(DataError, match="in 2 folders"):
        sharded_source(tmp_path / "*" / "*.tfrecord*")


def test_parquet_shards_never_import_tensorflow(tmp_path):
    pd.DataFrame({"x": [1.0, 2.0], "label": ["a", "b"]}).to_parquet(tmp_path / "s.parquet")
    code = ("import sys\nfrom raretune.datasets import sharded_source\n"
            f"s = sharded_source({str(tmp_path)!r})\nrows = sum(len(f) for _, _, f in s.batches())\n"
            "print(rows, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["2", "False"]
