"""A study table's figure: which plot draws it, with what labels, orders and names.

The figure is drawn from the released table only (suppressed cells NA), with
the county and municipality names of the delivery's Klass names file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kprlink import _atomic, _report
from kprlink._studyspec import TableSpec
from kprlink.analyses import AnalysisTable, CurveTable

__all__ = ["place_names", "write_figure"]

TOTAL = "Total"


def place_names(data_dir: Path) -> dict[str, dict[str, str]]:
    """County and municipality names from the delivery's Klass names file, if any."""
    import kprlink as kl

    path = data_dir / "klass_navn.csv"
    return kl.read_place_names(path) if path.is_file() else {}


def write_figure(t: TableSpec, at: AnalysisTable | CurveTable, table: pd.DataFrame, tmp: Path,
                 symbol: str = ":", names: dict[str, dict[str, str]] | None = None
                 ) -> list[str]:
    """Draw and save table `t`'s figure (PNG and SVG) from its released `table`.

    Returns the paths written, relative to the release folder (none without a figure).
    """
    if t.figure is None:
        return []
    import kprlink as kl

    if isinstance(at, CurveTable):
        fig = _report.curve_figure(table, group_col=at.group_col, title=t.title)
        paths = _atomic.save_figure(fig, tmp / "figures" / t.name)
        return [f"figures/{p.name}" for p in paths]
    value = "share_pct" if "share_pct" in table else at.count_col
    # the plots mark suppressed cells from a status column (never written out)
    table = table.assign(status=table[at.count_col].isna().map(
        {True: "suppressed", False: "published"}))
    if t.figure == "share_by_age_sex":
        fig = kl.plot_share_by_age_sex(table, age_col=at.dims[0], sex_col=at.dims[1],
                                       share_col="share_pct", title=t.title)
    elif t.figure == "trend":
        from kprlink.plots.trend import plot_trend

        fig = plot_trend(table, value_col="per_1000" if "per_1000" in table else value,
                         title=t.title, symbol=symbol, value_label="Per 1,000 population")
    elif t.figure == "funnel":
        fig = kl.plot_funnel(table, count_col=at.count_col, label_col=at.dims[0],
                             title=t.title, xlabel="Population (persons, SSB 07459)")
    else:
        dims = [d for d in at.dims if d != at.share_within]
        shown = table if at.share_within is None else table[table[at.share_within] == "yes"]
        if at.share_within is not None and not len(shown):
            shown = table[table[at.share_within] != TOTAL]
            dims = list(at.dims)
        orders = {d: [str(c) for c in at.cells[d].cat.categories] for d in dims
                  if d in at.cells and isinstance(at.cells[d].dtype, pd.CategoricalDtype)}
        unit = ("Percent" if at.share_within is None else "Percent of all in the table"
                if dims == [at.share_within] else "Percent of the group's total")
        fig = kl.plot_bars(shown, dims=dims, value_col=value, title=t.title, symbol=symbol,
                           names=names, orders=orders,
                           value_label=unit if value == "share_pct" else None)
    fig = getattr(fig, "figure", fig)
    paths = _atomic.save_figure(fig, tmp / "figures" / t.name)
    return [f"figures/{p.name}" for p in paths]
