"""``build_cohort``: from a delivery and a :class:`CohortDefinition` to a cohort.

The entry points (:func:`build_cohort`, :func:`build_incident_cohort`): they
read a definition, open the delivery and choose the path (an imported
folder's partitions, :mod:`kprlink.cohorts._parts`; frames in memory). The
steps, each a row of the attrition table, are listed and run in
:mod:`kprlink.cohorts._steps`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from kprlink.cohorts._steps import (  # noqa: F401  (re-exported for older imports)
    _COLUMNS,
    CohortResult,
    _build,
    _diagnosis_mask,
    _entry_mask,
    _input_warnings,
    _link,
    _lookup,
    _municipality,
    _rule_mask,
    _sources,
    cohort_columns,
    diagnosis_persons,
)
from kprlink.cohorts.definition import CohortDefinition, CohortRule
from kprlink.cohorts.events import frames_of
from kprlink.exceptions import Problem, SpecError
from kprlink.linkage.keyfile import LinkageResult

__all__ = ["CohortResult", "build_cohort", "build_incident_cohort", "cohort_columns"]


def _as_definition(definition: Any) -> CohortDefinition:
    """`definition` as a :class:`CohortDefinition`: a definition, a TOML path or a mapping.

    Raises
    ------
    SpecError
        If `definition` is none of these (or the file or mapping is invalid).

    >>> dem = {"kprlink_spec": 1, "name": "dem",
    ...        "window": {"start": "2016-07-01", "end": "2017-06-30"},
    ...        "entry": [{"source": "npr", "codelists": [
    ...            {"name": "dem", "system": "ICD-10", "codes": ["F00-F03"]}]}]}
    >>> _as_definition(dem).name
    'dem'
    """
    if isinstance(definition, CohortDefinition):
        return definition
    if isinstance(definition, (str, os.PathLike)):
        path = Path(definition)
        if not path.is_file():
            raise SpecError(f"cohort definition {str(path)!r} is not a file",
                            [Problem(str(path), None, "not_found",
                                     "pass a CohortDefinition or the path of a cohort TOML "
                                     "file (see docs/getting_started.md)")])
        return CohortDefinition.from_toml(path)
    if isinstance(definition, Mapping):
        return CohortDefinition.from_dict(definition)
    raise SpecError(f"build_cohort() needs a CohortDefinition, a TOML path or a mapping as "
                    f"`definition`; got {type(definition).__name__}",
                    [Problem("definition", None, "wrong_type", type(definition).__name__)])


def build_cohort(data: Any, definition: CohortDefinition | str | os.PathLike[str]
                 | Mapping[str, Any], *,
                 linkage: LinkageResult | None = None, engine: Any = None) -> CohortResult:
    """Build a cohort from a delivery.

    Parameters
    ----------
    data : Delivery, mapping, str or Path
        Canonical frames (see :func:`kprlink.cohorts.diagnosis_events`), not
        modified; or a delivery folder, read with
        ``read_delivery(data, columns=cohort_columns(definition))`` (only the
        columns the build needs; every row still validated and counted).
    definition : CohortDefinition, str, Path or mapping
        The definition, or the path of its TOML file (code-list files resolve
        against its folder), or its file form as a mapping.
    linkage : LinkageResult, optional
        Reuse a linkage; by default :func:`kprlink.linkage.link_extracts` on the
        delivery's episodes, claims and key, and with the definition's
        ``[linkage] method = "probabilistic"`` model links added for persons
        the key misses (see :mod:`kprlink.cohorts._model_links`).
    engine : None, "in-process", "dask" or distributed.Client, optional
        Where the partitions of an imported folder are built (see
        :mod:`kprlink._engine`): by default one after another in this process;
        a Dask client runs the same partition functions on its cluster. The
        cohort is the same on every engine. Needs `data` to be an imported
        folder (``kprlink import``, with ``--partitions N`` to split it).

    Returns
    -------
    CohortResult

    Raises
    ------
    MissingColumnsError
        If a frame lacks a canonical column, or an entry filters on contact types
        and the delivery has no fee-code file (``err.missing == ["kuhr_fees"]``).
    SpecError
        If `definition` is not a definition, a readable cohort TOML or mapping.
    """
    definition = _as_definition(definition)
    model = definition.linkage is not None and definition.linkage.probabilistic
    if isinstance(data, (str, os.PathLike)):
        from kprlink.sources import read_delivery
        from kprlink.sources.delivery import is_imported

        if linkage is None and not model and is_imported(data):
            from kprlink.cohorts._parts import from_imported

            return from_imported(Path(data), definition, engine)
        if not _in_process(engine):
            raise SpecError(f"build_cohort(engine={engine!r}) runs on an imported folder "
                            "(written by `kprlink import`) with key-file linkage; "
                            f"{str(data)!r} is not one, or the definition adds model links.",
                            [f"kprlink import {data} --out IMPORTED --partitions N"])
        data = read_delivery(data, columns=cohort_columns(definition))
    elif not _in_process(engine):
        raise SpecError("build_cohort(engine=...) needs the path of an imported folder, "
                        "not frames in memory.", ["pass the imported folder's path"])
    frames = frames_of(data)
    if linkage is None:
        from kprlink.linkage._aliases import link_merging_aliases

        frames, linkage = link_merging_aliases(frames, _link)
        if model:
            from kprlink.cohorts._model_links import link_with_model

            linkage, _ = link_with_model(frames, linkage, definition.linkage)
    return _build(frames, definition, linkage)


def _in_process(engine: Any) -> bool:
    """Whether `engine` runs here (None, "in-process" or an InProcess engine)."""
    from kprlink._engine import InProcess

    return engine is None or engine == "in-process" or isinstance(engine, InProcess)


def build_incident_cohort(data: Any, definition: Any, *, washout_days: int,
                          coverage_start: Any = None, linkage: Any = None) -> Any:
    """Build an incident cohort: the definition plus a washout rule.

    The index date is the first qualifying event in the window, and a person
    enters only if no entry event falls in the `washout_days` days before it and
    the delivery covers that whole look-back (index − washout_days >=
    `coverage_start`, by default the delivery's first claim or episode date).
    :func:`build_cohort` on the definition alone gives the prevalent cohort.

    Parameters
    ----------
    data, definition, linkage
        As for :func:`build_cohort`.
    washout_days : int
        Length of the look-back that must be free of the entry codes (>= 1).
    coverage_start : date or ISO str, optional
        First day the delivery covers.

    Returns
    -------
    CohortResult
        Its attrition ends with the row ``washout``.
    """
    params: dict[str, Any] = {"days": washout_days}
    if coverage_start is not None:
        params["coverage_start"] = coverage_start
    rule = CohortRule("washout", f"washout {washout_days} days", params=params)
    return build_cohort(data, replace(definition, rules=(*definition.rules, rule)),
                        linkage=linkage)
