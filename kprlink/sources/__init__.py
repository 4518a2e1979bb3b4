"""Register sources: column contracts, aliases, value sets and readers.

One module per source: :mod:`~kprlink.sources.kpr_kuhr`,
:mod:`~kprlink.sources.kpr_ho`, :mod:`~kprlink.sources.npr`,
:mod:`~kprlink.sources.keyfile`, :mod:`~kprlink.sources.population`.
"""

from __future__ import annotations

from kprlink.sources import keyfile, kpr_ho, kpr_kuhr, npr, population
from kprlink.sources._contract import Column, Contract

#: Every file contract, keyed by ``"source.file"``.
CONTRACTS: dict[str, Contract] = {
    c.name: c
    for mod in (kpr_kuhr, kpr_ho, npr, keyfile, population)
    for c in mod.CONTRACTS
}

__all__ = ["Column", "Contract", "CONTRACTS"]
