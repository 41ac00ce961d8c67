"""What the run tells the person waiting: one line per step, and the seconds of every phase."""

from __future__ import annotations

import contextlib
import sys
import time

try:
    import resource
except ImportError:  # Windows: no getrusage, so no peak memory per phase
    resource = None

__all__ = ["Progress"]


class Progress:
    """Progress lines on standard error (``[raretune] ...``) and per-phase timing.

    Parameters
    ----------
    quiet : bool
        Print nothing (timings are still kept).
    verbose : bool
        Also print the lines marked ``verbose_only``.
    clock : callable
        Monotonic seconds (a test may pass a fake clock).
    peak_memory : callable, optional
        The process's peak resident memory so far, in bytes (default: ``getrusage``; ``None``
        where the platform has none). A test may pass a fake.

    Attributes
    ----------
    timing : dict
        Seconds per phase.
    peak_mb : dict
        Per phase, the process's peak resident memory (MB) when the phase ended: the peak only
        ever grows, so the first phase whose figure jumps is the one that raised it.
    """

    def __init__(self, *, quiet: bool = False, verbose: bool = False, clock=time.monotonic, peak_memory=None):
        self.quiet = quiet
        self.verbose = verbose
        self.clock = clock
        self.peak_memory = peak_memory if peak_memory is not None else _peak_resident_bytes
        self.started = clock()
        self.timing = {}
        self.peak_mb = {}

    def say(self, message: str, *, verbose_only: bool = False) -> None:
        """Print one line, unless quiet (or verbose-only while not verbose)."""
        if self.quiet or (verbose_only and not self.verbose):
            return
        print(f"[raretune] {message}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def phase(self, name: str, message: str | None = None):
        """Time a phase (seconds add up if it runs twice); announce it with ``message``."""
        if message:
            self.say(message)
        begun = self.clock()
        try:
            yield
        finally:
            self.timing[name] = self.timing.get(name, 0.0) + self.clock() - begun
            peak = self.peak_now()
            if peak is not None:
                self.peak_mb[name] = peak

    def peak_now(self) -> float | None:
        """The process's peak resident memory so far, in MB (``None`` where unknown)."""
        peak = self.peak_memory()
        return None if peak is None else round(peak / 2**20, 1)

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return self.clock() - self.started


def _peak_resident_bytes() -> int | None:
    if resource is None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports kilobytes, macOS bytes
