"""HonestDiD restrictions beyond DeltaSD / DeltaRM: smoothness + relative
magnitudes (``DeltaSDRM``), sign (``biasDirection``) and monotonicity
(``monotonicityDirection``) restrictions, in both families.

Reference software -- the R HonestDiD vignette's stored results
-----------------------------------------------------------------
Source: https://github.com/asheshrambachan/HonestDiD (MIT licence, (c) 2023
HonestDiD authors).

* ``data/VignetteResults.rda`` @ 29adaaf47756f4f93b8c0baf6f9e689af65b4a9e
  (package 0.2.6; deleted upstream in 98ea3e6), sha256
  5e451bbc8325d776fa3c3d120f3e77be40e6d7de8c9991160c7d540f362a1bfe: the tables
  the vignette printed, made by ``vignettes/precompute.R`` (same commit):

  - ``BC_DeltaSDRM_RobustResults``: ``createSensitivityResults_relativeMagnitudes(
    bound = "deviation from linear trend", Mbarvec = seq(0, 2, by = 0.5),
    gridPoints = 100, grid.lb = -1, grid.ub = 1)`` (C-LF);
  - ``BC_DeltaSDNB_RobustResults``: ``createSensitivityResults(Mvec = seq(0, 0.3,
    by = 0.1), biasDirection = "negative")`` (default C-F);
  - ``LW_DeltaSD_RobustResults`` (FLCI) and ``LW_DeltaSDD_RobustResults``
    (``monotonicityDirection = "decreasing"``, default C-F), ``Mvec = seq(0,
    0.04, by = 0.005)``, ``l_vec = basisVector(17, 23)``;
  - ``BC_OriginalResults`` (``constructOriginalCS``).

* ``data/BCdata_EventStudy.rda`` (sha256
  941343cb5093b3fccbe5c5be97ac6f274642c20673e3580d88e854ba79264460; Benzarti &
  Carloni 2019) and ``data/LWdata_EventStudy.rda`` (sha256
  9bbf07177404547dad8509fd53d4ed8a1aa56ff98963de25b059ec403f8b2e1e; Lovenheim &
  Willen 2019) @ 6813f02ed38f0b63bdca6915604b2eac90491303 (unchanged since the
  first release).

Converted once (dev-time, ``rdata`` 1.1.0 in a throw-away venv, not a project
dependency) by ``tests/reference/convert_honest_vignette.py`` -- the exact
commands are in its docstring -- into ``honest_vignette_results.csv`` and
``honest_vignette_eventstudies.json`` (full double precision).

Tolerances (how R builds each number, read in its source)
---------------------------------------------------------
* **C-LF rows** (``DeltaSDRM``): R tests a 100-point grid on [-1, 1] (step
  2/99) and reports the smallest and largest accepted grid point; we refine the
  end points. Test: our end points, snapped to R's grid (smallest grid point
  >= lb, largest <= ub), equal R's stored values to 1e-12 -- except where our
  end point lies within 0.05 sd(theta) of a grid point, where R's 1,000-draw
  least-favourable critical value (ours: 100,000 draws) may tip the grid point
  either way (then either neighbour is accepted).
* **C-F rows** (sign, monotonicity): R's grid is 1,000 points spanning its own
  level-kappa FLCI (kappa = alpha/10), which R solves approximately (a
  derivative bisection in h on a folded-normal quantile simulated from 10^6
  draws); ours is exact. So R's end points differ from ours by up to one grid
  step (0.1% of the FLCI width) plus R's FLCI error. Tolerance: 0.5% of the
  level-kappa FLCI width. R's FLCI error is measured on the same vignette
  (``LW_DeltaSD_RobustResults``, the plain FLCI): at most 0.35% of the width,
  tested below with the same 0.5%.
* One stored value is a floating-point tie in R: BC ``DeltaSDNB``, M = 0.3,
  ``ub`` = R's last grid point, i.e. its FLCI upper end. There the FLCI
  truncation closes at the statistic (V^up = eta) and the exact test rejects;
  R's rounding puts the statistic above its V^up, and R accepts a statistic
  outside its truncation interval by convention. We check that value against
  our level-kappa FLCI end (0.5% of the width) and that our interval ends
  strictly inside it.
* Original CI: a closed form; 1e-12 relative.

Properties
----------
The linear-programming evaluation of the ARP test (used above 400,000 dual
supports, e.g. the 23 post-periods of LW) agrees with the exact vertex
enumeration (decisions on a grid, refined end points to 1e-7 sd(theta)); the
identified sets by LP reproduce the closed form of DeltaRM and the algebra of
the sign / SDRM restrictions; the C-F interval lies inside its first-stage
FLCI; input errors are one-line ``InputError``s listing the allowed values.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import analysis.inference.honest._arp as ARP
from analysis.errors import InputError
from analysis.inference.honest import flci, honest_did, honest_from_result, original_ci
from analysis.inference.honest._arp import _arp_ci, _ARPPiece, _draws
from analysis.inference.honest._deltas import _rm_id_set, delta_pieces, id_set_lp

REF = Path(__file__).parent / "reference"
RESULTS_CSV = REF / "honest_vignette_results.csv"
EVENTS_JSON = REF / "honest_vignette_eventstudies.json"
SOURCE_SHA256 = {
    "VignetteResults.rda": "5e451bbc8325d776fa3c3d120f3e77be40e6d7de8c9991160c7d540f362a1bfe",
    "BCdata_EventStudy.rda": "941343cb5093b3fccbe5c5be97ac6f274642c20673e3580d88e854ba79264460",
    "LWdata_EventStudy.rda": "9bbf07177404547dad8509fd53d4ed8a1aa56ff98963de25b059ec403f8b2e1e",
}
CF_TOL = 0.005  # fraction of the level-kappa FLCI width (see module docstring)
FLCI_TOL = 0.005  # fraction of the FLCI width, R's FLCI error
SNAP_MARGIN = 0.05  # in sd(theta): where R's LF Monte Carlo may tip a grid point


# ----------------------------------------------------------------- fixtures
@cache
def results() -> pd.DataFrame:
    return pd.read_csv(RESULTS_CSV)


@cache
def event_study(name: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    d = json.loads(EVENTS_JSON.read_text())[name]
    return (
        np.array(d["betahat"]),
        np.array(d["sigma"]),
        d["numPrePeriods"],
        d["numPostPeriods"],
    )


def rows(table: str) -> pd.DataFrame:
    r = results()
    return r[r["table"] == table].reset_index(drop=True)


def lw_lvec() -> np.ndarray:
    lv = np.zeros(23)
    lv[17 - 1] = 1.0  # basisVector(15 - (-2), 23): 15 years of exposure
    return lv


def test_reference_files_and_provenance():
    meta = json.loads(EVENTS_JSON.read_text())
    assert meta["source_sha256"] == SOURCE_SHA256
    tabs = results()["table"].value_counts().to_dict()
    assert tabs == {
        "BC_DeltaSDRM_RobustResults": 5,
        "BC_OriginalResults": 1,
        "BC_DeltaSDNB_RobustResults": 4,
        "LW_DeltaSD_RobustResults": 9,
        "LW_DeltaSDD_RobustResults": 9,
    }
    for name, (k, t) in {"BCdata_EventStudy": (4, 4), "LWdata_EventStudy": (9, 23)}.items():
        b, S, K, T = event_study(name)
        assert (K, T) == (k, t) and b.shape == (k + t,) and S.shape == (k + t, k + t)
    # the converted files are the ones these tests were written against
    digest = hashlib.sha256(RESULTS_CSV.read_bytes()).hexdigest()
    assert digest == "0df638425e79a64fa099468f9acffb4a0d13962ed5b37d992dcbbe5d066a8602"


# ------------------------------------------------------- vignette: original
def test_original_ci_matches_vignette():
    b, S, K, T = event_study("BCdata_EventStudy")
    r = rows("BC_OriginalResults").iloc[0]
    lb, ub = original_ci(b, S, K, T)
    assert lb == pytest.approx(r.lb, rel=1e-12) and ub == pytest.approx(r.ub, rel=1e-12)


# --------------------------------------------------------- vignette: SDRM
def test_sdrm_matches_vignette_on_r_grid():
    b, S, K, T = event_study("BCdata_EventStudy")
    ref = rows("BC_DeltaSDRM_RobustResults")
    res = honest_did(
        b, S, K, T, "relative_magnitude", grid=ref["bound"], bound="linear_trend", breakdown=False
    )
    assert res.delta == "DeltaSDRM" and res.method == "C-LF"
    grid = np.linspace(-1.0, 1.0, 100)  # R: seq(grid.lb, grid.ub, length.out = gridPoints)
    step = grid[1] - grid[0]
    sd_theta = math.sqrt(S[K, K])
    for r, o in zip(ref.itertuples(), res.table.itertuples(), strict=True):
        for side, ours, theirs in (("lb", o.lb, r.lb), ("ub", o.ub, r.ub)):
            near = np.min(np.abs(grid - ours)) < SNAP_MARGIN * sd_theta
            allowed = [g for g in grid if abs(g - ours) <= step] if near else []
            snapped = grid[grid >= ours].min() if side == "lb" else grid[grid <= ours].max()
            ok = abs(snapped - theirs) <= 1e-12 or any(abs(g - theirs) <= 1e-12 for g in allowed)
            assert ok, (r.bound, side, ours, theirs)
            assert abs(ours - theirs) < step  # R's grid point is within one step


# ---------------------------------------------------- vignette: C-F rows
def _cf_check(ref: pd.DataFrame, res, b, S, K, T, lv, ties=()):
    for r, o in zip(ref.itertuples(), res.table.itertuples(), strict=True):
        f = flci(b, S, K, T, r.bound, l_vec=lv, alpha=0.005)
        width = f.ub - f.lb
        assert f.lb - 1e-9 * width <= o.lb <= o.ub <= f.ub + 1e-9 * width
        for side, ours, theirs in (("lb", o.lb, r.lb), ("ub", o.ub, r.ub)):
            if (r.bound, side) in ties:
                # R accepted its FLCI end by a rounding tie: compare with our FLCI end
                end = f.ub if side == "ub" else f.lb
                assert abs(theirs - end) <= CF_TOL * width, (r.bound, side)
                assert abs(ours - end) > CF_TOL * width
                continue
            assert abs(ours - theirs) <= CF_TOL * width, (r.bound, side, ours, theirs)


def test_sign_restriction_matches_vignette():
    b, S, K, T = event_study("BCdata_EventStudy")
    ref = rows("BC_DeltaSDNB_RobustResults")
    res = honest_did(
        b, S, K, T, "smoothness", grid=ref["bound"], bias_direction="negative", breakdown=False
    )
    assert res.delta == "DeltaSDNB" and res.method == "C-F"
    assert res.options["bias_direction"] == "negative"
    _cf_check(ref, res, b, S, K, T, np.eye(T)[0], ties=[(0.3, "ub")])


def test_monotonicity_matches_vignette_one_row():
    """One LW row by default (23 post-periods: the LP path, ~3 s); all rows: slow."""
    b, S, K, T = event_study("LWdata_EventStudy")
    ref = rows("LW_DeltaSDD_RobustResults")
    ref = ref[np.isclose(ref["bound"], 0.01)].reset_index(drop=True)
    res = honest_did(
        b,
        S,
        K,
        T,
        "smoothness",
        grid=ref["bound"],
        l_vec=lw_lvec(),
        monotonicity_direction="decreasing",
        breakdown=False,
    )
    assert res.delta == "DeltaSDD" and res.method == "C-F"
    _cf_check(ref, res, b, S, K, T, lw_lvec())


@pytest.mark.slow
def test_monotonicity_matches_vignette_all_rows():
    b, S, K, T = event_study("LWdata_EventStudy")
    ref = rows("LW_DeltaSDD_RobustResults")
    res = honest_did(
        b,
        S,
        K,
        T,
        "smoothness",
        grid=ref["bound"],
        l_vec=lw_lvec(),
        monotonicity_direction="decreasing",
        breakdown=False,
    )
    _cf_check(ref, res, b, S, K, T, lw_lvec())


def test_flci_error_of_r_on_the_vignette():
    """Calibrates CF_TOL: R's own FLCI (plain DeltaSD) against our exact one."""
    b, S, K, T = event_study("LWdata_EventStudy")
    ref = rows("LW_DeltaSD_RobustResults")
    res = honest_did(b, S, K, T, "smoothness", grid=ref["bound"], l_vec=lw_lvec(), breakdown=False)
    assert res.method == "FLCI"
    for r, o in zip(ref.itertuples(), res.table.itertuples(), strict=True):
        width = o.ub - o.lb
        assert abs(o.lb - r.lb) <= FLCI_TOL * width and abs(o.ub - r.ub) <= FLCI_TOL * width


# ------------------------------------------ LP path == vertex enumeration
def _small_problem():
    b, S, K, T = event_study("BCdata_EventStudy")
    return b, S, K, T, np.eye(T)[0]


CASES = [
    ("smoothness", 0.1, "negative", None, "FLCI"),
    ("sdrm", 1.0, None, None, "LF"),
    ("relative_magnitude", 0.5, None, "increasing", "ARP"),
]


@pytest.mark.parametrize("case", CASES[:2])
def test_lp_path_equals_vertex_enumeration(case, monkeypatch):
    _lp_vs_vertices(case, monkeypatch)


@pytest.mark.slow
def test_lp_path_equals_vertex_enumeration_conditional(monkeypatch):
    _lp_vs_vertices(CASES[2], monkeypatch)


def _lp_vs_vertices(case, monkeypatch):
    family, m, bias, mono, hybrid = case
    b, S, K, T, lv = _small_problem()
    pieces = delta_pieces(family, K, T, m, bias, mono)[:1]  # one piece: LPs are slow
    fl = flci(b, S, K, T, m, alpha=0.005) if hybrid == "FLCI" else None
    ids = id_set_lp(pieces, b, K, lv)
    opts = dict(hybrid=hybrid, kappa=0.005, grid_points=101, lf_sims=300, seed=3)
    grid = np.linspace(-0.4, 1.0, 41)
    out = []
    for limit in (ARP._MAX_SUPPORTS, 0):
        monkeypatch.setattr(ARP, "_MAX_SUPPORTS", limit)
        p = _ARPPiece(*pieces[0], b, S, K, lv)
        assert p.use_lp == (limit == 0)
        if hybrid == "FLCI":
            p.set_flci(np.asarray(fl.weights), fl.half_length, b, S)
        if hybrid == "LF":
            p.set_lf_cv(_draws(3, 300, p.m), 0.005)
        ci = _arp_ci(pieces, b, S, K, lv, 0.05, id_set=ids, flci=fl, **opts)
        out.append((p.accept(grid, 0.05, hybrid, 0.005), p.lf_cv, ci))
    (acc_v, cv_v, ci_v), (acc_l, cv_l, ci_l) = out
    assert acc_v.any() and not acc_v.all()
    np.testing.assert_array_equal(acc_v, acc_l)
    if hybrid == "LF":
        assert cv_l == pytest.approx(cv_v, rel=1e-9)
    sd_theta = math.sqrt(S[K, K])
    assert ci_l[0] == pytest.approx(ci_v[0], abs=1e-7 * sd_theta)
    assert ci_l[1] == pytest.approx(ci_v[1], abs=1e-7 * sd_theta)


# ---------------------------------------------------------- identified sets
def _random_beta(seed: int, k: int, t: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=0.3, size=k + t)


@pytest.mark.parametrize("seed", range(3))
def test_lp_identified_set_equals_deltarm_closed_form(seed):
    k, t = 4, 3
    b = _random_beta(seed, k, t)
    lv = np.array([0.2, 0.3, 0.5])
    for mbar in (0.0, 0.7, 2.0):
        pieces = delta_pieces("relative_magnitude", k, t, mbar, None, None)
        lo, hi = id_set_lp(pieces, b, k, lv)
        clo, chi = _rm_id_set(b, k, t, lv, mbar)
        assert lo == pytest.approx(clo, abs=1e-9) and hi == pytest.approx(chi, abs=1e-9)


def test_sdrm_at_zero_extrapolates_the_last_pre_period_linearly():
    # Mbar = 0: post second differences vanish, delta_1 = 2 delta_0 - delta_{-1} = -beta_{-1}
    b = _random_beta(7, 4, 2)
    pieces = delta_pieces("sdrm", 4, 2, 0.0, None, None)
    lo, hi = id_set_lp(pieces, b, 4, np.array([1.0, 0.0]))
    assert lo == pytest.approx(b[4] + b[3], abs=1e-10) and hi == pytest.approx(lo, abs=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_sign_and_monotonicity_shrink_the_identified_set(seed):
    k, t, M = 3, 3, 0.05
    b = _random_beta(seed, k, t)
    lv = np.array([1.0, 0.0, 0.0])
    base = id_set_lp(delta_pieces("smoothness", k, t, M, None, None), b, k, lv)
    # delta_1 <= 0 means theta = beta_1 - delta_1 >= beta_1; the later post-periods can
    # always follow with delta_t <= 0 (second differences -M), so the cut is exactly that
    neg = id_set_lp(delta_pieces("smoothness", k, t, M, "negative", None), b, k, lv)
    if base[1] >= b[k]:
        assert neg[0] == pytest.approx(max(base[0], b[k]), abs=1e-9)
        assert neg[1] == pytest.approx(base[1], abs=1e-9)
    else:
        assert np.isnan(neg[0])
    for mono in ("increasing", "decreasing"):
        lo, hi = id_set_lp(delta_pieces("smoothness", k, t, M, None, mono), b, k, lv)
        if not np.isnan(lo):
            assert base[0] - 1e-9 <= lo <= hi <= base[1] + 1e-9


# ------------------------------------------------------------- options
def test_defaults_names_and_labels():
    b, S, K, T, _ = _small_problem()
    cases = {
        ("smoothness", None, None, "parallel_trends"): ("DeltaSD", "FLCI"),
        ("smoothness", "positive", None, "parallel_trends"): ("DeltaSDPB", "C-F"),
        ("smoothness", None, "increasing", "parallel_trends"): ("DeltaSDI", "C-F"),
        ("relative_magnitude", "negative", None, "parallel_trends"): ("DeltaRMNB", "C-LF"),
        ("relative_magnitude", None, "decreasing", "parallel_trends"): ("DeltaRMD", "C-LF"),
        ("relative_magnitude", None, None, "linear_trend"): ("DeltaSDRM", "C-LF"),
        ("relative_magnitude", "positive", None, "linear_trend"): ("DeltaSDRMPB", "C-LF"),
        ("relative_magnitude", None, "increasing", "linear_trend"): ("DeltaSDRMI", "C-LF"),
    }
    for (restr, bias, mono, bound), (name, meth) in cases.items():
        r = honest_did(
            b,
            S,
            K,
            T,
            restr,
            grid=[0.5],
            bias_direction=bias,
            monotonicity_direction=mono,
            bound=bound,
            breakdown=False,
            lf_sims=1000,
        )
        assert (r.delta, r.method) == (name, meth)
        assert np.isfinite(r.table["lb"]).all() and (r.table["lb"] <= r.table["ub"]).all()
        assert r.to_dict()["delta"] == name


def test_cf_interval_lies_inside_its_first_stage_flci():
    b, S, K, T, lv = _small_problem()
    r = honest_did(b, S, K, T, "smoothness", grid=[0.0, 0.05], method="C-F", breakdown=False)
    assert r.delta == "DeltaSD"
    for o in r.table.itertuples():
        f = flci(b, S, K, T, o.M, alpha=0.005)
        assert f.lb - 1e-12 <= o.lb <= o.ub <= f.ub + 1e-12
        # ... and it is shorter than the level-alpha FLCI's first-stage bound allows
        assert o.ub - o.lb <= f.ub - f.lb


def test_honest_from_result_passes_the_new_options():
    from analysis.results import Aggregate, DiDResult

    b, S, K, T, _ = _small_problem()
    by = pd.DataFrame({"event": [-4, -3, -2, -1, 1, 2, 3, 4], "att": b, "se": np.sqrt(np.diag(S))})
    aggs = {
        "simple": Aggregate("simple", 0.2, 0.05),
        "dynamic": Aggregate("dynamic", 0.2, 0.05, by=by, vcov=S),
    }
    res = DiDResult("event", "y", 10, 40, pd.DataFrame(), aggs, info={})
    got = honest_from_result(
        res,
        "relative_magnitude",
        grid=[1.0],
        reference_period=0,
        bound="linear_trend",
        breakdown=False,
    )
    direct = honest_did(
        b, S, K, T, "relative_magnitude", grid=[1.0], bound="linear_trend", breakdown=False
    )
    assert got.delta == "DeltaSDRM"
    assert got.table["lb"].iloc[0] == direct.table["lb"].iloc[0]
    assert got.table["ub"].iloc[0] == direct.table["ub"].iloc[0]


BAD = [
    (dict(bias_direction="up"), "bias_direction must be one of 'positive', 'negative'"),
    (dict(monotonicity_direction="flat"), "monotonicity_direction must be one of"),
    (dict(bound="linear"), "bound must be one of 'parallel_trends', 'linear_trend'"),
    (dict(method="C-X"), "method must be one of 'FLCI', 'C-F', 'C-LF', 'Conditional'"),
    (dict(bias_direction="positive", monotonicity_direction="increasing"), "not both"),
    (dict(restriction="smoothness", bound="linear_trend"), "applies to"),
    (dict(restriction="smoothness", method="FLCI", bias_direction="positive"), "ignores"),
    (dict(method="C-F"), "not available for relative_magnitude"),
    (dict(restriction="smoothness", method="C-F", kappa=0.5), "kappa"),
    (dict(bound="linear_trend", num_pre_periods=1, betahat_len=5), "2 pre-periods"),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_options_are_one_line_input_errors(case):
    b, S, K, T, _ = _small_problem()
    kwargs, msg = BAD[case]
    kwargs = dict(kwargs)
    args = dict(
        betahat=b,
        sigma=S,
        num_pre_periods=K,
        num_post_periods=T,
        restriction="relative_magnitude",
        grid=[1.0],
        breakdown=False,
    )
    if kwargs.pop("betahat_len", None):
        args.update(betahat=b[3:], sigma=S[3:, 3:], num_post_periods=4)
    args.update(kwargs)
    with pytest.raises(InputError, match=msg) as e:
        honest_did(**args)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------- slow: coverage
@pytest.mark.slow
def test_cf_sign_restriction_coverage_simulation():
    """Known truth: beta = tau + delta with delta in DeltaSDNB(M) (a linear
    negative post-trend at the edge of the set); nominal 95% coverage of tau_1."""
    k, t, M = 3, 2, 0.02
    rng = np.random.default_rng(11)
    A = rng.normal(size=(k + t, k + t))
    S = 0.01 * (A @ A.T / (k + t) + np.eye(k + t))
    delta = np.array([0.0, 0.0, 0.0, -0.5 * M, -1.5 * M])  # kinks of size M/2 after 0
    tau = np.array([0.0, 0.0, 0.0, 0.1, 0.1])
    L = np.linalg.cholesky(S)
    hits = 0
    n = 200
    for _ in range(n):
        b = tau + delta + L @ rng.standard_normal(k + t)
        r = honest_did(
            b, S, k, t, "smoothness", grid=[M], bias_direction="negative", breakdown=False
        )
        hits += r.table["lb"].iloc[0] <= 0.1 <= r.table["ub"].iloc[0]
    # binomial 99.9% band around 0.95 for n = 200 draws, one-sided (conservative sets allowed)
    assert hits / n >= 0.95 - stats.norm.ppf(0.999) * math.sqrt(0.95 * 0.05 / n)
