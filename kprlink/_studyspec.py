"""The study definition: ``studies/<name>/study.toml`` as a frozen dataclass.

A study spec names the cohort definition, the period, the reference date of
ages and denominators, the disclosure rule, the tables (each a registered
analysis step with parameters and an optional figure) and the published
figures to print beside the results.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kprlink.exceptions import Problem, SpecError

#: Study file format versions this release reads.
SPEC_VERSIONS = (1,)
#: Figure kinds a table may ask for.
FIGURE_KINDS = ("share_by_age_sex", "funnel", "bar", "curve", "trend")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS = {"linkage", "kprlink_spec", "kind", "name", "version", "title", "description", "period",
             "reference_date", "cohort", "seed", "disclosure", "tables", "published"}
_TABLE_KEYS = {"name", "kind", "title", "figure", "params"}
_PUB_KEYS = {"table", "label", "value", "source", "status"}
_PUB_STATUS = ("verified", "verified-secondary", "derived", "estimate", "not-found")


@dataclass(frozen=True)
class DisclosureSpec:
    """The study's disclosure rule: counts 1..`max_n` are suppressed.

    Parameters
    ----------
    max_n : int
        Largest count that may not be shown (e.g. 4: counts 1–4 hidden).
    protect_zeros : bool, default False
        Also suppress zero cells.
    protect_differences : bool, default True
        Where a table shows a public denominator (population), also protect
        cells whose complement ``population - n`` is in ``1..max_n``.
    symbol : str, default ":"
        What every suppressed cell, and every value derived from one, shows in
        released files (Statistics Norway's ``:``).
    """

    max_n: int = 4
    protect_zeros: bool = False
    protect_differences: bool = True
    symbol: str = ":"


@dataclass(frozen=True)
class TableSpec:
    """One released table: a registered step `kind` run with `params`."""

    name: str
    kind: str
    title: str
    figure: str | None = None
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class PublishedFigure:
    """A published number printed beside a synthetic result, with its source."""

    table: str
    label: str
    value: str
    source: str
    status: str = "verified"


@dataclass(frozen=True)
class StudySpec:
    """A study definition (see ``docs/getting_started.md`` for the file format).

    Build it with :meth:`from_toml` (or :meth:`from_dict`); every problem in
    the file is collected and raised once as :class:`SpecError`.

    Examples
    --------
    >>> spec = StudySpec.from_dict({
    ...     "kprlink_spec": 1, "kind": "study", "name": "demo_study",
    ...     "title": "Demo", "period": {"start": "2016-07-01", "end": "2017-06-30"},
    ...     "tables": [{"name": "t1", "kind": "function_assessment", "title": "Stays"}]})
    >>> spec.name, spec.disclosure.max_n, len(spec.digest)
    ('demo_study', 4, 16)
    """

    name: str
    title: str
    period_start: dt.date
    period_end: dt.date
    tables: tuple[TableSpec, ...]
    reference_date: dt.date | None = None
    cohort: str | None = None
    version: str = "1"
    description: str = ""
    seed: int = 2017
    disclosure: DisclosureSpec = field(default_factory=DisclosureSpec)
    published: tuple[PublishedFigure, ...] = ()
    directory: Path | None = field(default=None, compare=False)
    #: the ``[linkage]`` table (overrides the cohort's) and whether the cohort tables are
    #: also released on key links only (``sensitivity = true``)
    linkage: Any = None
    linkage_sensitivity: bool = False

    def _repr_html_(self) -> str:
        from kprlink._html import definition_card

        return definition_card(self)

    def __post_init__(self) -> None:
        problems = _check(self)
        if problems:
            raise SpecError(f"Study {self.name!r} is invalid.", problems)

    @property
    def ref_date(self) -> dt.date:
        """Reference date of ages and denominators (default: 1 Jan after the start)."""
        if self.reference_date is not None:
            return self.reference_date
        return dt.date(self.period_start.year + 1, 1, 1)

    @property
    def cohort_path(self) -> Path | None:
        """The cohort definition file, resolved against the study folder."""
        if self.cohort is None:
            return None
        return (self.directory or Path(".")) / self.cohort

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON-able data (what :attr:`digest` hashes)."""
        d = asdict(self)
        d.pop("directory")
        # absent unless set: digests of studies without a [linkage] table unchanged
        d.pop("linkage")
        sens = d.pop("linkage_sensitivity")
        if self.linkage is not None:
            d["linkage"] = {**self.linkage.to_dict(), "sensitivity": sens}
        d["tables"] = [{**t, "params": dict(t["params"])} for t in d["tables"]]
        return json.loads(json.dumps(d, default=str))

    @property
    def digest(self) -> str:
        """First 16 hex digits of the SHA-256 of the canonical JSON."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def table(self, name: str) -> TableSpec:
        """The table spec called `name`."""
        for t in self.tables:
            if t.name == name:
                return t
        raise SpecError(f"study {self.name!r} has no table {name!r}; tables are "
                        f"{[t.name for t in self.tables]}.")

    @classmethod
    def from_toml(cls, path: str | Path) -> StudySpec:
        """Read ``study.toml`` (or a folder holding one)."""
        p = Path(path)
        if p.is_dir():
            p = p / "study.toml"
        if not p.is_file():
            raise FileNotFoundError(2, "No such study file", str(p))
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise SpecError(f"{p} is not valid TOML: {err}.",
                            [Problem(file=str(p), column=None, reason="toml",
                                     message=str(err))]) from None
        return cls.from_dict(data, directory=p.parent, file=str(p))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, directory: Path | None = None,
                  file: str = "<study>") -> StudySpec:
        """Build a spec from parsed TOML; collects every problem first."""
        problems: list[Problem | str] = []

        def bad(key: str, msg: str, hint: str = "") -> None:
            problems.append(Problem(file=file, column=key, reason="invalid",
                                    message=msg, hint=hint))

        for k in sorted(set(data) - _TOP_KEYS):
            bad(k, f"unknown key {k!r}", f"Known keys: {sorted(_TOP_KEYS)}.")
        if data.get("kprlink_spec") not in SPEC_VERSIONS:
            bad("kprlink_spec", f"kprlink_spec must be one of {SPEC_VERSIONS}, got "
                f"{data.get('kprlink_spec')!r}", "Upgrade kprlink or fix the file.")
        if data.get("kind", "study") != "study":
            bad("kind", f"kind must be 'study', got {data.get('kind')!r}")
        period = data.get("period")
        start = end = None
        if not isinstance(period, dict) or set(period) != {"start", "end"}:
            bad("period", "period must be a table with 'start' and 'end' dates")
        else:
            start = _date(period["start"], "period.start", bad)
            end = _date(period["end"], "period.end", bad)
        ref = (_date(data["reference_date"], "reference_date", bad)
               if "reference_date" in data else None)
        disc = data.get("disclosure", {})
        rule = DisclosureSpec()
        known_rule = {"max_n", "protect_zeros", "protect_differences", "symbol"}
        if not isinstance(disc, dict) or set(disc) - known_rule:
            bad("disclosure", f"disclosure takes only {sorted(known_rule)}")
        else:
            max_n = disc.get("max_n", 4)
            pz = disc.get("protect_zeros", False)
            pd_ = disc.get("protect_differences", True)
            sym = disc.get("symbol", ":")
            if not isinstance(sym, str) or not sym.strip() or any(c.isdigit() for c in sym) \
                    or len(sym) > 3 or "," in sym:
                bad("disclosure.symbol", "symbol must be 1-3 characters, not digits, "
                    f"commas or blank, got {sym!r}")
            elif not isinstance(max_n, int) or isinstance(max_n, bool) or max_n < 1:
                bad("disclosure.max_n", f"max_n must be an int >= 1, got {max_n!r}")
            elif not isinstance(pz, bool):
                bad("disclosure.protect_zeros", f"protect_zeros must be true/false, got {pz!r}")
            elif not isinstance(pd_, bool):
                bad("disclosure.protect_differences",
                    f"protect_differences must be true/false, got {pd_!r}")
            else:
                rule = DisclosureSpec(max_n=max_n, protect_zeros=pz, protect_differences=pd_,
                                      symbol=sym)
        tables = []
        for i, t in enumerate(data.get("tables", [])):
            if not isinstance(t, dict) or not {"name", "kind"} <= set(t) or set(t) - _TABLE_KEYS:
                bad(f"tables[{i}]", f"a table needs name and kind and takes only "
                    f"{sorted(_TABLE_KEYS)}; got {sorted(t) if isinstance(t, dict) else t!r}")
                continue
            params = t.get("params", {})
            if not isinstance(params, dict):
                bad(f"tables[{i}].params", "params must be a table")
                params = {}
            tables.append(TableSpec(name=str(t["name"]), kind=str(t["kind"]),
                                    title=str(t.get("title", t["name"])),
                                    figure=t.get("figure"),
                                    params=tuple(sorted((k, _freeze(v))
                                                        for k, v in params.items()))))
        published = []
        for i, p in enumerate(data.get("published", [])):
            if (not isinstance(p, dict) or not {"table", "label", "value", "source"} <= set(p)
                    or set(p) - _PUB_KEYS):
                bad(f"published[{i}]", "a published figure needs table, label, value, source")
                continue
            published.append(PublishedFigure(**{k: str(v) for k, v in p.items()}))
        seed = data.get("seed", 2017)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            bad("seed", f"seed must be an int >= 0, got {seed!r}")
            seed = 0
        linkage, sensitivity = _linkage(data.get("linkage"), bad)
        if problems or start is None or end is None:
            raise SpecError(f"Study file {file} is invalid.", problems)
        return cls(linkage=linkage, linkage_sensitivity=sensitivity,
                   name=str(data.get("name", "")), title=str(data.get("title", "")),
                   period_start=start, period_end=end, tables=tuple(tables),
                   reference_date=ref, cohort=data.get("cohort"),
                   version=str(data.get("version", "1")),
                   description=str(data.get("description", "")).strip(), seed=seed,
                   disclosure=rule, published=tuple(published), directory=directory)


def _linkage(table: Any, bad: Any) -> tuple[Any, bool]:
    """The study's ``[linkage]`` table: LinkageOptions and the sensitivity flag."""
    if table is None:
        return None, False
    from kprlink.cohorts._model_links import LinkageOptions

    if not isinstance(table, dict):
        bad("linkage", "linkage must be a table")
        return None, False
    t = dict(table)
    sens = t.pop("sensitivity", False)
    if not isinstance(sens, bool):
        bad("linkage.sensitivity", f"sensitivity must be true/false, got {sens!r}")
        sens = False
    try:
        opts = LinkageOptions.from_dict(t)
    except SpecError as err:
        for p in err.problems:
            bad(f"linkage.{getattr(p, 'column', None) or ''}".rstrip("."),
                getattr(p, "message", str(p)))
        return None, False
    except TypeError as err:
        bad("linkage", str(err))
        return None, False
    if sens and not opts.probabilistic:
        bad("linkage.sensitivity", "sensitivity = true needs method = \"probabilistic\" (it "
            "releases the cohort tables with and without model links)")
    return opts, sens


def _freeze(v: Any) -> Any:
    return tuple(_freeze(x) for x in v) if isinstance(v, list) else v


def _date(v: Any, key: str, bad: Any) -> dt.date | None:
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        bad(key, f"{key} must be a date YYYY-MM-DD, got {v!r}")
        return None


def _check(spec: StudySpec) -> list[Problem | str]:
    from kprlink.analyses import step_kinds

    problems: list[Problem | str] = []

    def bad(key: str, msg: str) -> None:
        problems.append(Problem(file=spec.name or "<study>", column=key,
                                reason="invalid", message=msg))

    if not _NAME.match(spec.name):
        bad("name", f"name must match {_NAME.pattern}, got {spec.name!r}")
    if not spec.title:
        bad("title", "title is empty")
    if spec.period_end < spec.period_start:
        bad("period", f"period ends ({spec.period_end}) before it starts ({spec.period_start})")
    if not spec.tables:
        bad("tables", "a study needs at least one table")
    names = [t.name for t in spec.tables]
    for n in sorted({n for n in names if names.count(n) > 1}):
        bad("tables", f"table name {n!r} is used more than once")
    known = step_kinds()
    for t in spec.tables:
        if not _NAME.match(t.name):
            bad(f"tables.{t.name}", f"table name must match {_NAME.pattern}")
        if t.kind not in known:
            bad(f"tables.{t.name}.kind", f"unknown kind {t.kind!r}; known: {known}")
        else:
            unknown, takes = _unknown_params(t)
            if unknown:
                bad(f"tables.{t.name}.params", f"kind {t.kind!r} takes no parameter(s) "
                    f"{unknown}; it takes {takes}")
        if t.figure is not None and t.figure not in FIGURE_KINDS:
            bad(f"tables.{t.name}.figure", f"unknown figure {t.figure!r}; known: "
                f"{list(FIGURE_KINDS)}")
    for p in spec.published:
        if p.table not in names:
            bad("published", f"published figure {p.label!r} refers to unknown table {p.table!r}")
        if p.status not in _PUB_STATUS:
            bad("published", f"status {p.status!r} is not one of {list(_PUB_STATUS)}")
    if spec.cohort is not None and not _within(spec.directory or Path("."), spec.cohort):
        bad("cohort", f"cohort file {spec.cohort!r} lies outside the study folder; a study "
            "reads only files inside its own folder (give a path relative to it)")
    elif spec.cohort is not None and spec.directory is not None \
            and not (spec.directory / spec.cohort).is_file():
        bad("cohort", f"cohort file {spec.cohort!r} not found in {spec.directory}")
    elif spec.cohort is not None and spec.directory is not None:
        for ref in _outside_codelists(spec.directory, spec.directory / spec.cohort):
            bad("cohort", f"code-list file {ref!r} of {spec.cohort!r} lies outside the study "
                "folder; a study reads only files inside its own folder")
    return problems


def _outside_codelists(folder: Path, cohort: Path) -> list[str]:
    """Code-list file references of the cohort file that lead out of `folder`."""
    try:
        data = tomllib.loads(cohort.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []  # the cohort definition reports what is wrong with it

    def refs(v: Any) -> list[str]:
        if isinstance(v, dict):
            return [r for k, x in v.items()
                    for r in ([x] if k == "codelists" and isinstance(x, str) else
                              x if k == "codelists" and isinstance(x, list) else refs(x))
                    if isinstance(r, str)]
        if isinstance(v, list):
            return [r for x in v for r in refs(x)]
        return []

    def inside(r: str) -> bool:
        try:
            (cohort.parent / r).resolve().relative_to(folder.resolve())  # absolute r: r
        except ValueError:
            return False
        return True

    return [r for r in refs(data) if r.endswith((".json", ".toml")) and not inside(r)]


def _within(folder: Path, rel: str) -> bool:
    """Whether `rel` (relative to `folder`) names a path inside `folder`, links resolved."""
    if Path(rel).is_absolute():
        return False
    try:
        (folder / rel).resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _unknown_params(t: TableSpec) -> tuple[list[str], list[str]]:
    """Parameters of `t` its step does not take, and those it takes (none if it takes any)."""
    import inspect

    from kprlink.analyses import get_step

    sig = inspect.signature(get_step(t.kind))
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return [], []
    takes = [n for n, p in list(sig.parameters.items())[1:]
             if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return sorted(k for k, _ in t.params if k not in takes), takes
