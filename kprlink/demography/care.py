"""Care measures from KPR helse og omsorg: IPLOS function groups, need level, care step.

The grouping of IPLOS function variables and the need levels follow the method
Helsedirektoratet and SSB publish for *bistandsbehov*; see
``docs/methods/epidemiology.md`` for the citation and what kprlink approximates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kprlink.exceptions import MissingColumnsError, SpecError

__all__ = ["FUNCTION_GROUPS", "NeedScoring", "iplos_function_groups", "need_level",
           "CareStaircase", "CareSteps", "care_step_at", "REGISTER_START"]

#: IPLOS function variables per group (vision and hearing are sensory, in no group).
FUNCTION_GROUPS: dict[str, tuple[str, ...]] = {
    "household_functions": ("husarbeid", "skaffe_varer", "lage_mat"),
    "own_health": ("ivareta_helse",),
    "self_care": ("personlig_hygiene", "paakledning", "spise", "toalett", "bevege_innendors",
                  "bevege_utendors"),
    "social_functioning": ("sosial_deltakelse", "beslutninger", "styre_atferd"),
    "cognitive_impairment": ("hukommelse", "kommunikasjon"),
}

#: First month a service sub-code is in the register: counts before it are not observable.
REGISTER_START: dict[str, dt.date] = {
    "06.03": dt.date(2019, 1, 1),  # digital supervision (digitalt tilsyn)
    "06.04": dt.date(2019, 1, 1),  # electronic medication support
}

NEED_LEVELS = ("some/limited", "medium to large", "extensive")


_require = MissingColumnsError.require


def iplos_function_groups(functions: pd.DataFrame, *, at: object,
                          groups: Mapping[str, tuple[str, ...]] = FUNCTION_GROUPS
                          ) -> pd.DataFrame:
    """Mean IPLOS score per function group from each person's latest assessment.

    Parameters
    ----------
    functions : pandas.DataFrame
        Canonical ``ho_functions``: ``kpr_id, assessment_date, variable, score``
        (1-5, 9 = not relevant). Not modified.
    at : date-like
        Use, per person and variable, the latest score assessed on or before `at`.
    groups : mapping
        Group name to variables; default :data:`FUNCTION_GROUPS`.

    Returns
    -------
    pandas.DataFrame
        One row per person assessed on or before `at`: one mean per group (NA where
        all its variables are 9 or missing), ``n_scored`` and ``assessment_date``
        (the latest used).

    Raises
    ------
    MissingColumnsError
        If a column is missing.
    SpecError
        If a score is outside 1-5 and 9.

    Examples
    --------
    >>> f = pd.DataFrame({"kpr_id": 1, "assessment_date": pd.Timestamp("2017-03-01"),
    ...                   "variable": ["husarbeid", "lage_mat", "hukommelse"],
    ...                   "score": [3, 5, 9]})
    >>> g = iplos_function_groups(f, at="2017-12-31")
    >>> float(g["household_functions"].iloc[0]), pd.isna(g["cognitive_impairment"].iloc[0])
    (4.0, True)
    """
    _require(functions, ["kpr_id", "assessment_date", "variable", "score"],
             "iplos_function_groups")
    score = pd.to_numeric(functions["score"], errors="coerce")
    bad = score.notna() & ~score.isin([1, 2, 3, 4, 5, 9])
    if bad.any():
        raise SpecError("iplos_function_groups(): scores must be 1-5 or 9.",
                        [f"score {v:g} ({int((score == v).sum())} row(s))"
                         for v in sorted(score[bad].unique())])
    when = pd.to_datetime(functions["assessment_date"])
    f = functions.assign(score=score, assessment_date=when)
    f = f[f["assessment_date"] <= pd.Timestamp(at)]  # type: ignore[arg-type]
    f = f.sort_values(["kpr_id", "variable", "assessment_date"], kind="stable")
    latest = f.drop_duplicates(["kpr_id", "variable"], keep="last")
    persons = pd.Index(latest["kpr_id"].unique(), name="kpr_id").sort_values()
    valid = latest[latest["score"].between(1, 5)]
    wide = valid.pivot(index="kpr_id", columns="variable", values="score").reindex(persons)
    out = pd.DataFrame(index=persons)
    for name, variables in groups.items():
        cols = [v for v in variables if v in wide.columns]
        out[name] = wide[cols].mean(axis=1) if cols else np.nan
        out[name] = out[name].astype(float)
    out["n_scored"] = valid.groupby("kpr_id").size().reindex(persons, fill_value=0)
    out["assessment_date"] = latest.groupby("kpr_id")["assessment_date"].max()
    return out.reset_index()


@dataclass(frozen=True)
class NeedScoring:
    """Thresholds that turn group means into the overall need level.

    Parameters
    ----------
    medium : float, default 2.5
        A group mean at or above this is at least "medium to large".
    extensive : float, default 3.5
        A group mean at or above this is "extensive".
    groups : tuple of str
        Groups considered (default: all five).
    """

    medium: float = 2.5
    extensive: float = 3.5
    groups: tuple[str, ...] = field(default_factory=lambda: tuple(FUNCTION_GROUPS))

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.medium < self.extensive <= 5:
            problems.append(f"need 1 <= medium < extensive <= 5, got {self.medium}, "
                            f"{self.extensive}")
        if not self.groups:
            problems.append("groups is empty")
        if problems:
            raise SpecError("NeedScoring is invalid.", problems)


def need_level(groups: pd.DataFrame, *, scoring: NeedScoring = NeedScoring(),
               out_col: str = "need_level") -> pd.DataFrame:
    """Overall need (some/limited, medium to large, extensive) from group means.

    Parameters
    ----------
    groups : pandas.DataFrame
        Output of :func:`iplos_function_groups`. Not modified.
    scoring : NeedScoring
        Thresholds; the level is set by the highest group mean.
    out_col : str
        New ordered categorical column (NA where no group could be scored).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    MissingColumnsError
        If a group column is missing.

    Examples
    --------
    >>> g = pd.DataFrame({"self_care": [1.0, 3.0, 4.0, np.nan]})
    >>> need_level(g, scoring=NeedScoring(groups=("self_care",)))["need_level"].tolist()
    ['some/limited', 'medium to large', 'extensive', nan]
    """
    _require(groups, list(scoring.groups), "need_level")
    top = groups[list(scoring.groups)].max(axis=1, skipna=True).to_numpy(float)
    codes = np.where(np.isnan(top), -1,
                     np.where(top >= scoring.extensive, 2, np.where(top >= scoring.medium, 1, 0)))
    out = groups.copy()
    out[out_col] = pd.Categorical.from_codes(
        codes, dtype=pd.CategoricalDtype(list(NEED_LEVELS), ordered=True))
    return out


@dataclass(frozen=True)
class CareStaircase:
    """Steps of the care staircase (omsorgstrappen), lowest first, with service codes.

    Parameters
    ----------
    steps : tuple of (label, tuple of int)
        Step label and the KPR service codes (1-29) that place a person on it.
    round_the_clock : tuple of int
        Service codes that are round-the-clock care by themselves.
    """

    steps: tuple[tuple[str, tuple[int, ...]], ...]
    round_the_clock: tuple[int, ...] = (18, 19, 20, 21, 23)

    def __post_init__(self) -> None:
        seen: dict[int, str] = {}
        problems = []
        for label, codes in self.steps:
            for c in codes:
                if c in seen:
                    problems.append(f"service code {c} is on both {seen[c]!r} and {label!r}")
                seen[c] = label
        if len({lab for lab, _ in self.steps}) != len(self.steps):
            problems.append("step labels repeat")
        if problems:
            raise SpecError("CareStaircase is invalid.", problems)

    @classmethod
    def default(cls) -> CareStaircase:
        """Safety alarm, practical help, home health care, municipal housing,
        respite/short-term stay, long-term stay."""
        return cls((
            ("safety alarm", (6,)),
            ("practical help", (1, 2, 3, 4, 5, 7, 9, 11)),
            ("home health care", (15,)),
            ("care housing", (29,)),
            ("short-term stay", (8, 17, 18, 19, 20, 22, 23)),
            ("long-term stay", (21,)),
        ))

    @property
    def labels(self) -> tuple[str, ...]:
        return ("none", *(lab for lab, _ in self.steps))


@dataclass(frozen=True, eq=False)
class CareSteps:
    """Result of :func:`care_step_at`: ``steps`` per person and ``excluded`` service rows."""

    steps: pd.DataFrame
    excluded: pd.DataFrame

    def __repr__(self) -> str:
        return (f"<CareSteps {len(self.steps):,} persons, "
                f"{len(self.excluded):,} service rows not yet in the register>")

    def summary(self) -> pd.DataFrame:
        """Persons per step (unprotected: route through disclosure before release)."""
        return self.steps["care_step"].value_counts(sort=False).rename_axis(
            "care_step").reset_index(name="n_persons")


def care_step_at(services: pd.DataFrame, date: object, *,
                 staircase: CareStaircase | None = None,
                 indicators: pd.DataFrame | None = None) -> CareSteps:
    """Each person's highest step on the care staircase on `date`.

    Parameters
    ----------
    services : pandas.DataFrame
        Canonical ``ho_services`` (``kpr_id, service_code, service_subcode,
        start_date, end_date``; NA end = ongoing). Not modified.
    date : date-like
        The day (services running on it, both ends included).
    staircase : CareStaircase, optional
        Default :meth:`CareStaircase.default`.
    indicators : pandas.DataFrame, optional
        Canonical ``ho_indicators``; the latest ``round_the_clock`` on or before
        `date` also marks round-the-clock care (e.g. staffed housing).

    Returns
    -------
    CareSteps
        ``steps``: ``kpr_id, care_step`` (ordered), ``round_the_clock`` for every
        person in `services`; ``excluded``: service rows running on `date` although
        their sub-code entered the register later (see :data:`REGISTER_START`); they
        are not counted, since such services are not observable before that month.
    """
    _require(services, ["kpr_id", "service_code", "start_date", "end_date"], "care_step_at")
    stairs = staircase or CareStaircase.default()
    day = pd.Timestamp(date)  # type: ignore[arg-type]
    s = services
    start = pd.to_datetime(s["start_date"])
    end = pd.to_datetime(s["end_date"])
    sub = s["service_subcode"].astype("string") if "service_subcode" in s.columns else \
        pd.Series(pd.NA, index=s.index, dtype="string")
    reg_start = sub.map(lambda c: pd.Timestamp(REGISTER_START[c]) if isinstance(c, str)
                        and c in REGISTER_START else pd.NaT)
    running = (start <= day) & (end.isna() | (end >= day))
    too_early = running & reg_start.notna() & (day < reg_start)
    active = running & ~too_early
    code = pd.to_numeric(s["service_code"], errors="coerce")
    step_of = {c: i + 1 for i, (_, codes) in enumerate(stairs.steps) for c in codes}
    step = code.map(step_of).fillna(0).where(active, 0).astype(int)
    persons = pd.Index(pd.unique(s["kpr_id"]), name="kpr_id")
    best = step.groupby(s["kpr_id"]).max().reindex(persons, fill_value=0)
    rtc = (active & code.isin(stairs.round_the_clock)).groupby(s["kpr_id"]).any().reindex(
        persons, fill_value=False)
    if indicators is not None:
        _require(indicators, ["kpr_id", "date", "round_the_clock"], "care_step_at")
        ind = indicators[pd.to_datetime(indicators["date"]) <= day]
        ind = ind.assign(_d=pd.to_datetime(ind["date"])).sort_values(["kpr_id", "_d"])
        last = ind.drop_duplicates("kpr_id", keep="last").set_index("kpr_id")["round_the_clock"]
        flag = last.astype("boolean").fillna(False).astype(bool)
        rtc = rtc | flag.reindex(persons, fill_value=False)
    dtype = pd.CategoricalDtype(list(stairs.labels), ordered=True)
    steps = pd.DataFrame({"kpr_id": persons,
                          "care_step": pd.Categorical.from_codes(best.to_numpy(), dtype=dtype),
                          "round_the_clock": rtc.to_numpy(bool)})
    return CareSteps(steps, services.loc[too_early.to_numpy()].copy())
