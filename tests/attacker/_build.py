"""Hand-built release folders: ``OUT/release/tables/<t>.csv`` and ``report.md``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SYMBOL = ":"
RULE_LINE = "- **Disclosure rule**: counts 1\u20134 suppressed (population minus count too)"


def table(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    """A released table from rows; ``None`` is a hidden value (written as the symbol)."""
    return pd.DataFrame(rows, columns=columns)


def write_release(out: Path, tables: dict[str, pd.DataFrame], *, report: str = "",
                  rule: str | None = RULE_LINE, checker: dict[str, pd.DataFrame] | None = None
                  ) -> Path:
    """Write ``out/release`` (and ``out/checker`` with what stays inside); returns ``out``."""
    rel = out / "release"
    (rel / "tables").mkdir(parents=True)
    for name, frame in tables.items():
        text = frame.astype(object).where(frame.notna(), SYMBOL)
        text.to_csv(rel / "tables" / f"{name}.csv", index=False)
    lines = ["# A study", ""]
    if rule:
        lines.append(rule)
    lines += ["", report]
    (rel / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if checker:
        (out / "checker").mkdir()
        for name, frame in checker.items():
            frame.to_csv(out / "checker" / f"{name}.csv", index=False)
    return out


def two_by_two(hidden: set[tuple[str, str]]) -> pd.DataFrame:
    """sex x region with all margins; cells in `hidden` not shown."""
    inner = {("F", "N"): 12, ("F", "S"): 30, ("M", "N"): 7, ("M", "S"): 25}
    rows = []
    for s in ("Total", "F", "M"):
        for r in ("Total", "N", "S"):
            v = sum(n for (a, b), n in inner.items() if s in ("Total", a) and r in ("Total", b))
            rows.append((s, r, None if (s, r) in hidden else v))
    return table(rows, ["sex", "region", "n"])
