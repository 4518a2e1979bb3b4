"""SSB population tables (table 07459: population on 1 January by region, sex, age).

Accepted in the long export shape (``granularity_geo, location_code, age, sex,
calyear, pop_jan1_n``, as FHI's csdata and kprlink's synthetic delivery write
it) and in StatBank's own export names (``region, kjønn, alder, år``, value
column ``07459: Personer`` or ``Personer``).
"""

from __future__ import annotations

from kprlink.sources._contract import Column, Contract

SOURCE = "population"

POPULATION = Contract(
    source=SOURCE,
    file="population",
    description="Population on 1 January by place, sex and single year of age.",
    unique=("location_code", "year", "sex", "age"),
    columns=(
        Column("geo_level", "category", False, ("granularity_geo", "nivaa"),
               values=frozenset({"nation", "county", "municip", "ward", "georegion",
                                 "baregion", "mtregion", "notmainlandcounty",
                                 "notmainlandmunicip", "missingcounty", "missingmunicip",
                                 "missingward"})),
        Column("location_code", "str", True, ("region", "location", "kommune")),
        Column("age", "int", True, ("alder",), value_range=(0, 130),
               description="Single year of age (the top age is open-ended)."),
        Column("sex", "category", True, ("kjønn", "kjonn", "kjoenn"),
               values=frozenset({"female", "male", "total"}),
               description="female / male (1/2 and Kvinner/Menn are recoded)."),
        Column("year", "int", True, ("calyear", "år", "aar", "tid"), value_range=(1900, 2100),
               description="Year; population is on 1 January."),
        Column("population", "int", True, ("pop_jan1_n", "personer", "07459: Personer",
                                           "value", "antall"), value_range=(0, 1e8)),
        Column("imputed", "bool", False, ("imputed",)),
    ),
)

CONTRACTS = (POPULATION,)
