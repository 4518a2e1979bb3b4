"""kprlink.disclosure: primary rules, secondary suppression, LP audit, rounding, release log.

See ``docs/methods/disclosure.md``.
"""

from __future__ import annotations

from kprlink.disclosure.audit import audit_intervals
from kprlink.disclosure.release import Release, ReleaseLog, write_release_log
from kprlink.disclosure.rules import DominanceRule, PPercentRule, SuppressionRule
from kprlink.disclosure.secondary import SuppressionResult, suppress_table

__all__: list[str] = [
    "DominanceRule",
    "PPercentRule",
    "Release",
    "ReleaseLog",
    "SuppressionResult",
    "SuppressionRule",
    "audit_intervals",
    "suppress_table",
    "write_release_log",
]
