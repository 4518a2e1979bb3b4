"""Every contract a delivered file is matched against, and its Delivery field (internal).

Below the readers and the projection so that both can use it without importing
:mod:`~kprlink.sources.extract` (``readers -> validation -> delivery -> import``
stays one-way); :mod:`~kprlink.sources.extract` re-exports both names.
"""

from __future__ import annotations

from kprlink.sources import keyfile, kpr_ho, kpr_kuhr, npr, population
from kprlink.sources._contract import Contract

__all__ = ["DETECTABLE", "FIELD_OF"]

#: Contracts a file header is matched against (the legacy KUHR extract included).
DETECTABLE: tuple[Contract, ...] = (*kpr_kuhr.CONTRACTS, kpr_kuhr.LEGACY_KUHR,
                                    *kpr_ho.CONTRACTS, *npr.CONTRACTS,
                                    *keyfile.CONTRACTS, *population.CONTRACTS)
#: Delivery field of each contract's main frame.
FIELD_OF: dict[str, str] = {
    "kpr_kuhr.claims": "kuhr_claims", "kpr_kuhr.diagnoses": "kuhr_diagnoses",
    "kpr_kuhr.fees": "kuhr_fees", "kpr_kuhr.legacy": "kuhr_claims",
    "kpr_ho.services": "ho_services", "kpr_ho.functions": "ho_functions",
    "kpr_ho.indicators": "ho_indicators", "npr.episodes": "npr_episodes",
    "keyfile.key": "key", "population.population": "population",
}
