"""Cluster-robust variance (analysis.inference.crve) against reference software.

Reference values (tests/reference/, regenerated only by hand, never in CI):

* crve_clubsandwich.json -- R clubSandwich 0.5.8 / sandwich 3.0-2 on
  crve_data.csv (generate_crve_reference.R): vcovCR CR0/CR1/CR1S/CR2/CR3,
  coef_test Satterthwaite, Wald_test HTZ. Compared to 1e-8 relative.
* crve_pyfixest.json -- pyfixest CRV1 (fixest default ssc, nested fixed effects
  discounted) and CRV3 (generate_crve_reference.py).

statsmodels and linearmodels are compared live (they are project dependencies).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from linearmodels.panel import PanelOLS

from analysis.errors import InputError
from analysis.inference.crve import (
    SSC,
    cluster_vcov,
    htz_test,
    ols_cluster,
    satterthwaite_df,
    ssc_factor,
)

REF = Path(__file__).parent / "reference"
RTOL = 1e-8


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REF / "crve_data.csv")


@pytest.fixture(scope="module")
def club() -> dict:
    return json.loads((REF / "crve_clubsandwich.json").read_text())["models"]


@pytest.fixture(scope="module")
def pyfx() -> dict:
    return json.loads((REF / "crve_pyfixest.json").read_text())["models"]


def _spec(data: pd.DataFrame, model: str):
    """(X, fe, positions of x1, x2) for each reference model."""
    X = data[["x1", "x2"]]
    if model == "pooled":
        Xc = pd.concat([pd.Series(1.0, index=data.index, name="const"), X], axis=1)
        return Xc, None, [1, 2]
    if model in ("cluster_fe", "cluster_fe_plm"):
        return X, data["cl"], [0, 1]
    return X, data[["cl", "period"]], [0, 1]


MODELS = ["pooled", "cluster_fe", "twoway_fe", "cluster_fe_plm", "twoway_fe_plm"]


def _club_kind(model: str, key: str):
    """Our (kind, ssc) for a clubSandwich type. CR1S counts every lm coefficient
    (dummies included): fixef_k='full'; for plm the absorbed effects are not counted."""
    return {
        "CR0": ("CR0", "none"),
        "CR1": ("CR1", SSC(adj=False, fixef_k="none", cluster_adj=True)),
        "CR1S": ("CR1", SSC(fixef_k="full")),
        "CR2": ("CR2", "fixest"),
        "CR3": ("CR3", "fixest"),
    }[key]


_CLUB = json.loads((REF / "crve_clubsandwich.json").read_text())["models"]
# Only the cases clubSandwich computes: it gives no CR3 with cluster dummies
# (I - H_gg is singular); that quantity is checked through the plm models.
VCOV_CASES = [
    (m, k) for m in MODELS for k in ["CR0", "CR1", "CR1S", "CR2", "CR3"] if f"vcov_{k}" in _CLUB[m]
]
COEF_TEST_CASES = [
    (m, k) for m in MODELS for k in ["CR1", "CR2", "CR3"] if f"coef_test_{k}" in _CLUB[m]
]


def test_reference_covers_every_kind():
    assert {k for _, k in VCOV_CASES} == {"CR0", "CR1", "CR1S", "CR2", "CR3"}
    assert len(VCOV_CASES) >= 20 and len(COEF_TEST_CASES) >= 10


@pytest.mark.parametrize("model, key", VCOV_CASES)
def test_vcov_matches_clubsandwich(data, club, model, key):
    ref = club[model]
    X, fe, idx = _spec(data, model)
    kind, ssc = _club_kind(model, key)
    res = ols_cluster(data["y"], X, data["cl"], fe=fe, kind=kind, ssc=ssc)
    V = res.vcov[np.ix_(idx, idx)]
    if key == "CR1S" and model.endswith("plm"):
        # plm's p counts the coefficients it reports (x1, x2 and period dummies)
        n, G, p = ref["n"], ref["n_clusters"], ref["n_coef_lm"]
        V = ols_cluster(data["y"], X, data["cl"], fe=fe, kind="CR0").vcov[np.ix_(idx, idx)]
        V = V * G / (G - 1) * (n - 1) / (n - p)
    np.testing.assert_allclose(res.coef[idx], ref["coef"], rtol=RTOL)
    np.testing.assert_allclose(V, ref[f"vcov_{key}"], rtol=RTOL)


@pytest.mark.parametrize("model", ["pooled", "cluster_fe", "twoway_fe"])
def test_cr1_full_k_matches_sandwich_vcovCL(data, club, model):
    X, fe, idx = _spec(data, model)
    res = ols_cluster(data["y"], X, data["cl"], fe=fe, kind="CR1", ssc=SSC(fixef_k="full"))
    np.testing.assert_allclose(
        res.vcov[np.ix_(idx, idx)], club[model]["vcov_sandwich_vcovCL_HC1"], rtol=RTOL
    )


@pytest.mark.parametrize("model, kind", COEF_TEST_CASES)
def test_satterthwaite_matches_coef_test(data, club, model, kind):
    ref = club[model][f"coef_test_{kind}"]
    X, fe, idx = _spec(data, model)
    ssc = SSC(adj=False, fixef_k="none", cluster_adj=True)  # clubSandwich's CR1
    res = ols_cluster(data["y"], X, data["cl"], fe=fe, kind=kind, ssc=ssc, df="satterthwaite")
    np.testing.assert_allclose(res.se[idx], ref["se"], rtol=RTOL)
    np.testing.assert_allclose(res.t[idx], ref["tstat"], rtol=RTOL)
    np.testing.assert_allclose(res.df[idx], ref["df"], rtol=RTOL)
    np.testing.assert_allclose(res.p[idx], ref["p"], rtol=RTOL)
    # the design-only helper gives the same degrees of freedom
    np.testing.assert_allclose(
        satterthwaite_df(X, data["cl"], kind, fe=fe)[idx], ref["df"], rtol=RTOL
    )


def test_cr2_default_df_is_satterthwaite(data, club):
    X, fe, idx = _spec(data, "twoway_fe")
    res = ols_cluster(data["y"], X, data["cl"], fe=fe, kind="CR2")
    assert res.df_method == "satterthwaite"
    np.testing.assert_allclose(res.df[idx], club["twoway_fe"]["coef_test_CR2"]["df"], rtol=RTOL)


@pytest.mark.parametrize("model", MODELS)
def test_htz_matches_wald_test(data, club, model):
    ref = club[model]["wald_HTZ_CR2"]
    X, fe, idx = _spec(data, model)
    h = htz_test(data["y"], X, data["cl"], idx, fe=fe)
    assert h.df_num == ref["df_num"] == 2
    np.testing.assert_allclose(h.F, ref["Fstat"], rtol=RTOL)
    np.testing.assert_allclose(h.df_denom, ref["df_denom"], rtol=RTOL)
    np.testing.assert_allclose(h.p_value, ref["p"], rtol=RTOL)


def test_htz_single_restriction_is_satterthwaite_t(data):
    X, fe, _ = _spec(data, "twoway_fe")
    res = ols_cluster(data["y"], X, data["cl"], fe=fe, kind="CR2")
    h = htz_test(data["y"], X, data["cl"], np.array([[1.0, 0.0]]), fe=fe)
    np.testing.assert_allclose(h.df_denom, res.df[0], rtol=1e-10)
    np.testing.assert_allclose(h.F, res.t[0] ** 2, rtol=1e-10)
    np.testing.assert_allclose(h.p_value, res.p[0], rtol=1e-10)


# ---------------------------------------------------------------- fixest / pyfixest
@pytest.mark.parametrize("model", ["pooled", "cluster_fe", "twoway_fe"])
def test_cr1_fixest_matches_pyfixest(data, pyfx, model):
    ref = pyfx[model]["CRV1"]
    X, fe, idx = _spec(data, model)
    res = ols_cluster(data["y"], X, data["cl"], fe=fe, kind="CR1", ssc="fixest")
    # pyfixest demeans iteratively (tolerance 1e-8) when there are two factors
    tol = 1e-6 if model == "twoway_fe" else RTOL
    np.testing.assert_allclose(res.coef[idx], ref["coef"], rtol=tol)
    np.testing.assert_allclose(res.vcov[np.ix_(idx, idx)], ref["vcov"], rtol=tol)
    np.testing.assert_allclose(res.p[idx], ref["p"], rtol=max(tol, 1e-8) * 10)
    assert res.df[0] == ref["df_t"]
    # K as fixest counts it: slopes + non-nested effects + 1 per fully nested factor
    n, G = len(data), data["cl"].nunique()
    k = len(idx) + (1 if model == "pooled" else 0)
    expect = G / (G - 1) * (n - 1) / (n - ref["df_k"])
    got = ssc_factor("fixest", n=n, k=k, G=G, fe_levels=res.fe_levels, fe_nested=res.fe_nested)
    assert got == pytest.approx(expect, rel=1e-14)


@pytest.mark.parametrize("model", ["pooled", "cluster_fe", "twoway_fe"])
def test_jackknife_scale_matches_pyfixest_crv3(data, pyfx, model):
    """pyfixest's CRV3 = fixest CR1 factor x sum_g (b_(g) - b)(b_(g) - b)' = c * CR3."""
    ref = pyfx[model]["CRV3"]
    X, fe, idx = _spec(data, model)
    cr3 = ols_cluster(data["y"], X, data["cl"], fe=fe, kind="CR3")
    c = ols_cluster(data["y"], X, data["cl"], fe=fe, kind="CR1").factor
    tol = 1e-6 if model == "twoway_fe" else RTOL
    np.testing.assert_allclose(c * cr3.vcov[np.ix_(idx, idx)], ref["vcov"], rtol=tol)


# ---------------------------------------------------------------- statsmodels, linearmodels
def test_cr1_matches_statsmodels(data):
    X, _, _ = _spec(data, "pooled")
    res = ols_cluster(data["y"], X, data["cl"], kind="CR1")
    m = sm.OLS(data["y"], X).fit(cov_type="cluster", cov_kwds={"groups": data["cl"]})
    np.testing.assert_allclose(res.coef, m.params, rtol=1e-12)
    np.testing.assert_allclose(res.vcov, m.cov_params(), rtol=1e-12)
    # "stata" is an alias of "fixest"
    res2 = ols_cluster(data["y"], X, data["cl"], kind="CR1", ssc="stata")
    np.testing.assert_array_equal(res.vcov, res2.vcov)


def test_cr1_full_k_matches_statsmodels_with_dummies(data):
    X = data[["x1", "x2"]]
    D1 = pd.get_dummies(data["cl"], prefix="cl", dtype=float)
    D2 = pd.get_dummies(data["period"], prefix="p", dtype=float).iloc[:, 1:]
    Xd = pd.concat([X, D1, D2], axis=1)
    m = sm.OLS(data["y"], Xd).fit(cov_type="cluster", cov_kwds={"groups": data["cl"]})
    res = ols_cluster(
        data["y"], X, data["cl"], fe=data[["cl", "period"]], kind="CR1", ssc=SSC(fixef_k="full")
    )
    np.testing.assert_allclose(res.coef, m.params.iloc[:2], rtol=1e-10)
    np.testing.assert_allclose(res.vcov, m.cov_params().iloc[:2, :2], rtol=1e-10)


def _panel(seed=0, N=40, T=7, unbalanced=True):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(N), T)
    time = np.tile(np.arange(2000, 2000 + T), N)
    keep = rng.random(N * T) > (0.15 if unbalanced else 0.0)
    a = rng.normal(size=N)[unit]
    x1 = rng.normal(size=N * T) + 0.5 * a
    x2 = rng.normal(size=N * T) + 0.1 * (time - 2000)
    y = 0.4 * x1 - 0.2 * x2 + a + 0.05 * (time - 2000) + rng.normal(size=N * T) * (1 + np.abs(a))
    df = pd.DataFrame({"unit": unit, "time": time, "x1": x1, "x2": x2, "y": y})[keep]
    df["region"] = df["unit"] // 5
    return df.reset_index(drop=True)


@pytest.mark.parametrize(
    "effects", [("unit",), ("unit", "time"), ("time",)], ids=["entity", "twoway", "time"]
)
@pytest.mark.parametrize("cluster", ["unit", "region"])
def test_cr1_linearmodels_convention_matches_panelols(effects, cluster):
    df = _panel()
    p = df.set_index(["unit", "time"])
    mod = PanelOLS(
        p["y"], p[["x1", "x2"]], entity_effects="unit" in effects, time_effects="time" in effects
    )
    clusters = pd.DataFrame({"c": df[cluster].to_numpy()}, index=p.index)
    fit = mod.fit(cov_type="clustered", clusters=clusters)
    res = ols_cluster(
        df["y"], df[["x1", "x2"]], df[cluster], fe=df[list(effects)], kind="CR1", ssc="linearmodels"
    )
    np.testing.assert_allclose(res.coef, fit.params, rtol=1e-10)
    np.testing.assert_allclose(res.vcov, fit.cov, rtol=1e-10)


def test_cr1_linearmodels_pooled_matches_panelols():
    df = _panel()
    p = df.set_index(["unit", "time"])
    X = p[["x1", "x2"]].assign(const=1.0)
    fit = PanelOLS(p["y"], X).fit(cov_type="clustered", cluster_entity=True)
    res = ols_cluster(df["y"], df[["x1", "x2"]].assign(const=1.0), df["unit"], ssc="linearmodels")
    np.testing.assert_allclose(res.vcov, fit.cov, rtol=1e-10)


def test_cr1_fixest_matches_panelols_stata_construction():
    """fixest = PanelOLS(debiased=False, group_debias=True, no effects counted) x n/(n-K)."""
    df = _panel(unbalanced=False)
    p = df.set_index(["unit", "time"])
    fit = PanelOLS(p["y"], p[["x1", "x2"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered",
        cluster_entity=True,
        debiased=False,
        auto_df=False,
        count_effects=False,
        group_debias=True,
    )
    n, T = len(df), df["time"].nunique()
    K = 2 + T  # slopes + (T - 1) time effects + 1 for the nested unit effects
    res = ols_cluster(df["y"], df[["x1", "x2"]], df["unit"], fe=df[["unit", "time"]])
    np.testing.assert_allclose(res.vcov, fit.cov * n / (n - K), rtol=1e-10)


# ---------------------------------------------------------------- algebra
def _brute_force_jackknife(df, fe_cols):
    """Leave one cluster out and re-fit the dummy-variable regression."""
    G = sorted(df["cl"].unique())
    betas = []
    for g in G:
        d = df[df["cl"] != g]
        parts = [d[["x1", "x2"]]]
        for f in fe_cols:
            parts.append(pd.get_dummies(d[f], prefix=f, dtype=float))
        Z = pd.concat(parts, axis=1).to_numpy()
        b = np.linalg.lstsq(Z, d["y"].to_numpy(), rcond=None)[0][:2]
        betas.append(b)
    return np.array(betas)


@pytest.mark.parametrize("fe_cols", [[], ["cl"], ["cl", "period"]], ids=["none", "cl", "twoway"])
@pytest.mark.parametrize("center", ["estimate", "mean"])
def test_cr3j_is_leave_one_cluster_out_jackknife(data, fe_cols, center):
    df = data.assign(const=1.0)
    X = df[["x1", "x2"]] if fe_cols else df[["x1", "x2", "const"]]
    fe = df[fe_cols] if fe_cols else None
    res = ols_cluster(df["y"], X, df["cl"], fe=fe, kind="CR3J", jackknife_center=center)
    if not fe_cols:
        df_bf = df.assign(one=1)
        betas = _brute_force_jackknife(df_bf, ["one"])
    else:
        betas = _brute_force_jackknife(df, fe_cols)
    G = len(betas)
    ctr = res.coef[:2] if center == "estimate" else betas.mean(axis=0)
    dev = betas - ctr
    V = (G - 1) / G * dev.T @ dev
    np.testing.assert_allclose(res.vcov[:2, :2], V, rtol=1e-9)
    if center == "estimate":
        cr3 = ols_cluster(df["y"], X, df["cl"], fe=fe, kind="CR3")
        np.testing.assert_allclose(res.vcov, (G - 1) / G * cr3.vcov, rtol=1e-12)


@pytest.mark.parametrize("kind", ["CR0", "CR1", "CR2", "CR3", "CR3J"])
def test_absorbed_equals_dummy_regression(data, kind):
    """Partialling out the fixed effects changes nothing (FWL + PT 2018 Thm 2)."""
    fe = data[["cl", "period"]]
    a = ols_cluster(
        data["y"], data[["x1", "x2"]], data["cl"], fe=fe, kind=kind, ssc=SSC(fixef_k="full")
    )
    D = pd.concat(
        [
            pd.get_dummies(data["cl"], prefix="cl", dtype=float),
            pd.get_dummies(data["period"], prefix="p", dtype=float).iloc[:, 1:],
        ],
        axis=1,
    )
    b = ols_cluster(data["y"], pd.concat([data[["x1", "x2"]], D], axis=1), data["cl"], kind=kind)
    np.testing.assert_allclose(a.coef, b.coef[:2], rtol=1e-10)
    np.testing.assert_allclose(a.vcov, b.vcov[:2, :2], rtol=1e-9)


def test_cluster_vcov_accepts_raw_or_partialled_X(data):
    fe = data[["cl", "period"]]
    res = ols_cluster(data["y"], data[["x1", "x2"]], data["cl"], fe=fe, kind="CR2")
    # residuals of the dummy-variable regression
    D = pd.concat(
        [
            data[["x1", "x2"]],
            pd.get_dummies(data["cl"], dtype=float),
            pd.get_dummies(data["period"], dtype=float).iloc[:, 1:],
        ],
        axis=1,
    ).to_numpy()
    e = data["y"].to_numpy() - D @ np.linalg.lstsq(D, data["y"].to_numpy(), rcond=None)[0]
    V_raw = cluster_vcov(data[["x1", "x2"]], e, data["cl"], "CR2", fe=fe)
    Xt = (
        data[["x1", "x2"]].to_numpy()
        - D[:, 2:] @ np.linalg.lstsq(D[:, 2:], data[["x1", "x2"]].to_numpy(), rcond=None)[0]
    )
    V_part = cluster_vcov(Xt, e, data["cl"], "CR2", fe=fe)
    np.testing.assert_allclose(V_raw, res.vcov, rtol=1e-9)
    np.testing.assert_allclose(V_part, res.vcov, rtol=1e-9)


def test_cr2_unbiased_under_homoskedastic_working_model(data):
    """E[V_CR2] = sigma^2 (X'X)^{-1} when Var(u) = sigma^2 I: check the identity
    sum_g trace pieces exactly via the Satterthwaite numerator."""
    X, fe, idx = _spec(data, "twoway_fe")
    res = ols_cluster(data["y"], X, data["cl"], fe=fe, kind="CR2")
    # build M_XX of the full design and compare with E[V] = sum_g p_g'p_g
    from analysis.inference.crve import ClusterDesign, _lambda_pieces

    des = ClusterDesign.build(data["y"], X, data["cl"], fe)
    M = des.bread()
    aa, W = _lambda_pieces(des, M, np.eye(des.p)[:2], "CR2")
    for j in range(2):
        tr = aa[:, j, j].sum() - np.einsum("gp,pr,gr->", W[:, :, j], M, W[:, :, j])
        assert tr == pytest.approx(M[j, j], rel=1e-10)
    assert res.kind == "CR2"


# ---------------------------------------------------------------- results & inputs
def test_result_is_frozen_and_tidy(data):
    X, fe, _ = _spec(data, "cluster_fe")
    res = ols_cluster(data["y"], X, data["cl"], fe=fe)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.kind = "CR2"  # type: ignore[misc]
    with pytest.raises(ValueError):
        res.coef[0] = 1.0
    tidy = res.tidy()
    assert list(tidy["term"]) == ["x1", "x2"]
    assert list(tidy.columns) == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "df",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    assert (tidy["conf_low"] < tidy["estimate"]).all() and (
        tidy["estimate"] < tidy["conf_high"]
    ).all()
    d = res.to_dict()
    assert d["n_clusters"] == 15 and d["kind"] == "CR1" and d["ssc"] == "fixest"
    json.dumps(d)


def test_linearmodels_factor_formula():
    # one factor nested in the clusters: effects not counted
    assert (
        ssc_factor("linearmodels", n=100, k=2, G=10, fe_levels=[10], fe_nested=[True]) == 100 / 98
    )
    # two factors: N + T - 1 effects counted
    assert ssc_factor(
        "linearmodels", n=100, k=2, G=10, fe_levels=[10, 10], fe_nested=[True, False]
    ) == 100 / (100 - 2 - 19)


BAD = [
    (dict(kind="CR4"), "kind must be one of"),
    (dict(ssc="sas"), "ssc must be one of"),
    (dict(df="normal"), "df must be"),
    (dict(jackknife_center="median"), "jackknife_center"),
]


@pytest.mark.parametrize(("kw", "msg"), BAD)
def test_bad_options_raise_input_error(data, kw, msg):
    with pytest.raises(InputError, match=msg):
        ols_cluster(data["y"], data[["x1", "x2"]].assign(c=1.0), data["cl"], **kw)


def test_bad_inputs_raise_one_line_input_errors(data):
    y, X, cl = data["y"], data[["x1", "x2"]].assign(c=1.0), data["cl"]
    cases = [
        (lambda: ols_cluster(y[:-1], X, cl), "rows but y has"),
        (lambda: ols_cluster(y, X, cl[:-1]), "clusters has"),
        (lambda: ols_cluster(y.where(y > 0), X, cl), "missing or non-finite"),
        (lambda: ols_cluster(y, X, np.zeros(len(y))), "at least two clusters"),
        (lambda: ols_cluster(y, X, cl.astype(float).where(cl > 1)), "clusters contains missing"),
        (lambda: ols_cluster(y, X.assign(d=X["x1"] * 2), cl), "collinear with the other"),
        (lambda: ols_cluster(y, X, cl, fe=cl), "collinear with the fixed effects"),
        (
            lambda: ols_cluster(y, np.column_stack([X["x1"], data["cl"] * 1.0]), cl, fe=cl),
            "collinear with the fixed effects",
        ),
        (lambda: ols_cluster(y, X.assign(s="a"), cl), "must be numeric"),
        (lambda: ols_cluster(y, X, cl, fe=np.zeros((len(y), 2, 2))), "fe must be"),
        (lambda: cluster_vcov(X, y[:-1], cl), "resid has"),
        (lambda: htz_test(y, X, cl, [5]), "constraint indices"),
    ]
    for fn, msg in cases:
        with pytest.raises(InputError, match=msg) as ei:
            fn()
        assert "\n" not in str(ei.value)
