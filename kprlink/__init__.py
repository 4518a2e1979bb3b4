"""kprlink: reproducible, disclosure-safe studies on linked KPR and NPR extracts.

Use it as ``import kprlink as kl``. Everything public is listed in
``kprlink.__all__``; names starting with ``_`` may change in any release.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kprlink")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from kprlink import (
    cohorts,
    codes,
    demography,
    disclosure,
    exceptions,
    linkage,
    plots,
    sources,
    stats,
    study,
    synth,
    tables,
)
from kprlink.cohorts import *  # noqa: F403
from kprlink.codes import *  # noqa: F403
from kprlink.demography import *  # noqa: F403
from kprlink.disclosure import *  # noqa: F403
from kprlink.exceptions import *  # noqa: F403
from kprlink.linkage import *  # noqa: F403
from kprlink.plots import *  # noqa: F403
from kprlink.sources import *  # noqa: F403
from kprlink.stats import *  # noqa: F403
from kprlink.study import *  # noqa: F403
from kprlink.synth import *  # noqa: F403
from kprlink.tables import *  # noqa: F403

__all__ = sorted(
    {"__version__"}
    | set(exceptions.__all__)
    | set(sources.__all__)
    | set(codes.__all__)
    | set(linkage.__all__)
    | set(cohorts.__all__)
    | set(demography.__all__)
    | set(disclosure.__all__)
    | set(stats.__all__)
    | set(tables.__all__)
    | set(plots.__all__)
    | set(study.__all__)
    | set(synth.__all__)
)
