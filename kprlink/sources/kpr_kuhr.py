"""KPR-KUHR: GP, out-of-hours, physiotherapy … claims (from 1 July 2016).

Delivered as three files joined on the claim id ``enkeltregning_lnr``
(SKDE's KPR preparation macro, see ``docs/formats.md``):

* claims (``regningsfil``): one row per claim;
* diagnoses: one row per diagnosis code on a claim;
* fee codes (``takster``): one row per fee code on a claim.

Older deliveries used other names (``datotid``, ``hoveddiagnosetabell``,
``kjonn_navn``, ``kontakttypeId``) and the Helsedirektoratet KUHR extract was
one ``;``-separated file per year (``PASIENTLOPENUMMER``, ``MNED``,
``DIAGNOSER``); :data:`LEGACY_KUHR` describes that single-file variant.
"""

from __future__ import annotations

import datetime as dt

from kprlink.sources._contract import Column, Contract

SOURCE = "kpr_kuhr"

#: First day KPR-KUHR covers.
COVERAGE_START = dt.date(2016, 7, 1)

#: ``tjenestetype`` labels as delivered (SKDE macro).
SERVICE_TYPES = frozenset(
    {
        "Fastlege",
        "Legevakt",
        "Fysioterapeut privat",
        "Fysioterapeut kommunal",
        "Kiropraktor",
        "Tannlege",
        "Kjeveortoped",
        "Tannpleier",
        "Helsestasjon",
        "Logoped",
        "Ridefysioterapi",
        "Audiopedagog",
        "Ortoptist",
        "Ukjent",
    }
)

#: ``diagnoseTabell`` values as delivered.
DIAGNOSIS_TABLES = frozenset(
    {"ICPC-2", "ICPC-2B", "ICD-10", "ICD-DA-3", "ICD-DA-2", "Akser i BUP-klassifikasjon"}
)

CLAIMS = Contract(
    source=SOURCE,
    file="claims",
    description="One row per KUHR claim (regning).",
    unique=("claim_id",),
    columns=(
        Column("kpr_id", "int", True, ("kpr_lnr", "KPR_lnr", "lopenr_kpr", "PASIENTLOPENUMMER"),
               description="KPR pseudonym of the person."),
        Column("claim_id", "int", True, ("enkeltregning_lnr", "regning_lnr"),
               description="Claim id; joins diagnoses and fee codes."),
        Column("year", "int", False, ("aar", "år"), value_range=(2016, 2100),
               description="Year of the claim."),
        Column("date", "date", True, ("dato", "kontaktdato", "datotid", "MNED"),
               description="Date of the contact."),
        Column("time", "time", False, ("klokkeslett", "tid"),
               description="Time of the contact, HH:MM."),
        Column("sex", "small", False, ("kjonn", "kjønn"), values=frozenset({1, 2}),
               missing_codes=(-1, 0, 9),
               description="1 male, 2 female; -1/0/9 unknown."),
        Column("sex_corrected", "small", False, ("kjonnK",), values=frozenset({1, 2}),
               missing_codes=(-1, 0, 9), description="FHI's corrected sex."),
        Column("sex_label", "str", False, ("kjonnNavn", "kjonn_navn"),
               description="Sex as text."),
        Column("age", "int", False, ("alder",), value_range=(0, 125), missing_codes=(-1,),
               description="Age at the contact, as delivered."),
        Column("birth_year", "int", True, ("fodselsaar", "fodselsar", "fødselsår"),
               value_range=(1890, 2100), missing_codes=(-1, 0),
               description="Birth year."),
        Column("municipality", "str", True, ("kommuneNr", "kommunenr", "komnr"),
               missing_codes=("-1", "9999", ""),
               description="Municipality of residence (4 digits)."),
        Column("district", "str", False, ("bydel",), missing_codes=("-1", ""),
               description="City district (bydel)."),
        Column("municipality_fallback", "str", False, ("kommunenrPB",),
               missing_codes=("-1", ""), description="Fallback municipality."),
        Column("service_type", "category", True, ("tjenestetype", "tjenestetypenavn"),
               values=SERVICE_TYPES, description="Service type label."),
        Column("practice_municipality", "str", False, ("praksiskommune",),
               missing_codes=("-1", ""), description="Municipality of the practice."),
        Column("death_date", "date", False, ("doddato", "dødsdato", "dod_dato"),
               description="Date of death, if dead."),
        Column("refund", "float", False, ("refusjonutbetaltbeløp", "refusjonutbetaltbelop"),
               description="Refund paid (NOK)."),
        Column("copayment", "float", False, ("egenandelpasient",),
               description="Patient co-payment (NOK)."),
        Column("exemption_code", "str", False, ("fritakskode",),
               description="Exemption code."),
    ),
)

DIAGNOSES = Contract(
    source=SOURCE,
    file="diagnoses",
    description="One row per diagnosis code on a claim.",
    unique=("claim_id", "position"),
    columns=(
        Column("year", "int", False, ("aar", "år")),
        Column("claim_id", "int", True, ("enkeltregning_lnr", "regning_lnr")),
        Column("code", "code", True, ("diagnoseKode", "diagnosekode", "DIAGNOSER"),
               description="Diagnosis code, normalised (original kept in code_original)."),
        Column("system", "category", True,
               ("diagnoseTabell", "hoveddiagnosetabell", "DIAGNOSE_KODEVERK"),
               values=DIAGNOSIS_TABLES, description="Code system as delivered."),
        Column("is_main", "bool", False, ("erHoveddiagnose", "hoveddiagnose"),
               description="True for the claim's main diagnosis."),
        Column("position", "int", False, ("kodenr", "diagnose_nr"),
               description="Position in the claim's list (1 = first)."),
    ),
)

FEES = Contract(
    source=SOURCE,
    file="fees",
    description="One row per fee code (takst) on a claim.",
    columns=(
        Column("year", "int", False, ("aar", "år")),
        Column("claim_id", "int", True, ("enkeltregning_lnr", "regning_lnr")),
        Column("fee_code", "code", True, ("takstkode", "takst", "NORAKOKODE"),
               description="Fee code, lower-case as in the tariff (2ad, 11ak; L36 is read as l36)."),
        Column("n_fee", "int", False, ("KPRantall", "antall"), value_range=(0, 1000),
               description="Repetitions of the fee code."),
        Column("contact_type_fhi", "small", False, ("kontakttype", "kontakttypeId",
                                                     "kuhrKontakttypeId"),
               missing_codes=(-1,), description="FHI's own contact type id."),
        Column("contact_type_fhi_label", "str", False, ("kontakttypenavn",)),
    ),
)

#: The older single-file KUHR extract (one ``;`` file per year; MNED is YYYY-MM;
#: DIAGNOSER holds several codes in one string). Readers split it into the
#: three canonical files.
LEGACY_KUHR = Contract(
    source=SOURCE,
    file="legacy",
    description="Older one-file-per-year KUHR extract (Helsedirektoratet).",
    columns=(
        Column("kpr_id", "int", True, ("PASIENTLOPENUMMER",)),
        Column("month", "str", True, ("MNED",), description="YYYY-MM"),
        Column("codes", "str", False, ("DIAGNOSER",),
               description="Diagnosis codes separated by spaces/commas/semicolons."),
        Column("system", "category", False, ("DIAGNOSE_KODEVERK",)),
        Column("fee_codes", "str", False, ("NORAKOKODE",)),
        Column("ncrp_codes", "str", False, ("NCRPKODE",)),
    ),
)

CONTRACTS = (CLAIMS, DIAGNOSES, FEES)
