"""Crosstabs with margins, and their release through disclosure control.

Everything released here goes through ``kl.suppress_table``: counts come back NA
where suppressed, and shares are computed only from released counts.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kprlink.exceptions import MissingColumnsError, SpecError
from kprlink.stats.intervals import proportion_ci

__all__ = ["crosstab", "release_crosstab", "release_rates", "ReleasedRates", "TOTAL"]

#: Margin label used by disclosure control.
TOTAL = "Total"


def _suppress_table() -> Any:
    """kprlink's disclosure control (imported late: the two subpackages are peers)."""
    from kprlink.disclosure import suppress_table

    return suppress_table


_require = MissingColumnsError.require


def _levels(s: pd.Series, missing_label: str) -> tuple[pd.Series, list[object]]:
    has_na = bool(s.isna().any())
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = list(s.cat.categories)
        if has_na:
            s = s.cat.add_categories([missing_label]).fillna(missing_label)
            cats.append(missing_label)
        return s, cats
    values = s.astype(object).where(s.notna(), missing_label)
    levels = [v for v in pd.unique(values) if v != missing_label]
    try:
        levels = sorted(levels)
    except TypeError:
        pass
    if has_na:
        levels.append(missing_label)
    return values, levels


def crosstab(df: pd.DataFrame, *, dims: Sequence[str], count_col: str | None = None,
             margins: bool = False, missing_label: str = "Unknown",
             out_col: str = "n") -> pd.DataFrame:
    """Count rows (or sum `count_col`) over every combination of `dims`.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per person (or per group with `count_col`). Not modified.
    dims : sequence of str
        Row and column dimensions; categoricals keep all their categories, so
        empty combinations appear with 0.
    count_col : str, optional
        Sum this column instead of counting rows.
    margins : bool, default False
        Add every margin (label ``"Total"``). Unprotected: for internal use; use
        :func:`release_crosstab` for anything that leaves the secure zone.
    missing_label : str, default "Unknown"
        NA values of a dimension are counted under this label, never dropped.
    out_col : str, default "n"
        Name of the count column.

    Returns
    -------
    pandas.DataFrame
        One row per cell (dims as ordered categoricals, then `out_col`).

    Raises
    ------
    MissingColumnsError
        If a column is missing.
    SpecError
        If `dims` is empty or a dimension uses the label ``"Total"``.

    Examples
    --------
    >>> df = pd.DataFrame({"sex": ["female", "male", "female", None]})
    >>> crosstab(df, dims=["sex"])["n"].tolist()
    [2, 1, 1]
    """
    dims = list(dims)
    if not dims:
        raise SpecError("crosstab(): give at least one dimension.", ["dims is empty"])
    _require(df, dims + ([count_col] if count_col else []), "crosstab")
    work = pd.DataFrame(index=df.index)
    levels: dict[str, list[object]] = {}
    for d in dims:
        work[d], levels[d] = _levels(df[d], missing_label)
        if TOTAL in levels[d]:
            raise SpecError(f"crosstab(): dimension {d!r} has a level {TOTAL!r}, the margin "
                            "label.", [f"{d}: level {TOTAL!r}"])
    work["_v"] = 1 if count_col is None else df[count_col]
    grid = pd.DataFrame(list(itertools.product(*(levels[d] for d in dims))), columns=dims)
    keyed = work.astype({d: object for d in dims})
    sums = keyed.groupby(dims, sort=False, dropna=False)["_v"].sum()
    out = grid.merge(sums.rename(out_col).reset_index(), on=dims, how="left")
    out[out_col] = out[out_col].fillna(0)
    if count_col is None or pd.api.types.is_integer_dtype(df[count_col]):
        out[out_col] = out[out_col].astype("int64")
    if margins:
        parts = [out]
        for k in range(1, len(dims) + 1):
            for summed in itertools.combinations(dims, k):
                keep = [d for d in dims if d not in summed]
                if keep:
                    g = out.groupby(keep, sort=False)[out_col].sum().reset_index()
                else:
                    g = pd.DataFrame({out_col: [out[out_col].sum()]})
                for d in summed:
                    g[d] = TOTAL
                parts.append(g[dims + [out_col]])
        out = pd.concat(parts, ignore_index=True)
        for d in dims:
            levels[d] = [TOTAL, *levels[d]]
    for d in dims:
        out[d] = pd.Categorical(out[d], categories=levels[d], ordered=True)
    return out.sort_values(dims, kind="stable").reset_index(drop=True)


def release_crosstab(df: pd.DataFrame, *, dims: Sequence[str], rule: Any,
                     count_col: str | None = None, missing_label: str = "Unknown",
                     audit: bool = True) -> Any:
    """Crosstab of `df` with every margin, protected by ``kl.suppress_table``.

    Parameters
    ----------
    df : pandas.DataFrame
        Person-level rows. Not modified.
    dims : sequence of str
        Dimensions of the table.
    rule : SuppressionRule
        Primary suppression rule (``kl.SuppressionRule``).
    count_col : str, optional
        Sum this column (whole numbers) instead of counting rows.
    missing_label : str, default "Unknown"
        Label for NA dimension values (counted, never dropped).
    audit : bool, default True
        Run the disclosure audit.

    Returns
    -------
    SuppressionResult
        ``.released`` (counts NA where suppressed, margins ``"Total"``),
        ``.table`` (true counts and status; keep inside the secure zone).
    """
    inner = crosstab(df, dims=dims, count_col=count_col, missing_label=missing_label)
    return _suppress_table()(inner, list(dims), count_col="n", rule=rule, audit=audit)


@dataclass(frozen=True, eq=False)
class ReleasedRates:
    """Shares computed from released counts only.

    Attributes
    ----------
    released : pandas.DataFrame
        dims (with ``"Total"`` margins), count (NA where suppressed), denominator,
        ``status``, ``share``, ``share_lower``, ``share_upper`` (NA where suppressed).
    suppression : SuppressionResult
        The disclosure-control result (release log, audit).
    """

    released: pd.DataFrame
    suppression: Any
    #: Inner cells (their dims) whose count exceeded the denominator; suppressed
    #: (``exceeding="suppress"``).
    exceeding: pd.DataFrame | None = None

    def __repr__(self) -> str:
        n_hidden = int(self.released["share"].isna().sum())
        return f"<ReleasedRates {len(self.released):,} cells, {n_hidden:,} shares hidden>"

    def summary(self) -> pd.DataFrame:
        """Number of cells per status."""
        return self.suppression.summary()


#: Reason of a cell whose count exceeds its denominator (``exceeding="suppress"``).
_OVER = "count_exceeds_denominator"


def release_rates(cells: pd.DataFrame, *, dims: Sequence[str], rule: Any,
                  count_col: str = "n", denom_col: str = "population", scale: float = 100.0,
                  level: float = 0.95, method: str = "wilson",
                  audit: bool = True, exceeding: str = "error") -> ReleasedRates:
    """Release counts and shares (e.g. percent with dementia) per cell and margin.

    Parameters
    ----------
    cells : pandas.DataFrame
        Inner cells: `dims`, the numerator `count_col` and the denominator
        `denom_col` (whole numbers, e.g. population on 1 January). Not modified.
    dims : sequence of str
        Dimensions.
    rule : SuppressionRule
        Primary rule; with ``protect_differences`` the complement
        ``denominator - count`` is protected too.
    count_col, denom_col : str
        Column names.
    scale : float, default 100
        100 for percent, 1000 per thousand.
    level : float, default 0.95
        Confidence level (Wilson, or ``method="exact"``).
    method : {"wilson", "exact"}
        Interval method.
    audit : bool, default True
        Run the disclosure audit.
    exceeding : {"error", "suppress"}, default "error"
        A cell whose count exceeds its denominator (persons counted where they
        lived at the event, the population on 1 January: in a small
        municipality the two differ): ``"error"`` refuses the table;
        ``"suppress"`` makes such cells primary (reason
        ``count_exceeds_denominator``, protected by secondary suppression like
        any other) and lists them in ``ReleasedRates.exceeding``. A shown
        margin whose count exceeds its denominator gets no share.

    Returns
    -------
    ReleasedRates

    Raises
    ------
    MissingColumnsError
        If a column is missing.
    SpecError
        If a denominator is not a whole number, or smaller than its count.

    Examples
    --------
    >>> from kprlink.disclosure import SuppressionRule
    >>> cells = pd.DataFrame({"sex": ["female", "male"], "n": [3, 40],
    ...                       "population": [100, 120]})
    >>> rr = release_rates(cells, dims=["sex"], rule=SuppressionRule(max_n=4))
    >>> rr.released[["sex", "n", "share"]].round(2).values.tolist()
    [['Total', 43, 19.55], ['female', <NA>, nan], ['male', <NA>, nan]]
    """
    dims = list(dims)
    _require(cells, dims + [count_col, denom_col], "release_rates")
    den = pd.to_numeric(cells[denom_col], errors="coerce")
    num = pd.to_numeric(cells[count_col], errors="coerce")
    problems = []
    if not getattr(rule, "protect_differences", True):
        problems.append("rule.protect_differences is False: a published denominator "
                        "and share would reveal small complements (denominator - count)")
    if den.isna().any() or (den != np.round(den)).any():
        problems.append(f"{denom_col} must hold whole numbers (round mid-period "
                        "denominators explicitly first)")
    if exceeding not in ("error", "suppress"):
        raise SpecError(f"release_rates(exceeding={exceeding!r}): use 'error' or 'suppress'.",
                        [f"exceeding={exceeding!r}"])
    over = (num > den).fillna(False).to_numpy(bool)
    if over.any() and exceeding == "error":
        cells_over = cells.loc[over, dims].astype(str).agg("; ".join, axis=1).tolist()
        problems.append(f"{int(over.sum())} cell(s) have {count_col} > {denom_col} "
                        f"({', '.join(cells_over[:10])}); pass exceeding='suppress' to "
                        "suppress them instead")
    if problems:
        raise SpecError("release_rates(): invalid cells.", problems)
    inner = cells[dims + [count_col, denom_col]].copy()
    inner[denom_col] = den.round().astype("int64")
    flag = None
    if over.any():
        flag = _OVER
        inner[flag] = over
    res = _suppress_table()(inner, dims, count_col=count_col, rule=rule, audit=audit,
                            denominator_col=denom_col, primary_col=flag)
    out = res.released.copy()
    k = out[count_col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    n = out[denom_col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        shown = out[count_col].notna().to_numpy() & ~(k > n)
    ci = proportion_ci(np.where(shown, k, np.nan), n, level=level,
                       method=method)  # type: ignore[arg-type]
    out["share"] = ci["proportion"].to_numpy() * scale
    out["share_lower"] = ci["lower"].to_numpy() * scale
    out["share_upper"] = ci["upper"].to_numpy() * scale
    return ReleasedRates(out, res, exceeding=cells.loc[over, dims].reset_index(drop=True)
                         if over.any() else None)
