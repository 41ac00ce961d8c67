"""The command line: one clear line and exit status 2 for every user error."""

import json

import pytest

from raretune.cli import main

from tests.conftest import make_frame


def _err(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    return [line for line in err if not line.startswith("[raretune]")]


@pytest.fixture
def data_csv(tmp_path):
    path = tmp_path / "d.csv"
    make_frame(n=1500, positive_rate=0.06, seed=3).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--data", "missing.csv", "--target", "label"], "File not found"),
        (["run", "--data", "{csv}", "--target", "nope"], "Unknown target column 'nope'; columns: a, b"),
        (["run", "--data", "{csv}", "--target", "label", "--strategies", "smote,magic"], "Unknown remedy 'magic'"),
        (["run", "--data", "{csv}", "--target", "label", "--objective", "val_f1_score"], "'objective' parameter"),
        (["run", "--data", "{csv}", "--target", "label", "--max-trials", "0"], "'max_trials' parameter"),
        (["run", "--data", "{csv}", "--target", "label", "--folds", "0"], "'folds' parameter"),
        (["run", "--data", "{csv}", "--target", "label", "--ensemble", "0"], "'ensemble' parameter"),
        (["run", "--data", "{csv}", "--target", "label", "--threshold", "precision=2"], "parameter of the threshold rule"),
        (["run", "--data", "{csv}", "--target", "label", "--tuner", "grid"], "invalid choice"),
        (["run", "--data", "{csv}", "--target", "label", "--resume", "--overwrite"], "not both"),
        (["run", "--data", "{csv}", "--target", "label", "--resume", "--out", "{tmp}/none"], "Nothing to resume"),
        (["predict", "{tmp}", "{csv}", "--out", "{tmp}/p.csv"], "is not a finished raretune run"),
        (["report", "{tmp}"], "not a finished raretune run"),
        (["inspect", "{tmp}/empty.csv", "--target", "label"], "is empty"),
        (["run", "--data", "{tmp}/header.csv", "--target", "label"], "header but no rows"),
        (["run", "--data", "{tmp}/oneclass.csv", "--target", "label"], "one class only ('ok')"),
        (["run", "--data", "{tmp}/inf.csv", "--target", "label"], "Column 'a' holds 1 infinite values"),
        (["run", "--data", "{csv}", "--target", "label", "--positive", "maybe"], "'maybe' is not a label"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args, message, tmp_path, data_csv, capsys):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,b,label\n")
    (tmp_path / "oneclass.csv").write_text("a,label\n1,ok\n2,ok\n")
    (tmp_path / "inf.csv").write_text("a,label\n1,ok\ninf,fraud\n3,ok\n")
    args = [a.format(csv=data_csv, tmp=tmp_path) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(args))
    assert exit_info.value.code == 2
    lines = _err(capsys)
    assert len(lines) == 1 and lines[0].startswith("raretune: error: ") and message in lines[0], lines
    assert "Traceback" not in lines[0]


def test_inspect_prints_balance_and_columns(data_csv, capsys):
    assert main(["inspect", str(data_csv), "--target", "label"]) == 0
    out = capsys.readouterr().out
    assert "fraud" in out and "<- positive" in out and "categorical 1: channel" in out


def test_remedies_lists_every_remedy(capsys):
    from raretune.remedies import REMEDIES

    assert main(["remedies"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in REMEDIES)


@pytest.mark.slow
def test_run_predict_and_report_through_the_cli(tmp_path, data_csv, capsys):
    out = tmp_path / "run"
    config = tmp_path / "run.toml"
    config.write_text(f'data = "{data_csv}"\ntarget = "label"\nmax-epochs = 1\n')
    assert main(["run", "--config", str(config), "--max-trials", "2", "--out", str(out), "--quiet",
                 "--strategies", "none,class_weight", "--no-baseline",  # the CLI is tested, not the families
                 "--no-trees", "--no-forests", "--no-smote-linear", "--no-knn"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["search"]["max_epochs"] == 1 and metrics["search"]["max_trials"] == 2
    assert main(["predict", str(out), str(data_csv), "--out", str(tmp_path / "p.csv")]) == 0
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "score,prediction" and len(lines) == 1501
    # at another positive rate the scores move and the flags stay
    capsys.readouterr()
    assert main(["predict", str(out), str(data_csv), "--out", str(tmp_path / "p2.csv"), "--prevalence", "0.3",
                 "--estimate-prevalence"]) == 0
    said = capsys.readouterr().out
    assert "becomes" in said and "estimated positive rate of this batch" in said
    import pandas as pd

    before, after = pd.read_csv(tmp_path / "p.csv"), pd.read_csv(tmp_path / "p2.csv")
    assert (before["prediction"] == after["prediction"]).all()
    assert (after["score"] >= before["score"] - 1e-12).all() and (after["score"] > before["score"]).any()
    # ids carried, another threshold, Parquet out, CSV on standard output
    frame = make_frame(n=40, positive_rate=0.1, seed=5).assign(txn=[f"t{i}" for i in range(40)])
    frame.to_csv(tmp_path / "ids.csv", index=False)
    assert main(["predict", str(out), str(tmp_path / "ids.csv"), "--id-column", "txn", "--threshold", "0",
                 "--out", str(tmp_path / "p.parquet")]) == 0
    table = pd.read_parquet(tmp_path / "p.parquet")
    assert list(table.columns) == ["txn", "score", "prediction"] and (table["prediction"] == "fraud").all()
    capsys.readouterr()
    assert main(["predict", str(out), str(tmp_path / "ids.csv"), "--keep", "txn"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "txn,score,prediction" and len(printed) == 41
    assert main(["predict", str(out), str(data_csv), "--out", str(out / "metrics.json")]) == 2
    assert "inside the raretune run" in capsys.readouterr().err
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0 and (out / "report.html").exists()
    # predict on data that lacks a column names it
    make_frame(n=50).drop(columns=["b"]).to_csv(tmp_path / "short.csv", index=False)
    capsys.readouterr()
    assert main(["predict", str(out), str(tmp_path / "short.csv"), "--out", str(tmp_path / "q.csv")]) == 2
    assert "Column 'b' is missing" in capsys.readouterr().err


@pytest.mark.slow
def test_too_few_positives_for_k_neighbors_falls_back_and_says_so(tmp_path, capsys):
    frame = make_frame(n=600, positive_rate=0.01, seed=13)
    frame["label"] = "ok"
    frame.loc[frame.index[:12], "label"] = "fraud"  # 8 training positives: k=10 is too many
    frame.to_csv(tmp_path / "few.csv", index=False)
    code = main(["run", "--data", str(tmp_path / "few.csv"), "--target", "label", "--strategies", "smote",
                 "--max-trials", "4", "--max-epochs", "1", "--tuner", "random", "--no-baseline", "--out", str(tmp_path / "r"),
                 "--no-refit", "--no-report", "--no-linear", "--no-trees", "--no-forests", "--no-smote-linear", "--no-knn"])
    said = capsys.readouterr()
    assert code == 0
    assert "[raretune] warning: smote: the smallest class has 8 training rows" in said.err
    assert "run folder:" in said.out and "report:" not in said.out  # --no-report: no path to a missing file


def test_search_switches_map_onto_the_run_config():
    from raretune.cli import build_parser, run_config

    argv = ["run", "--data", "x.csv", "--no-linear", "--no-trees", "--no-refit", "--no-baseline", "--folds", "3"]
    config = run_config(build_parser().parse_args(argv), argv)
    assert (config.linear, config.trees, config.refit, config.baseline, config.folds) == (False, False, False, False, 3)
    argv = ["run", "--data", "x.csv", "--no-trees"]
    config = run_config(build_parser().parse_args(argv), argv)
    assert (config.linear, config.trees, config.refit, config.baseline) == (True, False, True, True)
    assert (config.forests, config.smote_linear) == (True, True)
    argv = ["run", "--data", "x.csv", "--no-forests", "--no-smote-linear"]
    config = run_config(build_parser().parse_args(argv), argv)
    assert (config.linear, config.trees, config.forests, config.smote_linear) == (True, True, False, False)
    assert config.knn is True
    argv = ["run", "--data", "x.csv", "--no-knn"]
    config = run_config(build_parser().parse_args(argv), argv)
    assert (config.forests, config.smote_linear, config.knn) == (True, True, False)
