"""kprlink.disclosure: primary rules, secondary suppression, LP audit, rounding, release log.

See ``docs/methods/disclosure.md``.
"""

from __future__ import annotations

from kprlink.disclosure.audit import audit_intervals, audit_table
from kprlink.disclosure.frequency import frequency_table
from kprlink.disclosure.linked import LinkedTable, suppress_linked_tables
from kprlink.disclosure.magnitude import suppress_magnitude_table
from kprlink.disclosure.release import Release, ReleaseLog, write_release_log
from kprlink.disclosure.render import render_table
from kprlink.disclosure.rounding import RoundingResult, release_rounded, round_table
from kprlink.disclosure.rules import DominanceRule, PPercentRule, SuppressionRule
from kprlink.disclosure.secondary import SuppressionResult, suppress_table

__all__: list[str] = [
    "DominanceRule",
    "PPercentRule",
    "Release",
    "ReleaseLog",
    "RoundingResult",
    "SuppressionResult",
    "SuppressionRule",
    "LinkedTable",
    "audit_intervals",
    "audit_table",
    "frequency_table",
    "release_rounded",
    "render_table",
    "round_table",
    "suppress_linked_tables",
    "suppress_magnitude_table",
    "suppress_table",
    "write_release_log",
]
