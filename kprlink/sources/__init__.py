"""Register sources: column contracts, aliases, value sets and readers.

One module per source: :mod:`~kprlink.sources.kpr_kuhr`,
:mod:`~kprlink.sources.kpr_ho`, :mod:`~kprlink.sources.npr`,
:mod:`~kprlink.sources.keyfile`, :mod:`~kprlink.sources.population`.
Reading: :func:`read_extract` (one file), :func:`read_delivery` (a folder),
:func:`import_delivery` (a folder to Parquet, once), :class:`ImportedDelivery`
(an imported folder, frames loaded on use).
"""

from __future__ import annotations

from kprlink.sources import keyfile, kpr_ho, kpr_kuhr, npr, population
from kprlink.sources._contract import Column, Contract
from kprlink.sources.canonical import normalise_codes
from kprlink.sources.delivery import Delivery, read_delivery
from kprlink.sources.extract import ExtractResult, detect_contract, read_extract
from kprlink.sources.importing import import_delivery
from kprlink.sources.lazy import ImportedDelivery
from kprlink.sources.validation import MissingRequiredColumnsError, ValidationReport

#: Every file contract, keyed by ``"source.file"``.
CONTRACTS: dict[str, Contract] = {
    c.name: c
    for mod in (kpr_kuhr, kpr_ho, npr, keyfile, population)
    for c in mod.CONTRACTS
}

__all__ = [
    "Column",
    "Contract",
    "CONTRACTS",
    "Delivery",
    "ExtractResult",
    "ImportedDelivery",
    "MissingRequiredColumnsError",
    "ValidationReport",
    "detect_contract",
    "import_delivery",
    "normalise_codes",
    "read_delivery",
    "read_extract",
]
