"""Render a protected table for release: CSV, XLSX or Markdown, suppressed cells as ``:``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd

from kprlink.exceptions import DisclosureError, ReleaseRefusedError


def _parts(res: Any) -> tuple[Any, pd.DataFrame]:
    """The audited suppression result and the table to show (a ReleasedRates' shares too)."""
    supp = getattr(res, "suppression", res)
    table = res.released if supp is not res else supp.released
    return supp, table


def released_frame(res: Any, *, symbol: str = ":", numbers: bool = False) -> pd.DataFrame:
    """The released table with `symbol` where a number is suppressed.

    Parameters
    ----------
    res : SuppressionResult or ReleasedRates
        Audited, with a passed audit.
    symbol : str
        Shown for a suppressed count and for every value derived from one.
    numbers : bool, default False
        Keep shown numbers as numbers (for XLSX); otherwise every cell is text.
        A value that does not exist (a share of an empty denominator) shows ``.``.

    Raises
    ------
    ReleaseRefusedError
        If the result was not audited, or its audit failed (``err.problems``).
    """
    supp, table = _parts(res)
    if not supp.ok:
        raise ReleaseRefusedError("render_table(): release refused.", supp.problems())
    out = table.copy()
    hidden = (out["status"].astype(str) != "published").to_numpy() if "status" in out \
        else out[supp.count_col].isna().to_numpy()
    for d in supp.dims:
        out[d] = out[d].astype(str)
    for c in out.columns:
        if c in supp.dims or c == "status" or not pd.api.types.is_numeric_dtype(out[c]):
            continue
        na = out[c].isna().to_numpy()
        if c == supp.count_col:
            vals = [int(v) if numbers else str(int(v)) for v in out[c].fillna(0)]
        else:
            vals = [_decimal(float(v), numbers) for v in out[c].astype("Float64").fillna(0)]
        col = pd.Series(vals, index=out.index, dtype=object)
        col[na & hidden] = symbol
        col[na & ~hidden] = "."
        out[c] = col
    return out.reset_index(drop=True)


def _decimal(v: float, numbers: bool) -> float | int | str:
    """A derived value (share, interval bound, population) to 4 decimals.

    Examples
    --------
    >>> _decimal(0.6276151, False), _decimal(8172.0, False), _decimal(1.5, True)
    ('0.6276', '8172', 1.5)
    """
    r = round(v, 4)
    if numbers:
        return int(r) if r.is_integer() else r
    return str(int(r)) if r.is_integer() else f"{r:.4f}".rstrip("0")


def render_table(
    res: Any,
    *,
    symbol: str = ":",
    fmt: Literal["csv", "xlsx", "markdown"] = "csv",
    path: str | Path | None = None,
    status: bool = True,
    title: str = "",
    period: str = "",
    sources: str = "",
) -> str | bytes:
    """Render a :class:`SuppressionResult` (or a :class:`ReleasedRates`) for release.

    Parameters
    ----------
    res : SuppressionResult or ReleasedRates
        An audited result whose audit passed; a ReleasedRates shows its shares
        and intervals beside the counts.
    symbol : str, default ":"
        Shown for suppressed counts (Statistics Norway's symbol for confidential).
    fmt : {"csv", "xlsx", "markdown"}
    path : path, optional
        Also write the rendering there.
    status : bool, default True
        Include the ``status`` column (for the output checker; a release that
        leaves names no cell's status, so pass ``status=False`` there).
    title, period, sources : str
        For XLSX: the ``notes`` sheet's title, period and sources (the rule and
        the symbol are written from `res`).

    Returns
    -------
    str or bytes
        Text for CSV and Markdown, bytes for XLSX: a ``table`` sheet (bold frozen
        header, numbers stored as numbers, the symbol as text) and a ``notes``
        sheet.

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
    frame = released_frame(res, symbol=symbol, numbers=fmt == "xlsx")
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
        from kprlink._xlsx import rule_text, workbook_bytes

        rule = _parts(res)[0].rule
        notes = {"title": title or "Released table", "period": period or "not given",
                 "rule": rule_text(rule.max_n, protect_zeros=rule.protect_zeros),
                 "symbol": f"{symbol} a suppressed number, or one derived from it; "
                           ". a value that does not exist",
                 "sources": sources or "not given"}
        out = workbook_bytes({"table": frame}, notes=notes)
    if path is not None:
        p = Path(path)
        if isinstance(out, bytes):
            p.write_bytes(out)
        else:
            p.write_text(out, encoding="utf-8")
    return out
