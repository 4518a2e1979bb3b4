"""kprlink.codes: code systems, code lists, the phenotype library and contact types."""

from __future__ import annotations

from kprlink.codes.codelist import CodeList
from kprlink.codes.contacts import CONTACT_TYPES, FEE_CONTACT_TABLE, contact_types
from kprlink.codes.library import list_phenotypes, load_phenotype
from kprlink.codes.systems import SYSTEMS, normalise_code, valid_code

__all__ = ["CodeList", "CONTACT_TYPES", "FEE_CONTACT_TABLE", "SYSTEMS", "contact_types",
           "list_phenotypes", "load_phenotype", "normalise_code", "valid_code"]
