"""Code systems: names, normalisation and the shape of a valid code.

ICD-10 codes are written without the dot, upper case (``F001``; Norwegian
5-character extensions such as ``S7200`` are allowed), ICPC-2 codes are a
chapter letter and two digits (``P70``), ICPC-2B codes are the ICPC-2 code plus
four digits (7 characters, ``P700001``), and KUHR fee codes (takster) are
lower case (``2ad``, ``11ak``, ``l36d``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["SYSTEMS", "normalise_code", "valid_code"]

#: Code systems a :class:`~kprlink.codes.CodeList` may carry, with the full-code pattern.
SYSTEMS: dict[str, re.Pattern[str]] = {
    "ICD-10": re.compile(r"[A-Z][0-9]{2}[0-9A-Z]{0,3}"),
    "ICPC-2": re.compile(r"[A-Z][0-9]{2}"),
    "ICPC-2B": re.compile(r"[A-Z][0-9]{2}[0-9]{4}"),
    "fee": re.compile(r"[a-z0-9]{1,8}"),
}

#: Systems whose codes refine another system's codes (a list in the key also
#: matches event codes of the values).
REFINED_BY: dict[str, tuple[str, ...]] = {"ICPC-2": ("ICPC-2", "ICPC-2B")}

_STRIP = re.compile(r"[^0-9A-Za-z]")


def normalise_code(code: str, system: str) -> str:
    """One code as stored in canonical frames: no dots or spaces; fee codes lower case.

    Examples
    --------
    >>> normalise_code(" s72.0 ", "ICD-10"), normalise_code("2AD", "fee")
    ('S720', '2ad')
    """
    text = _STRIP.sub("", str(code))
    return text.lower() if system == "fee" else text.upper()


def valid_code(code: str, system: str, *, partial: bool = False) -> bool:
    """Whether a normalised `code` has the shape of a `system` code.

    With ``partial=True`` a leading part of a code (a prefix) is accepted too.

    Examples
    --------
    >>> valid_code("F00", "ICD-10"), valid_code("P7", "ICPC-2")
    (True, False)
    >>> valid_code("P7", "ICPC-2", partial=True)
    True
    """
    pattern = SYSTEMS[system]
    if pattern.fullmatch(code):
        return True
    if not partial or not code:
        return False
    template = _TEMPLATE[system]
    return len(code) < len(template) and bool(pattern.fullmatch(code + template[len(code):]))


_TEMPLATE = {"ICD-10": "A00", "ICPC-2": "A00", "ICPC-2B": "A000000", "fee": "a"}


def distinct_codes(codes: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Distinct non-missing codes of `codes` and, per row, the index into them (-1 = NA)."""
    if isinstance(codes.dtype, pd.CategoricalDtype):
        return np.asarray(codes.cat.categories, dtype=object), codes.cat.codes.to_numpy()
    codes_idx, uniques = pd.factorize(codes, use_na_sentinel=True)
    return np.asarray(uniques, dtype=object), codes_idx
