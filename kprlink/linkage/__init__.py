"""kprlink.linkage (see DESIGN.md: architecture)."""

from __future__ import annotations

__all__: list[str] = []

# --- probabilistic linkage (issue 7; owner: probabilistic.py) ---
from kprlink.linkage.probabilistic import (  # noqa: E402
    BirthMonthComparison,
    DateComparison,
    EventDatesComparison,
    EventWindowComparison,
    ExactComparison,
    LinkageSpec,
    NumericComparison,
    ProbabilisticLinkResult,
    StringComparison,
    deduplicate,
    link_probabilistic,
    link_registers_probabilistic,
    person_profiles,
)
from kprlink.linkage.probabilistic import __all__ as _probabilistic_all  # noqa: E402

__all__ += _probabilistic_all
# --- end probabilistic linkage ---

# --- saved models (issue 15; owner: model.py) ---
from kprlink.linkage.model import LinkageModel  # noqa: E402

from kprlink.linkage._compare import compare_linked  # noqa: E402
from kprlink.linkage._flow import flow_counts  # noqa: E402

__all__ += ["LinkageModel", "compare_linked", "flow_counts"]
# --- end saved models ---

# --- key-file linkage (issue 4; owner: keyfile.py, report.py) ---
from kprlink.linkage.keyfile import DEFAULT_COVERAGE, LinkageResult, link_extracts  # noqa: E402
from kprlink.linkage.report import LinkageReport  # noqa: E402

__all__ += ["DEFAULT_COVERAGE", "LinkageReport", "LinkageResult", "link_extracts"]
# --- end key-file linkage ---
