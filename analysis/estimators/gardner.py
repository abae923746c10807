"""Gardner (2021) two-stage difference-in-differences (did2s).

Model
-----
Stage 1 (untreated observations :math:`D_{it} = 0`, i.e. never- and
not-yet-treated):

.. math::

    y_{it} = \\alpha_i + \\lambda_t + x_{it}'\\gamma + u_{it}, \\qquad it \\in \\Omega_0 .

Stage 2 (all observations whose unit and period appear in stage 1), on the
residualised outcome :math:`\\tilde y_{it} = y_{it} - \\hat\\alpha_i - \\hat\\lambda_t - x_{it}'\\hat\\gamma`:

.. math::

    \\tilde y_{it} = \\beta D_{it} + \\eta_{it}
    \\quad\\text{(static)},\\qquad
    \\tilde y_{it} = \\sum_{e \\ne -1} \\beta_e 1\\{t - g_i = e\\} + \\eta_{it}
    \\quad\\text{(event study)},

without intercept; never-treated units have all event dummies zero. The static
:math:`\\hat\\beta` equals the BJS imputation ATT (same :math:`\\hat Y(0)`, equal
weights). Lead coefficients are stage-1 residual means and serve as a
pre-trend check (``pretest``: joint Wald test of the leads).

Variance (Butts & Gardner 2022, GMM)
------------------------------------
With :math:`X_1` = stage-1 design (unit dummies, time dummies, covariates) for
all rows, :math:`X_{10}` the same with treated rows zeroed, :math:`X_2` the
stage-2 design, :math:`\\hat u` the stage-1 residual (0 on treated rows) and
:math:`\\hat\\eta` the stage-2 residual,

.. math::

    \\hat V = (X_2'X_2)^{-1}\\Big(\\sum_c W_c W_c'\\Big)(X_2'X_2)^{-1},\\quad
    W_c = X_{2c}'\\hat\\eta_c - \\Gamma' X_{10c}'\\hat u_c,\\quad
    \\Gamma = (X_{10}'X_{10})^{-1}X_1'X_2,

clustered by unit unless ``cluster`` is given. This is the formula of the R
package ``did2s`` (``did2s()``, analytic SEs) and pyfixest's ``did2s``; no
small-sample factor is applied (neither package applies one). :math:`\\Gamma` is
obtained by the exact Schur-complement solve of :mod:`analysis.estimators._fe`
(no dense fixed-effect matrix), so 100,000 units x 20 periods run in seconds.

Weights
-------
With observation weights :math:`\\omega_{it}` (``weights=``; R ``did2s(...,
weights = "w")``) both stages are weighted least squares and the GMM variance
uses the weighted moments: :math:`(X_2'\\Omega X_2)^{-1}` as bread,
:math:`W_c = X_{2c}'\\Omega_c\\hat\\eta_c - \\Gamma'X_{10c}'\\Omega_c\\hat u_c` and
:math:`\\Gamma = (X_{10}'\\Omega X_{10})^{-1}X_1'\\Omega X_2` (R ``did2s`` multiplies
every design and residual by :math:`\\sqrt{\\omega}`, the same thing).

Reference checks (``tests/reference/fe_*.json``)
------------------------------------------------
diff-diff ``TwoStageDiD`` agrees to 1e-10 (estimates) and 1e-6 (SEs); a dense
LSDV computation agrees to 1e-10. pyfixest 0.60 ``did2s`` agrees on SEs (1e-4)
but its point estimates are off by up to ~1e-4 because it recovers the stage-1
fixed effects iteratively, and on ``mpdta`` it fails outright: its first stage
drops singleton fixed effects (the 2004 cohort has one untreated year), leaving
rows without a prediction and a shape error in its variance code. R ``did2s``
keeps singletons, as this module does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.errors import InputError
from analysis.estimators import _fe
from analysis.estimators._docs import fill_doc
from analysis.estimators._panel import estimator_input, note
from analysis.results import Aggregate, DiDResult, EstimationDesign

__all__ = ["gardner"]


@fill_doc
def gardner(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    alpha: float = 0.05,
    data_layer: str | None = None,
    weights: str | None = None,
) -> DiDResult:
    """Two-stage DiD of Gardner (2021) with the Butts-Gardner GMM variance.

    Parameters
    ----------
    {{data}}
    {{columns}}
    covariates
        Time-varying controls in the stage-1 model.
    {{cluster}}
    {{alpha}}
    {{data_layer}}
    weights
        Column of observation weights (R ``did2s``'s ``weights``): weighted
        least squares in both stages (module docstring).

    Returns
    -------
    DiDResult
        ``simple`` (static stage-2 coefficient), ``dynamic`` (event-time
        coefficients, every relative period except the omitted -1),
        ``coefficients`` (both stage-2 regressions) and ``pretest``.
    """
    inp = estimator_input(
        data,
        alpha=alpha,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        cluster=cluster,
        weights=weights,
    )
    panel, alpha = inp.panel, inp.alpha
    imp = _fe.imputation(panel)
    codes, notes, covs, y, fs, om = imp.codes, imp.notes, imp.covs, imp.y, imp.fs, imp.om
    rows = fs.identified
    n_lost = int((~rows).sum())
    if n_lost:
        note(
            notes,
            f"{n_lost} observation(s) without a stage-1 prediction (unit or period never untreated); dropped",
        )
    if not (rows & codes.treated).any():
        raise InputError("no treated observation has a stage-1 prediction")
    ytil = np.where(rows, y - fs.y0hat, 0.0)

    # static
    D = sp.csr_matrix((codes.treated & rows).astype(float)[:, None])
    b_s, V_s = _stage2(fs, codes, D, ytil, rows, om)
    # event study: all relative periods except -1
    ev = codes.event
    evals = sorted({int(v) for v in np.unique(ev[rows & np.isfinite(ev)])} - {-1})
    ecode = _fe.level_codes(ev, evals)
    ecode[~rows] = -1
    E = _fe.indicator_matrix(ecode, len(evals))
    b_e, V_e = _stage2(fs, codes, E, ytil, rows, om)
    se_e = np.sqrt(np.diag(V_e))
    dyn = pd.DataFrame({"event": evals, "att": b_e, "se": se_e})
    post = np.array(evals) >= 0
    wd = post / post.sum()
    leads = ~post
    pretest = None
    if leads.any():
        stat, df, p = _fe.wald_test(b_e[leads], V_e[np.ix_(leads, leads)], notes)
        pretest = {
            "name": "joint Wald test of stage-2 leads = 0",
            "stat": stat,
            "df": df,
            "p_value": p,
        }
    coefs = pd.DataFrame(
        {
            "term": ["D"] + [f"event::{v}" for v in evals],
            "estimate": np.r_[b_s, b_e],
            "se": np.r_[np.sqrt(np.diag(V_s)), se_e],
        }
    )
    info = {
        "estimator": "Gardner (2021) two-stage DiD",
        "control": "never+not-yet",
        "est_method": "two-stage WLS" if weights else "two-stage OLS",
        "weights": weights,
        "se_type": f"Butts-Gardner GMM, clustered by {cluster or unit}",
        "ssc": "none",
        "cluster": cluster or unit,
        "n_clusters": int(codes.n_cl),
        "alpha": alpha,
        "reference_period": -1,
        "window": [int(min(evals)), int(max(evals))],
        "simple_definition": "static stage-2 coefficient on D (= average over treated observations)",
        "dynamic_overall": "equal-weight average of post-period event coefficients",
        "dynamic_note": "reference period -1 omitted from 'dynamic'",
        "covariates": covs,
        "data_layer": data_layer or "unspecified",
        "notes": notes,
    }
    return DiDResult(
        design=EstimationDesign(panel=panel, cluster=cluster),
        method="gardner",
        outcome=outcome,
        n_units=panel.n_units,
        n_obs=int(rows.sum()),
        att_gt=None,
        aggregates={
            "simple": Aggregate("simple", b_s[0], np.sqrt(V_s[0, 0])),
            "dynamic": Aggregate(
                "dynamic", float(wd @ b_e), float(np.sqrt(wd @ V_e @ wd)), by=dyn, vcov=V_e
            ),
        },
        info=info,
        coefficients=coefs,
        pretest=pretest,
    )


def _stage2(
    fs: _fe.FirstStage,
    codes: _fe.Codes,
    X2: sp.csr_matrix,
    ytil: np.ndarray,
    rows: np.ndarray,
    om: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stage-2 (W)LS of ``ytil`` on the sparse dummies ``X2`` and its Butts-Gardner covariance."""
    X2 = sp.csr_matrix(X2.multiply(rows[:, None]))
    X2w = X2 if om is None else sp.csr_matrix(X2.multiply(om[:, None]))
    XtX = _fe._dense(X2w.T @ X2)
    bread = np.linalg.inv(XtX)
    b = bread @ (X2w.T @ ytil)
    eta = np.where(rows, ytil - X2 @ b, 0.0)
    W = _fe.sparse_group_sums(codes.cl, codes.n_cl, X2w.multiply(eta[:, None]))
    # Gamma = (X10'X10)^{-1} X1'X2; the cluster sums of u * (X10 Gamma) reduce to Q Gamma_theta
    r_u, r_t = fs.unit_time_rhs(codes.uid, codes.n_units, X2w)
    _, theta = fs.fit.solve_normal(r_u, r_t)
    W -= fs.residual_scores(codes.cl, codes.n_cl)[:, fs.fit.keep] @ theta[fs.fit.keep]
    V = bread @ (W.T @ W) @ bread
    return b, (V + V.T) / 2
