"""How a cohort changes with the match probability model links are cut at.

:func:`cohort_threshold_sensitivity` links a delivery once (key file, then the
model), and builds the cohort again for each threshold of a grid: persons by link
method, model links accepted, and probability-weighted counts (the expected true
and false links among the cohort's model-linked persons: the sums of p and 1 - p).
A ``table`` function gives any table of the cohort at each threshold.
Person-level and exact: for the analyst's work folder, not a release.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kprlink.cohorts._model_links import LinkageOptions, link_with_model, merge_model_links
from kprlink.cohorts.definition import CohortDefinition
from kprlink.linkage.keyfile import LinkageResult

__all__ = ["ThresholdSensitivity", "cohort_threshold_sensitivity"]

DEFAULT_GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)


@dataclass(frozen=True)
class ThresholdSensitivity:
    """Result of :func:`cohort_threshold_sensitivity`.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per threshold: ``threshold, n_persons, n_persons_key,
        n_persons_model, n_persons_none, n_model_links`` (whole delivery),
        ``expected_true_model`` and ``expected_false_model`` (sums of p and
        1 - p over the cohort's model-linked persons) and ``n_ambiguous``.
    tables : pandas.DataFrame or None
        The `table` function's output at each threshold, with a ``threshold``
        column first.
    threshold_used : float
        The threshold the held-out pairs chose for the target precision.
    """

    summary: pd.DataFrame
    tables: pd.DataFrame | None
    threshold_used: float

    def __repr__(self) -> str:
        s = self.summary
        return (f"<ThresholdSensitivity {len(s)} thresholds "
                f"{s['threshold'].min():g}-{s['threshold'].max():g}: "
                f"{int(s['n_persons'].min()):,}-{int(s['n_persons'].max()):,} persons; "
                f"held-out threshold {self.threshold_used:.3f}>")


def cohort_threshold_sensitivity(
        data: Any, definition: CohortDefinition | str | os.PathLike[str] | Mapping[str, Any],
        *, thresholds: Sequence[float] = DEFAULT_GRID,
        table: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
        target_precision: float | None = None) -> ThresholdSensitivity:
    """The cohort at each threshold of a grid of model-link probabilities.

    Parameters
    ----------
    data : Delivery, mapping, str or Path
        As :func:`build_cohort` (a folder is read whole).
    definition : CohortDefinition, TOML path or mapping
        Its ``[linkage]`` table's target precision is used (default 0.99); the
        method is probabilistic whatever the table says.
    thresholds : sequence of float
        Match probabilities in (0, 1], also below the held-out threshold.
    table : callable, optional
        ``table(persons) -> DataFrame``, e.g. persons by age band and sex.
    target_precision : float, optional
        Overrides the definition's.

    Returns
    -------
    ThresholdSensitivity
    """
    from kprlink.cohorts._steps import _build, _link, cohort_columns
    from kprlink.cohorts.build import _as_definition
    from kprlink.cohorts.events import frames_of

    definition = _as_definition(definition)
    opts = definition.linkage or LinkageOptions()
    opts = dataclasses.replace(opts, method="probabilistic", min_probability=None,
                               target_precision=target_precision or opts.target_precision)
    definition = dataclasses.replace(definition, linkage=opts)
    if isinstance(data, (str, os.PathLike)):
        from kprlink.sources import read_delivery

        data = read_delivery(data, columns=cohort_columns(definition))
    frames = frames_of(data)
    key = _link(frames)
    _, res = link_with_model(frames, key, opts)
    rows, parts = [], []
    for t in sorted(float(x) for x in thresholds):
        links = res.links_at(t)
        persons = merge_model_links(key.persons, links, min_probability=t)
        built = _build(frames, definition, LinkageResult(persons, key.report))
        p = built.persons
        m = p["link_method"]
        prob = p.loc[m == "model", "match_probability"].to_numpy(float)
        rows.append({"threshold": t, "n_persons": len(p),
                     **{f"n_persons_{k}": int((m == k).sum()) for k in ("key", "model",
                                                                        "none")},
                     "n_model_links": int((links["source"] == "model").sum()),
                     "expected_true_model": float(prob.sum()),
                     "expected_false_model": float((1 - prob).sum()),
                     "n_ambiguous": int(p["link_ambiguous"].sum())})
        if table is not None:
            out = table(p)
            out.insert(0, "threshold", t)
            parts.append(out)
    return ThresholdSensitivity(pd.DataFrame(rows),
                                pd.concat(parts, ignore_index=True) if parts else None,
                                float(res.info["threshold_used"]))


