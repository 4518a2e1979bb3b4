"""What an analysis step sees: the study spec, the delivery and a work folder.

Person-level intermediate results (the cohort) are cached in memory and
written only to the *work* folder, never to the output folder.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kprlink.exceptions import SpecError

if TYPE_CHECKING:
    from kprlink._studyspec import StudySpec
    from kprlink.sources import Delivery

log = logging.getLogger(__name__)

#: Register sex codes (1 = male, 2 = female) to the population table's labels.
SEX_LABELS = {1: "male", 2: "female"}


@dataclass
class StudyContext:
    """Inputs of one study run, shared by its analysis steps.

    Attributes
    ----------
    spec : StudySpec
        The study definition.
    delivery : kprlink.Delivery
        The validated delivery.
    work_dir : pathlib.Path
        Folder for person-level intermediates (outside the output folder).
    definitions : dict of str to str
        Definition files used (name → SHA-256), filled as steps load them.
    """

    spec: StudySpec
    delivery: Delivery
    work_dir: Path
    definitions: dict[str, str] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def cohort(self) -> pd.DataFrame:
        """The study cohort, one row per person (built once, cached).

        Uses the cohort definition named in the spec (``cohort = ...``) with
        :func:`kprlink.build_cohort`; the person table is written to
        ``work_dir/cohort.parquet`` for the analyst, never to the output.
        """
        if "cohort" not in self._cache:
            self._cache["cohort"] = self._build_cohort()
        return self._cache["cohort"]  # type: ignore[no-any-return]

    def _build_cohort(self) -> pd.DataFrame:
        import kprlink as kl
        from kprlink._provenance import sha256_file

        path = self.spec.cohort_path
        if path is None:
            raise SpecError(f"study {self.spec.name!r} has tables that need a cohort, but "
                            "its study.toml names no `cohort` file.", ["cohort"])
        missing = [n for n in ("CohortDefinition", "build_cohort") if not hasattr(kl, n)]
        if missing:
            raise SpecError(f"this kprlink build lacks {missing}; the cohort layer is "
                            "needed to run this study.", missing)
        definition = kl.CohortDefinition.from_toml(path)
        self.definitions[path.name] = sha256_file(path)
        result = kl.build_cohort(self.delivery, definition)
        persons = getattr(result, "persons", result)
        self._cache["cohort_result"] = result
        self.work_dir.mkdir(parents=True, exist_ok=True)
        persons.to_parquet(self.work_dir / "cohort.parquet", index=False)
        log.info("cohort: %s persons", f"{len(persons):,}")
        return persons  # type: ignore[no-any-return]


def sex_label(codes: pd.Series) -> pd.Series:
    """Register sex codes 1/2 as ``"male"``/``"female"`` (others NA).

    Examples
    --------
    >>> sex_label(pd.Series([1, 2, None], dtype="Int8")).tolist()
    ['male', 'female', <NA>]
    """
    return pd.Series(pd.array(codes, dtype="Int64"), index=codes.index).map(
        SEX_LABELS).astype("string")


def age_band(age: pd.Series, breaks: Sequence[int]) -> pd.Series:
    """Left-closed age bands from `breaks`; the last band is open-ended.

    Labels read ``"67-79"``; the first band reads ``"Under 60"`` when it
    starts at 0 and the last ``"90+"``. Ages below the first break or
    missing give NA.

    Examples
    --------
    >>> age_band(pd.Series([3, 59, 60, 95]), [0, 60, 90]).tolist()
    ['Under 60', 'Under 60', '60-89', '90+']
    """
    b = list(breaks)
    if b != sorted(set(b)) or len(b) < 2:
        raise SpecError(f"age-band breaks must be increasing, got {b}.", [str(b)])
    labels = []
    for lo, hi in zip(b, b[1:], strict=False):
        labels.append(f"Under {hi}" if lo == 0 else f"{lo}-{hi - 1}")
    labels.append(f"{b[-1]}+")
    a = pd.array(age, dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
    codes = np.searchsorted(np.asarray(b, dtype=float), a, side="right") - 1
    codes = np.where(np.isnan(a) | (a < b[0]), -1, codes)
    return pd.Series(pd.Categorical.from_codes(codes, categories=labels, ordered=True),
                     index=age.index)
