"""The one-page study report (Markdown and HTML) and the generic bar figure.

The report shows released tables only (suppressed cells and every value derived
from one show the study's symbol, ``:`` by default), how many numbers were
suppressed, the persons left out of each table (a count protected with the
tables), the published figures beside the results, and a provenance summary.
Everything in it comes from released numbers, so it is as safe to take out as
the tables themselves; it names no cell's status or reason.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class ReportSection:
    """One released table in the report."""

    name: str
    title: str
    table: pd.DataFrame
    notes: str = ""
    excluded: Mapping[str, str] = field(default_factory=dict)
    figures: Sequence[str] = ()
    published: Sequence[Mapping[str, str]] = ()
    n_cells: int = 0
    n_suppressed: int = 0


def _cell(v: object) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):  # type: ignore[call-overload]
        return "."
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub Markdown table; a missing value shows ``.`` (never blank).

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"sex": ["female"], "n": [12]})))
    | sex | n |
    |---|---|
    | female | 12 |
    """
    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "---|" * len(df.columns)
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |"
            for row in df.astype(object).itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def render_markdown(*, title: str, meta: Mapping[str, str], sections: Sequence[ReportSection],
                    checks: Mapping[str, object], provenance: Mapping[str, str]) -> str:
    """The report as Markdown."""
    out = [f"# {title}", ""]
    out += [f"- **{k}**: {v}" for k, v in meta.items()]
    out += ["", "## Release check", "",
            f"{checks['cells']:,} released cells; {checks['suppressed']:,} counts "
            f"suppressed. Suppressed counts, and every share, interval or mean derived "
            f"from them, show {checks['symbol']}.", ""]
    for s in sections:
        out += [f"## {s.title}", "", f"Table `{s.name}`: {s.n_cells:,} cells, "
                f"{s.n_suppressed:,} suppressed.", ""]
        if s.notes:
            out += [s.notes, ""]
        for fig in s.figures:
            if fig.endswith(".png"):
                out += [f"![{s.title}]({fig})", ""]
        out += [markdown_table(s.table), ""]
        if s.excluded:
            out += ["Left out: " + "; ".join(f"{k}: {v}" for k, v in s.excluded.items())
                    + ".", ""]
        if s.published:
            out += ["Published figures for comparison (real Norway; the results above are "
                    "from the delivery analysed):", ""]
            out += [f"- {p['label']}: **{p['value']}** ({p['status']}; {p['source']})"
                    for p in s.published]
            out += [""]
    out += ["## Provenance", ""]
    out += [f"- {k}: `{v}`" for k, v in provenance.items()]
    return "\n".join(out) + "\n"


def render_html(*, title: str, meta: Mapping[str, str], sections: Sequence[ReportSection],
                checks: Mapping[str, object], provenance: Mapping[str, str]) -> str:
    """The same report as a self-contained HTML page (figures linked as SVG)."""
    e = html.escape
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>{e(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 6px;"
             "text-align:right}img{max-width:100%}</style></head><body>",
             f"<h1>{e(title)}</h1><ul>"]
    parts += [f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in meta.items()]
    parts += ["</ul><h2>Release check</h2>",
              f"<p>{checks['cells']:,} released cells; {checks['suppressed']:,} counts "
              f"suppressed, shown as {e(str(checks['symbol']))}.</p>"]
    for s in sections:
        parts.append(f"<h2>{e(s.title)}</h2><p>Table <code>{e(s.name)}</code>: "
                     f"{s.n_cells:,} cells, {s.n_suppressed:,} suppressed.</p>")
        if s.notes:
            parts.append(f"<p>{e(s.notes)}</p>")
        parts += [f"<img src=\"{e(f)}\" alt=\"{e(s.title)}\">" for f in s.figures
                  if f.endswith(".svg")]
        head = "".join(f"<th>{e(str(c))}</th>" for c in s.table.columns)
        body = "".join("<tr>" + "".join(f"<td>{e(_cell(v))}</td>" for v in row) + "</tr>"
                       for row in s.table.astype(object).itertuples(index=False))
        parts.append(f"<table><tr>{head}</tr>{body}</table>")
        if s.excluded:
            parts.append("<p>Left out: " + e("; ".join(f"{k}: {v}"
                                                       for k, v in s.excluded.items())) + "</p>")
        if s.published:
            parts.append("<p>Published figures for comparison (real Norway):</p><ul>")
            parts += [f"<li>{e(p['label'])}: <b>{e(p['value'])}</b> ({e(p['status'])}; "
                      f"{e(p['source'])})</li>" for p in s.published]
            parts.append("</ul>")
    parts.append("<h2>Provenance</h2><ul>")
    parts += [f"<li>{e(k)}: <code>{e(v)}</code></li>" for k, v in provenance.items()]
    parts.append("</ul></body></html>")
    return "\n".join(parts) + "\n"


def bar_figure(released: pd.DataFrame, *, dims: Sequence[str], value: str,
               title: str = "", symbol: str = ":") -> object:
    """Grouped bar chart of a released table's inner cells (margins left out).

    The last dim colours the bars, the one before it is the x axis, and a
    first of three dims makes one panel per value. A suppressed cell (NA)
    shows `symbol` at its bar's place, so it is never read as a zero.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    dims = list(dims)
    inner = released
    for d in dims:
        inner = inner[inner[d].astype(str) != "Total"]
    panel = dims[0] if len(dims) == 3 else None
    x = dims[-2] if len(dims) >= 2 else dims[0]
    hue = dims[-1] if len(dims) >= 2 else None
    panels = list(dict.fromkeys(inner[panel].astype(str))) if panel else [None]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4 + 4 * len(panels), 4.5),
                             squeeze=False, sharey=True)
    for ax, pv in zip(axes[0], panels, strict=False):
        sub0 = inner if pv is None else inner[inner[panel].astype(str) == pv]  # type: ignore[index]
        xs = list(dict.fromkeys(sub0[x].astype(str)))
        groups = list(dict.fromkeys(sub0[hue].astype(str))) if hue else [None]
        width = 0.8 / max(len(groups), 1)
        for i, g in enumerate(groups):
            sub = sub0 if g is None else sub0[sub0[hue].astype(str) == g]  # type: ignore[index]
            vals = pd.to_numeric(pd.Series(sub[value].to_numpy(), index=sub[x].astype(str)),
                                 errors="coerce").reindex(xs)
            pos = [j + (i - (len(groups) - 1) / 2) * width for j in range(len(xs))]
            ax.bar(pos, vals.fillna(0).to_numpy(float), width=width, label=g)
            for p_, v_ in zip(pos, vals.isna().to_numpy(), strict=True):
                if v_:
                    ax.annotate(symbol, (p_, 0), ha="center", va="bottom", fontsize=9,
                                xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(range(len(xs)), xs, rotation=30, ha="right")
        ax.set_title(str(pv) if pv is not None else "")
        if hue:
            ax.legend(title=hue, fontsize=8)
    axes[0][0].set_ylabel("percent" if value == "share_pct" else value)
    fig.suptitle(title, fontsize=10)
    fig.text(0.01, 0.01, f"{symbol} suppressed (small counts, or revealing one).",
             fontsize=7)
    fig.tight_layout()
    return fig
