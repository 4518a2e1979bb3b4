"""Figures from released tables (suppressed cells shown as ':'), byte-reproducible."""

from __future__ import annotations

from kprlink.plots.figures import (
    plot_funnel,
    plot_ranked_bars,
    plot_share_by_age_sex,
    save_figure,
)

__all__: list[str] = ["plot_funnel", "plot_ranked_bars", "plot_share_by_age_sex", "save_figure"]
