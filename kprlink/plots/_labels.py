"""Axis labels, display names and the natural order of category labels in figures."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = ["axis_label", "display_name", "natural_order", "roman_value"]

#: The care staircase (omsorgstrappen), lowest step first, with the two
#: labels the dementia step puts below it.
CARE_STAIRCASE = ("no municipal service", "none", "other services only", "safety alarm",
                  "practical help", "home health care", "care housing", "short-term stay",
                  "long-term stay")

_AXIS_LABELS = {
    "share_pct": "Percent",
    "share": "Percent",
    "n": "Persons",
    "age_band": "Age (years)",
    "sex": "Sex",
    "chapter": "ICD-10 chapter of the main diagnosis",
    "care_step": "Highest step of the care staircase",
    "county": "County",
    "municipality": "Municipality",
    "registered_in": "Registered in",
    "technology": "Welfare technology",
    "indicator": "Indicator",
    "change": "Change from admission to discharge",
    "function_group": "IPLOS function group",
}
_SEX_NAMES = {"female": "Women", "male": "Men", "1": "Men", "2": "Women"}
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50}
_CHAPTER = re.compile(r"^([IVXL]+)\b")
_AGE = re.compile(r"^(under\s*\d+|<\s*\d+|\d+\s*[-–]\s*\d+|\d+\s*\+)$", re.IGNORECASE)


def roman_value(text: str) -> int | None:
    """Value of a leading Roman numeral (``"XIV Genitourinary"`` -> 14), else None.

    Examples
    --------
    >>> [roman_value(t) for t in ["IV Endocrine", "IX Circulatory", "XXII Special", "no"]]
    [4, 9, 22, None]
    """
    m = _CHAPTER.match(text.strip())
    if not m:
        return None
    digits = [_ROMAN[c] for c in m.group(1)]
    return sum(-d if i + 1 < len(digits) and d < digits[i + 1] else d
               for i, d in enumerate(digits))


def _age_lower(text: str) -> float:
    t = text.strip().lower()
    if t.startswith(("under", "<")):
        return -1.0
    return float(re.match(r"\d+", t).group())  # type: ignore[union-attr]


def natural_order(labels: Sequence[str]) -> list[str]:
    """Labels in their natural order, where one is recognised.

    ICD-10 chapters by number (labels that are not chapters keep their place
    after them), age bands by lower age, the care staircase lowest step first;
    anything else keeps the order given.

    Examples
    --------
    >>> natural_order(["IV Endocrine", "IX Circulatory", "V Mental", "no hospital episode"])
    ['IV Endocrine', 'V Mental', 'IX Circulatory', 'no hospital episode']
    >>> natural_order(["90+", "Under 60", "60-64"])
    ['Under 60', '60-64', '90+']
    >>> natural_order(["long-term stay", "safety alarm", "no municipal service"])
    ['no municipal service', 'safety alarm', 'long-term stay']
    """
    labels = [str(v) for v in labels]
    chapters = [v for v in labels if roman_value(v) is not None]
    if chapters and len(chapters) >= len(labels) / 2:
        rest = [v for v in labels if roman_value(v) is None]
        return sorted(chapters, key=lambda v: roman_value(v) or 0) + rest
    if labels and all(_AGE.match(v.strip()) for v in labels):
        return sorted(labels, key=_age_lower)
    if labels and all(v in CARE_STAIRCASE for v in labels):
        return sorted(labels, key=CARE_STAIRCASE.index)
    return labels


def axis_label(col: str | None) -> str:
    """Plain-words axis label of a column (``"care_step"`` -> the staircase label).

    Examples
    --------
    >>> axis_label("share_pct"), axis_label("function_group"), axis_label("own_health")
    ('Percent', 'IPLOS function group', 'Own health')
    """
    if col is None:
        return ""
    return _AXIS_LABELS.get(col, _humanise(col))


def display_name(dim: str | None, value: object,
                 names: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """How a category shows in a figure: a name for a code, Women/Men for sex.

    Examples
    --------
    >>> display_name("county", "03", {"county": {"03": "Oslo"}})
    'Oslo'
    >>> display_name("sex", "female"), display_name("change", "not scored")
    ('Women', 'Not scored')
    """
    text = str(value)
    given = (names or {}).get(dim or "", {})
    if text in given:
        return str(given[text])
    if dim == "sex":
        return _SEX_NAMES.get(text, text)
    return _humanise(text)


def _humanise(text: str) -> str:
    """``own_health`` -> ``Own health``; labels with capitals or digits first stay."""
    t = text.replace("_", " ").strip()
    if not t or not t[0].islower():
        return t
    return t[0].upper() + t[1:]
