"""Linked vs unlinked persons (RECORD 12.3, GUILD): who does the linkage miss?

NPR persons are compared by whether they were linked to a KPR person (key file or
model) or not: age band, sex, county and the care level of their episodes, each
level's share in both groups and the standardised difference of the shares
(``(p1 - p2) / sqrt((p1(1 - p1) + p2(1 - p2)) / 2)``; |d| > 0.1 is the usual mark
of imbalance). Exact counts of persons: for the analyst, not a release.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["compare_linked"]

AGE_BREAKS = (0, 18, 45, 65, 80)
CARE_LEVELS = {1: "inpatient", 2: "day", 3: "outpatient"}


def level_difference(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """Standardised difference of two proportions, level by level (0 where both are 0
    or 1); ``kl.standardised_difference`` gives one figure per variable.

    >>> level_difference(np.array([0.5, 0.2]), np.array([0.5, 0.4])).round(3).tolist()
    [0.0, -0.447]
    """
    p1, p2 = np.asarray(p1, float), np.asarray(p2, float)
    s = np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s > 0, (p1 - p2) / s, 0.0)


def _modal(ids: pd.Series, values: pd.Series) -> pd.Series:
    d = pd.DataFrame({"id": ids.to_numpy(), "v": values.to_numpy()}).dropna()
    n = d.groupby(["id", "v"], sort=False).size().reset_index(name="n")
    return n.sort_values(["n", "v"], ascending=[False, True], kind="stable") \
        .drop_duplicates("id").set_index("id")["v"]


def _age_band(age: pd.Series) -> pd.Series:
    labels = [f"{a}-{b - 1}" for a, b in zip(AGE_BREAKS[:-1], AGE_BREAKS[1:])]
    labels.append(f"{AGE_BREAKS[-1]}+")
    return pd.cut(age, [*AGE_BREAKS, 200], right=False, labels=labels).astype("string")


def compare_linked(persons: pd.DataFrame, npr_episodes: pd.DataFrame, *,
                   reference_year: int) -> pd.DataFrame:
    """NPR persons linked vs not linked, by age band, sex, county and care level.

    Parameters
    ----------
    persons : pandas.DataFrame
        ``LinkageResult.persons`` (``npr_id``, ``in_npr``, ``linked``, ``sex``,
        ``birth_year``; ``link_method`` where model links were added).
    npr_episodes : pandas.DataFrame
        Canonical episodes (``npr_id``; ``municipality``, ``care_level`` where
        present): a person's county is the first two digits of their most
        frequent municipality, their care level the most frequent one.
    reference_year : int
        Age = reference_year - birth year.

    Returns
    -------
    pandas.DataFrame
        ``variable, level, n_linked, pct_linked, n_unlinked, pct_unlinked, smd``
        (missing values are a level of their own, "unknown").

    Examples
    --------
    >>> persons = pd.DataFrame({"npr_id": [1, 2, 3, 4], "in_npr": True,
    ...     "linked": [True, True, False, False], "sex": [1, 2, 2, 2],
    ...     "birth_year": [1950, 1990, 1940, 1945]})
    >>> eps = pd.DataFrame({"npr_id": [1, 2, 3, 4], "municipality": ["0301"] * 4,
    ...                     "care_level": [1, 3, 1, 1]})
    >>> t = compare_linked(persons, eps, reference_year=2017)
    >>> t[t["variable"] == "sex"][["level", "n_linked", "n_unlinked"]].values.tolist()
    [['female', 1, 2], ['male', 1, 0]]
    """
    p = persons[persons["in_npr"].to_numpy(bool)]
    linked = p["linked"].to_numpy(bool)
    ids = p["npr_id"]
    eps = npr_episodes
    cols = {
        "age band": _age_band(reference_year - pd.to_numeric(p["birth_year"],
                                                             errors="coerce")),
        "sex": p["sex"].map({1: "male", 2: "female"}).astype("string"),
        "county": (_modal(eps["npr_id"], eps["municipality"].astype("string").str[:2])
                   .reindex(ids.to_numpy()).astype("string")
                   if "municipality" in eps else pd.Series(pd.NA, index=ids.to_numpy(),
                                                           dtype="string")),
        "care level": (_modal(eps["npr_id"], eps["care_level"]).reindex(ids.to_numpy())
                       .map(CARE_LEVELS).astype("string")
                       if "care_level" in eps else pd.Series(pd.NA, index=ids.to_numpy(),
                                                             dtype="string")),
    }
    rows = []
    n1, n0 = int(linked.sum()), int((~linked).sum())
    for var, values in cols.items():
        v = pd.Series(np.asarray(values.fillna("unknown"), dtype=object))
        for level in sorted(v.unique(), key=str):
            hit = (v == level).to_numpy(bool)
            a, b = int((hit & linked).sum()), int((hit & ~linked).sum())
            rows.append((var, str(level), a, b))
    out = pd.DataFrame(rows, columns=["variable", "level", "n_linked", "n_unlinked"])
    p1 = out["n_linked"] / n1 if n1 else np.nan
    p0 = out["n_unlinked"] / n0 if n0 else np.nan
    out.insert(3, "pct_linked", 100 * p1)
    out["pct_unlinked"] = 100 * p0
    out["smd"] = level_difference(np.asarray(p1, float), np.asarray(p0, float))
    return out[["variable", "level", "n_linked", "pct_linked", "n_unlinked", "pct_unlinked",
                "smd"]]
