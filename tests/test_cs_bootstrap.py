"""Multiplier bootstrap and sup-t bands (``analysis.inference.multiplier``) in CS."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy import stats

from analysis.data.simulate import simulate_staggered
from analysis.estimators.cs import callaway_santanna
from analysis.inference.multiplier import (
    BLOCK_DRAWS,
    iqr_se,
    multiplier_bootstrap,
    multiplier_draws,
    sup_t_critical_value,
)
from analysis.inference.vcov import Clusters, cluster_sums, if_se, if_vcov


def _fit(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return callaway_santanna(data, outcome="y", unit="unit", time="time", cohort="cohort", **kw)


@pytest.fixture(scope="module")
def panel():
    return simulate_staggered(
        n_units=3000,
        n_periods=6,
        cohorts=(3, 4, 5),
        base_effect=(1.0, 1.5, 2.0),
        slope=0.3,
        n_clusters=150,
        seed=3,
    ).data


# --------------------------------------------------------------------------- primitives
def test_rademacher_draws_are_signs_and_deterministic():
    psi = np.eye(5) * 5.0  # n = 5 units, K = 5: draw_bk = V_bk * 5 / 5 = V_bk
    d1 = multiplier_draws(psi, 200, rng=7)
    d2 = multiplier_draws(psi, 200, rng=7)
    assert np.array_equal(d1, d2)
    assert set(np.unique(d1)) == {-1.0, 1.0}
    assert abs(d1.mean()) < 0.1
    d3 = multiplier_draws(psi, 200, rng=8)
    assert not np.array_equal(d1, d3)


def test_mammen_moments():
    psi = np.eye(3) * 3.0
    d = multiplier_draws(psi, 20_000, rng=1, weights="mammen")
    assert abs(d.mean()) < 0.03
    assert d.var() == pytest.approx(1.0, abs=0.03)
    assert (d**3).mean() == pytest.approx(1.0, abs=0.1)  # E V^3 = 1 for Mammen


def test_draws_do_not_depend_on_block_layout():
    # B not a multiple of the block size: the tail block is generated consistently
    psi = np.random.default_rng(0).normal(size=(50, 3))
    d = multiplier_draws(psi, BLOCK_DRAWS + 5, rng=3)
    assert d.shape == (BLOCK_DRAWS + 5, 3)
    assert np.array_equal(d[:BLOCK_DRAWS], multiplier_draws(psi, BLOCK_DRAWS, rng=3))


def test_bootstrap_se_matches_analytic_and_clusters():
    rng = np.random.default_rng(0)
    n = 4000
    psi = rng.normal(size=(n, 4)) * np.array([1.0, 2.0, 0.5, 3.0])
    res = multiplier_bootstrap(psi, 2000, rng=1)
    np.testing.assert_allclose(res.se, if_se(psi), rtol=0.08)
    # clustered: a shared cluster shock makes the cluster-robust SE larger
    cl = Clusters.from_labels(np.repeat(np.arange(200), n // 200))
    psi_c = psi + np.repeat(rng.normal(size=(200, 4)), n // 200, axis=0)
    res_c = multiplier_bootstrap(psi_c, 2000, rng=2, clusters=cl)
    np.testing.assert_allclose(res_c.se, if_se(psi_c, cl), rtol=0.1)
    assert np.all(if_se(psi_c, cl) > 1.5 * if_se(psi_c))


def test_vcov_primitives():
    rng = np.random.default_rng(1)
    psi = rng.normal(size=(100, 3))
    np.testing.assert_allclose(if_se(psi), np.sqrt((psi**2).mean(axis=0) / 100))
    np.testing.assert_allclose(np.sqrt(np.diag(if_vcov(psi))), if_se(psi))
    singletons = Clusters.from_labels(np.arange(100)[::-1])
    np.testing.assert_allclose(if_se(psi, singletons), if_se(psi))
    cl = Clusters.from_labels(["a", "b"] * 50)
    np.testing.assert_allclose(
        cluster_sums(psi, cl), np.vstack([psi[::2].sum(0), psi[1::2].sum(0)])
    )


def test_iqr_se_and_sup_t_conventions():
    d = np.column_stack([np.random.default_rng(2).normal(size=10_000), np.zeros(10_000)])
    se = iqr_se(d)
    assert se[0] == pytest.approx(1.0, rel=0.05)
    assert np.isnan(se[1])  # degenerate column
    # one column: sup-t is the two-sided normal quantile
    assert sup_t_critical_value(d, se, 0.05) == pytest.approx(stats.norm.ppf(0.975), rel=0.05)
    assert np.isnan(sup_t_critical_value(d, np.array([np.nan, np.nan]), 0.05))


# --------------------------------------------------------------------------- estimator
def test_same_seed_identical_output(panel):
    a = _fit(panel, n_boot=199, seed=42)
    b = _fit(panel, n_boot=199, seed=42)
    assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)
    assert a.att_gt_crit == b.att_gt_crit
    c = _fit(panel, n_boot=199, seed=43)
    assert c.att_gt_crit != a.att_gt_crit
    assert a.info["seed"] == 42 and a.info["n_boot"] == 199
    assert a.info["se_type"].startswith("multiplier bootstrap")


def test_unseeded_bootstrap_records_its_seed(panel):
    a = _fit(panel, n_boot=99)
    assert isinstance(a.info["seed"], int)
    b = _fit(panel, n_boot=99, seed=a.info["seed"])
    assert a.to_dict() == b.to_dict()


def test_bands_wider_than_pointwise_and_ses_close(panel):
    r0 = _fit(panel)
    r = _fit(panel, n_boot=999, seed=1)
    z = stats.norm.ppf(0.975)
    assert r0.att_gt_crit is None and r0["dynamic"].crit_value is None
    assert r.att_gt_crit > z
    for kind in ("group", "dynamic", "calendar"):
        assert r[kind].crit_value >= z
    assert r["dynamic"].crit_value > z
    # point estimates untouched, SEs close to the analytic ones
    np.testing.assert_array_equal(r.att_gt["att"], r0.att_gt["att"])
    ratio = (r.att_gt["se"] / r0.att_gt["se"]).dropna()
    assert ratio.between(0.85, 1.15).all()
    assert r.se / r0.se == pytest.approx(1.0, abs=0.15)
    tidy = r.tidy()
    gt = tidy[tidy["aggregation"] == "att_gt"]
    assert ((gt["band_high"] - gt["band_low"]) > (gt["conf_high"] - gt["conf_low"])).all()


def test_clustered_bootstrap(panel):
    r_an = _fit(panel, cluster="cluster")
    r_bs = _fit(panel, cluster="cluster", n_boot=999, seed=5)
    ratio = (r_bs.att_gt["se"] / r_an.att_gt["se"]).dropna()
    assert ratio.between(0.8, 1.2).all()
    assert "clustered" in r_bs.info["se_type"]


def test_universal_base_cells_have_no_se_under_bootstrap(panel):
    r = _fit(panel, base_period="universal", n_boot=199, seed=1)
    base = r.att_gt[r.att_gt["time"] == r.att_gt["base"]]
    assert len(base) == 3
    assert (base["att"] == 0).all() and base["se"].isna().all()
    dyn = r["dynamic"].by.set_index("event")
    assert dyn.loc[-1, "att"] == 0 and np.isnan(dyn.loc[-1, "se"])
    assert np.isfinite(r.att_gt_crit)


@pytest.mark.slow
def test_sup_t_band_coverage_monte_carlo():
    """Simultaneous 95% bands for the event-study effects cover all of them ~95%."""
    reps, cover, cover_pw = 400, 0, 0
    z = stats.norm.ppf(0.975)
    for rep in range(reps):
        s = simulate_staggered(
            n_units=600,
            n_periods=6,
            cohorts=(3, 4, 5),
            base_effect=(1.0, 1.5, 2.0),
            slope=0.3,
            seed=1000 + rep,
        )
        r = _fit(s.data, n_boot=499, seed=rep)
        dyn = r["dynamic"].by.set_index("event")
        td = s.true_dynamic()
        truth = td.reindex(dyn.index).fillna(0.0)  # pre-periods: zero effect
        ok = dyn["se"].notna()
        dev = np.abs(dyn["att"] - truth)[ok] / dyn["se"][ok]
        cover += bool((dev <= r["dynamic"].crit_value).all())
        cover_pw += bool((dev <= z).all())
    rate = cover / reps
    print(f"sup-t coverage {rate:.3f}, pointwise joint coverage {cover_pw / reps:.3f}")
    assert 0.91 <= rate <= 0.985, rate
    assert cover_pw < cover  # pointwise intervals under-cover jointly
