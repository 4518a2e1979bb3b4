"""Pseudonyms, the NPR↔KPR key file and the person-level delivery defects.

Every person has a KPR pseudonym (``kpr_lnr``) and a different NPR pseudonym
(``lopenr``). The key file ``nokkel_npr_kpr.csv`` (``npr_lnr;kpr_lnr;levering``)
lists, in the latest delivery ``nokkel_2021_m21t3``, every person with at
least one row in ``npr_episoder``, except the injected defects:

* ``missing_from_key``: NPR persons left out of the key (their NPR rows are
  listed in truth);
* ``key_conflict``: the NPR key also appears in an older delivery
  ``nokkel_2019_m19t1`` mapped to a stale KPR key (``9xxxxxxx``) that no KPR
  file uses; the latest delivery wins;
* ``sex_conflict`` / ``birth_year_conflict``: NPR rows of a person whose
  ``kjonn`` is flipped or ``fodselsar`` off by one compared with KPR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

KEY_SCHEMA = pa.schema([("npr_lnr", pa.int64()), ("kpr_lnr", pa.int64()),
                        ("levering", pa.string())])
LATEST = "nokkel_2021_m21t3"
OLDER = "nokkel_2019_m19t1"
STALE0 = 90_000_000


@dataclass
class KeyChunk:
    """Key rows and defects decided for one chunk."""

    npr_id: np.ndarray
    kpr_id: np.ndarray
    delivery: np.ndarray  # 0 older, 1 latest
    missing: np.ndarray  # chunk positions of NPR persons left out of the key
    conflict: np.ndarray  # chunk positions with an older conflicting mapping


def make_key(npr_persons: np.ndarray, npr_id: np.ndarray, kpr_id: np.ndarray,
             rng: np.random.Generator, *, rate: float, stale0: int) -> KeyChunk:
    """Key rows for the persons (chunk positions) that have NPR rows."""
    u = rng.random(len(npr_persons))
    missing = npr_persons[u < rate]
    inkey = npr_persons[u >= rate]
    conflict = inkey[rng.random(len(inkey)) < rate]
    ids_n = np.concatenate([npr_id[inkey], npr_id[conflict]])
    ids_k = np.concatenate([kpr_id[inkey], stale0 + np.arange(len(conflict), dtype=np.int64)])
    dlv = np.concatenate([np.ones(len(inkey), np.int8), np.zeros(len(conflict), np.int8)])
    return KeyChunk(ids_n, ids_k, dlv, missing, conflict)


def key_table(npr_id: np.ndarray, kpr_id: np.ndarray, delivery: np.ndarray) -> pa.Table:
    """The key file sorted by NPR key, older delivery first."""
    o = np.lexsort((delivery, npr_id))
    return pa.table({"npr_lnr": pa.array(npr_id[o]), "kpr_lnr": pa.array(kpr_id[o]),
                     "levering": pa.array(np.where(delivery[o] == 1, LATEST, OLDER).tolist())},
                    schema=KEY_SCHEMA)


def apply_conflicts(episodes: pa.Table, person: np.ndarray, n_persons: int,
                    rng: np.random.Generator, *, rate: float
                    ) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Flip sex / shift birth year on the NPR rows of a few persons.

    Returns the new table and the 0-based rows with a sex conflict and with a
    birth-year conflict.
    """
    sex_p = rng.random(n_persons) < rate
    by_p = rng.random(n_persons) < rate
    sex_rows = np.flatnonzero(sex_p[person])
    by_rows = np.flatnonzero(by_p[person])
    if len(sex_rows):
        kj = episodes.column("kjonn").to_numpy().copy()
        kj[sex_rows] = 3 - kj[sex_rows]
        episodes = episodes.set_column(episodes.schema.get_field_index("kjonn"), "kjonn",
                                       pa.array(kj, pa.int8()))
    if len(by_rows):
        fy = episodes.column("fodselsar").to_numpy().copy()
        fy[by_rows] += np.where(rng.random(len(by_rows)) < 0.5, -1, 1).astype(fy.dtype)
        episodes = episodes.set_column(episodes.schema.get_field_index("fodselsar"),
                                       "fodselsar", pa.array(fy, pa.int16()))
    return episodes, sex_rows, by_rows
