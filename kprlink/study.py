"""Run a study end to end: ``studies/<name>/study.toml`` → a disclosure-safe release.

:func:`run_study` reads and validates the delivery, builds the cohort, runs
each table's analysis step, adds margins, applies the study's suppression
rule (:func:`kprlink.suppress_table`), derives shares and means from
released counts only, checks every released cell, and writes::

    OUT/tables/<table>.csv   OUT/tables.xlsx      released tables
    OUT/figures/<table>.png  OUT/figures/<table>.svg
    OUT/release_log.csv      one row per released cell, with its check
    OUT/release_log.json     rule, per-table counts, disclosure audit
    OUT/report.md            OUT/report.html
    OUT/provenance.json      versions, digests, SHA-256 of every input file

Person-level data (the cohort) go to the *work* folder only. The output is
written to a temporary sibling and renamed into place; an existing output
folder is replaced only with ``force=True``. Same inputs, same bytes.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kprlink import _atomic, _exceeding, _provenance, _report
from kprlink._studyspec import DisclosureSpec, PublishedFigure, StudySpec, TableSpec
from kprlink.analyses import AnalysisTable, StudyContext, get_step, register, step_kinds
from kprlink.analyses._registry import cohort_only, params_dict
from kprlink.disclosure._cells import complete_cells
from kprlink.sources.lazy import ImportedDelivery
from kprlink.exceptions import ReleaseRefusedError, SpecError

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
        One row per released cell: table, cell, status, n, check.
    provenance : dict
        The provenance record.
    """

    out: Path
    tables: Mapping[str, pd.DataFrame]
    release_log: pd.DataFrame
    provenance: Mapping[str, Any]

    @property
    def all_passed(self) -> bool:
        """True when every released cell passed the release check."""
        return bool((self.release_log["check"] == "passed").all())

    def summary(self) -> pd.DataFrame:
        """Cells and suppressed cells per table."""
        g = self.release_log.groupby("table", sort=False)
        return pd.DataFrame({"cells": g.size(),
                             "suppressed": g["status"].agg(lambda s: int((s != "published").sum())),
                             "failed": g["check"].agg(lambda s: int((s != "passed").sum()))})

    def __repr__(self) -> str:
        n = len(self.release_log)
        sup = int((self.release_log["status"] != "published").sum())
        return (f"<StudyResult {self.provenance['study']['name']}: {len(self.tables)} tables, "
                f"{n:,} cells, {sup:,} suppressed, "
                f"{'all passed' if self.all_passed else 'CHECK FAILED'} → {self.out}>")

    def _repr_html_(self) -> str:
        from kprlink._html import card

        study = self.provenance.get("study", {})
        facts = [(k, study[k]) for k in ("name", "version", "digest") if k in study]
        facts += [("kprlink", self.provenance.get("kprlink_version", "")),
                  ("output", str(self.out)), ("all cells passed", self.all_passed)]
        warn = [] if self.all_passed else ["the release check failed: see checker/release_log.csv"]
        return card(repr(self), facts, warnings=warn,
                    tables=[("tables", self.summary().rename_axis("table").reset_index())])


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
              progress: bool = False) -> StudyResult:
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
        A released cell failed the check (never expected; nothing is written).
    """
    import kprlink as kl
    from kprlink._progress import progress as _progress

    spec = study if isinstance(study, StudySpec) else StudySpec.from_toml(find_study(study))
    data_dir, out_dir = Path(data), Path(out)
    work_dir = Path(work) if work is not None else out_dir.parent / f"{out_dir.name}.work"
    if not data_dir.is_dir():
        raise FileNotFoundError(2, "No such delivery folder", str(data_dir))
    folders = {"data": data_dir, "work": work_dir}
    _atomic.check_output_folder(out_dir, force=force, inputs=folders)
    delivery = _open_delivery(data_dir)
    ctx = StudyContext(spec=spec, delivery=delivery, work_dir=work_dir)
    if isinstance(delivery, ImportedDelivery) and spec.cohort_path is not None and all(
            cohort_only(t.kind) for t in spec.tables):
        # every step reads only the cohort's persons: load only their rows
        persons = ctx.cohort()
        delivery.restrict(kpr_ids=persons["kpr_id"], npr_ids=persons["npr_id"])
    sections, logs, released, audits = [], [], {}, {}
    with _atomic.atomic_folder(out_dir, force=force, inputs=folders) as tmp:
        for t in _progress(spec.tables, desc=spec.name, unit="table", disable=not progress):
            log.info("table %s (%s)", t.name, t.kind)
            at = get_step(t.kind)(ctx, **params_dict(t.params))
            table, audit, problems = _release(at, spec.disclosure)
            cell_log = _check_cells(table, at, t.name, spec.disclosure, audit_ok=not problems)
            released[t.name] = table
            audits[t.name] = audit
            logs.append(cell_log)
            _atomic.write_csv(tmp / "tables" / f"{t.name}.csv", table)
            figures = _figure(t, at, table, tmp)
            sections.append(_report.ReportSection(
                name=t.name, title=t.title, table=table,
                notes=at.notes + _exceeding.exceeding_note(t.name, at, ref_date=spec.ref_date),
                excluded=dict(at.excluded), figures=figures,
                published=[vars(p) for p in spec.published if p.table == t.name],
                n_cells=len(table), n_suppressed=int((table["status"] != "published").sum())))
        release_log = pd.concat(logs, ignore_index=True)
        failed = release_log[release_log["check"] != "passed"]
        if len(failed):
            raise ReleaseRefusedError(
                f"{len(failed)} released cell(s) failed the release check; nothing written.",
                [f"{r.table}: {r.cell}" for r in failed.itertuples()])
        _atomic.write_xlsx(tmp / "tables.xlsx", released)
        _atomic.write_csv(tmp / "release_log.csv", release_log)
        _atomic.write_text(tmp / "release_log.json", _provenance.dumps(
            _log_summary(spec, release_log, audits)))
        record = _provenance.provenance_record(
            kprlink_version=kl.__version__,
            study={"name": spec.name, "version": spec.version, "digest": spec.digest,
                   "file_sha256": _spec_file_hash(spec)},
            definitions=ctx.definitions, inputs=_provenance.input_files(data_dir),
            seed=spec.seed,
            extra={"delivery_exclusions": _exclusions(delivery)})
        _atomic.write_text(tmp / "provenance.json", _provenance.dumps(record))
        _write_report(tmp, spec, sections, release_log, record)
    return StudyResult(out=out_dir, tables=released, release_log=release_log,
                       provenance=record)


def _spec_file_hash(spec: StudySpec) -> str | None:
    path = (spec.directory / "study.toml") if spec.directory else None
    return _provenance.sha256_file(path) if path and path.is_file() else None


def _open_delivery(data_dir: Path) -> Any:
    """An imported folder opens lazily (frames load on use); others are read whole."""
    import kprlink as kl
    from kprlink.sources.delivery import is_imported

    return ImportedDelivery(data_dir) if is_imported(data_dir) else kl.read_delivery(data_dir)


def _exclusions(delivery: Any) -> dict[str, dict[str, int]]:
    """Rows the readers excluded, by file and reason (from the validation report)."""
    return _provenance.delivery_exclusions(delivery.report)


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


def _rule(rule: DisclosureSpec) -> Any:
    import kprlink as kl

    return kl.SuppressionRule(max_n=rule.max_n, protect_zeros=rule.protect_zeros,
                              protect_differences=rule.protect_differences)


def _suppress(cells: pd.DataFrame, at: AnalysisTable, rule: DisclosureSpec
              ) -> tuple[pd.DataFrame, Any, list[str]]:
    """Protect `cells` with the real disclosure layer.

    Tables with a public denominator go through :func:`kprlink.release_rates`
    (the complement ``population - n`` is protected too, and shares carry
    Wilson intervals computed from released counts only); others through
    :func:`kprlink.suppress_table`. Returns (released table with ``status``,
    the JSON-able disclosure record, audit problems).
    """
    import kprlink as kl

    dims = list(at.dims)
    inner = cells[[*dims, at.count_col]]
    if at.population is not None:
        pop = at.population[[*dims, "population"]].astype({d: "string" for d in dims})
        # absent combinations are zeros the margins would reveal: make them cells
        inner = complete_cells(inner, dims, at.count_col)
        inner = inner.astype({d: "string" for d in dims}).merge(pop, on=dims, how="left")
        if inner["population"].isna().any():
            gaps = inner.loc[inner["population"].isna(), dims].astype(str)
            raise SpecError("the population table has no denominator for "
                            f"{len(gaps)} cell(s).", gaps.agg("; ".join, axis=1).tolist())
        # keep the cells' order of levels (age bands in age order, not alphabetical)
        inner = inner.astype({d: pd.CategoricalDtype(
            [str(c) for c in (cells[d].cat.categories
                              if isinstance(cells[d].dtype, pd.CategoricalDtype)
                              else pd.unique(cells[d].dropna()))], ordered=True)
            for d in dims})
        rr = kl.release_rates(inner, dims=dims, rule=_rule(rule), count_col=at.count_col,
                              denom_col="population", audit=True, exceeding="suppress")
        table, res = rr.released, rr.suppression
        table = table.rename(columns={"share": "share_pct"})
        for c in ("share_pct", "share_lower", "share_upper"):
            table[c] = pd.array(table[c], dtype="Float64").round(4)
    else:
        res = kl.suppress_table(inner, dims, count_col=at.count_col, rule=_rule(rule),
                                audit=True)
        table = res.released
    table = table.drop(columns=[c for c in ("reason",) if c in table])
    return table, res.release_log(), res.problems()


def _release(at: AnalysisTable, rule: DisclosureSpec
             ) -> tuple[pd.DataFrame, Any, list[str]]:
    dims = list(at.dims)
    table, audit, problems = _suppress(at.cells, at, rule)
    table = table.astype({d: "string" for d in dims})
    n = pd.array(table[at.count_col], dtype="Int64")
    table[at.count_col] = n
    shown = ~pd.isna(n)
    if at.share_within is not None:
        others = [d for d in dims if d != at.share_within]
        tot = table[table[at.share_within] == TOTAL][others + [at.count_col]].rename(
            columns={at.count_col: "_den"})
        table = table.merge(tot, on=others, how="left") if others else table.assign(
            _den=tot["_den"].iloc[0])
        share = 100 * table[at.count_col].astype("Float64") / table["_den"].astype("Float64")
        table["share_pct"] = share.where(shown & ~pd.isna(table["_den"])).round(4)
        table = table.drop(columns="_den")
    for col in at.value_cols:
        sums = add_margins(at.cells, dims, [col])
        table = table.merge(sums, on=dims, how="left")
        table[col] = table[col].astype("Int64").where(shown)
        table[f"{col}_per_person"] = (table[col].astype("Float64")
                                      / table[at.count_col].astype("Float64")).round(4)
    front = [*dims, at.count_col]
    rest = [c for c in table.columns if c not in front and c != "status"]
    return table[front + rest + ["status"]].reset_index(drop=True), audit, problems


def _check_cells(table: pd.DataFrame, at: AnalysisTable, name: str,
                 rule: DisclosureSpec, *, audit_ok: bool = True) -> pd.DataFrame:
    """One row per released cell: shown count, status and check (passed/failed).

    A cell passes when its shown count is not in ``1..max_n`` (nor 0 with
    ``protect_zeros``), every value derived from a hidden count is hidden,
    its status agrees with what is shown, the complement ``population - n``
    of a shown count is not small, and the table's disclosure audit found
    every suppressed cell protected.
    """
    n = table[at.count_col]
    derived = [c for c in table.columns if c not in (*at.dims, at.count_col, "status",
                                                      "population")]
    hidden_ok = pd.Series(True, index=table.index)
    for c in derived:
        hidden_ok &= ~(n.isna() & table[c].notna())
    small = n.notna() & (n >= 1) & (n <= rule.max_n)
    zero = n.notna() & (n == 0) & rule.protect_zeros
    status_ok = (n.isna() == (table["status"] != "published"))
    ok = ~small & ~zero & hidden_ok & status_ok & audit_ok
    if "population" in table and rule.protect_differences:
        diff = table["population"].astype("Int64") - n
        ok &= ~(diff.notna() & (diff >= 1) & (diff <= rule.max_n)).fillna(False)
    cell = table[list(at.dims)].astype(str).apply(
        lambda r: "; ".join(f"{k}={v}" for k, v in r.items()), axis=1)
    return pd.DataFrame({"table": name, "cell": cell.astype("string"), "status": table["status"],
                         "n": n, "check": pd.Series(ok, index=table.index).map(
                             {True: "passed", False: "failed"})})


def _log_summary(spec: StudySpec, release_log: pd.DataFrame,
                 audits: Mapping[str, Any]) -> dict[str, Any]:
    per = {}
    for name, g in release_log.groupby("table", sort=False):
        per[str(name)] = {"cells": len(g),
                          "published": int((g["status"] == "published").sum()),
                          "primary": int((g["status"] == "primary").sum()),
                          "secondary": int((g["status"] == "secondary").sum()),
                          "all_passed": bool((g["check"] == "passed").all()),
                          "disclosure_audit": _jsonable(audits.get(str(name)))}
    return {"study": spec.name, "study_digest": spec.digest,
            "rule": {"max_n": spec.disclosure.max_n,
                     "protect_zeros": spec.disclosure.protect_zeros,
                     "protect_differences": spec.disclosure.protect_differences},
            "all_passed": bool((release_log["check"] == "passed").all()),
            "tables": per}


def _jsonable(obj: Any) -> Any:
    if obj is None:
        return None
    if isinstance(obj, pd.DataFrame):
        return json.loads(obj.to_json(orient="records", date_format="iso"))
    try:
        return json.loads(json.dumps(obj, default=str))
    except (TypeError, ValueError):
        return str(obj)


def _figure(t: TableSpec, at: AnalysisTable, table: pd.DataFrame, tmp: Path) -> list[str]:
    if t.figure is None:
        return []
    import kprlink as kl

    value = "share_pct" if "share_pct" in table else at.count_col
    if t.figure == "share_by_age_sex":
        fig = kl.plot_share_by_age_sex(table, age_col=at.dims[0], sex_col=at.dims[1],
                                       share_col="share_pct", title=t.title)
    elif t.figure == "funnel":
        fig = kl.plot_funnel(table, count_col=at.count_col, label_col=at.dims[0],
                             title=t.title)
    else:
        dims = [d for d in at.dims if d != at.share_within]
        shown = table if at.share_within is None else table[table[at.share_within] == "yes"]
        if at.share_within is not None and not len(shown):
            shown = table[table[at.share_within] != TOTAL]
            dims = list(at.dims)
        fig = _report.bar_figure(shown, dims=dims, value=value, title=t.title)
    fig = getattr(fig, "figure", fig)
    paths = _atomic.save_figure(fig, tmp / "figures" / t.name)
    return [f"figures/{p.name}" for p in paths]


def _write_report(tmp: Path, spec: StudySpec, sections: list[_report.ReportSection],
                  release_log: pd.DataFrame, record: Mapping[str, Any]) -> None:
    status = release_log["status"]
    checks = {"cells": len(release_log), "suppressed": int((status != "published").sum()),
              "primary": int((status == "primary").sum()),
              "secondary": int((status == "secondary").sum()),
              "failed": int((release_log["check"] != "passed").sum())}
    meta = {"Period": f"{spec.period_start} – {spec.period_end}",
            "Reference date (ages, denominators)": str(spec.ref_date),
            "Disclosure rule": f"counts 1–{spec.disclosure.max_n} suppressed"
                               + (", zeros too" if spec.disclosure.protect_zeros else "")
                               + "; secondary suppression protects them from the margins",
            "Study": f"{spec.name} v{spec.version} (digest {spec.digest})"}
    if spec.description:
        meta["About"] = " ".join(spec.description.split())
    prov = {"kprlink": str(record["kprlink_version"]), "python": str(record["python"]),
            "input files": str(len(record["inputs"])),  # type: ignore[arg-type]
            "seed": str(record["seed"]),
            **{f"definition {k}": v[:16] for k, v in record["definitions"].items()}}
    kw = dict(title=spec.title, meta=meta, sections=sections, checks=checks, provenance=prov)
    _atomic.write_text(tmp / "report.md", _report.render_markdown(**kw))  # type: ignore[arg-type]
    _atomic.write_text(tmp / "report.html", _report.render_html(**kw))  # type: ignore[arg-type]

