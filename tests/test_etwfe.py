"""Extended TWFE (Wooldridge 2021): R ``etwfe`` reference, known truth, BJS identity, dense oracle.

References and tolerances
-------------------------
* **R etwfe** (reference software): ``tests/reference/etwfe_r.json``, extracted by
  ``tests/reference/generate_etwfe_reference.py`` from grantmcdermott/etwfe @
  2b47cfdf61b90140c8372574eece4ad6d43d37f9 (CRAN v0.6.2), files
  ``inst/tinytest/test_etwfe.R`` (``fixest::coeftable(etwfe(...))`` dput) and
  ``inst/tinytest/test_emfx.R`` (``emfx(...)`` dput), on ``did::mpdta``
  (``data/raw/external/mpdta.csv``). Calls (verbatim in the JSON):
  ``etwfe(lemp ~ 0 | lemp ~ lpop, tvar = year, gvar = first.treat, data = mpdta,
  vcov = ~countyreal[, cgroup = "never"])`` and ``emfx(m3, type = ...)``,
  ``emfx(m3n, type = "event", window = c(2, 3))``.
  Coefficients: absolute 1e-10; their clustered SEs: relative 1e-9 (same closed
  form as fixest). ``emfx`` estimates: absolute 1e-10; ``emfx`` SEs: relative 1e-6,
  because ``marginaleffects`` differentiates numerically (its SEs differ from the
  exact delta method by ~5e-8 relative); R's own test tolerance is 5e-4.
* **Known truth**: simulated panels (``simulate_staggered``) with the effects we
  set, within 4.5 standard errors (cells) / 4 (simple).
* **Identity**: without covariates and on a balanced panel, ETWFE's not-yet
  ATT(g, t) equals the imputation estimator's (Wooldridge 2021, Thm 7.3): 1e-9.
* **Dense oracle**: the same regression with every dummy written out,
  ``numpy.linalg.lstsq`` and an explicit CR1 sandwich, on an unbalanced panel
  with a time-varying covariate and clusters that cut across cohorts: 1e-8.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators.bjs import bjs_imputation
from analysis.estimators.etwfe import etwfe
from analysis.estimators.registry import get_spec
from tests._fe_common import MP, REF, SIM, check_invariances, load_mpdta

R = json.loads((REF / "etwfe_r.json").read_text())


@pytest.fixture(scope="module")
def mpdta():
    return load_mpdta()


# --------------------------------------------------------------------------- R etwfe
@pytest.mark.parametrize(
    "model, kwargs",
    [("m1", {}), ("m2", {"control": "never"}), ("m3", {"covariates": ["lpop"]})],
)
def test_coefficients_match_r_etwfe(mpdta, model, kwargs):
    r = etwfe(mpdta, **MP, **kwargs)
    got = r.coefficients.set_index("term")
    ref = R["coeftable"][model]
    assert list(got.index) == ref["term"]  # same terms, same order as fixest prints
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(got["se"], ref["std_error"], rtol=1e-9)


@pytest.mark.parametrize(
    "kind, agg, key",
    [("group", "group", "cohort"), ("calendar", "calendar", "time"), ("event", "dynamic", "event")],
)
def test_emfx_aggregations_match_r(mpdta, kind, agg, key):
    r = etwfe(mpdta, **MP, covariates=["lpop"])
    ref = R["emfx"][kind]
    rkey = {"group": "first.treat", "calendar": "year", "event": "event"}[kind]
    by = r[agg].by
    assert by[key].tolist() == [int(v) for v in ref[rkey]]
    np.testing.assert_allclose(by["att"], ref["estimate"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(by["se"], ref["std_error"], rtol=1e-6)


def test_emfx_simple_matches_r(mpdta):
    r = etwfe(mpdta, **MP, covariates=["lpop"])
    ref = R["emfx"]["simple"]
    assert r.att == pytest.approx(ref["estimate"][0], abs=1e-10)
    assert r.se == pytest.approx(ref["std_error"][0], rel=1e-6)
    assert r.info["control"] == "notyet" and r.info["cluster"] == "countyreal"


def test_emfx_never_event_matches_r(mpdta):
    """``emfx(m3n, type = "event", window = c(2, 3))``: leads -2, 0..3 (-1 is the reference)."""
    r = etwfe(mpdta, **MP, covariates=["lpop"], control="never")
    ref = R["emfx"]["event_never_window"]
    by = r["dynamic"].by.set_index("event")
    for e, est, se in zip(ref["event"], ref["estimate"], ref["std_error"], strict=True):
        if e == -1:
            assert -1 not in by.index  # zero by construction in emfx (SE NA): left out
            continue
        assert by.loc[int(e), "att"] == pytest.approx(est, abs=1e-10)
        assert by.loc[int(e), "se"] == pytest.approx(se, rel=1e-6)


def test_registered_and_capabilities():
    spec = get_spec("etwfe")
    assert spec.func is etwfe
    assert {"group_time", "dynamic", "calendar", "covariates", "cluster"} <= spec.capabilities
    assert not spec.supports("weights")
    assert spec.options["control"].choices == ("notyet", "never")


# --------------------------------------------------------------------------- identities
def test_notyet_cells_equal_imputation_without_covariates():
    d = simulate_staggered(n_units=400, n_periods=8, cohorts=(3, 5, 7), seed=3).data
    a = etwfe(d, **SIM).att_gt.set_index(["cohort", "time"])["att"]
    b = bjs_imputation(d, **SIM).att_gt.set_index(["cohort", "time"])["att"]
    pd.testing.assert_series_equal(a, b.reindex(a.index), check_exact=False, atol=1e-9, rtol=0)
    # simple = observation-weighted mean of the cells, as emfx averages rows
    assert etwfe(d, **SIM).att == pytest.approx(bjs_imputation(d, **SIM).att, abs=1e-9)


def _dense_oracle(d, covs, cluster):
    """OLS with explicit cohort, period, cell and covariate columns + CR1 (fixest)."""
    g, t, y = d["cohort"].to_numpy(float), d["time"].to_numpy(), d["y"].to_numpy()
    cohorts, times = np.unique(g), np.unique(t)
    cells = sorted({(a, b) for a, b in zip(g, t, strict=True) if a > 0 and b >= a})
    cols = [(g == c).astype(float) for c in cohorts]
    cols += [(t == s).astype(float) for s in times[1:]]
    cols += [((g == a) & (t == b)).astype(float) for a, b in cells]
    for x in covs:
        xv = d[x].to_numpy(float)
        xdm = xv - pd.Series(xv).groupby(g).transform("mean").to_numpy()
        cols += [xv] + [xv * (g == c) for c in cohorts[1:]] + [xv * (t == s) for s in times[1:]]
        cols += [((g == a) & (t == b)) * xdm for a, b in cells]
    Z = np.column_stack(cols)
    b, *_ = np.linalg.lstsq(Z, y, rcond=None)
    e = y - Z @ b
    bread = np.linalg.inv(Z.T @ Z)
    cl = pd.factorize(d[cluster])[0]
    S = np.vstack([Z[cl == c].T @ e[cl == c] for c in range(cl.max() + 1)])
    n, K, G = len(y), Z.shape[1], cl.max() + 1
    V = G / (G - 1) * (n - 1) / (n - K) * bread @ S.T @ S @ bread
    k0 = len(cohorts) + len(times) - 1
    return b[k0 : k0 + len(cells)], np.sqrt(np.diag(V))[k0 : k0 + len(cells)]


def test_dense_oracle_unbalanced_time_varying_covariates_coarse_clusters():
    sim = simulate_staggered(
        n_units=300, n_periods=7, cohorts=(3, 5), never_share=0.3, n_clusters=40, seed=8
    )
    rng = np.random.default_rng(0)
    d = sim.data.assign(
        xt=sim.data["x"] * sim.data["time"] + rng.normal(size=len(sim.data)),
        z=rng.normal(size=len(sim.data)),
    )
    d = d.drop(index=rng.choice(len(d), 150, replace=False)).reset_index(drop=True)
    r = etwfe(d, **SIM, covariates=["xt", "z"], cluster="cluster")
    b, se = _dense_oracle(d, ["xt", "z"], "cluster")
    terms = r.coefficients["term"]
    cells = r.coefficients[terms.str.startswith(".Dtreat") & ~terms.str.endswith("_dm")]
    np.testing.assert_allclose(cells["estimate"], b, atol=1e-8)
    np.testing.assert_allclose(cells["se"], se, rtol=1e-8)
    # the cell averages include the demeaned-covariate interactions (cell means of x_dm != 0)
    by = r.att_gt.set_index(["cohort", "time"])["att"]
    assert not np.allclose(by.to_numpy(), b, atol=1e-6)


@pytest.mark.slow
def test_large_panel_runs():
    d = simulate_staggered(n_units=100_000, n_periods=20, cohorts=(5, 10, 15), seed=1).data
    r = etwfe(d, **SIM, covariates=["x"])
    assert np.isfinite(r.att) and np.isfinite(r.se)


# --------------------------------------------------------------------------- known truth
def test_recovers_truth_cells_and_aggregates():
    sim = simulate_staggered(
        n_units=6000,
        n_periods=8,
        cohorts=(3, 5, 7),
        never_share=0.25,
        base_effect=(1.0, 2.0, 3.0),
        slope=0.5,
        seed=11,
    )
    r = etwfe(sim.data, **SIM)
    truth = sim.att_gt.set_index(["cohort", "time"])["att"]
    got = r.att_gt.set_index(["cohort", "time"])
    z = (got["att"] - truth.reindex(got.index)) / got["se"]
    assert z.notna().all() and np.abs(z).max() < 4.5
    assert abs(r.att - _true_row_mean(sim)) < 4 * r.se
    dyn = r["dynamic"].by.set_index("event")
    for e, v in sim.true_dynamic().items():
        assert abs(dyn.loc[e, "att"] - v) < 4.5 * dyn.loc[e, "se"]


def _true_row_mean(sim):
    """True ATT averaged over treated rows (emfx's simple weights)."""
    n = sim.data.groupby("cohort")["unit"].nunique()
    a = sim.att_gt
    return float(np.average(a["att"], weights=a["cohort"].map(n)))


def test_covariate_removes_confounding():
    """x tilts adoption and drives a trend beta_x * x * t / T: etwfe(y ~ x) removes the bias."""
    sim = simulate_staggered(
        n_units=8000, n_periods=8, cohorts=(3, 5, 7), never_share=0.25, beta_x=3.0, seed=5
    )
    with_x = etwfe(sim.data, **SIM, covariates=["x"])
    without = etwfe(sim.data, **SIM)
    truth = _true_row_mean(sim)
    assert abs(with_x.att - truth) < 4 * with_x.se
    assert abs(without.att - truth) > 6 * without.se  # the confounding is real
    never = etwfe(sim.data, **SIM, covariates=["x"], control="never")
    assert abs(never.att - truth) < 4 * never.se


def test_no_never_treated_uses_last_cohort():
    d = simulate_staggered(
        n_units=600, n_periods=8, cohorts=(3, 5, 7), never_share=0.0, seed=2
    ).data
    r = etwfe(d, **SIM)
    assert r.info["reference_cohort"] == 7
    assert r.att_gt["time"].max() < 7 and 7 not in set(r.att_gt["cohort"])
    assert any("comparison cohort" in n for n in r.info["notes"])
    with pytest.raises(InputError, match="never-treated"):
        etwfe(d, **SIM, control="never")


@pytest.mark.parametrize("seed, shift, scale, perm_seed", [(1, 3.5, 2.0, 7), (4, -20.0, 0.3, 11)])
def test_invariances(seed, shift, scale, perm_seed):
    d = simulate_staggered(n_units=120, n_periods=6, cohorts=(3, 5), seed=seed).data
    check_invariances(etwfe, d, perm_seed=perm_seed, shift=shift, scale=scale)


# --------------------------------------------------------------------------- inputs
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"control": "last"}, "control"),
        ({"ssc": "hc1"}, "ssc"),
        ({"alpha": 2.0}, "alpha"),
        ({"outcome": "nope"}, "not found"),
    ],
)
def test_bad_inputs(mpdta, kwargs, match):
    with pytest.raises(InputError, match=match):
        etwfe(mpdta, **{**MP, **kwargs})


def test_covariate_constant_within_cohort_raises(mpdta):
    with pytest.raises(InputError, match="constant within every cohort"):
        etwfe(mpdta.assign(c=mpdta["first.treat"] * 2.0), **MP, covariates=["c"])


def test_result_contract(mpdta):
    r = etwfe(mpdta, **MP)
    out = r.to_dict()
    assert out["method"] == "etwfe" and out["control"] == "notyet"
    assert set(out["aggregates"]) == {"simple", "group", "calendar", "dynamic"}
    assert len(out["att_gt"]) == 7
    assert r["dynamic"].vcov.shape == (4, 4)
    assert "cluster-robust" in r.info["se_type"]


def test_cli_estimate_etwfe(capsys):
    from analysis.cli import main
    from tests._fe_common import MPDTA

    args = [
        "estimate",
        "--data",
        str(MPDTA),
        "--outcome",
        "lemp",
        "--unit",
        "countyreal",
        "--time",
        "year",
        "--cohort",
        "first.treat",
        "--method",
        "etwfe",
        "--covariates",
        "lpop",
        "--json",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "etwfe"
    assert out["aggregates"]["simple"]["att"] == pytest.approx(
        R["emfx"]["simple"]["estimate"][0], abs=1e-10
    )
    from tests.test_cli import run

    bad = run([*args, "--control", "last"])
    assert bad.returncode == 2 and "control" in bad.stderr and "Traceback" not in bad.stderr
