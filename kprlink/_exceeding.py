"""Cells with more persons than their population: suppressed, counted, never an abort.

A rate table counts persons where they lived at the event (the municipality of
residence at the index date) and divides by the population on the reference
date (SSB 07459, 1 January). In a small municipality people move in between,
so a cell can count more persons than its population; real deliveries do this
too. The study runner suppresses such cells (``release_rates(...,
exceeding="suppress")``: primary, reason ``count_exceeds_denominator`` in the
checker's release log), logs the table and cells (dimension values only, never
a person), and says in the report how many cells of the table were concerned.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

__all__: list[str] = []

log = logging.getLogger("kprlink.study")


def exceeding_cells(at: Any) -> list[str]:
    """Labels (``dim=value; …``) of the inner cells of `at` whose count exceeds the population.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> at = SimpleNamespace(dims=("m",), count_col="n",
    ...     cells=pd.DataFrame({"m": ["0301", "5061"], "n": [40, 4]}),
    ...     population=pd.DataFrame({"m": ["0301", "5061"], "population": [900, 3]}))
    >>> exceeding_cells(at)
    ['m=5061']
    """
    if at.population is None:
        return []
    dims = list(at.dims)
    cells = at.cells[[*dims, at.count_col]].astype({d: "string" for d in dims})
    pop = at.population[[*dims, "population"]].astype({d: "string" for d in dims})
    both = cells.merge(pop, on=dims, how="inner")
    n = pd.to_numeric(both[at.count_col], errors="coerce")
    den = pd.to_numeric(both["population"], errors="coerce")
    over = both.loc[(n > den).fillna(False).to_numpy(bool), dims]
    return ["; ".join(f"{d}={v}" for d, v in zip(dims, row, strict=True))
            for row in over.itertuples(index=False)]


def exceeding_note(table: str, at: Any, *, ref_date: object) -> str:
    """Log the cells of `table` with more persons than population; the report's sentence.

    Returns ``""`` when there are none. The sentence gives only how many
    cells (the log, which stays inside, names them).
    """
    over = exceeding_cells(at)
    if not over:
        return ""
    log.warning("table %s: %d cell(s) count more persons than their population on %s "
                "(residence at the event differs from residence on that date); they are "
                "suppressed: %s", table, len(over), ref_date, ", ".join(over))
    return (f" {len(over)} cell(s) counted more persons than their population on {ref_date} "
            "(residence at the event differs from residence on that date); they are "
            "suppressed, and their shares are not shown.")
