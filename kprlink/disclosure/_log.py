"""The per-table release record, shared by suppression results and release sessions.

Lives below both :mod:`kprlink.disclosure.secondary` and
:mod:`kprlink.disclosure.release`, so that neither imports the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _version() -> str:
    from kprlink import __version__

    return str(__version__)


def _jsonable(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating | float):
        f = float(v)
        return None if np.isnan(f) else ("inf" if np.isinf(f) else f)
    if isinstance(v, np.bool_):
        return bool(v)
    return v if isinstance(v, int | bool | str) else str(v)


def table_log(res: Any, *, name: str | None = None) -> dict[str, Any]:
    """JSON-able record of one :class:`SuppressionResult` (no hidden counts)."""
    dims = list(res.dims)
    released = res.released
    table = res.table
    frame = pd.DataFrame({d: table[d].astype(str).to_numpy() for d in dims})
    frame["value"] = pd.Series([_jsonable(v) for v in released[res.count_col].tolist()],
                               dtype=object)
    frame["status"] = table["status"].astype(str).to_numpy()
    frame["reason"] = table["reason"].astype(str).to_numpy()
    cells: list[dict[str, Any]] = frame.to_dict("records")
    if res.audit is not None and len(res.audit):
        aud = pd.DataFrame({d: res.audit[d].astype(str).to_numpy() for d in dims})
        keys = list(map(tuple, aud.to_numpy().tolist()))
        found = dict(zip(keys, zip(res.audit["lower"].tolist(), res.audit["upper"].tolist(),
                                   res.audit["ok"].tolist())))
        for entry in cells:
            if entry["status"] != "published":
                lo, up, ok = found[tuple(entry[d] for d in dims)]
                entry["audit_lo"] = _jsonable(lo)
                entry["audit_up"] = _jsonable(up)
                entry["audit_ok"] = bool(ok)
    return {
        "name": name or " x ".join(dims),
        "kprlink_version": _version(),
        "input_digest": res.input_digest,
        "dims": dims,
        "count_col": res.count_col,
        "hierarchies": {d: {str(k): str(v) for k, v in h.items()}
                        for d, h in res.hierarchies.items()},
        "rule": {"name": res.rule.name, "digest": res.rule.digest, **res.rule.to_dict()},
        "method": res.method,
        "audited": res.audit is not None,
        "release_ok": bool(res.ok),
        "refusal_reasons": res.problems(),
        "n_cells": len(table),
        "n_by_status": {s: int((table["status"] == s).sum())
                        for s in ("published", "primary", "secondary")},
        "cells": cells,
    }
