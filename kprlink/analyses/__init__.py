"""Named analysis steps ("table kinds") that ``study.toml`` files refer to.

A step turns the study context (spec, delivery, cohort) into inner cells of
person counts (:class:`AnalysisTable`); :func:`kprlink.study.run_study`
suppresses them and writes the release. Register your own with
:func:`register` before running a study that names it.
"""

from __future__ import annotations

from kprlink.analyses import (  # noqa: F401  (registers the steps)
    dementia,
    dementia_care,
    dementia_trend,
    hip_fracture_tables,
    linkage,
    rehabilitation,
    services,
)
from kprlink.analyses._context import StudyContext, age_bands, sex_label, with_age_band
from kprlink.analyses._registry import (
    AnalysisTable,
    CurveTable,
    get_step,
    register,
    step_kinds,
)

__all__ = ["AnalysisTable", "CurveTable", "StudyContext", "age_bands", "get_step", "register",
           "sex_label", "step_kinds", "with_age_band"]
