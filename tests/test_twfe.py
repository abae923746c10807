"""Static TWFE: peers (pyfixest CRV1, linearmodels default), published numbers, truth, properties."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators import _fe
from analysis.estimators._panel import prepare_panel
from analysis.estimators.twfe import twfe
from tests._fe_common import (
    EST_TOL,
    MP,
    SE_RTOL,
    SIM,
    check_invariances,
    load_mpdta,
    ref,
    sim_panel,
)


@pytest.fixture(scope="module")
def mpdta():
    return load_mpdta()


@pytest.mark.parametrize(
    "ssc,peer", [("fixest", "pyfixest_crv1"), ("linearmodels", "linearmodels_default")]
)
def test_mpdta_matches_peers(mpdta, ssc, peer):
    r = twfe(mpdta, **MP, ssc=ssc)
    p = ref("mpdta")["twfe"][peer]
    assert r.att == pytest.approx(p["coef"], abs=EST_TOL)
    assert r.se == pytest.approx(p["se"], rel=SE_RTOL)
    assert r.info["ssc"] == ssc and r.info["control"].startswith("never+not-yet")


@pytest.mark.parametrize("key,covs", [("twfe", ()), ("twfe_cov", ("xt",))])
@pytest.mark.parametrize(
    "ssc,peer", [("fixest", "pyfixest_crv1"), ("linearmodels", "linearmodels_default")]
)
def test_sim_matches_peers(key, covs, ssc, peer):
    r = twfe(sim_panel(), **SIM, covariates=covs, ssc=ssc)
    p = ref("sim")[key][peer]
    assert r.att == pytest.approx(p["coef"], abs=EST_TOL)
    assert r.se == pytest.approx(p["se"], rel=SE_RTOL)


def test_within_solver_agrees_with_panelols(mpdta):
    """The sparse absorbed solver used by the dynamic estimators reproduces PanelOLS."""
    p = prepare_panel(mpdta, **MP)
    c = _fe.panel_codes(p)
    import scipy.sparse as sp

    S = sp.hstack(
        [_fe.time_dummies(c.tid, c.n_times), sp.csr_matrix(c.treated.astype(float)[:, None])]
    )
    f = _fe.fit_absorbed(p.data["y"].to_numpy(), c.uid, c.n_units, S)
    sc = _fe.cluster_scores(c.cl, c.n_cl, S, None, f.resid)
    fac = _fe.ssc_factor(
        "fixest", n=len(p.data), k=1, n_units=c.n_units, n_times=c.n_times, G=c.n_cl
    )
    V = _fe.sandwich(f.bread, sc, fac)
    r = twfe(mpdta, **MP)
    assert f.coef[-1] == pytest.approx(r.att, abs=1e-12)
    assert np.sqrt(V[-1, -1]) == pytest.approx(r.se, rel=1e-10)


def test_published_mpdta_twfe(mpdta):
    # fixest: feols(lemp ~ D | countyreal + year, cluster = ~countyreal) -> -0.0365 (0.0133),
    # identical to pyfixest in fe_mpdta.json; also the Bacon 'twfe' of diff-diff
    r = twfe(mpdta, **MP)
    assert r.att == pytest.approx(ref("mpdta")["bacon"]["diff_diff"]["twfe"], abs=1e-10)
    assert round(r.att, 4) == -0.0365


def test_time_invariant_covariate_is_dropped_with_note(mpdta):
    with pytest.warns(UserWarning, match="absorbed"):
        r = twfe(mpdta, **MP, covariates=["lpop"])
    assert r.info["covariates"] == []
    assert r.att == pytest.approx(twfe(mpdta, **MP).att, abs=1e-12)


def test_twfe_is_biased_under_dynamic_heterogeneous_effects():
    sim = simulate_staggered(
        n_units=5000,
        n_periods=10,
        cohorts=(3, 5, 7),
        never_share=0.2,
        base_effect=(1.0, 2.0, 3.0),
        slope=0.5,
        seed=7,
    )
    r = twfe(sim.data, **SIM)
    truth = sim.true_simple()
    assert abs(r.att - truth) > 10 * r.se  # visibly biased relative to its own SE


def test_result_is_immutable(mpdta):
    r = twfe(mpdta, **MP)
    with pytest.raises(TypeError):
        r.aggregates["simple"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        r.info["ssc"] = "x"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.method = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(outcome="nope"), "not found"),
        (dict(ssc="stata"), "ssc must be one of"),
        (dict(alpha=1.5), "alpha"),
        (dict(cluster="missing_col"), "not found"),
    ],
)
def test_bad_inputs(mpdta, kwargs, match):
    with pytest.raises(InputError, match=match):
        twfe(mpdta, **{**MP, **kwargs})


def test_duplicate_rows_raise(mpdta):
    with pytest.raises(InputError, match="duplicate"):
        twfe(pd.concat([mpdta, mpdta.iloc[:1]]), **MP)


# ---------------------------------------------------------------- properties
def _small(seed):
    return simulate_staggered(
        n_units=60, n_periods=6, cohorts=(3, 5), never_share=0.3, seed=seed
    ).data


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    shift=st.floats(-50, 50),
    scale=st.floats(0.1, 20),
    perm_seed=st.integers(0, 10_000),
)
def test_invariances(seed, shift, scale, perm_seed):
    check_invariances(twfe, _small(seed), perm_seed=perm_seed, shift=shift, scale=scale)


def test_no_warning_on_clean_input(mpdta):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        twfe(mpdta, **MP)


@pytest.mark.parametrize("ssc", ["fixest", "linearmodels"])
def test_within_backend_equals_panelols(ssc):
    """The default exact-absorption path reproduces linearmodels PanelOLS."""
    s = simulate_staggered(n_units=400, n_periods=8, cohorts=(3, 5, 7), seed=11, n_clusters=30).data
    s["x2"] = np.random.default_rng(1).normal(size=len(s))
    kw = dict(
        outcome="y",
        unit="unit",
        time="time",
        cohort="cohort",
        covariates=("x2",),
        cluster="cluster",
        ssc=ssc,
    )
    a = twfe(s, **kw)
    b = twfe(s, **kw, backend="linearmodels")
    np.testing.assert_allclose(a.coefficients["estimate"], b.coefficients["estimate"], atol=1e-10)
    np.testing.assert_allclose(a.coefficients["se"], b.coefficients["se"], rtol=1e-10)
    assert "within" in a.info["estimator"] and "PanelOLS" in b.info["estimator"]
