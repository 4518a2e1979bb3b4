"""Rates and intervals, standardisation, rate GLMs, funnel limits, Lexis splits."""

from __future__ import annotations

from kprlink.stats.intervals import proportion_ci, rate_ci, rate_ratio
from kprlink.stats.lexis import split_lexis, tabulate_person_time
from kprlink.stats.models import ContactRateResult, contact_rate_glm, funnel_limits
from kprlink.stats.rates import add_proportions, add_rates, standardise_direct

__all__: list[str] = [
    "ContactRateResult",
    "add_proportions",
    "add_rates",
    "contact_rate_glm",
    "funnel_limits",
    "proportion_ci",
    "rate_ci",
    "rate_ratio",
    "split_lexis",
    "standardise_direct",
    "tabulate_person_time",
]
