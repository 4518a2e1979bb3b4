"""Contact-frequency regression (Poisson / negative binomial) and funnel limits."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from kprlink.exceptions import SpecError
from kprlink.stats.rates import _require

__all__ = ["ContactRateResult", "contact_rate_glm", "funnel_limits"]


@dataclass(frozen=True, eq=False)
class ContactRateResult:
    """Fitted contact-rate model.

    Attributes
    ----------
    rate_ratios : pandas.DataFrame
        ``term, rate_ratio, lower, upper, p_value`` (the intercept row holds the
        baseline rate per person-year).
    family : str
        ``"poisson"`` or ``"negative_binomial"``.
    alpha : float
        Negative-binomial dispersion (NB2, var = mu + alpha mu^2); 0 for Poisson.
    pearson_dispersion : float
        Pearson chi2 / residual df (about 1 when Poisson fits).
    n_obs, n_excluded : int
        Rows used, and rows excluded for NA or non-positive person-time.
    model : object
        The statsmodels results object.
    """

    rate_ratios: pd.DataFrame
    family: str
    alpha: float
    pearson_dispersion: float
    n_obs: int
    n_excluded: int
    model: object

    def __repr__(self) -> str:
        return (f"<ContactRateResult {self.family}: {self.n_obs:,} rows, "
                f"{self.n_excluded:,} excluded, dispersion {self.pearson_dispersion:.2f}>")

    def summary(self) -> pd.DataFrame:
        """The rate-ratio table."""
        return self.rate_ratios.copy()


def contact_rate_glm(df: pd.DataFrame, *, formula: str, events_col: str = "n_contacts",
                     person_time_col: str = "person_years",
                     family: Literal["poisson", "negative_binomial"] = "poisson",
                     level: float = 0.95) -> ContactRateResult:
    """Contacts per person-year by covariates, with a log person-time offset.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per person (or group) with contacts and person-time. Not modified.
    formula : str
        Right-hand side in patsy syntax, e.g. ``"C(age_band) + C(sex)"``.
    events_col, person_time_col : str
        Count and person-years columns.
    family : {"poisson", "negative_binomial"}
        Poisson GLM, or NB2 with dispersion estimated by maximum likelihood.
    level : float, default 0.95
        Confidence level of the Wald intervals.

    Returns
    -------
    ContactRateResult

    Raises
    ------
    MissingColumnsError
        If the count or person-time column is missing.
    SpecError
        On an unknown family, negative counts, no usable rows, or a model that
        does not converge.
    """
    _require(df, [events_col, person_time_col], "contact_rate_glm")
    if family not in ("poisson", "negative_binomial"):
        raise SpecError(f"contact_rate_glm(family={family!r}): use 'poisson' or "
                        "'negative_binomial'.", [f"family={family!r}"])
    y = pd.to_numeric(df[events_col], errors="coerce")
    t = pd.to_numeric(df[person_time_col], errors="coerce")
    if (y < 0).any():
        raise SpecError("contact_rate_glm(): negative counts.",
                        [f"{int((y < 0).sum())} row(s) with negative {events_col}"])
    use = y.notna() & t.notna() & (t > 0)
    data = df.loc[use].copy()
    data["_y"] = y[use].astype(float)
    data["_logt"] = np.log(t[use].astype(float))
    if data.empty:
        raise SpecError("contact_rate_glm(): no rows with counts and positive person-time.",
                        ["no usable rows"])
    full = f"_y ~ {formula}"
    # statsmodels costs ~1 s to import: only when a model is fitted
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from patsy import PatsyError
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            if family == "poisson":
                res = smf.glm(full, data, family=sm.families.Poisson(),
                              offset=data["_logt"]).fit()
                alpha = 0.0
                params, conf, pvals = res.params, res.conf_int(1 - level), res.pvalues
                disp = float(res.pearson_chi2 / res.df_resid) if res.df_resid > 0 else np.nan
            else:
                res = smf.negativebinomial(full, data, offset=data["_logt"]).fit(
                    disp=0, maxiter=200)
                if not res.mle_retvals.get("converged", True):
                    raise ConvergenceWarning("not converged")
                alpha = float(res.params["alpha"])
                keep = res.params.index != "alpha"
                params, conf, pvals = res.params[keep], res.conf_int(1 - level)[keep], \
                    res.pvalues[keep]
                mu = np.exp(res.model.exog @ params.to_numpy() + data["_logt"].to_numpy())
                var = mu + alpha * mu**2
                dfr = len(data) - len(params)
                disp = float(np.sum((data["_y"] - mu) ** 2 / var) / dfr) if dfr > 0 else np.nan
        except (ConvergenceWarning, np.linalg.LinAlgError, ValueError, PatsyError) as exc:
            raise SpecError(f"contact_rate_glm(): the {family} model could not be fitted "
                            f"({exc}).", [str(exc)]) from exc
    table = pd.DataFrame({"term": list(params.index),
                          "rate_ratio": np.exp(params.to_numpy()),
                          "lower": np.exp(conf.iloc[:, 0].to_numpy()),
                          "upper": np.exp(conf.iloc[:, 1].to_numpy()),
                          "p_value": pvals.to_numpy()})
    return ContactRateResult(table, family, alpha, disp, int(use.sum()),
                             int((~use).sum()), res)


def funnel_limits(denominators: object, *, target: float,
                  kind: Literal["proportion", "rate"] = "proportion",
                  levels: Sequence[float] = (0.95, 0.998)) -> pd.DataFrame:
    """Funnel-plot control limits around `target` for each denominator.

    Parameters
    ----------
    denominators : array-like
        Population (proportions) or person-years (rates) at which to compute limits.
    target : float
        The overall proportion, or rate per person-year.
    kind : {"proportion", "rate"}
        Binomial or Poisson limits.
    levels : sequence of float, default (0.95, 0.998)
        Two-sided coverage of each pair of limits (about 2 and 3 SD).

    Returns
    -------
    pandas.DataFrame
        ``denominator`` and ``lower_<level>``/``upper_<level>`` per level, on the
        scale of `target`.

    Raises
    ------
    SpecError
        On a target outside its range, a bad level or kind.

    Notes
    -----
    Exact limits with interpolation (Spiegelhalter, Statist. Med. 2005;24:1185-1202,
    appendix A.1.1): with ``r_p`` the p-quantile of Bin(n, target) (or
    Poisson(n target)), ``alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1))`` and the
    limit is ``(r_p - alpha) / n``.

    Examples
    --------
    >>> lim = funnel_limits([100], target=0.2, levels=[0.95])
    >>> [round(float(lim[c].iloc[0]), 3) for c in ("lower_0.95", "upper_0.95")]
    [0.12, 0.276]
    """
    if kind not in ("proportion", "rate"):
        raise SpecError(f"funnel_limits(kind={kind!r}): use 'proportion' or 'rate'.",
                        [f"kind={kind!r}"])
    problems = []
    if not np.isfinite(target) or target < 0 or (kind == "proportion" and target > 1):
        problems.append(f"target {target!r} is outside the {kind} range")
    problems += [f"level {lv!r} is not in (0, 1)" for lv in levels if not 0 < lv < 1]
    if problems:
        raise SpecError("funnel_limits(): invalid arguments.", problems)
    n = np.asarray(denominators, dtype=float)
    out = pd.DataFrame({"denominator": n})
    pos = n > 0
    nn = np.where(pos, n, 1.0)
    for lv in levels:
        for side, p in (("lower", (1 - lv) / 2), ("upper", 1 - (1 - lv) / 2)):
            if kind == "proportion":
                dist = sps.binom(np.round(nn).astype(int), target)
            else:
                dist = sps.poisson(nn * target)
            r = dist.ppf(p)
            f_r, f_rm1 = dist.cdf(r), dist.cdf(r - 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                a = np.where(f_r > f_rm1, (f_r - p) / (f_r - f_rm1), 0.0)
            lim = np.clip((r - a) / nn, 0, 1 if kind == "proportion" else np.inf)
            out[f"{side}_{lv:g}"] = np.where(pos, lim, np.nan)
    return out
