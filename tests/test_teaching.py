"""Teaching study (synthetic): DGPs, Monte Carlo determinism, recorded runs, design helpers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.errors import InputError
from analysis.estimators import get_estimator
from analysis.inference.power import PanelDesign
from analysis.studies import teaching as T


def test_dgps_add_exactly_their_complication():
    base = T.simulate_dgp("homogeneous", seed=5)
    ant = T.simulate_dgp("anticipation", seed=5)
    trd = T.simulate_dgp("pt_violation", seed=5)
    d = base.data
    g, t = d["cohort"].to_numpy(), d["time"].to_numpy()
    np.testing.assert_allclose(ant.data["y"] - d["y"], 1.0 * ((g > 0) & (t == g - 1)))
    np.testing.assert_allclose(trd.data["y"] - d["y"], 0.15 * (t - 1) * (g > 0))
    assert base.true_simple() == pytest.approx(2.0)
    het = T.simulate_dgp("heterogeneous", seed=5)
    assert set(het.att_gt.groupby("cohort")["att"].first()) == {3.0, 2.0, 1.0}


def test_event_estimand_is_mean_of_post_event_effects():
    sim = T.simulate_dgp("dynamic", seed=2)
    res = get_estimator("event")(sim.data, outcome="y", unit="unit", time="time", cohort="cohort")
    truth = T.estimands(sim, "event", res)
    dyn = sim.true_dynamic()
    assert truth == pytest.approx(dyn[dyn.index >= 0].mean())
    assert T.estimands(sim, "cs") == pytest.approx(sim.true_simple())


def test_monte_carlo_identical_for_any_number_of_workers():
    kw = dict(dgps=("dynamic",), methods=("twfe", "cs"), n_reps=4, block=2)
    a = T.monte_carlo(**kw, n_jobs=1)
    b = T.monte_carlo(**kw, n_jobs=2)
    c = T.monte_carlo(**kw, backend="serial")
    pd.testing.assert_frame_equal(a.draws, b.draws)
    pd.testing.assert_frame_equal(a.draws, c.draws)
    assert len(a.draws) == 8 and a.draws["panel_seed"].nunique() == 4


def test_monte_carlo_on_dask_matches_serial():
    distributed = pytest.importorskip("dask.distributed")
    kw = dict(dgps=("homogeneous",), methods=("twfe",), n_reps=3, block=1)
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None
    ) as client:
        a = T.monte_carlo(**kw, client=client)
    b = T.monte_carlo(**kw)
    pd.testing.assert_frame_equal(a.draws, b.draws)


def test_few_cluster_study_identical_for_any_number_of_workers():
    kw = dict(clusters=(6,), n_reps=2, block=1, B=99)
    s1, d1 = T.few_cluster_study(**kw, n_jobs=1)
    s2, d2 = T.few_cluster_study(**kw, n_jobs=2)
    pd.testing.assert_frame_equal(d1, d2)
    assert set(s1["method"]) == {"CR1", "CR2", "wild", "ri"}
    assert d1[["CR1", "CR2", "wild", "ri"]].apply(lambda c: c.between(0, 1)).all().all()


def test_summarise_by_hand():
    draws = pd.DataFrame(
        {
            "dgp": "x",
            "method": "m",
            "estimate": [1.0, 3.0, 2.5, 2.0],
            "se": [0.1, 1.0, 0.1, 0.5],
            "truth": 2.0,
        }
    )
    s = T.summarise(draws).iloc[0]
    assert s["bias"] == pytest.approx(0.125)
    assert s["rmse"] == pytest.approx(np.sqrt((1 + 1 + 0.25 + 0) / 4))
    assert s["coverage"] == pytest.approx(0.5)  # rows 2 and 4 cover; 1.96*0.1 < 0.5
    assert s["coverage_mc_se"] == pytest.approx(0.25)


def test_recorded_run_is_complete_and_reproducible():
    rec = T.load_recorded()
    meta = rec["meta"]
    assert meta["data_layer"] == "synthetic"
    assert meta["mc"]["n_reps"] >= 500 and meta["fewclusters"]["n_reps"] >= 500
    s = rec["mc_summary"]
    assert set(s["dgp"]) == set(T.DGPS) and set(s["method"]) == set(T.METHODS)
    assert (s["n_reps"] == meta["mc"]["n_reps"]).all()
    again = T.summarise(rec["mc_draws"])
    pd.testing.assert_frame_equal(
        again.reset_index(drop=True)[s.columns],
        s,
        check_exact=False,
        rtol=1e-9,
        atol=1e-12,
        check_dtype=False,
    )
    fc = rec["fewclusters"]
    assert sorted(set(fc["clusters"])) == [6, 12, 26, 50]
    # the first recorded replications are what the code produces now (seeded)
    mc = T.monte_carlo(("homogeneous",), ("twfe", "bjs"), n_reps=2, seed=meta["mc"]["seed"])
    old = rec["mc_draws"]
    old = old[
        (old["dgp"] == "homogeneous") & (old["rep"] <= 2) & old["method"].isin(["twfe", "bjs"])
    ]
    np.testing.assert_allclose(mc.draws["estimate"], old["estimate"], rtol=1e-9)
    assert list(mc.draws["panel_seed"]) == list(old["panel_seed"])


def test_static_twfe_is_biased_under_dynamics_and_robust_estimators_are_not():
    s = T.load_recorded()["mc_summary"].set_index(["dgp", "method"])
    se = s["sd_estimate"] / np.sqrt(s["n_reps"])
    assert s.loc[("dynamic", "twfe"), "bias"] < -10 * se.loc[("dynamic", "twfe")]
    for m in ("cs", "sa", "bjs", "gardner", "event"):
        assert abs(s.loc[("dynamic", m), "bias"]) < 4 * se.loc[("dynamic", m)]
        assert abs(s.loc[("homogeneous", m), "bias"]) < 4 * se.loc[("homogeneous", m)]


def test_dynamic_mde_factor_matches_twfe_on_noise_free_effects():
    des = PanelDesign(40, 8, {4: 10, 6: 10})
    profile = [1.0, 1.5, 2.0, 2.5, 3.0]
    f = T.dynamic_mde_factor(des, profile, "twfe")
    # direct: TWFE coefficient on the noise-free dynamic effect, vs the true overall ATT
    g = des.cohorts()
    t = des.times
    e = (t[None, :] - g[:, None]).astype(int)
    tau = np.where((g[:, None] > 0) & (e >= 0), np.asarray(profile)[np.clip(e, 0, 4)], 0.0)
    d = des.long(tau)
    beta = get_estimator("twfe")(d, outcome="y", unit="unit", time="time", cohort="cohort")
    att = tau[(g[:, None] > 0) & (e >= 0)].mean()
    assert f == pytest.approx(att / beta.aggregates["simple"].att, rel=1e-9)
    assert f > 1
    assert T.dynamic_mde_factor(des, [1.0], "twfe") == pytest.approx(1.0)
    assert T.dynamic_mde_factor(des, profile, "cs") == 1.0


def test_bad_inputs():
    with pytest.raises(InputError, match="unknown DGP"):
        T.simulate_dgp("nope")
    with pytest.raises(InputError, match="n_reps"):
        T.monte_carlo(n_reps=0)
    with pytest.raises(InputError, match="unknown method"):
        T.monte_carlo(methods=("ols",), n_reps=1)


def test_adding_a_method_to_a_recorded_run_equals_a_full_run(tmp_path):
    """record_runs(add=...) merges a newly registered estimator into a recorded
    Monte Carlo: the result is the same draws, in the same order, as a full run
    with every method (the panels depend on the seeds and blocks, not on the
    method list)."""
    kw = dict(n_reps=2, mc_seed=11, only="mc")
    full, part = tmp_path / "full", tmp_path / "part"
    full.mkdir()
    part.mkdir()
    (part / "run.json").write_text("{}")
    for d in (full, part):  # the few-cluster files are only carried along
        for name in ("fewclusters_summary.csv", "fewclusters_draws.csv"):
            (d / name).write_text("x\n")
    T.record_runs(full, **kw)
    # a record made before etwfe was registered
    older = tuple(m for m in T.METHODS if m != "etwfe")
    mc = T.monte_carlo(n_reps=2, seed=11, methods=older)
    T._atomic_csv(mc.draws, part / "mc_draws.csv")
    T._atomic_csv(mc.summary(), part / "mc_summary.csv")
    meta = json.loads((full / "run.json").read_text())
    meta["mc"]["methods"] = list(older)
    (part / "run.json").write_text(json.dumps(meta))
    T.record_runs(part, add=["etwfe"])
    for name in ("mc_draws.csv", "mc_summary.csv"):
        a = pd.read_csv(full / name)
        b = pd.read_csv(part / name)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-10)
    assert json.loads((part / "run.json").read_text())["mc"]["methods"] == list(T.METHODS)
    with pytest.raises(InputError, match="cannot add"):
        T.record_runs(part, add=["sdid"])
