"""Progress keeps, per phase, its seconds and the process's peak memory when it ended."""

import pytest

from raretune.run._progress import Progress


def test_each_phase_records_its_seconds_and_the_peak_at_its_end():
    now, peak = [0.0], [100 * 2**20]
    progress = Progress(quiet=True, clock=lambda: now[0], peak_memory=lambda: peak[0])
    with progress.phase("load"):
        now[0] += 2.0
        peak[0] = 300 * 2**20
    with progress.phase("search"):
        now[0] += 5.0
    with progress.phase("load"):  # a phase run twice adds its seconds; its peak is the later one
        now[0] += 1.0
        peak[0] = 450 * 2**20
    assert progress.timing == {"load": 3.0, "search": 5.0}
    assert progress.peak_mb == {"load": 450.0, "search": 300.0}
    assert progress.peak_now() == 450.0


def test_a_failing_phase_still_records_and_no_peak_where_the_platform_has_none():
    progress = Progress(quiet=True, clock=iter([0.0, 1.0, 4.0]).__next__, peak_memory=lambda: None)
    with pytest.raises(RuntimeError), progress.phase("test"):
        raise RuntimeError("boom")
    assert progress.timing == {"test": 3.0}
    assert progress.peak_mb == {} and progress.peak_now() is None


def test_the_default_reads_this_process():
    progress = Progress(quiet=True)
    with progress.phase("allocate"):
        block = bytearray(64 * 2**20)  # touched, so resident
        block[::4096] = b"x" * len(block[::4096])
    assert progress.peak_mb["allocate"] >= 64
