"""``raretune`` command line: a thin shell over the public Python API.

Every user error (bad data, bad option, a run folder in the wrong state) prints one line,
``raretune: error: ...``, and exits with status 2; nothing in an existing run is changed.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"raretune: error: {message} (see '{self.prog} --help')\n")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    from ._run import DEFAULT_DATA

    data = p.add_argument_group("data")
    data.add_argument("--data", default=None, help=f"tfds:NAME[/CONFIG][:SPLIT], a .csv or .parquet file (default: {DEFAULT_DATA})")
    data.add_argument("--target", help="label column (default: the dataset's label)")
    data.add_argument("--positive", help="positive class (default: the rarer class)")
    data.add_argument("--test-data", help="a fixed test set (same columns); the data is then split into train/validation only")
    data.add_argument("--validation-size", type=float, default=None, help="validation fraction (default 0.15)")
    data.add_argument("--test-size", type=float, default=None, help="test fraction (default 0.15)")
    data.add_argument("--data-dir", help="TFDS data folder")
    search = p.add_argument_group("search")
    search.add_argument("--strategies", help="remedies to search, comma-separated (see 'raretune remedies')")
    search.add_argument("--tuner", choices=["hyperband", "bayesian", "random"], default=None)
    search.add_argument("--objective", help="pr_auc (default), roc_auc, f1, recall@precision=P, cost")
    search.add_argument("--cost-fn", type=float, default=None, help="cost of a missed positive (objective/threshold 'cost')")
    search.add_argument("--cost-fp", type=float, default=None, help="cost of a false alarm (objective/threshold 'cost')")
    search.add_argument("--max-trials", type=int, default=None)
    search.add_argument("--max-epochs", type=int, default=None)
    search.add_argument("--folds", type=int, default=None,
                        help="cross-fitting folds over train+validation (default: 5 below 20,000 rows, else 1 = hold-out)")
    search.add_argument("--ensemble", type=int, default=None,
                        help="greedy ensemble over the best N trials (default: 10 with cross-fitting, else 1 = best trial)")
    search.add_argument("--no-refit", action="store_true",
                        help="with cross-fitting, keep the networks scored on the test set (default: retrain them on all rows)")
    search.add_argument("--no-linear", action="store_true",
                        help="with cross-fitting, leave converged logistic regressions out of the ensemble's candidates")
    search.add_argument("--no-trees", action="store_true",
                        help="with cross-fitting, leave boosted trees (compiled into Keras layers) out of the ensemble's candidates")
    search.add_argument("--seed", type=int, default=None, help="one seed for split, search and training (default 0)")
    search.add_argument("--no-baseline", action="store_true", help="skip the HistGradientBoosting sanity baseline")
    choice = p.add_argument_group("decision")
    choice.add_argument("--threshold", help="auto (default), f1, precision=P, recall=R, cost")
    choice.add_argument("--calibration", choices=["auto", "none", "prior", "platt", "isotonic"], default=None)
    out = p.add_argument_group("output")
    out.add_argument("--out", help="run folder (default runs/<timestamp>)")
    out.add_argument("--resume", action="store_true", help="continue the run in --out")
    out.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    out.add_argument("--fast", action="store_true", help="tiny smoke-test run: small data, 4 trials, 2 epochs")
    out.add_argument("--config", help="TOML file with any of these options (command-line flags win)")
    out.add_argument("--quiet", action="store_true")
    out.add_argument("--verbose", action="store_true")
    dist = p.add_argument_group("many machines (chief and workers share --out)")
    dist.add_argument("--chief", metavar="HOST:PORT", help="serve the search to workers; listen on HOST:PORT")
    dist.add_argument("--worker", metavar="HOST:PORT", help="run trials for the chief at HOST:PORT")
    dist.add_argument("--worker-id", metavar="NAME", help="this worker's name (unique; with --worker)")
    dist.add_argument("--lease-seconds", type=float, default=None,
                      help="a trial whose worker is silent this long goes back to the pool (default 120)")
    dist.add_argument("--mirrored", action="store_true",
                      help="train each trial on all of this machine's GPUs (tf.distribute.MirroredStrategy)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``raretune`` command."""
    parser = _Parser(prog="raretune", description="Train Keras classifiers on highly imbalanced data.")
    parser.add_argument("--version", action="version", version=f"raretune {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    p_run = sub.add_parser("run", help="search network and remedy, choose a threshold, score the test set")
    _add_run_options(p_run)
    p_pred = sub.add_parser("predict", help="score new rows with a finished run")
    p_pred.add_argument("run_dir")
    p_pred.add_argument("data")
    p_pred.add_argument("--out", required=True, help="CSV file to write")
    p_pred.add_argument("--data-dir", help="TFDS data folder")
    p_insp = sub.add_parser("inspect", help="class balance and column types, without training")
    p_insp.add_argument("data")
    p_insp.add_argument("--target")
    p_insp.add_argument("--positive")
    p_insp.add_argument("--data-dir")
    p_rep = sub.add_parser("report", help="rebuild report.html of a run")
    p_rep.add_argument("run_dir")
    sub.add_parser("remedies", help="list the remedies and when to use each")
    return parser


def _version() -> str:
    from . import __version__

    return __version__


_RUN_FIELDS = {
    "data": "data", "target": "target", "positive": "positive", "test_data": "test_data",
    "validation_size": "validation_size", "test_size": "test_size", "data_dir": "data_dir",
    "strategies": "strategies", "tuner": "tuner", "objective": "objective", "cost_fn": "cost_fn",
    "cost_fp": "cost_fp", "max_trials": "max_trials", "max_epochs": "max_epochs", "seed": "seed",
    "folds": "folds", "ensemble": "ensemble",
    "threshold": "threshold", "calibration": "calibration", "out": "out", "resume": "resume",
    "overwrite": "overwrite", "fast": "fast", "quiet": "quiet", "verbose": "verbose",
    "chief": "chief", "worker": "worker", "worker_id": "worker_id", "lease_seconds": "lease_seconds",
    "mirrored": "mirrored",
}


def _run_config(args, argv):
    from ._errors import ConfigError
    from ._run import RunConfig

    options = {}
    if args.config:
        options.update(_read_toml(args.config))
    for name, field in _RUN_FIELDS.items():
        value = getattr(args, name, None)
        if value is not None and value is not False:
            options[field] = value
    if args.no_baseline:
        options["baseline"] = False
    if getattr(args, "no_refit", False):
        options["refit"] = False
    if getattr(args, "no_linear", False):
        options["linear"] = False
    if getattr(args, "no_trees", False):
        options["trees"] = False
    unknown = sorted(set(options) - set(RunConfig.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"Unknown option {unknown[0]!r} in {args.config}.")
    return RunConfig(**options, command=["raretune", *argv])


def _read_toml(path) -> dict:
    import tomllib

    from ._errors import ConfigError

    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {path!r}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path!r} is not valid TOML: {exc}.") from None
    table = table.get("run", table)
    return {key.replace("-", "_"): value for key, value in table.items()}


def _cmd_run(args, argv) -> int:
    from ._run import run

    config = _run_config(args, argv)
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
    from ._errors import RunStateError
    from ._io import atomic_path
    from ._run import predict

    out = Path(args.out)
    if out.is_dir():
        raise RunStateError(f"--out {args.out!r} is a folder; name a CSV file.")
    frame = predict(args.run_dir, args.data, data_dir=args.data_dir)
    with atomic_path(out, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)
    print(f"{len(frame):,} rows scored -> {out}")
    return 0


def _cmd_inspect(args) -> int:
    from .datasets import describe_imbalance, load_data

    data = load_data(args.data, target=args.target, positive=args.positive, data_dir=args.data_dir)
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
    if not (run_dir / "metrics.json").exists():
        raise RunStateError(f"{args.run_dir!r} is not a finished raretune run (no metrics.json).")
    print(write_report(run_dir))
    return 0


def _cmd_remedies() -> int:
    from .tuning._remedies import DEFAULT_STRATEGIES, REMEDIES

    width = max(len(n) for n in REMEDIES)
    for name, remedy in REMEDIES.items():
        default = " (default)" if name in DEFAULT_STRATEGIES else ""
        print(f"{name:<{width}}  {remedy.summary}{default}")
        print(f"{'':<{width}}  when: {remedy.when}")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``raretune`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from sklearn.utils._param_validation import InvalidParameterError

    from ._errors import RaretuneError

    verbose = getattr(args, "verbose", False)
    if args.command in ("run", "predict", "inspect"):
        _quiet_libraries(verbose)
    try:
        with warnings.catch_warnings():
            if not verbose:
                # raretune's own warnings (a remedy's fallback, ...) as one line; library
                # deprecation notices are not for the person running the command
                warnings.showwarning = _show_warning
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
            return _dispatch(args, argv)
    except (RaretuneError, InvalidParameterError) as exc:
        print(f"raretune: error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("raretune: interrupted; finished trials are kept (continue with --resume)", file=sys.stderr)
        return 130


def _dispatch(args, argv) -> int:
    if args.command == "run":
        return _cmd_run(args, argv)
    if args.command == "predict":
        return _cmd_predict(args)
    if args.command == "inspect":
        return _cmd_inspect(args)
    if args.command == "report":
        return _cmd_report(args)
    return _cmd_remedies()


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
