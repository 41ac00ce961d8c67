"""A fuzzer for the command line's error contract (issue 18, item 7).

Every user error (bad data, a bad option or config file, a run folder in the wrong state,
damaged run files) must give exactly one ``raretune: error: ...`` line on standard error and
exit status 2, never a traceback, and must leave an earlier run byte-identical. Hypothesis
generates the malformed inputs; :func:`raretune.cli.main` runs in-process, and nothing here
trains except the one tiny run the module builds once (``finished_run``):

* CSV bytes (encodings, separators, quoting, odd and duplicate headers, empty and huge fields,
  NaN/inf, a column copying the label, one class, raw byte garbage) go to ``raretune inspect``,
  which loads the data fully, and to ``raretune run --resume --out RUN``: loading, the split,
  the plan and the fingerprint all run before the folder refuses a resume on other data, so
  ``run`` is exercised up to the last check before training (a plain ``--out RUN`` would be
  refused before the data is read).
* TOML documents (every ``RunConfig`` option with values of every TOML type, unknown keys,
  broken syntax, bytes that are not UTF-8, a folder) go to
  ``raretune run --config FILE --data MISSING.csv --out RUN --quiet``: a valid document that
  asks for ``overwrite`` or ``resume`` then stops at the missing data, before training.
* Copies of the finished run with files missing, truncated, replaced by random bytes or by JSON
  of the wrong shape, ``scores.npz`` holding an object array, ``model.keras`` holding a Lambda
  layer go to ``raretune predict`` and ``raretune report``.

A command may also succeed (status 0, no traceback; ``report`` then rewrites only
``report.html``). Lines starting with ``[raretune]`` (progress, warnings) are allowed beside the
one error line. The default example counts keep the file at about two to three minutes on a
laptop core; ``RARETUNE_FUZZ_EXAMPLES=5000`` raises every test to that many examples (and
draws fresh random inputs instead of the fixed derandomized ones); ``RARETUNE_FUZZ_SHRINK=0``
reports failures unshrunk (shrinking a failing report can take minutes).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from raretune.cli import main

from tests.conftest import make_frame

_RAISED = int(os.environ.get("RARETUNE_FUZZ_EXAMPLES", "0") or 0)
_SHRINK = os.environ.get("RARETUNE_FUZZ_SHRINK", "1") != "0"


def _settings(default: int):
    """Hypothesis settings: ``default`` examples, or ``RARETUNE_FUZZ_EXAMPLES`` when larger."""
    return settings(
        max_examples=max(default, _RAISED), deadline=None, database=None, derandomize=not _RAISED,
        phases=[phase for phase in Phase if _SHRINK or phase is not Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture, HealthCheck.large_base_example],
    )


# -- the contract -----------------------------------------------------------------------------

def _cli(argv) -> tuple[int, list[str], str]:
    """``main(argv)`` in-process: (status, stderr lines that are not progress, whole stderr)."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            status = main([str(a) for a in argv])
        except SystemExit as exit_:  # argparse's usage errors exit (one line, status 2)
            status = exit_.code
    text = err.getvalue()
    return status, [line for line in text.splitlines() if not line.startswith("[raretune]")], text


def _assert_contract(argv) -> int:
    status, lines, text = _cli(argv)
    assert "Traceback" not in text, text
    if status == 0:
        assert lines == [], text
    else:
        assert status == 2, (status, text)
        assert len(lines) == 1 and lines[0].startswith("raretune: error: "), text
    return status


def _checksums(folder: Path) -> dict:
    """sha256 of every file under ``folder`` (and the set of names: no file added or removed)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


# -- one real finished run, built once ----------------------------------------------------------

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A tiny finished run (one trial of one epoch) and the CSV it was trained on."""
    root = tmp_path_factory.mktemp("fuzz-run")
    data = root / "small.csv"
    make_frame(n=600, positive_rate=0.1, seed=1).to_csv(data, index=False)
    run = root / "run"
    status, lines, text = _cli(["run", "--data", data, "--target", "label", "--fast", "--max-trials", "1",
                                "--max-epochs", "1", "--no-baseline", "--quiet", "--out", run])
    assert status == 0, text
    return run, data


@contextlib.contextmanager
def _copy_of(run: Path):
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "run"
        shutil.copytree(run, copy)
        yield Path(tmp), copy


# -- CSV bytes ----------------------------------------------------------------------------------

_NUMBERS = st.one_of(
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e309", "-0", "0x1F", "1,5", " 3 ", "1_000", ""]),
)
_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["$x$", r"$\frac{1}{0}$", "a$b", "{0}", "%s", "<script>", "\x00", "\u202e", "é", "\ud7ff",
                     '"', "'", ",", ";", "\n", "\r", "\t", "NA", "null", "None", "True", "label"]),
    st.integers(1, 3).map(lambda k: "x" * (40_000 * k)),  # huge fields
)
_CELL = st.one_of(_NUMBERS, _TEXT)
_HEADER = st.one_of(
    st.sampled_from(["label", "a", "b", "", " ", "label ", "Label", "Unnamed: 0", "0", "$y$", "a.1", "\ufefflabel",
                     "nan", "x" * 300]),
    st.text(max_size=8),
)


@st.composite
def _tables(draw, clean: bool):
    """Header and rows as text cells: a label column (usually), features, maybe a copy of the label.

    A ``clean`` table has a label and numeric features only; the others mix every kind of cell.
    """
    n_rows = draw(st.integers(0, 60))
    n_cols = draw(st.integers(0 if not clean else 1, 6))
    header = [draw(st.sampled_from(["a", "b", "c", "d", "$x$", "e f"]) if clean else _HEADER) for _ in range(n_cols)]
    if clean or draw(st.booleans()) or not header:
        header.insert(draw(st.integers(0, len(header))), "label")
    classes = draw(st.lists(st.one_of(_TEXT, _NUMBERS), min_size=2 if clean else 1, max_size=4, unique=True))
    label_at = header.index("label") if "label" in header else None
    kinds = [draw(st.sampled_from(["number", "number", "number", "special", "constant"] if clean else
                                  ["number", "text", "mixed", "constant"])) for _ in header]
    floats = st.floats(-1e6, 1e6).map(repr)
    special = floats | st.sampled_from(["nan", "", "inf", "-inf", "1e309", "3"])
    rows = []
    for _ in range(n_rows):
        row = []
        for j, kind in enumerate(kinds):
            if j == label_at:
                row.append(draw(st.sampled_from(classes)))
            elif kind == "number":
                row.append(draw(floats if clean else _NUMBERS))
            elif kind == "special":
                row.append(draw(special))
            elif kind == "text":
                row.append(draw(_TEXT))
            elif kind == "constant":
                row.append("1")
            else:
                row.append(draw(_CELL))
        rows.append(row)
    if rows and label_at is not None and draw(st.integers(0, 3)) == 0:  # a column equal to the label
        header.append(draw(st.sampled_from(["label_copy", "target", "y"])))
        for row in rows:
            row.append(row[label_at])
    if rows and not clean and draw(st.integers(0, 4)) == 0:  # ragged rows
        rows[draw(st.integers(0, len(rows) - 1))].extend(["extra", "1"])
    return header, rows


def _quote(cell: str, sep: str, mode: str) -> str:
    if mode == "all" or (mode == "minimal" and any(c in cell for c in (sep, '"', "\n", "\r"))):
        return '"' + cell.replace('"', '""') + '"'
    if mode == "broken":
        return '"' + cell
    return cell


@st.composite
def csv_bytes(draw) -> bytes:
    """A CSV file's bytes: half of them clean UTF-8 tables, the rest from odd to garbage."""
    clean = draw(st.booleans())
    if not clean and draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    header, rows = draw(_tables(clean))
    sep = "," if clean else draw(st.sampled_from([",", ",", ",", ";", "\t", "|", " "]))
    quoting = "minimal" if clean else draw(st.sampled_from(["minimal", "minimal", "minimal", "all", "none", "broken"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(sep.join(_quote(c, sep, quoting) for c in line) for line in [header, *rows])
    if draw(st.booleans()):
        text += newline
    encoding = "utf-8" if clean else draw(st.sampled_from(
        ["utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le"]))
    data = text.encode(encoding, errors="replace" if clean else draw(st.sampled_from(["replace", "surrogatepass"]))
                       if encoding.startswith("utf-8") else "replace")
    mangle = 9 if clean else draw(st.integers(0, 5))
    if mangle == 0 and data:  # invalid UTF-8 somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\xfe\xff"])) + data[at:]
    elif mangle == 1 and data:  # cut short
        data = data[:draw(st.integers(0, len(data)))]
    return data


@given(data=csv_bytes(), suffix=st.sampled_from([".csv", ".csv", ".CSV", ".parquet"]),
       positive=st.one_of(st.none(), _TEXT.filter(lambda s: len(s) < 50 and "\x00" not in s)),
       keep_drop=st.sampled_from([(), ("--keep", "label"), ("--drop", "label"), ("--drop", "a,b"), ("--keep", ",,")]))
@_settings(400)
def test_inspect_any_csv_answers_in_one_line(data, suffix, positive, keep_drop):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(data)
        argv = ["inspect", path, "--target", "label", *keep_drop]
        if positive is not None:
            argv.append(f"--positive={positive}")
        _assert_contract(argv)


@given(data=csv_bytes())
@_settings(80)
def test_run_on_any_csv_answers_in_one_line_and_keeps_the_run(finished_run, data):
    run, _ = finished_run
    with _copy_of(run) as (tmp, copy):
        before = _checksums(copy)
        path = tmp / "data.csv"
        path.write_bytes(data)
        status = _assert_contract(["run", "--data", path, "--target", "label", "--resume", "--out", copy,
                                   "--fast", "--max-trials", "1", "--max-epochs", "1", "--no-baseline", "--quiet"])
        assert status == 2  # other data: the resume is refused at the latest
        assert _checksums(copy) == before


# -- TOML documents ---------------------------------------------------------------------------

_FIELDS = ["data", "target", "positive", "test_data", "keep", "drop", "out", "strategies", "tuner", "objective",
           "threshold", "cost_fn", "cost_fp", "calibration", "max_trials", "max_epochs", "validation_size",
           "test_size", "folds", "ensemble", "refit", "linear", "trees", "seed", "fast", "resume", "overwrite",
           "baseline", "stream_above", "data_dir", "chief", "worker", "worker_id", "lease_seconds", "mirrored",
           "quiet", "verbose", "command"]
_KEYS = st.one_of(
    st.sampled_from(_FIELDS),
    st.sampled_from(_FIELDS).map(lambda k: k.replace("_", "-")),
    st.sampled_from(["max_trial", "trials", "Seed", "run", "", " ", "über", "a.b", "threshold.value"]),
    st.text(max_size=10),
)
_SCALARS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["smote", "focal,weighted", "hyperband", "pr_auc", "recall@precision=0.9", "precision=2",
                     "cost", "auto", "isotonic", "localhost:1", "w1", "chief", "tfds:nope", "data.csv", "/",
                     "$x$", ""]),
    st.integers(-2**70, 2**70),
    st.integers(-3, 30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(), st.dates(), st.times(),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(_KEYS, inner, max_size=3)), max_leaves=6)


def _right_type(name: str):
    """Values of the type the option's field wants (so that RunConfig's own checks are reached)."""
    import typing

    from raretune.run import RunConfig

    names = {getattr(t, "__name__", str(t)) for t in typing.get_args(typing.get_type_hints(RunConfig)[name])
             or (typing.get_type_hints(RunConfig)[name],)}
    if "bool" in names:
        return st.booleans()
    if "int" in names:
        return st.integers(-5, 2**40) | st.sampled_from([0, 1, 2, 20, 101, 2**31])
    if "float" in names:
        return st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -1.0, 0.5, 1.0, 1e-300])
    if "tuple" in names:
        return st.lists(_SCALARS.filter(lambda v: isinstance(v, str)), max_size=3)
    return _SCALARS.filter(lambda v: isinstance(v, str))


def _toml_key(key: str) -> str:
    return _toml_value(key)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, (int,)):
        return str(value)
    if isinstance(value, str):  # JSON's escapes of control characters are TOML's; the rest is raw UTF-8
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return value.isoformat()  # datetime, date, time


@st.composite
def toml_bytes(draw) -> bytes:
    """A config file's bytes: typed documents, broken syntax, non-UTF-8."""
    form = draw(st.integers(0, 9))
    if form == 0:
        return draw(st.binary(max_size=200))
    if draw(st.booleans()):
        names = draw(st.lists(st.sampled_from(_FIELDS[:-1]), max_size=4, unique=True))
        options = {name: draw(_right_type(name)) for name in names}
    else:
        options = draw(st.dictionaries(_KEYS, _VALUES, max_size=6))
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in options.items()]
    table = draw(st.sampled_from(["", "", "[run]", "[other]", "[[run]]", "[run.sub]"]))
    text = "\n".join(([table] if table else []) + lines) + "\n"
    if draw(st.integers(0, 5)) == 0:
        text = "run = " + draw(st.sampled_from(["1", '"x"', "[]", "true"])) + "\n" + text
    data = text.encode("utf-8", errors="surrogatepass")
    mangle = draw(st.integers(0, 6))
    if mangle == 0:
        data = text.encode(draw(st.sampled_from(["utf-16", "latin-1", "utf-8-sig"])), errors="replace")
    elif mangle == 1 and data:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\x00", b"=", b"[", b'"', b"\n["])) + data[at:]
    elif mangle == 2 and data:
        data = data[:draw(st.integers(0, len(data)))]
    return data


@given(data=toml_bytes(), where=st.sampled_from(["file", "file", "file", "file", "folder", "missing"]))
@_settings(500)
def test_run_with_any_config_file_answers_in_one_line_and_keeps_the_run(finished_run, data, where):
    run, _ = finished_run
    with _copy_of(run) as (tmp, copy):
        before = _checksums(copy)
        config = tmp / "raretune.toml"
        if where == "file":
            config.write_bytes(data)
        elif where == "folder":
            config.mkdir()
        status = _assert_contract(["run", "--config", config, "--data", tmp / "missing.csv", "--out", copy, "--quiet"])
        assert status == 2
        assert _checksums(copy) == before


def test_a_config_array_of_numbers_is_named_as_toml_names_it(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("keep = [1, 2]\n")
    assert main(["run", "--config", str(config), "--data", str(tmp_path / "x.csv")]) == 2
    line = capsys.readouterr().err.strip()
    assert "must be an array of strings; got an array [1, 2]" in line, line


# -- damaged run folders ------------------------------------------------------------------------

_DAMAGED = ["metrics.json", "config.json", "model.keras", "scores.npz", "trials.json", "history.json"]
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False), st.text(max_size=8),
              st.sampled_from(["$x$", r"$\alpha", "nan", "binary", "multiclass"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=10,
)


def _paths(value, prefix=()):
    """Every path (tuple of keys and indices) into a JSON value."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _replaced(value, path, new):
    if not path:
        return new
    value[path[0]] = _replaced(value[path[0]], path[1:], new)
    return value


@pytest.fixture(scope="module")
def lambda_model(tmp_path_factory):
    """The bytes of a .keras file whose model holds a Lambda layer (unsafe to load)."""
    import keras

    inputs = keras.Input(shape=(1,), name="a")
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Lambda(lambda x: x * 2)(inputs)))
    path = tmp_path_factory.mktemp("lambda") / "model.keras"
    model.save(path)
    return path.read_bytes()


@st.composite
def damages(draw):
    """One to three (file, how) damages: how is a name, or the new bytes' maker."""
    names = draw(st.lists(st.sampled_from(_DAMAGED), min_size=1, max_size=3, unique=True))
    plan = []
    for name in names:
        hows = ["missing", "truncated", "random", "wrong json", "mutated json"]
        if name == "scores.npz":
            hows += ["object npz", "other arrays"]
        if name == "model.keras":
            hows += ["lambda"]
        if name == "metrics.json":  # as older runs: the report then computes intervals from scores.npz
            hows += ["no intervals", "no intervals"]
        how = draw(st.sampled_from(hows))
        plan.append((name, how, draw(st.randoms(use_true_random=False)), draw(_JSON)))
    return plan


def _damage(folder: Path, name: str, how: str, rng, junk, lambda_bytes: bytes) -> None:
    path = folder / name
    original = path.read_bytes() if path.is_file() else b""
    if how == "missing":
        path.unlink(missing_ok=True)
    elif how == "truncated":
        path.write_bytes(original[:rng.randint(0, max(len(original) - 1, 0))])
    elif how == "random":
        path.write_bytes(rng.randbytes(rng.randint(0, 400)))
    elif how == "wrong json":
        path.write_text(json.dumps(junk))
    elif how == "mutated json":
        try:
            value = json.loads(original)
        except ValueError:
            value = None
        spots = list(_paths(value))
        path.write_text(json.dumps(_replaced(value, spots[rng.randrange(len(spots))], junk)))
    elif how == "object npz":
        with open(path, "wb") as handle:
            np.savez(handle, test_y=np.array([1, "a", None], dtype=object), test_score=np.array([0.1, 0.2, 0.3]))
    elif how == "other arrays":
        with open(path, "wb") as handle:
            np.savez(handle, test_y=np.array([[1.0, np.nan]]), test_score=np.array(["$x$", "b"]),
                     validation_y=np.arange(3), validation_score=np.full((3, 2), np.inf))
    elif how == "lambda":
        path.write_bytes(lambda_bytes)
    elif how == "no intervals":
        metrics = json.loads(original)
        metrics["test"].pop("intervals", None)
        path.write_text(json.dumps(metrics))


@given(plan=damages())
@_settings(80)
def test_predict_with_a_damaged_run_answers_in_one_line_and_changes_nothing(finished_run, lambda_model, plan):
    run, data = finished_run
    with _copy_of(run) as (tmp, copy):
        for name, how, rng, junk in plan:
            _damage(copy, name, how, rng, junk, lambda_model)
        before = _checksums(copy)
        _assert_contract(["predict", copy, data, "--out", tmp / "scores.csv"])
        assert _checksums(copy) == before


@given(plan=damages())
@_settings(25)
def test_report_of_a_damaged_run_answers_in_one_line_and_changes_nothing_else(finished_run, lambda_model, plan):
    run, _ = finished_run
    with _copy_of(run) as (tmp, copy):
        for name, how, rng, junk in plan:
            _damage(copy, name, how, rng, junk, lambda_model)
        before = _checksums(copy)
        status = _assert_contract(["report", copy])
        after = _checksums(copy)
        if status == 0:  # report.html is the one file a report writes
            before.pop("report.html", None)
            assert after.pop("report.html") != "dir"
        assert after == before
