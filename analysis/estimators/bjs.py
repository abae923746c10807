"""Borusyak, Jaravel & Spiess (2024) imputation estimator.

Model and estimator
-------------------
Under parallel trends and no anticipation, untreated potential outcomes follow

.. math::

    Y_{it}(0) = \\alpha_i + \\lambda_t + x_{it}'\\gamma + \\varepsilon_{it}.

1. Estimate :math:`\\alpha_i, \\lambda_t, \\gamma` by OLS on the untreated
   observations :math:`\\Omega_0 = \\{it: D_{it} = 0\\}` (never-treated and
   not-yet-treated).
2. Impute :math:`\\hat Y_{it}(0)` and :math:`\\hat\\tau_{it} = Y_{it} - \\hat Y_{it}(0)`
   for every treated observation :math:`it \\in \\Omega_1`.
3. Average: :math:`\\hat\\tau_w = \\sum_{it \\in \\Omega_1} w_{it}\\hat\\tau_{it}` with
   :math:`w_{it} = 1/|\\Omega_1|` (``simple``), :math:`1/|\\Omega_{1,h}|` on
   event time :math:`h` (``dynamic``), or on the cohort x period cell (``att_gt``).

Treated observations whose unit or period never appears untreated cannot be
imputed; they are dropped with a note (as ``didimputation`` does).

Variance (BJS Theorem 3, conservative)
---------------------------------------
Each estimator is linear in :math:`Y`, :math:`\\hat\\tau_w = \\sum_{it} v_{it} Y_{it}`
with :math:`v_{it} = w_{it}` on :math:`\\Omega_1` and
:math:`v_{\\Omega_0} = -Z_0(Z_0'Z_0)^{-1}Z_1'w_1` on :math:`\\Omega_0`
(:math:`Z` = unit dummies, time dummies, covariates; computed here by the exact
Schur-complement solve of :mod:`analysis.estimators._fe`, never forming
:math:`Z`). Then

.. math::

    \\hat\\sigma_w^2 = \\sum_{c} \\Big(\\sum_{it \\in c} v_{it}\\tilde\\varepsilon_{it}\\Big)^2,

summing over clusters :math:`c` (units by default) and over *all* observations,
with :math:`\\tilde\\varepsilon_{it}` the first-stage residual on :math:`\\Omega_0`
and :math:`\\hat\\tau_{it} - \\bar\\tau_{g,e}` on :math:`\\Omega_1`, where the
auxiliary average is taken within cohort x event-time cells with weights
:math:`v^2`: :math:`\\bar\\tau_{g,e} = \\sum v_{it}^2\\hat\\tau_{it} / \\sum v_{it}^2`
(BJS eq. 8-10; ``didimputation``'s default grouping; the leave-out refinement
of the paper is not applied). No small-sample factor is applied. Covariances
between estimands (``dynamic`` vcov) use the same formula with cross products.

Finding — ``didimputation`` (R, K. Butts) restricts the sum over observations in
the variance to units with a finite event time
(``data[!is.infinite(zz000event_time), ...]``), i.e. it drops never-treated
units, whose :math:`v_{it} \\ne 0` because they identify the period effects.
BJS's Theorem 3 sums over all units, as diff-diff's ``ImputationDiD`` and this
module do; ``didimputation`` standard errors are therefore too small whenever
never-treated units exist (see ``tests/reference/fe_mpdta.json`` notes).

Weights
-------
With observation weights :math:`\\omega_{it}` (``weights=``; ``didimputation``'s
``wname``) step 1 is weighted least squares and the estimand weights are
:math:`w_{it} = \\omega_{it} 1\\{it \\in \\text{estimand}\\} / \\sum \\omega 1\\{\\cdot\\}`
(``didimputation``: the treatment weights times ``wname``, normalised). The
estimator stays linear in :math:`Y`, now with
:math:`v_{\\Omega_0} = -\\Omega_0 Z_0(Z_0'\\Omega_0 Z_0)^{-1}Z_1'w_1`, and Theorem 3's
variance is computed with this :math:`v` (the weighted normal equations make
the unit part drop out as before). ``didimputation``'s standard errors with
``wname`` instead build :math:`v` from :math:`Z` multiplied by the weights on
both sides of the Gram matrix (``make_V_star(Z * w, ...)``), which is not the
:math:`v` of its own point estimate; its point estimates are the ones here.
The pre-trend regression is weighted likewise.

Pre-trend test (BJS Test 1)
---------------------------
On :math:`\\Omega_0` only, regress :math:`Y` on the unit and time effects
(and covariates) plus lead dummies :math:`1\\{t - g_i = -k\\}`,
:math:`k = 1, \\dots, K`; report the coefficients as the negative event times in
``dynamic`` and the clustered (fixest CR1) Wald test of all leads in
``pretest``. Without never-treated units the most distant lead is dropped when
the leads would be collinear with the unit and time effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.errors import InputError
from analysis.estimators import _fe
from analysis.estimators._docs import fill_doc
from analysis.estimators._panel import estimator_input, note
from analysis.results import Aggregate, DiDResult, EstimationDesign
from analysis.validation import check_option

__all__ = ["bjs_imputation", "power_closed_form"]


@fill_doc
def bjs_imputation(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    horizons: int | None = None,
    pretrends: int | None = None,
    alpha: float = 0.05,
    data_layer: str | None = None,
    weights: str | None = None,
    estimands: Literal["all", "simple"] = "all",
) -> DiDResult:
    """Imputation DiD estimator of Borusyak, Jaravel & Spiess (2024).

    Parameters
    ----------
    {{data}}
    {{columns}}
    covariates
        Time-varying controls in the :math:`Y(0)` model.
    {{cluster}}
    horizons
        Largest event time reported in ``dynamic`` (default: all).
    pretrends
        Number of leads :math:`K` in the pre-trend regression (default: all
        available leads; ``0`` skips the test).
    {{alpha}}
    {{data_layer}}
    weights
        Column of observation weights :math:`\\omega_{it}` (``didimputation``'s
        ``wname``, Stata ``did_imputation [aw=...]``): the first stage is weighted
        least squares and every estimand weights the treated observations in
        proportion to :math:`\\omega_{it}` (module docstring, "Weights").
    estimands
        ``"all"`` (default): the overall ATT, the dynamic effects (horizons and
        pre-trend leads), the cohort x period cells and the pre-trend test.
        ``"simple"``: only the overall ATT and its SE (one weight column in the
        variance; no ``dynamic``, ``att_gt`` or ``pretest``), the request of a
        minimal call such as diff-diff's ``ImputationDiD().fit``. With ``weights`` the
        overall ATT is the same omega-weighted average as in ``"all"``.

    Returns
    -------
    DiDResult
        ``simple`` (ATT over all imputed treated observations), ``dynamic``
        (horizons ``0..H``, and the pre-trend coefficients as negative event
        times), ``att_gt`` (cohort x period averages) and ``pretest``.
    """
    check_option("estimands", estimands, ("all", "simple"))
    for name, val in (("horizons", horizons), ("pretrends", pretrends)):
        if val is not None and (
            not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < 0
        ):
            raise InputError(f"{name} must be a non-negative integer or None (got {val!r})")
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
    d, X, untreated = panel.data, imp.X, imp.untreated
    tr = codes.treated & fs.identified
    n_lost = int((codes.treated & ~fs.identified).sum())
    if n_lost:
        note(
            notes,
            f"{n_lost} treated observation(s) cannot be imputed (unit or period never untreated); dropped",
        )
    if not tr.any():
        raise InputError(
            "no treated observation can be imputed: no untreated observations share their periods"
        )
    tau = np.where(tr, y - fs.y0hat, 0.0)
    idx_tr = np.flatnonzero(tr)
    rows_ = [idx_tr]  # estimand 0: the overall ATT over every imputed treated observation
    cols = [np.zeros(idx_tr.size, dtype=np.int64)]
    if estimands == "simple":
        # the first column of the full path's weight matrix only (one SE, no vcov)
        Wm = _estimand_weights(rows_, cols, len(d), 1, om)
        est = (Wm.T @ tau).ravel()
        scores = _bjs_scores(fs, codes, tau, tr, Wm)
        se = float(np.sqrt((scores[:, 0] ** 2).sum()))
        aggregates = {"simple": Aggregate("simple", float(est[0]), se)}
        att_gt = pd.DataFrame({"cohort": [], "time": [], "att": [], "se": []})
        coefficients, pretest, window = None, None, {}
        described = {
            "estimands": "simple (overall ATT only; no dynamic effects, cells or pre-trend test)"
        }
    else:
        # ---- estimands: simple, horizons, dynamic-average, cohort x period cells
        ev = codes.event
        hmax = int(np.nanmax(ev[tr]))
        H = hmax if horizons is None else min(int(horizons), hmax)
        hs = [h for h in range(H + 1) if (tr & (ev == h)).any()]
        tvals = d["time"].to_numpy()
        gt = _fe.pair_codes(codes.cohort, tvals)
        first = pd.Series(np.arange(len(d)))[tr].groupby(gt[tr]).first()
        cell_df = (
            pd.DataFrame(
                {
                    "g": codes.cohort[first.to_numpy()],
                    "t": tvals[first.to_numpy()],
                    "code": first.index.to_numpy(),
                }
            )
            .sort_values(["g", "t"])
            .reset_index(drop=True)
        )
        for j, h in enumerate(hs):
            r = np.flatnonzero(tr & (ev == h))
            rows_.append(r)
            cols.append(np.full(r.size, 1 + j))
        remap = np.full(int(gt.max()) + 1, -1, dtype=np.int64)
        remap[cell_df["code"].to_numpy()] = np.arange(len(cell_df))
        cell_code = remap[gt[idx_tr]]
        rows_.append(idx_tr)
        cols.append(1 + len(hs) + cell_code)
        Wm = _estimand_weights(rows_, cols, len(d), 1 + len(hs) + len(cell_df), om)
        # equal-weight average of the horizons (the 'dynamic' overall summary)
        w_avg = Wm[:, 1 : 1 + len(hs)] @ np.full((len(hs), 1), 1.0 / len(hs))
        Wm = sp.hstack([Wm, sp.csc_matrix(w_avg)]).tocsc()
        est = Wm.T @ tau
        scores = _bjs_scores(fs, codes, tau, tr, Wm)
        V = scores.T @ scores
        se = np.sqrt(np.diag(V))

        ih = slice(1, 1 + len(hs))
        dyn_post = pd.DataFrame({"event": hs, "att": est[ih], "se": se[ih]})
        Vpost = V[ih, ih]
        icell = slice(1 + len(hs), 1 + len(hs) + len(cell_df))
        att_gt = pd.DataFrame(
            {"cohort": cell_df["g"], "time": cell_df["t"], "att": est[icell], "se": se[icell]}
        )

        # ---- pre-trend regression on untreated observations
        pretest, dyn_pre, Vpre = None, None, None
        if pretrends != 0:
            pre = _pretrend(y, codes, X, untreated, pretrends, notes, om)
            if pre is not None:
                dyn_pre, Vpre, pretest, psi_pre = pre
        if dyn_pre is not None and len(dyn_pre):
            dyn = pd.concat([dyn_pre, dyn_post], ignore_index=True)
            # leads and horizons come from two estimators on the same clusters: their
            # covariance is that of the stacked cluster scores (as suest / a stacked GMM)
            cross = psi_pre.T @ scores[:, ih]
            Vdyn = np.block([[Vpre, cross], [cross.T, Vpost]])
        else:
            dyn, Vdyn = dyn_post, Vpost
        aggregates = {
            "simple": Aggregate("simple", est[0], se[0]),
            "dynamic": Aggregate("dynamic", est[-1], se[-1], by=dyn, vcov=Vdyn),
        }
        coefficients = pd.DataFrame(
            {"term": [f"tau::{h}" for h in hs], "estimate": est[ih], "se": se[ih]}
        )
        window = {"window": [int(dyn["event"].min()), int(dyn["event"].max())]}
        described = {
            "dynamic_overall": "equal-weight average of horizons 0..H",
            "dynamic_note": (
                "negative event times are BJS pre-trend coefficients from the untreated-only "
                "regression (fixest CR1 SEs); event -1 is estimated, none is omitted; "
                "their covariance with the horizons is that of the stacked cluster scores "
                "(lead scores scaled by the CR1 factor), so HonestDiD can use the leads"
            ),
        }

    info = {
        "estimator": "Borusyak-Jaravel-Spiess imputation",
        "control": "never+not-yet",
        "est_method": "imputation (OLS on untreated)",
        "se_type": f"BJS conservative (Theorem 3), clustered by {cluster or unit}",
        "ssc": "none",
        "cluster": cluster or unit,
        "n_clusters": int(codes.n_cl),
        "alpha": alpha,
        "reference_period": "all untreated periods (imputation)",
        **window,
        "tau_bar_groups": "cohort x event time, weights v^2",
        "simple_definition": "average of imputed effects over all treated observations",
        **described,
        "n_imputed": int(tr.sum()),
        "covariates": covs,
        "weights": weights,
        "data_layer": data_layer or "unspecified",
        "notes": notes,
    }
    return DiDResult(
        design=EstimationDesign(panel=panel, cluster=cluster),
        method="bjs",
        outcome=outcome,
        n_units=panel.n_units,
        n_obs=int((untreated | tr).sum()),
        att_gt=att_gt,
        aggregates=aggregates,
        info=info,
        coefficients=coefficients,
        pretest=pretest,
    )


def _estimand_weights(
    rows: list[np.ndarray], cols: list[np.ndarray], n_obs: int, m: int, om: np.ndarray | None
) -> sp.csc_matrix:
    """The ``n_obs x m`` estimand weights :math:`w_{it}` of the imputed effects.

    Column ``j`` holds the rows ``rows[k]`` whose ``cols[k]`` is ``j``, each
    weighted in proportion to :math:`\\omega_{it}` (1 without weights) and
    normalised to sum to one.
    """
    rr, cc = np.concatenate(rows), np.concatenate(cols)
    vals = np.ones(rr.size) if om is None else om[rr]  # weights proportional to omega_it
    Wm = sp.csc_matrix((vals, (rr, cc)), shape=(n_obs, m))
    return Wm @ sp.diags(1.0 / np.asarray(Wm.sum(axis=0)).ravel())


def _bjs_scores(
    fs: _fe.FirstStage, codes: _fe.Codes, tau: np.ndarray, tr: np.ndarray, Wm: sp.spmatrix
) -> np.ndarray:
    """Per-cluster sums of :math:`v_{it}\\tilde\\varepsilon_{it}` for each weight column.

    Untreated part: :math:`\\sum_{it\\in c} v_{it}\\hat u_{it} = -Q_c\\theta_w` (stage-1
    residuals sum to zero within units, so the unit part of :math:`v` drops out).
    Treated part: :math:`\\sum_{it\\in c} w_{it}(\\hat\\tau_{it} - \\bar\\tau_{g,e})`
    evaluated on the non-zeros of the sparse weights.
    """
    r_u, r_t = fs.unit_time_rhs(codes.uid, codes.n_units, Wm)
    _, theta = fs.fit.solve_normal(r_u, r_t)
    keep = fs.fit.keep
    out = -(fs.residual_scores(codes.cl, codes.n_cl)[:, keep] @ theta[keep])
    # auxiliary tau-bar by cohort x event time with weights v^2 (= w^2 on treated rows)
    cell = _fe.pair_codes(codes.cohort, codes.event)
    n_cells = int(cell.max()) + 1
    C = _fe.indicator_matrix(np.where(tr, cell, -1), n_cells)
    W2 = Wm.multiply(Wm).tocsc()
    num = _fe._dense(C.T @ W2.multiply(tau[:, None]))
    den = _fe._dense(C.T @ W2)
    tbar = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    coo = Wm.tocoo()
    vals = coo.data * (tau[coo.row] - tbar[cell[coo.row], coo.col])
    T = sp.csr_matrix((vals, (coo.row, coo.col)), shape=Wm.shape)
    out += _fe.sparse_group_sums(codes.cl, codes.n_cl, T)
    return out


def _pretrend(y, codes: _fe.Codes, X, untreated, K, notes, om=None):
    """BJS Test 1: leads on untreated observations, clustered Wald test."""
    ev = codes.event
    lead_vals = sorted(
        {int(v) for v in np.unique(ev[untreated & np.isfinite(ev)]) if v < 0}, reverse=True
    )
    if K is not None:
        lead_vals = [v for v in lead_vals if v >= -K]
    if not lead_vals:
        return None
    rows = untreated
    lc = _fe.level_codes(ev[rows], lead_vals)
    L = _fe.indicator_matrix(lc, len(lead_vals))
    tcount = np.bincount(codes.tid[rows], minlength=codes.n_times)
    Td = _fe.time_dummies(codes.tid[rows], codes.n_times, ref=int(np.argmax(tcount)))
    S = sp.hstack([Td, L]).tocsr()
    Xr = None if X is None else X[rows]
    wr = None if om is None else om[rows]
    fit = _fe.fit_absorbed(y[rows], codes.uid[rows], codes.n_units, S, Xr, weights=wr)
    nT = Td.shape[1]
    keep = fit.keep
    lk = keep[nT : nT + len(lead_vals)]
    if not lk.all():
        note(
            notes,
            f"pre-trend lead(s) {[lead_vals[j] for j in range(len(lead_vals)) if not lk[j]]} "
            "not identified (collinear with unit and time effects) and dropped",
        )
    if not lk.any():
        return None
    sc = _fe.cluster_scores(codes.cl[rows], codes.n_cl, S, Xr, fit.score_resid)[:, keep]
    G = int(np.unique(codes.cl[rows]).size)
    k = int(keep[nT:].sum())
    factor = _fe.ssc_factor(
        "fixest",
        n=fit.n_obs,
        k=k,
        n_units=fit.n_units_in_sample,
        n_times=int((tcount > 0).sum()),
        G=G,
    )
    V = _fe.sandwich(fit.bread, sc, factor)
    pos = np.cumsum(keep) - 1
    idx = [pos[nT + j] for j in range(len(lead_vals)) if lk[j]]
    vals = [lead_vals[j] for j in range(len(lead_vals)) if lk[j]]
    order = np.argsort(vals)
    idx = [idx[i] for i in order]
    vals = [vals[i] for i in order]
    b = fit.coef_kept[idx]
    Vb = V[np.ix_(idx, idx)]
    psi = np.sqrt(factor) * (sc @ fit.bread)[:, idx]  # per-cluster influence of the leads
    stat, df, p = _fe.wald_test(b, Vb, notes)
    frame = pd.DataFrame({"event": vals, "att": b, "se": np.sqrt(np.diag(Vb))})
    pretest = {
        "name": f"BJS pre-trend Wald test ({len(vals)} leads on untreated obs)",
        "stat": stat,
        "df": df,
        "p_value": p,
    }
    return frame, Vb, pretest, psi


# --------------------------------------------------------------------------- closed form
# For a fixed assignment on a balanced panel without covariates the imputation
# ATT and the unit sums of its Theorem-3 variance are linear in Y; power
# simulation evaluates them for stacks of simulated panels. Equality with
# bjs_imputation() is tested in tests/test_power.py.
#: Largest number of untreated unit-periods for the dense BJS fast path.
BJS_FAST_MAX_UNTREATED = 6000


@dataclass(frozen=True)
class BjsClosedForm:
    """BJS imputation simple ATT and Theorem-3 SE by unit, for stacks of Y.

    Both are linear in Y for a fixed assignment: ``att = y . a`` and the unit
    sums of the variance, ``sums = y @ L``, so ``se = ||y @ L||``. ``a`` and
    ``L`` are built once from the projection on the unit and period effects
    of the untreated cells (dense, hence the size limit).
    """

    a: np.ndarray  # (N*T,)
    L: np.ndarray  # (N*T, N)

    @classmethod
    def build(cls, design: Any) -> BjsClosedForm:
        D = design.treatment()
        n, T = D.shape
        g = design.cohorts()
        flat = D.ravel()
        om0, om1 = np.flatnonzero(flat == 0), np.flatnonzero(flat == 1)
        if om0.size > BJS_FAST_MAX_UNTREATED:
            raise InputError(
                f"design too large for the BJS fast path ({om0.size} untreated cells > "
                f"{BJS_FAST_MAX_UNTREATED}); use engine='refit'"
            )
        uid = np.repeat(np.arange(n), T)
        tid = np.tile(np.arange(T), n)
        Z = np.zeros((n * T, n + T - 1))
        Z[np.arange(n * T), uid] = 1.0
        late = tid > 0
        Z[np.flatnonzero(late), n + tid[late] - 1] = 1.0
        Z0, Z1 = Z[om0], Z[om1]
        # full column rank: every unit has an untreated period, every period a never-treated unit
        B0 = np.linalg.solve(Z0.T @ Z0, Z0.T)
        P0 = Z0 @ B0  # projection of untreated outcomes on the effects
        F1 = Z1 @ B0  # imputed Y(0) of treated cells from untreated outcomes
        n1 = om1.size
        v0 = -F1.sum(axis=0) / n1
        cell = g[uid[om1]] * 10_000 + tid[om1]
        same = (cell[:, None] == cell[None, :]).astype(np.float64)
        Cm = same / same.sum(axis=1, keepdims=True)  # cohort x period means of tau
        U = np.zeros((n * T, n))
        U[np.arange(n * T), uid] = 1.0
        U0, U1 = U[om0], U[om1]
        K1 = (np.eye(n1) - Cm).T @ U1 / n1  # treated residual tau - tau_bar, weight 1/n1
        L = np.zeros((n * T, n))
        L[om0] = (v0[:, None] * U0) - P0.T @ (v0[:, None] * U0) - F1.T @ K1
        L[om1] = K1
        a = np.zeros(n * T)
        a[om1] = 1.0 / n1
        a[om0] = v0
        return cls(a, L)

    def __call__(self, Y: np.ndarray) -> np.ndarray:
        flat = Y.reshape(Y.shape[0], -1)
        sums = flat @ self.L
        return np.column_stack([flat @ self.a, np.sqrt((sums**2).sum(axis=1))])


def power_closed_form(design: Any) -> BjsClosedForm:
    """The closed form for a balanced power design (``PanelDesign``)."""
    return BjsClosedForm.build(design)
