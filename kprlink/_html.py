"""Jupyter HTML for results and definitions (``_repr_html_``).

One card per object: a heading (the text repr), a few labelled facts
(counts, digests, versions), optional warnings and aggregate tables. Callers
pass aggregates only (attrition, summaries, code counts): a card never shows a
person-level frame, so it never shows a person id.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable, Sequence
from typing import Any

#: Columns that identify persons; a table passed to :func:`card` must not hold them.
_ID_COLUMNS = frozenset({"person_id", "kpr_id", "npr_id", "left_id", "right_id", "id"})

_STYLE = ("border:1px solid #ccc;border-radius:4px;padding:6px 10px;margin:4px 0;"
          "font-family:sans-serif;font-size:0.9em")


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def card(title: str, facts: Iterable[tuple[str, Any]] = (), *,
         warnings: Sequence[str] = (),
         tables: Iterable[tuple[str, Any]] = (),
         max_rows: int = 30) -> str:
    """An HTML card: `title`, a two-column fact list, warnings, then tables.

    >>> import pandas as pd
    >>> out = card("<X>", [("persons", 1200)], warnings=["no key file"],
    ...            tables=[("attrition", pd.DataFrame({"step": ["a"], "n": [3]}))])
    >>> "1,200" in out and "&lt;X&gt;" in out and "no key file" in out and "<table" in out
    True
    """
    parts = [f'<div style="{_STYLE}"><b>{html.escape(title)}</b>']
    rows = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                   f"<td style='text-align:left'>{html.escape(_fmt(v))}</td></tr>"
                   for k, v in facts)
    if rows:
        parts.append(f"<table>{rows}</table>")
    for w in warnings:
        parts.append(f"<p style='color:#a40000;margin:2px 0'>&#9888; {html.escape(w)}</p>")
    for caption, frame in tables:
        if frame is None:
            continue
        leaked = _ID_COLUMNS & {str(c) for c in frame.columns}
        if leaked:  # a programming error: cards show aggregates only
            raise ValueError(f"card table {caption!r} holds id column(s) {sorted(leaked)}")
        more = len(frame) - max_rows
        shown = frame.head(max_rows) if more > 0 else frame
        parts.append(f"<details open><summary>{html.escape(caption)} "
                     f"({len(frame):,} rows)</summary>"
                     + shown.to_html(index=False, na_rep="NA", border=0)
                     + (f"<p>… {more:,} more rows</p>" if more > 0 else "")
                     + "</details>")
    parts.append("</div>")
    return "".join(parts)


def _short(value: Any, limit: int = 12) -> Any:
    """A definition field as a short display value (nested definitions by name)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = getattr(value, "name", None)
        return f"{type(value).__name__}({name})" if name else type(value).__name__
    if isinstance(value, (list, tuple)):
        items = [_short(v) for v in value[:limit]]
        more = len(value) - limit
        return ", ".join(map(str, items)) + (f" … ({len(value):,} in all)" if more > 0 else "") \
            if items else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in list(value.items())[:limit]) or "none"
    return value


def definition_card(obj: Any) -> str:
    """The HTML card of a frozen definition: its fields (nested ones by name) and digest.

    >>> from kprlink.codes import CodeList
    >>> out = definition_card(CodeList("dementia", "ICD-10", ["F00-F03", "G30"]))
    >>> "CodeList" in out and "F00-F03, G30" in out and "digest" in out
    True
    """
    facts = [(f.name, _short(getattr(obj, f.name)))
             for f in dataclasses.fields(obj) if f.compare and not f.name.startswith("_")]
    digest = getattr(obj, "digest", None)
    if isinstance(digest, str):
        facts.append(("digest", digest))
    return card(repr(obj) if len(repr(obj)) <= 120 else type(obj).__name__, facts)
