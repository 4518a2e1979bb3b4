"""Trend lines of a released yearly table: one panel per group, one line per sex.

Only released values are drawn. A suppressed point breaks its line and shows
the release symbol (``:``) at the foot of the panel in that year, so a gap is
never read as a zero.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kprlink.plots.figures import TOTAL, _check_released, _figure, _need

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_trend"]

_SEX = {"female": ("Women", "#b2182b"), "male": ("Men", "#2166ac"),
        TOTAL: ("Both sexes", "#4d4d4d")}


def plot_trend(released: pd.DataFrame, *, year_col: str = "year", value_col: str,
               line_col: str = "sex", panel_col: str | None = "age_band", title: str = "",
               value_label: str = "", symbol: str = ":") -> Figure:
    """Lines of `value_col` over `year_col`, by `line_col`, one panel per `panel_col`.

    Parameters
    ----------
    released : pandas.DataFrame
        Released table with a ``status`` column (NA values where suppressed),
        margins labelled ``Total``; the year margin is left out. Not modified.
    year_col, value_col, line_col, panel_col : str
        Columns of the year, the value drawn, the lines and the panels (None:
        one panel, the ``Total`` of nothing).
    title, value_label : str
        Figure title and y-axis label.
    symbol : str, default ":"
        The release symbol for a suppressed point.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> t = pd.DataFrame({"year": ["2017", "2018"] * 2, "sex": ["female"] * 2 + ["male"] * 2,
    ...                   "v": [1.0, None, 2.0, 2.5],
    ...                   "status": ["published", "primary", "published", "published"]})
    >>> fig = plot_trend(t, value_col="v", panel_col=None)
    >>> len(fig.axes)
    1
    """
    cols = [year_col, line_col, *([panel_col] if panel_col else [])]
    _need(released, cols, "plot_trend")
    _check_released(released, [value_col], "plot_trend")
    df = released[released[year_col].astype(str) != TOTAL]
    panels = ([TOTAL] if panel_col is None else
              list(pd.unique(df[panel_col].astype(str))))
    fig = _figure(figsize=(2.7 * len(panels) + 0.8, 3.4), dpi=100)
    # own y scale per panel: rates differ by an order of magnitude between age bands
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    years = sorted(pd.unique(df[year_col].astype(str)))
    x = np.arange(len(years))
    for ax, panel in zip(axes, panels, strict=True):
        sub = df if panel_col is None else df[df[panel_col].astype(str) == panel]
        hidden_years: set[int] = set()
        for line in pd.unique(sub[line_col].astype(str)):
            if line == TOTAL and sub[line_col].astype(str).nunique() > 1:
                continue
            ln = sub[sub[line_col].astype(str) == line].set_index(
                sub[sub[line_col].astype(str) == line][year_col].astype(str))
            y = pd.to_numeric(ln[value_col].reindex(years), errors="coerce").to_numpy(float)
            hid = (ln["status"].reindex(years).astype(str) != "published").to_numpy()
            label, colour = _SEX.get(line, (line, "#762a83"))
            ax.plot(x, np.where(hid, np.nan, y), marker="o", ms=3, color=colour, label=label)
            hidden_years |= {int(i) for i in np.flatnonzero(hid)}
        for i in sorted(hidden_years):
            ax.annotate(symbol, (x[i], 0), xycoords=("data", "axes fraction"),
                        xytext=(0, 2), textcoords="offset points", ha="center", fontsize=11)
        ax.set_title("All ages" if panel == TOTAL else str(panel), fontsize=9)
        ax.set_xticks(x, [y[-2:] for y in years], fontsize=7)
        ax.set_ylim(bottom=0)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", lw=0.3, color="#cccccc")
    axes[0].set_ylabel(value_label, fontsize=8)
    axes[-1].legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.text(0.01, 0.01, f"{symbol} suppressed in that year (a small count, or one that would "
             "reveal one). Year labels: last two digits.", fontsize=6)
    fig.subplots_adjust(bottom=0.2, top=0.82, wspace=0.3)
    return fig
