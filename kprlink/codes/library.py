"""The phenotype library: code lists shipped as JSON files in ``kprlink/codes/phenotypes``."""

from __future__ import annotations

from pathlib import Path

from kprlink.codes.codelist import CodeList
from kprlink.exceptions import SpecError

__all__ = ["list_phenotypes", "load_phenotype"]

_DIR = Path(__file__).with_name("phenotypes")


def list_phenotypes() -> list[str]:
    """Names of the shipped code lists.

    Examples
    --------
    >>> "dementia_icd10" in list_phenotypes()
    True
    """
    return sorted(p.stem for p in _DIR.glob("*.json"))


def load_phenotype(name: str) -> CodeList:
    """One shipped code list by name (see :func:`list_phenotypes`).

    Raises
    ------
    SpecError
        If no list has that name (``err.problems`` names the known ones).

    Examples
    --------
    >>> load_phenotype("dementia_icpc2").codes
    ('P70',)
    """
    path = _DIR / f"{name}.json"
    if not path.is_file():
        raise SpecError(f"no phenotype named {name!r}", [f"known: {list_phenotypes()}"])
    return CodeList.from_json(path)
