"""Age, age bands, places and border changes, population denominators, care measures."""

from __future__ import annotations

from kprlink.demography.age import AgeBands, add_age, add_age_band, age_at
from kprlink.demography.care import (
    FUNCTION_GROUPS,
    REGISTER_START,
    CareStaircase,
    CareSteps,
    NeedScoring,
    care_step_at,
    iplos_function_groups,
    need_level,
)
from kprlink.demography.places import (
    Places,
    add_place_names,
    harmonise_municipalities,
    municipality_location_code,
    plain_municipality_code,
    read_place_names,
    read_places,
)
from kprlink.demography.population import population_denominators
from kprlink.demography.sex import add_sex_label

__all__: list[str] = [
    "FUNCTION_GROUPS",
    "REGISTER_START",
    "CareStaircase",
    "CareSteps",
    "NeedScoring",
    "care_step_at",
    "iplos_function_groups",
    "need_level",
    "AgeBands",
    "Places",
    "add_age",
    "add_place_names",
    "add_sex_label",
    "add_age_band",
    "age_at",
    "harmonise_municipalities",
    "municipality_location_code",
    "plain_municipality_code",
    "population_denominators",
    "read_place_names",
    "read_places",
]
