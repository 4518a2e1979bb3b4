"""``LinkageSpec``: the definition of a probabilistic linkage (frozen, validated)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

from kprlink.exceptions import SpecError
from kprlink.linkage._comparisons import (
    BirthMonthComparison,
    Comparison,
    DateComparison,
    EventDatesComparison,
    EventWindowComparison,
    ExactComparison,
    NumericComparison,
    StringComparison,
)

_COMPARISON_TYPES = (ExactComparison, StringComparison, NumericComparison,
                     EventDatesComparison, EventWindowComparison, BirthMonthComparison)


@dataclass(frozen=True)
class LinkageSpec:
    """How to block, compare and classify record pairs (Fellegi–Sunter).

    Parameters
    ----------
    comparisons : sequence of comparison
        :class:`ExactComparison`, :class:`StringComparison`,
        :class:`NumericComparison`, :class:`DateComparison` or
        :class:`EventDatesComparison`; labels must be distinct.
    blocking : sequence of sequence of str
        Blocking rules; a pair is a candidate if it agrees exactly on all
        columns of at least one rule (rules are unioned). A plain string is a
        one-column rule.
    prior : float or None, default None
        Probability that two records drawn at random (from all left × right
        pairs, not only candidates) are a match; None lets EM estimate it.
    one_to_one : bool, default True
        Keep at most one link per left and per right record (assignment
        maximising the total match weight per connected component).
    threshold : float, default 0.5
        Minimum match probability of a link.
    estimate_u : {"random", "em"}, default "random"
        "random": u from `n_random_pairs` random pairs, fixed during EM;
        "em": u re-estimated by EM as well.
    n_random_pairs : int, default 100_000
    max_pairs : int, default 50_000_000
        Refuse blocking that would create more candidate pairs.
    max_pairs_per_rule : int or None, default None
        A blocking rule *after the first* that alone would create more pairs
        is skipped (``blocking["skipped"]``, ``info["blocking_rules_skipped"]``)
        instead of making the run quadratic: broad rules that find movers are
        affordable on small unkeyed sets only.
    max_iter : int, default 200
    tol : float, default 1e-7
    seed : int, default 0
        Seed of the random pairs and the validation split.
    competition : bool, default False
        Two-file linkage only: each record has at most one partner, so a
        pair's probability is conditioned on its competitors. For left record
        *i* with pairs *j* of Bayes factor ``BF_ij`` and per-pair prior λ,
        ``p_ij = λ·BF_ij / ((1 − λ·n_right) + λ·Σ_k BF_ik)``, likewise from the
        right; the smaller of the two is used. Without it each pair is scored
        alone (``λ·BF / (1 − λ + λ·BF)``), which ignores that several
        candidates of one record cannot all be its partner.
    joint_frequency : sequence of str, default ()
        Labels of exact/numeric comparisons (e.g. birth year, sex,
        municipality) whose joint agreement is weighed by the share of right
        records holding that combination, ``log2(Π m / f_combination)``,
        instead of a product of single-value frequencies (see
        ``term_frequency_adjustment``).
    target_precision : float or None, default None
        With labels: the threshold is chosen on the held-out labelled pairs as
        the lowest probability at which their precision is at least this
        (at least `threshold`; ``info["threshold_used"]``).

    Examples
    --------
    >>> spec = LinkageSpec(
    ...     comparisons=[ExactComparison("sex"), NumericComparison("birth_year")],
    ...     blocking=["municipality"])
    >>> spec.blocking
    (('municipality',),)
    >>> sorted(spec.required_columns)
    ['birth_year', 'municipality', 'sex']
    >>> len(spec.digest)
    12
    """

    comparisons: tuple[Comparison, ...]
    blocking: tuple[tuple[str, ...], ...]
    prior: float | None = None
    one_to_one: bool = True
    threshold: float = 0.5
    estimate_u: Literal["random", "em"] = "random"
    n_random_pairs: int = 100_000
    max_pairs: int = 50_000_000
    max_pairs_per_rule: int | None = None
    max_iter: int = 200
    tol: float = 1e-7
    seed: int = 0
    name: str = field(default="linkage")
    competition: bool = False
    target_precision: float | None = None
    joint_frequency: tuple[str, ...] = ()

    def _repr_html_(self) -> str:
        from kprlink._html import definition_card

        return definition_card(self)

    def __post_init__(self) -> None:
        problems: list[str] = []
        comps = tuple(self.comparisons) if not isinstance(self.comparisons, str) else ()
        object.__setattr__(self, "comparisons", comps)
        if not comps:
            problems.append("comparisons: need at least one comparison.")
        bad = [c for c in comps if not isinstance(c, _COMPARISON_TYPES)]
        problems += [f"comparisons: {c!r} is not a comparison object." for c in bad]
        labels = [c.label for c in comps if isinstance(c, _COMPARISON_TYPES)]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            problems.append(f"comparisons: labels must be distinct; repeated {dup} "
                            "(give one of them name=...).")
        rules: list[tuple[str, ...]] = []
        raw = [self.blocking] if isinstance(self.blocking, str) else list(self.blocking)
        for r in raw:
            rule = (r,) if isinstance(r, str) else tuple(r)
            if not rule or not all(isinstance(c, str) and c for c in rule):
                problems.append(f"blocking: rule {r!r} must be a non-empty sequence of "
                                "column names.")
            rules.append(rule)
        if not rules:
            problems.append("blocking: need at least one rule (comparing all pairs "
                            "does not scale).")
        object.__setattr__(self, "blocking", tuple(rules))
        if self.prior is not None and not (isinstance(self.prior, (int, float))
                                           and 0 < self.prior < 1):
            problems.append(f"prior must be None or in (0, 1), got {self.prior!r}.")
        if not (isinstance(self.threshold, (int, float)) and 0 < self.threshold <= 1):
            problems.append(f"threshold must be in (0, 1], got {self.threshold!r}.")
        if self.estimate_u not in ("random", "em"):
            problems.append(f"estimate_u must be 'random' or 'em', got {self.estimate_u!r}.")
        for nm in ("n_random_pairs", "max_pairs", "max_iter"):
            v = getattr(self, nm)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                problems.append(f"{nm} must be an int >= 1, got {v!r}.")
        v = self.max_pairs_per_rule
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            problems.append(f"max_pairs_per_rule must be None or an int >= 1, got {v!r}.")
        if not (isinstance(self.tol, (int, float)) and self.tol > 0):
            problems.append(f"tol must be > 0, got {self.tol!r}.")
        if not isinstance(self.competition, bool):
            problems.append(f"competition must be a bool, got {self.competition!r}.")
        if self.target_precision is not None and not (
                isinstance(self.target_precision, (int, float))
                and 0 < self.target_precision <= 1):
            problems.append("target_precision must be None or in (0, 1], got "
                            f"{self.target_precision!r}.")
        jf = (self.joint_frequency,) if isinstance(self.joint_frequency, str) else tuple(
            self.joint_frequency)
        object.__setattr__(self, "joint_frequency", jf)
        ok_labels = {c.label for c in comps
                     if isinstance(c, (ExactComparison, NumericComparison))}
        problems += [f"joint_frequency: {x!r} is not the label of an exact or numeric "
                     "comparison." for x in jf if x not in ok_labels]
        if not isinstance(self.seed, int):
            problems.append(f"seed must be an int, got {self.seed!r}.")
        if problems:
            raise SpecError(f"LinkageSpec({self.name!r}) is invalid.", problems)

    @property
    def required_columns(self) -> set[str]:
        """Columns the left frame needs (comparisons and blocking)."""
        return {c.column for c in self.comparisons} | {c for r in self.blocking for c in r}

    @property
    def required_right_columns(self) -> set[str]:
        """Columns the right frame needs."""
        hi = {c.right_hi_column for c in self.comparisons
              if isinstance(c, BirthMonthComparison)}
        return ({c.right for c in self.comparisons} | hi
                | {c for r in self.blocking for c in r})

    def to_dict(self) -> dict[str, object]:
        """Canonical JSON-able form (``kprlink_spec`` 1)."""
        d = asdict(self)
        d["comparisons"] = [{"kind": type(c).__name__, **asdict(c)} for c in self.comparisons]
        d["blocking"] = [list(r) for r in self.blocking]
        return {"kprlink_spec": 1, "kind": "linkage_spec", **d}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> LinkageSpec:
        """The spec of :meth:`to_dict` (``kprlink_spec`` 1); round-trips exactly.

        Raises
        ------
        SpecError
            An unknown ``kprlink_spec`` or ``kind``, or an unknown comparison kind.

        Examples
        --------
        >>> s = LinkageSpec.person_profile(referral_days=True, target_precision=0.99)
        >>> LinkageSpec.from_dict(s.to_dict()) == s
        True
        """
        d = dict(d)
        if d.pop("kprlink_spec", None) != 1 or d.pop("kind", None) != "linkage_spec":
            raise SpecError("LinkageSpec.from_dict(): not a kprlink_spec 1 linkage_spec.",
                            ["kprlink_spec/kind: expected 1 / 'linkage_spec'"])
        kinds = {t.__name__: t for t in (*_COMPARISON_TYPES, DateComparison)}
        comps, problems = [], []
        for c in d.pop("comparisons", []):  # type: ignore[attr-defined]
            c = dict(c)
            kind = kinds.get(c.pop("kind", None))
            if kind is None:
                problems.append(f"comparisons: unknown kind in {c!r}.")
                continue
            comps.append(kind(**c))
        if problems:
            raise SpecError("LinkageSpec.from_dict(): bad comparisons.", problems)
        return cls(comparisons=tuple(comps), **d)  # type: ignore[arg-type]

    @property
    def digest(self) -> str:
        """Short hash of the canonical JSON."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @classmethod
    def febrl(cls, **kwargs: object) -> LinkageSpec:
        """Configuration for FEBRL-style person files (names, address, DOB, id)."""
        jw = (0.95, 0.88, 0.7)
        comps = [
            StringComparison("given_name", thresholds=jw),
            StringComparison("surname", thresholds=jw),
            StringComparison("street_number", method="levenshtein", thresholds=(0.6,)),
            StringComparison("address_1", thresholds=(0.9, 0.7)),
            StringComparison("address_2", thresholds=(0.9, 0.7)),
            StringComparison("suburb", thresholds=(0.9, 0.7)),
            StringComparison("postcode", method="levenshtein", thresholds=(0.7,)),
            ExactComparison("state"),
            StringComparison("date_of_birth", method="damerau_levenshtein",
                             thresholds=(0.85, 0.7)),
            StringComparison("soc_sec_id", method="damerau_levenshtein",
                             thresholds=(0.85, 0.7)),
        ]
        blocking = [("given_name",), ("surname",), ("date_of_birth",), ("soc_sec_id",),
                    ("postcode", "street_number"), ("suburb", "address_1")]
        return cls(comparisons=tuple(comps), blocking=tuple(blocking),
                   **kwargs)  # type: ignore[arg-type]

    @classmethod
    def person_profile(cls, *, event_columns: Sequence[str] = ("event_days",),
                       broad_blocking: bool = True, referral_days: bool = False,
                       referral_times: bool = False, district: bool = False,
                       birth_month: bool = False, referral_dates: bool = False,
                       discharge_dates: bool = False, moves: bool = False,
                       **kwargs: object) -> LinkageSpec:
        """Configuration for register person profiles (see ``person_profiles``).

        Compares birth year, sex, modal municipality (both with term-frequency
        weights), death date, vital status
        (``dead``: a death date recorded on one side only is disagreement)
        and how many contact dates coincide (within a day either way); blocks
        on birth year + sex + municipality and on birth year + death date,
        and, with `broad_blocking`, on birth year + sex alone (finds movers;
        skipped, and reported, when it alone would give more than
        ``max_pairs_per_rule`` pairs, default 1,000,000: its pair count grows
        with the square of the unkeyed sets).

        With `referral_days`, two more comparisons need the profile columns
        ``acute_days`` (left: acute admissions) and ``out_of_hours_days`` /
        ``gp_days`` (right: legevakt and GP claims): acute admissions with an
        out-of-hours claim the same day, and with a GP claim 0–2 days before
        (GP claims of a weekend are dated the Friday before). A right person
        without such claims counts as "none coincide", not missing.

        With `referral_times` (and `referral_days`) the legevakt comparison
        uses times of day instead: ``acute_minutes`` (left) and
        ``out_of_hours_minutes`` (right), minutes since 1970-01-01 of
        admissions (NPR ``time_in``) and claims (KUHR ``time``), with levels
        "a claim within 24 h before the admission (to 1 h after)" and "0–6 h
        before". Both count the admissions with such a claim (levels for 1,
        2, >= 3 in the tightest window): several coincidences of one person
        are stronger evidence than one. With `district`, the modal city district (``district``:
        KUHR ``bydel``, NPR ``bydel2``) is compared; it is missing, i.e.
        neutral, unless both sides have one.

        With `birth_month`, the left ``birth_month`` (NPR ``fodt_mnd``) is
        compared with the right interval ``birth_month_lo`` … ``birth_month_hi``
        inferred from KUHR ages (:class:`BirthMonthComparison`). With
        `referral_dates`, the left ``referral_days`` (NPR ``mottaksdato``) are
        counted that follow a right GP claim (``gp_days``) by 0–3 days (most
        referrals are electronic and arrive within days), with a level for
        "none within 3 days, but a GP claim 4–14 days before"; a right person
        without GP claims counts as "none coincide". Its levels are split by
        the right person's number of GP claim days (< 5, 5–14, 15–39, >= 40):
        a referral that follows a claim of a person who sees the GP every week
        is weak evidence, one of a person who rarely does strong. Each count
        level is also split by whether a GP claim falls on the day of receipt
        (``inner=(0, 0)``: 40 % of GP referrals arrive the same day) and by the
        left person's number of referral days (1, 2-3, >= 4,
        ``left_density=(2, 4)``): one coincidence of one referral is stronger
        than one of five.

        With `discharge_dates`, the left ``discharge_days`` (NPR ``date_out``
        of inpatient stays) are counted that a right GP claim follows by 0–3
        days, with a level for "none within 3 days, but a GP claim 4–14 days
        after" (the follow-up after the discharge summary, epikrise), split by
        the right person's GP claim days like the referral comparison.

        With `moves`, the profiles' ``move`` (``"A>B"``: first and last
        municipality differ) is compared with term-frequency weights (two
        records showing the same move between two given municipalities is
        rare by chance), and a blocking rule birth year + move finds movers
        whose modal municipality differs between the registers. A move seen on
        one side only is missing (the other register may have no event after
        it), never disagreement.
        """
        comps: list[Comparison] = [
            NumericComparison("birth_year", distances=(0, 1), term_frequency=True),
            ExactComparison("sex"),
            ExactComparison("municipality", term_frequency=True),
            DateComparison("death_date", distances=(0, 7)),
            ExactComparison("dead"),
        ]
        comps += [EventDatesComparison(c, counts=(1, 2, 3), min_days=-1, max_days=1)
                  for c in event_columns]
        if district:
            comps.append(ExactComparison("district"))
        if referral_days:
            comps.append(
                EventWindowComparison("acute_minutes", right_column="out_of_hours_minutes",
                                      windows=((-1440, 60), (-360, 0)), counts=(1, 2, 3),
                                      name="acute_out_of_hours_time") if referral_times else
                EventDatesComparison("acute_days", right_column="out_of_hours_days",
                                     counts=(1, 2, 3), min_days=0, max_days=0,
                                     empty_right="none", name="acute_out_of_hours"))
            comps += [
                EventDatesComparison("acute_days", right_column="gp_days",
                                     counts=(1, 2, 3), min_days=-2, max_days=0,
                                     empty_right="none", name="acute_gp"),
            ]
        if birth_month:
            comps.append(BirthMonthComparison("birth_month", widths=(1, 3)))
        if referral_dates:
            comps.append(EventDatesComparison("referral_days", right_column="gp_days",
                                              counts=(1, 2, 3, 4), min_days=-3, max_days=0,
                                              outer=(-14, 0), inner=(0, 0),
                                              left_density=(2, 4),
                                              empty_right="none",
                                              right_density=(5, 15, 40),
                                              name="referral_gp"))
        if discharge_dates:
            comps.append(EventDatesComparison("discharge_days", right_column="gp_days",
                                              counts=(1, 2, 3), min_days=0,
                                              max_days=3, outer=(0, 14),
                                              empty_right="none",
                                              right_density=(5, 15, 40),
                                              name="discharge_gp"))
        blocking = [("birth_year", "sex", "municipality"), ("birth_year", "death_date")]
        if moves:
            comps.append(ExactComparison("move", term_frequency=True))
            blocking.append(("birth_year", "move"))
        if broad_blocking:
            blocking.append(("birth_year", "sex"))
        kwargs.setdefault("max_pairs_per_rule", 1_000_000)
        return cls(comparisons=tuple(comps), blocking=tuple(blocking),
                   **kwargs)  # type: ignore[arg-type]
