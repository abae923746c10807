"""Multiple testing: Holm/BH against statsmodels (exactly), Romano-Wolf and
Westfall-Young against hand-worked examples, brute force and pyfixest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analysis.errors import InputError
from analysis.inference.multitest import (
    adjust_pvalues,
    benjamini_hochberg,
    bonferroni,
    holm,
    multiple_testing_table,
    romano_wolf,
    westfall_young,
)

REF = Path(__file__).parent / "reference" / "multitest_pyfixest.json"


# --------------------------------------------------------------------------- p-value based
P_CASES = [
    np.array([0.01, 0.04, 0.03, 0.005, 0.2]),
    np.array([0.5]),
    np.array([0.02, 0.02, 0.02, 0.9, 0.0]),  # ties and a zero
    np.array([0.3, 0.6, 0.9, 1.0]),  # capped at 1
]


@pytest.mark.parametrize(
    "p", P_CASES + [np.random.default_rng(s).uniform(size=12) ** 3 for s in range(5)]
)
def test_holm_bh_bonferroni_equal_statsmodels_exactly(p):
    np.testing.assert_array_equal(holm(p), multipletests(p, method="holm")[1])
    np.testing.assert_array_equal(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1])
    np.testing.assert_array_equal(bonferroni(p), multipletests(p, method="bonferroni")[1])
    np.testing.assert_array_equal(adjust_pvalues(p, "bh"), benjamini_hochberg(p))


def test_holm_and_bh_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted .005,.01,.03,.04 times 4,3,2,1 = .02,.03,.06,.04 -> running max .02,.03,.06,.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    # BH: sorted times 4/1,4/2,4/3,4/4 = .02,.02,.04,.04 -> running min from the top
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02])


def test_pvalue_input_errors():
    for bad in ([], [0.1, np.nan], [1.2], [[0.1, 0.2]]):
        with pytest.raises(InputError):
            holm(bad)
    with pytest.raises(InputError, match="method"):
        adjust_pvalues([0.1], "hochberg")


# --------------------------------------------------------------------------- hand example
T_OBS = np.array([3.0, 1.0, 2.0])
DRAWS = np.array(
    [
        [1.0, 0.5, 2.5],
        [0.2, 1.5, 0.3],
        [3.5, 0.1, 0.4],
        [0.3, 0.9, 2.1],
    ]
)


def test_romano_wolf_hand_worked():
    """Order by |t|: H1 (3.0), H3 (2.0), H2 (1.0). B = 4.

    step 1, max over {1,2,3} per draw = 2.5, 1.5, 3.5, 2.1: one >= 3.0 -> (1+1)/5 = 0.4
    step 2, max over {3,2}          = 2.5, 1.5, 0.4, 2.1: two >= 2.0 -> (1+2)/5 = 0.6
    step 3, H2 alone                = 0.5, 1.5, 0.1, 0.9: one >= 1.0 -> (1+1)/5 = 0.4,
            raised to 0.6 by the running maximum.
    """
    np.testing.assert_allclose(romano_wolf(T_OBS, DRAWS), [0.4, 0.6, 0.6])
    np.testing.assert_allclose(romano_wolf(T_OBS, DRAWS, plus_one=False), [0.25, 0.5, 0.5])
    # sign does not matter for the two-sided test
    np.testing.assert_allclose(romano_wolf(-T_OBS, -DRAWS), [0.4, 0.6, 0.6])
    # Westfall-Young step-down maxT is the same procedure
    np.testing.assert_array_equal(westfall_young(T_OBS, DRAWS), romano_wolf(T_OBS, DRAWS))


def test_westfall_young_single_step_hand_worked():
    """Single-step maxT: per-draw max over all = 2.5, 1.5, 3.5, 2.1.
    H1 (3.0): one draw -> 2/5; H2 (1.0): all four -> 5/5; H3 (2.0): three -> 4/5."""
    np.testing.assert_allclose(
        westfall_young(T_OBS, DRAWS, method="maxT", stepdown=False), [0.4, 1.0, 0.8]
    )


def test_one_sided_alternatives():
    t = np.array([2.0, -2.0])
    d = np.array([[2.5, -0.1], [-3.0, 0.2], [0.1, -2.5], [0.0, 0.0]])
    # greater: H1 step 1: max(t*) = 2.5, 0.2, 0.1, 0.0 >= 2 -> one draw -> 2/5;
    # H2 (t = -2) then alone: -0.1, 0.2, -2.5, 0 >= -2 -> 3 -> 4/5
    np.testing.assert_allclose(romano_wolf(t, d, alternative="greater"), [0.4, 0.8])
    np.testing.assert_allclose(romano_wolf(-t, -d, alternative="less"), [0.4, 0.8])


# --------------------------------------------------------------------------- brute force
def _brute_stepdown_minp(p_obs, p_draw):
    k = p_obs.size
    order = np.argsort(p_obs, kind="stable")
    out = np.empty(k)
    prev = 0.0
    for s, j in enumerate(order):
        rest = order[s:]
        q = p_draw[:, rest].min(axis=1)
        val = (1 + np.sum(q <= p_obs[j])) / (p_draw.shape[0] + 1)
        prev = max(prev, val)
        out[j] = min(prev, 1.0)
    return out


def _brute_rw(t, d):
    a, ad = np.abs(t), np.abs(d)
    order = np.argsort(-a, kind="stable")
    out, prev = np.empty(a.size), 0.0
    for s, j in enumerate(order):
        m = ad[:, order[s:]].max(axis=1)
        prev = max(prev, (1 + np.sum(m >= a[j])) / (ad.shape[0] + 1))
        out[j] = prev
    return out


@pytest.mark.parametrize("seed", range(4))
def test_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    k, B = 6, 300
    cov = 0.5 * np.ones((k, k)) + 0.5 * np.eye(k)
    d = rng.multivariate_normal(np.zeros(k), cov, size=B)
    t = rng.normal(size=k) * 2 + np.array([3, 0, 0, 1, 2, 0])
    np.testing.assert_allclose(romano_wolf(t, d), _brute_rw(t, d))
    # minP with empirical marginals: observed counted as one more draw
    aug = np.vstack([np.abs(t), np.abs(d)])
    p_all = np.array([[np.mean(aug[:, m] >= aug[r, m]) for m in range(k)] for r in range(B + 1)])
    got = westfall_young(t, d, method="minP")
    np.testing.assert_allclose(got, _brute_stepdown_minp(p_all[0], p_all[1:]))
    # the raw empirical p-value is (1 + #{|t*| >= |t|}) / (B + 1)
    np.testing.assert_allclose(p_all[0], (1 + (np.abs(d) >= np.abs(t)).sum(0)) / (B + 1))
    # single-step minP >= step-down minP; adjusted >= raw; step-down RW <= single-step maxT
    ss = westfall_young(t, d, method="minP", stepdown=False)
    assert np.all(ss >= got - 1e-15) and np.all(got >= p_all[0] - 1e-15)
    assert np.all(romano_wolf(t, d) <= westfall_young(t, d, stepdown=False) + 1e-15)


def test_rw_dominates_holm_with_correlated_statistics():
    """With strongly correlated statistics RW is less conservative than Holm."""
    rng = np.random.default_rng(1)
    k, B = 5, 4999
    z = rng.normal(size=(B, 1))
    d = 0.95 * z + np.sqrt(1 - 0.95**2) * rng.normal(size=(B, k))
    t = np.array([2.3, 2.2, 2.1, 0.5, 0.1])
    rw = romano_wolf(t, d)
    raw = (1 + (np.abs(d) >= np.abs(t)).sum(0)) / (B + 1)
    assert np.all(rw <= holm(raw) + 1e-12)
    assert rw[0] < 0.5 * holm(raw)[0]


# --------------------------------------------------------------------------- pyfixest
@pytest.fixture(scope="module")
def pyfixest_ref() -> dict:
    return json.loads(REF.read_text())


def test_romano_wolf_matches_pyfixest(pyfixest_ref):
    t = np.array(pyfixest_ref["t_stats"])
    d = np.array(pyfixest_ref["boot_t_stats"])
    assert d.shape == (pyfixest_ref["reps"], t.size)
    np.testing.assert_allclose(romano_wolf(t, d), pyfixest_ref["rwolf_pvalues"], rtol=0, atol=1e-15)


def test_westfall_young_minp_matches_pyfixest(pyfixest_ref):
    """pyfixest's wyoung: minP step-down, t(G-1) marginal p-values, #/B convention."""
    t = np.array(pyfixest_ref["t_stats"])
    d = np.array(pyfixest_ref["boot_t_stats"])
    df = pyfixest_ref["t_df"]

    def tail(a):
        return 2 * (1 - stats.t.cdf(np.abs(a), df))

    got = westfall_young(t, d, method="minP", marginal=tail, plus_one=False)
    np.testing.assert_allclose(got, pyfixest_ref["wyoung_pvalues"], rtol=0, atol=1e-15)


# --------------------------------------------------------------------------- table and errors
def test_table_and_errors():
    tab = multiple_testing_table(["income", "employment", "rd"], T_OBS, DRAWS)
    assert list(tab["hypothesis"]) == ["income", "employment", "rd"]
    np.testing.assert_allclose(tab["p_romano_wolf"], [0.4, 0.6, 0.6])
    np.testing.assert_allclose(tab["p_holm"], holm(tab["p_raw"]))
    assert (tab["n_draws"] == 4).all()
    tab2 = multiple_testing_table(["a", "b"], [1.0, 2.0], pvalues=[0.3, 0.01])
    assert "p_romano_wolf" not in tab2 and tab2["p_bh"].tolist() == [0.3, 0.02]
    with pytest.raises(InputError, match="draws must be"):
        romano_wolf(T_OBS, DRAWS[:, :2])
    with pytest.raises(InputError, match="finite"):
        romano_wolf([np.nan, 1.0, 2.0], DRAWS)
    with pytest.raises(InputError, match="method"):
        westfall_young(T_OBS, DRAWS, method="bonf")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="alternative"):
        romano_wolf(T_OBS, DRAWS, alternative="both")  # type: ignore[arg-type]
