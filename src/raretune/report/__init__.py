"""The run report: plots, bootstrap intervals and one self-contained HTML page.

:func:`write_report` turns a run folder (see ``docs/run-folder.md``) into ``report.html``;
:func:`bootstrap_intervals` gives the stratified bootstrap intervals stored under
``test.intervals`` in ``metrics.json`` (the Wilson intervals at the decision come from
:func:`raretune.operating.decision_intervals`).
"""

from ._intervals import bootstrap_intervals
from ._write import write_report

__all__ = ["bootstrap_intervals", "write_report"]
