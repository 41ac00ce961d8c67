"""The run report: plots, bootstrap intervals and one self-contained HTML page.

:func:`write_report` turns a run folder (see ``docs/run-folder.md``) into ``report.html``;
:func:`bootstrap_intervals` gives the stratified bootstrap intervals stored under
``test.intervals`` in ``metrics.json``; :func:`decision_intervals` gives Wilson intervals for
precision, recall and alert rate at the threshold.
"""

from ._intervals import bootstrap_intervals, decision_intervals
from ._write import write_report

__all__ = ["bootstrap_intervals", "decision_intervals", "write_report"]
