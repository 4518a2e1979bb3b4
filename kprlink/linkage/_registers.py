"""Probabilistic NPR↔KPR linkage of persons the key file misses.

Each register is reduced to one quasi-identifier profile per person (modal
birth year, sex and municipality, death date and vital status, the set of
contact dates, and the dates of acute admissions / out-of-hours and GP
claims that refer them); the model is trained on persons whose key is known
and applied to the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from kprlink.exceptions import LinkageError, MissingColumnsError
from kprlink.linkage._birth_month import birth_month_interval
from kprlink.linkage._link import link_probabilistic
from kprlink.linkage._result import ProbabilisticLinkResult
from kprlink.linkage._spec import LinkageSpec

_EPOCH = pd.Timestamp("1970-01-01")


def _modal(ids: pd.Series, values: pd.Series, index: pd.Index) -> pd.Series:
    """Most frequent non-missing value per id (ties: the first seen)."""
    d = pd.DataFrame({"id": ids.to_numpy(), "v": values.to_numpy()}).dropna()
    n = d.groupby(["id", "v"], sort=False).size().reset_index(name="n")
    n = n.sort_values("n", ascending=False, kind="stable").drop_duplicates("id")
    return n.set_index("id")["v"].reindex(index)


def _move(ids: pd.Series, dates: pd.Series, municipality: pd.Series, index: pd.Index
          ) -> pd.Series:
    """``"A>B"`` where a person's earliest and latest events lie in different
    municipalities (A first, B last); missing otherwise."""
    d = pd.DataFrame({"id": ids.to_numpy(), "day": pd.to_datetime(dates).to_numpy(),
                      "m": municipality.astype("string").to_numpy()}).dropna()
    d = d.sort_values(["id", "day"], kind="stable")
    g = d.groupby("id", sort=False)["m"]
    first, last = g.first(), g.last()
    move = (first + ">" + last).where(first != last)
    return move.reindex(index).astype("string")


def _minutes_of_day(times: pd.Series) -> pd.Series:
    """Minutes after midnight of ``HH:MM`` (or ``HHMM``) strings; NA when unreadable."""
    hm = times.astype("string").str.extract(r"^\s*(\d{1,2}):?(\d{2})")
    h = pd.to_numeric(hm[0], errors="coerce")
    m = pd.to_numeric(hm[1], errors="coerce")
    out = h * 60 + m
    return out.where((h < 24) & (m < 60))


def _day_arrays(ids: pd.Series, dates: pd.Series, index: pd.Index,
                times: pd.Series | None = None) -> pd.Series:
    """Sorted distinct days since 1970-01-01 per id (an int64 array each).

    With `times`, minutes since 1970-01-01 instead (events without a
    readable time are left out).
    """
    days = (pd.to_datetime(dates) - _EPOCH).dt.days
    if times is not None:
        days = days * 1440 + _minutes_of_day(times).to_numpy()
    d = pd.DataFrame({"id": ids.to_numpy(), "day": days.to_numpy()}).dropna().drop_duplicates()
    d = d.sort_values(["id", "day"], kind="stable")
    bounds = np.flatnonzero(d["id"].to_numpy()[1:] != d["id"].to_numpy()[:-1]) + 1
    chunks = np.split(d["day"].to_numpy(np.int64), bounds) if len(d) else []
    starts = d["id"].to_numpy()[np.r_[0, bounds]] if len(d) else []
    by_id = dict(zip(starts, chunks))
    empty = np.empty(0, np.int64)
    return pd.Series([by_id.get(i, empty) for i in index], index=index, dtype=object)


def person_profiles(events: pd.DataFrame, *, id_col: str, date_col: str,
                    birth_year_col: str = "birth_year", sex_col: str = "sex",
                    municipality_col: str = "municipality",
                    death_date_col: str = "death_date", district_col: str = "district",
                    birth_month_col: str = "birth_month", age_col: str | None = None,
                    day_sets: Mapping[str, pd.Series] | None = None,
                    time_col: str | None = None,
                    minute_sets: Mapping[str, pd.Series] | None = None,
                    date_sets: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One quasi-identifier profile per person from an event table.

    Parameters
    ----------
    events : pandas.DataFrame
        One row per contact (KUHR claim, NPR episode). Not modified. The
        birth-year, sex, municipality and death-date columns may be absent
        (the profile column is then all missing, i.e. neutral).
    id_col, date_col : str
        Person id and contact date.
    birth_month_col : str, default "birth_month"
        Birth month 1–12 (NPR ``fodt_mnd``); the profile's ``birth_month`` is
        the modal value (missing without the column).
    age_col : str, optional
        Age in completed years at each event (KUHR ``alder``): the profile gets
        ``birth_month_lo`` / ``birth_month_hi``, the birth-month interval the
        dated ages and birth years imply (see ``birth_month_interval``);
        missing without the column.
    day_sets : mapping of str to boolean Series, optional
        Extra day-array columns: for each name, the contact days of the events
        where the mask (aligned with `events`) is true, e.g. acute admissions.
    time_col : str, optional
        Time of day (``HH:MM``) of each event, for `minute_sets`.
    minute_sets : mapping of str to boolean Series, optional
        Like `day_sets`, but minutes since 1970-01-01 (date and `time_col`);
        events without a readable time are left out. Needs `time_col`
        (without that column the arrays are empty).
    date_sets : mapping of str to str, optional
        Extra day-array columns from other date columns of `events`: for each
        name, the distinct days of that column (e.g. ``referral_days`` from NPR
        ``referral_received``); empty arrays when the column is absent.

    Returns
    -------
    pandas.DataFrame
        Indexed by person id: ``birth_year``, ``sex``, ``municipality`` (the
        most frequent value), ``district`` (modal, missing without a
        `district_col` column), ``death_date`` (earliest), ``dead`` (1 if a
        death date is recorded, else 0; missing without a death-date column),
        ``move`` (``"A>B"`` when the earliest and latest events with a
        municipality lie in A and B, A != B; missing otherwise),
        ``event_days`` (sorted distinct contact days since 1970-01-01, an
        array), ``n_events`` and one array column per `day_sets` entry.

    Raises
    ------
    MissingColumnsError
        If `id_col` or `date_col` is missing.
    LinkageError
        If a `day_sets` mask is not aligned with `events` (other length).

    Examples
    --------
    >>> ev = pd.DataFrame({"pid": [1, 1, 2], "sex": [2, 2, 1],
    ...                    "date": pd.to_datetime(["1970-01-02", "1970-01-05", None])})
    >>> p = person_profiles(ev, id_col="pid", date_col="date")
    >>> p["event_days"].map(lambda d: d.tolist()).tolist(), p["n_events"].tolist()
    ([[1, 4], []], [2, 1])
    """
    missing = sorted({id_col, date_col} - set(events.columns))
    if missing:
        raise MissingColumnsError(
            f"person_profiles() needs column(s) {missing}; columns are "
            f"{list(events.columns)}.", missing=missing)
    ids = events[id_col]
    out = pd.DataFrame(index=pd.Index(pd.unique(ids.dropna()), name=id_col))
    g = events.groupby(id_col, sort=False)
    for col, name in ((birth_year_col, "birth_year"), (sex_col, "sex"),
                      (municipality_col, "municipality"), (district_col, "district"),
                      (birth_month_col, "birth_month")):
        out[name] = _modal(ids, events[col], out.index) if col in events.columns else pd.NA
    if age_col is not None and age_col in events.columns and birth_year_col in events.columns:
        bounds = birth_month_interval(ids, events[date_col], events[age_col],
                                      events[birth_year_col], out.index)
    else:
        bounds = pd.DataFrame({"birth_month_lo": pd.NA, "birth_month_hi": pd.NA},
                              index=out.index, dtype="Int8")
    out[["birth_month_lo", "birth_month_hi"]] = bounds
    out["move"] = (_move(ids, events[date_col], events[municipality_col], out.index)
                   if municipality_col in events.columns else pd.NA)
    if death_date_col in events.columns:
        out["death_date"] = pd.to_datetime(g[death_date_col].min())
        out["dead"] = out["death_date"].notna().astype("Int8")
    else:
        out["death_date"] = pd.NaT
        out["dead"] = pd.array([pd.NA] * len(out), dtype="Int8")
    out["event_days"] = _day_arrays(ids, events[date_col], out.index)
    out["n_events"] = g.size().reindex(out.index).to_numpy()
    sets = {**(day_sets or {}), **(minute_sets or {})}
    bad = [k for k, m in sets.items() if len(m) != len(events)]
    if bad:
        raise LinkageError("person_profiles(): day_sets masks must have one value per event.",
                           [f"day_sets/minute_sets[{k!r}]: {len(sets[k]):,} values for "
                            f"{len(events):,} events" for k in bad])
    has_time = time_col is not None and time_col in events.columns
    for name, mask in sets.items():
        keep = np.array(pd.Series(mask).fillna(False).to_numpy(), dtype=bool)  # a copy
        if name in (minute_sets or {}):  # no time column: no events
            keep &= has_time
            times = events[time_col][keep] if has_time else pd.Series([], dtype="string")
            out[name] = _day_arrays(ids[keep], events[date_col][keep], out.index, times)
        else:
            out[name] = _day_arrays(ids[keep], events[date_col][keep], out.index)
    for name, col in (date_sets or {}).items():
        dates = events[col] if col in events.columns else pd.Series(pd.NaT, index=events.index)
        out[name] = _day_arrays(ids, dates, out.index)
    return out


def _is_in(df: pd.DataFrame, col: str, values: tuple[object, ...]) -> pd.Series:
    """Boolean mask ``df[col] in values`` (all False when the column is absent)."""
    if col not in df.columns:
        return pd.Series(False, index=df.index)
    return df[col].isin(values).fillna(False).astype(bool)


def register_spec(**kwargs: object) -> LinkageSpec:
    """The default spec of :func:`link_registers_probabilistic` (keyword overrides).

    >>> register_spec(target_precision=0.99).competition
    True
    """
    kw: dict[str, object] = dict(referral_days=True, referral_times=True, district=True,
                                 birth_month=True, referral_dates=True, discharge_dates=True,
                                 moves=True, competition=True)
    kw.update(kwargs)
    return LinkageSpec.person_profile(**kw)  # type: ignore[arg-type]


def register_profiles(npr_episodes: pd.DataFrame, kuhr_claims: pd.DataFrame,
                      key: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame,
                                                  dict[str, int]]:
    """NPR and KPR profiles, the usable key pairs as labels, and the key counts.

    The profiles and key rules of :func:`link_registers_probabilistic` (which
    see); persons keyed to someone absent from the other register are dropped.
    """
    missing = sorted({"npr_id", "kpr_id"} - set(key.columns))
    if missing:
        raise MissingColumnsError(f"link_registers_probabilistic() needs {missing} in `key`.",
                                  missing=missing)
    acute = _is_in(npr_episodes, "urgency", (1, 2, 3))
    npr = person_profiles(npr_episodes, id_col="npr_id", date_col="date_in",
                          day_sets={"acute_days": acute}, time_col="time_in",
                          minute_sets={"acute_minutes": acute},
                          date_sets={"referral_days": "referral_received"})
    # discharge days of inpatient stays (GP follow-up after the epikrise)
    inpatient = _is_in(npr_episodes, "care_level", (1,)).to_numpy()
    out_col = "date_out" if "date_out" in npr_episodes.columns else "date_in"
    npr["discharge_days"] = _day_arrays(npr_episodes["npr_id"][inpatient],
                                        npr_episodes[out_col][inpatient], npr.index)
    lv = _is_in(kuhr_claims, "service_type", ("Legevakt",))
    kpr = person_profiles(kuhr_claims, id_col="kpr_id", date_col="date", day_sets={
        "out_of_hours_days": lv,
        "gp_days": _is_in(kuhr_claims, "service_type", ("Fastlege",))},
        time_col="time", minute_sets={"out_of_hours_minutes": lv}, age_col="age")
    k = key.dropna(subset=["npr_id", "kpr_id"])
    n_key_na = len(key) - len(k)
    if "delivery" in k.columns:
        k = k.sort_values("delivery", kind="stable")
    latest = k.drop_duplicates("npr_id", keep="last").drop_duplicates("kpr_id", keep="last")
    in_npr, in_kpr = latest["npr_id"].isin(npr.index), latest["kpr_id"].isin(kpr.index)
    usable = in_npr & in_kpr
    # a person the key maps to someone absent from the other register has no
    # partner there: leave them out of the model (counted in info)
    npr = npr.drop(index=latest.loc[in_npr & ~in_kpr, "npr_id"])
    kpr = kpr.drop(index=latest.loc[in_kpr & ~in_npr, "kpr_id"])
    labels = pd.DataFrame({"left_id": latest.loc[usable, "npr_id"].to_numpy(),
                           "right_id": latest.loc[usable, "kpr_id"].to_numpy()})
    if labels.empty:
        raise LinkageError("link_registers_probabilistic(): no key pair names persons "
                           "present in both registers; nothing to train on.",
                           [f"{len(key):,} key rows, {int(usable.sum())} usable"])
    counts = {"n_key_rows": len(key), "n_key_missing_id": n_key_na,
              "n_key_superseded": len(k) - len(latest),
              "n_key_not_in_registers": int((~usable).sum()),
              "n_left_keyed_partner_absent": int((in_npr & ~in_kpr).sum()),
              "n_right_keyed_partner_absent": int((in_kpr & ~in_npr).sum())}
    return npr, kpr, labels, counts


def link_registers_probabilistic(
    npr_episodes: pd.DataFrame, kuhr_claims: pd.DataFrame, key: pd.DataFrame, *,
    spec: LinkageSpec | None = None, validation_fraction: float = 0.5,
    max_validation_labels: int = 20_000,
) -> ProbabilisticLinkResult:
    """Link NPR persons to KPR persons the key file does not cover.

    Profiles are built with :func:`person_profiles` (NPR: ``date_in``, with
    ``acute_days`` and ``acute_minutes`` (``time_in``) from episodes of
    ``urgency`` 1–3; KPR: claim ``date``, with ``out_of_hours_days`` and
    ``out_of_hours_minutes`` (``time``) from ``service_type`` "Legevakt" and
    ``gp_days`` from "Fastlege" claims; both with the modal ``district``;
    NPR ``discharge_days``: ``date_out`` of inpatient episodes, ``care_level``
    1). Key pairs train m (``left_id`` = ``npr_id``,
    ``right_id`` = ``kpr_id``), a held-out share of them measures precision
    and recall, and the model links the persons missing from the key. Where
    one NPR id has several KPR ids the latest ``delivery`` wins; the other
    pairs are counted in ``info["n_key_superseded"]`` and not used. A person
    whose key partner is absent from the other register (e.g. an NPR patient
    without any KUHR claim) cannot be linked to anyone else and is left out
    of the model (``info["n_left_keyed_partner_absent"]``,
    ``info["n_right_keyed_partner_absent"]``).

    Parameters
    ----------
    npr_episodes, kuhr_claims : pandas.DataFrame
        Canonical frames (see ``kprlink.sources``). Not modified.
    key : pandas.DataFrame
        ``npr_id``, ``kpr_id`` and optionally ``delivery``.
    spec : LinkageSpec, optional
        Default ``LinkageSpec.person_profile(referral_days=True,
        referral_times=True, district=True, birth_month=True,
        referral_dates=True, discharge_dates=True, moves=True,
        competition=True)``.
    validation_fraction, max_validation_labels
        As :func:`link_probabilistic`.

    Returns
    -------
    ProbabilisticLinkResult
        ``links`` with ``source`` "key" or "model"; ``evaluate(truth)``
        takes ``truth`` with ``left_id`` = npr_id and ``right_id`` = kpr_id.

    Raises
    ------
    MissingColumnsError
        If `key` lacks ``npr_id``/``kpr_id`` or a frame lacks its id/date.
    LinkageError
        As :func:`link_probabilistic`.
    """
    spec = spec or register_spec()
    npr, kpr, labels, counts = register_profiles(npr_episodes, kuhr_claims, key)
    res = link_probabilistic(npr, kpr, spec, labels=labels,
                             validation_fraction=validation_fraction,
                             max_validation_labels=max_validation_labels)
    info = dict(res.info)
    info.update(counts)
    return replace(res, info=info)
