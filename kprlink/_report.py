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


def curve_figure(released: pd.DataFrame, *, group_col: str, title: str = "") -> object:
    """Step plot of a released curve (``time, estimate, lower, upper`` per group).

    Only released steps are drawn; a group whose curve could not be released
    has no line and is named in the legend as not shown.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    drawn = 0
    for g, sub in released.groupby(group_col, sort=False):
        sub = sub.dropna(subset=["time", "estimate"])
        if not len(sub):
            ax.plot([], [], label=f"{g} (not shown: too few persons or events)")
            continue
        drawn += 1
        t = [0.0, *pd.to_numeric(sub["time"]).astype(float)]
        est = [0.0 if sub["estimate"].iloc[0] < 0.5 else 1.0,
               *pd.to_numeric(sub["estimate"]).astype(float)]
        ax.step(t, est, where="post", label=str(g))
        ax.fill_between(t[1:], pd.to_numeric(sub["lower"]).astype(float),
                        pd.to_numeric(sub["upper"]).astype(float), step="post", alpha=0.2)
    if not drawn:  # an empty frame, not axes around nothing from -0.05 to 0.05
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "No curve can be shown: too few persons or events.",
                ha="center", va="center", transform=ax.transAxes, fontsize=9)
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.set_xlabel("Days since the index date")
    ax.set_ylabel("Cumulative incidence (proportion)")
    if ax.get_legend_handles_labels()[0]:  # no groups at all: no legend
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.text(0.01, 0.01, "Shaded: pointwise 95 % confidence interval (log(-log)). Steps merged "
             "until every count shown is 0 or above the rule.", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
