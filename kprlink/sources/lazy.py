"""An imported delivery whose frames load when first used: :class:`ImportedDelivery`.

A study on a national delivery needs a few frames, and of those only the rows of
its cohort's persons. ``ImportedDelivery(folder)`` reads the stored report at
once and each frame on first access; after :meth:`ImportedDelivery.restrict`,
person-level frames hold only the rows of the given persons (claims, episodes
and care records by person id; diagnoses and fee codes through their claims;
the key by either id; the population table whole).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink._unique import unique

__all__ = ["ImportedDelivery"]

#: Frames and the person id that restricts them (None: never restricted).
_PERSON_COL: dict[str, str | None] = {
    "kuhr_claims": "kpr_id", "kuhr_diagnoses": "claim_id", "kuhr_fees": "claim_id",
    "ho_services": "kpr_id", "ho_functions": "kpr_id", "ho_indicators": "kpr_id",
    "npr_episodes": "npr_id", "npr_diagnoses": "npr_id", "npr_procedures": "npr_id",
    "key": None, "population": None,
}


class ImportedDelivery:
    """A folder written by :func:`kprlink.sources.import_delivery`, read lazily.

    Attributes ``kuhr_claims`` … ``population`` load on first access (None when
    not delivered); ``path``, ``files`` and ``report`` as in :class:`Delivery`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from kprlink.sources import import_delivery
    >>> src = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (src / "nokkel.csv").write_text("npr_lnr;kpr_lnr;levering\\n1;11;d1\\n2;12;d1\\n")
    >>> dest = pathlib.Path(tempfile.mkdtemp()) / "imp"
    >>> _ = import_delivery(src, dest)
    >>> d = ImportedDelivery(dest)
    >>> d.kuhr_claims is None, len(d.key)
    (True, 2)
    >>> len(d.restrict(kpr_ids=[12], npr_ids=[]).key)  # the key is never restricted
    2
    """

    def __init__(self, path: str | Path, *, engine: Any = None) -> None:
        from kprlink.sources.delivery import read_delivery

        self.path = Path(path)
        #: where a partitioned import's restricted frames are read (see kprlink._engine)
        self.engine = engine
        stub = read_delivery(self.path, columns={})
        self.files, self.report = stub.files, stub.report
        self._loaded: dict[str, pd.DataFrame | None] = {}
        self._persons: dict[str, np.ndarray] | None = None
        self._folder: Any = None

    def restrict(self, *, kpr_ids: Any, npr_ids: Any) -> ImportedDelivery:
        """Keep only these persons' rows in person-level frames (loaded from now on)."""
        def ids(v: Any) -> np.ndarray:
            arr = pd.array(pd.Series(v), dtype="Int64")
            return unique(arr[~arr.isna()].to_numpy(np.int64))

        self._persons = {"kpr_id": ids(kpr_ids), "npr_id": ids(npr_ids)}
        self._loaded.clear()
        return self

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in _PERSON_COL:
            raise AttributeError(name)
        if name not in self._loaded:
            self._loaded[name] = self._load(name)
        return self._loaded[name]

    def _load(self, name: str) -> pd.DataFrame | None:
        from kprlink.sources._arrow_ids import _ids, _member
        from kprlink.sources._folder import _Folder, _frame
        from kprlink.sources.delivery import read_delivery

        if self._folder is None:
            self._folder = _Folder(self.path)
        col = _PERSON_COL[name]
        if name not in self._folder.files:
            return None
        if self._persons is None or col is None:
            return getattr(read_delivery(self.path, columns={name: None}), name)
        if col == "claim_id":
            claims = self.kuhr_claims
            wanted = (np.zeros(0, np.int64) if claims is None else
                      pd.array(claims["claim_id"], dtype="Int64").to_numpy(np.int64,
                                                                             na_value=-1))
        else:
            wanted = self._persons[col]
        from kprlink.sources._partition import partitions

        folders = partitions(self.path)
        if folders:
            return self._load_parts(name, col, wanted, folders)
        table = self._folder.read(name, None)
        rows = np.flatnonzero(_member(_ids(table[col]), wanted))
        return _frame(table, rows, self._folder.schema(name))

    def _load_parts(self, name: str, col: str, wanted: np.ndarray, folders: list[Path]
                    ) -> pd.DataFrame:
        """The rows of `wanted` from every partition, in the whole frame's row order."""
        import pyarrow as pa

        from kprlink._engine import engine_from
        from kprlink.sources._partition import ROW_COL, part_rows
        from kprlink.sources.delivery import _to_frame

        schema = self._folder.schema(name)
        wanted = unique(wanted[wanted >= 0])
        with engine_from(self.engine) as eng:
            parts = eng.gather(eng.map(part_rows, [str(f) for f in folders], name, col,
                                       wanted, schema))
        table = pa.concat_tables(parts)
        table = table.take(pa.array(np.argsort(table[ROW_COL].to_numpy(), kind="stable")))
        return _to_frame(table.drop_columns([ROW_COL]))

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every present frame by field name (loads them all)."""
        return {n: f for n in _PERSON_COL if (f := getattr(self, n)) is not None}

    def __repr__(self) -> str:
        return f"<ImportedDelivery {self.path} (frames load on use)>"
