"""``raretune`` command line: a thin shell over the public Python API.

Every user error (bad data, bad option, a run folder in the wrong state) prints one line,
``raretune: error: ...``, and exits with status 2; nothing in an existing run is changed.
``--help``, ``remedies`` and option errors answer without importing TensorFlow.
"""

from __future__ import annotations

import os
import sys
import warnings

from ._commands import COMMANDS, cmd_remedies, cmd_run
from ._config_file import read_toml, run_config
from ._parser import build_parser
from ._quiet import needs_tensorflow, quiet_libraries, show_warning

__all__ = ["build_parser", "main", "read_toml", "run_config"]


def main(argv=None) -> int:
    """Entry point of the ``raretune`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .._errors import RaretuneError

    verbose = bool(getattr(args, "verbose", False))
    try:
        if args.command == "remedies":
            return cmd_remedies()
        if args.command == "run":
            config = run_config(args, argv)  # option and config-file errors answer before TensorFlow loads
            config.validated()
        loads_tensorflow = ("run", "predict", "export", "finish-worker")
        if args.command in loads_tensorflow or (args.command == "inspect" and needs_tensorflow(args.data)):
            quiet_libraries(verbose)
        with warnings.catch_warnings():
            if not verbose:
                # raretune's own warnings (a remedy's fallback, ...) as one line; library
                # deprecation notices are not for the person running the command
                warnings.showwarning = show_warning
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
            try:
                return cmd_run(args, argv) if args.command == "run" else COMMANDS[args.command](args)
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


def _is_sklearn_parameter_error(exc: Exception) -> bool:
    """scikit-learn's parameter check failed (only possible once scikit-learn is loaded)."""
    validation = sys.modules.get("sklearn.utils._param_validation")
    return validation is not None and isinstance(exc, validation.InvalidParameterError)


class _OneLine(Exception):
    """A library's parameter error, shown as one line like raretune's own."""
