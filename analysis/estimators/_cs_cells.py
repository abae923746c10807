r"""Group-time cells of :func:`analysis.estimators.cs.callaway_santanna`.

Which ATT(g, t) cells exist (base periods, comparison groups) and the DRDID
1.3.0 two-period building blocks that estimate each one with its influence
function: doubly robust (``dr``), inverse-probability weighting (``ipw``) and
outcome regression (``reg``), for panels and, unbalanced, repeated cross
sections; and the moment path, which gives the no-covariate ATT(g,t) and the
Gram matrix of their influence functions from cohort moments of the outcome
without forming them (both closed-form paths share
:func:`_closed_form_coefficients`). Split from :mod:`analysis.estimators.cs`
to keep each module readable; see that module's docstring for the estimands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from analysis.estimators._cs_design import _Design

#: DRDID 1.3.0 propensity-score trimming level for comparison units.
TRIM_LEVEL = 0.995
#: R ``did`` overlap guard: a cell is NA when the propensity score reaches this.
OVERLAP_MAX = 0.999
_EPS = np.finfo(float).eps


# --------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class _Cell:
    g: float
    t: int  # period index of the current period
    b: int  # period index of the base period
    base_zero: bool  # universal-base normalisation cell (att = 0)


def _cells(design: _Design, base_period: str, anticipation: int) -> list[_Cell]:
    times = design.times
    n_t = times.size
    tfac = 1 if base_period == "varying" else 0
    out: list[_Cell] = []
    for g in design.glist:
        pre_idx = np.flatnonzero(times + anticipation < g)
        bar_b = int(pre_idx[-1])  # exists: g > first + anticipation
        for ti in range(n_t - tfac):
            cur = ti + tfac
            b = ti if base_period == "varying" else bar_b
            if g - anticipation <= times[cur]:
                b = bar_b
            out.append(_Cell(g=float(g), t=cur, b=b, base_zero=(b == cur)))
    return out


def _control_cohorts(
    design: _Design, ucoh: np.ndarray, cell: _Cell, control: str, anticipation: int
) -> np.ndarray:
    """Boolean over the distinct cohort values ``ucoh``: which form the comparison group."""
    if control == "never":
        return ucoh == 0
    thr = design.times[max(cell.t, cell.b)] + anticipation
    return (ucoh == 0) | ((ucoh > thr) & (ucoh != cell.g))


# --------------------------------------------------------------------------- 2x2 pieces
def _iw(a: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """``a`` times the sampling weights ``w`` (``a`` itself, untouched, when unweighted)."""
    return a if w is None else w * a


def _logit(
    d: np.ndarray, x: np.ndarray, max_iter: int = 100, w: np.ndarray | None = None
) -> tuple[np.ndarray, bool]:
    r"""Maximum-likelihood logit by Newton-Raphson; returns (fitted p, converged).

    With sampling weights ``w``: the weighted likelihood
    :math:`\sum_i w_i[d_i\eta_i - \log(1+e^{\eta_i})]` (R ``glm(..., weights = w)``).
    """
    k = x.shape[1]
    beta = np.zeros(k)
    dbar = d.mean() if w is None else float(np.sum(w * d) / np.sum(w))
    pbar = float(np.clip(dbar, 1e-10, 1 - 1e-10))
    beta[0] = math.log(pbar / (1 - pbar))  # intercept start
    eta = x @ beta

    def loglik(e: np.ndarray) -> float:
        # sum d*e - log(1+exp(e)), stably
        return float(np.sum(_iw(d * e - np.logaddexp(0.0, e), w)))

    ll = loglik(eta)
    converged = False
    for _ in range(max_iter):
        p = expit(eta)
        wp = _iw(p * (1.0 - p), w)
        grad = x.T @ _iw(d - p, w)
        hess = (x * wp[:, None]).T @ x
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        lam = 1.0
        for _h in range(30):
            new_beta = beta + lam * step
            new_eta = x @ new_beta
            new_ll = loglik(new_eta)
            if new_ll >= ll - 1e-12 * (1 + abs(ll)):
                break
            lam /= 2.0
        done = np.max(np.abs(lam * step)) <= 1e-10 * (1.0 + np.max(np.abs(beta)))
        beta, eta, ll = new_beta, new_eta, new_ll
        if done or abs(lam * np.max(np.abs(step))) < 1e-14:
            converged = True
            break
    return expit(eta), converged


def _rcond(a: np.ndarray) -> float:
    try:
        c = np.linalg.cond(a, 1)
    except np.linalg.LinAlgError:  # pragma: no cover
        return 0.0
    return 0.0 if not np.isfinite(c) else 1.0 / c


def _ps_pieces(
    ps: np.ndarray | None, d: np.ndarray, x: np.ndarray, w: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Propensity-score pieces shared by the DRDID panel and cross-section 2x2s.

    The score is capped at :math:`1 - 10^{-6}`; comparison units with
    :math:`\hat p \ge` :data:`TRIM_LEVEL` get weight zero; the asymptotic
    linear representation of the (weighted) logit is
    :math:`w_i(d_i - \hat p_i)x_i' \big(\sum_j w_j\hat p_j(1-\hat p_j)x_jx_j'/n_1\big)^{-1}`.

    Parameters
    ----------
    ps
        Fitted propensity scores of the ``n_1`` units (rows) used.
    d
        Treated-cohort indicator.
    x
        Design matrix (intercept first).
    w
        Sampling weights (``None`` = unweighted).

    Returns
    -------
    ps, trim, alr_ps
        The capped score, the trimming indicator times the weights, and the
        ``n_1 x k`` linear representation of the logit.

    Raises
    ------
    numpy.linalg.LinAlgError
        When the information matrix of the logit is singular.
    """
    assert ps is not None
    n1 = d.shape[0]
    ps = np.minimum(ps, 1.0 - 1e-6)
    trim = _iw(np.where(d == 1, True, ps < TRIM_LEVEL).astype(np.float64), w)
    info = (x * _iw(ps * (1.0 - ps), w)[:, None]).T @ x
    if _rcond(info) < _EPS:
        raise np.linalg.LinAlgError("singular propensity-score information matrix")
    alr_ps = (_iw(d - ps, w)[:, None] * x) @ (np.linalg.inv(info) * n1)
    return ps, trim, alr_ps


def _two_by_two_cov(
    dy: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    method: str,
    ps: np.ndarray | None,
    w: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """DRDID panel 2x2 estimators with covariates on the n1 used units.

    Returns (att, influence function of length n1), the latter in DRDID's
    scaling (``se = sqrt(mean(if^2)/n1)``).
    """
    n1 = d.shape[0]
    c = 1.0 - d
    if method in ("reg", "dr"):
        xc = x[c == 1]
        if w is None:
            xtx = xc.T @ xc
            beta = np.linalg.solve(xtx, xc.T @ dy[c == 1])
        else:  # weighted least squares (R lm(..., weights = w))
            xwc = xc * w[c == 1][:, None]
            xtx = xwc.T @ xc
            beta = np.linalg.solve(xtx, xwc.T @ dy[c == 1])
        out = x @ beta
        resid = dy - out
        # asymptotic linear representation of the comparison-group OLS
        xpx_inv = np.linalg.inv(xtx / n1)
        alr_ols = _iw(c * resid, w)[:, None] * x @ xpx_inv
    if method == "reg":
        dw = _iw(d, w)
        mt = dw.mean()
        eta_t = np.sum(dw * dy) / np.sum(dw)
        eta_c = np.sum(dw * out) / np.sum(dw)
        att = eta_t - eta_c
        inf_treat = dw * (dy - eta_t) / mt
        m1 = (dw[:, None] * x).mean(axis=0)
        inf_control = (dw * (out - eta_c) + alr_ols @ m1) / mt
        return float(att), inf_treat - inf_control

    # propensity score pieces (ipw and dr)
    ps, trim, alr_ps = _ps_pieces(ps, d, x, w)
    w_treat = trim * d
    w_cont = trim * ps * c / (1.0 - ps)
    mw_t, mw_c = w_treat.mean(), w_cont.mean()
    if method == "ipw":
        eta_t = np.mean(w_treat * dy) / mw_t
        eta_c = np.mean(w_cont * dy) / mw_c
        att = eta_t - eta_c
        inf_treat = w_treat * (dy - eta_t) / mw_t
        m2 = ((w_cont * (dy - eta_c))[:, None] * x).mean(axis=0)
        inf_control = (w_cont * (dy - eta_c) + alr_ps @ m2) / mw_c
        return float(att), inf_treat - inf_control
    # dr (traditional, drdid_panel)
    eta_t = np.mean(w_treat * resid) / mw_t
    eta_c = np.mean(w_cont * resid) / mw_c
    att = eta_t - eta_c
    m1 = (w_treat[:, None] * x).mean(axis=0)
    inf_treat = (w_treat * (resid - eta_t) - alr_ols @ m1) / mw_t
    m2 = ((w_cont * (resid - eta_c))[:, None] * x).mean(axis=0)
    m3 = (w_cont[:, None] * x).mean(axis=0)
    inf_control = (w_cont * (resid - eta_c) + alr_ps @ m2 - alr_ols @ m3) / mw_c
    return float(att), inf_treat - inf_control


def _ols_alr(x: np.ndarray, y: np.ndarray, sel: np.ndarray, n1: int, w: np.ndarray | None = None):
    """(Weighted) OLS on rows ``sel``; fitted values for all rows and the asymptotic linear rep."""
    xs = x[sel]
    if w is None:
        xtx = xs.T @ xs
        xty = xs.T @ y[sel]
    else:
        xws = xs * w[sel][:, None]
        xtx = xws.T @ xs
        xty = xws.T @ y[sel]
    if xs.shape[0] < xs.shape[1] or _rcond(xtx) < _EPS:
        raise np.linalg.LinAlgError("singular outcome-regression design")
    beta = np.linalg.solve(xtx, xty)
    fit = x @ beta
    alr = _iw(sel * (y - fit), w)[:, None] * x @ np.linalg.inv(xtx / n1)
    return fit, alr


def _two_by_two_rc(
    y: np.ndarray,
    post: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    method: str,
    ps: np.ndarray | None,
    w: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """DRDID repeated-cross-section 2x2 estimators (``reg_did_rc``,
    ``std_ipw_did_rc``, ``drdid_rc``) on the n1 rows used; used for unbalanced
    panels as R ``did`` does. Returns (att, row-level influence function)."""
    n1 = d.shape[0]
    c = 1.0 - d
    pre = 1.0 - post
    mean = np.mean
    if method == "reg":
        out_pre, alr_pre = _ols_alr(x, y, (c * pre) == 1, n1, w)
        out_post, alr_post = _ols_alr(x, y, (c * post) == 1, n1, w)
        dw = _iw(d, w)
        w_tpre, w_tpost = dw * pre, dw * post
        eta_tpre = mean(w_tpre * y) / mean(w_tpre)
        eta_tpost = mean(w_tpost * y) / mean(w_tpost)
        eta_c = mean(dw * (out_post - out_pre)) / mean(dw)
        att = (eta_tpost - eta_tpre) - eta_c
        inf_treat = w_tpost * (y - eta_tpost) / mean(w_tpost) - w_tpre * (y - eta_tpre) / mean(
            w_tpre
        )
        m1 = (dw[:, None] * x).mean(axis=0)
        inf_control = (dw * (out_post - out_pre - eta_c) + alr_post @ m1 - alr_pre @ m1) / mean(dw)
        return float(att), inf_treat - inf_control

    ps, trim, alr_ps = _ps_pieces(ps, d, x, w)
    odds = ps / (1.0 - ps)
    w_tpre, w_tpost = trim * d * pre, trim * d * post
    w_cpre, w_cpost = trim * odds * c * pre, trim * odds * c * post

    def lead(w: np.ndarray, r: np.ndarray) -> tuple[float, np.ndarray]:
        # normalised mean of r with weights w, and its leading influence term
        mw = mean(w)
        a = mean(w * r) / mw
        return a, w * (r - a) / mw

    if method == "ipw":
        a_tpost, i_tpost = lead(w_tpost, y)
        a_tpre, i_tpre = lead(w_tpre, y)
        a_cpost, i_cpost = lead(w_cpost, y)
        a_cpre, i_cpre = lead(w_cpre, y)
        att = (a_tpost - a_tpre) - (a_cpost - a_cpre)
        m2_pre = ((w_cpre * (y - a_cpre))[:, None] * x).mean(axis=0) / mean(w_cpre)
        m2_post = ((w_cpost * (y - a_cpost))[:, None] * x).mean(axis=0) / mean(w_cpost)
        inf_cont = (i_cpost - i_cpre) + alr_ps @ (m2_post - m2_pre)
        return float(att), (i_tpost - i_tpre) - inf_cont

    # dr: locally efficient doubly robust (drdid_rc, Sant'Anna and Zhao 2020 eq. 3.4)
    out_cpre, alr_cpre = _ols_alr(x, y, (c * pre) == 1, n1, w)
    out_cpost, alr_cpost = _ols_alr(x, y, (c * post) == 1, n1, w)
    out_tpre, alr_tpre = _ols_alr(x, y, (d * pre) == 1, n1, w)
    out_tpost, alr_tpost = _ols_alr(x, y, (d * post) == 1, n1, w)
    out_c = post * out_cpost + pre * out_cpre
    r = y - out_c
    w_d, w_dt1, w_dt0 = trim * d, trim * d * post, trim * d * pre
    a_tpost, i_tpost = lead(w_tpost, r)
    a_tpre, i_tpre = lead(w_tpre, r)
    a_cpost, i_cpost = lead(w_cpost, r)
    a_cpre, i_cpre = lead(w_cpre, r)
    a_d1, i_d1 = lead(w_d, out_tpost - out_cpost)
    a_dt1, i_dt1 = lead(w_dt1, out_tpost - out_cpost)
    a_d0, i_d0 = lead(w_d, out_tpre - out_cpre)
    a_dt0, i_dt0 = lead(w_dt0, out_tpre - out_cpre)
    att = (a_tpost - a_tpre) - (a_cpost - a_cpre) + (a_d1 - a_dt1) - (a_d0 - a_dt0)
    # estimation effect of the comparison-group regressions (post minus pre)
    m1_post = -(w_tpost[:, None] * x).mean(axis=0) / mean(w_tpost)
    m1_pre = -(w_tpre[:, None] * x).mean(axis=0) / mean(w_tpre)
    inf_treat = (i_tpost - i_tpre) + alr_cpost @ m1_post - alr_cpre @ m1_pre
    m2_pre = ((w_cpre * (r - a_cpre))[:, None] * x).mean(axis=0) / mean(w_cpre)
    m2_post = ((w_cpost * (r - a_cpost))[:, None] * x).mean(axis=0) / mean(w_cpost)
    m3_post = -(w_cpost[:, None] * x).mean(axis=0) / mean(w_cpost)
    m3_pre = -(w_cpre[:, None] * x).mean(axis=0) / mean(w_cpre)
    inf_cont = (
        (i_cpost - i_cpre) + alr_ps @ (m2_post - m2_pre) + alr_cpost @ m3_post - alr_cpre @ m3_pre
    )
    inf_eff = (i_d1 - i_dt1) - (i_d0 - i_dt0)
    mom_post = ((w_d / mean(w_d) - w_dt1 / mean(w_dt1))[:, None] * x).mean(axis=0)
    mom_pre = ((w_d / mean(w_d) - w_dt0 / mean(w_dt0))[:, None] * x).mean(axis=0)
    inf_or = (alr_tpost - alr_cpost) @ mom_post - (alr_tpre - alr_cpre) @ mom_pre
    return float(att), inf_treat - inf_cont + inf_eff + inf_or


def _estimate_cells_unbalanced(
    design: _Design,
    cells: list[_Cell],
    *,
    control: str,
    est_method: str,
    anticipation: int,
) -> _CellResults:
    """ATT(g,t) on an unbalanced panel: each 2x2 uses the rows observed in the base
    or the current period of treated/comparison units (R ``did``, unbalanced)."""
    lg = design.long
    assert lg is not None
    n = design.n
    k = len(cells)
    times = design.times
    ucoh, codes = np.unique(design.g, return_inverse=True)
    row_code = codes[lg.unit]
    att = np.full(k, np.nan)
    psi = np.zeros((n, k), order="F")
    n_tr = np.zeros(k, dtype=np.int64)
    n_co = np.zeros(k, dtype=np.int64)
    na_notes: list[str] = []
    x_all = lg.x if lg.x is not None else np.ones((lg.y.shape[0], 1))
    for j, cell in enumerate(cells):
        if cell.base_zero:
            att[j] = 0.0
            continue
        label = f"ATT({int(cell.g)},{int(times[cell.t])})"
        cc = _control_cohorts(design, ucoh, cell, control, anticipation)
        tcode = int(np.searchsorted(ucoh, cell.g))
        in_period = (lg.period == cell.t) | (lg.period == cell.b)
        is_d = row_code == tcode
        use = in_period & (is_d | cc[row_code])
        rows = np.flatnonzero(use)
        d = is_d[rows].astype(np.float64)
        post = (lg.period[rows] == cell.t).astype(np.float64)
        n_tr[j] = np.unique(lg.unit[rows][d == 1]).size
        n_co[j] = np.unique(lg.unit[rows][d == 0]).size
        if (
            min(
                (d * post).sum(),
                (d * (1 - post)).sum(),
                ((1 - d) * post).sum(),
                ((1 - d) * (1 - post)).sum(),
            )
            == 0
        ):
            na_notes.append(f"{label}: a treated or comparison group is empty in a period; NA")
            continue
        xs = x_all[rows]
        wr = None if design.w is None else design.w[lg.unit[rows]]
        ps = None
        if est_method in ("dr", "ipw"):
            ps, _conv = _logit(d, xs, w=wr)
            if np.max(ps) >= OVERLAP_MAX:
                na_notes.append(f"{label}: overlap condition violated; reported as NA")
                continue
        try:
            a, inf = _two_by_two_rc(lg.y[rows], post, d, xs, est_method, ps, wr)
        except np.linalg.LinAlgError:
            na_notes.append(f"{label}: singular design in the 2x2 estimator; reported as NA")
            continue
        if not np.isfinite(a):
            na_notes.append(f"{label}: estimate not finite; reported as NA")
            continue
        att[j] = a
        n1 = rows.size
        psi[:, j] = np.bincount(lg.unit[rows], weights=(n / n1) * inf, minlength=n)
    return _CellResults(att=att, psi=psi, n_treated=n_tr, n_control=n_co, na_notes=na_notes)


@dataclass
class _CellResults:
    att: np.ndarray  # K (nan = NA cell)
    psi: np.ndarray | None  # n x K (None when only its cluster Gram matrix was formed)
    n_treated: np.ndarray
    n_control: np.ndarray
    na_notes: list[str]
    #: (K + nG) x (K + nG) Gram matrix of the cluster sums of Z = [Psi | H] (H =
    #: cohort dummies of ``design.glist``), when computed without forming Psi
    gram: np.ndarray | None = None


def _estimate_cells(
    design: _Design,
    cells: list[_Cell],
    *,
    control: str,
    est_method: str,
    anticipation: int,
    moments: bool = False,
) -> _CellResults:
    """ATT(g,t) and their influence functions on a balanced panel.

    With ``moments=True`` (no covariates, units as clusters) the n x K
    influence-function matrix is never formed: its Gram matrix, all the
    analytic covariances need, is accumulated from cohort moments of the
    outcome (:func:`_estimate_cells_moments`), and ``psi`` is ``None``.
    """
    n = design.n
    k = len(cells)
    times = design.times
    ucoh, codes = np.unique(design.g, return_inverse=True)
    n_u = ucoh.size
    cnt = np.bincount(codes, minlength=n_u).astype(np.float64)
    tcode = np.searchsorted(ucoh, np.array([c.g for c in cells]))
    cm = np.column_stack(
        [_control_cohorts(design, ucoh, c, control, anticipation) for c in cells]
    )  # n_u x K
    nd = cnt[tcode]
    nc = cnt @ cm
    tidx = np.array([c.t for c in cells])
    bidx = np.array([c.b for c in cells])
    base_zero = np.array([c.base_zero for c in cells])
    n_tr = np.where(base_zero, 0, nd).astype(np.int64)
    n_co = np.where(base_zero, 0, nc).astype(np.int64)
    att = np.full(k, np.nan)
    att[base_zero] = 0.0
    na_notes: list[str] = []
    has_x = design.x is not None or design.x_static is not None

    def label(j: int) -> str:
        return f"ATT({int(cells[j].g)},{int(times[tidx[j]])})"

    # Cells that cannot be estimated whatever the covariates.
    est = ~base_zero
    for j in np.flatnonzero(est & ((nd == 0) | (nc == 0))):
        na_notes.append(f"{label(j)}: no treated or no comparison units; reported as NA")
        est[j] = False

    if moments and (has_x or design.w is not None):  # pragma: no cover - guarded by the caller
        raise ValueError("the moment path needs an unweighted design without covariates")
    if not has_x:
        # Closed form: dr = ipw = reg without covariates (DRDID with an intercept only).
        wt = design.w
        if wt is not None:  # sampling weights: weighted cohort totals replace the counts
            cw = np.bincount(codes, weights=wt, minlength=n_u)
            nd, nc = cw[tcode], cw @ cm
        if est_method in ("dr", "ipw"):
            p = np.divide(nd, nd + nc, out=np.ones(k), where=(nd + nc) > 0)
            for j in np.flatnonzero(est & (p >= OVERLAP_MAX)):
                na_notes.append(f"{label(j)}: overlap condition violated; reported as NA")
                est[j] = False
            for j in np.flatnonzero(est & (np.minimum(p, 1 - 1e-6) >= TRIM_LEVEL)):
                na_notes.append(
                    f"{label(j)}: every comparison unit trimmed (propensity score >= "
                    f"{TRIM_LEVEL}); reported as NA"
                )
                est[j] = False
        if moments:
            return _estimate_cells_moments(
                design,
                codes,
                n_u,
                cnt,
                tcode,
                cm,
                nd,
                nc,
                tidx,
                bidx,
                est,
                att,
                n_tr,
                n_co,
                na_notes,
            )
        dy = design.y[:, tidx] - design.y[:, bidx]  # n x K (zero for base cells)
        sums = _cohort_sums(dy if wt is None else wt[:, None] * dy, codes, n_u)
        coef, cent = _closed_form_coefficients(n, sums, tcode, cm, nd, nc, est, att)
        psi = coef[codes] * dy
        psi -= (coef * cent)[codes]
        if wt is not None:
            psi *= wt[:, None]
        return _CellResults(att=att, psi=psi, n_treated=n_tr, n_control=n_co, na_notes=na_notes)

    # Covariates: DRDID estimators cell by cell on the n1 units used.
    dy = design.y[:, tidx] - design.y[:, bidx]  # n x K (zero for base cells)
    psi = np.zeros((n, k), order="F")
    ps_cache: dict[tuple, tuple[np.ndarray, bool]] = {}
    for j in np.flatnonzero(est):
        cell = cells[j]
        dmask = codes == tcode[j]
        use = dmask | cm[codes, j]
        n1 = int(nd[j] + nc[j])
        xper = min(cell.t, cell.b)
        xs = design.covariates_at(xper)[use]
        d = dmask[use].astype(np.float64)
        dyj = dy[use, j]
        wj = None if design.w is None else design.w[use]
        ps = None
        if est_method in ("dr", "ipw"):
            thr = None if control == "never" else max(cell.t, cell.b)
            key = (cell.g, thr, -1 if design.x_static is not None else xper)
            if key not in ps_cache:
                ps_cache[key] = _logit(d, xs, w=wj)
            ps, _conv = ps_cache[key]
            if np.max(ps) >= OVERLAP_MAX:
                na_notes.append(f"{label(j)}: overlap condition violated; reported as NA")
                continue
        if est_method in ("dr", "reg"):
            xc = xs[d == 0]
            if xc.shape[0] < xc.shape[1] or _rcond(xc.T @ xc) < _EPS:
                na_notes.append(
                    f"{label(j)}: not enough comparison units to run the outcome regression; "
                    "reported as NA"
                )
                continue
        try:
            a, inf = _two_by_two_cov(dyj, d, xs, est_method, ps, wj)
        except np.linalg.LinAlgError:
            na_notes.append(f"{label(j)}: singular design in the 2x2 estimator; reported as NA")
            continue
        if not np.isfinite(a):
            na_notes.append(f"{label(j)}: estimate not finite; reported as NA")
            continue
        att[j] = a
        psi[use, j] = (n / n1) * inf
    return _CellResults(att=att, psi=psi, n_treated=n_tr, n_control=n_co, na_notes=na_notes)


def _closed_form_coefficients(
    n: int,
    sums: np.ndarray,
    tcode: np.ndarray,
    cm: np.ndarray,
    nd: np.ndarray,
    nc: np.ndarray,
    est: np.ndarray,
    att: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    r"""ATT(g,t) and influence-function coefficients of the no-covariate closed form.

    With cohort sums :math:`S_{uk}` of (weighted) :math:`\Delta Y`, treated and
    comparison totals :math:`n_D, n_C` (counts, or sums of weights), the
    treated mean :math:`m_{Dk} = S_{u_k k}/n_D` and the comparison mean
    :math:`m_{Ck} = \sum_{u \in C_k} S_{uk}/n_C`, so
    :math:`\widehat{ATT}_k = m_{Dk} - m_{Ck}` and
    :math:`\psi_{ik} = c_{u_i k}(\Delta Y_{ik} - m_{u_i k})` with the
    coefficient :math:`c = n/n_D` (treated cohort), :math:`-n/n_C` (comparison
    cohorts) or 0, and the centre :math:`m` the matching mean. Shared by the
    dense path (which forms :math:`\Psi`) and the moment path (which forms only
    its Gram matrix), so both give the same ATT(g,t) bit for bit.

    Parameters
    ----------
    n
        Number of units.
    sums
        ``n_u x K`` cohort sums of :math:`\Delta Y` (times the weights, if any).
    tcode
        Cohort code of each cell's treated cohort (``K``).
    cm
        ``n_u x K`` boolean: cohort ``u`` is in cell ``k``'s comparison group.
    nd, nc
        Treated and comparison totals per cell (``K``).
    est
        ``K`` boolean: the cell is estimated (the others keep their ``att``).
    att
        ``K`` ATT(g,t), filled in place for the estimated cells.

    Returns
    -------
    coef, cent
        ``n_u x K`` coefficients :math:`c` and centres :math:`m`.
    """
    n_u, k = cm.shape
    cols = np.arange(k)
    with np.errstate(invalid="ignore", divide="ignore"):
        m_t = sums[tcode, cols] / nd
        m_c = (sums * cm).sum(axis=0) / nc
    coef = np.zeros((n_u, k))
    cent = np.zeros((n_u, k))
    ctrl = cm & est[None, :]
    coef[ctrl] = np.broadcast_to(-(n / np.where(nc > 0, nc, 1.0)), (n_u, k))[ctrl]
    cent[ctrl] = np.broadcast_to(m_c, (n_u, k))[ctrl]
    e = np.flatnonzero(est)
    coef[tcode[e], e] = n / nd[e]
    cent[tcode[e], e] = m_t[e]
    att[e] = m_t[e] - m_c[e]
    return coef, cent


def _cohort_sums(a: np.ndarray, codes: np.ndarray, n_u: int) -> np.ndarray:
    """Column sums of ``a`` (n x K) within cohort codes -> (n_u x K)."""
    out = np.empty((n_u, a.shape[1]))
    for u in range(n_u):
        out[u] = a[codes == u].sum(axis=0)
    return out


# --------------------------------------------------------------------------- moment path
#: Rows per block when accumulating cohort moments (bounded working memory).
MOMENT_BLOCK = 4096


def _delta_matrix(n_t: int, tidx: np.ndarray, bidx: np.ndarray) -> np.ndarray:
    """``D`` (T x K): +1 at each cell's current period, -1 at its base period."""
    k = tidx.size
    cols = np.arange(k)
    dmat = np.zeros((n_t, k))
    dmat[tidx, cols] += 1.0
    dmat[bidx, cols] -= 1.0  # base cells (t = b) get a zero column
    return dmat


def _cohort_sums_dy(
    y: np.ndarray, tidx: np.ndarray, bidx: np.ndarray, codes: np.ndarray, n_u: int
) -> np.ndarray:
    """:func:`_cohort_sums` of ``Delta Y = y[:, tidx] - y[:, bidx]`` without forming it:
    Delta Y of :data:`MOMENT_BLOCK` rows at a time, summed in row order with the
    running sum carried as the first row, so the sums (and hence every ATT(g,t))
    are bit for bit those of the dense path (numpy reduces axis 0 row by row)."""
    out = np.zeros((n_u, tidx.size))
    for u in range(n_u):
        idx = np.flatnonzero(codes == u)
        acc = None
        for lo in range(0, idx.size, MOMENT_BLOCK):
            yb = y[idx[lo : lo + MOMENT_BLOCK]]
            # C order, as dy[codes == u] on the dense path: numpy then reduces axis 0
            # row by row (an F-ordered block would be summed pairwise instead)
            dyb = np.ascontiguousarray(yb[:, tidx] - yb[:, bidx])
            acc = dyb.sum(axis=0) if acc is None else np.vstack([acc, dyb]).sum(axis=0)
        if acc is not None:
            out[u] = acc
    return out


def _cohort_moments(
    y: np.ndarray, codes: np.ndarray, n_u: int, gram: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-cohort means ``M`` (n_u x T) and centred Gram matrices ``C`` (n_u x T x T)
    of the rows of ``y`` (n x T), in blocks of :data:`MOMENT_BLOCK` rows.

    Blocks are combined by the pairwise update of Chan, Golub and LeVeque (1983),
    ``C = C_a + C_b + n_a n_b / (n_a + n_b) (m_a - m_b)(m_a - m_b)'``, so no
    uncentred second moment (and no cancellation) ever appears.
    """
    n_t = y.shape[1]
    mean = np.zeros((n_u, n_t))
    out = np.zeros((n_u, n_t, n_t)) if gram else None
    for u in range(n_u):
        idx = np.flatnonzero(codes == u)
        n_a = 0
        m_a = np.zeros(n_t)
        c_a = np.zeros((n_t, n_t))
        for lo in range(0, idx.size, MOMENT_BLOCK):
            yb = y[idx[lo : lo + MOMENT_BLOCK]]
            n_b = yb.shape[0]
            m_b = yb.mean(axis=0)
            if gram:
                yb -= m_b
                c_b = yb.T @ yb
            else:
                c_b = c_a
            if n_a == 0:
                m_a, c_a = m_b, c_b
            else:
                d = m_b - m_a
                tot = n_a + n_b
                if gram:
                    c_a = c_a + c_b + (n_a * n_b / tot) * np.outer(d, d)
                m_a = m_a + d * (n_b / tot)
            n_a += n_b
        mean[u] = m_a
        if out is not None:
            out[u] = c_a
    return mean, out


def _estimate_cells_moments(
    design: _Design,
    codes: np.ndarray,
    n_u: int,
    cnt: np.ndarray,
    tcode: np.ndarray,
    cm: np.ndarray,
    nd: np.ndarray,
    nc: np.ndarray,
    tidx: np.ndarray,
    bidx: np.ndarray,
    est: np.ndarray,
    att: np.ndarray,
    n_tr: np.ndarray,
    n_co: np.ndarray,
    na_notes: list[str],
) -> _CellResults:
    r"""The no-covariate closed form from cohort moments of Y, without Psi.

    With :math:`\Delta Y_i = D'Y_i` (``D``: T x K, +1 at the current and -1 at
    the base period of each cell) and cohort codes :math:`u_i`, the influence
    function is :math:`\psi_{ik} = c_{u_i k}(\Delta Y_{ik} - m_{u_i k})` with
    coefficients :math:`c` (:math:`n/n_D`, :math:`-n/n_C` or 0) and centres
    :math:`m` (treated or comparison mean) constant within cohorts. Hence, with
    cohort means :math:`M_u`, centred Gram matrices :math:`C_u` and
    :math:`a_u = D'M_u - m_u`,

    .. math::

        \sum_{i: u_i = u} \psi_i\psi_i' = (c_u c_u') \odot
            (D'C_uD + n_u a_u a_u'), \qquad
        \sum_{i: u_i = u} \psi_i = n_u\, c_u \odot a_u,

    which give the Gram matrix of :math:`Z = [\Psi \mid H]` in
    :math:`O(nT^2)` operations and :math:`O(K^2)` memory (units as clusters;
    with a ``cluster`` column the dense path is used). The ATT(g,t) come from
    the same cohort sums of Delta Y as on the dense path (:func:`_cohort_sums_dy`),
    bit for bit; the Gram matrix equals the dense one to rounding
    (``tests/test_cs_fastpath.py``).
    """
    n = design.n
    k = tidx.size
    y = design.y
    dmat = _delta_matrix(y.shape[1], tidx, bidx)
    mean, cgram = _cohort_moments(y, codes, n_u)
    sums = _cohort_sums_dy(y, tidx, bidx, codes, n_u)
    coef, cent = _closed_form_coefficients(n, sums, tcode, cm, nd, nc, est, att)
    mdy = mean @ dmat  # n_u x K: cohort means of Delta Y (for the centred moments)
    a = np.where(coef != 0, mdy - cent, 0.0)

    glist = design.glist
    ucoh = np.unique(design.g)
    gi = np.searchsorted(ucoh, glist)
    n_g = glist.size
    gram = np.zeros((k + n_g, k + n_g))
    if design.clusters is not None:  # pragma: no cover - guarded by the caller
        raise ValueError("the moment path is for unit-level clusters only")
    for u in range(n_u):
        cu = coef[u]
        if not cu.any():
            continue
        inner = dmat.T @ cgram[u] @ dmat + cnt[u] * np.outer(a[u], a[u])
        gram[:k, :k] += np.outer(cu, cu) * inner
    s_u = (cnt[:, None] * coef) * a  # n_u x K: cohort sums of psi
    gram[:k, k:] = s_u[gi].T
    gram[k:, :k] = s_u[gi]
    gram[k:, k:] = np.diag(cnt[gi])
    return _CellResults(
        att=att, psi=None, n_treated=n_tr, n_control=n_co, na_notes=na_notes, gram=gram
    )
