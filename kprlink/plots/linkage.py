"""Figures of a probabilistic linkage: flow diagram, reliability, threshold sensitivity.

They draw exact counts of the analyst's own linkage (work folder). A figure meant
to leave the secure environment must be drawn from counts released through the
disclosure layer (``kl.suppress_table`` or a study run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from kprlink.plots.figures import _figure, _need

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_linkage_flow", "plot_reliability", "plot_threshold_sensitivity"]


def plot_linkage_flow(flow: pd.DataFrame, *, title: str = "Linkage flow") -> Figure:
    """Flow diagram from :func:`kprlink.linkage._flow.flow_counts`: one column of boxes
    per register, stages top to bottom, an arrow between consecutive stages.

    >>> flow = pd.DataFrame({"stage": ["delivered rows", "persons"] * 2,
    ...                      "register": ["NPR", "NPR", "KPR", "KPR"], "n": [10, 5, 20, 8]})
    >>> len(plot_linkage_flow(flow).axes)
    1
    """
    _need(flow, ["stage", "register", "n"], "plot_linkage_flow")
    stages = list(dict.fromkeys(flow["stage"]))
    regs = list(dict.fromkeys(flow["register"]))
    fig = _figure(figsize=(3.2 * len(regs) + 0.5, 0.8 * len(stages) + 0.8))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(0, len(regs))
    ax.set_ylim(-0.5, len(stages) - 0.5)
    for j, reg in enumerate(regs):
        ax.text(j + 0.5, len(stages) - 0.5, reg, ha="center", va="bottom", weight="bold")
        for i, st in enumerate(stages):
            hit = flow[(flow["register"] == reg) & (flow["stage"] == st)]
            if hit.empty:
                continue
            y = len(stages) - 1 - i
            ax.text(j + 0.5, y, f"{st}\n{int(hit['n'].iloc[0]):,}", ha="center",
                    va="center", fontsize=8,
                    bbox={"boxstyle": "round", "fc": "#f0f0f0", "ec": "#606060"})
            if i:
                ax.annotate("", xy=(j + 0.5, y + 0.32), xytext=(j + 0.5, y + 0.68),
                            arrowprops={"arrowstyle": "->", "color": "#606060"})
    ax.set_title(title)
    return fig


def plot_reliability(calibration: pd.DataFrame, *, title: str = "Reliability of match "
                     "probabilities (held-out pairs)") -> Figure:
    """Observed share of true pairs against the mean probability per bin, raw and
    calibrated (``ProbabilisticLinkResult.calibration``), with the diagonal.

    >>> cal = pd.DataFrame({"kind": ["raw", "calibrated"], "mean_p": [0.5, 0.7],
    ...                     "observed": [0.8, 0.75], "n": [10, 10]})
    >>> len(plot_reliability(cal).axes[0].lines)
    3
    """
    _need(calibration, ["kind", "mean_p", "observed", "n"], "plot_reliability")
    fig = _figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#909090", lw=1, ls="--", label="perfect calibration")
    for kind, style in (("raw", "o-"), ("calibrated", "s-")):
        t = calibration[calibration["kind"] == kind]
        ax.plot(t["mean_p"], t["observed"], style, ms=4, label=kind)
    ax.set_xlabel("Mean match probability in bin")
    ax.set_ylabel("Share of true pairs (key)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper left", frameon=False)
    ax.set_title(title, fontsize=9)
    return fig


def plot_threshold_sensitivity(summary: pd.DataFrame, *, threshold_used: float | None = None,
                               title: str = "Cohort by model-link threshold") -> Figure:
    """Persons linked by the model and expected false links against the threshold
    (``ThresholdSensitivity.summary``), the held-out threshold marked.

    >>> s = pd.DataFrame({"threshold": [0.5, 0.9], "n_persons_model": [40, 30],
    ...                   "expected_false_model": [3.0, 0.5], "n_persons": [100, 110]})
    >>> len(plot_threshold_sensitivity(s, threshold_used=0.7).axes)
    2
    """
    _need(summary, ["threshold", "n_persons_model", "expected_false_model", "n_persons"],
          "plot_threshold_sensitivity")
    fig = _figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    ax.plot(summary["threshold"], summary["n_persons_model"], "o-",
            label="persons linked by the model")
    ax.plot(summary["threshold"], summary["expected_false_model"], "s--",
            label="expected false links (sum of 1 - p)")
    ax.set_xlabel("Minimum match probability")
    ax.set_ylabel("Persons")
    ax2 = ax.twinx()
    ax2.plot(summary["threshold"], summary["n_persons"], "^:", color="#555555",
             label="cohort persons")
    ax2.set_ylabel("Cohort persons")
    if threshold_used is not None:
        ax.axvline(threshold_used, color="#b2182b", lw=1)
        ax.text(threshold_used, ax.get_ylim()[1], " held-out threshold", color="#b2182b",
                va="top", fontsize=8)
    lines = ax.get_legend_handles_labels()
    more = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="center left", frameon=False,
              fontsize=8)
    ax.set_title(title)
    return fig
