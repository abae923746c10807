"""Shared fixed-effect machinery: exact two-way least squares without dense dummies.

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
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from analysis.errors import InputError

SSC = Literal["fixest", "linearmodels"]


# --------------------------------------------------------------------------- design
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


def pair_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer codes of the pairs ``(a, b)`` of whole numbers (NaN treated as its own level)."""
    a = np.nan_to_num(np.asarray(a, dtype=float), nan=-1.0)
    b = np.nan_to_num(np.asarray(b, dtype=float), nan=-1.0e6)
    ia = pd.factorize(a)[0].astype(np.int64)
    ib = pd.factorize(b)[0].astype(np.int64)
    return pd.factorize(ia * (int(ib.max()) + 1) + ib)[0].astype(np.int64)


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

    @property
    def coef_kept(self) -> np.ndarray:
        return self.coef[self.keep]

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


def fit_absorbed(
    y: np.ndarray,
    uid: np.ndarray,
    n_units: int,
    S: sp.spmatrix | None = None,
    X: np.ndarray | None = None,
    tol: float = 1e-9,
) -> AbsorbedFit:
    """OLS of ``y`` on unit effects (absorbed), sparse dummies ``S`` and dense ``X``.

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
    """
    y = np.asarray(y, dtype=float)
    uid = np.asarray(uid, dtype=np.int64)
    nobs = y.size
    S = sp.csr_matrix((nobs, 0)) if S is None else sp.csr_matrix(S)
    X = np.zeros((nobs, 0)) if X is None else np.asarray(X, dtype=float).reshape(nobs, -1)
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
    H = np.block([[H_SS, H_SX], [H_SX.T, H_XX]])
    H = (H + H.T) / 2
    b = np.concatenate([_dense(S.T @ yt).ravel(), Xt.T @ yt])

    keep = _select_columns(H, tol)
    Hk = H[np.ix_(keep, keep)]
    bread = np.linalg.inv(Hk) if keep.any() else np.zeros((0, 0))
    bread = (bread + bread.T) / 2
    coef = np.full(H.shape[0], np.nan)
    coef[keep] = bread @ b[keep]
    c0 = np.nan_to_num(coef, nan=0.0)
    ps = S.shape[1]
    fitted_z = (S @ c0[:ps] if ps else np.zeros(nobs)) + (X @ c0[ps:] if X.shape[1] else 0.0)
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


# --------------------------------------------------------------------------- inference
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


def ssc_factor(ssc: str, *, n: int, k: int, n_units: int, n_times: int, G: int) -> float:
    """Small-sample factor applied to the clustered sandwich.

    ``fixest``: :math:`\\frac{G}{G-1}\\frac{n-1}{n-K}` with
    :math:`K = k + T` — the ``k`` slope coefficients, :math:`T-1` time effects and
    one for the unit effects, which are nested in the clusters and therefore
    counted once (fixest ``ssc(adj=TRUE, fixef.K="nested", cluster.adj=TRUE)``;
    pyfixest's CRV1 default; Stata ``reghdfe``).

    ``linearmodels``: ``PanelOLS(...).fit(cov_type="clustered")`` with its
    defaults ``debiased=True``, ``group_debias=False``, ``auto_df=True``: with
    two-way effects every estimated effect is counted, giving
    :math:`\\frac{n}{n - k - (N + T - 1)}` and no :math:`G/(G-1)` factor.
    """
    if ssc == "fixest":
        K = k + n_times
        return G / (G - 1) * (n - 1) / (n - K)
    if ssc == "linearmodels":
        return n / (n - k - (n_units + n_times - 1))
    raise InputError(f"ssc must be 'fixest' or 'linearmodels', not {ssc!r}")


def sandwich(bread: np.ndarray, scores: np.ndarray, factor: float = 1.0) -> np.ndarray:
    meat = scores.T @ scores
    V = factor * bread @ meat @ bread
    return (V + V.T) / 2


def wald_test(b: np.ndarray, V: np.ndarray) -> tuple[float, int, float]:
    """Chi-square Wald statistic of ``b = 0`` (pseudo-inverse if ``V`` is singular)."""
    b = np.asarray(b, dtype=float)
    ok = np.isfinite(b)
    b = b[ok]
    V = np.asarray(V)[np.ix_(ok, ok)]
    if b.size == 0:
        return float("nan"), 0, float("nan")
    Vi = np.linalg.pinv(V)
    stat = float(b @ Vi @ b)
    df = int(np.linalg.matrix_rank(V))
    return stat, df, float(stats.chi2.sf(stat, df))


# --------------------------------------------------------------------------- panels
@dataclass(frozen=True)
class Codes:
    """Integer codes of a prepared panel (rows as in ``Panel.data``)."""

    uid: np.ndarray
    tid: np.ndarray
    times: np.ndarray
    n_units: int
    n_times: int
    cl: np.ndarray
    n_cl: int
    cohort: np.ndarray
    event: np.ndarray  # t - g (NaN for never treated)
    treated: np.ndarray  # D_it


def panel_codes(panel) -> Codes:
    d = panel.data
    times = np.asarray(panel.times)
    tid = np.searchsorted(times, d["time"].to_numpy())
    uid = d["uid"].to_numpy().astype(np.int64)
    if panel.cluster:
        cl, uniq = pd.factorize(d[panel.cluster], sort=True)
        n_cl = len(uniq)
    else:
        cl, n_cl = uid, panel.n_units
    g = d["cohort"].to_numpy()
    t = d["time"].to_numpy().astype(float)
    event = np.where(g > 0, t - g, np.nan)
    treated = (g > 0) & (t >= g)
    return Codes(
        uid=uid,
        tid=tid.astype(np.int64),
        times=times,
        n_units=panel.n_units,
        n_times=len(times),
        cl=np.asarray(cl, dtype=np.int64),
        n_cl=int(n_cl),
        cohort=g,
        event=event,
        treated=treated,
    )


def usable_covariates(panel, uid: np.ndarray, n_units: int) -> tuple[list[str], list[str]]:
    """Split covariates into those with within-unit variation and those absorbed.

    A covariate that is constant within every unit is collinear with the unit
    effects and cannot be estimated in any fixed-effects model (fixest drops it
    with a note); it is dropped here with a ``UserWarning`` and a note. To use a
    time-invariant characteristic, interact it with time first (for example
    ``x * year``), which is how the simulated confounder enters
    :func:`analysis.data.simulate.simulate_staggered`.
    """
    keep, notes = [], []
    for c in panel.covariates:
        x = panel.data[c].to_numpy(dtype=float)
        cnt = np.bincount(uid, minlength=n_units)
        m = np.bincount(uid, weights=x, minlength=n_units) / np.maximum(cnt, 1)
        if np.allclose(x, m[uid], rtol=0, atol=1e-12 * max(1.0, float(np.abs(x).max()))):
            notes.append(
                f"covariate {c!r} is constant within units and is absorbed by the unit "
                "effects; dropped (interact it with time to use it)"
            )
        else:
            keep.append(c)
    for n in notes:
        warnings.warn(n, UserWarning, stacklevel=3)
    return keep, notes


def check_alpha(alpha: float) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise InputError(f"alpha must be a number in (0, 1), not {alpha!r}") from None
    if not 0 < a < 1:
        raise InputError(f"alpha must lie strictly between 0 and 1 (got {a})")
    return a


def check_choice(name: str, value, allowed: Sequence) -> None:
    if value not in allowed:
        opts = ", ".join(repr(a) for a in allowed)
        raise InputError(f"{name} must be one of {opts} (got {value!r})")


def check_window(window, name: str = "window") -> tuple[int, int] | None:
    if window is None:
        return None
    try:
        lo, hi = window
        lo_i, hi_i = int(lo), int(hi)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair of integers (lo, hi), e.g. (-5, 5)") from None
    if lo_i != lo or hi_i != hi:
        raise InputError(f"{name} must hold whole numbers (got {window!r})")
    if lo_i > -1 or hi_i < 0:
        raise InputError(
            f"{name} must include -1 and 0, i.e. lo <= -1 and hi >= 0 (got {window!r})"
        )
    return lo_i, hi_i


def se_label(cluster: str | None, unit: str, ssc: str | None) -> str:
    who = cluster or unit
    base = f"CR1 clustered by {who}" if ssc else f"clustered by {who}"
    return base


# --------------------------------------------------------------------------- imputation
@dataclass(frozen=True)
class FirstStage:
    """Unit + time (+ covariate) model for :math:`Y(0)` fitted on untreated rows.

    Shared by :func:`~analysis.estimators.bjs.bjs_imputation` and
    :func:`~analysis.estimators.gardner.gardner`.

    Attributes
    ----------
    fit
        The :class:`AbsorbedFit` on the untreated rows.
    S, X
        Time-dummy block and covariate block for *all* rows.
    untreated
        Mask of the rows used in the fit (:math:`D_{it} = 0`).
    identified
        Rows whose :math:`\\hat Y_{it}(0)` exists: the unit and the period both
        appear among the untreated rows.
    y0hat
        :math:`\\hat\\alpha_i + \\hat\\lambda_t + x_{it}'\\hat\\gamma` (NaN where not identified).
    """

    fit: AbsorbedFit
    S: sp.csr_matrix
    X: np.ndarray | None
    untreated: np.ndarray
    identified: np.ndarray
    y0hat: np.ndarray

    def unit_time_rhs(self, uid: np.ndarray, n_units: int, W: np.ndarray):
        """:math:`Z'W` split into the unit block and the (time, covariate) block."""
        if sp.issparse(W):
            W = sp.csr_matrix(W)
            r_u = _dense(sparse_group_sums(uid, n_units, W))
            r_t = _dense(self.S.T @ W)
            if self.X is not None and self.X.shape[1]:
                r_t = np.vstack([r_t, _dense(W.T @ self.X).T])
            return r_u, r_t
        W = np.asarray(W, dtype=float).reshape(len(uid), -1)
        r_u = group_sums(uid, n_units, W)
        r_t = _dense(self.S.T @ W)
        if self.X is not None and self.X.shape[1]:
            r_t = np.vstack([r_t, self.X.T @ W])
        return r_u, r_t

    def residual_scores(self, cl: np.ndarray, n_cl: int) -> np.ndarray:
        """:math:`Q_c = \\sum_{it \\in c,\\ D_{it}=0} \\hat u_{it}\\, (s_{it}, x_{it})` -> (G x p).

        For any :math:`(a, \\theta)`, :math:`\\sum_{it\\in c} \\hat u_{it}(a_i + z_{it}'\\theta)
        = Q_c\\theta` because stage-1 residuals sum to zero within each unit and
        clusters nest units; this avoids any n x m intermediate.
        """
        u0 = self.untreated
        S0 = self.S[u0]
        X0 = None if self.X is None else self.X[u0]
        return cluster_scores(cl[u0], n_cl, S0, X0, self.fit.resid)

    def fitted_from(self, a: np.ndarray, theta: np.ndarray, uid: np.ndarray) -> np.ndarray:
        """:math:`Z(a,\\theta)` for all rows (n x m); NaN ``a`` read as 0."""
        a = np.nan_to_num(a, nan=0.0)
        ps = self.S.shape[1]
        out = a[uid] + _dense(self.S @ theta[:ps])
        if self.X is not None and self.X.shape[1]:
            out += self.X @ theta[ps:]
        return out


def first_stage(
    y: np.ndarray, codes: Codes, X: np.ndarray | None, untreated: np.ndarray
) -> FirstStage:
    """Fit :math:`y_{it} = \\alpha_i + \\lambda_t + x_{it}'\\gamma` on the untreated rows."""
    tcount = np.bincount(codes.tid[untreated], minlength=codes.n_times)
    if not tcount.any():
        raise InputError("no untreated observations to estimate the unit and time effects")
    ref = int(np.argmax(tcount))
    S = time_dummies(codes.tid, codes.n_times, ref=ref)
    S0 = S[untreated]
    X0 = None if X is None else X[untreated]
    fit = fit_absorbed(y[untreated], codes.uid[untreated], codes.n_units, S0, X0)
    ps = S.shape[1]
    time_ok = np.ones(codes.n_times, dtype=bool)
    cols_ok = fit.keep[:ps]
    other = np.delete(np.arange(codes.n_times), ref)
    time_ok[other] = cols_ok
    if X is not None and X.shape[1] and not fit.keep[ps:].all():
        raise InputError(
            "a covariate is collinear with the fixed effects among untreated observations"
        )
    unit_ok = fit.unit_counts > 0
    identified = unit_ok[codes.uid] & time_ok[codes.tid]
    y0 = fit.predict(codes.uid, S, X)
    y0[~identified] = np.nan
    return FirstStage(fit=fit, S=S, X=X, untreated=untreated, identified=identified, y0hat=y0)
