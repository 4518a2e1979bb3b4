"""Render a protected table for release: CSV, XLSX or Markdown, suppressed cells as ``:``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from kprlink.exceptions import DisclosureError, ReleaseRefusedError


def released_frame(res: Any, *, symbol: str = ":") -> pd.DataFrame:
    """The released table as text, with `symbol` where a count is suppressed.

    Raises
    ------
    ReleaseRefusedError
        If the result was not audited, or its audit failed (``err.problems``).
    """
    if not res.ok:
        raise ReleaseRefusedError("render_table(): release refused.", res.problems())
    out = res.released.copy()
    counts = out[res.count_col]
    out[res.count_col] = [symbol if v is pd.NA else str(int(v)) for v in counts]
    for d in res.dims:
        out[d] = out[d].astype(str)
    return out.reset_index(drop=True)


def render_table(
    res: Any,
    *,
    symbol: str = ":",
    fmt: Literal["csv", "xlsx", "markdown"] = "csv",
    path: str | Path | None = None,
    status: bool = True,
) -> str | bytes:
    """Render a :class:`SuppressionResult` for release.

    Parameters
    ----------
    res : SuppressionResult
        An audited result whose audit passed.
    symbol : str, default ":"
        Shown for suppressed counts (Statistics Norway's symbol for confidential).
    fmt : {"csv", "xlsx", "markdown"}
    path : path, optional
        Also write the rendering there.
    status : bool, default True
        Include the ``status`` column.

    Returns
    -------
    str or bytes
        Text for CSV and Markdown, bytes for XLSX.

    Raises
    ------
    DisclosureError
        For an unknown `fmt`.
    ReleaseRefusedError
        If the result is not audited or failed its audit.

    Examples
    --------
    >>> from kprlink.disclosure import SuppressionRule, suppress_table
    >>> cells = pd.DataFrame({"sex": list("FFMM"), "age": ["<60", "60+"] * 2,
    ...                       "n": [2, 10, 12, 15]})
    >>> res = suppress_table(cells, ["sex", "age"], count_col="n",
    ...                      rule=SuppressionRule(max_n=4))
    >>> print(render_table(res, fmt="csv").splitlines()[6])
    F,<60,:,primary
    """
    if fmt not in ("csv", "xlsx", "markdown"):
        raise DisclosureError(f"render_table(): unknown fmt {fmt!r}.",
                              ["fmt must be 'csv', 'xlsx' or 'markdown'"])
    frame = released_frame(res, symbol=symbol)
    if not status:
        frame = frame.drop(columns=["status"])
    else:
        frame["status"] = frame["status"].astype(str)
    out: str | bytes
    if fmt == "csv":
        out = frame.to_csv(index=False, lineterminator="\n")
    elif fmt == "markdown":
        cols = list(frame.columns)
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(str(v) for v in row) + " |"
                  for row in frame.itertuples(index=False)]
        out = "\n".join(lines) + "\n"
    else:
        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="openpyxl") as xw:
            frame.to_excel(xw, index=False, sheet_name="table")
        out = buf.getvalue()
    if path is not None:
        p = Path(path)
        if isinstance(out, bytes):
            p.write_bytes(out)
        else:
            p.write_text(out, encoding="utf-8")
    return out
