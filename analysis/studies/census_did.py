"""Real-data study: enclaves and county change between the 2010 and 2020 censuses.

Design
------
Units are census consistent-boundary units (CBUs). A mountain county is
*treated* when it meets a :class:`~analysis.data.treatment.TreatmentRule` in
2011-2019 (default: an enclave in a developed partner area agreed by 2019),
i.e. between the two censuses. Counties treated before the 2010 baseline
(磐安's 1995 扶贫飞地) are dropped: they are treated in both periods.

Comparison groups:

``mountain``
    the other mountain counties, not treated by 2020 under the rule
    (the most credible comparison: same programme, same terrain);
``rest``
    all non-mountain units (a much less similar group);
``designation``
    the mountain-26 designation itself as the treatment, against the other units.

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

import math
import warnings
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm

from analysis.data import census, registry
from analysis.data.treatment import DEFAULT_RULE, TreatmentRule, first_enclave_year
from analysis.errors import InputError
from analysis.estimators import registry as estimators
from analysis.inference.ri import RIFamily, regression_randomization_test

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
    #: census year at which the baseline covariates ``<covariate>_<baseline>`` are measured
    baseline: int = BASELINE

    @property
    def n_treated(self) -> int:
        return int(self.data["treated"].sum())

    @property
    def n_units(self) -> int:
        return len(self.data)

    def without_prefecture(self, prefecture: int) -> StudySample:
        """The sample without one prefecture's units (noted in ``dropped``)."""
        d = self.data[self.data["prefecture"] != prefecture].reset_index(drop=True)
        return replace(self, data=d, dropped=(*self.dropped, f"prefecture {prefecture} left out"))


def _drop_pre_baseline(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop the units treated before the baseline census (treated in both periods)."""
    pre = df["cohort"].between(1, BASELINE)
    if not pre.any():
        return df, []
    note = f"dropped {int(pre.sum())} unit(s) treated before the {BASELINE} baseline: " + ", ".join(
        df.loc[pre, "name"]
    )
    return df.loc[~pre], [note]


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
    df, dropped = _drop_pre_baseline(df)
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
        cols[f"{c}_{sample.baseline}"] = d[f"{c}_{sample.baseline}"].to_numpy(float)
    X = pd.DataFrame(cols)
    if prefecture_effects:
        dums = pd.get_dummies(d["prefecture"], prefix="pref", drop_first=True, dtype=float)
        X = pd.concat([X, dums.reset_index(drop=True)], axis=1)
    # drop columns that are constant zero (a prefecture with no units after filtering)
    X = X.loc[:, (X != 0).any(axis=0)]
    y = d[f"d_{outcome}"].to_numpy(float)
    return y, X.to_numpy(float), list(X.columns)


def fd_fit(
    sample: StudySample,
    outcome: str,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    prefecture_effects: bool = True,
):
    """The first-difference regression as a statsmodels result (HC1), named terms.

    Same design as :func:`fd_regression` (one :func:`design_matrix`); for
    regression tables.
    """
    y, X, names = design_matrix(sample, outcome, covariates, prefecture_effects)
    return sm.OLS(pd.Series(y, name=f"d_{outcome}"), pd.DataFrame(X, columns=names)).fit(
        cov_type="HC1"
    )


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
#: Exact enumeration up to ``exact_limit`` assignments, else Monte Carlo draws.
RI_SETTINGS = {"exact_limit": 200_000, "n_draws": 9999, "seed": 0}


def randomization_inference(
    sample: StudySample,
    outcomes: tuple[str, ...] = OUTCOMES,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    *,
    strata: Literal["none", "prefecture"] = "none",
    exact_limit: int = RI_SETTINGS["exact_limit"],
    n_draws: int = RI_SETTINGS["n_draws"],
    seed: int = RI_SETTINGS["seed"],
    prefecture_effects: bool = True,
) -> RIFamily:
    """RI p-values for the FD coefficient of every outcome, sharing the assignments.

    :func:`analysis.inference.ri.regression_randomization_test` on the
    first-difference design: the treatment is re-assigned among the sample's
    units (``strata="prefecture"``: within prefectures), the controls are the
    constant, the baseline covariates and the prefecture effects of
    :func:`design_matrix`. Exact enumeration when there are at most
    ``exact_limit`` assignments, else ``n_draws`` Monte Carlo draws (``seed``).
    Assignments collinear with the controls do not identify the coefficient
    and are left out (``n_draws`` of the result counts the ones used).
    """
    d = sample.data
    ys = {}
    for o in outcomes:
        y, X, names = design_matrix(sample, o, covariates, prefecture_effects)
        ys[o] = y
    controls = np.delete(X, names.index("treated"), axis=1)
    by_pref = strata == "prefecture"
    return regression_randomization_test(
        pd.DataFrame(ys),
        d["treated"].to_numpy(),
        controls,
        strata=d["prefecture"].to_numpy() if by_pref else None,
        strata_column="prefecture" if by_pref else None,
        exact="auto",
        max_exact=exact_limit,
        n_draws=n_draws,
        seed=seed,
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

    Uses the registry's ``cs`` (:func:`analysis.estimators.cs.callaway_santanna`)
    on the two-period panel (one cohort, never-treated comparison), so the
    estimate is the DRDID panel estimator with analytic influence-function
    standard errors. Two periods leave no pre-treatment ATT(g,t): the
    estimator's warning that there is no pre-trend test is expected here.
    """
    panel = two_period_panel(sample, outcome, covariates)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="no pre-treatment ATT", category=UserWarning)
        return estimators.get_spec("cs").func(
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
    ri: RIFamily | None = None,
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
        dr = dr_did(sample, o, covariates)
        ctrl = sample.data.loc[sample.data["treated"] == 0, f"d_{o}"]
        rows.append(
            {
                "outcome": o,
                **_fd_wild_row(sample, o, covariates)[0],
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
        sub = sample.without_prefecture(p)
        d = sub.data
        if d["treated"].sum() == 0 or d["treated"].sum() == len(d):
            continue
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


# ------------------------------------------- the third census: a real pre-period
#: Start of the pre-period: the 5th census (2000), total population only.
PRE_BASELINE = 2000
#: The covariate available in all three censuses (2000 has total population only).
PRE_COVARIATES: tuple[str, ...] = ("log_pop",)


def three_census_sample(
    start: int,
    end: int,
    rule: TreatmentRule = DEFAULT_RULE,
    population: pd.DataFrame | None = None,
) -> StudySample:
    """Mountain-county cross-section on three-census units for log population.

    Units are the three-census units of
    :func:`analysis.data.census.three_census_population` (census CBUs merged
    where the 2000 boundaries differ: among the mountain counties only
    柯城+衢江). Treatment and comparison are coded exactly as in
    :func:`build_sample` with ``comparison="mountain"`` (磐安, treated before
    2010, dropped). ``d_log_pop`` is ``log_pop[end] - log_pop[start]``; the
    baseline covariate is ``log_pop_2000`` (``baseline = 2000``), the one
    covariate measured before both periods. With ``start=2010, end=2000`` the
    coefficient is the event-study coefficient of 2000 relative to 2010.
    """
    years = (PRE_BASELINE, BASELINE, ENDLINE)
    if start not in years or end not in years or start == end:
        raise InputError(f"start and end must be two different census years of {years}")
    pop = census.three_census_population() if population is None else population
    wide = pop.pivot(index="tcu", columns="year", values="log_pop")
    meta = pop.drop_duplicates("tcu").set_index("tcu")
    groups = census.three_census_groups()
    counties = registry.load_counties().set_index("code")
    df = pd.DataFrame(index=wide.index)
    for y in years:
        df[f"log_pop_{y}"] = wide[y]
    df["d_log_pop"] = df[f"log_pop_{end}"] - df[f"log_pop_{start}"]
    df["name"] = meta["tcu_name_zh"]
    df["mountain26"] = meta["mountain26"].astype(bool)
    pref = groups.assign(p=groups["code"].map(counties["prefecture_code"])).groupby("tcu")["p"]
    if (pref.nunique() != 1).any():
        raise ValueError("a three-census unit spans two prefectures")
    df["prefecture"] = pref.first().loc[df.index].astype(int)
    first = first_enclave_year(rule)
    tcu_of = groups.set_index("code")["tcu"]
    coh = pd.DataFrame({"tcu": tcu_of.loc[first.index].to_numpy(), "year": first.to_numpy()})
    by_unit = coh.groupby("tcu")["year"]
    mixed = by_unit.apply(lambda s: (s > 0).any() and (s == 0).any())
    if mixed.any():
        raise InputError(
            f"three-census unit(s) {sorted(mixed[mixed].index)} mix treated and untreated counties"
        )
    df["cohort"] = by_unit.max().reindex(df.index).fillna(0).astype("int64")
    df = df.loc[df["mountain26"]]
    df, dropped = _drop_pre_baseline(df)
    df["treated"] = df["cohort"].between(BASELINE + 1, rule.cutoff).astype(int)
    df = df.rename_axis("cbu").reset_index().sort_values("cbu", kind="mergesort")
    return StudySample(
        data=df.reset_index(drop=True),
        rule=rule,
        comparison="mountain",
        dropped=tuple(dropped),
        baseline=PRE_BASELINE,
    )


def _fd_wild_row(
    sample: StudySample, outcome: str, covariates: tuple[str, ...]
) -> tuple[dict[str, float], FDEstimate]:
    """The FD coefficient with its HC1, CR1 and wild-bootstrap inference (table columns)."""
    fd = fd_regression(sample, outcome, covariates)
    w = wild_p(sample, outcome, covariates)
    row = {
        "beta": fd.beta,
        "se_hc1": fd.se_hc1,
        "p_hc1": fd.p_hc1,
        "se_cr1": fd.se_cr1,
        "p_cr1": fd.p_cr1,
        "p_wild": w.p_value,
        "wild_ci_low": w.ci[0],
        "wild_ci_high": w.ci[1],
    }
    return row, fd


def _inference_row(sample: StudySample, covariates: tuple[str, ...]) -> dict[str, float]:
    """The main table's estimator and inference for ``d_log_pop`` of one sample."""
    row, fd = _fd_wild_row(sample, "log_pop", covariates)
    ri = randomization_inference(sample, ("log_pop",), covariates)
    return {
        **row,
        "p_ri": float(ri.p_values[0]),
        "ri_exact": bool(ri.exact),
        "ri_n_assignments": ri.n_draws,
        "n_units": fd.n,
        "n_treated": fd.n_treated,
        "n_clusters": fd.n_clusters,
    }


def pretrend_table(rule: TreatmentRule = DEFAULT_RULE) -> pd.DataFrame:
    """Log population: the 2000-2010 pre-trend test beside the 2010-2020 change.

    Both rows use the main table's estimator -- the first-difference
    regression with prefecture effects and the start-of-period log population
    -- and its inference (HC1, CR1 by prefecture, wild cluster bootstrap,
    exact randomisation inference), on the same three-census units. The
    pre-trend row regresses :math:`\\log P_{2010} - \\log P_{2000}` on
    treatment (enclave agreed 2011-2019): under parallel trends its
    coefficient is zero. Data layer: real.
    """
    rows = []
    pop = census.three_census_population()
    for label, start, end in (
        ("pre-trend 2000-2010", PRE_BASELINE, BASELINE),
        ("2010-2020", BASELINE, ENDLINE),
    ):
        s = three_census_sample(start, end, rule, pop)
        # start-of-period log population as the baseline covariate
        s = replace(s, baseline=start)
        rows.append({"period": label, **_inference_row(s, PRE_COVARIATES)})
    return pd.DataFrame(rows)


def event_study_table(rule: TreatmentRule = DEFAULT_RULE) -> pd.DataFrame:
    """Three-period event study of log population, 2010 the reference census.

    For each census year :math:`t \\in \\{2000, 2020\\}` the coefficient
    :math:`\\delta_t` of

    .. math::

        \\log P_{it} - \\log P_{i,2010} = \\alpha_{p(i)} + \\delta_t D_i
        + \\gamma_t \\log P_{i,2000} + \\varepsilon_{it},

    i.e. the event-study regression with unit effects, prefecture-by-census
    effects and 2000 log population by census, estimated census by census
    (the regressions are separable). :math:`\\delta_{2010} = 0` by
    normalisation; :math:`\\delta_{2000} = 0` is the pre-trend test in event
    form (it equals minus the 2000-2010 coefficient with the same covariate).
    Inference as in the main table. Data layer: real.
    """
    pop = census.three_census_population()
    rows = []
    for year in (PRE_BASELINE, BASELINE, ENDLINE):
        if year == BASELINE:
            s = three_census_sample(BASELINE, ENDLINE, rule, pop)
            rows.append(
                {
                    "census": year,
                    "beta": 0.0,
                    "n_units": s.n_units,
                    "n_treated": s.n_treated,
                    "reference": True,
                }
            )
            continue
        s = three_census_sample(BASELINE, year, rule, pop)
        rows.append({"census": year, **_inference_row(s, PRE_COVARIATES), "reference": False})
    out = pd.DataFrame(rows)
    z = 1.959963984540054
    out["hc1_ci_low"] = out["beta"] - z * out["se_hc1"]
    out["hc1_ci_high"] = out["beta"] + z * out["se_hc1"]
    return out


# ------------------------------------------------ what a referee asks about
#: Lishui (丽水市), the prefecture of 4 of the 5 treated counties.
LISHUI = 331100


def prefecture_concentration(sample: StudySample) -> pd.DataFrame:
    """Treated and comparison units per prefecture of the sample."""
    counties = registry.load_counties().drop_duplicates("prefecture_code")
    names = counties.set_index("prefecture_code")["prefecture_zh"]
    d = sample.data
    out = (
        d.groupby("prefecture")
        .agg(n_units=("treated", "size"), n_treated=("treated", "sum"))
        .reset_index()
    )
    out.insert(1, "prefecture_zh", out["prefecture"].map(names))
    out["n_comparison"] = out["n_units"] - out["n_treated"]
    out["treated_units"] = [
        ", ".join(d.loc[(d["prefecture"] == p) & (d["treated"] == 1), "name"])
        for p in out["prefecture"]
    ]
    return out


def drop_prefecture_table(
    sample: StudySample, prefecture: int = LISHUI, outcomes: tuple[str, ...] = OUTCOMES
) -> pd.DataFrame:
    """Full-sample coefficient beside the coefficient without one prefecture.

    Without Lishui only one treated county is left, so the coefficient is a
    single county's deviation from its comparison counties: no p-value is
    reported for it (none is valid with one treated unit).
    """
    sub = sample.without_prefecture(prefecture)
    rows = []
    for o in outcomes:
        full = fd_regression(sample, o).beta
        without = fd_regression(sub, o).beta
        rows.append(
            {
                "outcome": o,
                "beta_full": full,
                "beta_without": without,
                "sign_flip": bool(np.sign(full) != np.sign(without)),
                "n_treated_without": sub.n_treated,
                "n_units_without": sub.n_units,
            }
        )
    return pd.DataFrame(rows)


def lopo_table(sample: StudySample, outcomes: tuple[str, ...] = OUTCOMES) -> pd.DataFrame:
    """Leave one prefecture out, with each row's status stated.

    Columns of :func:`leave_one_prefecture_out` plus ``n_left_out`` (units
    dropped), ``status`` and ``p_ri`` (exact randomisation p-value in the
    reduced sample). ``status`` is

    * ``"repeats full sample"`` when the prefecture has one unit in the
      sample: its prefecture effect absorbs that unit, so dropping it changes
      nothing (the coefficient equals the full-sample one);
    * ``"one treated unit"`` when a single treated county remains: HC1 and RI
      p-values are blanked, since no p-value from one treated unit is valid
      (the HC1 variance of a single treated residual is degenerate and RI has
      at most n assignments);
    * ``""`` otherwise.
    """
    base = leave_one_prefecture_out(sample, outcomes)
    sizes = sample.data.groupby("prefecture").size()
    base["n_left_out"] = base["dropped_prefecture"].map(sizes).astype(int)
    base["status"] = np.select(
        [base["n_left_out"] == 1, base["n_treated"] == 1],
        ["repeats full sample", "one treated unit"],
        default="",
    )
    base["p_ri"] = np.nan
    for p in base["dropped_prefecture"].unique():
        rows = base["dropped_prefecture"] == p
        if (base.loc[rows, "n_treated"] < 2).any():
            continue
        ri = randomization_inference(sample.without_prefecture(p), outcomes)
        base.loc[rows, "p_ri"] = base.loc[rows, "outcome"].map(
            dict(zip(outcomes, ri.p_values, strict=True))
        )
    base.loc[base["status"] == "one treated unit", "p_hc1"] = np.nan
    cols = ["dropped_prefecture", "n_left_out", "n_units", "n_treated", "status", "outcome"]
    return base[[*cols, "beta", "p_ri", "p_hc1"]]


# --------------------------------------------- outputs: tables, figures, numbers
#: Readable column headers of the published tables.
_HEADERS = {
    "outcome": "Outcome",
    "beta": "Estimate",
    "p_ri": "RI p (exact)",
    "p_wild": "Wild p",
    "wild_ci_low": "Wild CI low",
    "wild_ci_high": "Wild CI high",
    "p_ri_holm": "RI p, Holm",
    "p_ri_bh": "RI p, BH",
    "p_ri_romano_wolf": "RI p, Romano-Wolf",
    "dr_att": "DR 2x2",
    "dr_p": "DR p",
    "se_hc1": "SE (HC1)",
    "p_hc1": "HC1 p",
    "se_cr1": "SE (CR1)",
    "p_cr1": "CR1 p",
}

_MAIN_COLUMNS = (
    "outcome",
    "beta",
    "p_ri",
    "p_wild",
    "p_ri_holm",
    "p_ri_bh",
    "p_ri_romano_wolf",
    "dr_att",
    "dr_p",
    "se_hc1",
    "p_hc1",
    "p_cr1",
)


def _ri_phrase(ri: RIFamily) -> str:
    """How the RI p-values were computed, for table notes."""
    if ri.exact:
        return f"exact over all {ri.n_draws:,} identified assignments"
    return f"Monte Carlo ({RI_SETTINGS['n_draws']:,} draws, seed {RI_SETTINGS['seed']})"


def design_notes(sample: StudySample, ri: RIFamily) -> list[str]:
    """The notes every census-DiD table carries (data layer, design, inference)."""
    lishui = int(sample.data.loc[sample.data["prefecture"] == LISHUI, "treated"].sum())
    n_pref = int(sample.data["prefecture"].nunique())
    return [
        "Data layer: real (2010 and 2020 censuses; consistent-boundary units).",
        f"Treatment: {sample.rule.describe()}; {sample.n_treated} treated and "
        f"{sample.n_units - sample.n_treated} comparison mountain counties in "
        f"{sample.data['prefecture'].nunique()} prefectures ({lishui} of the "
        f"{sample.n_treated} treated counties are in Lishui); " + "; ".join(sample.dropped) + ".",
        "First-difference regression with prefecture effects and 2010 log population and "
        f"urbanisation. Valid inference with {sample.n_treated} treated units in {n_pref} "
        f"prefectures: randomisation inference, {_ri_phrase(ri)} of the "
        f"{sample.n_treated} treated units, and the wild cluster bootstrap (WCR, Webb weights, "
        f"{WILD_SETTINGS['B']:,} draws, seed {WILD_SETTINGS['seed']}) over prefectures. Holm, "
        "Benjamini-Hochberg and Romano-Wolf adjust the RI p-values across the outcome family. "
        "DR: doubly-robust 2x2 (Sant'Anna-Zhao), same covariates, analytic SE. HC1 and CR1 "
        f"(by prefecture, t with G-1 df) are shown last for reference only: with {n_pref} "
        f"clusters and {sample.n_treated} treated units they over-reject.",
        census.LONG_FORM_NOTE + ".",
    ]


def write_outputs(paper_dir=None) -> dict[str, float]:
    """Run the census study; write its tables and figures under ``paper_dir``.

    Returns every number the paper quotes from this study (keys ``did.*``).
    With ``paper_dir=None`` nothing is written (``enclave verify``).
    """
    from scipy import stats as _st

    panel = census.harmonised_census("census")
    sample = build_sample(panel=panel)
    ri = randomization_inference(sample)
    main = main_table(sample, ri=ri)
    numbers: dict[str, float] = {
        "did.n_units": sample.n_units,
        "did.n_treated": sample.n_treated,
        "did.n_controls": sample.n_units - sample.n_treated,
        "did.n_prefectures": int(sample.data["prefecture"].nunique()),
        "did.ri_n_assignments": ri.n_draws,
        "did.n_outcomes": len(main),
    }
    for r in main.itertuples(index=False):
        for col in (
            "beta",
            "p_hc1",
            "p_cr1",
            "p_wild",
            "p_ri",
            "p_ri_holm",
            "p_ri_bh",
            "p_ri_romano_wolf",
            "dr_att",
            "dr_p",
            "effect_sd",
        ):
            numbers[f"did.{r.outcome}.{col}"] = float(getattr(r, col))
    for col in ("p_hc1", "p_cr1", "p_wild", "p_ri", "p_ri_holm", "p_ri_bh", "p_ri_romano_wolf"):
        numbers[f"did.n_sig05.{col}"] = int((main[col] < 0.05).sum())
    numbers["did.n_sig05.dr_p"] = int((main["dr_p"] < 0.05).sum())
    numbers["did.n_sig05.any_adjusted"] = int(
        (main[["p_ri_holm", "p_ri_bh", "p_ri_romano_wolf"]].min(axis=1) < 0.05).sum()
    )
    # minimum detectable effect at 5% / 80% power, (z_.975 + z_.8) x SE, in s.d. of the change
    mult = _st.norm.ppf(0.975) + _st.norm.ppf(0.8)
    numbers["did.mde_sd_median"] = float((mult * main["se_hc1"] / main["sd_control"]).median())

    conc = prefecture_concentration(sample)
    numbers["did.lishui.n_treated"] = int(
        conc.loc[conc["prefecture"] == LISHUI, "n_treated"].iloc[0]
    )
    numbers["did.lishui.n_units"] = int(conc.loc[conc["prefecture"] == LISHUI, "n_units"].iloc[0])
    numbers["did.lishui.n_comparison"] = int(
        conc.loc[conc["prefecture"] == LISHUI, "n_comparison"].iloc[0]
    )
    numbers["did.n_prefectures_with_treated"] = int((conc["n_treated"] > 0).sum())
    nol = drop_prefecture_table(sample)
    numbers["did.no_lishui.n_treated"] = int(nol["n_treated_without"].iloc[0])
    numbers["did.no_lishui.n_units"] = int(nol["n_units_without"].iloc[0])
    numbers["did.no_lishui.n_sign_flips"] = int(nol["sign_flip"].sum())
    for r in nol.itertuples(index=False):
        numbers[f"did.no_lishui.{r.outcome}.beta"] = float(r.beta_without)

    lopo = lopo_table(sample)
    numbers["did.lopo.n_fits"] = int(len(lopo))
    numbers["did.lopo.n_sig05"] = int((lopo["p_hc1"] < 0.05).sum())
    per_pref = lopo.drop_duplicates("dropped_prefecture")
    numbers["did.lopo.n_prefectures"] = int(len(per_pref))
    numbers["did.lopo.n_repeat_full"] = int((per_pref["status"] == "repeats full sample").sum())
    numbers["did.lopo.n_one_treated"] = int((per_pref["status"] == "one treated unit").sum())
    valid = lopo[lopo["status"] == ""]
    numbers["did.lopo.n_informative"] = int(valid["dropped_prefecture"].nunique())
    numbers["did.lopo.n_sig05_ri"] = int((valid["p_ri"] < 0.05).sum())

    pre = pretrend_table(sample.rule)
    ev = event_study_table(sample.rule)
    for r, key in zip(pre.itertuples(index=False), ("pretrend", "pretrend_post"), strict=True):
        for col in ("beta", "p_hc1", "p_cr1", "p_wild", "p_ri"):
            numbers[f"did.{key}.{col}"] = float(getattr(r, col))
    numbers["did.pretrend.n_units"] = int(pre["n_units"].iloc[0])
    numbers["did.pretrend.n_treated"] = int(pre["n_treated"].iloc[0])
    numbers["did.pretrend.ri_n_assignments"] = int(pre["ri_n_assignments"].iloc[0])
    numbers["did.pretrend.pct"] = float(100 * np.expm1(pre["beta"].iloc[0]))
    for r in ev[~ev["reference"]].itertuples(index=False):
        numbers[f"did.event.{r.census}.beta"] = float(r.beta)
        numbers[f"did.event.{r.census}.p_ri"] = float(r.p_ri)
        numbers[f"did.event.{r.census}.p_wild"] = float(r.p_wild)
    if paper_dir is None:
        return numbers

    import matplotlib.pyplot as plt

    from analysis.report.figures import coefficient_plot, event_study_plot, save_figure
    from analysis.report.tables import write_table

    lab = OUTCOME_LABELS
    notes = design_notes(sample, ri)
    tables = paper_dir / "tables"
    show = main.assign(outcome=main["outcome"].map(lab))[list(_MAIN_COLUMNS)]
    write_table(
        show.rename(columns=_HEADERS),
        tables,
        "census_did_main",
        caption="Enclaves agreed by 2019 and the 2010-2020 change in county outcomes",
        notes=notes,
        digits=3,
    )
    bal = balance_table(sample).assign(variable=lambda d: d["variable"].map(lab))
    write_table(
        bal,
        tables,
        "census_did_balance",
        caption="Balance of 2010 characteristics: treated vs comparison mountain counties",
        notes=notes[:2],
        digits=3,
    )
    write_table(
        conc,
        tables,
        "census_did_prefectures",
        caption="Where the treated counties are: sample units by prefecture",
        notes=[
            notes[0],
            f"{numbers['did.lishui.n_treated']} of the {sample.n_treated} treated counties are in "
            "Lishui (丽水市); the prefecture effects compare them with Lishui's other mountain "
            "counties.",
        ],
    )
    write_table(
        nol.assign(outcome=nol["outcome"].map(lab)).rename(
            columns={
                "outcome": "Outcome",
                "beta_full": "Full sample",
                "beta_without": "Without Lishui",
                "sign_flip": "Sign flips",
                "n_treated_without": "Treated left",
                "n_units_without": "Units left",
            }
        ),
        tables,
        "census_did_no_lishui",
        caption="Dropping Lishui: the coefficient rests on one treated county",
        notes=[
            notes[0],
            f"Without Lishui, {numbers['did.no_lishui.n_treated']} treated county (泰顺) remains: "
            "the estimate is one county's deviation from its comparison counties, and no p-value "
            "is valid with one treated unit, so none is shown.",
        ],
        digits=3,
    )
    rules = rules_table(panel=panel)
    write_table(
        rules.assign(outcome=rules["outcome"].map(lab)).drop(columns=["note"]),
        tables,
        "census_did_rules",
        caption="Alternative treatment rules (FD coefficient, exact RI p-value)",
        notes=[
            notes[0],
            "Comparison: mountain counties not treated under the rule; "
            "specification as in the main table.",
        ],
        digits=3,
    )
    comps = comparisons_table(panel=panel)
    write_table(
        comps.assign(outcome=comps["outcome"].map(lab)),
        tables,
        "census_did_comparisons",
        caption="The default treatment against three comparison groups",
        notes=[
            notes[0],
            "mountain: other mountain counties (prefecture effects); rest: all "
            "non-mountain units; designation: the mountain-26 designation as the treatment "
            "against the other units (no prefecture effects: Quzhou and Lishui are all-mountain). "
            f"RI by Monte Carlo ({RI_SETTINGS['n_draws']:,} draws, seed {RI_SETTINGS['seed']}) "
            f"where there are more than {RI_SETTINGS['exact_limit']:,} assignments, exact "
            "otherwise.",
        ],
        digits=3,
    )
    write_table(
        lopo.assign(outcome=lopo["outcome"].map(lab)),
        tables,
        "census_did_lopo",
        caption="Leave one prefecture out (FD coefficient; exact RI and HC1 p-values)",
        notes=[
            *notes[:2],
            "status 'repeats full sample': the prefecture has one county in the sample, which its "
            "prefecture effect absorbs, so the coefficient equals the full-sample one. "
            "status 'one treated unit': only one treated county is left; no p-value is valid "
            "with one treated unit, so none is shown. RI p: exact, in the reduced sample.",
        ],
        digits=3,
    )
    pre_notes = [
        "Data layer: real (2000, 2010 and 2020 censuses; three-census consistent units: "
        "柯城+衢江 merged, since towns moved between them in 2001).",
        f"Treatment and comparison as in the main table ({int(pre['n_treated'].iloc[0])} treated, "
        f"{int(pre['n_units'].iloc[0] - pre['n_treated'].iloc[0])} comparison mountain units; "
        "磐安 dropped).",
        "First-difference regression of the change in log population with prefecture effects "
        "and the start-of-period log population (the 2000 census has total population only, "
        "so urbanisation is not a covariate here). Wild cluster bootstrap (WCR, Webb, "
        f"{WILD_SETTINGS['B']:,} draws, seed {WILD_SETTINGS['seed']}) over prefectures; exact RI over "
        f"{int(pre['ri_n_assignments'].iloc[0]):,} assignments; HC1 and CR1 for reference.",
    ]
    cols = ["beta", "p_ri", "p_wild", "wild_ci_low", "wild_ci_high", "se_hc1", "p_hc1", "p_cr1"]
    write_table(
        pre[["period", *cols, "n_units", "n_treated"]].rename(
            columns={**_HEADERS, "period": "Change", "n_units": "Units", "n_treated": "Treated"}
        ),
        tables,
        "census_pop_pretrend",
        caption="Pre-trend test: log population 2000-2010, treated vs comparison mountain counties",
        notes=pre_notes,
        digits=3,
    )
    write_table(
        ev[["census", *cols, "n_units", "n_treated"]].rename(
            columns={**_HEADERS, "census": "Census", "n_units": "Units", "n_treated": "Treated"}
        ),
        tables,
        "census_pop_event_study",
        caption="Three-census event study of log population (2010 = reference)",
        notes=[
            *pre_notes[:2],
            "Coefficient of treatment in the regression of log P(t) - log P(2010) on treatment, "
            "prefecture effects and 2000 log population, for t = 2000 and 2020.",
        ],
        digits=3,
    )
    from analysis.report.regtable import regression_table, write_regression_table

    pop3 = census.three_census_population()
    s_post = three_census_sample(BASELINE, ENDLINE, sample.rule, pop3)
    s_post = replace(s_post, baseline=BASELINE)
    s_pre = three_census_sample(PRE_BASELINE, BASELINE, sample.rule, pop3)
    models = {
        "(1) 2010-2020": fd_fit(sample, "log_pop"),
        "(2) 2010-2020": fd_fit(s_post, "log_pop", PRE_COVARIATES),
        "(3) 2000-2010": fd_fit(s_pre, "log_pop", PRE_COVARIATES),
    }
    start = "Log population, start of period"
    reg = regression_table(
        models,
        terms=["treated", "log_pop_2010", "urbanisation_2010"],
        labels={
            "treated": "Enclave agreed 2011-2019",
            "log_pop_2010": start,
            "log_pop_2000": start,
            "urbanisation_2010": "Urbanisation 2010",
        },
        digits=3,
        show=("n_obs", "fixed_effects", "se_type"),
        fixed_effects={"Prefecture effects": ["yes", "yes", "yes"]},
        extra_rows={
            "Units": ["census CBUs", "three-census units", "three-census units"],
            "Treated": [sample.n_treated, s_post.n_treated, s_pre.n_treated],
            "Clusters (prefectures)": [
                int(sample.data["prefecture"].nunique()),
                int(s_post.data["prefecture"].nunique()),
                int(s_pre.data["prefecture"].nunique()),
            ],
            "RI p (exact)": [
                numbers["did.log_pop.p_ri"],
                float(pre["p_ri"].iloc[1]),
                float(pre["p_ri"].iloc[0]),
            ],
            "Wild cluster bootstrap p": [
                numbers["did.log_pop.p_wild"],
                float(pre["p_wild"].iloc[1]),
                float(pre["p_wild"].iloc[0]),
            ],
        },
        caption="Log population: the 2010-2020 change and the 2000-2010 pre-trend",
        notes=[
            pre_notes[0],
            "Dependent variable: change in log resident population over the period in the header. "
            "(1) is the main table's specification; (2) and (3) use the three-census units and the "
            "start-of-period log population only. RI and wild p-values are the valid inference; "
            "HC1 standard errors are shown for reference.",
        ],
    )
    write_regression_table(reg, tables, "census_pop_models")
    figures = paper_dir / "figures"
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    coefficient_plot(main, lab, ax=ax)
    ax.set_title("Enclave counties vs other mountain counties, 2010-2020 (real census)")
    save_figure(fig, figures, "census_did_coefficients")
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    event_study_plot(ev, ax=ax)
    ax.set_title("Log population: enclave vs other mountain counties (real census)")
    save_figure(fig, figures, "census_pop_event_study")
    return numbers
