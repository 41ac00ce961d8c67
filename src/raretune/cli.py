"""``raretune`` command line: a thin shell over the public Python API.

Every user error (bad data, bad option, a run folder in the wrong state) prints one line,
``raretune: error: ...``, and exits with status 2; nothing in an existing run is changed.
``--help``, ``remedies`` and option errors answer without importing TensorFlow.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
import sys
import typing
import warnings
from pathlib import Path

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"raretune: error: {message} (see '{self.prog} --help')\n")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """The ``run`` flags; each ``dest`` is a :class:`RunConfig` field (``--no-X`` sets ``X`` false)."""
    from .run._config import DEFAULT_DATA

    data = p.add_argument_group("data")
    data.add_argument("--data", help=f"tfds:NAME[/CONFIG][:SPLIT], a .csv or .parquet file, or a folder or glob of "
                      f"Parquet shards, streamed (default: {DEFAULT_DATA})")
    data.add_argument("--target", help="label column (default: the dataset's label)")
    data.add_argument("--positive", help="positive class (default: the rarer class)")
    data.add_argument("--test-data", help="a fixed test set (same columns); the data is then split into train/validation only")
    data.add_argument("--keep", help="columns to keep although they look like identifiers (comma-separated)")
    data.add_argument("--drop", help="columns to leave out (comma-separated)")
    data.add_argument("--time-column", help="out-of-time validation: train, validation and test are consecutive periods")
    data.add_argument("--group-column", help="entity-aware validation: no customer/card/device in two parts or folds")
    data.add_argument("--gap", help="with --time-column: a period left out between the parts, e.g. 30d (label maturity)")
    data.add_argument("--cost-column", metavar="COL",
                      help="money as the objective: missing a positive costs its value in COL (e.g. amount), a false "
                           "alarm --cost-fp; COL stays a feature unless --drop names it too")
    data.add_argument("--weight-column", metavar="COL",
                      help="sample weights (>= 0) for training, objective, threshold and metrics; never a feature")
    data.add_argument("--validation-size", type=float, help="validation fraction (default 0.15)")
    data.add_argument("--test-size", type=float, help="test fraction (default 0.15)")
    data.add_argument("--data-dir", help="TFDS data folder")
    data.add_argument("--memory-budget", help="sharded Parquet data (a folder or glob): memory for the in-memory sample, "
                      "e.g. 2GiB (default: an eighth of the available memory)")
    data.add_argument("--id-column", help="sharded Parquet data: the column whose hash decides each row's part")
    search = p.add_argument_group("search")
    search.add_argument("--strategies", help="remedies to search, comma-separated (see 'raretune remedies')")
    search.add_argument("--tuner", choices=["hyperband", "bayesian", "random"])
    search.add_argument("--objective", help="pr_auc (default), roc_auc, f1, recall@precision=P, cost")
    search.add_argument("--cost-fn", type=float,
                        help="cost of a missed positive (objective/threshold 'cost'; --cost-column replaces it)")
    search.add_argument("--cost-fp", type=float, help="cost of a false alarm (objective/threshold 'cost')")
    search.add_argument("--max-trials", type=int)
    search.add_argument("--max-epochs", type=int)
    search.add_argument("--time-limit", metavar="DURATION",
                        help="limit on the whole run, e.g. 90s, 10m, 1h (the search stops early; later phases are "
                             "skipped when they would not fit)")
    search.add_argument("--folds", type=int,
                        help="cross-fitting folds over train+validation (default: 5 below 20,000 rows, else 1 = hold-out)")
    search.add_argument("--ensemble", type=int,
                        help="greedy ensemble over the best N trials (default: 10 with cross-fitting, else 1 = best trial)")
    search.add_argument("--no-refit", dest="refit", action="store_false", default=None,
                        help="with cross-fitting, keep the networks scored on the test set (default: retrain them on all rows)")
    search.add_argument("--no-linear", dest="linear", action="store_false", default=None,
                        help="with cross-fitting, leave converged logistic regressions out of the ensemble's candidates")
    search.add_argument("--no-trees", dest="trees", action="store_false", default=None,
                        help="with cross-fitting, leave boosted trees (compiled into Keras layers) out of the ensemble's candidates")
    search.add_argument("--no-forests", dest="forests", action="store_false", default=None,
                        help="with cross-fitting, leave random forests and extra trees out of the ensemble's candidates")
    search.add_argument("--no-smote-linear", dest="smote_linear", action="store_false", default=None,
                        help="with cross-fitting, leave SMOTE + logistic regression out of the ensemble's candidates")
    search.add_argument("--seed", type=int, help="one seed for split, search and training (default 0)")
    search.add_argument("--no-baseline", dest="baseline", action="store_false", default=None,
                        help="skip the HistGradientBoosting sanity baseline")
    choice = p.add_argument_group("decision")
    choice.add_argument("--threshold", help="auto (default: follows the objective), f1, precision=P, recall=R, "
                        "alerts=R (flag the top R of rows, e.g. alerts=0.5%%), capacity=N/PERIOD (N alerts an hour, "
                        "day, week or month, e.g. capacity=200/day; needs --time-column), cost")
    choice.add_argument("--segment-by", metavar="COL", help="a table of test metrics per value of this column")
    choice.add_argument("--calibration", choices=["auto", "none", "prior", "platt", "isotonic"])
    out = p.add_argument_group("output")
    out.add_argument("--out", help="run folder (default runs/<timestamp>)")
    out.add_argument("--resume", action="store_true", default=None, help="continue the run in --out")
    out.add_argument("--overwrite", action="store_true", default=None,
                     help="replace the run in --out (the old run stays until the new one is complete)")
    out.add_argument("--fast", action="store_true", default=None,
                     help="tiny smoke-test run: small data, 4 trials, 2 epochs, no cross-fitting")
    out.add_argument("--config", dest="config_file", help="TOML file with any of these options (command-line flags win)")
    out.add_argument("--no-report", dest="report", action="store_false", default=None,
                     help="write no report.html ('raretune report RUN_DIR' writes it later)")
    out.add_argument("--quiet", action="store_true", default=None)
    out.add_argument("--verbose", action="store_true", default=None)
    dist = p.add_argument_group("many machines (chief and workers share --out)")
    dist.add_argument("--chief", metavar="HOST:PORT", help="serve the search to workers; listen on HOST:PORT")
    dist.add_argument("--worker", metavar="HOST:PORT", help="run trials for the chief at HOST:PORT")
    dist.add_argument("--worker-id", metavar="NAME", help="this worker's name (unique; with --worker)")
    dist.add_argument("--lease-seconds", type=float,
                      help="a trial whose worker is silent this long goes back to the pool (default 120)")
    dist.add_argument("--mirrored", action="store_true", default=None,
                      help="train each trial on all of this machine's GPUs (tf.distribute.MirroredStrategy)")
    dist.add_argument("--auth-token-file", metavar="FILE",
                      help="a file holding the shared token every worker must send (or set RARETUNE_AUTH_TOKEN)")
    dist.add_argument("--tls-cert", metavar="PEM", help="TLS: this process's certificate (the chief's; a worker's for mutual TLS)")
    dist.add_argument("--tls-key", metavar="PEM", help="TLS: the private key of --tls-cert")
    dist.add_argument("--tls-ca", metavar="PEM",
                      help="TLS: on a worker, what the chief's certificate must be signed by (turns TLS on); "
                           "on the chief, what workers' certificates must be signed by")
    dist.add_argument("--allow-open-chief", action="store_true", default=None,
                      help="let a chief listen beyond loopback without a token (a trusted network only)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``raretune`` command."""
    from ._version import __version__

    parser = _Parser(prog="raretune", description="Train Keras classifiers on highly imbalanced data.")
    parser.add_argument("--version", action="version", version=f"raretune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_run_options(sub.add_parser("run", help="search network and remedy, choose a threshold, score the test set"))
    p_pred = sub.add_parser("predict", help="score new rows with a finished run")
    p_pred.add_argument("run_dir")
    p_pred.add_argument("data")
    p_pred.add_argument("--out", default="-",
                        help="file to write: .csv, or .parquet; '-' (the default) writes CSV to standard output; "
                             "a folder (ending in /) gets one Parquet file per input shard")
    p_pred.add_argument("--threshold", type=float, help="binary runs: decide at this threshold instead of the deployed one")
    p_pred.add_argument("--id-column", help="a column of the data to carry into the output (e.g. the transaction id)")
    p_pred.add_argument("--keep", default="", help="more columns to carry into the output (comma-separated)")
    p_pred.add_argument("--data-dir", help="TFDS data folder")
    p_pred.add_argument("--prevalence", type=float, metavar="P",
                        help="binary runs: scores at this positive rate instead of training's (the flags do not change)")
    p_pred.add_argument("--estimate-prevalence", action="store_true",
                        help="binary runs: estimate this batch's positive rate from its scores (EM) and warn if it moved")
    p_pred.add_argument("--batch-rows", type=int, metavar="N",
                        help="rows read and scored at a time (default 65,536): memory stays flat however large the input")
    p_pred.add_argument("--quiet", action="store_true", help="no line on standard error with the rows scored per second")
    p_insp = sub.add_parser("inspect", help="class balance and column types, without training")
    p_insp.add_argument("data")
    p_insp.add_argument("--target")
    p_insp.add_argument("--positive")
    p_insp.add_argument("--data-dir")
    p_insp.add_argument("--keep", default="", help="columns to keep although they look like identifiers")
    p_insp.add_argument("--drop", default="", help="columns to leave out")
    p_eval = sub.add_parser("evaluate", help="score labelled rows with a finished run; compare with its test set")
    p_eval.add_argument("run_dir")
    p_eval.add_argument("data")
    p_eval.add_argument("--target", help="label column, if the data does not use the run's")
    p_eval.add_argument("--data-dir", help="TFDS data folder")
    p_eval.add_argument("--out", help="folder for evaluation.json and .html (default: <RUN_DIR>-evaluation-<timestamp>)")
    p_exp = sub.add_parser("export", help="write a finished run as a TensorFlow SavedModel for serving")
    p_exp.add_argument("run_dir")
    p_exp.add_argument("--format", choices=["saved_model"], default="saved_model",
                       help="saved_model: a serving signature taking the raw columns, returning score and decision")
    p_exp.add_argument("--out", required=True, help="new folder to write")
    p_rep = sub.add_parser("report", help="rebuild report.html of a run")
    p_rep.add_argument("run_dir")
    sub.add_parser("remedies", help="list the remedies and when to use each")
    return parser


def run_config(args, argv):
    """The :class:`RunConfig` of ``raretune run``: the TOML file's options, then the flags."""
    from .run import RunConfig

    options = read_toml(args.config_file) if args.config_file else {}
    fields = {f.name for f in dataclasses.fields(RunConfig)} - {"command"}
    options.update({name: value for name, value in vars(args).items() if name in fields and value is not None})
    return RunConfig(**options, command=("raretune", *argv))


def read_toml(path) -> dict:
    """A config file's ``run`` options, each checked against :class:`RunConfig`'s field types.

    Raises
    ------
    ConfigError
        A missing, unreadable or invalid file, an unknown key ("did you mean"), a value of
        the wrong type.
    """
    import tomllib

    from ._errors import ConfigError
    from .run import RunConfig

    shown = repr(str(path))
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {shown}.") from None
    except IsADirectoryError:
        raise ConfigError(f"Config file {shown} is a folder, not a TOML file.") from None
    except OSError as exc:
        raise ConfigError(f"Config file {shown} cannot be read: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Config file {shown} is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {shown} is not valid TOML: {exc}.") from None
    if "run" in table:
        if not isinstance(table["run"], dict):
            raise ConfigError(f"In {shown}, 'run' must be a table ([run]); got {type(table['run']).__name__}.")
        table = table["run"]
    hints = typing.get_type_hints(RunConfig)
    options = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in hints or name == "command":
            known = [f.name for f in dataclasses.fields(RunConfig) if f.name != "command"]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            raise ConfigError(f"Unknown option {key!r} in {shown}{hint}")
        options[name] = _typed(value, hints[name], key, shown)
    return options


def _typed(value, hint, key: str, shown: str):
    """``value`` if TOML gave it a type ``hint`` accepts (ints pass as floats), else ``ConfigError``."""
    from ._errors import ConfigError

    allowed = typing.get_args(hint) or (hint,)
    names = {getattr(t, "__name__", str(t)) for t in allowed}
    if value is None:
        return value
    if isinstance(value, bool):
        ok = "bool" in names
    elif isinstance(value, int):
        ok = bool(names & {"int", "float"})
        value = float(value) if "int" not in names and "float" in names else value
    elif isinstance(value, float):
        ok = "float" in names
    elif isinstance(value, str):
        ok = bool(names & {"str", "object", "PathLike"}) or "tuple" in names
    elif isinstance(value, list):
        ok = "tuple" in names and all(isinstance(v, str) for v in value)
    else:
        ok = False
    if not ok:
        # in TOML's words: a field typed tuple takes an array of strings
        wanted = " or ".join(sorted("an array of strings" if n == "tuple" else n for n in names if n != "NoneType"))
        got = "an array" if isinstance(value, list) else type(value).__name__
        raise ConfigError(f"Option {key!r} in {shown} must be {wanted}; got {got} {value!r}.")
    if isinstance(value, list):
        value = tuple(value)
    return value


def _cmd_run(args, argv) -> int:
    from .run import run

    config = run_config(args, argv)
    result = run(config)
    if result.metrics.get("role") == "worker":
        if not config.quiet:
            print(f"worker {result.metrics['tuner_id']}: {len(result.metrics['trials'])} trial(s); "
                  f"the chief writes the results to {result.out}")
        return 0
    if not config.quiet:
        print(f"run folder: {result.out}")
        print(f"report:     {result.out / 'report.html'}")
    return 0


def _cmd_predict(args) -> int:
    import time

    import numpy as np

    from .run import load_run
    from .run._predict import score_batches
    from .run._predict_io import DEFAULT_BATCH_ROWS, prediction_target, write_predictions

    target = prediction_target(args.out)
    keep = ([args.id_column] if args.id_column else []) + [c for c in args.keep.split(",") if c]
    loaded = load_run(args.run_dir)
    shift = args.prevalence is not None or args.estimate_prevalence
    if shift:
        from .run._shift import at_prevalence, base_rate, batch_prevalence

        base_rate(loaded)  # a multiclass run is refused before anything is scored
    start = time.perf_counter()
    batches = score_batches(loaded, args.data, data_dir=args.data_dir, threshold=args.threshold, keep=keep,
                            batch_rows=DEFAULT_BATCH_ROWS if args.batch_rows is None else args.batch_rows)
    said = sys.stderr if target.kind == "stdout" else sys.stdout  # standard output may be the data itself
    scores, messages = [], []
    if shift:

        def shifted(batches):
            for path, frame in batches:
                if args.estimate_prevalence:
                    scores.append(frame["score"].to_numpy(dtype=float, copy=True))  # the scores only, not the rows
                if args.prevalence is not None:
                    frame, message = at_prevalence(loaded, frame, args.prevalence)
                    messages[:] = [message]
                yield path, frame

        batches = shifted(batches)
    rows = write_predictions(batches, target)
    seconds = time.perf_counter() - start
    if args.estimate_prevalence:
        for line in batch_prevalence(loaded, {"score": np.concatenate(scores)})[1]:
            print(line, file=said)
    for message in messages:
        print(message, file=said)
    if not args.quiet:
        where = "standard output" if target.kind == "stdout" else str(target.path)
        speed = rows / max(seconds, 1e-9)
        print(f"[raretune] {rows:,} rows scored in {seconds:.1f} s ({speed:,.0f} rows/s) -> {where}", file=sys.stderr)
    return 0


def _cmd_evaluate(args) -> int:
    from .run._evaluate import evaluate

    _quiet_libraries(False)  # main() quiets only run, predict and inspect
    result = evaluate(args.run_dir, args.data, target=args.target, data_dir=args.data_dir, out=args.out)
    m, psi = result["metrics"], result["psi"]
    iv = m.get("intervals") or {}
    span = f" [{iv['pr_auc'][0]:.4f}, {iv['pr_auc'][1]:.4f}]" if iv.get("pr_auc") else ""
    run_pr = result["run_test"].get("pr_auc")
    print(f"evaluation: {result['out'] / 'evaluation.html'}")
    print(f"PR-AUC {m['pr_auc']:.4f}{span} on {result['rows']['labelled']:,} rows"
          + (f" (run test {run_pr:.4f})" if isinstance(run_pr, float) else ""))
    if result["threshold"] is not None:
        print(f"at threshold {result['threshold']:.4f}: precision {m['precision']:.4f}, recall {m['recall']:.4f}, "
              f"positive rate {result['positive_rate']['batch']:.4f}")
    else:
        print(f"most probable class: macro precision {m['precision']:.4f}, macro recall {m['recall']:.4f}")
    print(f"score PSI {psi['value']:.4f} ({psi['reading']})" if psi else "score PSI: no scores.npz in the run")
    if result.get("prevalence"):
        p = result["prevalence"]
        low, high = p["interval"] or (float("nan"), float("nan"))
        print(f"positive rate estimated from the scores {p['estimated']:.4%} (95 % interval {low:.4%}-{high:.4%}); "
              f"labelled {p['labelled']:.4%}; training {p['train']:.4%}")
    for warning in result.get("warnings", []):
        print(f"warning: {warning}")
    return 0


def _cmd_export(args) -> int:
    from .run._export import export_saved_model

    print(export_saved_model(args.run_dir, args.out))
    return 0


def _cmd_inspect(args) -> int:
    from .datasets import describe_imbalance, load_data

    data = load_data(args.data, target=args.target, positive=args.positive, data_dir=args.data_dir,
                     keep=[c for c in args.keep.split(",") if c], drop=[c for c in args.drop.split(",") if c])
    d = describe_imbalance(data)
    print(f"source      {data.source}")
    print(f"rows        {d['n_rows']:,}")
    print(f"target      {data.target} ({'binary' if data.is_binary else f'{data.n_classes} classes'})")
    width = max(len(str(c)) for c in d["class_counts"])
    for name, count in d["class_counts"].items():
        mark = "  <- positive" if data.is_binary and name == data.classes[1] else ""
        print(f"  {name:<{width}}  {count:>10,}  {count / d['n_rows']:8.3%}{mark}")
    print(f"imbalance   {d['imbalance_ratio']:.1f}:1")
    if hasattr(data, "images"):
        print(f"images      {'x'.join(map(str, data.image_shape))} uint8")
    else:
        print(f"numeric     {len(data.numeric)}: {', '.join(data.numeric)}")
        print(f"categorical {len(data.categorical)}: {', '.join(data.categorical)}")
    for note in data.notes:
        print(f"note        {note}")
    for warning in d["warnings"]:
        print(f"warning     {warning}")
    return 0


def _cmd_report(args) -> int:
    from ._errors import RunStateError
    from .report import write_report

    run_dir = Path(args.run_dir)
    if not (run_dir / "metrics.json").is_file():
        raise RunStateError(f"{args.run_dir!r} is not a finished raretune run (no metrics.json).")
    print(write_report(run_dir))
    return 0


def _cmd_remedies() -> int:
    from .remedies import DEFAULT_STRATEGIES, REMEDIES

    width = max(len(n) for n in REMEDIES)
    for name, remedy in REMEDIES.items():
        default = " (default)" if name in DEFAULT_STRATEGIES else ""
        print(f"{name:<{width}}  {remedy.summary}{default}")
        print(f"{'':<{width}}  when: {remedy.when}")
    return 0


_COMMANDS = {"run": None, "predict": _cmd_predict, "export": _cmd_export, "evaluate": _cmd_evaluate,
             "inspect": _cmd_inspect, "report": _cmd_report}


def main(argv=None) -> int:
    """Entry point of the ``raretune`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from ._errors import RaretuneError

    verbose = bool(getattr(args, "verbose", False))
    try:
        if args.command == "remedies":
            return _cmd_remedies()
        if args.command == "run":
            config = run_config(args, argv)  # option and config-file errors answer before TensorFlow loads
            config.validated()
        if args.command in ("run", "predict", "export") or (args.command == "inspect" and _needs_tensorflow(args.data)):
            _quiet_libraries(verbose)
        with warnings.catch_warnings():
            if not verbose:
                # raretune's own warnings (a remedy's fallback, ...) as one line; library
                # deprecation notices are not for the person running the command
                warnings.showwarning = _show_warning
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
            try:
                return _cmd_run(args, argv) if args.command == "run" else _COMMANDS[args.command](args)
            except (ValueError, TypeError) as exc:
                if _is_sklearn_parameter_error(exc):
                    raise _OneLine(str(exc)) from None
                raise
    except (RaretuneError, _OneLine) as exc:
        print(f"raretune: error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("raretune: interrupted; finished trials are kept (continue with --resume)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `raretune remedies | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _needs_tensorflow(data) -> bool:
    """Only a TFDS dataset needs TensorFlow to be read; CSV and Parquet files do not."""
    return str(data).startswith("tfds:")


def _is_sklearn_parameter_error(exc: Exception) -> bool:
    """scikit-learn's parameter check failed (only possible once scikit-learn is loaded)."""
    validation = sys.modules.get("sklearn.utils._param_validation")
    return validation is not None and isinstance(exc, validation.InvalidParameterError)


class _OneLine(Exception):
    """A library's parameter error, shown as one line like raretune's own."""


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one ``[raretune] warning:`` line, without the library's source line."""
    print(f"[raretune] warning: {str(message).strip().splitlines()[0]}", file=sys.stderr)


def _quiet_libraries(verbose: bool) -> None:
    """TensorFlow and absl log to stderr at import; a CLI user wants raretune's lines only.

    TensorFlow 2.21's C++ start-up lines ignore ``TF_CPP_MIN_LOG_LEVEL``, so stderr's file
    descriptor is pointed at a temporary file while TensorFlow loads; what it held is shown
    only if the import fails.
    """
    if verbose:
        return
    import logging
    import tempfile

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules:
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            except Exception:
                os.dup2(saved, 2)
                captured.seek(0)
                sys.stderr.write(captured.read().decode("utf-8", "replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
