"""Rates and intervals, standardisation, rate GLMs, funnel limits, Lexis splits,
survival (Kaplan-Meier, Aalen-Johansen, Cox) and curves safe to release."""

from __future__ import annotations

from kprlink.stats.curve_release import release_curve, release_risk_table
from kprlink.stats.intervals import proportion_ci, rate_ci, rate_ratio
from kprlink.stats.lexis import split_lexis, tabulate_person_time
from kprlink.stats.models import ContactRateResult, contact_rate_glm, funnel_limits
from kprlink.stats.rates import add_proportions, add_rates, standardise_direct
from kprlink.stats.survival import CoxResult, cox_model, cumulative_incidence, kaplan_meier

__all__: list[str] = [
    "ContactRateResult",
    "CoxResult",
    "add_proportions",
    "add_rates",
    "contact_rate_glm",
    "cox_model",
    "cumulative_incidence",
    "funnel_limits",
    "kaplan_meier",
    "proportion_ci",
    "rate_ci",
    "rate_ratio",
    "release_curve",
    "release_risk_table",
    "split_lexis",
    "standardise_direct",
    "tabulate_person_time",
]
