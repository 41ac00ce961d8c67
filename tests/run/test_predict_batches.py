"""predict on files, a batch at a time: the same rows out as in one batch, with constant memory."""

import re
import warnings

import pandas as pd
import pytest

import raretune
from raretune._errors import RunStateError
from raretune.cli import main
from raretune.run._predict import score_batches
from raretune.run._predict_io import prediction_target

UNSEEN_ROWS = [3, 30, 55]  # in batches 0, 4 and 7 of 7 rows, and in each of the three shards


@pytest.fixture
def rows(finished, tmp_path):
    """60 rows to score as a DataFrame, a CSV file and three Parquet shards, with ids and 3 unseen categories."""
    _, test_rows = finished
    frame = test_rows.head(60).reset_index(drop=True).assign(txn=[f"t{i:02d}" for i in range(60)])
    frame.loc[UNSEEN_ROWS, "channel"] = "kiosk"
    frame.to_csv(tmp_path / "rows.csv", index=False)
    frame.to_parquet(tmp_path / "rows.parquet", index=False)
    (tmp_path / "shards").mkdir()
    for k in range(3):
        frame.iloc[20 * k:20 * (k + 1)].to_parquet(tmp_path / "shards" / f"part-{k}.parquet", index=False)
    return frame


def test_batches_of_seven_rows_equal_one_batch_and_the_in_memory_frame(finished, rows, tmp_path):
    run, _ = finished
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        in_memory = raretune.predict(run, rows, keep=["txn"])
        batched = raretune.predict(run, tmp_path / "rows.csv", keep=["txn"], batch_rows=7)
        assert list(batched.columns) == ["txn", "score", "prediction"]
        pd.testing.assert_frame_equal(batched, in_memory, check_exact=True)
        loaded = raretune.load_run(run)
        for source, n_batches in [("rows.csv", 9), ("rows.parquet", 9), ("shards", 3 * 3), ("shards/*.parquet", 9)]:
            batches = list(score_batches(loaded, str(tmp_path / source), keep=["txn"], batch_rows=7))
            assert len(batches) == n_batches  # 60 rows: 8 batches of 7 and one of 4; 20-row shards: 7, 7, 6
            assert max(len(frame) for _, frame in batches) == 7
            whole = list(score_batches(loaded, str(tmp_path / source), keep=["txn"], batch_rows=1000))
            assert len(whole) == (3 if source.startswith("shards") else 1)
            for frames in (batches, whole):
                pd.testing.assert_frame_equal(pd.concat([frame for _, frame in frames]), in_memory, check_exact=True)
        shards = [path.name for path, _ in score_batches(loaded, str(tmp_path / "shards"), batch_rows=7)]
    assert shards == ["part-0.parquet"] * 3 + ["part-1.parquet"] * 3 + ["part-2.parquet"] * 3


def _predict(capsys, *argv) -> tuple:
    code = main(["predict", *map(str, argv)])
    said = capsys.readouterr()
    return code, said.out, said.err


def test_cli_outputs_are_the_same_in_batches_of_seven(finished, rows, tmp_path, capsys):
    run, _ = finished
    options = ["--id-column", "txn", "--threshold", "0.02", "--prevalence", "0.3", "--estimate-prevalence"]
    said = {}
    for batch in (7, 1000):
        for out in (f"p{batch}.csv", f"p{batch}.parquet", f"folder{batch}/"):
            code, said[out], err = _predict(capsys, run, tmp_path / "shards", "--out", f"{tmp_path}/{out}",
                                            "--batch-rows", batch, *options)
            assert code == 0, err
            lines = err.splitlines()
            assert lines[0] == "[raretune] warning: values never seen in training (scored as unknown): 'channel' 3"
            shown = re.escape(str(tmp_path / out))  # a folder without its final '/'
            assert len(lines) == 2
            assert re.fullmatch(rf"\[raretune\] 60 rows scored in [\d.]+ s \([\d,]+ rows/s\) -> {shown}", lines[1])
    assert (tmp_path / "p7.csv").read_text() == (tmp_path / "p1000.csv").read_text()
    assert said["p7.csv"] == said["p1000.csv"] and "becomes" in said["p7.csv"]
    assert said["p7.csv"].count("estimated positive rate") == 1
    table = pd.read_parquet(tmp_path / "p7.parquet")
    pd.testing.assert_frame_equal(table, pd.read_parquet(tmp_path / "p1000.parquet"), check_exact=True)
    pd.testing.assert_frame_equal(table, pd.read_csv(tmp_path / "p7.csv"), check_exact=False, rtol=1e-15)
    assert list(table.columns) == ["txn", "score", "prediction"] and table["txn"].tolist() == rows["txn"].tolist()
    # one shard out per shard in, same names
    for k in range(3):
        shard = pd.read_parquet(tmp_path / "folder7" / f"part-{k}.parquet")
        assert len(shard) == 20 and shard.equals(pd.read_parquet(tmp_path / "folder1000" / f"part-{k}.parquet"))
        assert shard.equals(table.iloc[20 * k:20 * (k + 1)].reset_index(drop=True))
    assert sorted(p.name for p in (tmp_path / "folder7").iterdir()) == [f"part-{k}.parquet" for k in range(3)]


def test_standard_output_has_one_header_and_the_file_text(finished, rows, tmp_path, capsys):
    run, _ = finished
    code, out, err = _predict(capsys, run, tmp_path / "rows.csv", "--keep", "txn", "--batch-rows", 7)
    assert code == 0
    assert out.splitlines()[0] == "txn,score,prediction" and out.count("txn,score") == 1 and len(out.splitlines()) == 61
    assert _predict(capsys, run, tmp_path / "rows.csv", "--keep", "txn", "--out", tmp_path / "p.csv")[0] == 0
    assert out == (tmp_path / "p.csv").read_text()
    assert err.count("never seen in training") == 1 and "rows/s) -> standard output" in err
    code, out, err = _predict(capsys, run, tmp_path / "rows.csv", "--batch-rows", 7, "--quiet")
    assert code == 0 and "rows/s" not in err and len(out.splitlines()) == 61


def test_python_predict_warns_once_with_the_total(finished, rows, tmp_path):
    run, _ = finished
    with pytest.warns(UserWarning) as caught:
        written = raretune.predict(run, tmp_path / "shards", out=tmp_path / "p.parquet", batch_rows=7)
    unseen = [str(w.message) for w in caught if "never seen" in str(w.message)]
    assert unseen == ["values never seen in training (scored as unknown): 'channel' 3"]
    assert written == 60 and len(pd.read_parquet(tmp_path / "p.parquet")) == 60


@pytest.mark.parametrize("out", ["p.csv", "p.parquet", "folder/", "-"])
def test_bad_input_is_one_line_and_writes_nothing(finished, rows, tmp_path, capsys, out):
    run, _ = finished
    target = f"{tmp_path / 'out'}/{out}" if out != "-" else "-"
    (tmp_path / "out").mkdir()
    # the last shard lacks a model column: refused before the first shard is scored
    rows.iloc[40:].drop(columns="b").to_parquet(tmp_path / "shards" / "part-2.parquet", index=False)
    code, printed, err = _predict(capsys, run, tmp_path / "shards", "--out", target, "--batch-rows", 7)
    assert code == 2 and printed == ""
    assert err == f"raretune: error: Column 'b' is missing from {str(tmp_path / 'shards' / 'part-2.parquet')!r}; " \
                  "it is needed by the model.\n"
    nowhere = str(tmp_path / "nowhere" / "*.parquet")
    code, printed, err = _predict(capsys, run, nowhere, "--out", target)
    assert (code, printed, err) == (2, "", f"raretune: error: No files match {nowhere!r}.\n")
    code, printed, err = _predict(capsys, run, tmp_path / "rows.csv", "--keep", "account", "--out", target)
    assert code == 2 and printed == "" and len(err.splitlines()) == 1 and "'account' (to keep)" in err
    rows.head(0).to_csv(tmp_path / "header.csv", index=False)
    code, printed, err = _predict(capsys, run, tmp_path / "header.csv", "--out", target)
    assert (code, printed, err) == (2, "", f"raretune: error: {str(tmp_path / 'header.csv')!r} holds no rows to score.\n")
    if out != "-":  # a value that breaks the last batch of a file: what was written before is removed
        bad = rows.copy().astype({"a": object})
        bad.loc[57, "a"] = "abc"
        bad.to_csv(tmp_path / "bad.csv", index=False)
        code, printed, err = _predict(capsys, run, tmp_path / "bad.csv", "--out", target, "--batch-rows", 7)
        assert code == 2 and len(err.splitlines()) == 1 and "Column 'a' should be numeric but holds 'abc'" in err
    assert list((tmp_path / "out").iterdir()) == []
    code, _, err = _predict(capsys, run, tmp_path / "rows.csv", "--batch-rows", 0, "--out", target)
    assert code == 2 and err == ("raretune: error: The 'batch_rows' parameter of predict must be an int in "
                                 "[1, inf]. Got 0 instead.\n")


def test_a_folder_target_is_new_or_empty_and_shard_names_are_distinct(finished, rows, tmp_path):
    assert prediction_target(tmp_path / "new").kind == "csv"  # no final '/': a file, as before
    assert prediction_target(f"{tmp_path / 'new'}/").kind == "folder"
    assert prediction_target(tmp_path / "shards.parquet").kind == "parquet" and prediction_target("-").kind == "stdout"
    (tmp_path / "empty").mkdir()
    assert prediction_target(tmp_path / "empty").kind == "folder"
    with pytest.raises(RunStateError, match="holds files"):
        prediction_target(tmp_path / "shards")
    with pytest.raises(RunStateError, match="inside the raretune run"):
        prediction_target(f"{finished[0] / 'preds'}/")
    (tmp_path / "more").mkdir()
    rows.head(5).to_parquet(tmp_path / "more" / "part-0.parquet", index=False)
    with pytest.raises(raretune.DataError, match="would both write 'part-0.parquet'"):
        raretune.predict(finished[0], str(tmp_path / "*" / "part-0.parquet"), out=f"{tmp_path / 'p'}/")
    assert not (tmp_path / "p").exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
