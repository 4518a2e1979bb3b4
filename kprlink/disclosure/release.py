"""Release log and release sessions.

A :class:`ReleaseLog` records, per table, the rule and its settings, every cell's status
and reason, the audit intervals, the kprlink version and a digest of the input: what an
output checker needs. It never holds a suppressed count.

A :class:`Release` session tracks every table released from one dataset. Each new table
is audited together with everything released before (all published cells as constraints
on the dataset's finest cells), so a table that would let a user recover, by differencing,
a cell hidden in an earlier table is refused.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink.disclosure._cells import input_digest
from kprlink.disclosure._log import _version, table_log
from kprlink.disclosure._model import build_model
from kprlink.disclosure.audit import audit_intervals
from kprlink.exceptions import DisclosureError, MissingColumnsError, ReleaseRefusedError


@dataclass
class ReleaseLog:
    """The log handed to the output checker: one entry per released table.

    Examples
    --------
    >>> log = ReleaseLog()
    >>> log.to_dict()["tables"]
    []
    """

    tables: list[dict[str, Any]] = field(default_factory=list)
    dataset_digest: str | None = None

    def add(self, entry: Mapping[str, Any]) -> None:
        self.tables.append(dict(entry))

    def to_dict(self) -> dict[str, Any]:
        return {"kprlink_release_log": 1, "kprlink_version": _version(),
                "dataset_digest": self.dataset_digest, "tables": list(self.tables)}

    def to_json(self, path: str | Path) -> Path:
        """Write the log as JSON; returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        return path

    def to_markdown(self) -> str:
        """A readable summary for the output checker."""
        lines = ["# Release log", "", f"kprlink {_version()}", ""]
        for t in self.tables:
            if "n_by_status" not in t:  # a rounded table
                lines += [f"## {t['name']}", "", f"- method: {t['method']}",
                          f"- cells: {t['n_cells']}",
                          f"- re-check: {'ok' if t['release_ok'] else 'REFUSED'}", ""]
                lines += [f"- refused: {r}" for r in t["refusal_reasons"]]
                continue
            n = t["n_by_status"]
            lines += [f"## {t['name']}", "",
                      f"- rule: {t['rule']['name']} (max_n={t['rule'].get('max_n')}, "
                      f"zeros {'protected' if t['rule'].get('protect_zeros') else 'published'}"
                      f", digest {t['rule']['digest']})",
                      f"- input digest: {t['input_digest']}; method: {t['method']}",
                      f"- cells: {t['n_cells']} ({n['published']} published, {n['primary']} "
                      f"primary, {n['secondary']} secondary)",
                      f"- audit: {'ok' if t['release_ok'] else 'REFUSED'}", ""]
            hidden = [c for c in t["cells"] if c["status"] != "published"]
            if hidden:
                dims = t["dims"]
                lines.append("| " + " | ".join(dims) + " | status | reason | interval |")
                lines.append("|" + "---|" * (len(dims) + 3))
                for c in hidden:
                    iv = (f"[{c.get('audit_lo')}, {c.get('audit_up')}]"
                          if "audit_lo" in c else "not audited")
                    lines.append("| " + " | ".join(c[d] for d in dims)
                                 + f" | {c['status']} | {c['reason']} | {iv} |")
                lines.append("")
            for r in t["refusal_reasons"]:
                lines.append(f"- refused: {r}")
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """The Markdown summary as a minimal HTML page."""
        body = html.escape(self.to_markdown())
        return f"<!doctype html><meta charset='utf-8'><title>Release log</title><pre>{body}</pre>\n"


@dataclass
class Release:
    """A release session over one dataset's finest cells.

    Parameters
    ----------
    base : pandas.DataFrame
        The dataset's finest cross-classification: one row per combination of every
        dimension any table will use, with the count.
    count_col : str
        Count column of `base`.

    Examples
    --------
    >>> from kprlink.disclosure.rules import SuppressionRule
    >>> from kprlink.disclosure.secondary import suppress_table
    >>> base = pd.DataFrame({"sex": list("FFMM"), "age": ["<60", "60+"] * 2,
    ...                      "n": [2, 10, 12, 15]})
    >>> session = Release(base, count_col="n")
    >>> res = suppress_table(base, ["sex", "age"], count_col="n",
    ...                      rule=SuppressionRule(max_n=4))
    >>> session.add(res, name="age by sex")
    >>> len(session.log.tables)
    1
    """

    base: pd.DataFrame
    count_col: str
    log: ReleaseLog = field(default_factory=ReleaseLog)
    _tables: list[tuple[Any, list[np.ndarray], np.ndarray, np.ndarray]] = field(
        default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.count_col not in self.base.columns:
            raise MissingColumnsError(f"Release: base lacks {self.count_col!r}.",
                                      missing=[self.count_col])
        self._values = pd.to_numeric(self.base[self.count_col]).to_numpy(dtype=float)
        self.log.dataset_digest = input_digest(self.base, list(self.base.columns))

    def _map(self, res: Any) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        dims = list(res.dims)
        missing = [d for d in dims if d not in self.base.columns]
        if missing:
            raise MissingColumnsError(f"Release: the table uses {missing}, not in the base.",
                                      missing=missing)
        model = build_model(self.base, dims, hierarchies=res.hierarchies,
                            where="release base", allow_duplicates=True)
        keyed = {tuple(str(model.cells[d].iat[i]) for d in dims): i
                 for i in range(len(model.cells))}
        members, values = [], []
        problems = []
        for i in range(len(res.table)):
            key = tuple(str(res.table[d].iat[i]) for d in dims)
            j = keyed.get(key)
            if j is None:
                problems.append(f"cell {key} is not in the base")
                continue
            m = model.inner_of_cell[j]
            members.append(m)
            values.append(float(self._values[m].sum()))
            given = float(res.table[res.count_col].iat[i])
            if abs(values[-1] - given) > 1e-9 * max(1.0, abs(given)):
                problems.append(f"cell {key}: {given:g} in the table, "
                                f"{values[-1]:g} in the base")
        if problems:
            raise DisclosureError("Release: the table does not come from this dataset.",
                                  problems[:20])
        hidden = (res.table["status"] != "published").to_numpy()
        return members, np.array(values), hidden

    def add(self, res: Any, *, name: str | None = None) -> None:
        """Audit `res` with every table released so far; log it or refuse it.

        Raises
        ------
        ReleaseRefusedError
            If the table's own audit fails, or a hidden cell of any table (this or an
            earlier one) becomes narrower than its rule's ``min_width`` when all tables
            are combined. ``err.problems`` names each cell.
        """
        own = res.problems()
        if own:
            raise ReleaseRefusedError(f"Release refused for {name or res.dims}.", own)
        members, values, hidden = self._map(res)
        tables = [*self._tables, (res, members, values, hidden)]
        all_members = [m for t in tables for m in t[1]]
        all_values = np.concatenate([t[2] for t in tables])
        all_hidden = np.concatenate([t[3] for t in tables])
        widths = np.concatenate([t[0].rule.min_width_for(t[2]) for t in tables])
        aud = audit_intervals(all_members, all_values, all_hidden,
                              inner_values=self._values, min_width=0.0, integer=True)
        bad = aud.index[aud["width"].to_numpy() < widths[aud.index] - 1e-9]
        if len(bad):
            offsets = np.cumsum([0] + [len(t[2]) for t in tables])
            problems = []
            for c in bad:
                k = int(np.searchsorted(offsets, c, side="right") - 1)
                t = tables[k][0]
                row = t.table.iloc[c - offsets[k]]
                problems.append(
                    f"table {k + 1} ({' x '.join(t.dims)}), cell "
                    + ", ".join(f"{d}={row[d]}" for d in t.dims)
                    + f": interval [{aud.at[c, 'lower']:g}, {aud.at[c, 'upper']:g}] "
                    "given all tables released")
            raise ReleaseRefusedError(
                f"Release refused for {name or ' x '.join(res.dims)}: hidden cells could be "
                "recovered by combining tables.", problems)
        self._tables.append((res, members, values, hidden))
        self.log.add(table_log(res, name=name))

    def __repr__(self) -> str:
        return f"<Release: {len(self._tables)} table(s) from {len(self.base):,} base cells>"


def write_release_log(results: Sequence[Any], path: str | Path) -> ReleaseLog:
    """Write the JSON log (and a ``.md`` beside it) for `results`; returns the log."""
    log = ReleaseLog()
    for r in results:
        log.add(table_log(r))
    path = Path(path)
    log.to_json(path)
    path.with_suffix(".md").write_text(log.to_markdown(), encoding="utf-8")
    return log
