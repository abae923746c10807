"""Census DiD study: treatment rules, sample, estimator by an independent route, RI exactness."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from linearmodels import PanelOLS

from analysis.data import census, registry, sources
from analysis.data.treatment import (
    ALTERNATIVE_RULES,
    DEFAULT_RULE,
    TreatmentRule,
    first_enclave_year,
)
from analysis.inference.ri_design import design_assignments, treatment_design
from analysis.studies import census_did as cd


@pytest.fixture(scope="module")
def panel():
    return census.harmonised_census("census")


@pytest.fixture(scope="module")
def sample(panel):
    return cd.build_sample(panel=panel)


def test_default_rule_against_the_event_table():
    ev = sources.load_enclave_events()
    first = first_enclave_year(DEFAULT_RULE)
    # hand-applied rule: county-level enclave in a developed area, dated milestone <= 2019
    m = (
        (ev["level"] == "county")
        & ev["kind"].isin(["industrial", "sci-tech", "village-income"])
        & (ev["direction"] == "in_developed_area")
        & ev["event_type"].isin(["agreement", "start", "open"])
        & ev["year"].notna()
        & (ev["year"] <= 2019)
    )
    hand = ev[m].groupby("county_code")["year"].min()
    got = first[first > 0]
    assert dict(got) == {int(k): int(v) for k, v in hand.items()}
    names = registry.load_counties().set_index("code")["name_zh"]
    assert set(names[got.index]) == {"泰顺县", "磐安县", "青田县", "缙云县", "庆元县", "龙泉市"}
    assert len(first) == 26


def test_rules_differ_in_the_documented_way():
    by = {r.name: first_enclave_year(r) for r in ALTERNATIVE_RULES}
    base = first_enclave_year(DEFAULT_RULE)
    assert (by["city_platforms"] > 0).sum() > (
        base > 0
    ).sum()  # city platforms add Quzhou/Lishui counties
    assert set(by["village_income"][by["village_income"] > 0].index) <= set(base[base > 0].index)
    assert (by["by_2017"] > 0).sum() < (base > 0).sum()
    none = first_enclave_year(TreatmentRule(name="none", cutoff=1990))
    assert (none == 0).all()


def test_sample_drops_pre_baseline_and_codes_treatment(sample):
    d = sample.data
    assert sample.n_units == 25 and sample.n_treated == 5
    assert "磐安县" in sample.dropped[0]
    assert set(d.loc[d["treated"] == 1, "name"]) == {
        "泰顺县",
        "青田县",
        "缙云县",
        "庆元县",
        "龙泉市",
    }
    assert d["mountain26"].all()


def test_outcome_changes_hand_computed(sample):
    raw10 = census.read_census_raw(2010)
    raw20 = census.read_census_raw(2020)
    r10 = raw10.loc[raw10["地区"].str.strip() == "泰顺县"].iloc[0]
    r20 = raw20.loc[raw20["区县"] == "泰顺县"].iloc[0]
    row = sample.data.set_index("name").loc["泰顺县"]
    assert row["d_urbanisation"] == pytest.approx(
        r20["城镇人口"] / r20["人口数_合计"] - r10["城镇人口"] / r10["合计"]
    )
    assert row["d_log_pop"] == pytest.approx(math.log(r20["人口数_合计"] / r10["合计"]))
    assert row["d_manuf_share"] == pytest.approx(
        r20["制造业"] / r20["各种行业人口总计"] - r10["制造业"] / r10["各种行业人口\n总计"]
    )


def test_fd_regression_equals_two_period_panel_estimator(sample):
    """Independent route: PanelOLS with unit and period effects on the 2-period panel,
    covariates and prefecture dummies interacted with the post period."""
    outcome = "manuf_share"
    fd = cd.fd_regression(sample, outcome)
    long = cd.two_period_panel(sample, outcome)
    long["post"] = (long["year"] == cd.ENDLINE).astype(float)
    long["D"] = ((long["cohort"] > 0) & (long["year"] == cd.ENDLINE)).astype(float)
    exog = {"D": long["D"]}
    for c in cd.DEFAULT_COVARIATES:
        exog[f"{c}_x_post"] = long[f"{c}_{cd.BASELINE}"] * long["post"]
    dums = pd.get_dummies(long["prefecture"], prefix="p", drop_first=True, dtype=float)
    for c in dums:
        exog[f"{c}_x_post"] = dums[c] * long["post"]
    X = pd.DataFrame(exog)
    X.index = pd.MultiIndex.from_arrays([long["cbu"], long["year"]])
    y = pd.Series(long["y"].to_numpy(), index=X.index)
    res = PanelOLS(y, X, entity_effects=True, time_effects=True).fit()
    assert res.params["D"] == pytest.approx(fd.beta, abs=1e-10)
    # and plain statsmodels OLS on the differenced data
    yv, Xv, names = cd.design_matrix(sample, outcome)
    assert sm.OLS(yv, Xv).fit().params[names.index("treated")] == pytest.approx(fd.beta, abs=1e-12)


def test_ri_is_exact_and_matches_brute_force(sample):
    outcome = ("edu_years",)
    ri = cd.randomization_inference(sample, outcome)
    assert ri.exact
    assert ri.n_assignments <= math.comb(25, 5)
    # observed coefficient equals the regression coefficient
    assert ri.observed[0] == pytest.approx(cd.fd_regression(sample, "edu_years").beta, abs=1e-12)
    # brute force on a random subset of assignments: Frisch-Waugh draws equal full OLS refits
    A = design_assignments(treatment_design(sample.data["treated"]), exact=True)
    rng = np.random.default_rng(0)
    y, X, names = cd.design_matrix(sample, "edu_years")
    j = names.index("treated")
    Z = np.delete(X, j, axis=1)
    M = np.eye(25) - Z @ np.linalg.pinv(Z)
    for r in rng.choice(len(A), size=20, replace=False):
        Xr = X.copy()
        Xr[:, j] = A[r]
        md = M @ A[r]
        if md @ md < 1e-12:
            continue
        assert sm.OLS(y, Xr).fit().params[j] == pytest.approx((md @ (M @ y)) / (md @ md), abs=1e-10)


def test_stratified_assignments_hold_counts_within_strata():
    treated = np.array([1, 0, 0, 1, 0, 1, 0, 0])
    strata = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    des = treatment_design(treated, strata)
    exact = des.n_assignments <= cd.RI_SETTINGS["exact_limit"]
    A = design_assignments(des, exact=exact)
    assert exact and len(A) == 3 * 2 * 3
    for s in (0, 1, 2):
        assert (A[:, strata == s].sum(axis=1) == treated[strata == s].sum()).all()
    assert len({tuple(a) for a in A}) == len(A)


def test_monte_carlo_assignments_are_seeded():
    des = treatment_design(np.repeat([1, 0], [10, 50]))
    ex = des.n_assignments <= 10
    a = design_assignments(des, exact=ex, n_draws=500, seed=3)
    b = design_assignments(des, exact=ex, n_draws=500, seed=3)
    assert not ex and np.array_equal(a, b) and (a.sum(axis=1) == 10).all()


def test_main_table_has_every_p_value(sample):
    main = cd.main_table(sample, outcomes=("agri_share", "edu_years"))
    for col in (
        "p_hc1",
        "p_cr1",
        "p_wild",
        "p_ri",
        "p_ri_holm",
        "p_ri_bh",
        "p_ri_romano_wolf",
        "dr_p",
    ):
        assert main[col].between(0, 1).all(), col
    assert (main["p_ri_holm"] >= main["p_ri"] - 1e-12).all()
