"""The NPR↔KPR key file (nøkkel): pairs ``npr_lnr`` with ``kpr_lnr`` per delivery.

One NPR key can map to different KPR keys across deliveries (SKDE flags these
``nonmatch``); linkage (:mod:`kprlink.linkage`) detects and reports them.
"""

from __future__ import annotations

from kprlink.sources._contract import Column, Contract

SOURCE = "keyfile"

KEY = Contract(
    source=SOURCE,
    file="key",
    description="One row per NPR–KPR key pair in one delivery.",
    columns=(
        Column("npr_id", "int", True, ("npr_lnr", "NPR_lnr", "lopenr_npr", "LNR")),
        Column("kpr_id", "int", True, ("kpr_lnr", "KPR_lnr", "lopenr_kpr")),
        Column("delivery", "str", False, ("levering", "nokkel", "leveranse"),
               description="Delivery / key-file name, e.g. nokkel_2017_2021_m21t3."),
    ),
)

CONTRACTS = (KEY,)
