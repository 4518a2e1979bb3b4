"""Crosstabs with margins, released through disclosure control."""

from __future__ import annotations

from kprlink.tables.crosstab import ReleasedRates, crosstab, release_crosstab, release_rates

__all__: list[str] = ["ReleasedRates", "crosstab", "release_crosstab", "release_rates"]
