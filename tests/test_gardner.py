"""Gardner two-stage DiD: peers (diff-diff TwoStageDiD, pyfixest did2s), truth, inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators.bjs import bjs_imputation
from analysis.estimators.gardner import gardner
from tests._fe_common import MP, SIM, load_mpdta, ref, sim_panel, truth_panel


@pytest.fixture(scope="module")
def mpdta():
    return load_mpdta()


@pytest.mark.parametrize(
    "name,key,covs",
    [("mpdta", "gardner", ()), ("sim", "gardner", ()), ("sim", "gardner_cov", ("xt",))],
)
def test_matches_diff_diff(name, key, covs, mpdta):
    data, cols = (mpdta, MP) if name == "mpdta" else (sim_panel(), SIM)
    r = gardner(data, **cols, covariates=covs)
    p = ref(name)[key]["diff_diff"]
    assert r.att == pytest.approx(p["att"], abs=1e-6)
    assert r.se == pytest.approx(p["att_se"], rel=1e-4)
    by = r["dynamic"].by.set_index("event")
    for e, b, s in zip(p["dynamic"]["event"], p["dynamic"]["att"], p["dynamic"]["se"], strict=True):
        assert by.loc[e, "att"] == pytest.approx(b, abs=1e-6)
        assert by.loc[e, "se"] == pytest.approx(s, rel=1e-4)


@pytest.mark.parametrize("key,covs", [("gardner", ()), ("gardner_cov", ("xt",))])
def test_matches_pyfixest_did2s(key, covs):
    r = gardner(sim_panel(), **SIM, covariates=covs)
    p = ref("sim")[key]["pyfixest_did2s"]
    # pyfixest 0.60 recovers the stage-1 fixed effects iteratively, so its point estimates are off
    # the exact least-squares solution by ~1e-5 (no covariates) to ~1e-4 (with a covariate); the
    # exact solution is confirmed by diff-diff (1e-10, test above) and by dense LSDV (test below).
    assert r.att == pytest.approx(p["att"], abs=5e-4)
    assert r.se == pytest.approx(p["att_se"], rel=1e-4)
    by = r["dynamic"].by.set_index("event")
    for e, b, s in zip(p["dynamic"]["event"], p["dynamic"]["att"], p["dynamic"]["se"], strict=True):
        assert by.loc[e, "att"] == pytest.approx(b, abs=5e-4)
        assert by.loc[e, "se"] == pytest.approx(s, rel=1e-4)


def test_exact_against_dense_lsdv():
    d = simulate_staggered(
        n_units=150, n_periods=7, cohorts=(3, 5), never_share=0.3, beta_x=1.0, seed=9
    ).data
    d = d.assign(xt=d["x"] * d["time"] / 7.0)
    D = ((d["cohort"] > 0) & (d["time"] >= d["cohort"])).to_numpy()
    Z = np.hstack(
        [
            pd.get_dummies(d["unit"]).to_numpy(float),
            pd.get_dummies(d["time"]).to_numpy(float)[:, 1:],
            d[["xt"]].to_numpy(),
        ]
    )
    beta = np.linalg.lstsq(Z[~D], d["y"].to_numpy()[~D], rcond=None)[0]
    ytil = d["y"].to_numpy() - Z @ beta
    r = gardner(d, **SIM, covariates=["xt"])
    assert r.att == pytest.approx(ytil[D].mean(), abs=1e-10)
    rel = np.where(d["cohort"] > 0, d["time"] - d["cohort"], np.nan)
    by = r["dynamic"].by.set_index("event")
    for e in by.index:
        assert by.loc[e, "att"] == pytest.approx(ytil[rel == e].mean(), abs=1e-10)


def test_static_equals_bjs_point_estimate(mpdta):
    g = gardner(mpdta, **MP)
    b = bjs_imputation(mpdta, **MP)
    assert g.att == pytest.approx(b.att, abs=1e-12)
    assert g.se != pytest.approx(b.se, rel=1e-6)  # different variance estimators
    pub = ref("mpdta")["published"]["imputation_att"]
    assert round(g.att, pub["digits"]) == pytest.approx(pub["value"], abs=1e-12)


def test_recovers_truth():
    sim = truth_panel()
    r = gardner(sim.data, **SIM)
    assert abs(r.att - sim.true_simple()) < 4 * r.se
    by = r["dynamic"].by.set_index("event")
    for e, v in sim.true_dynamic().items():
        assert abs(by.loc[e, "att"] - v) < 4.5 * by.loc[e, "se"]
    assert r.pretest["p_value"] > 1e-3


def test_bad_inputs(mpdta):
    with pytest.raises(InputError, match="alpha"):
        gardner(mpdta, **MP, alpha=-0.1)
    with pytest.raises(InputError, match="not found"):
        gardner(mpdta, **{**MP, "unit": "county"})
    with pytest.raises(InputError, match="no treated units"):
        gardner(mpdta.assign(**{"first.treat": 0}), **MP)


@pytest.mark.slow
def test_large_panel_runs():
    d = simulate_staggered(n_units=100_000, n_periods=20, cohorts=(5, 10, 15), seed=1).data
    r = gardner(d, **SIM)
    assert np.isfinite(r.att) and np.isfinite(r.se)


def test_unbalanced_coarse_clusters_match_peers():
    """Unbalanced panel, 40 clusters nesting units: TWFE, SA, BJS, Gardner against the peers."""
    from analysis.estimators.sa import sun_abraham
    from analysis.estimators.twfe import twfe

    d = simulate_staggered(n_units=800, n_periods=8, n_clusters=40, seed=3).data
    d = d.iloc[d.index % 17 != 0]
    p = ref("sim")["unbalanced_clustered"]
    cases = [
        (twfe, p["twfe"]["pyfixest_crv1"]["coef"], p["twfe"]["pyfixest_crv1"]["se"]),
        (sun_abraham, p["sa"]["diff_diff"]["att"], p["sa"]["diff_diff"]["att_se"]),
        (bjs_imputation, p["bjs"]["diff_diff"]["att"], p["bjs"]["diff_diff"]["att_se"]),
        (gardner, p["gardner"]["diff_diff"]["att"], p["gardner"]["diff_diff"]["att_se"]),
    ]
    for f, att, se in cases:
        r = f(d, **SIM, cluster="cluster")
        assert r.info["n_clusters"] == 40
        assert r.att == pytest.approx(att, abs=1e-6), f.__name__
        assert r.se == pytest.approx(se, rel=1e-4), f.__name__
