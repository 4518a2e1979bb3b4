"""Crosstabs with margins and Table 1, released through disclosure control."""

from __future__ import annotations

from kprlink.tables.crosstab import ReleasedRates, crosstab, release_crosstab, release_rates
from kprlink.tables.table1 import (
    ReleasedTableOne,
    TableOne,
    release_quantiles,
    release_table_one,
    standardised_difference,
    table_one,
)

__all__: list[str] = ["ReleasedRates", "ReleasedTableOne", "TableOne", "crosstab",
                      "release_crosstab", "release_quantiles", "release_rates",
                      "release_table_one", "standardised_difference", "table_one"]
