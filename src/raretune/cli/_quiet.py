"""Library noise kept off a CLI user's terminal: TensorFlow's start-up lines, warnings' source lines."""

from __future__ import annotations

import os
import sys

__all__ = ["needs_tensorflow", "quiet_libraries", "show_warning"]


def needs_tensorflow(data) -> bool:
    """Only a TFDS dataset needs TensorFlow to be read; CSV and Parquet files do not."""
    return str(data).startswith("tfds:")


def show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one ``[raretune] warning:`` line, without the library's source line."""
    print(f"[raretune] warning: {str(message).strip().splitlines()[0]}", file=sys.stderr)


def quiet_libraries(verbose: bool) -> None:
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
