"""kprlink.cohorts: events, declarative cohort definitions, the builder and attrition."""

from __future__ import annotations

from kprlink.cohorts.build import CohortResult, build_cohort
from kprlink.cohorts.definition import (
    ATTRIBUTES,
    RULE_KINDS,
    CohortDefinition,
    EntryCriterion,
    Rule,
)
from kprlink.cohorts.events import EVENT_COLUMNS, diagnosis_events

__all__ = ["ATTRIBUTES", "EVENT_COLUMNS", "RULE_KINDS", "CohortDefinition", "CohortResult",
           "EntryCriterion", "Rule", "build_cohort", "diagnosis_events"]
