"""Real-data study: enclaves and county change between the 2010 and 2020 censuses.

Design
------
Units are census consistent-boundary units (CBUs). A mountain county is
*treated* when it meets a :class:`~analysis.data.treatment.TreatmentRule` in
2011-2019 (default: an enclave in a developed partner area agreed by 2019),
i.e. between the two censuses. Counties treated before the 2010 baseline
(磐安's 1995 扶贫飞地) are dropped: they are treated in both periods.

Comparison groups:

``mountain``  the other mountain counties, not treated by 2020 under the rule
              (the most credible comparison: same programme, same terrain);
``rest``      all non-mountain units (a much less similar group);
``designation`` the mountain-26 designation itself as the treatment, against
              the other units.

Two-period DiD as a first-difference regression

.. math::

    \\Delta Y_i = \\alpha_{p(i)} + \\beta D_i + X_{i,2010}'\\gamma + \\varepsilon_i ,

with prefecture effects :math:`\\alpha_p`, baseline (2010) covariates
:math:`X` (log population and urbanisation by default) and
:math:`\\beta` the DiD effect. The same :math:`\\beta` is the coefficient of
:math:`D_i \\times 1\\{t = 2020\\}` in the two-period panel regression with unit
and period effects and covariate-by-period terms, which the tests use as an
independent route.

Inference: heteroskedasticity-robust (HC1) and prefecture-clustered (CR1)
standard errors; a wild cluster bootstrap over prefectures; randomisation
inference over the assignment of treatment among the sample's units (exact
enumeration when feasible), with family-wise (Holm, Romano-Wolf on the
permutation draws) and false-discovery-rate (Benjamini-Hochberg) control
across the outcome family. Data layer: real.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm

from analysis.data import census, registry
from analysis.data.treatment import DEFAULT_RULE, TreatmentRule, first_enclave_year
from analysis.errors import InputError
from analysis.inference.ties import count_at_least

Comparison = Literal["mountain", "rest", "designation"]

#: The outcome family (all from the census; long-form shares marked in labels).
OUTCOMES: tuple[str, ...] = (
    "log_pop",
    "urbanisation",
    "old_age_share",
    "edu_years",
    "college_share",
    "agri_share",
    "manuf_share",
    "services_share",
    "research_share",
    "professional_share",
)
DEFAULT_COVARIATES: tuple[str, ...] = ("log_pop", "urbanisation")
BASELINE, ENDLINE = 2010, 2020


def county_to_cbu() -> pd.Series:
    """Map 2020 county codes to census-level CBU ids."""
    cw = registry.load_crosswalk("census")
    cw = cw[cw["year"] == 2020]
    return cw.set_index("code")["cbu"]


@dataclass(frozen=True)
class StudySample:
    """The cross-section of CBUs used for one (rule, comparison) design.

    ``data`` has one row per CBU with ``cbu``, ``name``, ``prefecture``,
    ``treated`` (0/1), ``cohort`` (first enclave year or 0), 2010 levels
    ``<outcome>_2010``, 2020 levels ``<outcome>_2020`` and changes ``d_<outcome>``.
    """

    data: pd.DataFrame
    rule: TreatmentRule
    comparison: str
    dropped: tuple[str, ...]

    @property
    def n_treated(self) -> int:
        return int(self.data["treated"].sum())

    @property
    def n_units(self) -> int:
        return len(self.data)


def build_sample(
    rule: TreatmentRule = DEFAULT_RULE,
    comparison: Comparison = "mountain",
    panel: pd.DataFrame | None = None,
) -> StudySample:
    """Cross-section of CBUs for one design (see module docstring)."""
    if comparison not in ("mountain", "rest", "designation"):
        raise InputError(f"unknown comparison {comparison!r}; use mountain, rest or designation")
    panel = census.harmonised_census("census") if panel is None else panel
    wide = panel.pivot(index="cbu", columns="year", values=list(OUTCOMES))
    df = pd.DataFrame(index=wide.index)
    for y in OUTCOMES:
        df[f"{y}_{BASELINE}"] = wide[(y, BASELINE)]
        df[f"{y}_{ENDLINE}"] = wide[(y, ENDLINE)]
        df[f"d_{y}"] = df[f"{y}_{ENDLINE}"] - df[f"{y}_{BASELINE}"]
    meta = panel[panel["year"] == ENDLINE].set_index("cbu")
    df["name"] = meta["cbu_name_zh"]
    df["mountain26"] = meta["mountain26"].astype(bool)
    cbus = registry.cbu_table("census").set_index("cbu")
    df["prefecture"] = cbus.loc[df.index, "prefecture_code"].astype(int).to_numpy()

    first = first_enclave_year(rule)
    cbu_of = county_to_cbu()
    cohort = pd.Series(0, index=df.index, dtype="int64")
    for code, year in first.items():
        if year > 0:
            cohort.loc[cbu_of.loc[code]] = year
    df["cohort"] = cohort
    dropped: list[str] = []
    pre = df["cohort"].between(1, BASELINE)
    if pre.any():
        dropped.append(
            f"dropped {int(pre.sum())} unit(s) treated before the {BASELINE} baseline: "
            + ", ".join(df.loc[pre, "name"])
        )
        df = df.loc[~pre]
    enclave = df["cohort"].between(BASELINE + 1, rule.cutoff).astype(int)
    if comparison == "mountain":
        df = df.loc[df["mountain26"]].assign(treated=enclave[df["mountain26"]])
    elif comparison == "rest":
        keep = (~df["mountain26"]) | (enclave == 1)
        df = df.loc[keep].assign(treated=enclave[keep])
    else:
        df = df.assign(treated=df["mountain26"].astype(int))
    df = df.reset_index().sort_values("cbu", kind="mergesort").reset_index(drop=True)
    if df["treated"].sum() == 0 or df["treated"].sum() == len(df):
        raise InputError(
            f"rule {rule.name!r} with comparison {comparison!r} leaves no treated or no control units"
        )
    return StudySample(data=df, rule=rule, comparison=comparison, dropped=tuple(dropped))


# ------------------------------------------------------------------ estimation
def design_matrix(
    sample: StudySample,
    outcome: str,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    prefecture_effects: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(y, X, names)`` of the first-difference regression; column 1 of X is D."""
    d = sample.data
    cols = {"const": np.ones(len(d)), "treated": d["treated"].to_numpy(float)}
    for c in covariates:
        cols[f"{c}_{BASELINE}"] = d[f"{c}_{BASELINE}"].to_numpy(float)
    X = pd.DataFrame(cols)
    if prefecture_effects:
        dums = pd.get_dummies(d["prefecture"], prefix="pref", drop_first=True, dtype=float)
        X = pd.concat([X, dums.reset_index(drop=True)], axis=1)
    # drop columns that are constant zero (a prefecture with no units after filtering)
    X = X.loc[:, (X != 0).any(axis=0)]
    y = d[f"d_{outcome}"].to_numpy(float)
    return y, X.to_numpy(float), list(X.columns)


@dataclass(frozen=True)
class FDEstimate:
    outcome: str
    beta: float
    se_hc1: float
    se_cr1: float
    p_hc1: float
    p_cr1: float
    n: int
    n_treated: int
    n_clusters: int


def fd_regression(
    sample: StudySample,
    outcome: str,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    prefecture_effects: bool = True,
) -> FDEstimate:
    """First-difference DiD with prefecture effects; HC1 and prefecture-CR1 SEs.

    CR1 p-values use t(G-1) reference distribution (G = prefectures), HC1 uses
    t(n-k).
    """
    y, X, names = design_matrix(sample, outcome, covariates, prefecture_effects)
    groups = sample.data["prefecture"].to_numpy()
    fit = sm.OLS(y, X).fit()
    hc1 = fit.get_robustcov_results(cov_type="HC1")
    cr1 = fit.get_robustcov_results(
        cov_type="cluster", groups=groups, use_correction=True, df_correction=True
    )
    j = names.index("treated")
    return FDEstimate(
        outcome=outcome,
        beta=float(fit.params[j]),
        se_hc1=float(hc1.bse[j]),
        se_cr1=float(cr1.bse[j]),
        p_hc1=float(hc1.pvalues[j]),
        p_cr1=float(cr1.pvalues[j]),
        n=len(y),
        n_treated=sample.n_treated,
        n_clusters=len(np.unique(groups)),
    )


def balance_table(sample: StudySample, variables: tuple[str, ...] = OUTCOMES) -> pd.DataFrame:
    """2010 means by treatment status, difference and normalised difference."""
    d = sample.data
    rows = []
    for v in variables:
        a = d.loc[d["treated"] == 1, f"{v}_{BASELINE}"]
        b = d.loc[d["treated"] == 0, f"{v}_{BASELINE}"]
        sd = (
            math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
            if len(a) > 1 and len(b) > 1
            else float("nan")
        )
        rows.append(
            {
                "variable": v,
                "treated_mean": a.mean(),
                "control_mean": b.mean(),
                "difference": a.mean() - b.mean(),
                "normalised_difference": (a.mean() - b.mean()) / sd
                if sd and sd > 0
                else float("nan"),
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------- randomisation inference
def _residual_maker(Z: np.ndarray) -> np.ndarray:
    """M = I - Z (Z'Z)^+ Z' (pseudo-inverse handles collinear controls)."""
    return np.eye(Z.shape[0]) - Z @ np.linalg.pinv(Z)


def assignments(
    n: int, n_treated: int, *, exact_limit: int = 200_000, n_draws: int = 9999, seed: int = 0
) -> tuple[np.ndarray, bool]:
    """All treatment vectors with ``n_treated`` ones among ``n`` units (exact
    when there are at most ``exact_limit``), else ``n_draws`` seeded draws."""
    treated = np.zeros(n, dtype=np.int8)
    treated[:n_treated] = 1
    return stratified_assignments(
        treated, np.zeros(n, dtype=int), exact_limit=exact_limit, n_draws=n_draws, seed=seed
    )


def stratified_assignments(
    treated: np.ndarray,
    strata: np.ndarray,
    *,
    exact_limit: int = 200_000,
    n_draws: int = 9999,
    seed: int = 0,
) -> tuple[np.ndarray, bool]:
    """Permutations of ``treated`` within strata: exact when few, else seeded draws.

    Returns ``(A, exact)``, ``A`` of shape (R, n). Monte Carlo draws run through
    :func:`analysis.inference.engine.run_draws` (seeded blocks) and do not
    include the observed assignment (the p-value formula adds it).
    """
    from analysis.inference.engine import run_draws

    treated = np.asarray(treated, dtype=np.int8)
    levels = np.unique(strata)
    parts = []
    total = 1
    for s in levels:
        idx = np.flatnonzero(strata == s)
        k = int(treated[idx].sum())
        parts.append((idx, k))
        total *= math.comb(len(idx), k)
    n = len(treated)
    if total <= exact_limit:
        per = []
        for idx, k in parts:
            per.append([idx[list(c)] for c in itertools.combinations(range(len(idx)), k)])
        A = np.zeros((total, n), dtype=np.int8)
        for r, combo in enumerate(itertools.product(*per)):
            for chosen in combo:
                A[r, chosen] = 1
        return A, True

    def draw(rng: np.random.Generator, size: int) -> np.ndarray:
        out = np.zeros((size, n), dtype=np.int8)
        for r in range(size):
            for idx, k in parts:
                out[r, rng.choice(idx, size=k, replace=False)] = 1
        return out

    return run_draws(draw, n_draws, seed, block=1000, backend="serial"), False


@dataclass(frozen=True)
class RIResult:
    """Randomisation inference for every outcome under one set of assignments."""

    outcomes: tuple[str, ...]
    observed: np.ndarray  # (K,)
    draws: np.ndarray  # (R, K) coefficients under re-assigned treatment
    exact: bool
    p_values: np.ndarray  # (K,) two-sided
    n_assignments: int
    design: str


def randomization_inference(
    sample: StudySample,
    outcomes: tuple[str, ...] = OUTCOMES,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    *,
    strata: Literal["none", "prefecture"] = "none",
    exact_limit: int = 200_000,
    n_draws: int = 9999,
    seed: int = 0,
    prefecture_effects: bool = True,
) -> RIResult:
    """RI p-values for the FD coefficient of every outcome, sharing the draws.

    The FD coefficient is computed by Frisch-Waugh for all assignments at once:
    ``beta(D) = (M D)'(M dY) / (M D)'(M D)`` with ``M`` the residual maker of
    the controls (constant, baseline covariates, prefecture effects). Two-sided
    p-value: exact proportion of assignments with ``|beta*| >= |beta|`` (the
    observed assignment is among them); Monte Carlo: ``(1 + #) / (1 + R)``.
    """
    d = sample.data
    Ys, Z = [], None
    for o in outcomes:
        y, X, names = design_matrix(sample, o, covariates, prefecture_effects)
        j = names.index("treated")
        Z = np.delete(X, j, axis=1)
        Ys.append(y)
    Y = np.column_stack(Ys)
    M = _residual_maker(Z)
    MY = M @ Y
    treated = d["treated"].to_numpy(np.int8)
    if strata == "prefecture":
        A, exact = stratified_assignments(
            treated, d["prefecture"].to_numpy(), exact_limit=exact_limit, n_draws=n_draws, seed=seed
        )
        design = "treatment permuted within prefectures"
    else:
        A, exact = assignments(
            len(d), int(treated.sum()), exact_limit=exact_limit, n_draws=n_draws, seed=seed
        )
        design = "treatment permuted among all sample units"
    MD = M @ A.T.astype(float)  # (n, R)
    denom = np.einsum("ir,ir->r", MD, MD)
    valid = denom > 1e-12  # assignments collinear with the controls carry no information
    draws = (MD.T @ MY)[valid] / denom[valid, None]
    own = np.flatnonzero((A == treated[None, :]).all(axis=1) & valid) if exact else []
    if len(own) == 1:
        # tie policy (analysis.inference.ties): the observed assignment is one of the
        # enumerated ones, so its statistic is taken from its own row of the draws
        observed = draws[int(valid[: own[0]].sum())].copy()
    else:
        md_obs = M @ treated.astype(float)
        observed = (md_obs @ MY) / (md_obs @ md_obs)
    exceed = count_at_least(np.abs(draws), np.abs(observed))
    if exact:
        p = exceed / draws.shape[0]
    else:
        p = (1 + exceed) / (1 + draws.shape[0])
    return RIResult(
        outcomes=tuple(outcomes),
        observed=observed,
        draws=draws,
        exact=exact,
        p_values=p,
        n_assignments=int(draws.shape[0]),
        design=design,
    )


def two_period_panel(
    sample: StudySample, outcome: str, covariates: tuple[str, ...] = DEFAULT_COVARIATES
) -> pd.DataFrame:
    """Long 2010/2020 panel of the sample for panel estimators (cohort 2020 = treated)."""
    d = sample.data
    base = pd.DataFrame(
        {
            "cbu": d["cbu"],
            "cohort": np.where(d["treated"] == 1, ENDLINE, 0),
            "prefecture": d["prefecture"],
            **{f"{c}_{BASELINE}": d[f"{c}_{BASELINE}"] for c in covariates},
        }
    )
    rows = []
    for year in (BASELINE, ENDLINE):
        rows.append(base.assign(year=year, y=d[f"{outcome}_{year}"].to_numpy()))
    return pd.concat(rows, ignore_index=True)


def dr_did(sample: StudySample, outcome: str, covariates: tuple[str, ...] = DEFAULT_COVARIATES):
    """Doubly-robust 2x2 DiD (Sant'Anna & Zhao 2020) with 2010 covariates.

    Uses :func:`analysis.estimators.cs.callaway_santanna` on the two-period
    panel (one cohort, never-treated comparison), so the estimate is the
    DRDID panel estimator with analytic influence-function standard errors.
    """
    from analysis.estimators.cs import callaway_santanna

    panel = two_period_panel(sample, outcome, covariates)
    return callaway_santanna(
        panel,
        outcome="y",
        unit="cbu",
        time="year",
        cohort="cohort",
        covariates=tuple(f"{c}_{BASELINE}" for c in covariates),
        control="never",
        est_method="dr",
        data_layer="real (census)",
    )


# ------------------------------------------------------------------ the study
#: Labels of the outcomes for tables (long-form shares marked *).
OUTCOME_LABELS: dict[str, str] = {**census.OUTCOME_LABELS}

WILD_SETTINGS = {"B": 9999, "weights": "webb", "seed": 0}


def wild_p(sample: StudySample, outcome: str, covariates: tuple[str, ...] = DEFAULT_COVARIATES):
    """Wild cluster bootstrap (WCR, Webb weights) over prefectures for the FD coefficient."""
    from analysis.inference.wild import wild_cluster_bootstrap

    y, X, names = design_matrix(sample, outcome, covariates)
    return wild_cluster_bootstrap(
        y, X, sample.data["prefecture"].to_numpy(), names.index("treated"), **WILD_SETTINGS
    )


def main_table(
    sample: StudySample,
    outcomes: tuple[str, ...] = OUTCOMES,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    ri: RIResult | None = None,
) -> pd.DataFrame:
    """Estimates and the three kinds of p-values, with multiple-testing adjustments.

    Columns: outcome, beta, se_hc1, p_hc1, se_cr1, p_cr1, p_wild, wild_ci_low/high,
    p_ri, p_ri_holm, p_ri_bh, p_ri_romano_wolf, dr_att, dr_se, dr_p, sd_control
    (s.d. of the change among controls), effect_sd (beta / sd_control).
    """
    from scipy import stats

    from analysis.inference.multitest import benjamini_hochberg, holm, romano_wolf

    ri = ri or randomization_inference(sample, outcomes, covariates)
    rows = []
    for k, o in enumerate(outcomes):
        fd = fd_regression(sample, o, covariates)
        w = wild_p(sample, o, covariates)
        dr = dr_did(sample, o, covariates)
        ctrl = sample.data.loc[sample.data["treated"] == 0, f"d_{o}"]
        rows.append(
            {
                "outcome": o,
                "beta": fd.beta,
                "se_hc1": fd.se_hc1,
                "p_hc1": fd.p_hc1,
                "se_cr1": fd.se_cr1,
                "p_cr1": fd.p_cr1,
                "p_wild": w.p_value,
                "wild_ci_low": w.ci[0],
                "wild_ci_high": w.ci[1],
                "p_ri": float(ri.p_values[k]),
                "dr_att": dr.att,
                "dr_se": dr.se,
                "dr_p": float(2 * stats.norm.sf(abs(dr.att / dr.se))),
                "sd_control": float(ctrl.std(ddof=1)),
            }
        )
    out = pd.DataFrame(rows)
    out["effect_sd"] = out["beta"] / out["sd_control"]
    out["p_ri_holm"] = holm(out["p_ri"].to_numpy())
    out["p_ri_bh"] = benjamini_hochberg(out["p_ri"].to_numpy())
    # Romano-Wolf on the permutation draws, studentised by the permutation s.d.
    scale = ri.draws.std(axis=0, ddof=1)
    out["p_ri_romano_wolf"] = romano_wolf(
        ri.observed / scale, ri.draws / scale, plus_one=not ri.exact
    )
    return out


def rules_table(
    outcomes: tuple[str, ...] = OUTCOMES, panel: pd.DataFrame | None = None
) -> pd.DataFrame:
    """FD estimates and exact/MC RI p-values under every alternative treatment rule."""
    from analysis.data.treatment import ALTERNATIVE_RULES

    panel = census.harmonised_census("census") if panel is None else panel
    rows = []
    for rule in (DEFAULT_RULE, *ALTERNATIVE_RULES):
        try:
            s = build_sample(rule, "mountain", panel)
        except InputError as e:
            rows.append(
                {"rule": rule.name, "description": rule.describe(), "n_treated": 0, "note": str(e)}
            )
            continue
        ri = randomization_inference(s, outcomes)
        for k, o in enumerate(outcomes):
            rows.append(
                {
                    "rule": rule.name,
                    "description": rule.describe(),
                    "n_treated": s.n_treated,
                    "n_units": s.n_units,
                    "outcome": o,
                    "beta": float(ri.observed[k]),
                    "p_ri": float(ri.p_values[k]),
                    "exact": ri.exact,
                    "note": "",
                }
            )
    return pd.DataFrame(rows)


def comparisons_table(
    outcomes: tuple[str, ...] = OUTCOMES, panel: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The default treatment against the three comparison groups (FD, HC1 and RI p).

    Prefecture effects are used only within the mountain sample: Quzhou and
    Lishui consist of mountain counties only, so against non-mountain units
    their effects would absorb the treated units' comparison.
    """
    panel = census.harmonised_census("census") if panel is None else panel
    rows = []
    for comp in ("mountain", "rest", "designation"):
        s = build_sample(DEFAULT_RULE, comp, panel)  # type: ignore[arg-type]
        fe = comp == "mountain"
        ri = randomization_inference(s, outcomes, prefecture_effects=fe)
        for k, o in enumerate(outcomes):
            fd = fd_regression(s, o, prefecture_effects=fe)
            rows.append(
                {
                    "comparison": comp,
                    "prefecture_effects": fe,
                    "n_treated": s.n_treated,
                    "n_units": s.n_units,
                    "outcome": o,
                    "beta": fd.beta,
                    "p_hc1": fd.p_hc1,
                    "p_ri": float(ri.p_values[k]),
                    "ri_exact": ri.exact,
                }
            )
    return pd.DataFrame(rows)


def leave_one_prefecture_out(
    sample: StudySample, outcomes: tuple[str, ...] = OUTCOMES
) -> pd.DataFrame:
    """FD estimates dropping one prefecture at a time (where treated and controls remain)."""
    rows = []
    for p in sorted(sample.data["prefecture"].unique()):
        d = sample.data[sample.data["prefecture"] != p].reset_index(drop=True)
        if d["treated"].sum() == 0 or d["treated"].sum() == len(d):
            continue
        sub = StudySample(
            data=d,
            rule=sample.rule,
            comparison=sample.comparison,
            dropped=(*sample.dropped, f"prefecture {p} left out"),
        )
        for o in outcomes:
            fd = fd_regression(sub, o)
            rows.append(
                {
                    "dropped_prefecture": int(p),
                    "n_units": len(d),
                    "n_treated": int(d["treated"].sum()),
                    "outcome": o,
                    "beta": fd.beta,
                    "p_hc1": fd.p_hc1,
                }
            )
    return pd.DataFrame(rows)
