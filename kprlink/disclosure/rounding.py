"""Rounding to base 3 or 5 as an alternative to suppression, re-checked after rounding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kprlink.disclosure._model import build_model
from kprlink.disclosure._cells import check_counts
from kprlink.disclosure.secondary import model_matrix
from kprlink.exceptions import ReleaseRefusedError, SpecError


@dataclass(frozen=True)
class RoundingResult:
    """Outcome of :func:`round_table`.

    Attributes
    ----------
    table : pandas.DataFrame
        Full table: dims, the true count, ``rounded``. Never release it.
    released : pandas.DataFrame
        dims and the rounded count (margins are sums of rounded inner cells).
    problems : list of str
        Re-check failures; empty when the table may be released.
    """

    table: pd.DataFrame
    released: pd.DataFrame
    base: int
    max_n: int
    problems: list[str]
    count_col: str = "n"

    @property
    def ok(self) -> bool:
        return not self.problems

    def release_log(self) -> dict[str, object]:
        """JSON-able record for the output checker (rounded values only)."""
        from kprlink.disclosure.release import _version

        dims = [c for c in self.released.columns if c != self.count_col]
        cells = [{**{d: str(r[d]) for d in dims}, "value": int(r[self.count_col])}
                 for _, r in self.released.iterrows()]
        return {"name": " x ".join(dims), "kprlink_version": _version(),
                "method": f"random rounding to base {self.base}", "dims": dims,
                "count_col": self.count_col, "rule": {"base": self.base, "max_n": self.max_n},
                "release_ok": self.ok, "refusal_reasons": list(self.problems),
                "n_cells": len(self.released), "cells": cells}

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        return f"<RoundingResult base {self.base}: {len(self.table):,} cells; re-check {state}>"


def round_table(
    cells: pd.DataFrame,
    dims: Sequence[str],
    *,
    count_col: str,
    base: int,
    max_n: int,
    hierarchies: Mapping[str, Mapping[object, object]] | None = None,
    seed: int = 0,
) -> RoundingResult:
    """Round inner cells to a multiple of `base` (unbiased random rounding); margins add up.

    A count ``x`` becomes ``base*floor(x/base)`` or the next multiple, up with probability
    ``(x mod base)/base``, so the expectation is ``x``; multiples stay. Margins are sums of
    the rounded inner cells, so the table is additive and a user knows each inner cell
    only to within ``rounded +- (base - 1)``. The rounded table is then re-checked: no
    released count may lie in ``1..max_n`` (so `base` must exceed `max_n`).

    Raises
    ------
    SpecError
        If `base` is not 2..100 or `max_n` is negative.

    Examples
    --------
    >>> cells = pd.DataFrame({"g": list("abc"), "n": [1, 7, 10]})
    >>> res = round_table(cells, ["g"], count_col="n", base=5, max_n=4)
    >>> res.ok, res.released["n"].tolist()[1:]
    (True, [0, 10, 10])
    """
    if isinstance(base, bool) or not isinstance(base, int) or not 2 <= base <= 100:
        raise SpecError(f"round_table(base={base!r}): invalid base.",
                        [f"base must be an int in 2..100, got {base!r}"])
    if isinstance(max_n, bool) or not isinstance(max_n, int) or max_n < 0:
        raise SpecError(f"round_table(max_n={max_n!r}): invalid max_n.",
                        [f"max_n must be an int >= 0, got {max_n!r}"])
    counts = check_counts(cells, list(dims), count_col, [])
    rng = np.random.default_rng(seed)
    low = (counts // base) * base
    up = rng.random(len(counts)) < (counts - low) / base
    rounded_inner = low + up * base
    model = build_model(cells, dims, hierarchies=hierarchies)
    x = model_matrix(model)
    true = x @ counts
    rounded = x @ rounded_inner
    table = model.cells[list(dims)].copy()
    table[count_col] = true
    table["rounded"] = rounded
    released = model.cells[list(dims)].copy()
    released[count_col] = rounded
    problems = []
    small = (rounded >= 1) & (rounded <= max_n)
    if small.any():
        problems.append(f"{int(small.sum())} rounded count(s) in 1..{max_n}: base {base} "
                        f"must exceed max_n={max_n}")
    return RoundingResult(table=table, released=released, base=base, max_n=max_n,
                          problems=problems, count_col=count_col)


def release_rounded(res: RoundingResult) -> pd.DataFrame:
    """The released rounded table, refusing one that failed its re-check.

    Raises
    ------
    ReleaseRefusedError
        With the re-check problems.
    """
    if not res.ok:
        raise ReleaseRefusedError("release refused: rounded table failed its re-check.",
                                  res.problems)
    return res.released.copy()
