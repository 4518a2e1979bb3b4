"""Funnel plots of released unit shares, with smooth exact binomial control limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kprlink.exceptions import SpecError
from kprlink.plots.figures import TOTAL, _check_released, _figure, _need
from kprlink.stats.models import funnel_limits

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_funnel", "smooth_binomial_limit"]


def plot_funnel(released: pd.DataFrame, *, count_col: str = "n",
                denom_col: str = "population", label_col: str = "location_code",
                scale: float = 100.0, target: float | None = None,
                levels: Sequence[float] = (0.95, 0.998),
                title: str = "Funnel plot", xlabel: str = "Population (persons)",
                ylabel: str = "Percent", target_label: str | None = None) -> Figure:
    """Funnel plot of released unit shares with binomial control limits.

    Parameters
    ----------
    released : pandas.DataFrame
        Released table with one row per unit (``Total`` rows ignored). Not modified.
    count_col, denom_col, label_col : str
        Numerator (NA where suppressed), denominator and unit label.
    scale : float, default 100
        Percent.
    target : float, optional
        Proportion at the centre; default the released national total if present,
        else the pooled published units.
    levels : sequence of float
        Coverage of the control limits.
    title, xlabel, ylabel : str
        Texts (the axis labels carry their units).
    target_label : str, optional
        Legend text of the centre line; default "National share" (or "Target"
        when `target` is given), with its value.

    Returns
    -------
    matplotlib.figure.Figure
        Suppressed units are not drawn; their number is stated under the plot.

    Notes
    -----
    The limits are exact binomial limits around the target, drawn as smooth
    curves: the p-quantile of Bin(n, target) is found on the continuous
    extension of the binomial distribution function,
    ``F(k) = I_{1-target}(n - k, k + 1)`` (regularised incomplete beta), which
    passes through the interpolation points of Spiegelhalter (Statist. Med.
    2005;24:1185-1202) but also varies smoothly between whole denominators.
    """
    _check_released(released, [count_col], "plot_funnel")
    _need(released, [denom_col, label_col], "plot_funnel")
    tot = released[released[label_col].astype(str) == TOTAL]
    data = released[released[label_col].astype(str) != TOTAL]
    shown = data[count_col].notna()
    k = data.loc[shown, count_col].astype(float).to_numpy()
    n = data.loc[shown, denom_col].astype(float).to_numpy()
    given = target is not None
    if target is None:
        if len(tot) and tot[count_col].notna().all():
            target = float(tot[count_col].astype(float).sum() / tot[denom_col].astype(float).sum())
        elif n.sum() > 0:
            target = float(k.sum() / n.sum())
        else:
            raise SpecError("plot_funnel(): no published unit to estimate the target from.",
                            ["all units suppressed; pass target="])
    funnel_limits([1.0], target=target, levels=levels)  # validates target and levels
    fig = _figure(figsize=(7, 4.8))
    ax = fig.add_subplot()
    positive = n[n > 0]
    denoms = data[denom_col].astype(float)
    top = float(np.max(positive)) if len(positive) else float(max(denoms.max(), 2.0))
    low = float(np.min(positive)) if len(positive) else 1.0
    grid = np.geomspace(max(1.0, low / 1.5), max(top, 2.0) * 1.1, 300)
    for lv, style in zip(levels, ["--", ":"], strict=False):
        lo, hi = (smooth_binomial_limit(grid, target, q) for q in ((1 - lv) / 2,
                                                                     1 - (1 - lv) / 2))
        ax.plot(grid, lo * scale, style, color="grey", linewidth=0.9,
                label=f"{lv * 100:g} % limits")
        ax.plot(grid, hi * scale, style, color="grey", linewidth=0.9)
    name = target_label or ("Target" if given else "National share")
    ax.axhline(target * scale, color="black", linewidth=0.8,
               label=f"{name}: {target * scale:.2f} %" if scale == 100 else
               f"{name}: {target * scale:.3g}")
    ax.scatter(n, np.divide(k, n, out=np.zeros_like(k), where=n > 0) * scale, s=12,
               color="#2166ac", zorder=3, label="Unit (published)")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    notes = ["Control limits: exact binomial around the centre line, interpolated "
             "(Spiegelhalter 2005)."]
    n_hidden = int((~shown).sum())
    if n_hidden:
        notes.append(f"{n_hidden} unit(s) not shown: suppressed (small numbers).")
    fig.text(0.01, 0.01, "\n".join(notes), fontsize=8, va="bottom")
    fig.subplots_adjust(bottom=0.13 + 0.04 * len(notes))
    return fig


def smooth_binomial_limit(denominators: np.ndarray, target: float, q: float) -> np.ndarray:
    """The `q` control limit (a proportion) of Bin(n, target), smooth in n.

    Solves ``I_{1-target}(n - k, k + 1) = q`` for real ``k`` in (-1, n) by
    bisection and returns ``clip(k, 0, n) / n``. At whole ``n`` and the
    interpolation points it agrees with :func:`kl.funnel_limits`.

    Examples
    --------
    >>> lim = smooth_binomial_limit(np.array([100.0]), 0.2, 0.975)
    >>> round(float(lim[0]), 2)
    0.28
    """
    from scipy.special import betainc

    n = np.asarray(denominators, dtype=float)
    if target <= 0 or target >= 1:
        return np.full_like(n, float(target))
    lo, hi = np.full_like(n, -1.0), n.copy()
    for _ in range(60):
        mid = (lo + hi) / 2
        below = betainc(np.maximum(n - mid, 1e-12), np.maximum(mid + 1, 1e-12),
                        1 - target) < q
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return np.clip((lo + hi) / 2, 0, n) / n
