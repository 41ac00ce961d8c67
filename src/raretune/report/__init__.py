"""The run report: plots, bootstrap intervals and one self-contained HTML page.

:func:`write_report` turns a run folder (see ``docs/run-folder.md``) into ``report.html``;
:func:`bootstrap_intervals` gives the stratified bootstrap intervals stored under
``test.intervals`` in ``metrics.json`` (the Wilson intervals at the decision come from
:func:`raretune.intervals.decision_intervals`). :func:`report_seconds_estimate` times one
figure to say how long the report will take on this machine now (a time-limited run keeps that
much for it).
"""

from ._intervals import bootstrap_intervals
from ._write import report_seconds_estimate, write_report

__all__ = ["bootstrap_intervals", "report_seconds_estimate", "write_report"]
