"""Event-study options: bin width, binned end-points, reference period, always-treated units.

Three kinds of evidence, each with its tolerance:

* Reference software. The estimator's bins are rebuilt here independently (as
  sets of event times, from the rules in the :mod:`analysis.estimators.event`
  docstring) and entered as explicit dummies, with explicit unit and time
  dummies, in ``statsmodels`` OLS (statsmodels 0.14, ``OLS.fit(cov_type="cluster",
  cov_kwds={"groups": unit, "use_correction": False})``: the uncorrected CR0
  sandwich), times the small-sample factor written out below (fixest's
  ``ssc(adj=TRUE, fixef.K="nested", cluster.adj=TRUE)``:
  :math:`G/(G-1)\\cdot(n-1)/(n-K)`, :math:`K` = event bins + covariates + number
  of periods). Second reference: ``linearmodels`` 7.1 ``PanelOLS(y, dummies,
  entity_effects=True, time_effects=True).fit(cov_type="clustered",
  cluster_entity=True)`` against ``ssc="linearmodels"``. Tolerance 1e-10
  (coefficients absolute, standard errors relative): both are exact
  least-squares computations on a small panel.
* Known truth. Noise-free panels whose effect is constant within bins of width
  2: the binned event study recovers every bin effect to 1e-8, including with
  always-treated units kept; a wrong width (3) does not.
* CLI: each flag reaches the keyword and gives the API's numbers (1e-12); a
  method without the keyword refuses the flag with one line and exit status 2.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators.event import event_study
from analysis.estimators.sa import sun_abraham

SIM = dict(outcome="y", unit="unit", time="time", cohort="cohort")
COEF_TOL, SE_RTOL = 1e-10, 1e-10


# ----------------------------------------------------------------------------- data
def _panel(always: bool = False) -> pd.DataFrame:
    """Seeded staggered panel, periods 2001..2012, time-varying covariate ``xt``;
    with ``always``, 12 units treated in the first period (2001) and 8 in 1995."""
    d = simulate_staggered(
        n_units=150, n_periods=12, cohorts=(4, 6, 9), never_share=0.3, beta_x=0.5, seed=5
    ).data
    d = d.assign(
        time=d["time"] + 2000,
        cohort=np.where(d["cohort"] > 0, d["cohort"] + 2000, 0),
        xt=d["x"] * d["time"] / 10.0,
    )
    if always:
        never = np.sort(d.loc[d["cohort"] == 0, "unit"].unique())
        d.loc[d["unit"].isin(never[:12]), "cohort"] = 2001
        d.loc[d["unit"].isin(never[12:20]), "cohort"] = 1995
    return d


# ------------------------------------------------------------- independent bins
def _bins(lo: int, hi: int, ref: int, w: int) -> list[set[int]]:
    """The bins of the docstring as sets: post from 0 up, leads from ref-1 down,
    the leads between the reference and the onset from -1 down; ref alone."""
    out = []
    a = 0
    while a <= hi:
        out.append(set(range(a, min(a + w - 1, hi) + 1)))
        a += w
    top = ref - 1
    while top >= lo:
        out.append(set(range(max(top - w + 1, lo), top + 1)))
        top -= w
    top = -1
    while top > ref:
        out.append(set(range(max(top - w + 1, ref + 1), top + 1)))
        top -= w
    return out


def _dummies(d, *, lo, hi, ref, w, pooled, never_only=False):
    """Explicit bin dummies (columns labelled by the member nearest 0) and the rows used."""
    e = np.where(d["cohort"] > 0, d["time"] - d["cohort"], np.nan)
    inside = np.isnan(e) | ((e >= lo) & (e <= hi))
    rows = inside if (never_only and not pooled) else np.ones(len(d), bool)
    cols = {}
    for members in _bins(lo, hi, ref, w):
        lab = min(members, key=abs)
        ee = np.clip(e, lo, hi) if pooled else np.where(inside, e, np.nan)
        col = np.isin(ee, sorted(members)).astype(float)
        if col[rows].any():
            cols[lab] = col
    D = pd.DataFrame(dict(sorted(cols.items())), index=d.index)
    return D.loc[rows], rows


def _statsmodels_fixest(d, D, covs):
    import statsmodels.api as sm

    X = pd.concat(
        [
            D.add_prefix("ev"),
            d[list(covs)],
            pd.get_dummies(d["unit"], prefix="u", dtype=float),
            pd.get_dummies(d["time"], prefix="t", drop_first=True, dtype=float),
        ],
        axis=1,
    ).astype(float)
    assert np.linalg.matrix_rank(X.to_numpy()) == X.shape[1]  # every dummy identified
    fit = sm.OLS(d["y"].to_numpy(), X).fit(
        cov_type="cluster", cov_kwds={"groups": d["unit"].to_numpy(), "use_correction": False}
    )
    n, G = len(d), d["unit"].nunique()
    K = D.shape[1] + len(covs) + d["time"].nunique()
    factor = G / (G - 1) * (n - 1) / (n - K)
    k = D.shape[1]
    return fit.params.to_numpy()[:k], np.sqrt(np.diag(fit.cov_params().to_numpy())[:k] * factor)


CASES = {
    "w2_binned": dict(window=(-5, 5), ref_period=-1, bin_width=2),
    "w3_ref-2_cov": dict(window=(-6, 6), ref_period=-2, bin_width=3, covariates=("xt",)),
    "w2_ref-3_odd_window": dict(window=(-7, 4), ref_period=-3, bin_width=2),
    "w2_unbinned": dict(window=(-4, 4), bin_width=2, bin_endpoints=False),
    "w2_unbinned_never": dict(window=(-4, 4), bin_width=2, bin_endpoints=False, control="never"),
    "w1_default": dict(window=(-5, 5)),
    "w2_always_include": dict(window=(-5, 5), bin_width=2, always_treated="include"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bins_match_explicit_dummy_ols_in_statsmodels(case):
    kw = CASES[case]
    always = kw.get("always_treated") == "include"
    d = _panel(always=always)
    with pytest.warns(UserWarning) if always else contextlib.nullcontext():
        r = event_study(d, **SIM, **kw)
    lo, hi = kw["window"]
    D, rows = _dummies(
        d,
        lo=lo,
        hi=hi,
        ref=kw.get("ref_period", -1),
        w=kw.get("bin_width", 1),
        pooled=kw.get("bin_endpoints", True),
        never_only=kw.get("control") == "never",
    )
    b, se = _statsmodels_fixest(d.loc[rows], D, kw.get("covariates", ()))
    by = r["dynamic"].by
    assert list(by["event"]) == list(D.columns)
    np.testing.assert_allclose(by["att"], b, rtol=0, atol=COEF_TOL)
    np.testing.assert_allclose(by["se"], se, rtol=SE_RTOL)
    assert r.n_obs == int(rows.sum())
    assert r.info["bin_width"] == kw.get("bin_width", 1)


@pytest.mark.parametrize("case", ["w2_binned", "w3_ref-2_cov"])
def test_bins_match_linearmodels_panelols(case):
    from linearmodels.panel import PanelOLS

    kw = CASES[case]
    d = _panel()
    r = event_study(d, **SIM, **kw, ssc="linearmodels")
    lo, hi = kw["window"]
    D, _ = _dummies(d, lo=lo, hi=hi, ref=kw["ref_period"], w=kw["bin_width"], pooled=True)
    X = pd.concat([D.add_prefix("ev"), d[list(kw.get("covariates", ()))]], axis=1)
    idx = pd.MultiIndex.from_arrays([d["unit"], d["time"]])
    fit = PanelOLS(
        d["y"].set_axis(idx), X.set_axis(idx), entity_effects=True, time_effects=True
    ).fit(cov_type="clustered", cluster_entity=True)
    k = D.shape[1]
    np.testing.assert_allclose(r["dynamic"].by["att"], fit.params.to_numpy()[:k], atol=1e-9)
    np.testing.assert_allclose(r["dynamic"].by["se"], fit.std_errors.to_numpy()[:k], rtol=1e-8)


def test_bin_labels_members_and_reference_alone():
    d = _panel()
    r = event_study(d, **SIM, window=(-5, 5), bin_width=2)
    assert list(r["dynamic"].by["event"]) == [-4, -2, 0, 2, 4]
    assert r.info["event_bins"] == {-4: "..-4", -2: "-3..-2", 0: "0..1", 2: "2..3", 4: "4.."}
    r = event_study(d, **SIM, window=(-6, 4), ref_period=-3, bin_width=2)
    assert r.info["event_bins"] == {
        -6: "..-6",
        -4: "-5..-4",
        -1: "-2..-1",
        0: "0..1",
        2: "2..3",
        4: "4..",
    }
    assert -3 not in set(r["dynamic"].by["event"])
    # width 1 is the unbinned event study, numerically identical
    a = event_study(d, **SIM, window=(-5, 5))
    b = event_study(d, **SIM, window=(-5, 5), bin_width=1)
    pd.testing.assert_frame_equal(a["dynamic"].by, b["dynamic"].by, check_exact=True)


# ---------------------------------------------------------------------- known truth
#: true effect by event time: zero before treatment, constant within the width-2
#: bins {0,1}, {2,3}, {4,5} and from 6 on (the pooled end bin of window (-6, 6)).
TRUE_BIN = {0: 1.0, 2: 1.5, 4: 2.0, 6: 2.5}


def _truth_panel(always_effect=None) -> pd.DataFrame:
    """Noise-free y = a_i + l_t + tau(e); periods 2001..2014; with ``always_effect``,
    30 units treated in 2001 (tau(e) as above) and 20 in 1990 whose effect is
    ``always_effect(t)`` (constant 2.5 = the end bin: the include assumption holds)."""
    rng = np.random.default_rng(42)
    n, times = 400, np.arange(2001, 2015)
    g = rng.choice([0, 2005, 2008, 2011], size=n, p=[0.3, 0.25, 0.25, 0.2])
    if always_effect is not None:
        g[:30], g[30:50] = 2001, 1990
    unit = np.repeat(np.arange(n), times.size)
    t = np.tile(times, n)
    gg = g[unit]
    e = np.where(gg > 0, t - gg, -99)
    tau = np.where(
        e >= 0, np.vectorize(lambda v: TRUE_BIN[min(2 * (v // 2), 6)])(np.maximum(e, 0)), 0
    )
    if always_effect is not None:
        far = gg == 1990
        tau = np.where(far, always_effect(t), tau)
    y = rng.normal(size=n)[unit] + rng.normal(size=times.size)[t - 2001] + tau
    return pd.DataFrame({"unit": unit, "time": t, "cohort": gg, "y": y})


def _check_truth(r):
    by = r["dynamic"].by.set_index("event")["att"]
    for lab, v in by.items():
        assert v == pytest.approx(TRUE_BIN.get(lab, 0.0) if lab >= 0 else 0.0, abs=1e-8), lab


def test_known_truth_binned_effects_recovered_exactly():
    d = _truth_panel()
    r = event_study(d, **SIM, window=(-6, 6), bin_width=2)
    assert list(r["dynamic"].by["event"]) == [-6, -4, -2, 0, 2, 4, 6]
    _check_truth(r)
    # a wrong width mixes bins of different effects: not recovered
    r3 = event_study(d, **SIM, window=(-6, 6), bin_width=3)
    assert r3["dynamic"].by.set_index("event").loc[0, "att"] != pytest.approx(1.0, abs=1e-3)


def test_known_truth_always_treated_included():
    d = _truth_panel(always_effect=lambda t: np.full(t.shape, 2.5))
    with pytest.warns(UserWarning, match="dropped 50 unit"):
        drop = event_study(d, **SIM, window=(-6, 6), bin_width=2)
    with pytest.warns(UserWarning, match="kept 50 unit"):
        inc = event_study(d, **SIM, window=(-6, 6), bin_width=2, always_treated="include")
    assert inc.n_units == drop.n_units + 50 == 400
    _check_truth(drop)
    _check_truth(inc)
    assert any("kept 50 unit(s) treated at or before the first period 2001" in n for n in inc.notes)
    # when their effect is not constant over time, including them biases the bins
    # (the "already treated" comparison's assumption), while dropping them does not
    d2 = _truth_panel(always_effect=lambda t: 2.5 + 0.3 * (t - 2001))
    with pytest.warns(UserWarning):
        inc2 = event_study(d2, **SIM, window=(-6, 6), bin_width=2, always_treated="include")
        drop2 = event_study(d2, **SIM, window=(-6, 6), bin_width=2)
    _check_truth(drop2)
    assert abs(inc2["dynamic"].by.set_index("event").loc[0, "att"] - 1.0) > 1e-3


# ------------------------------------------------------------------------ input errors
@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(bin_width=0), "bin_width must be an integer >= 1"),
        (dict(bin_width=1.5), "bin_width must be an integer >= 1"),
        (dict(bin_width=True), "bin_width must be an integer >= 1"),
        (dict(always_treated="keep"), "always_treated must be one of 'drop', 'include'"),
        (dict(always_treated="include", bin_endpoints=False), "needs bin_endpoints=True"),
    ],
)
def test_option_errors(kw, msg):
    with pytest.raises(InputError, match=msg):
        event_study(_panel(), **SIM, **kw)


# -------------------------------------------------------------------------------- CLI
def _run(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    p = tmp_path_factory.mktemp("esopts") / "panel.csv"
    _panel(always=True).to_csv(p, index=False)
    return p


def _cli(csv, method, *flags):
    base = ["estimate", "--data", str(csv), "--outcome", "y", "--unit", "unit", "--time", "time"]
    return _run([*base, "--cohort", "cohort", "--method", method, *flags, "--json"])


def _dyn(payload):
    return pd.DataFrame(payload["aggregates"]["dynamic"]["by"])


@pytest.mark.parametrize(
    "flags, kw",
    [
        (["--window=-3,3"], dict(window=(-3, 3))),
        (["--ref-period", "-2"], dict(ref_period=-2)),
        (["--bins", "2"], dict(bin_width=2)),
        (["--bins", "2", "--no-bin-endpoints"], dict(bin_width=2, bin_endpoints=False)),
        (["--no-bin-endpoints", "--never-only"], dict(bin_endpoints=False, control="never")),
        (["--always-treated", "--bins", "3"], dict(always_treated="include", bin_width=3)),
    ],
)
def test_cli_event_flags_reach_the_estimator(csv, flags, kw):
    code, out, err = _cli(csv, "event", *flags)
    assert code == 0, err
    got = json.loads(out)
    with pytest.warns(UserWarning):
        api = event_study(pd.read_csv(csv), **SIM, **kw)
    exp = api.to_dict()
    np.testing.assert_allclose(_dyn(got)["att"], _dyn(exp)["att"], rtol=0, atol=1e-12)
    assert list(_dyn(got)["event"]) == list(_dyn(exp)["event"])
    assert got["n_obs"] == api.n_obs and got["control"] == api.info["control"]
    assert got["notes"] == exp["notes"]


def test_cli_bjs_horizons_and_pretrends(csv):
    code, out, err = _cli(csv, "bjs", "--horizons", "2", "--pretrends", "3")
    assert code == 0, err
    ev = list(_dyn(json.loads(out))["event"])
    assert ev == [-3, -2, -1, 0, 1, 2]
    code, out, err = _cli(csv, "bjs", "--pretrends", "0")
    assert code == 0, err
    assert min(_dyn(json.loads(out))["event"]) == 0


def test_cli_sa_last_treated_control(csv):
    code, out, err = _cli(csv, "sa", "--control", "last")
    assert code == 0, err
    got = json.loads(out)
    with pytest.warns(UserWarning):
        api = sun_abraham(pd.read_csv(csv), **SIM, control="last")
    assert got["aggregates"]["simple"]["att"] == pytest.approx(api.att, abs=1e-12)
    assert any("control = last-treated cohort 2009" in n for n in got["notes"])


@pytest.mark.parametrize(
    "method, flags, name",
    [
        ("twfe", ["--window=-3,3"], "--window"),
        ("cs", ["--ref-period", "-2"], "--ref-period"),
        ("sa", ["--bins", "2"], "--bins"),
        ("bjs", ["--no-bin-endpoints"], "--no-bin-endpoints"),
        ("gardner", ["--never-only"], "--never-only"),
        ("sa", ["--always-treated"], "--always-treated"),
        ("event", ["--horizons", "3"], "--horizons"),
        ("event", ["--pretrends", "2"], "--pretrends"),
    ],
)
def test_cli_flag_refused_for_method_without_it(csv, method, flags, name):
    code, out, err = _cli(csv, method, *flags)
    assert code == 2
    assert err == f"enclave: error: option {name} does not apply to method {method!r}\n"
    assert out == ""


@pytest.mark.parametrize(
    "flags, msg",
    [
        (["--never-only", "--control", "notyet"], "--never-only contradicts --control notyet"),
        (["--always-treated", "--no-bin-endpoints"], "needs bin_endpoints=True"),
        (["--bins", "0"], "bin_width must be an integer >= 1"),
        (["--window", "-3,3"], "expected one argument"),
        (["--window=a,3"], "expected two integers LO,HI"),
    ],
)
def test_cli_bad_values_one_line_exit_2(csv, flags, msg):
    code, out, err = _cli(csv, "event", *flags)
    assert code == 2 and out == ""
    assert msg in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
