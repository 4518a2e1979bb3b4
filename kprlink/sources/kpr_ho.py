"""KPR helse og omsorg (formerly IPLOS): municipal health and care services.

Three files (no public analysis code names these columns, so the canonical
contract follows the concepts Helsedirektoratet documents and the alias lists
stay open; see ``docs/formats.md``):

* service periods: person, service code (1–29; old codes 12 and 13 recoded to
  29 as from 2019), decision date, start and end dates, decided hours per week
  (at most 168; monthly hours divided by 4), municipality;
* functional assessments: date, variable, score 1–5 or 9 (not relevant);
* indicators: medication review, nutrition screening / risk / plan,
  round-the-clock care, individual plan, coordinator (per person and date).
"""

from __future__ import annotations

import datetime as dt

from kprlink.sources._contract import Column, Contract

SOURCE = "kpr_ho"

#: First day KPR helse og omsorg covers (IPLOS 2007–2017 before it).
COVERAGE_START = dt.date(2017, 1, 1)

#: Service codes (Helsedirektoratet, Kommunale helse- og omsorgstjenester 2021, ch. 1.1).
#: Codes marked [E] are kprlink's reading of later IPLOS/KPR code lists, not in
#: that table: 16 re-/habilitation outside institution, 23 municipal acute
#: 24-hour stay (KAD).
SERVICE_CODES: dict[int, str] = {
    1: "Praktisk bistand – daglige gjøremål",
    2: "Praktisk bistand – opplæring",
    3: "Praktisk bistand – brukerstyrt personlig assistanse (BPA)",
    4: "Dagaktivitetstilbud",
    5: "Matombringing",
    6: "Trygghetsalarm / velferdsteknologi",
    7: "Avlastning utenfor institusjon",
    8: "Avlastning i institusjon",
    9: "Støttekontakt",
    11: "Omsorgsstønad",
    14: "Bruk av tvang",
    15: "Helsetjenester i hjemmet",
    16: "Re-/habilitering utenfor institusjon [E]",
    17: "Dagopphold i institusjon",
    18: "Tidsbegrenset opphold – utredning/behandling",
    19: "Tidsbegrenset opphold – habilitering/rehabilitering",
    20: "Tidsbegrenset opphold – annet",
    21: "Langtidsopphold i institusjon",
    22: "Nattopphold i institusjon",
    23: "Kommunalt døgnopphold for øyeblikkelig hjelp (KAD) [E]",
    29: "Bolig kommunen disponerer til helse- og omsorgsformål",
}

#: Old codes recoded at read time (12 and 13 replaced by 29 from 2019).
SERVICE_RECODE: dict[int, int] = {12: 29, 13: 29}

#: Sub-codes of code 6 (welfare technology) and 8 (respite), kprlink's convention
#: (``service_subcode``); 08.01/08.02 per the HL7Norway IPLOS CodeSystem.
SERVICE_SUBCODES: dict[str, str] = {
    "06.01": "Trygghetsalarm",
    "06.02": "Lokaliseringsteknologi (GPS)",
    "06.03": "Digitalt tilsyn",
    "06.04": "Elektronisk medisineringsstøtte",
    "08.01": "Avlastning i institusjon – rullerende",
    "08.02": "Avlastning i institusjon – ikke rullerende",
}

#: IPLOS functional variables (scored 1–5, 9 = not relevant).
FUNCTION_VARIABLES: dict[str, str] = {
    "sosial_deltakelse": "Sosial deltakelse",
    "beslutninger": "Beslutninger i dagliglivet",
    "bevege_innendors": "Bevege seg innendørs",
    "bevege_utendors": "Bevege seg utendørs",
    "husarbeid": "Alminnelig husarbeid",
    "skaffe_varer": "Skaffe seg varer og tjenester",
    "lage_mat": "Lage mat",
    "ivareta_helse": "Ivareta egen helse",
    "personlig_hygiene": "Personlig hygiene",
    "paakledning": "Av- og påkledning",
    "spise": "Spise",
    "toalett": "Toalett",
    "hukommelse": "Hukommelse",
    "kommunikasjon": "Kommunikasjon",
    "styre_atferd": "Styre atferd",
    "syn": "Syn",
    "horsel": "Hørsel",
}

SCORE_NOT_RELEVANT = 9

SERVICES = Contract(
    source=SOURCE,
    file="services",
    description="One row per service period (vedtak) of a person.",
    columns=(
        Column("kpr_id", "int", True, ("kpr_lnr", "KPR_lnr", "lopenr", "brukerid")),
        Column("year", "int", False, ("aar", "år", "rapporteringsaar")),
        Column("service_code", "small", True, ("tjeneste", "tjenestekode", "tjenesteKode"),
               values=frozenset(SERVICE_CODES) | frozenset(SERVICE_RECODE),
               description="Service code 1–29 after recoding old codes (12, 13 → 29)."),
        Column("service_subcode", "str", False, ("undertjeneste", "tjeneste_underkode"),
               description="Sub-code, e.g. 06.02 GPS, 08.01 rolling respite."),
        Column("decision_date", "date", False, ("vedtaksdato", "vedtakdato")),
        Column("start_date", "date", True, ("fradato", "fra_dato", "tjenestestart")),
        Column("end_date", "date", False, ("tildato", "til_dato", "tjenesteslutt"),
               description="Empty while the service is ongoing."),
        Column("hours_per_week", "float", False, ("timer_per_uke", "timerPerUke", "timer_uke"),
               value_range=(0, 168)),
        Column("municipality", "str", True, ("kommuneNr", "kommunenr", "komnr"),
               missing_codes=("-1", "9999", "")),
        Column("sex", "small", False, ("kjonn", "kjønn"), values=frozenset({1, 2}),
               missing_codes=(-1, 0, 9)),
        Column("birth_year", "int", False, ("fodselsaar", "fodselsar"),
               value_range=(1890, 2100), missing_codes=(-1, 0)),
        Column("death_date", "date", False, ("doddato", "dødsdato")),
    ),
)

FUNCTIONS = Contract(
    source=SOURCE,
    file="functions",
    description="One row per functional score of a person at an assessment.",
    unique=("kpr_id", "assessment_date", "variable"),
    columns=(
        Column("kpr_id", "int", True, ("kpr_lnr", "KPR_lnr", "lopenr", "brukerid")),
        Column("assessment_date", "date", True, ("vurderingsdato", "dato", "kartleggingsdato")),
        Column("variable", "category", True, ("funksjonsvariabel", "variabel"),
               values=frozenset(FUNCTION_VARIABLES)),
        Column("score", "small", True, ("skaar", "skår", "verdi"),
               values=frozenset({1, 2, 3, 4, 5, 9}),
               description="1 (no limitation) … 5 (fully dependent); 9 not relevant."),
        Column("municipality", "str", False, ("kommuneNr", "kommunenr"),
               missing_codes=("-1", "9999", "")),
    ),
)

INDICATORS = Contract(
    source=SOURCE,
    file="indicators",
    description="One row per person and reporting date with the quality indicators.",
    columns=(
        Column("kpr_id", "int", True, ("kpr_lnr", "KPR_lnr", "lopenr", "brukerid")),
        Column("date", "date", True, ("dato", "rapporteringsdato")),
        Column("municipality", "str", False, ("kommuneNr", "kommunenr"),
               missing_codes=("-1", "9999", "")),
        Column("medication_review", "bool", False,
               ("legemiddelgjennomgang", "legemiddelgjennomgang_12mnd"), missing_codes=(9, -1)),
        Column("nutrition_screening", "bool", False, ("ernaering_vurdert", "ernaeringsstatus"),
               missing_codes=(9, -1)),
        Column("nutrition_risk", "bool", False, ("ernaering_risiko",), missing_codes=(9, -1)),
        Column("nutrition_plan", "bool", False, ("ernaering_plan", "ernaeringsplan"),
               missing_codes=(9, -1)),
        Column("round_the_clock", "bool", False, ("heldogn", "heldognsomsorg"),
               missing_codes=(9, -1)),
        Column("individual_plan", "bool", False, ("individuell_plan", "ip"),
               missing_codes=(9, -1)),
        Column("coordinator", "bool", False, ("koordinator",), missing_codes=(9, -1)),
    ),
)

CONTRACTS = (SERVICES, FUNCTIONS, INDICATORS)
