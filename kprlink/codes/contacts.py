"""Contact types of KPR-KUHR claims from their fee codes (takster), by tariff year.

The table follows Helsedirektoratet's definition of GP and out-of-hours contact
types (Allmennlegetjenesten årsrapport 2023, tabell V9.1) and SKDE's
``kpr_kontakttype.sas`` (2025), with the tariff changes of the normal tariff:
``1be`` (electronic simple contact) exists up to tariff year 2022 (2022–23) and
is merged into ``1bd`` from 2023–24; the primary-care-team codes ``2a?s/t/v``,
``2afs/t/v`` and ``07x`` exist from tariff year 2024. A tariff year starts on
1 July: pass ``claims=`` to take it from each claim's date; otherwise the
calendar ``year`` of the fee row stands in for it. A row with no year at all
is typed without the version limits (its code's type in any tariff year).

Ranking (one type per claim)
----------------------------
A claim gets the highest-ranked type among its fee codes::

    home_visit > consultation > e_consultation > interdisciplinary
    > simple_present > simple_remote > administrative > unknown

SKDE takes ``max()`` over numeric codes (5 tverrfaglig, 4 sykebesøk,
3 konsultasjon, 2 enkel kontakt, 1 annet, 0 ukjent), which ranks an
interdisciplinary meeting above a home visit or consultation only because of
the numbering. Helsedirektoratet counts a claim as a consultation or home visit
whenever it carries such a code, so kprlink ranks patient-present contacts
first, then remote ones. SKDE's own code is returned beside ours
(``skde_type``) so results can be compared with SKDE's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kprlink.exceptions import MissingColumnsError

__all__ = ["CONTACT_TYPES", "FEE_CONTACT_TABLE", "contact_types"]

#: Contact types, lowest rank first (the categorical order).
CONTACT_TYPES = ("unknown", "administrative", "simple_remote", "simple_present",
                 "interdisciplinary", "e_consultation", "consultation", "home_visit")
_SKDE = {"unknown": 0, "administrative": 1, "simple_remote": 2, "simple_present": 2,
         "interdisciplinary": 5, "e_consultation": 3, "consultation": 3, "home_visit": 4}

_ROWS: list[tuple[str, str, int | None, int | None]] = [
    *[(c, "consultation", None, None) for c in "2ad 2ak 2ed 2fk 2af 615".split()],
    *[(c, "consultation", 2024, None) for c in
      "074a 074b 074d 2as 2at 2av 2aks 2akt 2akv 2afs 2aft 2afv".split()],
    *[(c, "e_consultation", None, None) for c in "2ae 2aef 2aek".split()],
    *[(c, "e_consultation", 2024, None) for c in "074ae 074be".split()],
    *[(c, "home_visit", None, None) for c in "11ad 11ak 086a 086b".split()],
    *[(c, "simple_present", None, None) for c in "1ad 1ak 1e 1h 618 701a v1 070 071a".split()],
    *[(c, "simple_remote", None, None) for c in "1bd 1bk 1g 1i 612a 612b".split()],
    ("1be", "simple_remote", None, 2022),
    *[(c, "interdisciplinary", None, None) for c in "1f 14 1j l36 l36d".split()],
    *[(c, "administrative", None, None) for c in "h1 5 7 8 616 2kd 2ld".split()],
]

#: The versioned fee-code table: fee_code, contact_type, first and last tariff year (NA = open).
FEE_CONTACT_TABLE = pd.DataFrame(_ROWS, columns=["fee_code", "contact_type", "first_year",
                                                 "last_year"]).astype(
    {"first_year": "Int64", "last_year": "Int64"})


def _lookup(uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank, first and last year for each distinct fee code (other L-codes: administrative)."""
    table = FEE_CONTACT_TABLE.set_index("fee_code")
    u = pd.Index(uniques, dtype=object)
    pos = table.index.get_indexer(u)
    rank_of = {t: i for i, t in enumerate(CONTACT_TYPES)}
    ranks = np.array([rank_of[t] for t in table["contact_type"]] + [0], dtype=np.int8)[pos]
    first = np.append(table["first_year"].fillna(0).to_numpy(np.int64), 0)[pos]
    last = np.append(table["last_year"].fillna(9999).to_numpy(np.int64), 9999)[pos]
    other_l = (pos < 0) & pd.Series(u, dtype="string").str.startswith("l").fillna(False).to_numpy(
        bool)
    ranks = np.where(other_l, rank_of["administrative"], ranks)
    return ranks, first, last


def contact_types(fees: pd.DataFrame, *, tariff_year: int | None = None,
                  claims: pd.DataFrame | None = None) -> pd.DataFrame:
    """One contact type per claim from its fee codes.

    Parameters
    ----------
    fees : pandas.DataFrame
        Canonical KUHR fees: ``claim_id``, ``fee_code`` (lower case) and, when
        `tariff_year` is None, ``year``. Not modified.
    tariff_year : int, optional
        Tariff year (starting 1 July) to apply to every row.
    claims : pandas.DataFrame, optional
        Canonical claims (``claim_id, date``): the tariff year of each fee row is
        then taken from its claim's date (year − 1 before 1 July). Without
        `claims` or `tariff_year`, each row's calendar ``year`` stands in.

    Returns
    -------
    pandas.DataFrame
        One row per claim_id: ``contact_type`` (ordered categorical of
        :data:`CONTACT_TYPES`), ``skde_type`` (SKDE's code 0–5) and
        ``n_unknown_codes`` (fee codes that are not contact codes in that tariff
        year, counted, never dropped).

    Raises
    ------
    MissingColumnsError
        If a needed column is missing (``err.missing``).

    Examples
    --------
    >>> fees = pd.DataFrame({"claim_id": [1, 1, 2, 3, 3],
    ...                      "fee_code": ["1bd", "2ad", "1be", "1be", "zz"],
    ...                      "year": [2017, 2017, 2017, 2023, 2023]})
    >>> ct = contact_types(fees)
    >>> ct["contact_type"].tolist(), ct["n_unknown_codes"].tolist()
    (['consultation', 'simple_remote', 'unknown'], [0, 0, 2])
    """
    need = ["claim_id", "fee_code"] + (["year"] if tariff_year is None and claims is None
                                       else [])
    missing = [c for c in need if c not in fees.columns]
    if claims is not None and tariff_year is None:
        missing += [c for c in ("claim_id", "date") if c not in claims.columns]
    if missing:
        raise MissingColumnsError(f"contact_types() needs column(s) {missing}; fees has "
                                  f"{list(fees.columns)}.", missing=missing)
    codes, uniques = pd.factorize(fees["fee_code"], use_na_sentinel=True)
    ranks, first, last = _lookup(np.asarray(uniques, dtype=object))
    ranks, first, last = (np.append(a, fill) for a, fill in ((ranks, 0), (first, 0),
                                                             (last, 9999)))
    if tariff_year is not None:
        year = np.full(len(fees), tariff_year, dtype=np.int64)
    elif claims is not None:
        pos = pd.Index(claims["claim_id"]).get_indexer(fees["claim_id"])
        date = pd.DatetimeIndex(claims["date"]).take(np.where(pos >= 0, pos, 0))
        tyear = np.where(date.month < 7, date.year - 1, date.year)
        year = np.where((pos >= 0) & ~date.isna(), tyear, -1).astype(np.int64)
    else:
        year = pd.array(fees["year"], dtype="Int64").fillna(-1).to_numpy(np.int64)
    # a row without a tariff year (-1) is typed without the version limits
    valid = (year < 0) | ((year >= first[codes]) & (year <= last[codes]))
    rank = np.where(valid, ranks[codes], 0).astype(np.int8)
    frame = pd.DataFrame({"claim_id": fees["claim_id"].to_numpy(), "rank": rank,
                          "unknown": rank == 0})
    out = frame.groupby("claim_id", sort=True).agg(rank=("rank", "max"),
                                                   n_unknown_codes=("unknown", "sum"))
    labels = np.asarray(CONTACT_TYPES, dtype=object)[out["rank"].to_numpy()]
    result = pd.DataFrame({
        "claim_id": out.index.to_numpy(),
        "contact_type": pd.Categorical(labels, categories=list(CONTACT_TYPES), ordered=True),
        "skde_type": pd.array([_SKDE[t] for t in labels], dtype="Int8"),
        "n_unknown_codes": out["n_unknown_codes"].to_numpy(np.int64),
    })
    return result
