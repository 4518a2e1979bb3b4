"""Probabilistic (Fellegi–Sunter) linkage and deduplication of person records.

Used where the key file fails: persons missing from the key, temporary ids,
new ids after a legal change of sex, external cohorts without the pseudonym.
Records are blocked (several rules, unioned), compared on quasi-identifiers
with multi-level comparisons, and scored with m/u probabilities estimated by
EM over comparison patterns, or from keyed pairs when labels are given. See
``docs/methods/probabilistic_linkage.md``.

This module is the public face of the probabilistic linkage; the work is done
in ``_link`` (two files, one file), ``_registers`` (NPR↔KPR profiles, which
calls ``_link``) and ``model`` (a fitted model saved, loaded and applied).
Imports run one way: ``probabilistic`` -> ``_registers`` -> ``_link``.
"""

from __future__ import annotations

from kprlink.linkage._comparisons import (
    BirthMonthComparison,
    DateComparison,
    EventDatesComparison,
    EventWindowComparison,
    ExactComparison,
    NumericComparison,
    StringComparison,
)
from kprlink.linkage._link import deduplicate, link_probabilistic
from kprlink.linkage._registers import link_registers_probabilistic, person_profiles
from kprlink.linkage._result import ProbabilisticLinkResult
from kprlink.linkage._spec import LinkageSpec

__all__ = [
    "LinkageSpec",
    "ExactComparison",
    "StringComparison",
    "NumericComparison",
    "DateComparison",
    "EventDatesComparison",
    "EventWindowComparison",
    "BirthMonthComparison",
    "ProbabilisticLinkResult",
    "link_probabilistic",
    "deduplicate",
    "person_profiles",
    "link_registers_probabilistic",
]
