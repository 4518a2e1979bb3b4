"""A whole delivery: every file of every source, read to the canonical schema.

``read_delivery(path)`` finds the files in a delivery folder (top-level files
only; sub-folders such as the synthetic generator's ``truth/`` are ignored),
detects which contract each file follows from its header (aliases included),
reads and validates them, and returns a :class:`Delivery`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from kprlink.sources.validation import ValidationReport

#: Field of :class:`Delivery` that holds each contract's canonical frame.
FIELD_BY_CONTRACT: dict[str, str] = {
    "kpr_kuhr.claims": "kuhr_claims",
    "kpr_kuhr.diagnoses": "kuhr_diagnoses",
    "kpr_kuhr.fees": "kuhr_fees",
    "kpr_ho.services": "ho_services",
    "kpr_ho.functions": "ho_functions",
    "kpr_ho.indicators": "ho_indicators",
    "npr.episodes": "npr_episodes",
    "keyfile.key": "key",
    "population.population": "population",
}


@dataclass(frozen=True)
class Delivery:
    """Canonical frames of one delivery (``None`` where a file is absent).

    Attributes
    ----------
    path : Path
        The delivery folder (or single file).
    kuhr_claims, kuhr_diagnoses, kuhr_fees : DataFrame or None
        KPR-KUHR claims, diagnoses and fee codes (see ``kprlink.sources.kpr_kuhr``).
    ho_services, ho_functions, ho_indicators : DataFrame or None
        KPR helse og omsorg service periods, function scores, indicators.
    npr_episodes : DataFrame or None
        NPR episodes without the wide diagnosis/procedure columns.
    npr_diagnoses : DataFrame or None
        NPR diagnoses made long (episode_id, npr_id, condition, slot, code, is_main).
    npr_procedures : DataFrame or None
        NPR procedures made long (episode_id, npr_id, system, position, code).
    key : DataFrame or None
        NPR↔KPR key file (npr_id, kpr_id, delivery).
    population : DataFrame or None
        SSB 07459 population table.
    files : DataFrame
        One row per file found: file, contract, format, encoding, separator,
        rows, sha256.
    report : ValidationReport
        Rows kept, repaired and excluded per file and reason.
    """

    path: Path
    files: pd.DataFrame
    report: ValidationReport
    kuhr_claims: pd.DataFrame | None = None
    kuhr_diagnoses: pd.DataFrame | None = None
    kuhr_fees: pd.DataFrame | None = None
    ho_services: pd.DataFrame | None = None
    ho_functions: pd.DataFrame | None = None
    ho_indicators: pd.DataFrame | None = None
    npr_episodes: pd.DataFrame | None = None
    npr_diagnoses: pd.DataFrame | None = None
    npr_procedures: pd.DataFrame | None = None
    key: pd.DataFrame | None = None
    population: pd.DataFrame | None = None

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every present canonical frame by field name."""
        skip = {"path", "files", "report"}
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in skip and getattr(self, f.name) is not None
        }

    def __repr__(self) -> str:
        parts = [f"{k}={len(v):,}" for k, v in self.frames().items()]
        return f"<Delivery {self.path}: " + ", ".join(parts) + ">"
