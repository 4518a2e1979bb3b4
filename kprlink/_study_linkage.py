"""A study's probabilistic linkage: the tables it adds, and its linkage report.

:func:`run_tables`: a study with a ``[linkage]`` table releases persons by link
method, and with ``sensitivity = true`` every cohort table also on key links only.

:func:`write_linkage_report`: the report of a study with model links, written to
the *work* folder.

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

from kprlink._studyspec import StudySpec, TableSpec
from kprlink.analyses import StudyContext
from kprlink.analyses._registry import cohort_only

log = logging.getLogger(__name__)


#: suffix of the sensitivity variant's tables (cohort on key links only)
KEY_ONLY = "_key_links_only"


def run_tables(spec: StudySpec, ctx: StudyContext) -> list[tuple[TableSpec, StudyContext]]:
    """The tables a run computes, each with its context.

    A study with a ``[linkage]`` table also releases persons by link method
    (``persons_by_link_method``, unless it lists a ``cohort_by_link_method``
    table itself); with ``sensitivity = true`` every cohort table is computed a
    second time on key links only (``<name>_key_links_only``), in its own
    context (and work folder).
    """
    from dataclasses import replace

    plan = [(t, ctx) for t in spec.tables]
    if spec.linkage is None or spec.cohort_path is None:
        return plan
    if spec.linkage_sensitivity:
        from kprlink.cohorts._model_links import LinkageOptions

        key_ctx = StudyContext(spec=spec, delivery=ctx.delivery,
                               work_dir=ctx.work_dir / "key_links_only",
                               definitions=ctx.definitions, linkage=LinkageOptions("key"))
        plan += [(replace(t, name=t.name + KEY_ONLY,
                          title=f"{t.title} (sensitivity: key-file links only)"), key_ctx)
                 for t, _ in list(plan)
                 if cohort_only(t.kind) and t.kind != "cohort_by_link_method"]
    if spec.linkage.probabilistic and not any(t.kind == "linkage_reliability"
                                              for t in spec.tables):
        plan.append((TableSpec(name="linkage_reliability", kind="linkage_reliability",
                               title="Held-out candidate pairs by match probability: "
                                     "share that the key pairs (reliability)",
                               figure="bar"), ctx))
    if not any(t.kind == "cohort_by_link_method" for t in spec.tables):
        plan.append((TableSpec(name="persons_by_link_method", kind="cohort_by_link_method",
                               title="Cohort persons by link method and sex", figure="bar"),
                     ctx))
    return plan


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
