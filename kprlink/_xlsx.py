"""Release workbooks: one sheet per table, a notes sheet, byte-identical across reruns.

Each table sheet has its header in row 1 (bold, frozen) and stores numbers as
numbers; a suppressed value is the release symbol as text. The ``notes`` sheet
(two columns, ``item`` and ``text``) says what the tables are: title, period,
disclosure rule, symbol, sources. openpyxl stamps the time into
``docProps/core.xml`` and every zip entry; both are fixed here.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["NOTES_SHEET", "rule_text", "workbook_bytes"]

NOTES_SHEET = "notes"
_FIXED_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
_FIXED_DOC_TIME = dt.datetime(2000, 1, 1)


def rule_text(max_n: int, *, protect_zeros: bool = False) -> str:
    """The disclosure rule in words, for a notes sheet or a caption.

    Examples
    --------
    >>> rule_text(4)[:52]
    'Counts of 1 to 4 persons are suppressed, and further'
    """
    zeros = " Zeros are suppressed too." if protect_zeros else ""
    return (f"Counts of 1 to {max_n} persons are suppressed, and further cells where needed "
            "so that no suppressed count can be recovered from the margins (secondary "
            f"suppression).{zeros}")


def _cell(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def workbook_bytes(sheets: Mapping[str, pd.DataFrame], *,
                   notes: Mapping[str, str] | None = None) -> bytes:
    """The workbook as bytes: `sheets` in order, then a ``notes`` sheet if given."""
    import openpyxl
    from openpyxl.styles import Font

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for name, df in sheets.items():
        ws = wb.create_sheet(title=name[:31])
        ws.append([str(c) for c in df.columns])
        for row in df.itertuples(index=False):
            ws.append([_cell(v) for v in row])
        for c in ws[1]:
            c.font = bold
        ws.freeze_panes = "A2"
        for i, col in enumerate(df.columns, start=1):
            width = max([len(str(col))] + [len(str(v)) for v in df[col].head(200)])
            ws.column_dimensions[openpyxl.utils.get_column_letter(i)].width = min(
                max(8, width + 2), 60)
    if notes:
        ws = wb.create_sheet(title=NOTES_SHEET)
        ws.append(["item", "text"])
        for k, v in notes.items():
            ws.append([str(k), str(v)])
        for c in ws[1]:
            c.font = bold
        ws.freeze_panes = "A2"
        ws.column_dimensions["A"].width = 16
        ws.column_dimensions["B"].width = 100
    wb.properties.created = _FIXED_DOC_TIME
    wb.properties.modified = _FIXED_DOC_TIME
    wb.properties.creator = "kprlink"
    raw = io.BytesIO()
    wb.save(raw)
    return _fixed_zip(raw.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _fix_core_dates(body)
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, body)
    return out.getvalue()


def _fix_core_dates(body: bytes) -> bytes:
    stamp = _FIXED_DOC_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    return re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                  rb"\g<1>" + stamp + rb"\g<2>", body)
