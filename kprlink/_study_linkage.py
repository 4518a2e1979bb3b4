"""The linkage report of a study with model links, written to the *work* folder.

Exact, person-derived counts for the analyst and the output checker's questions
(RECORD/GUILD): the flow from delivered rows to unlinked persons, linked vs unlinked
NPR persons with standardised differences, the reliability of the match
probabilities on held-out key pairs and the model's summary; figures beside them.
Nothing here goes under ``release/``: released counts by link method are the
``persons_by_link_method`` table, protected with the others.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_linkage_report(ctx: Any, folder: Path) -> Path | None:
    """Write the report of the cohort's linkage into `folder`; None without model links."""
    from kprlink import _atomic
    from kprlink.linkage import compare_linked, flow_counts
    from kprlink.plots import plot_linkage_flow, plot_reliability

    result = ctx._cache.get("cohort_result")
    linkage = getattr(result, "linkage", None)
    model = getattr(linkage, "model", None)
    if model is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    report = getattr(ctx.delivery, "report", None)
    if report is not None:
        flow = flow_counts(report.summary(), linkage.report.flow)
        flow.to_csv(folder / "flow.csv", index=False)
        _atomic.save_figure(plot_linkage_flow(flow), folder / "flow")
    npr = ctx.delivery.npr_episodes
    if npr is not None:
        compare_linked(linkage.persons, npr, reference_year=ctx.spec.ref_date.year).to_csv(
            folder / "linked_vs_unlinked.csv", index=False)
    model.summary().to_csv(folder / "model_summary.csv", index=False)
    linkage.report.summary().to_csv(folder / "linkage_report.csv", index=False)
    if model.calibration is not None:
        model.calibration.to_csv(folder / "reliability.csv", index=False)
        _atomic.save_figure(plot_reliability(model.calibration), folder / "reliability")
    log.info("linkage report written to %s", folder)
    return folder
