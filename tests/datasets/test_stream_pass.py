"""Sharded Parquet: stable per-row parts, the streaming pass's statistics and its weighted sample."""

import numpy as np
import pandas as pd
import pytest

from raretune import ConfigError, DataError
from raretune.datasets import PartRule, ShardedSource, parse_memory, sharded_source, stream_pass
from raretune.datasets._shards import PART_CODES, uniform


def _write_shards(folder, n_shards=3, rows=2000, rate=0.03, seed=0):
    """Shards with a row id ``rid`` ("shard-position"), a numeric, a categorical, a time and a label."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_shards):
        y = rng.random(rows) < rate
        frame = pd.DataFrame({
            "rid": [f"{i}-{p}" for p in range(rows)],
            "amount": np.where(rng.random(rows) < 0.01, np.nan, rng.gamma(2.0, 50.0, rows) + 40 * y),
            "country": rng.choice(["fr", "de", "es", "it", "pt"], rows, p=[0.4, 0.3, 0.15, 0.1, 0.05]),
            "t": rng.integers(0, 1_000_000, rows),
            "label": np.where(y, "fraud", "ok"),
        })
        frame.to_parquet(folder / f"shard-{i}.parquet", row_group_size=700)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _parts_by_row(source, rule, batch_size):
    out = {}
    for name, first, frame in source.batches(batch_size=batch_size):
        parts = rule.parts(rule.keys(name, first, frame), frame)
        out.update(zip(frame["rid"], parts.tolist()))
    return out


@pytest.fixture
def shards(tmp_path):
    return tmp_path, _write_shards(tmp_path)


def test_every_row_is_read_once_in_record_batches(shards):
    folder, frame = shards
    source = sharded_source(folder)
    assert source.n_rows == len(frame)
    seen = [f for _, _, f in source.batches(batch_size=500)]
    assert max(len(f) for f in seen) <= 500
    assert pd.concat(seen)["rid"].tolist() == frame["rid"].tolist()


def test_hash_parts_are_the_same_on_every_pass_and_in_any_shard_order(shards):
    folder, frame = shards
    source = sharded_source(str(folder / "*.parquet"))
    rule = PartRule(validation_size=0.2, test_size=0.1)
    first = _parts_by_row(source, rule, batch_size=333)
    again = _parts_by_row(source, rule, batch_size=4096)
    reordered = ShardedSource(tuple(reversed(source.files)), source.n_rows, source.columns)
    assert first == again == _parts_by_row(reordered, rule, batch_size=1000)
    shares = np.bincount(list(first.values()), minlength=3) / len(first)
    tolerance = 4 * np.sqrt(0.25 / len(first))
    assert np.allclose(shares, [0.7, 0.2, 0.1], atol=tolerance)
    # another seed, another split
    other = _parts_by_row(source, PartRule(validation_size=0.2, test_size=0.1, salt=1), batch_size=1000)
    assert other != first


def test_id_column_parts_follow_the_id_not_the_place(tmp_path):
    (tmp_path / "a").mkdir()
    frame = _write_shards(tmp_path / "a", n_shards=2, rows=500)
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    (tmp_path / "b").mkdir()
    for i, (start, stop) in enumerate(((0, 300), (300, 650), (650, None))):
        shuffled.iloc[start:stop].to_parquet(tmp_path / "b" / f"other-{i}.parquet")
    rule = PartRule(id_column="rid")
    assert _parts_by_row(sharded_source(tmp_path / "a"), rule, 128) == _parts_by_row(sharded_source(tmp_path / "b"), rule, 77)


def test_statistics_equal_pandas_on_the_training_part(shards):
    folder, frame = shards
    rule = PartRule()
    result = stream_pass(sharded_source(folder), target="label", rule=rule, memory_budget=2**30, top_k=3,
                         batch_size=450)
    by_row = _parts_by_row(sharded_source(folder), rule, 1000)
    parts = frame["rid"].map(by_row).to_numpy()
    train = frame[parts == PART_CODES["train"]]
    assert result.class_counts == frame["label"].value_counts().to_dict()
    assert result.part_counts["test"] == frame.loc[parts == 2, "label"].value_counts().to_dict()
    for column in ("amount", "t"):
        stats = result.numeric[column]
        assert stats["count"] == train[column].count()
        assert stats["mean"] == pytest.approx(train[column].mean(), rel=1e-12)
        assert stats["variance"] == pytest.approx(train[column].var(ddof=0), rel=1e-10)
    assert result.vocabularies["country"] == list(train["country"].value_counts().head(3).items())
    assert "rid" in result.vocabularies and "label" not in result.vocabularies


def test_sample_keeps_every_positive_and_a_bernoulli_share_of_negatives(shards):
    folder, frame = shards
    n_neg = int((frame["label"] == "ok").sum())
    rule = PartRule()
    result = stream_pass(sharded_source(folder), target="label", rule=rule, memory_budget=300_000, batch_size=500)
    rate = result.rate
    assert 0 < rate < 0.5  # the budget forced sampling (and halvings along the way)
    kept = result.frame
    assert set(kept.loc[kept["label"] == "fraud", "rid"]) == set(frame.loc[frame["label"] == "fraud", "rid"])
    k = int((kept["label"] == "ok").sum())
    assert abs(k - n_neg * rate) <= 4 * np.sqrt(n_neg * rate * (1 - rate))
    assert np.array_equal(result.weights, np.where(kept["label"] == "ok", 1 / rate, 1.0))
    # lowering the rate during the pass kept exactly the rows a pass at the final rate keeps
    expected = []
    for name, first, batch in sharded_source(folder).batches(batch_size=999):
        draws = uniform(rule.keys(name, first, batch), rule.salt, "sample")
        expected += batch.loc[(batch["label"] != "ok").to_numpy() | (draws < rate), "rid"].tolist()
    assert kept["rid"].tolist() == expected
    assert np.array_equal(result.parts, kept["rid"].map(_parts_by_row(sharded_source(folder), rule, 1000)))


def test_time_split_cuts_at_the_quantiles_of_all_times(shards):
    folder, frame = shards
    result = stream_pass(sharded_source(folder), target="label", rule=PartRule(time_column="t"), memory_budget=2**30)
    assert result.rule.cuts == tuple(np.quantile(frame["t"].to_numpy(float), [0.7, 0.85]))
    times = result.frame["t"].to_numpy()
    for code in (0, 1):  # parts are consecutive periods
        assert times[result.parts == code].max() <= times[result.parts == code + 1].min()
    assert result.part_counts is None


def test_positive_option_samples_every_other_class(shards):
    folder, _ = shards
    result = stream_pass(sharded_source(folder), target="label", rule=PartRule(), positive="fraud",
                         memory_budget=2**30)
    assert result.sampled == ["ok"] and result.rate == 1.0


def test_pass_errors_are_one_line(tmp_path, shards):
    folder, _ = shards
    with pytest.raises(DataError, match="No .parquet file"):
        sharded_source(tmp_path / "nothing-*.parquet")
    with pytest.raises(DataError, match="Unknown target"):
        stream_pass(sharded_source(folder), target="nope", rule=PartRule())
    with pytest.raises(DataError, match="rare classes alone"):
        stream_pass(sharded_source(folder), target="label", rule=PartRule(), memory_budget=5_000)
    (tmp_path / "one").mkdir()
    pd.DataFrame({"x": [1.0, 2.0], "label": ["ok", "ok"]}).to_parquet(tmp_path / "one" / "s.parquet")
    with pytest.raises(DataError, match="one class"):
        stream_pass(sharded_source(tmp_path / "one"), target="label", rule=PartRule(), memory_budget=2**30)


def test_parse_memory():
    assert parse_memory("2GiB") == 2 * 2**30
    assert parse_memory("1.5 GB") == 1_500_000_000
    assert parse_memory(4096) == 4096 and parse_memory(None) is None
    for bad in ("2 parsecs", "-1GB", 0):
        with pytest.raises(ConfigError, match="memory_budget"):
            parse_memory(bad)


def test_shards_with_other_columns_are_refused(shards):
    folder, _ = shards
    pd.DataFrame({"x": [1.0]}).to_parquet(folder / "zz-stray.parquet")
    with pytest.raises(DataError, match="other columns"):
        sharded_source(folder)
