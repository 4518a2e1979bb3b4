"""Rates and intervals, direct standardisation, contact-rate GLMs, funnel limits."""

from __future__ import annotations

from kprlink.stats.intervals import proportion_ci, rate_ci, rate_ratio
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
    "standardise_direct",
]
