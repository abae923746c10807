"""Observation weights (``weights=COL``) of every estimator that has them.

Three kinds of evidence, stated per test:

* **reference software** -- ``tests/reference/cs_weights_mpdta.json``: weighted
  Callaway-Sant'Anna (R ``did``'s ``weightsname``) from ``csdid`` 0.4.3, the
  line-by-line Python port of R ``did`` 2.5.0 / ``DRDID`` 1.3.0, on ``mpdta``
  with county population weights ``popwt = exp(lpop)`` (command in the file;
  ``generate_cs_weights_reference.py``). Tolerances: estimates 1e-9 absolute,
  standard errors 1e-8 relative (observed agreement ~1e-12). Weighted
  regressions (TWFE, event study, imputation first stages) are checked against
  ``statsmodels`` WLS with explicit dummies and ``linearmodels`` PanelOLS with
  ``weights=`` (1e-8 relative), and against stored peer values
  (``tests/reference/weights_peers.json``, ``generate_weights_peers.py``):
  pyfixest 0.60 ``feols(weights=)`` iid/hetero/CRV1 (1e-8) and ``did2s(weights=)``
  (1e-4, its iterative fixed effects), diff-diff 3.13 weighted ``ImputationDiD``
  (estimates 1e-9; SEs 1e-2 after its survey G/(G-1) factor). Weighted BJS,
  SA and Gardner variances are also recomputed from explicit dense matrices.
* **known truth** -- noise-free panels with unit-specific effects we set: the
  weighted estimators recover the weighted average effect exactly (1e-10).
* **properties** -- all-ones weights give the unweighted result to 1e-12;
  integer weights give the point estimates of duplicating units (1e-10); zero
  weights equal dropping the rows.
"""

from __future__ import annotations

import json
import math
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.data.paths import raw_path
from analysis.errors import InputError
from analysis.estimators.cs import callaway_santanna

REF = Path(__file__).parent / "reference"
CSW = json.loads((REF / "cs_weights_mpdta.json").read_text())
ATT_TOL = 1e-9
SE_RTOL = 1e-8
KW = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@cache
def mpdta() -> pd.DataFrame:
    df = pd.read_csv(raw_path("external", "mpdta.csv"))
    df["state"] = df["countyreal"] // 1000
    df["popwt"] = np.exp(df["lpop"])
    return df


def _panel(
    seed: int = 3, n_units: int = 120, noise: float = 1.0, beta_x: float = 0.5
) -> pd.DataFrame:
    """Staggered panel with unit-specific effects, a covariate and integer unit weights."""
    rng = np.random.default_rng(seed)
    T = 6
    g = rng.choice([0, 3, 4, 5], size=n_units, p=[0.4, 0.2, 0.2, 0.2])
    kind = rng.integers(0, 2, n_units)  # effect 1 (kind 0) or 3 (kind 1)
    tau = np.where(kind == 1, 3.0, 1.0)
    alpha = rng.normal(size=n_units)
    lam = np.linspace(0, 1, T)
    x = rng.normal(size=(n_units, T))
    rows = []
    for i in range(n_units):
        for t in range(1, T + 1):
            d = g[i] > 0 and t >= g[i]
            y = alpha[i] + lam[t - 1] + beta_x * x[i, t - 1] + tau[i] * d + noise * rng.normal()
            rows.append((i, t, g[i], y, x[i, t - 1], kind[i]))
    df = pd.DataFrame(rows, columns=["unit", "time", "cohort", "y", "x", "kind"])
    df["w"] = np.where(df["kind"] == 1, 1.0, 3.0)  # kind 0 (effect 1) weighs 3
    df["wi"] = (df["unit"] % 3 + 1).astype(float)  # integer weights 1, 2, 3
    df["one"] = 1.0
    return df


def _duplicate(df: pd.DataFrame, col: str) -> pd.DataFrame:
    """Each unit repeated ``col`` times as distinct units (integer weights)."""
    rep = df.loc[df.index.repeat(df[col].astype(int))].copy()
    rep["copy"] = rep.groupby(["unit", "time"]).cumcount()
    rep["unit"] = rep["unit"] * 10 + rep["copy"]
    return rep.drop(columns="copy").reset_index(drop=True)


def _values(r) -> tuple[np.ndarray, np.ndarray]:
    att, se = [], []
    if r.att_gt is not None and len(r.att_gt):
        att.append(r.att_gt["att"].to_numpy(float))
        se.append(r.att_gt["se"].to_numpy(float))
    for a in r.aggregates.values():
        att.append(np.array([a.att]))
        se.append(np.array([a.se]))
        if a.by is not None:
            att.append(a.by["att"].to_numpy(float))
            se.append(a.by["se"].to_numpy(float))
    return np.concatenate(att), np.concatenate(se)


# --------------------------------------------------------------------------- CS: R did
def _peer_values(peer: dict) -> dict:
    out = {}
    for e in peer["att_gt"]:
        out[("att_gt", e["cohort"], e["time"])] = (e["att"], e["se"])
    for kind, a in peer["aggregates"].items():
        out[(kind, "overall")] = (a["att"], a["se"])
        key = {"group": "cohort", "dynamic": "event", "calendar": "time"}.get(kind)
        for e in a.get("by", []):
            out[(kind, e[key])] = (e["att"], e["se"])
    return out


def _our_values(r) -> dict:
    out = {}
    for row in r.att_gt.itertuples(index=False):
        out[("att_gt", int(row.cohort), int(row.time))] = (row.att, row.se)
    for kind, a in r.aggregates.items():
        out[(kind, "overall")] = (a.att, a.se)
        if a.by is not None:
            key = {"group": "cohort", "dynamic": "event", "calendar": "time"}[kind]
            for row in a.by.itertuples(index=False):
                out[(kind, int(getattr(row, key)))] = (row.att, row.se)
    return out


def _unbalanced_rows() -> list[int]:
    # the rows generate_cs_reference.unbalanced_drop_rows drops (stored in cs_mpdta.json)
    return json.loads((REF / "cs_mpdta.json").read_text())["unbalanced_rows_dropped"]


def _fit_cs_cfg(cfg: dict):
    df = mpdta()
    if cfg.get("panel") == "unbalanced":
        df = df.drop(index=_unbalanced_rows()).reset_index(drop=True)
    return _quiet(
        callaway_santanna,
        df,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        covariates=tuple(cfg["covariates"]),
        control=cfg["control"],
        est_method=cfg["est_method"],
        base_period=cfg.get("base_period", "varying"),
        cluster=cfg.get("cluster"),
        panel_handling=cfg.get("panel", "balance"),
        weights=cfg["weights"],
    )


def test_cs_weights_reference_file_has_provenance():
    assert "generate_cs_weights_reference.py" in CSW["command"]
    assert CSW["packages"]["csdid"] == "0.4.3"
    assert len(CSW["results"]) == 18


@pytest.mark.parametrize("key", sorted(CSW["results"]))
def test_cs_weights_match_r_did_port(key):
    """Reference: csdid 0.4.3 (= R did 2.5.0) weights_name=popwt; 1e-9 abs / 1e-8 rel."""
    entry = CSW["results"][key]
    theirs = _peer_values(entry["csdid"])
    ours = _our_values(_fit_cs_cfg(entry["config"]))
    assert set(theirs) == set(ours)
    for k, (att, se) in theirs.items():
        o_att, o_se = ours[k]
        assert abs(o_att - att) <= ATT_TOL, (k, o_att, att)
        if se is None:
            assert not math.isfinite(o_se), (k, o_se)
        else:
            assert o_se == pytest.approx(se, rel=SE_RTOL), k
    pt = entry["csdid"]["pretest"]
    if pt["stat"] is not None:
        r = _fit_cs_cfg(entry["config"])
        assert r.pretest["stat"] == pytest.approx(pt["stat"], rel=1e-6)


def test_cs_population_weights_change_the_estimate():
    """The reference is informative: weighting by population moves every ATT(g,t)."""
    cfg = {"control": "never", "est_method": "dr", "covariates": [], "weights": "popwt"}
    rw = _fit_cs_cfg(cfg)
    r0 = _quiet(
        callaway_santanna,
        mpdta(),
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
    )
    assert np.min(np.abs(rw.att_gt["att"].to_numpy() - r0.att_gt["att"].to_numpy())) > 1e-4
    assert rw.info["weights"] == "popwt" and r0.info["weights"] is None


CS_CFGS = [
    {},
    {"covariates": ("x",), "est_method": "dr"},
    {"covariates": ("x",), "est_method": "ipw"},
    {"covariates": ("x",), "est_method": "reg", "control": "notyet"},
    {"base_period": "universal"},
    {"panel_handling": "unbalanced", "covariates": ("x",)},
]


@pytest.mark.parametrize("cfg", CS_CFGS, ids=[str(c) for c in CS_CFGS])
def test_cs_unit_weights_of_one_are_the_unweighted_result(cfg):
    """Property: weights = 1 give the unweighted numbers exactly (to 1e-12)."""
    df = _panel()
    if cfg.get("panel_handling") == "unbalanced":
        df = df.drop(index=df.sample(40, random_state=1).index)
    a0, s0 = _values(_quiet(callaway_santanna, df, **KW, **cfg))
    a1, s1 = _values(_quiet(callaway_santanna, df, **KW, **cfg, weights="one"))
    np.testing.assert_allclose(a1, a0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(s1, s0, rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize("cfg", CS_CFGS[:5], ids=[str(c) for c in CS_CFGS[:5]])
def test_cs_integer_weights_equal_duplicated_units(cfg):
    """Property: integer unit weights = each unit repeated that often (estimates, 1e-10)."""
    df = _panel()
    aw, _ = _values(_quiet(callaway_santanna, df, **KW, **cfg, weights="wi"))
    ad, _ = _values(_quiet(callaway_santanna, _duplicate(df, "wi"), **KW, **cfg))
    np.testing.assert_allclose(aw, ad, rtol=0, atol=1e-10)


def test_cs_recovers_the_weighted_average_effect():
    """Known truth: effects 1 (weight 3) and 3 (weight 1) -> weighted ATT 1.5 exactly."""
    df = _panel(noise=0.0, beta_x=0.0)
    rw = _quiet(callaway_santanna, df, **KW, weights="w")
    r0 = _quiet(callaway_santanna, df, **KW)
    units = df.drop_duplicates("unit")
    tr = units[units["cohort"] > 0]
    wt = tr["w"].to_numpy()
    tau = np.where(tr["kind"] == 1, 3.0, 1.0)
    # every post cell of cohort g averages the effects of cohort g; the group
    # aggregation overall weights cohorts by their (weighted) size
    for g, by in rw.aggregates["group"].by.set_index("cohort")["att"].items():
        sel = tr["cohort"].to_numpy() == g
        assert by == pytest.approx(np.sum(wt[sel] * tau[sel]) / wt[sel].sum(), abs=1e-10)
        assert r0.aggregates["group"].by.set_index("cohort").loc[g, "att"] == pytest.approx(
            tau[sel].mean(), abs=1e-10
        )
    assert rw.aggregates["group"].att == pytest.approx(np.sum(wt * tau) / wt.sum(), abs=1e-10)


def test_cs_weights_must_be_unit_level_and_valid():
    df = _panel()
    bad = df.assign(w=df["w"] + df["time"] * 0.1)
    with pytest.raises(InputError, match="varies within .* unit-level weights"):
        callaway_santanna(bad, **KW, weights="w")
    with pytest.raises(InputError, match="negative"):
        callaway_santanna(df.assign(w=-df["w"]), **KW, weights="w")
    with pytest.raises(InputError, match="non-finite"):
        callaway_santanna(df.assign(w=np.where(df["unit"] == 0, np.nan, 1.0)), **KW, weights="w")
    with pytest.raises(InputError, match="zero everywhere"):
        callaway_santanna(df.assign(w=0.0), **KW, weights="w")
    with pytest.raises(InputError, match="not numeric"):
        callaway_santanna(df.assign(w="a"), **KW, weights="w")
    with pytest.raises(InputError, match="not found"):
        callaway_santanna(df, **KW, weights="nope")


def test_cs_zero_weight_units_are_dropped_with_a_note():
    """Zero weights contribute nothing: same numbers as removing those units."""
    df = _panel()
    z = df.assign(w=np.where(df["unit"] % 7 == 0, 0.0, df["w"]))
    rz = _quiet(callaway_santanna, z, **KW, weights="w")
    rd = _quiet(callaway_santanna, z[z["w"] > 0], **KW, weights="w")
    np.testing.assert_allclose(_values(rz)[0], _values(rd)[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(_values(rz)[1], _values(rd)[1], rtol=1e-12)
    assert any("weight zero" in n for n in rz.info["notes"])


# --------------------------------------------------------------------------- BJS
def _bjs_dense_reference(df: pd.DataFrame, wcol: str, covs=()):
    """Weighted BJS by explicit matrices (statsmodels WLS first stage, dense v*).

    Independent of the package's sparse Schur-complement solver: Z holds every
    unit and time dummy (one time dummy omitted) and the covariates;
    v_0 = -Omega_0 Z_0 (Z_0' Omega_0 Z_0)^-1 Z_1' w_1 (BJS eq. 6 with WLS).
    """
    import statsmodels.api as sm

    d = df.sort_values(["unit", "time"]).reset_index(drop=True)
    treated = ((d["cohort"] > 0) & (d["time"] >= d["cohort"])).to_numpy()
    U = pd.get_dummies(d["unit"], dtype=float).to_numpy()
    T = pd.get_dummies(d["time"], dtype=float).to_numpy()[:, 1:]
    Z = np.hstack([U, T, d[list(covs)].to_numpy(float)]) if covs else np.hstack([U, T])
    om = d[wcol].to_numpy(float)
    y = d["y"].to_numpy(float)
    Z0, Z1, om0 = Z[~treated], Z[treated], om[~treated]
    fit = sm.WLS(y[~treated], Z0, weights=om0).fit()
    tau = y[treated] - Z1 @ fit.params
    w1 = om[treated] / om[treated].sum()
    att = float(w1 @ tau)
    v0 = -(om0[:, None] * Z0) @ np.linalg.solve(Z0.T @ (om0[:, None] * Z0), Z1.T @ w1)
    # tau-bar by cohort x event time with weights v^2 = w1^2
    g1 = d.loc[treated, "cohort"].to_numpy()
    e1 = (d.loc[treated, "time"] - d.loc[treated, "cohort"]).to_numpy()
    key = g1 * 1000 + e1
    tbar = np.zeros_like(tau)
    for k in np.unique(key):
        s = key == k
        tbar[s] = np.sum(w1[s] ** 2 * tau[s]) / np.sum(w1[s] ** 2)
    contrib = np.zeros(len(d))
    contrib[~treated] = v0 * fit.resid
    contrib[treated] = w1 * (tau - tbar)
    sums = pd.Series(contrib).groupby(d["unit"].to_numpy()).sum().to_numpy()
    return att, float(np.sqrt(np.sum(sums**2)))


@pytest.mark.parametrize("covs", [(), ("x",)])
def test_bjs_weights_match_dense_wls_reference(covs):
    """Reference: statsmodels WLS first stage + dense BJS Theorem 3 (1e-9 abs, 1e-8 rel)."""
    from analysis.estimators.bjs import bjs_imputation

    df = _panel()
    r = _quiet(bjs_imputation, df, **KW, covariates=covs, weights="wi")
    att, se = _bjs_dense_reference(df, "wi", covs)
    assert r.aggregates["simple"].att == pytest.approx(att, abs=1e-9)
    assert r.aggregates["simple"].se == pytest.approx(se, rel=1e-8)
    assert r.info["weights"] == "wi"


@pytest.mark.parametrize("covs", [(), ("x",)])
def test_bjs_weights_of_one_and_duplicates(covs):
    """Properties: ones = unweighted (1e-12); integer weights = duplicated units (1e-10)."""
    from analysis.estimators.bjs import bjs_imputation

    df = _panel()
    r0 = _quiet(bjs_imputation, df, **KW, covariates=covs)
    r1 = _quiet(bjs_imputation, df, **KW, covariates=covs, weights="one")
    np.testing.assert_allclose(_values(r1)[0], _values(r0)[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(_values(r1)[1], _values(r0)[1], rtol=1e-12)
    assert r1.pretest["stat"] == pytest.approx(r0.pretest["stat"], rel=1e-12)
    rw = _quiet(bjs_imputation, df, **KW, covariates=covs, weights="wi")
    rd = _quiet(bjs_imputation, _duplicate(df, "wi"), **KW, covariates=covs)
    np.testing.assert_allclose(_values(rw)[0], _values(rd)[0], rtol=0, atol=1e-10)


def test_bjs_recovers_the_weighted_average_effect():
    """Known truth: noise-free, effects 1 (weight 3) / 3 (weight 1) -> weighted mean, 1e-10."""
    from analysis.estimators.bjs import bjs_imputation

    df = _panel(noise=0.0, beta_x=0.0)
    r = _quiet(bjs_imputation, df, **KW, weights="w")
    tr = df[(df["cohort"] > 0) & (df["time"] >= df["cohort"])]
    tau = np.where(tr["kind"] == 1, 3.0, 1.0)
    assert r.aggregates["simple"].att == pytest.approx(
        np.sum(tr["w"] * tau) / tr["w"].sum(), abs=1e-10
    )
    assert _quiet(bjs_imputation, df, **KW).aggregates["simple"].att == pytest.approx(
        tau.mean(), abs=1e-10
    )


# --------------------------------------------------------------------------- TWFE / event
def test_twfe_weights_match_linearmodels_panelols_clustered():
    """Reference: linearmodels PanelOLS(weights=w), clustered, fixest factor (1e-8 rel).

    PanelOLS ``fit(cov_type="clustered", debiased=False, auto_df=False,
    count_effects=False, group_debias=True)`` scales by (G/(G-1))(n-1)/n; times
    n/(n-K), K = k + T, it is fixest's CR1 (analysis.estimators.twfe docstring).
    """
    from linearmodels.panel import PanelOLS

    from analysis.estimators.twfe import twfe

    df = _panel()
    df["D"] = ((df["cohort"] > 0) & (df["time"] >= df["cohort"])).astype(float)
    df["wt"] = df["wi"] + 0.1 * df["time"]  # observation-level (time-varying) weights
    idx = pd.MultiIndex.from_arrays([df["unit"], df["time"]])
    res = PanelOLS(
        pd.Series(df["y"].to_numpy(), index=idx),
        pd.DataFrame({"D": df["D"].to_numpy(), "x": df["x"].to_numpy()}, index=idx),
        weights=pd.Series(df["wt"].to_numpy(), index=idx),
        entity_effects=True,
        time_effects=True,
    ).fit(
        cov_type="clustered",
        clusters=pd.DataFrame({"c": df["unit"].to_numpy()}, index=idx),
        debiased=False,
        auto_df=False,
        count_effects=False,
        group_debias=True,
    )
    n, K = len(df), 2 + df["time"].nunique()
    r = twfe(df, **KW, covariates=("x",), weights="wt")
    c = r.coefficients.set_index("term")
    np.testing.assert_allclose(c.loc[["D", "x"], "estimate"], res.params, rtol=1e-10)
    np.testing.assert_allclose(
        c.loc[["D", "x"], "se"], res.std_errors * np.sqrt(n / (n - K)), rtol=1e-8
    )
    assert r.info["est_method"] == "wls" and r.info["weights"] == "wt"


@pytest.mark.parametrize("method", ["twfe", "event"])
def test_regression_integer_weights_equal_duplicated_units(method):
    """Property: integer weights = duplicated units (coefficients, 1e-10)."""
    from analysis.estimators.event import event_study
    from analysis.estimators.twfe import twfe

    fn = {"twfe": twfe, "event": event_study}[method]
    df = _panel()
    rw = _quiet(fn, df, **KW, covariates=("x",), weights="wi")
    rd = _quiet(fn, _duplicate(df, "wi"), **KW, covariates=("x",))
    np.testing.assert_allclose(
        rw.coefficients["estimate"], rd.coefficients["estimate"], rtol=0, atol=1e-10
    )


def test_event_study_recovers_weighted_effects_by_event_time():
    """Known truth: one cohort, noise-free, effects 1 (weight 3) / 3 (weight 1) at every
    event time -> each post coefficient is the weighted mean effect, leads are 0 (1e-10)."""
    from analysis.estimators.event import event_study

    df = _panel(noise=0.0, beta_x=0.0)
    df = df[df["cohort"].isin([0, 4])]  # one cohort: the event study is a clean DiD
    r = _quiet(event_study, df, **KW, window=(-3, 2), weights="w")
    tr = df[(df["cohort"] == 4)].drop_duplicates("unit")
    tau = np.where(tr["kind"] == 1, 3.0, 1.0)
    want = np.sum(tr["w"] * tau) / tr["w"].sum()
    post = r.aggregates["dynamic"].by.query("event >= 0")["att"].to_numpy()
    np.testing.assert_allclose(post, want, rtol=0, atol=1e-10)
    pre = r.aggregates["dynamic"].by.query("event < 0")["att"].to_numpy()
    np.testing.assert_allclose(pre, 0.0, atol=1e-10)


# --------------------------------------------------------------------------- CLI / registry
def _cli(args):
    """The CLI in-process: (exit status, stdout, stderr)."""
    import contextlib
    import io

    from analysis.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def test_registry_declares_weights_and_cli_passes_them(tmp_path):
    """--weights COL reaches keyword ``weights``; --se reaches ``se``; bad values exit 2."""
    from analysis.estimators import registry

    for m in ("cs", "twfe", "event", "sa", "bjs", "gardner"):
        spec = registry.get_spec(m)
        assert spec.supports("weights") and spec.accepts("weights"), m
    df = _panel()
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False)
    base = ["estimate", "--data", str(path), "--outcome", "y", "--unit", "unit"]
    base += ["--time", "time", "--cohort", "cohort"]
    code, out, _ = _cli([*base, "--method", "cs", "--weights", "wi", "--json"])
    assert code == 0
    want = _quiet(callaway_santanna, df, **KW, weights="wi").aggregates["simple"].att
    assert json.loads(out)["aggregates"]["simple"]["att"] == pytest.approx(want, abs=1e-12)
    code, _, err = _cli([*base, "--method", "cs", "--weights", "nope"])
    assert code == 2 and "Traceback" not in err and "'nope'" in err
    code, out, _ = _cli([*base, "--method", "twfe", "--se", "hc1", "--weights", "wi", "--json"])
    assert code == 0 and json.loads(out)["se_type"].startswith("HC1")
    code, _, err = _cli([*base, "--method", "twfe", "--se", "hc9"])
    assert code == 2 and "se must be one of" in err
    code, _, err = _cli([*base, "--method", "cs", "--se", "hc1"])
    assert code == 2 and "--se does not apply to method 'cs'" in err


# --------------------------------------------------------------------------- SA
def _sa_dense_reference(df: pd.DataFrame, wcol: str | None):
    """Sun-Abraham by statsmodels WLS with every dummy (never-treated control).

    CATTs from the saturated regression; CR1 (fixest: unit effects counted once)
    from statsmodels' cluster covariance rescaled by (n - K_sm)/(n - K_fixest);
    interaction weights = cell weight totals (fixest aggregate use_weights=TRUE).
    """
    import statsmodels.api as sm

    d = df.sort_values(["unit", "time"]).reset_index(drop=True)
    e = np.where(d["cohort"] > 0, d["time"] - d["cohort"], np.nan)
    cells = sorted(
        {(int(g), int(v)) for g, v in zip(d["cohort"], e, strict=True) if g > 0 and v != -1}
    )
    C = np.column_stack([((d["cohort"] == g) & (e == v)).to_numpy(float) for g, v in cells])
    U = pd.get_dummies(d["unit"], dtype=float).to_numpy()
    T = pd.get_dummies(d["time"], dtype=float).to_numpy()[:, 1:]
    Z = np.hstack([C, U, T])
    w = np.ones(len(d)) if wcol is None else d[wcol].to_numpy(float)
    res = sm.WLS(d["y"].to_numpy(), Z, weights=w).fit(
        cov_type="cluster", cov_kwds={"groups": d["unit"].to_numpy()}
    )
    k = len(cells)
    n, K_sm = len(d), np.linalg.matrix_rank(Z)
    V = np.asarray(res.cov_params())[:k, :k] * (n - K_sm) / (n - (k + d["time"].nunique()))
    delta = res.params[:k]
    size = C.T @ w
    post = np.array([v >= 0 for _, v in cells])
    a = np.where(post, size, 0.0) / size[post].sum()
    return delta, np.sqrt(np.diag(V)), float(a @ delta), float(np.sqrt(a @ V @ a))


@pytest.mark.parametrize("wcol", [None, "wt"])
def test_sa_weights_match_statsmodels_saturated_wls(wcol):
    """Reference: statsmodels WLS saturated regression + IW aggregation (1e-10 / 1e-8 rel)."""
    from analysis.estimators.sa import sun_abraham

    df = _panel()
    df["wt"] = df["wi"] + 0.1 * df["time"]
    r = _quiet(sun_abraham, df, **KW, control="never", weights=wcol)
    delta, dse, att, se = _sa_dense_reference(df, wcol)
    np.testing.assert_allclose(r.att_gt["att"], delta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r.att_gt["se"], dse, rtol=1e-8)
    assert r.aggregates["simple"].att == pytest.approx(att, abs=1e-10)
    assert r.aggregates["simple"].se == pytest.approx(se, rel=1e-8)


def test_sa_weights_properties_and_truth():
    """Ones = unweighted (1e-12); integer weights = duplicates (1e-10); known truth (1e-10)."""
    from analysis.estimators.sa import sun_abraham

    df = _panel()
    r0 = _quiet(sun_abraham, df, **KW)
    r1 = _quiet(sun_abraham, df, **KW, weights="one")
    np.testing.assert_allclose(_values(r1)[0], _values(r0)[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(_values(r1)[1], _values(r0)[1], rtol=1e-12)
    rw = _quiet(sun_abraham, df, **KW, weights="wi")
    rd = _quiet(sun_abraham, _duplicate(df, "wi"), **KW)
    np.testing.assert_allclose(_values(rw)[0], _values(rd)[0], rtol=0, atol=1e-10)
    clean = _panel(noise=0.0, beta_x=0.0)
    rt = _quiet(sun_abraham, clean, **KW, weights="w")
    tr = clean[(clean["cohort"] > 0) & (clean["time"] >= clean["cohort"])]
    tau = np.where(tr["kind"] == 1, 3.0, 1.0)
    assert rt.aggregates["simple"].att == pytest.approx(
        np.sum(tr["w"] * tau) / tr["w"].sum(), abs=1e-10
    )


# --------------------------------------------------------------------------- Gardner
def _gardner_dense_reference(df: pd.DataFrame, wcol: str):
    """did2s with weights by explicit matrices (R did2s's sqrt(w) transformation)."""
    d = df.sort_values(["unit", "time"]).reset_index(drop=True)
    D = ((d["cohort"] > 0) & (d["time"] >= d["cohort"])).to_numpy()
    U = pd.get_dummies(d["unit"], dtype=float).to_numpy()
    T = pd.get_dummies(d["time"], dtype=float).to_numpy()[:, 1:]
    X1 = np.hstack([U, T])
    sw = np.sqrt(d[wcol].to_numpy(float))
    y = d["y"].to_numpy(float)
    X1s, ys = X1 * sw[:, None], y * sw
    X10s = X1s.copy()
    X10s[D] = 0.0
    g1 = np.linalg.lstsq(X10s, ys * (~D), rcond=None)[0]
    ytil = y - X1 @ g1
    X2 = D.astype(float)[:, None]
    X2s = X2 * sw[:, None]
    b = np.linalg.lstsq(X2s, ytil * sw, rcond=None)[0]
    u1 = (ytil * sw) * (~D)
    e2 = ytil * sw - X2s @ b
    gamma = np.linalg.pinv(X10s.T @ X10s) @ (X1s.T @ X2s)
    inv = np.linalg.inv(X2s.T @ X2s)
    meat = np.zeros((1, 1))
    for i in np.unique(d["unit"]):
        s = (d["unit"] == i).to_numpy()
        Wc = X2s[s].T @ e2[s] - gamma.T @ (X10s[s].T @ u1[s])
        meat += np.outer(Wc, Wc)
    V = inv @ meat @ inv
    return float(b[0]), float(np.sqrt(V[0, 0]))


def test_gardner_weights_match_dense_did2s_and_equal_bjs():
    """Reference: dense did2s GMM with sqrt(w) transformation (1e-9 / 1e-8 rel); the
    weighted static two-stage estimate equals the weighted BJS ATT (identity, 1e-10)."""
    from analysis.estimators.bjs import bjs_imputation
    from analysis.estimators.gardner import gardner

    df = _panel()
    df["wt"] = df["wi"] + 0.1 * df["time"]
    r = _quiet(gardner, df, **KW, weights="wt")
    b, se = _gardner_dense_reference(df, "wt")
    assert r.aggregates["simple"].att == pytest.approx(b, abs=1e-9)
    assert r.aggregates["simple"].se == pytest.approx(se, rel=1e-8)
    rb = _quiet(bjs_imputation, df, **KW, weights="wt")
    assert r.aggregates["simple"].att == pytest.approx(rb.aggregates["simple"].att, abs=1e-10)


def test_gardner_weights_properties():
    """Ones = unweighted (1e-12); integer weights = duplicated units (1e-10)."""
    from analysis.estimators.gardner import gardner

    df = _panel()
    r0 = _quiet(gardner, df, **KW, covariates=("x",))
    r1 = _quiet(gardner, df, **KW, covariates=("x",), weights="one")
    np.testing.assert_allclose(_values(r1)[0], _values(r0)[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(_values(r1)[1], _values(r0)[1], rtol=1e-12)
    rw = _quiet(gardner, df, **KW, covariates=("x",), weights="wi")
    rd = _quiet(gardner, _duplicate(df, "wi"), **KW, covariates=("x",))
    np.testing.assert_allclose(_values(rw)[0], _values(rd)[0], rtol=0, atol=1e-10)


def test_weights_are_named_in_json_summary_and_tables():
    """Every output names the weights column; unweighted outputs are unchanged (no key)."""
    from analysis.estimators.twfe import twfe
    from analysis.report.tables import design_notes

    df = _panel()
    rw = _quiet(twfe, df, **KW, weights="wi")
    r0 = _quiet(twfe, df, **KW)
    assert rw.to_dict()["weights"] == "wi" and "weights" not in r0.to_dict()
    assert "Weights: wi" in rw.summary() and "Weights" not in r0.summary()
    assert "Weights: wi." in " ".join(design_notes(rw))


def test_cs_weighted_multiplier_bootstrap():
    """Ones = unweighted bootstrap bit for bit (same seed); weighted bootstrap SE within
    15% of the weighted analytic SE (999 draws: Monte Carlo error ~ 2-3%)."""
    df = _panel()
    b0 = _quiet(callaway_santanna, df, **KW, n_boot=999, seed=11)
    b1 = _quiet(callaway_santanna, df, **KW, n_boot=999, seed=11, weights="one")
    np.testing.assert_allclose(_values(b1)[1], _values(b0)[1], rtol=1e-12)
    bw = _quiet(callaway_santanna, df, **KW, n_boot=999, seed=11, weights="wi")
    aw = _quiet(callaway_santanna, df, **KW, weights="wi")
    assert bw.aggregates["simple"].se == pytest.approx(aw.aggregates["simple"].se, rel=0.15)


def test_event_study_weighted_cr2_with_covariates_and_never_only():
    """Event study: CR2 with a covariate on the never-only sample (dense CR2, 1e-8 rel)."""
    import tests.test_se_types as st
    from analysis.estimators.event import event_study

    df = _panel()
    r = _quiet(
        event_study,
        df,
        **KW,
        covariates=("x",),
        window=(-2, 2),
        bin_endpoints=False,
        control="never",
        se="cr2",
        weights="wi",
    )
    e = np.where(df["cohort"] > 0, df["time"] - df["cohort"], np.nan)
    keep = (df["cohort"] == 0) | ((e >= -2) & (e <= 2))
    d = df.loc[keep].reset_index(drop=True)
    e = e[keep.to_numpy()]
    evs = list(r.aggregates["dynamic"].by["event"])
    for v in evs:
        d[f"ev{v}"] = (e == v).astype(float)
    V = st._cr2_dense(d, [f"ev{v}" for v in evs] + ["x"], "wi")
    got = np.r_[
        r.aggregates["dynamic"].by["se"].to_numpy(), r.coefficients.set_index("term").loc["x", "se"]
    ]
    np.testing.assert_allclose(got, np.sqrt(np.diag(V)), rtol=1e-8)


# --------------------------------------------------------------------------- pyfixest
PEERS = json.loads((REF / "weights_peers.json").read_text())


@pytest.mark.parametrize("se", ["iid", "hc1", "cr1"])
def test_weighted_twfe_matches_pyfixest(se):
    """Reference: pyfixest 0.60 feols(weights="wt", vcov=iid|hetero|CRV1), the fixest
    port (stored by generate_weights_peers.py): estimates 1e-10, SEs 1e-8 relative."""
    from analysis.estimators.twfe import twfe

    df = pd.read_csv(REF / "weights_panel.csv")
    r = twfe(df, **KW, covariates=("x",), weights="wt", se=se)
    ref = PEERS["results"]["twfe"][se]
    c = r.coefficients.set_index("term")
    for term in ("D", "x"):
        assert c.loc[term, "estimate"] == pytest.approx(ref["coef"][term], abs=1e-10)
        assert c.loc[term, "se"] == pytest.approx(ref["se"][term], rel=1e-8)


def test_weighted_gardner_matches_pyfixest_did2s():
    """Reference: pyfixest did2s(weights="wt") (R did2s port): 1e-4 (its iterative
    stage-1 fixed effects; notes in the JSON), SE 1e-4 relative."""
    from analysis.estimators.gardner import gardner

    df = pd.read_csv(REF / "weights_panel.csv")
    r = _quiet(gardner, df, **KW, weights="wt")
    ref = PEERS["results"]["did2s"]
    assert r.aggregates["simple"].att == pytest.approx(ref["coef"], abs=1e-4)
    assert r.aggregates["simple"].se == pytest.approx(ref["se"], rel=1e-4)


def test_weighted_bjs_matches_diff_diff():
    """Reference: diff-diff 3.13 ImputationDiD with SurveyDesign(weights="wu"): estimates
    1e-9 (its iterative solver: ~1e-11); SEs 1e-2 relative after removing its survey
    G/(G-1) factor (notes in weights_peers.json)."""
    from analysis.estimators.bjs import bjs_imputation

    df = pd.read_csv(REF / "weights_panel.csv")
    df["wu"] = (df["unit"] % 3 + 1).astype(float)
    r = _quiet(bjs_imputation, df, **KW, weights="wu")
    ref = PEERS["results"]["bjs_diff_diff"]
    G = df["unit"].nunique()
    adj = np.sqrt(G / (G - 1))
    assert r.aggregates["simple"].att == pytest.approx(ref["overall"]["att"], abs=1e-9)
    assert r.aggregates["simple"].se * adj == pytest.approx(ref["overall"]["se"], rel=1e-2)
    by = r.aggregates["dynamic"].by.set_index("event")
    for e, v in ref["event"].items():
        assert by.loc[int(e), "att"] == pytest.approx(v["att"], abs=1e-9)
        assert by.loc[int(e), "se"] * adj == pytest.approx(v["se"], rel=1e-2)
