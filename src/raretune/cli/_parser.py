"""The ``raretune`` argument parser: commands, options and their help."""

from __future__ import annotations

import argparse

__all__ = ["build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"raretune: error: {message} (see '{self.prog} --help')\n")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """The ``run`` flags; each ``dest`` is a :class:`RunConfig` field (``--no-X`` sets ``X`` false)."""
    from ..run._config import CANDIDATE_FAMILIES, DEFAULT_DATA

    data = p.add_argument_group("data")
    data.add_argument("--data", help=f"tfds:NAME[/CONFIG][:SPLIT], a .csv or .parquet file, or a folder or glob of "
                      f"Parquet or TFDS TFRecord shards, streamed (default: {DEFAULT_DATA})")
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
    data.add_argument("--memory-budget", help="sharded data (Parquet or TFRecord shards): memory for the in-memory sample, "
                      "e.g. 2GiB (default: an eighth of the available memory)")
    data.add_argument("--id-column", help="sharded data: the column whose hash decides each row's part")
    data.add_argument("--finish-epochs", type=int, metavar="N",
                      help="sharded data: train the chosen networks N more epochs over every training row, "
                           "streamed (default 0)")
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
    for option, family in CANDIDATE_FAMILIES:
        search.add_argument(f"--no-{option.replace('_', '-')}", dest=option, action="store_false", default=None,
                            help=f"with cross-fitting, leave {family} out of the ensemble's candidates")
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
    from .._version import __version__

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
    p_fin = sub.add_parser("finish-worker", help="a TF_CONFIG task that joins the chief's run --finish-epochs")
    p_fin.add_argument("run_dir", help="the chief's --out folder, on shared storage")
    p_fin.add_argument("--quiet", action="store_true", help="no line per finished network")
    return parser
