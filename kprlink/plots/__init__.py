"""Figures from released tables (suppressed cells shown as ':'), byte-reproducible."""

from __future__ import annotations

from kprlink.plots.bars import plot_bars
from kprlink.plots.figures import plot_ranked_bars, plot_share_by_age_sex, save_figure
from kprlink.plots.funnel import plot_funnel
from kprlink.plots.linkage import (
    plot_linkage_flow,
    plot_reliability,
    plot_threshold_sensitivity,
)
from kprlink.plots.trend import plot_trend

__all__: list[str] = ["plot_bars", "plot_funnel", "plot_ranked_bars", "plot_share_by_age_sex",
                      "plot_trend", "save_figure", "plot_linkage_flow", "plot_reliability",
                      "plot_threshold_sensitivity"]
