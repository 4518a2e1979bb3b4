"""Bar charts of released tables in their natural order, suppressed cells marked.

A suppressed cell gets the release symbol (``:``) at its bar's place, a
published zero a small ``0``, so the two never look alike. Panels with nothing
to show (every cell suppressed or zero) are left out and named in the caption.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kprlink.plots._labels import axis_label, display_name, natural_order
from kprlink.plots.figures import TOTAL, _check_released, _figure, _need

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_bars"]

_PALETTE = ("#2166ac", "#b2182b", "#4d9221", "#762a83", "#e08214", "#4d4d4d")
_SEX_COLOURS = {"female": "#b2182b", "male": "#2166ac"}
#: From this many categories (or twice as many bars) bars run horizontally.
_HORIZONTAL_FROM = 8


def plot_bars(released: pd.DataFrame, *, dims: Sequence[str], value_col: str,
              title: str = "", symbol: str = ":",
              names: Mapping[str, Mapping[str, str]] | None = None,
              orders: Mapping[str, Sequence[str]] | None = None,
              value_label: str | None = None,
              dim_labels: Mapping[str, str] | None = None,
              caption: str = "") -> Figure:
    """Grouped bar chart of a released table's inner cells (margins left out).

    Parameters
    ----------
    released : pandas.DataFrame
        Released table with a ``status`` column; `value_col` is NA where
        suppressed. Not modified.
    dims : sequence of str
        One to three dimensions. The last colours the bars, the one before it
        is the category axis; a first of three makes one panel per value.
    value_col : str
        The value drawn (``share_pct`` percent, or a count such as ``n``).
    title : str
        Figure title.
    symbol : str, default ":"
        The release symbol for a suppressed cell.
    names : mapping, optional
        ``{dim: {code: name}}`` to show names instead of codes (counties,
        municipalities); ``sex`` shows Women/Men without one.
    orders : mapping, optional
        ``{dim: [label, ...]}`` order to use; otherwise the column's categorical
        order, else the natural order (ICD-10 chapters by number, age bands by
        age, the care staircase lowest step first), else first appearance.
    value_label : str, optional
        Value-axis label with its unit; default from `value_col`.
    dim_labels : mapping, optional
        ``{dim: axis label}``; default a plain-words label of the column.
    caption : str
        Extra caption text (e.g. the interval method), after the symbol key.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    MissingColumnsError
        If `status`, `value_col` or a dim is missing.
    DisclosureError
        If a suppressed cell carries a value.

    Examples
    --------
    >>> rel = pd.DataFrame({"step": ["Total", "home care", "long-term stay"],
    ...                     "n": pd.array([12, pd.NA, 9], dtype="Int64"),
    ...                     "status": ["published", "primary", "published"]})
    >>> ax = plot_bars(rel, dims=["step"], value_col="n").axes[0]
    >>> [t.get_text() for t in ax.get_xticklabels()], [t.get_text() for t in ax.texts]
    (['Home care', 'Long-term stay'], [':'])
    """
    dims = list(dims)
    _check_released(released, [value_col], "plot_bars")
    _need(released, dims, "plot_bars")
    names = {k: dict(v) for k, v in (names or {}).items()}
    labels = {**(dim_labels or {})}
    inner = released
    for d in dims:
        inner = inner[inner[d].astype(str) != TOTAL]
    panel = dims[0] if len(dims) == 3 else None
    x = dims[-2] if len(dims) >= 2 else dims[0]
    hue = dims[-1] if len(dims) >= 2 else None
    order = {d: _order(inner[d], (orders or {}).get(d)) for d in dims}
    values = pd.to_numeric(inner[value_col].astype("Float64"), errors="coerce")
    panels: list[str | None] = list(order[panel]) if panel else [None]
    empty = []
    if panel:
        for pv in panels:
            v = values[inner[panel].astype(str) == pv]
            if not (v.fillna(0) > 0).any():
                empty.append(pv)
        panels = [p for p in panels if p not in empty] or panels[:1]
    xs = order[x]
    groups: list[str | None] = list(order[hue]) if hue else [None]
    horizontal = len(panels) == 1 and (len(xs) >= _HORIZONTAL_FROM
                                       or len(xs) * len(groups) >= 2 * _HORIZONTAL_FROM)
    fig = _figure(figsize=_size(len(panels), len(xs), len(groups), horizontal))
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    width = 0.8 / max(len(groups), 1)
    shown_any = False
    for ax, pv in zip(axes, panels, strict=True):
        sub0 = inner if pv is None else inner[inner[panel].astype(str) == pv]  # type: ignore[index]
        for i, g in enumerate(groups):
            sub = sub0 if g is None else sub0[sub0[hue].astype(str) == g]  # type: ignore[index]
            vals = pd.Series(values.loc[sub.index].to_numpy(dtype=float, na_value=np.nan),
                             index=sub[x].astype(str).to_numpy())
            vals = vals[~vals.index.duplicated()].reindex(xs)
            pos = np.arange(len(xs)) + (i - (len(groups) - 1) / 2) * width
            hidden = vals.isna().to_numpy()
            colour = _SEX_COLOURS.get(str(g)) if hue == "sex" else _PALETTE[i % len(_PALETTE)]
            label = display_name(hue, g, names) if hue else None
            h = vals.fillna(0).to_numpy(float)
            if horizontal:
                ax.barh(pos, h, height=width, label=label, color=colour)
            else:
                ax.bar(pos, h, width=width, label=label, color=colour)
            shown_any = shown_any or bool((h > 0).any())
            _marks(ax, pos, hidden, h == 0, symbol, horizontal)
        ticks = [display_name(x, v, names) for v in xs]
        if horizontal:
            ax.set_yticks(np.arange(len(xs)), ticks)
            ax.invert_yaxis()  # the first category on top
            ax.set_xlim(left=0)
            ax.set_ylabel(labels.get(x) or axis_label(x))
        else:
            rotate = max((len(t) for t in ticks), default=0) > 10
            ax.set_xticks(np.arange(len(xs)), ticks, rotation=30 if rotate else 0,
                          ha="right" if rotate else "center")
            ax.set_ylim(bottom=0)
            ax.set_xlabel(labels.get(x) or axis_label(x))
        if pv is not None:
            ax.set_title(display_name(panel, pv, names))
    vlabel = value_label or axis_label(value_col)
    if horizontal:
        axes[0].set_xlabel(vlabel)
    else:
        axes[0].set_ylabel(vlabel)
    if not shown_any:
        for ax in axes:
            (ax.set_xlim if horizontal else ax.set_ylim)(0, 1)
    if hue:
        outside = {"loc": "upper left", "bbox_to_anchor": (1.0, 1.0)} if horizontal else {}
        axes[-1].legend(title=labels.get(hue) or axis_label(hue), fontsize=8,
                        title_fontsize=8, frameon=False, **outside)
    if title:
        fig.suptitle(title, fontsize=10)
    notes = [f"{symbol} suppressed (a small count, or one that would reveal one); "
             "0 none."]
    if empty:
        notes.append("Not shown, no cell to show (all suppressed or zero): "
                     + ", ".join(display_name(panel, p, names) for p in empty) + ".")
    if caption:
        notes.append(caption)
    fig.text(0.01, 0.01, "\n".join(notes), fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, 0.04 + 0.025 * len(notes), 1, 1))
    return fig


def _order(s: pd.Series, given: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(s.astype(str)))
    if given is not None:
        wanted = [str(v) for v in given if str(v) in set(present)]
        return wanted + [v for v in present if v not in set(wanted)]
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in s.cat.categories]
        return [c for c in cats if c in set(present)]
    return natural_order(present)


def _marks(ax: Axes, pos: np.ndarray, hidden: np.ndarray, zero: np.ndarray, symbol: str,
           horizontal: bool) -> None:
    """The release symbol where a cell is suppressed, a small 0 where it is zero."""
    for p, is_hidden, is_zero in zip(pos, hidden, zero, strict=True):
        if not (is_hidden or is_zero):
            continue
        text, size, colour = (symbol, 11, "black") if is_hidden else ("0", 7, "#555555")
        if horizontal:
            ax.annotate(text, (0, p), ha="left", va="center", fontsize=size, color=colour,
                        xytext=(2, 0), textcoords="offset points", fontweight="bold")
        else:
            ax.annotate(text, (p, 0), ha="center", va="bottom", fontsize=size, color=colour,
                        xytext=(0, 2), textcoords="offset points", fontweight="bold")


def _size(n_panels: int, n_x: int, n_groups: int, horizontal: bool) -> tuple[float, float]:
    if horizontal:
        bars = n_x * (1 if n_groups == 1 else 0.3 * n_groups + 0.5)
        return (7.0 if n_groups == 1 else 8.5, max(3.0, 0.3 * bars + 1.6))
    return (max(5.0, 1.0 + 3.8 * n_panels, 0.6 * n_x + 2), 4.6)
