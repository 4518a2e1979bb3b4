"""What a study run writes: the release check, the checker's summary, the report.

The report goes under ``release/`` (it leaves): it names no cell's status or
reason, shows the suppression symbol where a number is hidden, and prints no
count the rule would hide. The summary with per-table statuses goes under
``checker/`` (it stays inside).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from kprlink import _atomic, _report
from kprlink._study_release import Released
from kprlink._studyspec import StudySpec
from kprlink.analyses import AnalysisTable
from kprlink.disclosure.joint import JointResult

TOTAL = "Total"


def check_release(released: Mapping[str, Released], steps: Mapping[str, AnalysisTable],
                  rule: Any) -> list[str]:
    """Re-check every released number independently of the suppression.

    A shown count is never ``1..max_n`` (nor 0 with ``protect_zeros``), a shown
    count's complement ``population - n`` is never ``1..max_n``, and no value
    derived from a hidden count is shown. Returns one line per failure.
    """
    failed = []
    for name, rel in released.items():
        at = steps[name]
        t = rel.table
        n = t[at.count_col]
        bad = n.notna() & (n >= 1) & (n <= rule.max_n)
        if rule.protect_zeros:
            bad |= n.notna() & (n == 0)
        if "population" in t and rule.protect_differences:
            diff = t["population"].astype("Int64") - n
            bad |= (diff.notna() & (diff >= 1) & (diff <= rule.max_n)).fillna(False)
        derived = [c for c in t.columns if c not in (*at.dims, at.count_col, "population")]
        for c in derived:
            bad |= (n.isna() & t[c].notna()).fillna(False)
        for c in at.value_cols:
            # a shown sum of 1..max_n events says at most max_n persons had one
            v = t[c]
            bad |= (v.notna() & (v >= 1) & (v <= rule.max_n)).fillna(False)
        for i in bad.to_numpy().nonzero()[0]:
            failed.append(f"{name}: " + "; ".join(f"{d}={t.at[i, d]}" for d in at.dims))
    return failed


def log_summary(spec: StudySpec, release_log: pd.DataFrame,
                joint: JointResult) -> dict[str, Any]:
    """The checker's JSON: rule, per-table statuses, the joint model's size."""
    per = {}
    for name, g in release_log.groupby("table", sort=False):
        per[str(name)] = {
            "numbers": len(g),
            **{s: int((g["status"] == s).sum()) for s in ("published", "primary", "secondary")},
            "hidden_intervals": json.loads(g[g["status"].isin(["primary", "secondary"])][
                ["cell", "value_of", "n", "lower", "upper"]].to_json(orient="records"))}
    d = spec.disclosure
    return {"study": spec.name, "study_digest": spec.digest,
            "rule": {"max_n": d.max_n, "protect_zeros": d.protect_zeros,
                     "protect_differences": d.protect_differences, "min_width": 1.0,
                     "symbol": d.symbol},
            "protection": {"method": "joint over all tables (common atoms of persons), "
                                     "GaussSuppression-style elimination, LP/MILP audit with "
                                     "published denominators as bounds",
                           "atoms": joint.n_atoms, "repairs": joint.n_repairs},
            "all_passed": not joint.problems, "tables": per}


def write_report(rel_dir: Path, spec: StudySpec, sections: list[_report.ReportSection],
                 release_log: pd.DataFrame, record: Mapping[str, Any]) -> None:
    """report.md and report.html under ``release/``."""
    d = spec.disclosure
    checks = {"cells": sum(s.n_cells for s in sections),
              "suppressed": sum(s.n_suppressed for s in sections), "symbol": d.symbol}
    meta = {"Period": f"{spec.period_start} – {spec.period_end}",
            "Reference date (ages, denominators)": str(spec.ref_date),
            "Disclosure rule": f"counts 1–{d.max_n} suppressed"
                               + (", zeros too" if d.protect_zeros else "")
                               + f", shown as {d.symbol!r}; all tables (and the numbers in "
                                 "this text) are protected together, so that no hidden "
                                 "count can be worked out from the others",
            "Study": f"{spec.name} v{spec.version} (digest {spec.digest})"}
    if spec.description:
        meta["About"] = " ".join(spec.description.split())
    prov = {"kprlink": str(record["kprlink_version"]), "python": str(record["python"]),
            "input files": str(len(record["inputs"])),
            "seed": str(record["seed"]),
            **{f"definition {k}": v[:16] for k, v in record["definitions"].items()}}
    kw = dict(title=spec.title, meta=meta, sections=sections, checks=checks, provenance=prov)
    _atomic.write_text(rel_dir / "report.md", _report.render_markdown(**kw))  # type: ignore[arg-type]
    _atomic.write_text(rel_dir / "report.html", _report.render_html(**kw))  # type: ignore[arg-type]


def xlsx_notes(spec: StudySpec, *, version: str) -> dict[str, str]:
    """The ``notes`` sheet of ``tables.xlsx``: what the tables are and how they were made."""
    from kprlink._xlsx import rule_text

    d = spec.disclosure
    notes = {
        "title": spec.title,
        "period": f"{spec.period_start:%d %b %Y} – {spec.period_end:%d %b %Y}; ages and "
                  f"population on {spec.ref_date:%d %b %Y}",
        "rule": rule_text(d.max_n, protect_zeros=d.protect_zeros),
        "symbol": f"{d.symbol} a suppressed number, or one derived from it; "
                  ". a value that does not exist (no denominator)",
        "intervals": "share_lower, share_upper: 95 % Wilson score interval, percent",
        "sources": "KPR (Kommunalt pasient- og brukerregister) and NPR (Norsk "
                   "pasientregister) extracts of the delivery, linked through the key file; "
                   "population: Statistics Norway table 07459",
        "software": f"kprlink {version}, study {spec.name} {spec.version} "
                    f"(digest {spec.digest})",
    }
    notes.update({f"table {t.name}"[:60]: t.title for t in spec.tables})
    return notes
