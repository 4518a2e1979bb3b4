"""``kprlink release check``: re-verify a release folder from scratch.

Part of :mod:`kprlink.disclosure.outsider`; like the attack, it reads only
``release/`` and imports nothing from the suppression code it checks.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from kprlink.disclosure._outsider_read import (
    COUNT,
    ReleasedTable,
    find_release,
    read_tables,
    to_number,
)

#: column headers that name a cell's status or reason (they must not leave)
LABEL_HEADERS = {"status", "reason", "check", "suppressed", "primary", "secondary"}
#: whole cells that are a status
_STATUS_CELL = re.compile(r"^\s*(primary|secondary|suppressed|published)\s*$", re.I)
#: prose counting cells by status ("268 primary, 6 secondary")
_STATUS_COUNT = re.compile(r"\b\d[\d,\s]*\s+(primary|secondary)\b(?!\s+(diagnos|care|health))",
                           re.I)
#: files that stay inside with the output checker
CHECKER_FILES = re.compile(r"^(release_log.*|provenance\.json)$")

COLS = ["table", "cell", "lower", "upper", "kind"]


def _f(where: str, what: str, kind: str) -> dict:
    return {"table": where, "cell": what, "lower": float("nan"), "upper": float("nan"),
            "kind": kind}


def _rows(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    return shown + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def _check_frame(where: str, frame: pd.DataFrame) -> list[dict]:
    """Headers naming a status, status cells, blank cells (rows are 1-based data rows)."""
    out = []
    for col in frame.columns:
        name = str(col).strip()
        if name.lower() in LABEL_HEADERS:
            out.append(_f(where, f"column {name!r} names a cell's status", "label"))
            continue
        text = frame[col].astype(str)
        blank = [i + 1 for i, v in enumerate(text) if v.strip() in ("", "nan", "None")]
        if blank:
            out.append(_f(where, f"column {name!r}: blank cells in rows {_rows(blank)}",
                          "blank"))
        status = [i + 1 for i, v in enumerate(text) if _STATUS_CELL.match(v)]
        if status:
            out.append(_f(where, f"column {name!r}: a status word in rows {_rows(status)}",
                          "label"))
    return out


def _md_tables(text: str) -> list[tuple[int, list[str], list[list[str]]]]:
    """Markdown tables: (first line, header, body rows)."""
    found, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|") and i + 1 < len(lines) and \
                re.match(r"^\s*\|[\s:|-]+\|\s*$", lines[i + 1]):
            header = [c.strip() for c in lines[i].strip().strip("|").split("|")]
            body, j = [], i + 2
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                body.append([c.strip() for c in lines[j].strip().strip("|").split("|")])
                j += 1
            found.append((i + 1, header, body))
            i = j
        else:
            i += 1
    return found


def _check_text(where: str, text: str, *, html: bool = False) -> list[dict]:
    out = []
    if html:
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", text, re.S | re.I)
        heads = re.findall(r"<th[^>]*>(.*?)</th>", text, re.S | re.I)
        if any(re.sub(r"<[^>]+>", "", h).strip().lower() in LABEL_HEADERS for h in heads):
            out.append(_f(where, "a table header names a cell's status", "label"))
        if any(_STATUS_CELL.match(re.sub(r"<[^>]+>", "", c)) for c in cells):
            out.append(_f(where, "a table cell shows a status word", "label"))
        if any(not re.sub(r"<[^>]+>|&nbsp;", "", c).strip() for c in cells):
            out.append(_f(where, "a table has blank cells", "blank"))
        prose = re.sub(r"<[^>]+>", " ", re.sub(r"<table.*?</table>", " ", text,
                                                 flags=re.S | re.I))
    else:
        for line, header, body in _md_tables(text):
            frame = pd.DataFrame([r + [""] * (len(header) - len(r)) for r in body],
                                 columns=header) if body else pd.DataFrame(columns=header)
            out += _check_frame(f"{where} (table at line {line})", frame)
        prose = "\n".join(x for x in text.splitlines() if not x.lstrip().startswith("|"))
    for m in _STATUS_COUNT.finditer(prose):
        out.append(_f(where, f"counts cells by status: {m[0].strip()!r}", "label"))
    return out


def check_folder(folder: str | Path) -> tuple[Path, pd.DataFrame]:
    """Everything in the release folder that names a status, is blank, or stays inside."""
    release = find_release(Path(folder))
    found: list[dict] = []
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        rel = str(path.relative_to(release))
        if CHECKER_FILES.match(path.name):
            found.append(_f(rel, "a checker file inside release/ (it must stay inside)",
                            "checker_file"))
        elif path.suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            found += _check_frame(rel, frame)
        elif path.suffix == ".xlsx":
            sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
            for sheet, frame in sheets.items():
                found += _check_frame(f"{rel} [{sheet}]", frame)
        elif path.suffix in (".md", ".html", ".htm", ".svg"):
            text = path.read_text(encoding="utf-8", errors="replace")
            found += _check_text(rel, text, html=path.suffix != ".md")
    found += consistency(release, read_tables(release))
    return release, pd.DataFrame(found, columns=COLS)


def _plain(col: pd.Series) -> pd.Series:
    return col.astype(str).str.replace(r"[,\s\u00a0]", "", regex=True)


def _views(release: Path, t: ReleasedTable) -> list[tuple[str, pd.DataFrame]]:
    """The other places a table is shown: its XLSX sheet and its report tables."""
    out = []
    xlsx = release / "tables.xlsx"
    if xlsx.is_file():
        sheets = pd.read_excel(xlsx, sheet_name=None, dtype=str, keep_default_na=False)
        for name, frame in sheets.items():
            if name == t.name or (len(name) == 31 and t.name.startswith(name)):
                out.append((f"tables.xlsx [{name}]", frame))
    md = release / "report.md"
    if md.is_file():
        text = md.read_text(encoding="utf-8")
        lines = text.splitlines()
        for first, header, body in _md_tables(text):
            named = [x for x in lines[: first - 1] if "`" in x]
            if named and f"`{t.name}`" in named[-1] and body:
                rows = [r + [""] * (len(header) - len(r)) for r in body]
                out.append((f"report.md (table at line {first})",
                            pd.DataFrame([r[: len(header)] for r in rows], columns=header)))
    return out


def consistency(release: Path, tables: list[ReleasedTable]) -> list[dict]:
    """A value hidden in a table's CSV but shown in its XLSX sheet or report table, or a
    count shown differently: the outsider reads all of them."""
    out = []
    for t in tables:
        key = {tuple(r): i for i, r in enumerate(t.frame[t.dims].to_numpy().tolist())}
        for where, view in _views(release, t):
            if not set(t.dims) <= set(view.columns):
                continue
            rows = [key.get(tuple(r)) for r in view[t.dims].astype(str).to_numpy().tolist()]
            for col in view.columns.intersection(t.frame.columns).difference(t.dims):
                csv = t.numbers(col)
                shown = to_number(_plain(view[col]))
                for j, i in enumerate(rows):
                    if i is None or np.isnan(shown[j]):
                        continue
                    if np.isnan(csv[i]) or (col == COUNT and shown[j] != csv[i]):
                        out.append(_f(t.name, f"{t.cell(i)} [{col}] differs in {where}",
                                      "inconsistent"))
    return out
