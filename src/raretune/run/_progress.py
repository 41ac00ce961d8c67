"""What the run tells the person waiting: one line per step, and the seconds of every phase."""

from __future__ import annotations

import contextlib
import sys
import time

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
    """

    def __init__(self, *, quiet: bool = False, verbose: bool = False, clock=time.monotonic):
        self.quiet = quiet
        self.verbose = verbose
        self.clock = clock
        self.started = clock()
        self.timing = {}

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

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return self.clock() - self.started
