"""Figures drawn from released tables only; suppressed cells are gaps marked ':'.

Uses :class:`matplotlib.figure.Figure` directly (no pyplot, no global state).
:func:`save_figure` writes byte-reproducible PNG and SVG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kprlink.exceptions import DisclosureError, MissingColumnsError, SpecError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(**kwargs: object) -> Figure:
    """A new matplotlib Figure (imported here: matplotlib costs ~0.5 s to import)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)

__all__ = ["plot_share_by_age_sex", "plot_ranked_bars", "save_figure"]

TOTAL = "Total"
SUPPRESSED_MARK = ":"
_SEX_COLOURS = {"female": "#b2182b", "male": "#2166ac"}
_SEX_LABELS = {"female": "Women", "male": "Men"}


def _check_released(released: pd.DataFrame, value_cols: Sequence[str], func: str) -> None:
    """Refuse anything that did not come through disclosure control."""
    missing = [c for c in ["status", *value_cols] if c not in released.columns]
    if missing:
        raise MissingColumnsError(
            f"{func}() takes a released table (with `status` from kl.suppress_table); "
            f"missing {missing}.", [f"column {c!r} is missing" for c in missing],
            missing=missing)
    hidden = released["status"].astype(str) != "published"
    leaks = [c for c in value_cols if released.loc[hidden, c].notna().any()]
    if leaks:
        raise DisclosureError(
            f"{func}(): suppressed cells carry values in {leaks}; plot the released "
            "table, not the true one.",
            [f"column {c!r} has a value in a suppressed cell" for c in leaks])


def _inner(released: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    keep = np.ones(len(released), dtype=bool)
    for d in dims:
        keep &= (released[d].astype(str) != TOTAL).to_numpy()
    return released.loc[keep]


def plot_share_by_age_sex(released: pd.DataFrame, *, age_col: str = "age_band",
                          sex_col: str = "sex", share_col: str | None = None,
                          lower_col: str | None = "share_lower",
                          upper_col: str | None = "share_upper",
                          title: str = "Share with registered dementia",
                          ylabel: str = "Percent of population",
                          interval: str = "95 % Wilson score interval") -> Figure:
    """Grouped bar chart of a released share by age band and sex.

    Parameters
    ----------
    released : pandas.DataFrame
        ``ReleasedRates.released`` (margins are ignored). Not modified.
    age_col, sex_col : str
        Columns; the age column's categorical order is kept, text labels are
        ordered by their lower age ("Under 60" first).
    share_col : str, optional
        Default ``share`` (from :func:`kl.release_rates`), else ``share_pct``.
    lower_col, upper_col : str or None
        Interval columns drawn as error bars (None, or absent, to omit).
    title, ylabel : str
        Texts.
    interval : str, default "95 % Wilson score interval"
        How the interval columns were computed, named in the caption
        (:func:`kl.release_rates` and the study runner use 95 % Wilson).

    Returns
    -------
    matplotlib.figure.Figure
        Suppressed cells have no bar; a ':' sits on the axis instead, a published
        zero shows a small '0', and the caption explains both and names the
        interval method.

    Raises
    ------
    MissingColumnsError
        If the table lacks ``status`` or a named column.
    DisclosureError
        If a suppressed cell carries a value.
    """
    if share_col is None:
        share_col = "share_pct" if ("share" not in released and "share_pct" in released) \
            else "share"
    if lower_col not in released or upper_col not in released:
        lower_col = upper_col = None
    cols = [share_col] + [c for c in (lower_col, upper_col) if c]
    _check_released(released, cols, "plot_share_by_age_sex")
    _need(released, [age_col, sex_col], "plot_share_by_age_sex")
    data = _inner(released, [age_col, sex_col])
    ages = [a for a in _order(data[age_col]) if str(a) != TOTAL]
    if not isinstance(data[age_col].dtype, pd.CategoricalDtype):
        ages = sorted(ages, key=_age_key)
    sexes = [s for s in _order(data[sex_col]) if str(s) != TOTAL]
    fig = _figure(figsize=(7.5, 4.5))
    ax = fig.add_subplot()
    x = np.arange(len(ages))
    width = 0.8 / max(len(sexes), 1)
    n_hidden = 0
    for j, sex in enumerate(sexes):
        sub = data[data[sex_col].astype(str) == str(sex)].set_index(
            data.loc[data[sex_col].astype(str) == str(sex), age_col].astype(str))
        vals = np.array([_get(sub, a, share_col) for a in ages], dtype=float)
        pos = x - 0.4 + width * (j + 0.5)
        shown = ~np.isnan(vals)
        colour = _SEX_COLOURS.get(str(sex))
        ax.bar(pos[shown], vals[shown], width, label=_SEX_LABELS.get(str(sex), str(sex)),
               color=colour)
        if lower_col and upper_col and shown.any():
            lo = np.array([_get(sub, a, lower_col) for a in ages], dtype=float)[shown]
            hi = np.array([_get(sub, a, upper_col) for a in ages], dtype=float)[shown]
            # float noise can put a bound a hair beyond the share (8.7e-17 above 0)
            yerr = [np.maximum(vals[shown] - lo, 0), np.maximum(hi - vals[shown], 0)]
            ax.errorbar(pos[shown], vals[shown], yerr=yerr,
                        fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
        for p in pos[~shown]:
            ax.text(p, 0, SUPPRESSED_MARK, ha="center", va="bottom", fontsize=12,
                    fontweight="bold")
        for p in pos[shown & (vals == 0)]:
            ax.text(p, 0, "0", ha="center", va="bottom", fontsize=7, color="#555555")
        n_hidden += int((~shown).sum())
    ax.set_xticks(x, [str(a) for a in ages])
    ax.set_xlabel("Age (years)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    if sexes:
        ax.legend(frameon=False)
    notes = []
    if lower_col and upper_col:
        notes.append(f"Error bars: {interval}.")
    if n_hidden:
        notes.append(f"{SUPPRESSED_MARK} suppressed (small numbers): {n_hidden} cell(s); "
                     "0 none.")
    if notes:
        fig.text(0.01, 0.01, "\n".join(notes), fontsize=8, va="bottom")
        fig.subplots_adjust(bottom=0.13 + 0.04 * len(notes))
    return fig


def plot_ranked_bars(released: pd.DataFrame, *, value_col: str, label_col: str,
                     title: str = "", xlabel: str = "",
                     names: Mapping[str, str] | None = None, caption: str = "") -> Figure:
    """Horizontal bars ordered by value (e.g. counties), suppressed units last with ':'.

    Parameters
    ----------
    released : pandas.DataFrame
        Released table, one row per unit (``Total`` rows ignored). Not modified.
    value_col, label_col : str
        Value (NA where suppressed) and unit label columns.
    title, xlabel : str
        Texts (the value label with its unit).
    names : mapping, optional
        Code -> name for the labels (e.g. counties from :meth:`Places.name_maps`).
    caption : str
        Extra caption text (e.g. the interval method).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_released(released, [value_col], "plot_ranked_bars")
    _need(released, [label_col], "plot_ranked_bars")
    data = released[released[label_col].astype(str) != TOTAL]
    shown = data[data[value_col].notna()].sort_values(value_col, kind="stable")
    hidden = data[data[value_col].isna()]
    names = dict(names or {})
    labels = [names.get(str(v), str(v)) for v in hidden[label_col]] + [
        names.get(str(v), str(v)) for v in shown[label_col]]
    fig = _figure(figsize=(6.5, max(2.5, 0.3 * len(labels) + 1)))
    ax = fig.add_subplot()
    y = np.arange(len(labels))
    ax.barh(y[len(hidden):], shown[value_col].astype(float).to_numpy(), color="#4d4d4d")
    for yy in y[:len(hidden)]:
        ax.text(0, yy, " " + SUPPRESSED_MARK, va="center", ha="left", fontsize=11)
    ax.set_yticks(y, labels)
    ax.set_xlabel(xlabel)
    ax.set_xlim(left=0)
    ax.set_title(title)
    notes = [f"{SUPPRESSED_MARK} suppressed (small numbers)"] if len(hidden) else []
    notes += [caption] if caption else []
    if notes:
        fig.text(0.01, 0.01, "\n".join(notes), fontsize=8, va="bottom")
    fig.tight_layout(rect=(0, 0.03 * len(notes), 1, 1))
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write `fig` as PNG or SVG (by suffix), byte-identical across reruns.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : path
        Ends in ``.png`` or ``.svg``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    SpecError
        On another suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise SpecError(f"save_figure(): {path.name!r} must end in .png or .svg.",
                        [f"suffix {suffix!r}"])
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".svg":
        import matplotlib

        with matplotlib.rc_context({"svg.hashsalt": "kprlink", "svg.fonttype": "path"}):
            fig.savefig(path, format="svg", metadata={"Date": None})
    else:
        fig.savefig(path, format="png", dpi=150, metadata={"Software": None})
    return path


def _need(df: pd.DataFrame, cols: Sequence[str], func: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise MissingColumnsError(f"{func}() needs column(s) {missing}.",
                                  [f"column {c!r} is missing" for c in missing],
                                  missing=missing)


def _order(s: pd.Series) -> list[object]:
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.astype(str))
        return [c for c in s.cat.categories if str(c) in present]
    return list(pd.unique(s))


def _age_key(label: object) -> float:
    """Lower age of a band label: 'Under 60' -> -1, '60-64' -> 60, '90+' -> 90."""
    text = str(label).strip()
    if text.lower().startswith(("under", "<")):
        return -1.0
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return float(digits) if digits else float("inf")


def _get(sub: pd.DataFrame, key: object, col: str) -> float:
    if str(key) not in sub.index:
        return np.nan
    v = sub.loc[str(key), col]
    if isinstance(v, pd.Series):
        v = v.iloc[0]
    return np.nan if pd.isna(v) else float(v)
