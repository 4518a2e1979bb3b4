"""NPR: specialist-care episodes (Norsk pasientregister).

One row per episode, diagnoses in wide columns ``tilstand_<n>_<k>``: condition
``n`` = 1 is the main condition, 2–20 secondary; slot ``k`` = 1, 2 holds a
dagger/asterisk pair of one condition (``tilstand_1_1 = G301``,
``tilstand_1_2 = F001``). Procedures in ``ncsp_*``, ``ncmp_*``, ``ncrp_*``.
Readers make the wide diagnoses long (episode, condition, slot, code,
main/secondary), keeping both codes of a pair on the same condition number.
"""

from __future__ import annotations

from kprlink.sources._contract import Column, Contract

SOURCE = "npr"

#: Level of care (omsorgsnivå), NPR-melding value set.
CARE_LEVELS = {1: "inpatient", 2: "day", 3: "outpatient", 8: "outpatient_for_inpatient"}

#: Sector ('1' TSB, '2' VOP, '3' BUP, '4' somatic, '5' rehabilitation; contract specialists).
SECTORS = frozenset({"1", "2", "3", "4", "5", "SOM", "PHV"})

#: Wide diagnosis columns: tilstand_<condition>_<slot>.
DIAGNOSIS_COLUMN_RE = r"^(?:tilstand|tilst)_?(\d{1,2})_(\d)$"
#: Procedure columns.
PROCEDURE_COLUMN_RE = r"^(ncsp|ncmp|ncrp)_?(\d{1,2})$"

EPISODES = Contract(
    source=SOURCE,
    file="episodes",
    description="One row per NPR episode (opphold/kontakt).",
    unique=("episode_id",),
    repeated={"diagnoses": DIAGNOSIS_COLUMN_RE, "procedures": PROCEDURE_COLUMN_RE},
    columns=(
        Column("npr_id", "int", True, ("lopenr", "LNR", "LOPENR", "npr_lnr", "NPRID", "pid"),
               description="NPR pseudonym of the person."),
        Column("episode_id", "int", False, ("episode_lnr", "episodeid", "kontakt_lnr"),
               description="Episode id; assigned from the row order when not delivered."),
        Column("year", "int", False, ("aar", "år")),
        Column("date_in", "date", True, ("inndato", "innDato", "dateinn", "INNDATO"),
               description="Start date."),
        Column("date_out", "date", True, ("utdato", "utDato", "dateutt", "UTDATO"),
               description="End date."),
        Column("time_in", "time", False, ("inntid", "INNTID")),
        Column("time_out", "time", False, ("uttid", "UTTID")),
        Column("care_level", "small", True, ("omsorgsniva", "omsorgsniva3", "OMSORGSNIVA"),
               values=frozenset(CARE_LEVELS), description="1 inpatient, 2 day, 3 outpatient."),
        Column("urgency", "small", False, ("innmateHast", "innmatehast"),
               values=frozenset({1, 2, 3, 4, 5}), missing_codes=(9, -1),
               description="1–3 acute, 4 planned, 5 transfer back."),
        Column("contact_type", "small", False, ("kontaktType", "kontakttype"),
               values=frozenset({1, 2, 3, 5, 6, 7, 12, 13, 14}), missing_codes=(9, -1)),
        Column("referral_type", "small", False, ("henvType", "henvtype"), missing_codes=(9, -1)),
        Column("referral_received", "date", False, ("mottaksdato", "mottaksDato"),
               description="Date the referral (henvisning) was received; planned care."),
        Column("institution_id", "str", False, ("institusjonid", "institusjonID")),
        Column("sector", "category", False, ("sektor",), values=SECTORS),
        Column("specialty", "str", False, ("fagomrade", "fagområde", "episodefag")),
        Column("municipality", "str", False, ("komnrhjem2", "komnrhjem", "kommuneNr"),
               missing_codes=("-1", "9999", "")),
        Column("district", "str", False, ("bydel2", "bydel")),
        Column("sex", "small", False, ("kjonn", "kjønn", "sex"), values=frozenset({1, 2}),
               missing_codes=(0, 9, -1)),
        Column("birth_year", "int", False, ("fodselsar", "fodselsaar", "fodtAar_DSF"),
               value_range=(1890, 2100), missing_codes=(-1, 0)),
        Column("birth_month", "small", False, ("fodt_mnd", "fodtMnd"),
               values=frozenset(range(1, 13)), missing_codes=(0, -1, 99),
               description="Birth month 1–12 (NPR ``fodt_mnd``, beside ``fodselsar``)."),
        Column("age_days", "int", False, ("alderIDager", "alderidager"),
               description="Age in days at the episode; children under one year only."),
        Column("stay_id", "int", False, ("aggrshoppID_Lnr", "AGGRSHOPPID"),
               description="Groups department episodes into one hospital stay."),
        Column("death_date", "date", False, ("doddato", "dødsdato")),
        Column("drg", "str", False, ("drg",)),
    ),
)

#: Long diagnosis table made from the wide ``tilstand_<n>_<k>`` columns.
DIAGNOSES_LONG = Contract(
    source=SOURCE,
    file="diagnoses",
    description="One row per diagnosis code of an episode (made long from tilstand_n_k).",
    unique=("episode_id", "condition", "slot"),
    columns=(
        Column("episode_id", "int", True),
        Column("npr_id", "int", True),
        Column("condition", "small", True, description="n in tilstand_n_k; 1 = main."),
        Column("slot", "small", True, description="k in tilstand_n_k; 1 or 2 (pair)."),
        Column("code", "code", True),
        Column("is_main", "bool", True, description="condition == 1."),
    ),
)

CONTRACTS = (EPISODES,)
