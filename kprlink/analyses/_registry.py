"""Registry of named analysis steps ("table kinds") a study.toml refers to.

A step is a function ``step(ctx, **params) -> AnalysisTable``. It returns
*inner cells* of person counts (never person-level rows); the study runner
adds margins, applies the study's disclosure rule, derives shares and means
only from released counts, and writes the files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kprlink.exceptions import MissingColumnsError, SpecError


@dataclass(frozen=True)
class AnalysisTable:
    """Inner cells of one study table, ready for disclosure control.

    Parameters
    ----------
    cells : pandas.DataFrame
        One row per inner cell: the `dims` columns and `count_col` (persons).
    dims : tuple of str
        Classifying columns (1 to 3).
    count_col : str, default "n"
        Person counts; the disclosure rule applies to this column.
    population : pandas.DataFrame or None
        Public denominators (e.g. SSB population) with `dims` and a
        ``population`` column for the inner cells; shares per 100 are derived
        for released cells, margins summed by the runner.
    share_within : str or None
        A dimension whose ``Total`` row is the denominator of a within-table
        share (e.g. ``"indicator"``): ``share_pct = n / n[Total]``.
    value_cols : tuple of str
        Sums over persons (e.g. GP contacts); released only where the count
        is released, and as a mean per person ``<col>_per_person``.
    excluded : mapping of str to int
        Persons or rows left out of the table, by reason (reported).
    notes : str
        One or two sentences for the report (definitions, denominators).
    rates : mapping of str to (str, str, float)
        Derived rate columns ``name -> (numerator, denominator, scale)``, both
        value columns (e.g. ``{"hip_fractures_per_1000_py": ("hip_fractures",
        "person_days", 365250.0)}``): shown only where both are released.
    smd_between : str or None
        A dimension of two groups (and its ``Total``): the runner adds ``smd``,
        the standardised difference between the groups of each level of the
        other dimension (on the group ``Total`` rows) and of the variable as a
        whole (the grand total row), from released counts only.
    rate_per : int, default 100
        Shares of `population` are released per this many persons: 100 gives
        ``share_pct`` (percent), 1000 gives ``per_1000`` (with ``per_1000_lower``
        and ``per_1000_upper``, 95 % Wilson intervals).
    persons : pandas.DataFrame or None
        Who the counts count: one row per (person, inner cell), with
        ``person_id`` (the study's person identity, int64), the `dims` columns
        holding that cell's labels and the `value_cols` holding the person's
        contribution to it. `cells` is its aggregate. The runner uses it to
        protect all tables of a study together (common persons, different
        groupings of the same variable) and to count contributors of value
        cells; build both with :meth:`from_persons`.
    """

    cells: pd.DataFrame
    dims: tuple[str, ...]
    count_col: str = "n"
    population: pd.DataFrame | None = None
    share_within: str | None = None
    value_cols: tuple[str, ...] = ()
    excluded: Mapping[str, int] = field(default_factory=dict)
    notes: str = ""
    persons: pd.DataFrame | None = field(default=None, repr=False)
    rates: Mapping[str, tuple[str, str, float]] = field(default_factory=dict)
    smd_between: str | None = None
    rate_per: int = 100

    @classmethod
    def from_persons(cls, persons: pd.DataFrame, levels: Mapping[str, Sequence[str]], *,
                     value_cols: Sequence[str] = (), **kwargs: Any) -> AnalysisTable:
        """Cells counted from `persons` (one row per person and inner cell).

        `levels` gives each dimension's categories in display order; empty
        combinations are counted as 0 and observed labels missing from
        `levels` are appended, never dropped.

        Examples
        --------
        >>> p = pd.DataFrame({"person_id": [1, 2, 3], "sex": ["male", "male", "female"]})
        >>> t = AnalysisTable.from_persons(p, {"sex": ["female", "male"]})
        >>> t.cells["n"].tolist(), len(t.persons)
        ([1, 2], 3)
        """
        dims = list(levels)
        need = ["person_id", *dims, *value_cols]
        missing = [c for c in need if c not in persons.columns]
        if missing:
            raise MissingColumnsError(
                f"AnalysisTable.from_persons() needs column(s) {missing} in `persons`; "
                f"columns are {list(persons.columns)}.", missing=missing)
        cells = count_cells(persons, levels, value_cols)
        kept = persons[need].astype({d: "string" for d in dims}).reset_index(drop=True)
        return cls(cells, tuple(dims), value_cols=tuple(value_cols), persons=kept, **kwargs)

    def __post_init__(self) -> None:
        need = [*self.dims, self.count_col, *self.value_cols]
        missing = [c for c in need if c not in self.cells.columns]
        if missing:
            raise MissingColumnsError(
                f"AnalysisTable needs column(s) {missing} in `cells`; columns are "
                f"{list(self.cells.columns)}.", missing=missing)
        if self.rate_per not in (100, 1000):
            raise SpecError(f"AnalysisTable: rate_per must be 100 or 1000, got "
                            f"{self.rate_per!r}.")
        if not 1 <= len(self.dims) <= 3:
            raise SpecError(f"AnalysisTable: 1 to 3 dims, got {list(self.dims)}.")
        if self.share_within is not None and self.share_within not in self.dims:
            raise SpecError(f"AnalysisTable: share_within={self.share_within!r} is not "
                            f"one of the dims {list(self.dims)}.")
        bad_rates = [k for k, (num, den, _) in self.rates.items()
                     if num not in self.value_cols or den not in self.value_cols]
        if bad_rates:
            raise SpecError(f"AnalysisTable: rates {bad_rates} need value columns as "
                            f"numerator and denominator; value_cols are "
                            f"{list(self.value_cols)}.", bad_rates)
        if self.smd_between is not None and (self.smd_between not in self.dims
                                             or len(self.dims) != 2):
            raise SpecError(f"AnalysisTable: smd_between={self.smd_between!r} must be one "
                            f"of two dims, got {list(self.dims)}.")
        if self.population is not None:
            pmiss = [c for c in (*self.dims, "population") if c not in self.population]
            if pmiss:
                raise MissingColumnsError(
                    f"AnalysisTable: `population` lacks column(s) {pmiss}.",
                    missing=pmiss)
        if self.persons is not None:
            pmiss = [c for c in ("person_id", *self.dims, *self.value_cols)
                     if c not in self.persons]
            if pmiss:
                raise MissingColumnsError(
                    f"AnalysisTable: `persons` lacks column(s) {pmiss}.", missing=pmiss)


@dataclass(frozen=True)
class CurveTable:
    """A survival or cumulative-incidence curve, released step by step.

    Not a count table: `curve` is already coarsened by
    :func:`kprlink.stats.release_curve` (every count it shows is 0 or above
    ``max_n``, and so is every difference of its numbers at risk), so the runner
    re-checks and writes it as it is: ``<group_col>, time, n`` (at risk at the
    step's start), ``n_events, n_competing, n_censored, estimate, lower, upper``.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`kprlink.stats.release_curve` with `group_col`.
    group_col : str
        The curves' group column.
    notes : str
        For the report (estimator, competing events, model estimates).
    excluded : mapping of str to int
        Persons left out, by reason (shown unless ``1..max_n``).
    persons : pandas.DataFrame, optional
        Who each released count counts
        (:func:`kprlink.stats.curve_release.curve_person_steps`): with it the
        runner protects the curve's counts jointly with the study's tables and
        hides what that protection hides; without it the curve is released as
        coarsened, on its own.
    """

    curve: pd.DataFrame
    group_col: str
    notes: str = ""
    excluded: Mapping[str, int] = field(default_factory=dict)
    persons: pd.DataFrame | None = field(default=None, repr=False)
    count_col: str = "n"
    value_cols: tuple[str, ...] = ("n_events", "n_competing", "n_censored")
    population: None = None

    @property
    def dims(self) -> tuple[str, ...]:
        return (self.group_col, "time")

    def __post_init__(self) -> None:
        need = [self.group_col, "time", "n_at_risk", *self.value_cols,
                "estimate", "lower", "upper"]
        missing = [c for c in need if c not in self.curve.columns]
        if missing:
            raise MissingColumnsError(
                f"CurveTable needs column(s) {missing} in `curve` (release_curve's "
                f"output); columns are {list(self.curve.columns)}.", missing=missing)


def count_cells(df: pd.DataFrame, levels: Mapping[str, Sequence[str]],
                value_cols: Sequence[str] = ()) -> pd.DataFrame:
    """Rows per combination of the `levels` dims (``n``), empty ones as 0; sums `value_cols`.

    Observed values missing from `levels` are appended, never dropped.

    Examples
    --------
    >>> df = pd.DataFrame({"sex": ["male", "male", "other"]})
    >>> count_cells(df, {"sex": ["female", "male"]})["n"].tolist()
    [0, 2, 1]
    """
    dims = list(levels)
    keys = df[dims].astype("string")
    lv = [list(levels[d]) + sorted(set(keys[d].dropna()) - set(levels[d])) for d in dims]
    full: pd.Index = (pd.Index(lv[0], name=dims[0]) if len(dims) == 1
                      else pd.MultiIndex.from_product(lv, names=dims))
    g = pd.concat([keys, df[list(value_cols)]], axis=1).groupby(dims)
    out = g.size().rename("n").to_frame()
    for c in value_cols:
        out[c] = g[c].sum()
    out = out.reindex(full, fill_value=0).reset_index()
    return out.astype({**{d: "string" for d in dims}, "n": "int64",
                       **{c: "int64" for c in value_cols}})


Step = Callable[..., AnalysisTable]
_STEPS: dict[str, Step] = {}


#: Step kinds that read only the cohort's persons' rows (and the population table).
_COHORT_ONLY: set[str] = set()


def cohort_only(kind: str) -> bool:
    """Whether step `kind` reads only the rows of the cohort's persons."""
    return kind in _COHORT_ONLY


def register(kind: str, *, cohort_persons_only: bool = False) -> Callable[[Step], Step]:
    """Register `fn` as the analysis step named `kind`.

    `cohort_persons_only` declares that the step reads register rows of the
    cohort's persons only (and the population table): a study made of such
    steps, run on an imported delivery, loads only those persons' rows.

    Examples
    --------
    >>> @register("doc_example")
    ... def _count(ctx, **params):
    ...     return AnalysisTable(pd.DataFrame({"sex": ["female"], "n": [3]}), ("sex",))
    >>> "doc_example" in step_kinds()
    True
    >>> _ = _STEPS.pop("doc_example")
    """
    def deco(fn: Step) -> Step:
        if kind in _STEPS and _STEPS[kind] is not fn:
            raise SpecError(f"analysis step kind {kind!r} is registered twice.")
        _STEPS[kind] = fn
        if cohort_persons_only:
            _COHORT_ONLY.add(kind)
        return fn
    return deco


def step_kinds() -> list[str]:
    """Names of every registered analysis step."""
    return sorted(_STEPS)


def get_step(kind: str) -> Step:
    """The step registered as `kind`; SpecError names the known kinds."""
    try:
        return _STEPS[kind]
    except KeyError:
        raise SpecError(f"unknown table kind {kind!r}; known kinds: {step_kinds()}.",
                        [f"kind={kind!r}"]) from None


def params_dict(params: Any) -> dict[str, Any]:
    """Turn a frozen ``((key, value), ...)`` tuple back into keyword arguments."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params}
