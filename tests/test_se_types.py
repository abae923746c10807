"""Standard-error types of TWFE and the event study (``se="iid"|"hc1"|"cr1"|"cr2"``).

References, sources and tolerances (per test):

* ``statsmodels`` 0.15 WLS/OLS with explicit unit and time dummies
  (``cov_type="nonrobust"`` = iid, ``"HC1"``, ``"cluster"``): coefficients
  1e-10, standard errors 1e-8 relative. statsmodels' cluster factor counts
  every dummy in :math:`K`; fixest's CR1 (ours) does not count the unit effects
  nested in the clusters, so the statsmodels covariance is rescaled by
  :math:`(n-K_{sm})/(n-K_{fixest})` -- the one documented difference.
* ``linearmodels`` 7.1 ``PanelOLS(..., weights=w, entity_effects=True,
  time_effects=True)`` with ``cov_type="unadjusted"`` (iid) and ``"robust"``
  (HC1): 1e-8 relative.
* CR2: Bell-McCaffrey computed here from scratch with the full dummy matrix
  (:math:`A_g = (I-H_{gg})^{-1/2}` on the :math:`\\sqrt{\\omega}`-transformed
  model) -- 1e-8 relative; unweighted TWFE CR2 equals the package's
  clubSandwich-validated post-estimation CR2 (``--inference cr2``) to 1e-12.
* Defaults: ``se="cr1"`` is today's output bit for bit (``==``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.errors import InputError
from analysis.estimators.event import event_study
from analysis.estimators.twfe import twfe

KW = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}


def _panel(seed: int = 5, n_units: int = 60, T: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 3, 4, 5], size=n_units)
    rows = []
    a = rng.normal(size=n_units)
    het = rng.uniform(0.5, 2.0, n_units)  # heteroskedastic, unit-specific scale
    for i in range(n_units):
        for t in range(1, T + 1):
            d = g[i] > 0 and t >= g[i]
            x = rng.normal()
            y = a[i] + 0.3 * t + 0.5 * x + 1.5 * d + het[i] * rng.normal()
            rows.append((i, t, g[i], y, x, i // 4))
    df = pd.DataFrame(rows, columns=["unit", "time", "cohort", "y", "x", "state"])
    df["w"] = rng.uniform(0.5, 3.0, len(df))  # observation-level analytic weights
    df["one"] = 1.0
    return df


def _dummies(df: pd.DataFrame, regressors: list[str]) -> tuple[np.ndarray, np.ndarray]:
    U = pd.get_dummies(df["unit"], dtype=float).to_numpy()
    T = pd.get_dummies(df["time"], dtype=float).to_numpy()[:, 1:]
    X = df[regressors].to_numpy(float)
    return np.hstack([X, U, T]), df["y"].to_numpy(float)


def _sm(df, regressors, wcol, cov_type, **kw):
    import statsmodels.api as sm

    Z, y = _dummies(df, regressors)
    w = np.ones(len(df)) if wcol is None else df[wcol].to_numpy(float)
    return sm.WLS(y, Z, weights=w).fit(cov_type=cov_type, **kw), Z


def _treated(df):
    return ((df["cohort"] > 0) & (df["time"] >= df["cohort"])).astype(float)


@pytest.mark.parametrize("wcol", [None, "w"])
@pytest.mark.parametrize("se", ["iid", "hc1", "cr1"])
def test_twfe_se_types_match_statsmodels_with_dummies(se, wcol):
    """Reference: statsmodels WLS with unit/time dummies (1e-10 coef, 1e-8 rel SE)."""
    df = _panel().assign(D=lambda d: _treated(d))
    r = twfe(df, **KW, covariates=("x",), se=se, weights=wcol)
    cov_type = {"iid": "nonrobust", "hc1": "HC1", "cr1": "cluster"}[se]
    kw = {"cov_kwds": {"groups": df["unit"].to_numpy()}} if se == "cr1" else {}
    res, Z = _sm(df, ["D", "x"], wcol, cov_type, **kw)
    V = np.asarray(res.cov_params())[:2, :2]
    if se == "cr1":  # statsmodels counts the N unit dummies in K; fixest counts them as 1
        n, K_sm = Z.shape[0], np.linalg.matrix_rank(Z)
        K_fixest = 2 + df["time"].nunique()
        V = V * (n - K_sm) / (n - K_fixest)
    c = r.coefficients.set_index("term")
    np.testing.assert_allclose(c.loc[["D", "x"], "estimate"], res.params[:2], rtol=0, atol=1e-10)
    np.testing.assert_allclose(c.loc[["D", "x"], "se"], np.sqrt(np.diag(V)), rtol=1e-8)
    assert r.info["se"] == se and r.info["weights"] == wcol


@pytest.mark.parametrize("se", ["iid", "hc1"])
def test_twfe_weighted_iid_hc1_match_linearmodels(se):
    """Reference: linearmodels PanelOLS(weights=w) unadjusted / robust (1e-8 rel)."""
    from linearmodels.panel import PanelOLS

    df = _panel().assign(D=lambda d: _treated(d))
    idx = pd.MultiIndex.from_arrays([df["unit"], df["time"]])
    mod = PanelOLS(
        pd.Series(df["y"].to_numpy(), index=idx),
        pd.DataFrame({"D": df["D"].to_numpy(), "x": df["x"].to_numpy()}, index=idx),
        weights=pd.Series(df["w"].to_numpy(), index=idx),
        entity_effects=True,
        time_effects=True,
    )
    res = mod.fit(cov_type={"iid": "unadjusted", "hc1": "robust"}[se])
    r = twfe(df, **KW, covariates=("x",), se=se, weights="w")
    c = r.coefficients.set_index("term")
    np.testing.assert_allclose(c.loc[["D", "x"], "estimate"], res.params, rtol=1e-10)
    np.testing.assert_allclose(c.loc[["D", "x"], "se"], res.std_errors, rtol=1e-8)


def _cr2_dense(df, regressors, wcol, cluster="unit"):
    """Bell-McCaffrey CR2 from the full dummy design of the sqrt(w)-transformed model."""
    Z, y = _dummies(df, regressors)
    w = np.ones(len(df)) if wcol is None else df[wcol].to_numpy(float)
    sw = np.sqrt(w)
    Zs, ys = Z * sw[:, None], y * sw
    keep = np.linalg.matrix_rank(Zs)
    assert keep == Zs.shape[1]
    M = np.linalg.inv(Zs.T @ Zs)
    e = ys - Zs @ (M @ Zs.T @ ys)
    meat = np.zeros((Z.shape[1], Z.shape[1]))
    for g in np.unique(df[cluster]):
        s = (df[cluster] == g).to_numpy()
        Zg = Zs[s]
        H = Zg @ M @ Zg.T
        lam, Q = np.linalg.eigh(np.eye(s.sum()) - H)
        f = np.where(lam > 1e-12, 1.0 / np.sqrt(np.where(lam > 1e-12, lam, 1.0)), 0.0)
        A = (Q * f) @ Q.T
        u = Zg.T @ A @ e[s]
        meat += np.outer(u, u)
    V = M @ meat @ M
    k = len(regressors)
    return V[:k, :k]


@pytest.mark.parametrize("wcol", [None, "w"])
def test_twfe_cr2_matches_dense_bell_mccaffrey(wcol):
    """Reference: from-scratch CR2 with every dummy materialised (1e-8 rel)."""
    df = _panel().assign(D=lambda d: _treated(d))
    r = twfe(df, **KW, covariates=("x",), se="cr2", weights=wcol)
    V = _cr2_dense(df, ["D", "x"], wcol)
    np.testing.assert_allclose(
        r.coefficients.set_index("term").loc[["D", "x"], "se"], np.sqrt(np.diag(V)), rtol=1e-8
    )
    assert "CR2" in r.info["se_type"] and r.info["ssc"] is None


def test_twfe_cr2_equals_post_estimation_cr2():
    """The package's clubSandwich-validated ``--inference cr2`` gives the same SE (1e-12)."""
    from analysis.inference.post import post_inference

    df = _panel()
    r = twfe(df, **KW, se="cr2")
    post = post_inference("cr2", df, method="twfe", **KW, result=twfe(df, **KW))
    assert r.aggregates["simple"].se == pytest.approx(post["se"], rel=1e-12)


def test_default_se_is_cr1_bit_for_bit():
    """Defaults unchanged: se='cr1' and no weights give today's numbers exactly."""
    df = _panel()
    for fn, kw in ((twfe, {}), (event_study, {"window": (-3, 3)})):
        r0 = fn(df, **KW, covariates=("x",), **kw)
        r1 = fn(df, **KW, covariates=("x",), se="cr1", **kw)
        rw = fn(df, **KW, covariates=("x",), weights="one", **kw)
        assert r0.coefficients.equals(r1.coefficients)
        np.testing.assert_allclose(
            rw.coefficients[["estimate", "se"]], r0.coefficients[["estimate", "se"]], rtol=1e-12
        )
        assert r0.info["se_type"].startswith("CR1 clustered by") and r0.info["se"] == "cr1"


@pytest.mark.parametrize("wcol", [None, "w"])
@pytest.mark.parametrize("se", ["iid", "hc1", "cr1", "cr2"])
def test_event_study_se_types(se, wcol):
    """Event study: statsmodels WLS with dummies (iid/HC1/cluster) and dense CR2 (1e-8 rel)."""
    df = _panel()
    r = event_study(df, **KW, window=(-3, 2), se=se, weights=wcol)
    e = np.where(df["cohort"] > 0, df["time"] - df["cohort"], np.nan)
    e = np.clip(e, -3, 2)
    evs = [v for v in r.aggregates["dynamic"].by["event"]]
    for v in evs:
        df[f"ev{v}"] = (e == v).astype(float)
    regs = [f"ev{v}" for v in evs]
    got = r.aggregates["dynamic"].by["se"].to_numpy()
    if se == "cr2":
        want = np.sqrt(np.diag(_cr2_dense(df, regs, wcol)))
    else:
        cov_type = {"iid": "nonrobust", "hc1": "HC1", "cr1": "cluster"}[se]
        kw = {"cov_kwds": {"groups": df["unit"].to_numpy()}} if se == "cr1" else {}
        res, Z = _sm(df, regs, wcol, cov_type, **kw)
        np.testing.assert_allclose(
            r.aggregates["dynamic"].by["att"], res.params[: len(regs)], rtol=0, atol=1e-10
        )
        V = np.asarray(res.cov_params())[: len(regs), : len(regs)]
        if se == "cr1":
            n, K_sm = Z.shape[0], np.linalg.matrix_rank(Z)
            V = V * (n - K_sm) / (n - (len(regs) + df["time"].nunique()))
        want = np.sqrt(np.diag(V))
    np.testing.assert_allclose(got, want, rtol=1e-8)
    assert r.info["se"] == se
    # HonestDiD input: the dynamic vcov carries the chosen SE type
    np.testing.assert_allclose(np.sqrt(np.diag(r.aggregates["dynamic"].vcov)), got, rtol=1e-12)


def test_se_type_is_named_in_every_output():
    df = _panel()
    r = twfe(df, **KW, se="hc1")
    assert "HC1" in r.to_dict()["se_type"]
    assert "HC1" in r.summary()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r2 = event_study(df, **KW, se="iid")
    assert r2.to_dict()["se_type"].startswith("iid")


def test_bad_se_type_is_a_one_line_input_error():
    df = _panel()
    with pytest.raises(InputError, match=r"se must be one of 'iid', 'hc1', 'cr1', 'cr2'"):
        twfe(df, **KW, se="hc3")
    with pytest.raises(InputError, match="se must be one of"):
        event_study(df, **KW, se="cluster")
    with pytest.raises(InputError, match="backend='linearmodels'"):
        twfe(df, **KW, se="hc1", backend="linearmodels")


def test_tables_state_the_se_type():
    """Tables read info: an HC1 fit is not described as clustered."""
    from analysis.report.tables import design_notes

    notes = " ".join(design_notes(twfe(_panel(), **KW, se="hc1")))
    assert "HC1" in notes and "clustered" not in notes
    notes = " ".join(design_notes(twfe(_panel(), **KW, se="cr2")))
    assert "CR2 (Bell-McCaffrey)" in notes
