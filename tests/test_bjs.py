"""BJS imputation: peers (diff-diff ImputationDiD), published ATT, truth, properties, inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators.bjs import bjs_imputation
from tests._fe_common import (
    MP,
    MPDTA,
    SIM,
    check_invariances,
    load_mpdta,
    ref,
    sim_panel,
    truth_panel,
)


@pytest.fixture(scope="module")
def mpdta():
    return load_mpdta()


@pytest.mark.parametrize(
    "name,key,covs", [("mpdta", "bjs", ()), ("sim", "bjs", ()), ("sim", "bjs_cov", ("xt",))]
)
def test_matches_diff_diff(name, key, covs, mpdta):
    data, cols = (mpdta, MP) if name == "mpdta" else (sim_panel(), SIM)
    r = bjs_imputation(data, **cols, covariates=covs)
    p = ref(name)[key]["diff_diff"]
    assert r.att == pytest.approx(p["att"], abs=1e-6)
    assert r.se == pytest.approx(p["att_se"], rel=1e-4)
    by = r["dynamic"].by.set_index("event")
    for e, b, s in zip(p["dynamic"]["event"], p["dynamic"]["att"], p["dynamic"]["se"], strict=True):
        assert by.loc[e, "att"] == pytest.approx(b, abs=1e-6)
        assert by.loc[e, "se"] == pytest.approx(s, rel=1e-4)


def test_published_imputation_att(mpdta):
    pub = ref("mpdta")["published"]["imputation_att"]
    assert round(bjs_imputation(mpdta, **MP).att, pub["digits"]) == pytest.approx(
        pub["value"], abs=1e-12
    )


def test_att_gt_and_simple_are_consistent(mpdta):
    r = bjs_imputation(mpdta, **MP)
    d = pd.read_csv(MPDTA)
    n = (
        d[(d["first.treat"] > 0) & (d["year"] >= d["first.treat"])]
        .groupby(["first.treat", "year"])
        .size()
    )
    a = r.att_gt.set_index(["cohort", "time"])["att"]
    assert r.att == pytest.approx(
        float((a * n.reindex(a.index).to_numpy()).sum() / n.sum()), abs=1e-12
    )
    assert r.pretest["df"] == 3 and 0 <= r.pretest["p_value"] <= 1


def test_recovers_truth():
    sim = truth_panel()
    r = bjs_imputation(sim.data, **SIM)
    assert abs(r.att - sim.true_simple()) < 4 * r.se
    by = r["dynamic"].by.set_index("event")
    for e, v in sim.true_dynamic().items():
        assert abs(by.loc[e, "att"] - v) < 4.5 * by.loc[e, "se"]
    truth_gt = sim.att_gt.set_index(["cohort", "time"])["att"]
    got = r.att_gt.set_index(["cohort", "time"])
    z = (got["att"] - truth_gt.reindex(got.index)) / got["se"]
    assert np.abs(z).max() < 4.5


def test_covariate_removes_confounding():
    sim = simulate_staggered(
        n_units=20000, n_periods=10, cohorts=(3, 5, 7), never_share=0.25, beta_x=2.0, seed=5
    )
    d = sim.data.assign(xt=sim.data["x"] * sim.data["time"] / 10.0)
    r = bjs_imputation(d, **SIM, covariates=["xt"])
    assert abs(r.att - sim.true_simple()) < 4 * r.se


def test_no_never_treated():
    d = simulate_staggered(
        n_units=600, n_periods=8, cohorts=(3, 5, 7), never_share=0.0, seed=2
    ).data
    r = bjs_imputation(d, **SIM)
    # periods >= 7 have no untreated observation: those treated rows cannot be imputed
    assert r.info["n_imputed"] < int(((d["cohort"] > 0) & (d["time"] >= d["cohort"])).sum())
    assert any("cannot be imputed" in n for n in r.info["notes"])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(horizons=-1), "horizons"),
        (dict(pretrends=1.5), "pretrends"),
        (dict(alpha=2), "alpha"),
        (dict(covariates=["nope"]), "not found"),
    ],
)
def test_bad_inputs(mpdta, kwargs, match):
    with pytest.raises(InputError, match=match):
        bjs_imputation(mpdta, **{**MP, **kwargs})


def test_cohort_varying_within_unit_raises(mpdta):
    d = mpdta.copy()
    d.loc[0, "first.treat"] = 2006
    with pytest.raises(InputError, match="varies within"):
        bjs_imputation(d, **MP)


def _small(seed):
    return simulate_staggered(
        n_units=50, n_periods=6, cohorts=(3, 5), never_share=0.3, seed=seed
    ).data


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    shift=st.floats(-50, 50),
    scale=st.floats(0.1, 20),
    perm_seed=st.integers(0, 10_000),
)
def test_invariances(seed, shift, scale, perm_seed):
    check_invariances(bjs_imputation, _small(seed), perm_seed=perm_seed, shift=shift, scale=scale)


@pytest.mark.slow
def test_large_panel_runs():
    d = simulate_staggered(n_units=100_000, n_periods=20, cohorts=(5, 10, 15), seed=1).data
    r = bjs_imputation(d, **SIM)
    assert np.isfinite(r.att) and np.isfinite(r.se)


def test_dynamic_vcov_with_pretrend_leads_feeds_honestdid(mpdta):
    """With pre-trend leads the dynamic aggregate carries the joint covariance of
    leads and horizons (stacked cluster scores), so HonestDiD starts from the result."""
    from analysis.inference.honest import honest_from_result

    r = bjs_imputation(mpdta, **MP, pretrends=3)
    dyn = r["dynamic"]
    V = dyn.vcov
    assert V is not None and V.shape == (len(dyn.by), len(dyn.by))
    np.testing.assert_allclose(np.sqrt(np.diag(V)), dyn.by["se"], rtol=1e-12)
    np.testing.assert_allclose(V, V.T, atol=1e-15)
    assert np.linalg.eigvalsh(V).min() > 0
    post = dyn.by["event"].to_numpy() >= 0
    plain = bjs_imputation(mpdta, **MP, pretrends=0)["dynamic"]
    np.testing.assert_allclose(V[np.ix_(post, post)], plain.vcov, rtol=1e-12, atol=1e-18)
    assert np.abs(V[np.ix_(~post, post)]).max() > 0  # the leads do co-vary with the horizons
    h = honest_from_result(r, "smoothness", grid=[0.0, 0.01])
    assert np.isfinite(h.table[["lb", "ub"]].to_numpy()).all()
