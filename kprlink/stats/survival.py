"""Survival after the index date: Kaplan-Meier, Aalen-Johansen, Cox.

The estimators take one row per person with a follow-up time and an exit
status (0 censored, 1 the outcome, 2 a competing event such as death), as
:func:`kprlink.cohorts.add_follow_up` writes. Their tables hold one row per
distinct exit time with the counts behind each step, so
:func:`kprlink.stats.release_curve` can coarsen them for release. Tables are
person-level counts: never release them without that step.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from kprlink.exceptions import MissingColumnsError, SpecError

__all__ = ["CoxResult", "cox_model", "cumulative_incidence", "kaplan_meier"]

#: Columns of the estimator tables (after the group column, when there is one).
CURVE_COLUMNS = ("time", "n_at_risk", "n_events", "n_competing", "n_censored", "estimate",
                 "se", "lower", "upper")


def _inputs(df: pd.DataFrame, time_col: str, status_col: str, group_col: str | None,
            func: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    cols = [time_col, status_col] + ([group_col] if group_col else [])
    MissingColumnsError.require(df, cols, func)
    t = pd.to_numeric(df[time_col], errors="coerce").to_numpy(float, na_value=np.nan)
    s = pd.to_numeric(df[status_col], errors="coerce").to_numpy(float, na_value=np.nan)
    problems = []
    if np.isnan(t).any() or np.isnan(s).any():
        problems.append(f"{int((np.isnan(t) | np.isnan(s)).sum())} row(s) lack a time or status")
    if (t < 0).any():
        problems.append(f"{int((t < 0).sum())} row(s) have a negative time")
    if problems:
        raise SpecError(f"{func}(): unusable follow-up.", problems)
    g = df[group_col].to_numpy() if group_col else None
    return t, s.astype(np.int64), g


def _counts(t: np.ndarray, s: np.ndarray, event_value: int,
            competing: Sequence[int]) -> pd.DataFrame:
    """Per distinct time: at risk (time >= t), events, competing events, censored."""
    times, inv = np.unique(t, return_inverse=True)
    ev = np.bincount(inv, weights=(s == event_value), minlength=len(times)).astype(np.int64)
    comp = np.bincount(inv, weights=np.isin(s, list(competing)),
                       minlength=len(times)).astype(np.int64)
    total = np.bincount(inv, minlength=len(times)).astype(np.int64)
    at_risk = total[::-1].cumsum()[::-1]
    return pd.DataFrame({"time": times, "n_at_risk": at_risk, "n_events": ev,
                         "n_competing": comp, "n_censored": total - ev - comp})


def _loglog_ci(est: np.ndarray, se: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Log(-log) interval of a probability (stays in [0, 1])."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log(-np.log(est))
        s = se / (est * np.abs(np.log(est)))
        a, b = np.exp(-np.exp(lg + z * s)), np.exp(-np.exp(lg - z * s))
    return a, b


def _by_group(df: pd.DataFrame, group_col: str | None, g: np.ndarray | None,
              one: object) -> pd.DataFrame:
    if group_col is None:
        return one(np.ones(len(df), dtype=bool))
    parts = []
    for key in pd.unique(g[pd.notna(g)]):
        part = one(g == key)
        part.insert(0, group_col, key)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=[group_col, *CURVE_COLUMNS])
    return out.sort_values([group_col, "time"], kind="stable").reset_index(drop=True)


def kaplan_meier(df: pd.DataFrame, *, time_col: str = "time_days", status_col: str = "status",
                 event_value: int = 1, group_col: str | None = None,
                 level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier survival free of the event, by group (statsmodels ``SurvfuncRight``).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per person with follow-up time and status. Not modified.
    time_col, status_col : str
        Follow-up time (days) and exit status.
    event_value : int, default 1
        Status of the event; every other status is censoring (competing deaths
        too: use :func:`cumulative_incidence` for the probability of the event
        in their presence).
    group_col : str, optional
        One curve per value.
    level : float, default 0.95
        Pointwise confidence level (Greenwood variance, log(-log) interval).

    Returns
    -------
    pandas.DataFrame
        One row per group and distinct time: :data:`CURVE_COLUMNS` with
        ``estimate`` = S(time) (``n_competing`` is 0: other statuses count as
        censored).

    Examples
    --------
    >>> d = pd.DataFrame({"time_days": [1, 2, 2, 3], "status": [1, 1, 0, 1]})
    >>> kaplan_meier(d)["estimate"].round(3).tolist()
    [0.75, 0.5, 0.0]
    """
    from statsmodels.duration.survfunc import SurvfuncRight

    t, s, g = _inputs(df, time_col, status_col, group_col, "kaplan_meier")
    z = float(sps.norm.ppf(0.5 + level / 2))

    def one(sel: np.ndarray) -> pd.DataFrame:
        ti, si = t[sel], (s[sel] == event_value).astype(int)
        tab = _counts(ti, np.where(si == 1, event_value, 0), event_value, ())
        est = np.ones(len(tab))
        se = np.zeros(len(tab))
        if si.any():
            sf = SurvfuncRight(ti, si)
            pos = np.searchsorted(sf.surv_times, tab["time"].to_numpy(), side="right") - 1
            has = pos >= 0
            est[has] = sf.surv_prob[pos[has]]
            se[has] = sf.surv_prob_se[pos[has]]
        se = np.where(est == 0, 0.0, se)  # statsmodels: NaN once everyone had the event
        lo, hi = _loglog_ci(est, se, z)
        done = (est == 1) | (est == 0)
        return tab.assign(estimate=est, se=se, lower=np.where(done, est, lo),
                          upper=np.where(done, est, hi))

    return _by_group(df, group_col, g, one)


def cumulative_incidence(df: pd.DataFrame, *, time_col: str = "time_days",
                         status_col: str = "status", event_value: int = 1,
                         competing_values: Sequence[int] = (2,),
                         group_col: str | None = None, level: float = 0.95) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of the event with competing risks.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per person with follow-up time and status. Not modified.
    time_col, status_col : str
    event_value : int, default 1
        Status of the event of interest.
    competing_values : sequence of int, default (2,)
        Statuses of competing events (death, in :func:`kprlink.cohorts.add_follow_up`).
        Other statuses are censoring.
    group_col : str, optional
    level : float, default 0.95
        Pointwise confidence level (delta-method variance, log(-log) interval).

    Returns
    -------
    pandas.DataFrame
        One row per group and distinct time: :data:`CURVE_COLUMNS` with
        ``estimate`` = F(time), the probability of the event by then.

    Notes
    -----
    ``F(t) = sum over event times t_j <= t of S(t_j-) d_j / n_j``, with ``S`` the
    Kaplan-Meier survival free of *any* event, ``d_j`` the events of interest
    and ``n_j`` the number at risk. Without competing events it equals
    1 - Kaplan-Meier. Variance by the delta method (Marubini & Valsecchi,
    *Analysing Survival Data from Clinical Trials and Observational Studies*,
    1995; Collett, *Modelling Survival Data in Medical Research*, 3rd ed.,
    p. 411); without competing events it is Greenwood's. Vectorised with
    cumulative sums.

    Examples
    --------
    >>> d = pd.DataFrame({"time_days": [1, 2, 3, 4, 5, 6], "status": [1, 2, 0, 1, 2, 1]})
    >>> cumulative_incidence(d)["estimate"].round(4).tolist()
    [0.1667, 0.1667, 0.1667, 0.3889, 0.3889, 0.6111]
    """
    t, s, g = _inputs(df, time_col, status_col, group_col, "cumulative_incidence")
    z = float(sps.norm.ppf(0.5 + level / 2))
    competing = [int(c) for c in competing_values]
    if event_value in competing:
        raise SpecError("cumulative_incidence(): the event cannot also be competing.",
                        [f"event_value={event_value!r} in competing_values={competing!r}"])

    def one(sel: np.ndarray) -> pd.DataFrame:
        tab = _counts(t[sel], s[sel], event_value, competing)
        n = tab["n_at_risk"].to_numpy(float)
        d1 = tab["n_events"].to_numpy(float)
        d = d1 + tab["n_competing"].to_numpy(float)
        surv = np.cumprod(1 - d / n)
        lag = np.concatenate([[1.0], surv[:-1]])
        f = np.cumsum(lag * d1 / n)
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(n > d, d / (n * (n - d)), 0.0)
        b = lag**2 * d1 * (n - d1) / n**3
        c = lag * d1 / n**2
        # sum_j<=k (F_k - F_j)^2 a_j + b_j - 2 (F_k - F_j) c_j, by cumulative sums
        var = (f**2 * np.cumsum(a) - 2 * f * np.cumsum(f * a) + np.cumsum(f**2 * a)
               + np.cumsum(b) - 2 * (f * np.cumsum(c) - np.cumsum(f * c)))
        se = np.sqrt(np.maximum(var, 0))
        lo, hi = _loglog_ci(f, se, z)
        done = (f == 0) | (f == 1)
        return tab.assign(estimate=f, se=se, lower=np.where(done, f, lo),
                          upper=np.where(done, f, hi))

    return _by_group(df, group_col, g, one)


@dataclass(frozen=True, eq=False)
class CoxResult:
    """Fitted Cox proportional-hazards model (statsmodels ``PHReg``).

    Attributes
    ----------
    hazard_ratios : pandas.DataFrame
        ``term, hazard_ratio, lower, upper, p_value``.
    n_obs, n_events : int
        Persons used and events among them.
    ties : str
        ``"breslow"`` or ``"efron"``.
    model : object
        The statsmodels results object.
    """

    hazard_ratios: pd.DataFrame
    n_obs: int
    n_events: int
    ties: str
    model: object

    def __repr__(self) -> str:
        return (f"<CoxResult {self.ties}: {self.n_obs:,} persons, {self.n_events:,} events, "
                f"{len(self.hazard_ratios)} terms>")

    def summary(self) -> pd.DataFrame:
        """The hazard-ratio table."""
        return self.hazard_ratios.copy()


def cox_model(df: pd.DataFrame, *, formula: str, time_col: str = "time_days",
              status_col: str = "status", event_value: int = 1,
              strata_col: str | None = None, ties: str = "efron",
              level: float = 0.95) -> CoxResult:
    """Cox model of the cause-specific hazard of the event (statsmodels ``PHReg``).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per person. Not modified.
    formula : str
        Right-hand side in patsy syntax, e.g. ``"C(dementia) + age + C(sex)"``.
    time_col, status_col, event_value
        As for :func:`kaplan_meier`; other statuses (competing deaths) are
        censored, which gives the cause-specific hazard ratio.
    strata_col : str, optional
        A baseline hazard per stratum (e.g. the matched set).
    ties : {"efron", "breslow"}
    level : float, default 0.95

    Returns
    -------
    CoxResult

    Raises
    ------
    SpecError
        On bad ties, unusable rows, or a model that cannot be fitted.
    """
    if ties not in ("efron", "breslow"):
        raise SpecError(f"cox_model(ties={ties!r}): use 'efron' or 'breslow'.",
                        [f"ties={ties!r}"])
    t, s, _ = _inputs(df, time_col, status_col, strata_col, "cox_model")
    import statsmodels.formula.api as smf
    from patsy import PatsyError
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    data = df.assign(_time=t, _event=(s == event_value).astype(int))
    kw = {"strata": data[strata_col].to_numpy()} if strata_col else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            res = smf.phreg(f"_time ~ {formula}", data, status=data["_event"].to_numpy(),
                            ties=ties, **kw).fit()
        except (ConvergenceWarning, np.linalg.LinAlgError, ValueError, PatsyError) as exc:
            raise SpecError(f"cox_model(): the model could not be fitted ({exc}).",
                            [str(exc)]) from exc
    names = list(res.model.exog_names)
    conf = np.asarray(res.conf_int(1 - level))
    table = pd.DataFrame({"term": names, "hazard_ratio": np.exp(np.asarray(res.params)),
                          "lower": np.exp(conf[:, 0]), "upper": np.exp(conf[:, 1]),
                          "p_value": np.asarray(res.pvalues)})
    return CoxResult(table, len(data), int(data["_event"].sum()), ties, res)
