"""kprlink.cohorts: events, declarative cohort definitions, the builder and attrition."""

from __future__ import annotations

from kprlink.cohorts._comorbidity import ComorbidityIndex, add_comorbidity
from kprlink.cohorts._followup import (
    EXIT_REASONS,
    FollowUp,
    add_follow_up,
)
from kprlink.cohorts._matching import MatchResult, match_risk_set
from kprlink.cohorts._model_links import LinkageOptions
from kprlink.cohorts._outcomes import (
    add_outcomes,
    admission_events,
    death_events,
    service_events,
)
from kprlink.cohorts._threshold import (
    ThresholdSensitivity,
    cohort_threshold_sensitivity,
)
from kprlink.cohorts.build import (
    CohortResult,
    build_cohort,
    build_incident_cohort,
    cohort_columns,
)
from kprlink.cohorts.definition import (
    ATTRIBUTES,
    RULE_KINDS,
    CohortDefinition,
    CohortRule,
    EntryCriterion,
)
from kprlink.cohorts.events import EVENT_COLUMNS, diagnosis_events

__all__ = ["ATTRIBUTES", "EVENT_COLUMNS", "EXIT_REASONS", "RULE_KINDS", "FollowUp",
           "add_follow_up", "build_incident_cohort", "ComorbidityIndex", "add_comorbidity",
           "MatchResult", "match_risk_set", "add_outcomes", "admission_events", "death_events",
           "service_events", "CohortDefinition", "CohortResult",
           "CohortRule", "EntryCriterion", "build_cohort", "cohort_columns",
           "diagnosis_events", "LinkageOptions", "ThresholdSensitivity",
           "cohort_threshold_sensitivity"]
