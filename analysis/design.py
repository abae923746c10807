r"""The one fixed-effects / design core of the package.

Every estimator, the cluster-robust variance (:mod:`analysis.inference.crve`),
randomisation inference and power simulation absorb fixed effects, apply the
CR1 small-sample factor and test joint hypotheses with the functions of this
module, so that each of these is written once:

* **absorption** -- :func:`within` (exact one-way within transformation by a
  factor), :func:`demean_two_way` (the exact two-way within transformation of
  balanced ``unit x period`` arrays, used by the closed forms of RI and power),
  and :func:`fit_absorbed` (least squares with unit effects absorbed exactly and
  further dummies carried as a sparse block: the sparse path of every
  regression estimator);
* **small-sample correction** -- :class:`SSC` and :func:`ssc_factor`, with the
  conventions named: ``"fixest"`` (alias ``"stata"``: fixest's default CR1,
  Stata ``reghdfe``/``regress, vce(cluster)``), ``"linearmodels"``
  (``PanelOLS(...).fit(cov_type="clustered")``) and ``"none"`` (CR0);
* **Wald tests** -- :func:`wald_test`, one policy for every pre-trend or joint
  test (R ``did``'s): a singular covariance gives ``NaN`` with a note and a
  warning that says why, never a pseudo-inverse;
* **weights and SE types** -- :func:`fit_absorbed` and :func:`within` take
  analytic weights (weighted least squares, weighted within transformation);
  :func:`absorbed_vcov` gives the ``iid``, ``hc1`` and ``cr1`` covariances of an
  absorbed fit (``cr2`` is :func:`analysis.inference.crve.ols_cluster`).

This module sits below both :mod:`analysis.estimators` and
:mod:`analysis.inference` (it imports neither).

Absorbed least squares
----------------------
Every regression-type estimator in this package (:mod:`.event`, :mod:`.sa`,
:mod:`.bjs`, :mod:`.gardner`, and the cross-checks of :mod:`.twfe`) fits models
of the form

.. math::

    y_{it} = \\alpha_i + z_{it}'\\theta + \\varepsilon_{it},
    \\qquad z_{it} = (\\text{time dummies}, \\text{event/cohort dummies}, x_{it}),

on a panel with many units :math:`N` and few columns :math:`p` (time dummies plus
a handful of regressors). The unit effects are *absorbed exactly* with the
Frisch-Waugh-Lovell theorem, and the remaining normal equations are the
:math:`p \\times p` Schur complement

.. math::

    H = Z'M_D Z = Z'Z - (D'Z)'(D'D)^{-1}(D'Z), \\qquad H\\hat\\theta = Z'M_D y,

where :math:`D` is the (never materialised) unit-dummy matrix and :math:`D'D`
is the diagonal of unit counts. The dummy columns of :math:`Z` are stored as a
``scipy.sparse`` matrix (at most a few non-zeros per row), dense covariates are
demeaned within unit directly. Cost is :math:`O(np + Np^2 + p^3)` time and
:math:`O(n + Np)` memory — no alternating projections, no iteration, exact for
balanced and unbalanced panels alike (also on subsamples such as the untreated
observations used by the imputation estimators).

Collinear columns (e.g. a time period without any observation in the subsample,
or relative-time dummies that are not separately identified) are detected by an
incremental Cholesky factorisation of :math:`H` in column order and dropped;
their coefficients are reported as ``NaN``.

Clustered sandwich
------------------
With clusters that nest units (enforced by :func:`~analysis.estimators._panel.prepare_panel`)
the per-cluster scores of the absorbed model are :math:`s_c = \\sum_{it \\in c} z_{it}\\hat e_{it}`
(the unit-demeaning term drops out because residuals sum to zero within each
unit), so the meat is built from the sparse :math:`Z` as well.

Small-sample factor of CR1
--------------------------
``"fixest"`` (alias ``"stata"``, default)
    :math:`c = \frac{G}{G-1}\frac{n-1}{n-K}` with :math:`K = k + K_{FE}`, where
    fixed effects nested in the clusters are not counted (fixest
    ``ssc(adj=TRUE, fixef.K="nested", cluster.adj=TRUE)``; Stata ``reghdfe``):
    :math:`K_{FE} = \sum_f L_f - (m - 1) - \sum_{f\ \mathrm{nested}} L_f + m_{\mathrm{nested}}`
    for :math:`m` factors with :math:`L_f` levels. With unit effects nested in
    the clusters and :math:`T` periods this is :math:`K = k + T`.
``"linearmodels"``
    ``PanelOLS(...).fit(cov_type="clustered")`` with its defaults
    (``debiased=True``, ``group_debias=False``, ``auto_df=True``):
    :math:`c = \frac{n}{n - k - d}`, no :math:`G/(G-1)`; :math:`d = 0` with
    exactly one nested factor of effects, otherwise :math:`d = \sum_f L_f - (m-1)`
    (two-way effects: :math:`d = N + T - 1`).
``"none"``
    :math:`c = 1` (CR0).

Wald-test policy
----------------
:math:`W = \hat\theta'\hat V^{-1}\hat\theta \sim \chi^2_q`. As R ``did``'s
``att_gt`` pre-test: when the reciprocal 1-norm condition number of
:math:`\hat V` is at or below machine epsilon (or an entry is not finite) the
test is not computed -- statistic and p-value are ``NaN`` and the note says
why. Coefficients that are not identified (``NaN``) are left out by the
callers before testing, as fixest does.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy import special  # not scipy.stats: a slow import for one function

from analysis.errors import InputError

#: Named small-sample conventions (see "Small-sample factor of CR1").
SSC_PRESETS: tuple[str, ...] = ("fixest", "stata", "linearmodels", "none")
SSCName = Literal["fixest", "stata", "linearmodels", "none"]

#: Standard-error types of the regression estimators (TWFE, event study); see
#: :func:`absorbed_vcov`. ``"cr1"`` is the default everywhere.
SEType = Literal["iid", "hc1", "cr1", "cr2"]


# --------------------------------------------------------------------------- absorption
def indicator_matrix(codes: np.ndarray, n_cols: int) -> sp.csr_matrix:
    """Sparse one-hot matrix (n x n_cols); rows with a negative code are all zero."""
    codes = np.asarray(codes, dtype=np.int64)
    rows = np.flatnonzero(codes >= 0)
    return sp.csr_matrix((np.ones(rows.size), (rows, codes[rows])), shape=(codes.size, n_cols))


def level_codes(values: np.ndarray, levels: Sequence[int]) -> np.ndarray:
    """Position of each value in ``levels`` (-1 if absent or NaN), vectorised."""
    values = np.asarray(values, dtype=float)
    lv = np.asarray(list(levels), dtype=float)
    if lv.size == 0:
        return np.full(values.size, -1, dtype=np.int64)
    order = np.argsort(lv)
    srt = lv[order]
    safe = np.where(np.isfinite(values), values, srt[0] - 1)
    pos = np.clip(np.searchsorted(srt, safe), 0, srt.size - 1)
    hit = np.isfinite(values) & (srt[pos] == safe)
    return np.where(hit, order[pos], -1).astype(np.int64)


def time_dummies(tid: np.ndarray, n_times: int, ref: int = 0) -> sp.csr_matrix:
    """Time dummies with column ``ref`` omitted (the unit effects carry the level)."""
    codes = np.asarray(tid, dtype=np.int64).copy()
    codes[codes == ref] = -1
    codes[codes > ref] -= 1
    return indicator_matrix(codes, n_times - 1)


def group_sums(codes: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray:
    """Column sums of ``values`` (n or n x k) by integer ``codes`` -> (n_groups[, k])."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=n_groups)
    out = np.empty((n_groups, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(codes, weights=values[:, j], minlength=n_groups)
    return out


def sparse_group_sums(codes: np.ndarray, n_groups: int, S: sp.spmatrix) -> np.ndarray:
    """``C'S`` (dense ``n_groups x p``) for the group-incidence matrix C of ``codes``.

    Computed with one ``bincount`` over the non-zeros of ``S`` (no sparse product).
    """
    coo = sp.coo_matrix(S)
    p = coo.shape[1]
    codes = np.asarray(codes, dtype=np.int64)
    g = codes[coo.row]
    ok = g >= 0
    flat = np.bincount(g[ok] * p + coo.col[ok], weights=coo.data[ok], minlength=n_groups * p)
    return flat.reshape(n_groups, p)


def group_mean(A: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Means of ``A`` (n or n x k) by integer ``codes`` -> (n_groups[, k])."""
    cnt = np.bincount(codes, minlength=n_groups).astype(np.float64)
    if A.ndim == 1:
        return np.bincount(codes, weights=A, minlength=n_groups) / cnt
    out = np.empty((n_groups, A.shape[1]))
    for j in range(A.shape[1]):
        out[:, j] = np.bincount(codes, weights=A[:, j], minlength=n_groups)
    return out / cnt[:, None]


def within(
    A: np.ndarray, codes: np.ndarray | None, n_groups: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Exact one-way within transformation: ``A`` minus its group means (a copy).

    With ``weights`` the group means are weighted means (the within
    transformation of weighted least squares).
    """
    if codes is None:
        return A.copy()
    if weights is None:
        return A - group_mean(A, codes, n_groups)[codes]
    w = np.asarray(weights, dtype=float)
    tot = np.bincount(codes, weights=w, minlength=n_groups)
    inv = np.divide(1.0, tot, out=np.zeros(n_groups), where=tot > 0)
    if A.ndim == 1:
        return A - (np.bincount(codes, weights=w * A, minlength=n_groups) * inv)[codes]
    m = group_sums(codes, n_groups, A * w[:, None]) * inv[:, None]
    return A - m[codes]


def demean_two_way(y: np.ndarray) -> np.ndarray:
    r"""Exact two-way within transformation of balanced arrays (units x periods last).

    :math:`\ddot y_{it} = y_{it} - \bar y_{i\cdot} - \bar y_{\cdot t} + \bar y`
    over the last two axes (any leading axes are stacks of panels). On a
    balanced panel this equals the residual of :func:`fit_absorbed` on unit and
    period effects (Frisch-Waugh-Lovell), without any factorisation.
    """
    return (
        y
        - y.mean(axis=-1, keepdims=True)
        - y.mean(axis=-2, keepdims=True)
        + y.mean(axis=(-2, -1), keepdims=True)
    )


#: Units per block in :func:`twfe_balanced` (bounded working memory).
TWFE_BLOCK = 8192


def twfe_balanced(
    y: np.ndarray, d: np.ndarray, cl: np.ndarray, n_cl: int, tol: float = 1e-9
) -> tuple[float, np.ndarray, float] | None:
    r"""OLS coefficient of ``d`` in :math:`y_{it} = \alpha_i + \lambda_t + \beta d_{it} + e_{it}`
    on a balanced panel (``y``, ``d``: units x periods) and its CR1 cluster scores.

    By Frisch-Waugh-Lovell, :math:`\hat\beta = \langle\ddot d, y\rangle /
    \langle\ddot d, \ddot d\rangle` with :math:`\ddot d` the two-way within
    transformation of ``d`` (:func:`demean_two_way`), and the coefficient's block of
    the clustered sandwich is :math:`\langle\ddot d,\ddot d\rangle^{-2}\sum_c
    (\sum_{it\in c}\ddot d_{it}\hat e_{it})^2` -- the same numbers as
    :func:`fit_absorbed` with time dummies and :func:`cluster_scores`, without the
    sparse design. :math:`\ddot d_{it} = d_{it} - \bar d_{i\cdot} - c_t` with
    :math:`c_t = \bar d_{\cdot t} - \bar d` needs only the period means, so it is
    formed in blocks of :data:`TWFE_BLOCK` units (no n x T float array); since the
    rows and columns of :math:`\ddot d` sum to zero, the unit score is
    :math:`\sum_t \ddot d_{it}(y_{it} - \bar y_{\cdot t}) - \hat\beta \sum_t
    \ddot d_{it}^2`.

    ``cl`` are the cluster codes of the units (clusters nest units). Returns
    ``(beta, scores, den)``, or ``None`` when ``d`` is absorbed by the effects
    (the relative criterion of :func:`_select_columns`: the squared norm of
    :math:`\ddot d` at most ``tol`` times that of ``d`` demeaned within units).
    """
    n, n_t = d.shape
    col = d.mean(axis=0, dtype=np.float64)  # period means of d
    c_t = col - col.mean()
    ybar_t = y.mean(axis=0)
    hjj = den = num = 0.0
    dd_sq = np.empty(n)
    dd_y = np.empty(n)
    for lo in range(0, n, TWFE_BLOCK):
        blk = slice(lo, min(lo + TWFE_BLOCK, n))
        dd = np.asarray(d[blk], dtype=np.float64)
        dd -= dd.mean(axis=1, keepdims=True)
        hjj += float(np.einsum("ij,ij->", dd, dd))
        dd -= c_t
        dd_sq[blk] = np.einsum("ij,ij->i", dd, dd)
        yb = y[blk] - ybar_t
        dd_y[blk] = np.einsum("ij,ij->i", dd, yb)
    den = float(dd_sq.sum())
    num = float(dd_y.sum())
    if not (hjj > 0 and den > tol * hjj):
        return None
    beta = num / den
    unit_scores = dd_y - beta * dd_sq
    scores = np.bincount(cl, weights=unit_scores, minlength=n_cl)
    return beta, scores, den


# --------------------------------------------------------------------------- solver
def _select_columns(H: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Columns of the PSD matrix ``H`` kept by an incremental Cholesky in column order.

    Column ``j`` is kept when its squared distance to the span of the kept columns,
    relative to its own squared norm, exceeds ``tol``.
    """
    p = H.shape[0]
    keep: list[int] = []
    L = np.zeros((p, p))
    for j in range(p):
        hjj = H[j, j]
        if not hjj > 0:
            continue
        k = len(keep)
        if k:
            z = np.linalg.solve(L[:k, :k], H[keep, j]) if k else np.empty(0)
            d = hjj - z @ z
        else:
            z = np.empty(0)
            d = hjj
        if d > tol * hjj:
            L[k, :k] = z
            L[k, k] = np.sqrt(d)
            keep.append(j)
    mask = np.zeros(p, dtype=bool)
    mask[keep] = True
    return mask


@dataclass(frozen=True)
class AbsorbedFit:
    """Least squares with unit effects absorbed (see module docstring).

    Attributes
    ----------
    coef
        Coefficients on the columns of ``[S, X]`` (``NaN`` where dropped as collinear).
    keep
        Boolean mask of identified columns.
    bread
        Inverse of :math:`H` restricted to the kept columns (``k x k``).
    alpha
        Unit effects :math:`\\hat\\alpha_i` (``NaN`` for units absent from the sample).
    resid
        Residuals in the estimation sample.
    unit_counts
        Observations per unit in the sample.
    unit_sums_S, unit_sums_X
        :math:`D'S` (sparse) and :math:`D'X` (dense), kept for solving further
        normal equations with the same design (imputation / GMM corrections).
    H
        The full :math:`p \\times p` Schur complement (before dropping columns).
    """

    coef: np.ndarray
    keep: np.ndarray
    bread: np.ndarray
    alpha: np.ndarray
    resid: np.ndarray
    unit_counts: np.ndarray
    unit_sums_S: np.ndarray
    unit_sums_X: np.ndarray
    H: np.ndarray
    n_obs: int
    n_units_in_sample: int
    weights: np.ndarray | None = None

    @property
    def coef_kept(self) -> np.ndarray:
        return self.coef[self.keep]

    @property
    def score_resid(self) -> np.ndarray:
        """Residuals as they enter the scores: :math:`\\omega_{it}\\hat e_{it}` (WLS) or :math:`\\hat e_{it}`."""
        return self.resid if self.weights is None else self.weights * self.resid

    def predict(self, uid: np.ndarray, S: sp.spmatrix | None, X: np.ndarray | None) -> np.ndarray:
        """Fitted values :math:`\\hat\\alpha_i + z_{it}'\\hat\\theta` for any rows (NaN if unit absent)."""
        c = np.nan_to_num(self.coef, nan=0.0)
        ps = 0 if S is None else S.shape[1]
        out = self.alpha[uid].copy()
        if S is not None and ps:
            out += S @ c[:ps]
        if X is not None and X.shape[1]:
            out += X @ c[ps:]
        return out

    def solve_normal(
        self, r_unit: np.ndarray, r_theta: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Solve the full normal equations :math:`(Z_0'Z_0)\\,(a, \\theta) = (r_u, r_\\theta)`.

        :math:`Z_0 = [D, S, X]` is the design of this fit (unit dummies included).
        Solved blockwise through the Schur complement; ``r_unit`` is ``N x m``,
        ``r_theta`` is ``p x m``. Columns dropped as collinear get ``theta = 0``
        (any generalised inverse gives the same fitted values on the sample's
        column space). Units absent from the sample get ``a = NaN``.
        """
        r_unit = np.atleast_2d(np.asarray(r_unit, dtype=float).T).T
        r_theta = np.atleast_2d(np.asarray(r_theta, dtype=float).T).T
        n = self.unit_counts
        inv = np.divide(1.0, n, out=np.zeros_like(n, dtype=float), where=n > 0)
        ru = r_unit * inv[:, None]
        B = self._unit_block()  # N x p: D'Z
        rhs = r_theta - _dense(B.T @ ru)
        theta = np.zeros_like(r_theta)
        theta[self.keep] = self.bread @ rhs[self.keep]
        a = ru - _dense(B @ theta) * inv[:, None]
        a[n == 0] = np.nan
        return a, theta

    def _unit_block(self) -> np.ndarray:
        if self.unit_sums_X.shape[1]:
            return np.hstack([self.unit_sums_S, self.unit_sums_X])
        return self.unit_sums_S


def _dense(a) -> np.ndarray:
    return a.toarray() if sp.issparse(a) else np.asarray(a)


def _absorbed_inputs(y, uid, S, X) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray]:
    """The inputs of :func:`fit_absorbed` as arrays: float ``y``, int64 ``uid``,
    CSR ``S`` and 2-D float ``X`` (empty blocks with ``n`` rows for ``None``)."""
    y = np.asarray(y, dtype=float)
    uid = np.asarray(uid, dtype=np.int64)
    nobs = y.size
    S = sp.csr_matrix((nobs, 0)) if S is None else sp.csr_matrix(S)
    X = np.zeros((nobs, 0)) if X is None else np.asarray(X, dtype=float).reshape(nobs, -1)
    return y, uid, S, X


def _solve_absorbed(
    H_SS: np.ndarray,
    H_SX: np.ndarray,
    H_XX: np.ndarray,
    b: np.ndarray,
    S: sp.csr_matrix,
    X: np.ndarray,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Solve the within normal equations :math:`H\gamma = b` of an absorbed fit.

    :math:`H = \begin{pmatrix} H_{SS} & H_{SX} \\ H_{SX}' & H_{XX}\end{pmatrix}`
    (symmetrised) is the Gram matrix of ``[S, X]`` net of the unit effects
    (weighted or not: the caller forms the blocks and :math:`b`). Columns are
    kept by :func:`_select_columns`; the bread is :math:`H_{kk}^{-1}`
    (symmetrised), the dropped coefficients are ``NaN``.

    Returns
    -------
    tuple
        ``(H, keep, bread, coef, fitted_z)`` with ``fitted_z`` :math:`= [S, X]\hat\gamma`
        (dropped columns counted as zero).
    """
    H = np.block([[H_SS, H_SX], [H_SX.T, H_XX]])
    H = (H + H.T) / 2
    keep = _select_columns(H, tol)
    Hk = H[np.ix_(keep, keep)]
    bread = np.linalg.inv(Hk) if keep.any() else np.zeros((0, 0))
    bread = (bread + bread.T) / 2
    coef = np.full(H.shape[0], np.nan)
    coef[keep] = bread @ b[keep]
    c0 = np.nan_to_num(coef, nan=0.0)
    ps = S.shape[1]
    nobs = S.shape[0]
    fitted_z = (S @ c0[:ps] if ps else np.zeros(nobs)) + (X @ c0[ps:] if X.shape[1] else 0.0)
    return H, keep, bread, coef, fitted_z


def fit_absorbed(
    y: np.ndarray,
    uid: np.ndarray,
    n_units: int,
    S: sp.spmatrix | None = None,
    X: np.ndarray | None = None,
    tol: float = 1e-9,
    weights: np.ndarray | None = None,
) -> AbsorbedFit:
    """OLS (or WLS) of ``y`` on unit effects (absorbed), sparse dummies ``S`` and dense ``X``.

    Parameters
    ----------
    y
        Outcome, length n.
    uid
        Unit codes ``0..n_units-1`` of the rows (units may be absent).
    S
        Sparse dummy block (n x p_s), e.g. time dummies and event-time dummies.
    X
        Dense covariate block (n x p_x).
    weights
        Optional analytic weights :math:`\\omega_{it} > 0` (fixest ``weights=``,
        Stata ``[aweight]``): weighted least squares. Everything above holds with
        weighted sums -- :math:`D'\\Omega D` is the diagonal of the unit weight
        totals, :math:`H = Z'\\Omega Z - (D'\\Omega Z)'(D'\\Omega D)^{-1}(D'\\Omega Z)`
        and the unit means are weighted means; the scores are
        :math:`z_{it}\\omega_{it}\\hat e_{it}` (:attr:`AbsorbedFit.score_resid`).
        ``unit_counts`` then holds the unit weight totals. ``None`` is the
        unweighted fit, computed exactly as before.
    """
    if weights is not None:
        return _fit_absorbed_weighted(y, uid, n_units, S, X, tol, np.asarray(weights, float))
    y, uid, S, X = _absorbed_inputs(y, uid, S, X)
    nobs = y.size
    counts = np.bincount(uid, minlength=n_units).astype(float)
    inv = np.divide(1.0, counts, out=np.zeros(n_units), where=counts > 0)

    ybar = np.bincount(uid, weights=y, minlength=n_units) * inv
    yt = y - ybar[uid]
    Ssum = sparse_group_sums(uid, n_units, S)
    Xsum = group_sums(uid, n_units, X) if X.shape[1] else np.zeros((n_units, 0))
    Xt = X - (Xsum * inv[:, None])[uid] if X.shape[1] else X

    H_SS = _dense(S.T @ S) - (Ssum * inv[:, None]).T @ Ssum
    H_SX = _dense(S.T @ Xt)
    H_XX = Xt.T @ Xt
    b = np.concatenate([_dense(S.T @ yt).ravel(), Xt.T @ yt])
    H, keep, bread, coef, fitted_z = _solve_absorbed(H_SS, H_SX, H_XX, b, S, X, tol)
    alpha = (np.bincount(uid, weights=y - fitted_z, minlength=n_units)) * inv
    alpha[counts == 0] = np.nan
    resid = y - alpha[uid] - fitted_z
    return AbsorbedFit(
        coef=coef,
        keep=keep,
        bread=bread,
        alpha=alpha,
        resid=resid,
        unit_counts=counts,
        unit_sums_S=Ssum,
        unit_sums_X=Xsum,
        H=H,
        n_obs=nobs,
        n_units_in_sample=int((counts > 0).sum()),
    )


def _fit_absorbed_weighted(y, uid, n_units, S, X, tol, w) -> AbsorbedFit:
    """:func:`fit_absorbed` with analytic weights ``w`` (weighted least squares)."""
    y, uid, S, X = _absorbed_inputs(y, uid, S, X)
    wsum = np.bincount(uid, weights=w, minlength=n_units).astype(float)
    inv = np.divide(1.0, wsum, out=np.zeros(n_units), where=wsum > 0)
    ybar = np.bincount(uid, weights=w * y, minlength=n_units) * inv
    yt = y - ybar[uid]
    Sw = S.multiply(w[:, None]).tocsr()
    Ssum = sparse_group_sums(uid, n_units, Sw)
    Xsum = group_sums(uid, n_units, X * w[:, None]) if X.shape[1] else np.zeros((n_units, 0))
    Xt = X - (Xsum * inv[:, None])[uid] if X.shape[1] else X
    Xtw = Xt * w[:, None]
    H_SS = _dense(Sw.T @ S) - (Ssum * inv[:, None]).T @ Ssum
    H_SX = _dense(Sw.T @ Xt)
    H_XX = Xtw.T @ Xt
    b = np.concatenate([_dense(Sw.T @ yt).ravel(), Xtw.T @ yt])
    H, keep, bread, coef, fitted_z = _solve_absorbed(H_SS, H_SX, H_XX, b, S, X, tol)
    alpha = np.bincount(uid, weights=w * (y - fitted_z), minlength=n_units) * inv
    alpha[wsum == 0] = np.nan
    return AbsorbedFit(
        coef=coef,
        keep=keep,
        bread=bread,
        alpha=alpha,
        resid=y - alpha[uid] - fitted_z,
        unit_counts=wsum,
        unit_sums_S=Ssum,
        unit_sums_X=Xsum,
        H=H,
        n_obs=y.size,
        n_units_in_sample=int((wsum > 0).sum()),
        weights=w,
    )


# --------------------------------------------------------------------------- variance
def cluster_scores(
    cl: np.ndarray, n_cl: int, S: sp.spmatrix | None, X: np.ndarray | None, e: np.ndarray
) -> np.ndarray:
    """Per-cluster score sums :math:`\\sum_{it\\in c} z_{it} e_{it}` -> (G x p)."""
    parts = []
    if S is not None and S.shape[1]:
        Se = sp.csr_matrix(S).multiply(e[:, None]).tocsr()
        parts.append(sparse_group_sums(cl, n_cl, Se))
    if X is not None and X.shape[1]:
        parts.append(group_sums(cl, n_cl, X * e[:, None]))
    return np.hstack(parts) if parts else np.zeros((n_cl, 0))


def sandwich(bread: np.ndarray, scores: np.ndarray, factor: float = 1.0) -> np.ndarray:
    meat = scores.T @ scores
    V = factor * bread @ meat @ bread
    return (V + V.T) / 2


@dataclass(frozen=True)
class SSC:
    """Small-sample correction of CR1, in fixest's vocabulary.

    Parameters
    ----------
    adj
        Multiply by :math:`(n-1)/(n-K)`.
    fixef_k
        How fixed-effect parameters enter :math:`K`: ``"nested"`` (those nested
        in the clusters are not counted, each fully nested factor counts one),
        ``"full"`` (all counted) or ``"none"``.
    cluster_adj
        Multiply by :math:`G/(G-1)`.
    convention
        ``"fixest"`` uses the three fields above; ``"linearmodels"`` ignores them
        and reproduces ``PanelOLS`` (see the module docstring).
    """

    adj: bool = True
    fixef_k: Literal["nested", "full", "none"] = "nested"
    cluster_adj: bool = True
    convention: Literal["fixest", "linearmodels"] = "fixest"

    @classmethod
    def preset(cls, name: str | SSC) -> SSC:
        if isinstance(name, SSC):
            if name.fixef_k not in ("nested", "full", "none"):
                raise InputError(
                    f"SSC.fixef_k must be 'nested', 'full' or 'none' (got {name.fixef_k!r})"
                )
            if name.convention not in ("fixest", "linearmodels"):
                raise InputError(
                    f"SSC.convention must be 'fixest' or 'linearmodels' (got {name.convention!r})"
                )
            return name
        if name in ("fixest", "stata"):
            return cls()
        if name == "linearmodels":
            return cls(convention="linearmodels")
        if name == "none":
            return cls(adj=False, fixef_k="none", cluster_adj=False)
        opts = ", ".join(repr(s) for s in SSC_PRESETS)
        raise InputError(f"ssc must be one of {opts} or an SSC instance (got {name!r})")

    @property
    def label(self) -> str:
        if self.convention == "linearmodels":
            return "linearmodels"
        if self == SSC():
            return "fixest"
        if self == SSC(adj=False, fixef_k="none", cluster_adj=False):
            return "none"
        return f"SSC(adj={self.adj}, fixef_k={self.fixef_k!r}, cluster_adj={self.cluster_adj})"


def ssc_factor(
    ssc: str | SSC,
    *,
    n: int,
    k: int,
    G: int,
    fe_levels: Sequence[int] = (),
    fe_nested: Sequence[bool] = (),
) -> float:
    r"""Scalar factor :math:`c` of CR1 (see the module docstring for the formulas).

    Parameters
    ----------
    ssc
        Preset name or :class:`SSC`.
    n, k, G
        Observations, coefficients of interest (slopes, incl. an intercept if
        present), clusters.
    fe_levels, fe_nested
        Number of levels :math:`L_f` of each fixed-effect factor and whether it
        is nested in the clusters.
    """
    s = SSC.preset(ssc)
    levels = [int(v) for v in fe_levels]
    nested = [bool(v) for v in fe_nested]
    m = len(levels)
    total_fe = sum(levels) - (m - 1) if m else 0
    if s.convention == "linearmodels":
        d = 0 if (m == 1 and nested[0]) else total_fe
        if n - k - d <= 0:
            raise InputError("no residual degrees of freedom for the linearmodels correction")
        return n / (n - k - d)
    if s.fixef_k == "none":
        kfe = 0
    elif s.fixef_k == "full":
        kfe = total_fe
    else:
        kfe = total_fe - sum(L for L, ne in zip(levels, nested, strict=True) if ne) + sum(nested)
    K = k + kfe
    if s.adj and n - K <= 0:
        raise InputError(f"no residual degrees of freedom: n = {n}, K = {K}")
    if s.cluster_adj and s.adj:
        return G / (G - 1) * (n - 1) / (n - K)
    if s.cluster_adj:
        return G / (G - 1)
    if s.adj:
        return (n - 1) / (n - K)
    return 1.0


def panel_ssc_factor(ssc: str, *, n: int, k: int, n_units: int, n_times: int, G: int) -> float:
    """:func:`ssc_factor` of a model with unit effects nested in the clusters and time effects.

    ``fixest``: :math:`K = k + T` (fixest ``ssc(adj=TRUE, fixef.K="nested",
    cluster.adj=TRUE)``, pyfixest's CRV1, Stata ``reghdfe``); ``linearmodels``:
    :math:`n / (n - k - (N + T - 1))`.
    """
    if ssc not in ("fixest", "linearmodels"):
        raise InputError(f"ssc must be 'fixest' or 'linearmodels', not {ssc!r}")
    return ssc_factor(ssc, n=n, k=k, G=G, fe_levels=(n_units, n_times), fe_nested=(True, False))


def absorbed_vcov(
    fit: AbsorbedFit,
    S: sp.spmatrix | None,
    X: np.ndarray | None,
    se: str,
    *,
    cl: np.ndarray,
    n_cl: int,
    ssc: str,
    k: int,
    n_units: int,
    n_times: int,
    uid: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    r"""Covariance of the kept coefficients of an absorbed (unit + time effects) fit.

    With bread :math:`B = H^{-1}` (:attr:`AbsorbedFit.bread`), scores
    :math:`s_{it} = z_{it}\omega_{it}\hat e_{it}` (:math:`\omega = 1` unweighted) and
    :math:`K = p + N` the number of all estimated parameters (the :math:`p` kept
    columns of ``[S, X]`` -- time dummies and regressors -- plus the :math:`N`
    unit effects):

    ``"iid"``
        :math:`\hat V = \hat\sigma^2 B`, :math:`\hat\sigma^2 = \sum\omega\hat e^2/(n-K)`
        (fixest ``vcov="iid"``, Stata ``reghdfe`` default, statsmodels WLS
        ``nonrobust`` with the dummies, linearmodels ``cov_type="unadjusted"``).
    ``"hc1"``
        :math:`\hat V = rac{n}{n-K} Big(\sum_{it} s_{it}s_{it}'ig)B` (fixest
        ``"hetero"``, Stata ``, robust``, statsmodels ``HC1`` with the dummies,
        linearmodels ``cov_type="robust"``).
    ``"cr1"``
        :math:`\hat V = c\,Big(\sum_g s_g s_g'ig)B` with the CR1 factor :math:`c`
        of :func:`panel_ssc_factor` for ``ssc`` (the package default, unchanged).

    ``uid`` (the unit codes of the rows) is required for ``"hc1"``. ``ssc``
    only applies to ``"cr1"``. CR2 needs the within-cluster hat
    matrices and is computed by :func:`analysis.inference.crve.ols_cluster`
    (the estimators call it directly).
    """
    e = fit.score_resid
    n = fit.n_obs
    if se == "cr1":
        scores = cluster_scores(cl, n_cl, S, X, e)[:, fit.keep]
        factor = panel_ssc_factor(ssc, n=n, k=k, n_units=n_units, n_times=n_times, G=n_cl)
        return sandwich(fit.bread, scores, factor), factor
    K = int(fit.keep.sum()) + int(fit.n_units_in_sample)
    if n - K <= 0:
        raise InputError(f"no residual degrees of freedom for se={se!r}: n = {n}, K = {K}")
    if se == "iid":
        w = 1.0 if fit.weights is None else fit.weights
        sigma2 = float(np.sum(w * fit.resid**2)) / (n - K)
        V = sigma2 * fit.bread
        return (V + V.T) / 2, sigma2
    if se == "hc1":
        # per-observation scores need the unit-demeaned regressors (the unit
        # term no longer drops out as it does within clusters nesting units)
        Z = np.hstack(
            [
                _dense(S) if S is not None else np.zeros((n, 0)),
                X if X is not None else np.zeros((n, 0)),
            ]
        )
        cnt = fit.unit_counts
        inv = np.divide(1.0, cnt, out=np.zeros_like(cnt), where=cnt > 0)
        means = _dense(fit._unit_block()) * inv[:, None]
        scores = ((Z - means[uid]) * e[:, None])[:, fit.keep]
        factor = n / (n - K)
        return sandwich(fit.bread, scores, factor), factor
    raise InputError(f"absorbed_vcov: se must be 'iid', 'hc1' or 'cr1' (got {se!r})")


def se_label(se: str, cluster: str) -> str:
    """The ``info["se_type"]`` text of each SE type (``cr1`` keeps the historical text)."""
    return {
        "iid": "iid (homoskedastic; all parameters incl. fixed effects in the df)",
        "hc1": "HC1 heteroskedasticity-robust (n/(n-K), K incl. fixed effects)",
        "cr1": f"CR1 clustered by {cluster}",
        "cr2": f"CR2 (Bell-McCaffrey) clustered by {cluster}",
    }[se]


# --------------------------------------------------------------------------- validation


# --------------------------------------------------------------------------- Wald test
@dataclass(frozen=True)
class WaldTest:
    """Result of a Wald test of ``theta = 0``.

    ``stat``/``p_value`` are ``nan`` when the covariance is singular; ``note``
    then says why.
    """

    stat: float
    df: int
    p_value: float
    note: str | None = None


def wald_test(theta: np.ndarray, vcov: np.ndarray, *, warn: bool = False) -> WaldTest:
    r"""Wald test of :math:`H_0: \theta = 0` under the package's one policy (module docstring).

    With ``warn=True`` a test that cannot be computed also raises a
    ``UserWarning`` carrying the note.
    """
    theta = np.asarray(theta, dtype=np.float64).ravel()
    vcov = np.asarray(vcov, dtype=np.float64)
    q = theta.size
    if q == 0:
        return WaldTest(np.nan, 0, np.nan, "no restrictions to test")
    note = None
    if not (np.all(np.isfinite(vcov)) and np.all(np.isfinite(theta))):
        note = "non-finite estimates or covariance"
    else:
        try:
            rcond = 1.0 / np.linalg.cond(vcov, 1)
        except np.linalg.LinAlgError:
            rcond = 0.0
        if not np.isfinite(rcond) or rcond <= np.finfo(float).eps:
            note = "singular covariance matrix; test not computed"
    if note is not None:
        if warn:
            warnings.warn(f"Wald test not computed: {note}", UserWarning, stacklevel=3)
        return WaldTest(np.nan, q, np.nan, note)
    stat = float(theta @ np.linalg.solve(vcov, theta))
    return WaldTest(stat, q, float(special.chdtrc(q, stat)))
