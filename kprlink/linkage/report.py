"""``LinkageReport``: what registry-linkage reporting guidance asks for.

RECORD (item 12.3) and GUILD ask a study to report, for each linked source, how
many persons and records there were, how many were linked, what could not be
linked and why, how conflicting values between sources were resolved, and the
counts of a linkage flow diagram. :class:`LinkageReport` holds those as
DataFrames; :meth:`LinkageReport.summary` gives one row per figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["LinkageReport"]


@dataclass(frozen=True)
class LinkageReport:
    """Diagnostics of one key-file (or shared-pseudonym) linkage.

    Attributes
    ----------
    flow : pandas.DataFrame
        ``step, n`` — the counts of a linkage flow diagram, in order.
    unlinked_by_year : pandas.DataFrame
        ``source, year, n_rows, n_rows_unlinked, n_persons_unlinked``: rows of
        each register whose person has no partner in the other register's key.
    key_conflicts : pandas.DataFrame
        One row per key id mapped to more than one partner across deliveries:
        ``side`` ("npr_id" or "kpr_id"), ``id``, ``partners`` (all partners),
        ``deliveries``, ``chosen`` (partner kept; NA when unlinked), ``rule`` and
        ``kind`` (stale key without data, new id after change of sex, both keys
        have data, temporary id replaced, two NPR ids in one delivery or across
        deliveries: see ``kprlink.linkage._key_kinds``).
    demographic_conflicts : pandas.DataFrame
        One row per linked person whose sex or birth year differ between the
        registers: ``person_id, variable, value_kpr, value_npr, resolved, rule``.
    events_after_death : pandas.DataFrame
        ``source, n_rows, n_persons``: events dated after the person's earliest
        death date in either register.
    outside_coverage : pandas.DataFrame
        ``source, coverage_start, coverage_end, n_rows``: events outside a
        register's coverage.
    method : str
        "key file" or "shared pseudonym ``<col>``".
    """

    flow: pd.DataFrame
    unlinked_by_year: pd.DataFrame
    key_conflicts: pd.DataFrame
    demographic_conflicts: pd.DataFrame
    events_after_death: pd.DataFrame
    outside_coverage: pd.DataFrame
    method: str = "key file"

    def n(self, step: str) -> int:
        """One count of the flow diagram by step name."""
        hit = self.flow.loc[self.flow["step"] == step, "n"]
        if hit.empty:
            raise KeyError(f"no flow step {step!r}; steps are {self.flow['step'].tolist()}")
        return int(hit.iloc[0])

    def summary(self) -> pd.DataFrame:
        """Every figure of the report as ``section, item, n`` (counts only, no ids)."""
        rows = [("flow", r.step, int(r.n)) for r in self.flow.itertuples()]
        kc = self.key_conflicts
        for side in ("npr_id", "kpr_id"):
            rows.append(("key conflicts", f"{side} with more than one partner",
                         int((kc["side"] == side).sum())))
        if "kind" in kc.columns:
            from kprlink.linkage._key_kinds import KINDS

            for kind in KINDS:
                rows.append(("key conflicts", f"kind: {kind}", int((kc["kind"] == kind).sum())))
        dc = self.demographic_conflicts
        for var in ("sex", "birth_year"):
            rows.append(("conflicts between registers", f"persons with conflicting {var}",
                         int((dc["variable"] == var).sum())))
        for r in self.events_after_death.itertuples():
            rows.append(("events after death", f"{r.source} rows", int(r.n_rows)))
        for r in self.outside_coverage.itertuples():
            rows.append(("outside coverage", f"{r.source} rows", int(r.n_rows)))
        for r in self.unlinked_by_year.itertuples():
            rows.append(("unlinked rows", f"{r.source} {r.year}", int(r.n_rows_unlinked)))
        return pd.DataFrame(rows, columns=["section", "item", "n"])

    def __repr__(self) -> str:
        s = self.summary()
        return f"<LinkageReport ({self.method}): {len(s)} figures; see .summary()>"
