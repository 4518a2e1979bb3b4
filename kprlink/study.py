"""Run a study end to end: ``studies/<name>/study.toml`` → a disclosure-safe release.

:func:`run_study` reads and validates the delivery, builds the cohort, runs
each table's analysis step, protects all tables together (common persons,
different groupings, the report's "left out" counts, value cells by their
contributors: :func:`kprlink.disclosure.joint.protect_study`), derives shares
and means from published counts only, re-checks every released number, and
writes::

    OUT/release/               what leaves the secure environment (all public)
        tables/<table>.csv     tables.xlsx        suppressed values show ":"
        figures/<table>.png    figures/<table>.svg
        report.md              report.html
    OUT/checker/               for the output checker; stays inside
        release_log.csv        one row per released number: status, reason, interval
        release_log.json       rule, per-table statuses, the joint model
        provenance.json        versions, digests, SHA-256 of every input file

Nothing under ``release/`` names a cell's status or reason.

Person-level data (the cohort) go to the *work* folder only. The output is
written to a temporary sibling and renamed into place; an existing output
folder is replaced only with ``force=True``. Same inputs, same bytes.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kprlink import _atomic, _exceeding, _ledger, _provenance, _report
from kprlink import _study_figures as _figures
from kprlink import _study_release as _release
from kprlink import _study_write as _write
from kprlink._study_linkage import KEY_ONLY, run_tables
from kprlink._studyspec import DisclosureSpec, PublishedFigure, StudySpec, TableSpec
from kprlink.analyses import (
    AnalysisTable,
    CurveTable,
    StudyContext,
    get_step,
    register,
    step_kinds,
)
from kprlink.analyses._registry import cohort_only, params_dict
from kprlink.exceptions import ReleaseRefusedError, SpecError
from kprlink.sources.lazy import ImportedDelivery

__all__ = ["DisclosureSpec", "PublishedFigure", "StudyResult", "StudySpec", "TableSpec",
           "find_study", "register_analysis", "run_study", "shipped_studies",
           "study_table_kinds", "OutputFolderError"]

OutputFolderError = _atomic.OutputFolderError
register_analysis = register
study_table_kinds = step_kinds
TOTAL = "Total"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyResult:
    """What :func:`run_study` released.

    Attributes
    ----------
    out : pathlib.Path
        The output folder.
    tables : dict of str to pandas.DataFrame
        Released tables (suppressed counts NA), by table name.
    release_log : pandas.DataFrame
        One row per released number (the checker's log): table, cell, value_of,
        status, reason, n, contributors, lower, upper.
    provenance : dict
        The provenance record.
    """

    out: Path
    tables: Mapping[str, pd.DataFrame]
    release_log: pd.DataFrame
    provenance: Mapping[str, Any]

    @property
    def all_passed(self) -> bool:
        """True: a release that fails the check is refused, never written."""
        return True

    def _counts(self) -> pd.DataFrame:
        lg = self.release_log
        return lg[lg["status"].isin(["published", "primary", "secondary"])]

    def summary(self) -> pd.DataFrame:
        """Released numbers and suppressed ones per table."""
        g = self._counts().groupby("table", sort=False)
        return pd.DataFrame({"cells": g.size(),
                             "suppressed": g["status"].agg(lambda s: int((s != "published").sum()))})

    def __repr__(self) -> str:
        lg = self._counts()
        n = len(lg)
        sup = int((lg["status"] != "published").sum())
        return (f"<StudyResult {self.provenance['study']['name']}: {len(self.tables)} tables, "
                f"{n:,} cells, {sup:,} suppressed, "
                f"{'all passed' if self.all_passed else 'CHECK FAILED'} → {self.out}>")


def shipped_studies() -> list[str]:
    """Names of the studies shipped with kprlink (``kprlink/studies/<name>/study.toml``).

    In a source checkout ``kprlink/studies`` links to the repository's
    ``studies/`` folder; a built wheel holds copies of the same files.

    Examples
    --------
    >>> "dementia_2016_2017" in shipped_studies()
    True
    """
    root = Path(__file__).resolve().parent / "studies"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "study.toml").is_file())


def find_study(study: str | Path) -> Path:
    """The study folder for a path (folder or ``study.toml``) or a shipped study's name.

    Raises
    ------
    SpecError
        Neither an existing path nor a shipped study; ``problems`` lists the
        shipped names.

    Examples
    --------
    >>> find_study("welfare_technology_2017").name
    'welfare_technology_2017'
    """
    p = Path(study)
    if p.exists():
        return p.parent if p.is_file() else p
    name = str(study)
    if name in shipped_studies():
        return Path(__file__).resolve().parent / "studies" / name
    raise SpecError(f"{name!r} is neither a study folder nor a study shipped with kprlink; "
                    f"shipped studies are {shipped_studies()}.", shipped_studies())


def run_study(study: StudySpec | str | Path, *, data: str | Path, out: str | Path,
              work: str | Path | None = None, force: bool = False,
              progress: bool = False, ledger: str | Path | None = None,
              engine: Any = None) -> StudyResult:
    """Run `study` on the delivery in `data` and write the release to `out`.

    Parameters
    ----------
    study : StudySpec, path or name
        A spec, a ``study.toml``, the study folder or the name of a shipped
        study (:func:`shipped_studies`).
    data : path
        The delivery folder (read with :func:`kprlink.read_delivery`); a folder
        written by ``kprlink import`` opens lazily (:class:`ImportedDelivery`),
        and when every table reads only the cohort's persons, only their rows
        are loaded (national deliveries).
    out : path
        Output folder for released files; must not exist unless `force`.
    work : path, optional
        Folder for person-level intermediates; default ``<out>.work`` beside
        `out`. Never inside `out`.
    force : bool, default False
        Replace an existing kprlink output folder.
    progress : bool, default False
        Show progress bars on stderr.
    ledger : path, optional
        The release ledger (what earlier runs on this delivery published, with
        the persons each number counts; see :mod:`kprlink._ledger`); default
        ``<work>/ledger``. Kept in the work area, never in `out`.
    engine : None, "in-process", "dask", distributed.Client or an engine, optional
        Where the cohort and the cohort's rows of a partitioned import
        (``kprlink import --partitions N``) are computed (:mod:`kprlink._engine`):
        by default partition by partition in this process. Every engine gives
        the same release.

    Returns
    -------
    StudyResult

    Raises
    ------
    SpecError
        The study file is invalid (every problem listed).
    OutputFolderError
        `out` exists without `force`, or overlaps `data` or `work`.
    ReleaseRefusedError
        A released number failed the check or the joint audit (nothing is
        written).
    """
    from kprlink._engine import engine_from

    with engine_from(engine) as eng:
        return _run_study(study, data=data, out=out, work=work, force=force,
                          progress=progress, ledger=ledger, engine=eng)


def _run_study(study: StudySpec | str | Path, *, data: str | Path, out: str | Path,
               work: str | Path | None, force: bool, progress: bool,
               ledger: str | Path | None, engine: Any) -> StudyResult:
    """:func:`run_study` on an open engine."""
    import kprlink as kl
    from kprlink._progress import progress as _progress

    spec = study if isinstance(study, StudySpec) else StudySpec.from_toml(find_study(study))
    data_dir, out_dir = Path(data), Path(out)
    work_dir = Path(work) if work is not None else out_dir.parent / f"{out_dir.name}.work"
    if not data_dir.is_dir():
        raise FileNotFoundError(2, "No such delivery folder", str(data_dir))
    folders = {"data": data_dir, "work": work_dir}
    ledger_root = Path(ledger) if ledger is not None else work_dir / "ledger"
    _atomic.check_output_folder(out_dir, force=force, inputs=folders)
    for label, other in (("output", out_dir), ("data", data_dir)):
        if _atomic._inside(ledger_root, other) or _atomic._inside(other, ledger_root):
            raise OutputFolderError(
                f"The release ledger {str(ledger_root)!r} overlaps the {label} folder.",
                ["keep the ledger in the work area, outside the delivery and the release"],
                path=ledger_root)
    delivery = _open_delivery(data_dir, engine)
    ctx = StudyContext(spec=spec, delivery=delivery, work_dir=work_dir, linkage=spec.linkage)
    plan = run_tables(spec, ctx)
    contexts = list({id(c): c for _, c in plan}.values())
    if isinstance(delivery, ImportedDelivery) and spec.cohort_path is not None and all(
            cohort_only(t.kind) for t, _ in plan):
        # every step reads only the cohort's persons: load only their rows
        persons = pd.concat([c.cohort()[["kpr_id", "npr_id"]] for c in contexts])
        delivery.restrict(kpr_ids=persons["kpr_id"], npr_ids=persons["npr_id"])
    steps: dict[str, AnalysisTable | CurveTable] = {}
    for t, c in _progress(plan, desc=spec.name, unit="table", disable=not progress):
        log.info("table %s (%s)", t.name, t.kind)
        steps[t.name] = get_step(t.kind)(c, **params_dict(t.params))
    if spec.linkage is not None and spec.linkage.probabilistic \
            and spec.cohort_path is not None:
        from kprlink._study_linkage import write_linkage_report

        write_linkage_report(ctx, work_dir / "linkage_report")
    # the persons of every variant (with and without model links: nested populations,
    # one person identity) are protected together
    universe = (pd.unique(pd.concat([c.cohort()["person_id"] for c in contexts])
                          .to_numpy("int64")) if spec.cohort_path is not None else None)
    inputs = _provenance.input_files(data_dir)
    ledger_dir = ledger_root / _ledger.delivery_digest(inputs)
    key = _ledger.run_key(spec.name, spec.digest, ctx.definitions)
    variants = {t.name: t.name.removesuffix(KEY_ONLY) for t, _ in plan
                if t.name.endswith(KEY_ONLY)}
    # curves come coarsened by release_curve; every count table is protected together
    counted = {n: s for n, s in steps.items() if isinstance(s, AnalysisTable)}
    curves = {n: s for n, s in steps.items() if isinstance(s, CurveTable)}
    # a curve with its persons' steps is protected with the tables (its counts a table)
    counted.update({n: _release.curve_table(c) for n, c in curves.items()
                    if c.persons is not None})
    joint = _release.protect(counted, spec.disclosure, universe=universe,
                             prior=_ledger.load(ledger_dir, exclude=key), variants=variants)
    released = {name: (_release.released_table(at, joint.tables[name])
                       if isinstance(at, AnalysisTable) else _release.released_curve(
                           at, joint.tables[name] if at.persons is not None else None))
                for name, at in steps.items()}
    excluded = {name: dict(at.excluded) for name, at in steps.items()}
    release_log = _release.checker_log(joint, counted, excluded)
    alone = {n: c for n, c in curves.items() if c.persons is None}
    if alone:
        parts = [p for p in (_release.curve_log(n, c) for n, c in alone.items()) if len(p)]
        release_log = pd.concat([release_log, *parts], ignore_index=True).astype(
            {"table": "string"}) if parts else release_log
    failed = _write.check_release(released, steps, spec.disclosure)
    if joint.problems or failed:
        raise ReleaseRefusedError(
            f"{len(joint.problems) + len(failed)} released number(s) failed the release "
            "check; nothing written.", [*joint.problems, *failed])
    names = _figures.place_names(data_dir)
    with _atomic.atomic_folder(out_dir, force=force, inputs=folders) as tmp:
        rel_dir, chk_dir = tmp / "release", tmp / "checker"
        sections = []
        for t, _ in plan:
            at, rel = steps[t.name], released[t.name]
            shown = _release.with_place_names(_release.display(rel, spec.disclosure.symbol),
                                              names)
            _atomic.write_csv(rel_dir / "tables" / f"{t.name}.csv", shown)
            figures = _figures.write_figure(t, at, rel.table, rel_dir,
                                            spec.disclosure.symbol, names)
            sections.append(_report.ReportSection(
                name=t.name, title=t.title, table=shown,
                notes=at.notes + _exceeding.exceeding_note(t.name, at, ref_date=spec.ref_date),
                excluded=_release.left_out_text(t.name, joint, at.excluded, spec.disclosure),
                figures=figures,
                published=[vars(p) for p in spec.published if p.table == t.name],
                n_cells=len(rel.table),
                n_suppressed=int(rel.hidden[at.count_col].sum())))
        _atomic.write_xlsx(rel_dir / "tables.xlsx",
                           {n: _release.with_place_names(
                               _release.display(r, spec.disclosure.symbol), names)
                            for n, r in released.items()},
                           notes=_write.xlsx_notes(spec, version=kl.__version__))
        _atomic.write_csv(chk_dir / "release_log.csv", release_log)
        _atomic.write_text(chk_dir / "release_log.json", _provenance.dumps(
            _write.log_summary(spec, release_log, joint)))
        record = _provenance.provenance_record(
            kprlink_version=kl.__version__,
            study={"name": spec.name, "version": spec.version, "digest": spec.digest,
                   "file_sha256": _spec_file_hash(spec)},
            definitions=ctx.definitions, inputs=inputs,
            seed=spec.seed,
            extra=_exclusions(delivery))
        _atomic.write_text(chk_dir / "provenance.json", _provenance.dumps(record))
        _write.write_report(rel_dir, spec, sections, release_log, record)
        # before the release is moved into place: a run killed in between leaves an
        # entry for a release that never came out (later runs protect more, never less)
        _ledger.record(ledger_dir, key, joint)
    return StudyResult(out=out_dir, tables={n: r.table for n, r in released.items()},
                       release_log=release_log, provenance=record)


def _spec_file_hash(spec: StudySpec) -> str | None:
    path = (spec.directory / "study.toml") if spec.directory else None
    return _provenance.sha256_file(path) if path and path.is_file() else None


def _open_delivery(data_dir: Path, engine: Any = None) -> Any:
    """An imported folder opens lazily (frames load on use); others are read whole."""
    import kprlink as kl
    from kprlink.sources.delivery import is_imported

    if is_imported(data_dir):
        return ImportedDelivery(data_dir, engine=engine)
    return kl.read_delivery(data_dir)


def _exclusions(delivery: Any) -> dict[str, object]:
    """Rows the readers excluded, repaired and flagged, by file and reason, and the
    files they did not read (from the validation report)."""
    report = delivery.report
    return {"delivery_exclusions": _provenance.delivery_exclusions(report),
            "delivery_repairs": _provenance.delivery_exclusions(report, "repaired"),
            "delivery_flags": _provenance.delivery_exclusions(report, "flagged"),
            "delivery_files_not_read": sorted(report.unclassified)}


def add_margins(cells: pd.DataFrame, dims: list[str], cols: list[str]) -> pd.DataFrame:
    """Inner cells plus every margin (``Total``) of `dims`, summing `cols`.

    Examples
    --------
    >>> c = pd.DataFrame({"sex": ["female", "male"], "n": [3, 4]})
    >>> add_margins(c, ["sex"], ["n"])["n"].tolist()
    [3, 4, 7]
    """
    base = cells[dims + cols].astype({d: "string" for d in dims})
    parts = []
    for k in range(len(dims) + 1):
        for totals in itertools.combinations(dims, k):
            keep = [d for d in dims if d not in totals]
            if keep:
                g = base.groupby(keep, sort=False)[cols].sum().reset_index()
            else:
                g = base[cols].sum().to_frame().T.reset_index(drop=True)
            for d in totals:
                g[d] = TOTAL
            parts.append(g[dims + cols])
    out = pd.concat(parts, ignore_index=True)
    return out.astype({d: "string" for d in dims})
