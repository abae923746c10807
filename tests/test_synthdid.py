"""Synthetic DiD, synthetic control and the DiD comparison (analysis.estimators.synthdid).

References used here
--------------------
1. **Published numbers** -- Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021,
   AER 111(12)), Table 1, California Proposition 99 (``california_prop99`` of R
   ``synthdid``): SDID -15.6 (8.4), SC -19.6 (9.9), DiD -27.3 (17.7). The
   standard errors are **placebo** SEs (Algorithm 4) with R's default 200
   replications after ``set.seed(12345)``: ``vignettes/paper-results.Rmd`` of
   synth-inference/synthdid @ 70c1ce3 (chunk ``california-estimation``:
   ``sqrt(vcov(estimate, method='placebo'))``; the table is
   ``round(california.table, digits=1)``). Tolerance for the estimates: half a
   unit of the printed digit (0.05).
2. **Reference software, printed to more digits** -- R ``synthdid`` 0.0.9
   (``vignettes/synthdid.Rmd``: ``print(summary(tau.hat))``): estimate -15.60383;
   unit weights Nevada 0.124, New Hampshire 0.105, Connecticut 0.078, Delaware
   0.070, Colorado 0.058; time weights 1988 0.427, 1986 0.366, 1987 0.206;
   ``N0.effective`` 16.388, ``T0.effective`` 2.783 (as printed in the rendered
   vignette; the same numbers are in Stata ``sdid``'s help example, Clarke,
   Pailanir, Athey & Imbens 2023: SDID -15.60383, ``method(sc)`` -19.61966,
   ``method(did)`` -27.34911). Tolerance: half a unit of the last printed digit
   (5e-6 for the estimates, 5e-4 for the weights and effective sizes).
3. **Placebo SEs** are Monte Carlo quantities: our replications use numpy's
   generator, not R's stream, so they can only agree within Monte Carlo error.
   Tolerance: 0.05 (rounding) + 3 x sqrt(2) x the Monte Carlo s.e. of an SE from
   200 replications, estimated from our own replications by the delta method,
   ``sqrt((m4 - s^4) / (4 s^2 B))`` (sqrt(2): both the paper's and our SE carry
   that error). On this panel it is about 2.9 (SDID), 4.6 (SC) and 5 (DiD)
   packs; a wrong algorithm (e.g. no re-estimation of the weights) or a wrong
   scale factor is outside it.
4. **Reference software, stored** -- diff-diff 3.13.0 ``SyntheticDiD`` (an
   independent Python implementation of R ``synthdid``), values in
   ``tests/reference/synthdid_diffdiff.json`` written by
   ``tests/reference/generate_synthdid_reference.py`` (which does not import
   ``analysis``) on its own block panel ``synthdid_block.csv`` and on Prop 99.
   Both packages draw replications from ``numpy.random.default_rng(seed)`` in
   the same way, so even the resampling SEs agree. Tolerance 1e-9 (relative).
5. **Known truth** -- :func:`analysis.data.simulate.simulate_staggered`, block and
   staggered adoption, effects we set: exact recovery without noise (SDID and
   DiD are exact under additive unit and time effects, whatever the weights),
   within 4 jackknife SEs with noise.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.data.paths import raw_path
from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators import registry
from analysis.estimators.synthdid import did_estimate, synthdid, synthetic_control

PROP99 = raw_path("external", "california_prop99.csv")
COLS = dict(outcome="PacksPerCapita", unit="State", time="Year", cohort="first_treated")
FNS = {"sdid": synthdid, "sc": synthetic_control, "did": did_estimate}


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    return pd.read_csv(PROP99)


@pytest.fixture(scope="module")
def placebo(prop99):
    """The three estimators with R's 200 placebo replications (computed once)."""
    return {k: f(prop99, **COLS, se="placebo", n_reps=200, seed=0) for k, f in FNS.items()}


# ----------------------------------------------------------- published / reference
@pytest.mark.parametrize(
    "kind, paper, printed",
    [("sdid", -15.6, -15.60383), ("sc", -19.6, -19.61966), ("did", -27.3, -27.34911)],
)
def test_prop99_point_estimates(placebo, kind, paper, printed):
    res = placebo[kind]
    assert abs(res.att - paper) <= 0.05  # Table 1, one decimal
    assert abs(res.att - printed) <= 5e-6  # R synthdid / Stata sdid, five decimals
    assert res.n_units == 39 and res.n_obs == 1209


def test_prop99_weights_match_r_summary(placebo):
    res = placebo["sdid"]
    om = res.unit_weights.set_index("unit")["weight"]
    for state, w in {
        "Nevada": 0.124,
        "New Hampshire": 0.105,
        "Connecticut": 0.078,
        "Delaware": 0.070,
        "Colorado": 0.058,
    }.items():
        assert abs(om[state] - w) <= 5e-4, state
    lam = res.time_weights.set_index("time")["weight"]
    for year, w in {1988: 0.427, 1986: 0.366, 1987: 0.206}.items():
        assert abs(lam[year] - w) <= 5e-4, year
    assert abs(1 / np.sum(om**2) - 16.388) <= 5e-4  # N0.effective
    assert abs(1 / np.sum(lam**2) - 2.783) <= 5e-4  # T0.effective
    # SC: no time weights; DiD: uniform weights
    assert (placebo["sc"].time_weights["weight"] == 0).all()
    assert np.allclose(placebo["did"].unit_weights["weight"], 1 / 38)


@pytest.mark.parametrize("kind, paper", [("sdid", 8.4), ("sc", 9.9), ("did", 17.7)])
def test_prop99_placebo_se_matches_table1_within_monte_carlo_error(placebo, kind, paper):
    res = placebo[kind]
    assert res.info["se_type"] == "placebo" and res.info["n_reps"] == 200
    u = res.replicates
    s = u.std()
    assert res.se == pytest.approx(s, rel=1e-12)  # sqrt((B-1)/B) * sd
    m4 = np.mean((u - u.mean()) ** 4)
    mcse_200 = np.sqrt((m4 - s**4) / (4 * s**2 * 200))
    assert abs(res.se - paper) <= 0.05 + 3 * np.sqrt(2) * mcse_200, (res.se, mcse_200)
    lo, hi = res.to_dict()["aggregates"]["simple"]["ci"]
    assert lo == pytest.approx(res.att - 1.959964 * res.se, abs=1e-5)
    assert hi == pytest.approx(res.att + 1.959964 * res.se, abs=1e-5)


def test_matches_diff_diff_stored_values(placebo):
    from analysis.data.paths import REPO_ROOT

    ref_dir = REPO_ROOT / "tests" / "reference"
    ref = json.loads((ref_dir / "synthdid_diffdiff.json").read_text())
    blk = pd.read_csv(ref_dir / "synthdid_block.csv")
    for se, want in ref["block"].items():
        got = synthdid(
            blk,
            outcome="y",
            unit="unit",
            time="time",
            cohort="cohort",
            se=se,
            n_reps=ref["n_reps"],
            seed=ref["seed"],
        )
        assert got.att == pytest.approx(want["att"], rel=1e-9), se
        assert got.se == pytest.approx(want["se"], rel=1e-9), se
    p = ref["prop99_placebo_200"]
    assert placebo["sdid"].att == pytest.approx(p["att"], rel=1e-9)
    assert placebo["sdid"].se == pytest.approx(p["se"], rel=1e-9)


def test_cli_estimate_sdid_reproduces_the_published_estimate(capsys):
    rc = main(
        [
            "estimate",
            "--data",
            str(PROP99),
            "--outcome",
            "PacksPerCapita",
            "--unit",
            "State",
            "--time",
            "Year",
            "--cohort",
            "first_treated",
            "--method",
            "sdid",
            "--reps",
            "20",
            "--seed",
            "3",
            "--json",
        ]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    simple = out["aggregates"]["simple"]
    assert abs(simple["att"] - (-15.6)) <= 0.05 and abs(simple["att"] - (-15.60383)) <= 5e-6
    assert simple["se"] > 0 and simple["ci"][0] < simple["att"] < simple["ci"][1]
    assert out["method"] == "sdid" and out["se_type"] == "placebo" and out["control"] == "never"
    assert out["provenance"]["seed"] == 3 and out["att_gt"] == []
    units = {w["unit"]: w["weight"] for w in out["weights"]["unit"]}
    assert abs(units["Nevada"] - 0.124) <= 5e-4 and sum(units.values()) == pytest.approx(1)


def test_cli_se_and_reps_errors_are_one_line():
    def run(*extra):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as e:
            main(
                [
                    "estimate",
                    "--data",
                    str(PROP99),
                    "--outcome",
                    "PacksPerCapita",
                    "--unit",
                    "State",
                    "--time",
                    "Year",
                    "--cohort",
                    "first_treated",
                    *extra,
                ]
            )
        return e.value.code, err.getvalue().strip()

    code, msg = run("--method", "sc", "--se", "hc1")
    assert code == 2 and msg.count("\n") == 0
    assert "se must be one of 'placebo', 'jackknife', 'bootstrap'" in msg
    code, msg = run("--method", "sdid", "--se", "bootstrap", "--reps", "5")
    assert code == 2 and "needs at least 2 treated units" in msg and msg.count("\n") == 0
    code, msg = run("--method", "sdid", "--reps", "1")
    assert code == 2 and "n_reps" in msg


# ------------------------------------------------------------------------ known truth
def _truth(sim) -> tuple[float, dict[int, float]]:
    """Treated-unit-period average of the true effects, overall and per cohort."""
    sizes = sim.data.drop_duplicates("unit").groupby("cohort")["unit"].size()
    a = sim.att_gt.assign(n=sim.att_gt["cohort"].map(sizes))
    per = a.groupby("cohort")["att"].mean().to_dict()
    return float(np.average(a["att"], weights=a["n"])), per


@pytest.mark.parametrize("cohorts", [(6,), (4, 6, 8)], ids=["block", "staggered"])
@pytest.mark.parametrize("kind", ["sdid", "did"])
def test_exact_without_noise(cohorts, kind):
    sim = simulate_staggered(
        n_units=40, n_periods=10, cohorts=cohorts, never_share=0.5, noise_sd=0.0, seed=4
    )
    truth, per = _truth(sim)
    res = FNS[kind](
        sim.data, outcome="y", unit="unit", time="time", cohort="cohort", se="jackknife"
    )
    assert res.att == pytest.approx(truth, abs=1e-8)
    by = res["group"].by.set_index("cohort")["att"]
    for c, v in per.items():
        assert by[c] == pytest.approx(v, abs=1e-8)


@pytest.mark.parametrize("cohorts", [(6,), (4, 6, 8)], ids=["block", "staggered"])
@pytest.mark.parametrize("kind", ["sdid", "sc"])
def test_recovers_effects_with_noise(cohorts, kind):
    sim = simulate_staggered(
        n_units=120,
        n_periods=12,
        cohorts=cohorts,
        never_share=0.5,
        noise_sd=1.0,
        base_effect=2.0,
        slope=0.25,
        seed=11,
    )
    truth, _ = _truth(sim)
    res = FNS[kind](
        sim.data, outcome="y", unit="unit", time="time", cohort="cohort", se="jackknife"
    )
    assert 0 < res.se < 1
    assert abs(res.att - truth) < 4 * res.se, (res.att, truth, res.se)
    w = res.cohorts
    assert w["weight"].sum() == pytest.approx(1)
    # aggregation: treated unit-periods
    np.testing.assert_allclose(
        w["weight"], w["n_treated"] * w["t_post"] / (w["n_treated"] * w["t_post"]).sum()
    )
    assert res.att == pytest.approx(float(w["weight"] @ w["att"]))


@pytest.mark.slow
def test_staggered_bootstrap_and_placebo_run_and_cover():
    sim = simulate_staggered(
        n_units=80,
        n_periods=10,
        cohorts=(4, 7),
        never_share=0.6,
        noise_sd=1.0,
        base_effect=(1.0, 2.0),
        slope=0.0,
        seed=2,
    )
    truth, _ = _truth(sim)
    for se in ("bootstrap", "placebo"):
        res = synthdid(
            sim.data,
            outcome="y",
            unit="unit",
            time="time",
            cohort="cohort",
            se=se,
            n_reps=30,
            seed=1,
        )
        assert res.replicates.shape == (30,) and np.isfinite(res.replicates).all()
        assert 0 < res.se < 1.5 and abs(res.att - truth) < 4 * res.se, (se, res.att, res.se)
        assert res["group"].by["se"].notna().all()


# ------------------------------------------------------------------------- properties
@pytest.fixture(scope="module")
def small():
    return simulate_staggered(
        n_units=50, n_periods=9, cohorts=(5, 7), never_share=0.5, noise_sd=1.0, seed=8
    ).data


@pytest.mark.parametrize("kind", ["sdid", "sc", "did"])
def test_weights_on_the_simplex(small, kind):
    res = FNS[kind](small, outcome="y", unit="unit", time="time", cohort="cohort", se="jackknife")
    for frame in (res.unit_weights, res.time_weights):
        assert (frame["weight"] >= 0).all()
        s = frame.groupby("cohort")["weight"].sum()
        if kind == "sc" and frame is res.time_weights:
            assert (s == 0).all()
        else:
            np.testing.assert_allclose(s, 1.0, atol=1e-12)
    never = set(small.loc[small["cohort"] == 0, "unit"])
    assert set(res.unit_weights["unit"]) == never


def test_deterministic_given_seed():
    d = simulate_staggered(
        n_units=24, n_periods=7, cohorts=(5,), never_share=0.6, noise_sd=1.0, seed=3
    ).data
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort", n_reps=3)
    a = synthdid(d, **kw, seed=5)  # default SE: R's bootstrap (several treated units)
    b = synthdid(d, **kw, seed=5)
    assert a.info["se_type"] == "bootstrap"
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    np.testing.assert_array_equal(a.replicates, b.replicates)
    # the seed drives the draws (the fixed-weight DiD makes many draws cheap)
    kw.update(n_reps=50, se="bootstrap")
    x, y, z = (did_estimate(d, **kw, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(x.replicates, y.replicates)
    assert x.att == z.att and x.se != z.se


def test_invariances(small):
    """R synthdid's own invariance tests (tests/testthat/test_synthdid.R): adding a
    linear time effect (it leaves sigma, hence zeta, unchanged) leaves every estimate unchanged; adding a unit effect leaves SDID
    and DiD unchanged (not SC); scaling Y by c scales the estimate by c."""
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort", se="jackknife")
    d = small.copy()
    base = {k: FNS[k](d, **kw) for k in FNS}
    shifted_t = d.assign(y=d["y"] + 2.0 * d["time"])  # R: bt = 2 * column index
    shifted_i = d.assign(y=d["y"] + 2.5 * d["unit"])
    scaled = d.assign(y=d["y"] * 1e3)
    for k, f in FNS.items():
        assert f(shifted_t, **kw).att == pytest.approx(base[k].att, abs=1e-7)
        assert f(scaled, **kw).att == pytest.approx(1e3 * base[k].att, rel=1e-7)
        if k != "sc":
            assert f(shifted_i, **kw).att == pytest.approx(base[k].att, abs=1e-7)


def test_bad_input_is_a_one_line_input_error(prop99, small):
    kw = dict(outcome="y", unit="unit", time="time", cohort="cohort")
    treated_only = small[small["cohort"] > 0]
    with pytest.raises(InputError, match="no never-treated units"):
        synthdid(treated_only, **kw)
    with pytest.warns(UserWarning, match="dropped 2 unit"):  # rows 3 and 17: units 1 and 2
        res = did_estimate(small.drop(index=[3, 17]), **kw, se="jackknife")
    assert res.n_units == 48 and "dropped 2 unit(s) not observed in all 9 periods" in res.notes[-1]
    assert "1" not in set(map(str, res.unit_weights["unit"])) or 1 not in set(
        res.unit_weights["unit"]
    )
    early = small.copy()
    early.loc[early["cohort"] == 5, "cohort"] = 2
    with pytest.warns(UserWarning, match=r"cohort\(s\) 2 \(\d+ unit\(s\), 1 pre-period\) left out"):
        res = did_estimate(early, **kw, se="jackknife")
    assert list(res.cohorts["cohort"]) == [7] and "left out" in res.notes[-1]
    with pytest.raises(InputError, match="needs at least 2 pre-treatment periods"):
        synthdid(early[early["cohort"] != 7], **kw)
    with pytest.raises(InputError, match="se must be one of"):
        synthdid(small, **kw, se="hc1")
    with pytest.raises(InputError, match="n_reps"):
        synthdid(small, **kw, n_reps=0)
    with pytest.raises(InputError, match="seed"):
        synthdid(small, **kw, seed=-1)
    with pytest.raises(InputError, match="more never-treated units than treated"):
        few = small[(small["cohort"] > 0) | (small["unit"] <= 8)]
        synthdid(few, **kw, se="placebo")
    with pytest.raises(InputError, match="at least 2 treated units in every cohort"):
        synthdid(prop99, **COLS, se="jackknife")
    one_control = small[
        (small["cohort"] > 0) | (small["unit"] == small.loc[small["cohort"] == 0, "unit"].min())
    ]
    with pytest.raises(InputError, match="at least 2 never-treated"):
        synthdid(one_control, **kw)
    for bad in (treated_only, small[small["time"] > 7]):
        with pytest.raises(InputError) as e:
            synthdid(bad, **kw)
        assert "\n" not in str(e.value)


def test_registry_entries_and_plot(placebo):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from analysis.report.figures import synth_plot, synth_weights_plot

    for name, fn in (("sdid", synthdid), ("sc", synthetic_control)):
        spec = registry.get_spec(name)
        assert spec.func is fn
        assert spec.options["se"].choices == ("placebo", "jackknife", "bootstrap", None)
        assert not spec.supports("analytic_se") and not spec.supports("covariates")
    fig = synth_plot(placebo["sdid"], overlay=True)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and len(fig.axes) == 2  # 2 trajectories + onset; lambda axis
    fig2 = synth_weights_plot(placebo["sdid"], top=5)
    assert len(fig2.axes[0].patches) == 5
    import matplotlib.pyplot as plt

    plt.close(fig)
    plt.close(fig2)
