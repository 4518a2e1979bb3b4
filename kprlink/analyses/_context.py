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

import pandas as pd

from kprlink.exceptions import MissingColumnsError, SpecError

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
    linkage : LinkageOptions, optional
        Replaces the cohort definition's ``[linkage]`` table (the study's own,
        or key links only for the sensitivity variant).
    """

    spec: StudySpec
    delivery: Delivery
    work_dir: Path
    definitions: dict[str, str] = field(default_factory=dict)
    linkage: Any = None
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

    def cohort_events(self) -> pd.DataFrame:
        """The cohort's qualifying events (``CohortResult.events``: person_id, date,
        source, ...), one row per event in the cohort's window."""
        self.cohort()
        return self._cache["cohort_result"].events  # type: ignore[no-any-return]

    def linkage_model(self) -> Any:
        """The cohort's probabilistic linkage run (``ProbabilisticLinkResult``), or None
        when the cohort uses key links only."""
        self.cohort()
        linkage = getattr(self._cache["cohort_result"], "linkage", None)
        return getattr(linkage, "model", None)

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
        if self.linkage is not None:
            import dataclasses

            definition = dataclasses.replace(definition, linkage=self.linkage)
        self.definitions[path.name] = sha256_file(path)
        from kprlink.sources.lazy import ImportedDelivery

        # an imported folder: the builder's fast path reads only the candidates' rows
        data = (self.delivery.path if isinstance(self.delivery, ImportedDelivery)
                else self.delivery)
        engine = getattr(self.delivery, "engine", None)
        result = (kl.build_cohort(data, definition, engine=engine) if engine is not None
                  else kl.build_cohort(data, definition))
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


def age_bands(breaks: Sequence[int]) -> Any:
    """:class:`kprlink.AgeBands` for `breaks` (the reference chart's labels for its breaks).

    Examples
    --------
    >>> age_bands([0, 60, 65, 70, 75, 80, 85, 90]).labels[0]
    'Under 60'
    >>> age_bands([0, 67, 80, 90]).labels
    ('0-66', '67-79', '80-89', '90+')
    """
    import kprlink as kl

    b = tuple(int(x) for x in breaks)
    ref = kl.AgeBands.reference_dementia()
    return ref if b == ref.breaks else kl.AgeBands.from_breaks(b)


def with_age_band(ctx: StudyContext, persons: pd.DataFrame, breaks: Sequence[int], *,
                  birth_year_col: str = "birth_year") -> pd.DataFrame:
    """`persons` with ``age`` on the reference date and ``age_band`` (string).

    Age in completed years on the study's reference date from the birth year
    (:func:`kprlink.add_age`; exact on 1 January). Unknown birth years and
    implausible ages (outside 0-130) give NA bands, counted by the caller.
    """
    import kprlink as kl

    bands = age_bands(breaks)
    out = kl.add_age(persons, at=ctx.spec.ref_date, birth_year_col=birth_year_col)
    age = out["age"].astype("Int64")
    out["age"] = age.where((age >= 0) & (age <= 130))
    out = kl.add_age_band(out, bands)
    out["age_band"] = out["age_band"].astype("string")
    return out


def kpr_person_id(kpr_id: pd.Series) -> pd.Series:
    """A study person id (int64) from the KPR id, for tables not cut from a cohort.

    Every table of one study must count persons under the same identity so that
    the runner can protect them together; steps over KPR helse og omsorg alone
    use this hash of ``kpr_id`` (stable across tables and runs).

    Examples
    --------
    >>> ids = kpr_person_id(pd.Series(["a", "b", "a"]))
    >>> bool(ids.iloc[0] == ids.iloc[2]), str(ids.dtype)
    (True, 'int64')
    """
    h = pd.util.hash_pandas_object(kpr_id.astype("string"), index=False).to_numpy()
    return pd.Series(h.view("int64"), index=kpr_id.index, name="person_id")


def delivery_frame(ctx: StudyContext, name: str, cols: Sequence[str] = ()) -> pd.DataFrame:
    """The delivery's frame `name`, with columns `cols`; a clear error if it is absent."""
    df = getattr(ctx.delivery, name, None)
    if df is None:
        raise MissingColumnsError(
            f"study {ctx.spec.name!r} needs the delivery file {name!r}, which is absent "
            f"from {ctx.delivery.path}.", missing=[name])
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise MissingColumnsError(f"delivery file {name!r} lacks {missing}.", missing=missing)
    return df
