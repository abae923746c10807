r"""Cluster-robust variance of OLS coefficients with small-sample corrections.

Model and notation
------------------
Linear model :math:`y = X\beta + F\alpha + u` with :math:`n` observations in
:math:`G` clusters :math:`g = 1,\dots,G`, :math:`k` coefficients of interest
:math:`\beta` and fixed effects :math:`F\alpha` (zero, one or several
categorical factors). Fixed effects are handled by Frisch-Waugh-Lovell:

* the factor with most levels among those **nested in the clusters** (every
  level inside one cluster, e.g. unit effects with clustering by unit) is
  *absorbed* by the within transformation :math:`\ddot a = a - \bar a_{f(i)}`;
* every other factor (e.g. year effects with clustering by unit) is carried as
  within-transformed dummy columns :math:`\ddot D` (redundant columns dropped
  by a pivoted QR).

The working design is :math:`Z = [\ddot X, \ddot D]` (:math:`n \times p`),
:math:`M = (Z'Z)^{-1}`, :math:`\hat e = \ddot y - Z\hat\gamma` (the residuals
of the full dummy-variable regression) and :math:`Z_g, \hat e_g` the rows of
cluster :math:`g`. All reported matrices are the :math:`k \times k` block of
:math:`\beta`. By FWL this is *exactly* the dummy-variable regression: the
coefficients, the residuals, the within-cluster hat blocks that CR2/CR3 need
(Pustejovsky and Tipton 2018, Theorem 2: absorbing fixed effects nested in the
clusters leaves the CR2 adjustment unchanged) and the Satterthwaite degrees of
freedom.

Estimators
----------
All have the sandwich form

.. math::

    \hat V = c\, M \Big(\sum_{g=1}^{G} Z_g' A_g \hat e_g \hat e_g' A_g' Z_g\Big) M,
    \qquad H_{gg} = Z_g M Z_g' .

``CR0``
    :math:`A_g = I`, :math:`c = 1` (Liang-Zeger).
``CR1``
    :math:`A_g = I` and a scalar factor :math:`c` (see ``ssc``).
``CR2``
    Bell-McCaffrey: :math:`A_g = (I - H_{gg})^{-1/2}` (symmetric square root;
    pseudo-inverse square root, eigenvalues below ``1e-12`` set to zero, as
    clubSandwich), :math:`c = 1`. Unbiased when :math:`\operatorname{Var}(u)=\sigma^2 I`.
``CR3``
    :math:`A_g = (I - H_{gg})^{-1}`, :math:`c = 1` (clubSandwich's ``CR3``).
``CR3J``
    Leave-one-cluster-out jackknife (MacKinnon, Nielsen and Webb 2023, CV3):

    .. math::

        \hat V = \frac{G-1}{G}\sum_{g}(\hat\beta_{(g)} - \bar\beta)(\hat\beta_{(g)} - \bar\beta)',
        \qquad \hat\beta_{(g)} - \hat\beta = -M Z_g'(I - H_{gg})^{-1}\hat e_g ,

    with :math:`\bar\beta = \hat\beta` (``jackknife_center="estimate"``,
    then :math:`\hat V = \frac{G-1}{G}\,\mathrm{CR3}`) or the mean of the
    :math:`\hat\beta_{(g)}` (``"mean"``, Stata's ``vce(jackknife)``). The
    leave-one-out coefficients come from the identity above, no re-fitting.

Small-sample factor of CR1 (``ssc``)
------------------------------------
``"fixest"`` (alias ``"stata"``, default)
    :math:`c = \frac{G}{G-1}\frac{n-1}{n-K}` with :math:`K = k + K_{FE}`, where
    fixed effects nested in the clusters are not counted (fixest
    ``ssc(adj=TRUE, fixef.K="nested", cluster.adj=TRUE)``; Stata ``reghdfe``):
    :math:`K_{FE} = \sum_f L_f - (m - 1) - \sum_{f\ \mathrm{nested}} L_f + m_{\mathrm{nested}}`
    for :math:`m` factors with :math:`L_f` levels (each fully nested factor is
    counted as one parameter, the intercept it absorbs). Without fixed effects
    this is also Stata ``regress, vce(cluster)`` and statsmodels'
    ``cov_type="cluster"``. Any :class:`SSC` gives fixest's other choices.
``"linearmodels"``
    What ``PanelOLS(...).fit(cov_type="clustered", clusters=...)`` does with
    its defaults (``debiased=True``, ``group_debias=False``, ``auto_df=True``,
    linearmodels 7.1): :math:`c = \frac{n}{n - k - d}` with no
    :math:`G/(G-1)`; :math:`d = 0` when the model has exactly one factor of
    effects and it is nested in the clusters, otherwise
    :math:`d = \sum_f L_f - (m - 1)` (every estimated effect is counted).
``"none"``
    :math:`c = 1` (CR0).

Degrees of freedom
------------------
CR0/CR1/CR3/CR3J use :math:`t_{G-1}` (fixest, Stata). CR2 uses the
Bell-McCaffrey / Pustejovsky-Tipton Satterthwaite approximation for each
coefficient :math:`j` (contrast :math:`c_j`): with
:math:`a_g = A_g Z_g M c_j`, :math:`w_g = Z_g' a_g` and the :math:`G\times G`
matrix

.. math::

    \Lambda_{gh} = p_g'p_h = \delta_{gh}\, a_g'a_g - w_g' M w_h ,
    \qquad p_g = (I - H)\,\tilde a_g ,

(:math:`\tilde a_g` is :math:`a_g` padded with zeros to length :math:`n`),
:math:`\nu_j = (\operatorname{tr}\Lambda)^2 / \operatorname{tr}(\Lambda^2)` —
clubSandwich's ``coef_test(test="Satterthwaite")`` under its default working
model :math:`\Phi = I`. Computed in :math:`O(Gp^2)` without forming
:math:`\Lambda`.

For :math:`q` joint restrictions :math:`C\beta = d`, :func:`htz_test` gives the
Pustejovsky-Tipton (2018) HTZ test: :math:`Q = (C\hat\beta-d)'(C\hat VC')^{-1}(C\hat\beta-d)`,
:math:`F = \frac{\eta - q + 1}{\eta q} Q \sim F(q, \eta - q + 1)` with

.. math::

    \eta = \frac{q(q+1)}{\sum_{s,t=1}^{q}\sum_{g,h}\big[(\tilde p_{sg}'\tilde p_{th})(\tilde p_{tg}'\tilde p_{sh}) + (\tilde p_{sg}'\tilde p_{sh})(\tilde p_{tg}'\tilde p_{th})\big]}

where :math:`p_{sg}` is :math:`p_g` for the contrast row :math:`c_s`,
:math:`\Omega_{st} = \sum_g p_{sg}'p_{tg}` and the normalised
:math:`\tilde p_{sg} = \sum_a (\Omega^{-1/2})_{sa} p_{ag}` (clubSandwich's
``Wald_test(test="HTZ")``; for CR2 :math:`\Omega = C M_{\beta\beta} C'`).

References
----------
Bell and McCaffrey (2002), Survey Methodology 28(2). Pustejovsky and Tipton
(2018), JBES 36(4). MacKinnon, Nielsen and Webb (2023), J. Econometrics 232(2).
Cameron and Miller (2015), JHR 50(2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import linalg, stats

from analysis.design import SSC, SSC_PRESETS, ssc_factor, within  # noqa: F401 - re-exported
from analysis.errors import InputError
from analysis.validation import check_alpha, literal_values

Kind = Literal["CR0", "CR1", "CR2", "CR3", "CR3J"]
KINDS: tuple[str, ...] = literal_values(Kind)

#: Eigenvalues of :math:`I - H_{gg}` at or below this are treated as zero
#: (pseudo-inverse), as clubSandwich's ``Sym_power``.
EIG_TOL = 1e-12
#: Largest number of doubles held in one batch of stacked cluster blocks.
_BATCH_ELEMS = 4_000_000

__all__ = [
    "KINDS",
    "SSC",
    "ClusterDesign",
    "ClusterOLSResult",
    "HTZResult",
    "cluster_vcov",
    "htz_test",
    "ols_cluster",
    "satterthwaite_df",
    "ssc_factor",
]


def _as_matrix(X: Any, n: int | None, name: str = "X") -> tuple[np.ndarray, list[str]]:
    names: list[str] | None = None
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        X = X.to_numpy()
    elif isinstance(X, pd.Series):
        names = [str(X.name) if X.name is not None else "x0"]
        X = X.to_numpy()
    try:
        A = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numeric") from None
    if A.ndim == 1:
        A = A[:, None]
    if A.ndim != 2:
        raise InputError(f"{name} must be a 1-D or 2-D array (got {A.ndim} dimensions)")
    if n is not None and A.shape[0] != n:
        raise InputError(f"{name} has {A.shape[0]} rows but y has {n}")
    if A.shape[1] == 0:
        raise InputError(f"{name} has no columns")
    if not np.all(np.isfinite(A)):
        raise InputError(f"{name} contains missing or non-finite values")
    if names is None:
        names = [f"x{j}" for j in range(A.shape[1])]
    return A, names


def _as_vector(y: Any, name: str = "y") -> np.ndarray:
    try:
        v = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numeric") from None
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        raise InputError(f"{name} must be one-dimensional")
    if v.size == 0:
        raise InputError(f"{name} is empty")
    if not np.all(np.isfinite(v)):
        raise InputError(f"{name} contains missing or non-finite values")
    return v


def _factorize(labels: Any, n: int, name: str) -> tuple[np.ndarray, int]:
    arr = labels.to_numpy() if isinstance(labels, (pd.Series, pd.Index)) else np.asarray(labels)
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional")
    if arr.shape[0] != n:
        raise InputError(f"{name} has {arr.shape[0]} entries but the data have {n} rows")
    codes, uniq = pd.factorize(pd.Series(arr), sort=True)
    if (codes < 0).any():
        raise InputError(f"{name} contains missing values")
    return codes.astype(np.int64), int(len(uniq))


def cluster_codes(clusters: Any, n: int) -> tuple[np.ndarray, int]:
    """Integer codes ``0..G-1`` of the cluster labels (validated, at least 2 clusters)."""
    if clusters is None:
        raise InputError("clusters are required")
    codes, G = _factorize(clusters, n, "clusters")
    if G < 2:
        raise InputError("at least two clusters are needed for a cluster-robust variance")
    return codes, G


def _fe_list(fe: Any, n: int) -> list[tuple[np.ndarray, int]]:
    if fe is None:
        return []
    if isinstance(fe, pd.DataFrame):
        cols = [fe[c] for c in fe.columns]
    elif isinstance(fe, (list, tuple)):
        cols = list(fe)
        if cols and np.ndim(cols[0]) == 0:  # a flat list of labels = one factor
            cols = [np.asarray(fe)]
    else:
        a = fe.to_numpy() if isinstance(fe, pd.Series) else np.asarray(fe)
        cols = [a] if a.ndim == 1 else [a[:, j] for j in range(a.shape[1])] if a.ndim == 2 else None
        if cols is None:
            raise InputError("fe must be a vector, a 2-D array, a list of vectors or a DataFrame")
    return [_factorize(c, n, f"fixed effect {j}") for j, c in enumerate(cols)]


def _nested(codes: np.ndarray, L: int, cl: np.ndarray) -> bool:
    """Is every level of ``codes`` inside a single cluster?"""
    first = np.full(L, -1, dtype=np.int64)
    first[codes[::-1]] = cl[::-1]  # cluster of the first row of each level
    return bool(np.all(first[codes] == cl))


@dataclass(frozen=True)
class ClusterDesign:
    r"""A regression prepared for cluster-robust inference (see module docstring).

    Built with :meth:`build`. ``Z = [Xw, Dw]`` where ``Xw`` are the regressors
    of interest and ``Dw`` the carried fixed-effect dummies, both within-
    transformed by the absorbed factor; ``yw`` likewise.

    Attributes
    ----------
    yw, Z
        Transformed outcome (``None`` when built without ``y``) and design.
    k
        Number of regressors of interest (the first ``k`` columns of ``Z``).
    names
        Names of the regressors of interest.
    cl, G
        Cluster codes and number of clusters.
    fe_levels, fe_nested
        Levels of each fixed-effect factor and whether it is nested in the clusters.
    absorbed
        Index of the absorbed factor (``None`` if none is nested in the clusters).
    """

    yw: np.ndarray | None
    Z: np.ndarray
    k: int
    names: tuple[str, ...]
    cl: np.ndarray
    G: int
    fe_levels: tuple[int, ...]
    fe_nested: tuple[bool, ...]
    absorbed: int | None
    absorbed_codes: np.ndarray | None = None
    absorbed_levels: int = 0
    sqrt_w: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.Z.shape[0])

    @property
    def p(self) -> int:
        return int(self.Z.shape[1])

    @classmethod
    def build(
        cls, y: Any, X: Any, clusters: Any, fe: Any = None, weights: Any = None
    ) -> ClusterDesign:
        """Validate inputs, absorb/carry the fixed effects and check identification.

        With ``weights`` :math:`\\omega` (weighted least squares) every column is
        within-transformed with weighted means and multiplied by
        :math:`\\sqrt{\\omega}`: the design is then the OLS design of the
        transformed model, and every estimator above (CR2 included) is computed
        on it.
        """
        yv = None if y is None else _as_vector(y)
        n = None if yv is None else yv.size
        Xm, names = _as_matrix(X, n)
        n = Xm.shape[0]
        wv = None
        if weights is not None:
            wv = _as_vector(weights, "weights")
            if wv.size != n or (wv <= 0).any():
                raise InputError("weights must be positive, one per row")
        sw = None if wv is None else np.sqrt(wv)
        cl, G = cluster_codes(clusters, n)
        fes = _fe_list(fe, n)
        nested = [_nested(c, L, cl) for c, L in fes]
        absorbed = None
        cand = [j for j, ne in enumerate(nested) if ne]
        if cand:
            absorbed = max(cand, key=lambda j: fes[j][1])
        acodes, aL = fes[absorbed] if absorbed is not None else (None, 0)

        Xw = within(Xm, acodes, aL, wv)
        if sw is not None:
            Xw = Xw * sw[:, None]
        # dummies of the carried factors, within-transformed, redundant columns dropped
        dcols = []
        for j, (c, L) in enumerate(fes):
            if j == absorbed:
                continue
            D = np.zeros((n, L))
            D[np.arange(n), c] = 1.0
            dcols.append(D)
        if dcols:
            Dw = within(np.hstack(dcols), acodes, aL, wv)
            if sw is not None:
                Dw = Dw * sw[:, None]
            if Dw.shape[1]:
                _, R, piv = linalg.qr(Dw, mode="economic", pivoting=True)
                d = np.abs(np.diag(R))
                rank = int(np.sum(d > 1e-9 * max(d[0], 1e-300))) if d.size else 0
                Dw = Dw[:, np.sort(piv[:rank])]
        else:
            Dw = np.zeros((n, 0))

        # identification of X: not collinear with the fixed effects, full column rank
        scale = np.sqrt(np.sum((Xm if sw is None else Xm * sw[:, None]) ** 2, axis=0))
        resid = Xw
        if Dw.shape[1]:
            coef, *_ = linalg.lstsq(Dw, Xw)
            resid = Xw - Dw @ coef
        rn = np.sqrt(np.sum(resid**2, axis=0))
        bad = np.flatnonzero(rn <= 1e-9 * np.maximum(scale, 1e-300))
        if fes and bad.size:
            raise InputError(
                f"regressor {names[bad[0]]!r} is collinear with the fixed effects "
                "(drop it, or drop an intercept column when fixed effects are given)"
            )
        if bad.size:
            raise InputError(f"regressor {names[bad[0]]!r} is identically zero")
        R = linalg.qr(resid / rn, mode="r")[0]
        dr = np.abs(np.diag(R))
        if dr.size < Xm.shape[1] or np.any(dr <= 1e-9):
            j = int(np.argmax(dr <= 1e-9)) if dr.size == Xm.shape[1] else dr.size
            raise InputError(
                f"regressor {names[min(j, len(names) - 1)]!r} is collinear with the other regressors"
            )
        Z = np.hstack([Xw, Dw]) if Dw.shape[1] else Xw
        if Z.shape[0] <= Z.shape[1] + (aL if absorbed is not None else 0):
            raise InputError(
                f"too few observations ({Z.shape[0]}) for {Z.shape[1]} regressors and the fixed effects"
            )
        yw = None if yv is None else within(yv, acodes, aL, wv)
        if yw is not None and sw is not None:
            yw = yw * sw
        return cls(
            yw=yw,
            Z=np.ascontiguousarray(Z),
            k=int(Xm.shape[1]),
            names=tuple(names),
            cl=cl,
            G=G,
            fe_levels=tuple(L for _, L in fes),
            fe_nested=tuple(nested),
            absorbed=absorbed,
            absorbed_codes=acodes,
            absorbed_levels=aL,
            sqrt_w=sw,
        )

    def within(self, a: np.ndarray) -> np.ndarray:
        """Within transformation by the absorbed factor (identity if none)."""
        return within(np.asarray(a, dtype=np.float64), self.absorbed_codes, self.absorbed_levels)

    # ---- algebra -----------------------------------------------------------------
    def bread(self) -> np.ndarray:
        """:math:`M = (Z'Z)^{-1}` from a QR decomposition of ``Z``."""
        R = linalg.qr(self.Z, mode="r")[0][: self.p]
        Ri = linalg.solve_triangular(R, np.eye(self.p))
        M = Ri @ Ri.T
        return (M + M.T) / 2

    def fit(self) -> tuple[np.ndarray, np.ndarray]:
        """Least-squares coefficients on ``Z`` and residuals."""
        if self.yw is None:
            raise ValueError("design built without y")
        coef, *_ = linalg.lstsq(self.Z, self.yw)
        return coef, self.yw - self.Z @ coef

    def cluster_sums(self, A: np.ndarray) -> np.ndarray:
        """Within-cluster column sums of ``A`` (n or n x m) -> (G[, m])."""
        if A.ndim == 1:
            return np.bincount(self.cl, weights=A, minlength=self.G)
        order, starts = self._order()
        return np.add.reduceat(A[order], starts, axis=0)

    def _order(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.cl, kind="stable")
        sizes = np.bincount(self.cl, minlength=self.G)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        return order, starts

    def cluster_blocks(self):
        """Yield ``(gs, idx)``: cluster ids of equal size ``m`` and their ``len(gs) x m`` row indices."""
        order, starts = self._order()
        sizes = np.bincount(self.cl, minlength=self.G)
        for m in np.unique(sizes):
            gs = np.flatnonzero(sizes == m)
            step = max(1, _BATCH_ELEMS // max(1, m * max(m, self.p)))
            for a in range(0, gs.size, step):
                g = gs[a : a + step]
                yield g, order[starts[g][:, None] + np.arange(m)[None, :]]


def _sym_power(C: np.ndarray, power: float) -> np.ndarray:
    """Batched symmetric (pseudo-)power of PSD matrices ``C`` (b x m x m)."""
    w, Q = np.linalg.eigh(C)
    ok = w > EIG_TOL
    f = np.where(ok, np.where(ok, w, 1.0) ** power, 0.0)
    return (Q * f[:, None, :]) @ np.swapaxes(Q, 1, 2)


def _adjusted(des: ClusterDesign, M: np.ndarray, power: float):
    """Yield ``(gs, Zg, Ag)`` with :math:`A_g = (I - H_{gg})^{power}` for blocks of clusters."""
    for gs, idx in des.cluster_blocks():
        Zg = des.Z[idx]  # b x m x p
        H = Zg @ M @ np.swapaxes(Zg, 1, 2)
        m = idx.shape[1]
        C = np.eye(m)[None, :, :] - H
        C = (C + np.swapaxes(C, 1, 2)) / 2
        yield gs, idx, Zg, _sym_power(C, power)


def _adjusted_scores(des: ClusterDesign, M: np.ndarray, e: np.ndarray, kind: str) -> np.ndarray:
    """Per-cluster scores :math:`Z_g'A_g\\hat e_g` (G x p)."""
    if kind in ("CR0", "CR1"):
        return des.cluster_sums(des.Z * e[:, None])
    power = -0.5 if kind == "CR2" else -1.0
    S = np.empty((des.G, des.p))
    for gs, idx, Zg, A in _adjusted(des, M, power):
        Ae = A @ e[idx][:, :, None]  # b x m x 1
        S[gs] = (np.swapaxes(Zg, 1, 2) @ Ae)[:, :, 0]
    return S


def _vcov_from(
    des: ClusterDesign,
    M: np.ndarray,
    e: np.ndarray,
    kind: str,
    ssc: str | SSC,
    jackknife_center: str,
) -> tuple[np.ndarray, float]:
    S = _adjusted_scores(des, M, e, kind)
    k = des.k
    if kind == "CR3J":
        # beta_(g) - beta_hat = -M S_g  (X block)
        delta = -(S @ M[:, :k])  # G x k
        if jackknife_center == "mean":
            delta = delta - delta.mean(axis=0)
        V = (des.G - 1) / des.G * (delta.T @ delta)
        return (V + V.T) / 2, (des.G - 1) / des.G
    Mk = M[:k]  # k x p
    B = S @ Mk.T  # G x k
    V = B.T @ B
    c = 1.0
    if kind == "CR1":
        c = ssc_factor(ssc, n=des.n, k=k, G=des.G, fe_levels=des.fe_levels, fe_nested=des.fe_nested)
        V = c * V
    return (V + V.T) / 2, c


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        opts = ", ".join(repr(s) for s in KINDS)
        raise InputError(f"kind must be one of {opts} (got {kind!r})")
    return kind


def cluster_vcov(
    X: Any,
    resid: Any,
    clusters: Any,
    kind: Kind = "CR1",
    *,
    ssc: str | SSC = "fixest",
    fe: Any = None,
    jackknife_center: Literal["estimate", "mean"] = "estimate",
) -> np.ndarray:
    r"""Cluster-robust covariance of the OLS coefficients on ``X``.

    Parameters
    ----------
    X
        ``n x k`` regressors of interest. If ``fe`` is given, either the raw
        regressors or already partialled out with respect to the fixed
        effects (both give the same answer: the function re-applies the
        within transformation and carries the other factors as dummies).
    resid
        OLS residuals of the full model (with the fixed effects).
    clusters
        Cluster label of each row.
    kind
        ``"CR0"``, ``"CR1"``, ``"CR2"``, ``"CR3"`` or ``"CR3J"`` (see module docstring).
    ssc
        Small-sample convention of CR1: ``"fixest"``/``"stata"``,
        ``"linearmodels"``, ``"none"`` or an :class:`SSC`.
    fe
        Fixed-effect factors (vector, 2-D array, list of vectors, DataFrame).
    jackknife_center
        Centre of the CR3J jackknife: the full-sample estimate or the mean of
        the leave-one-cluster-out estimates.

    Returns
    -------
    numpy.ndarray
        :math:`k \times k` covariance matrix.
    """
    _check_kind(kind)
    if jackknife_center not in ("estimate", "mean"):
        raise InputError(
            f"jackknife_center must be 'estimate' or 'mean' (got {jackknife_center!r})"
        )
    SSC.preset(ssc)
    e = _as_vector(resid, "resid")
    des = ClusterDesign.build(None, X, clusters, fe) if e.size else None
    if des is None or des.n != e.size:
        raise InputError(f"resid has {e.size} entries but X has {0 if des is None else des.n} rows")
    e = des.within(e)
    M = des.bread()
    return _vcov_from(des, M, e, kind, ssc, jackknife_center)[0]


# --------------------------------------------------------------------------- Satterthwaite
def _lambda_pieces(des: ClusterDesign, M: np.ndarray, contrasts: np.ndarray, kind: str):
    """Per-cluster :math:`a_g'a_g` and :math:`w_g = Z_g'a_g` for each contrast row.

    ``contrasts`` is ``q x p``. Returns ``aa`` (G x q x q, the inner products
    :math:`a_{sg}'a_{tg}`) and ``W`` (G x p x q).
    """
    q = contrasts.shape[0]
    U = M @ contrasts.T  # p x q
    aa = np.empty((des.G, q, q))
    W = np.empty((des.G, des.p, q))
    if kind in ("CR0", "CR1"):
        for gs, idx in des.cluster_blocks():
            Zg = des.Z[idx]
            a = Zg @ U
            aa[gs] = np.swapaxes(a, 1, 2) @ a
            W[gs] = np.swapaxes(Zg, 1, 2) @ a
        return aa, W
    power = -0.5 if kind == "CR2" else -1.0
    for gs, _idx, Zg, A in _adjusted(des, M, power):
        a = A @ (Zg @ U)  # b x m x q
        aa[gs] = np.swapaxes(a, 1, 2) @ a
        W[gs] = np.swapaxes(Zg, 1, 2) @ a
    return aa, W


def _satterthwaite(des: ClusterDesign, M: np.ndarray, kind: str) -> np.ndarray:
    """Satterthwaite degrees of freedom of each of the ``k`` coefficients."""
    k = des.k
    E = np.eye(des.p)[:k]
    aa, W = _lambda_pieces(des, M, E, kind)
    out = np.empty(k)
    for j in range(k):
        d = aa[:, j, j]  # G
        Wj = W[:, :, j]  # G x p
        WM = Wj @ M
        diag = np.einsum("gp,gp->g", WM, Wj)  # w_g' M w_g
        P = Wj.T @ Wj
        MP = M @ P
        tr = d.sum() - diag.sum()
        fro2 = np.dot(d, d) - 2.0 * np.dot(d, diag) + np.einsum("ij,ji->", MP, MP)
        out[j] = tr * tr / fro2
    return out


def satterthwaite_df(X: Any, clusters: Any, kind: Kind = "CR2", *, fe: Any = None) -> np.ndarray:
    r"""Bell-McCaffrey / Pustejovsky-Tipton Satterthwaite degrees of freedom.

    One value per column of ``X``: :math:`\nu_j = (\operatorname{tr}\Lambda)^2/\operatorname{tr}(\Lambda^2)`
    with :math:`\Lambda` as in the module docstring, for the adjustment
    matrices of ``kind`` (CR1's scalar factor cancels). Depends on the design
    only, not on ``y``.
    """
    _check_kind(kind)
    if kind == "CR3J":
        kind = "CR3"
    des = ClusterDesign.build(None, X, clusters, fe)
    return _satterthwaite(des, des.bread(), kind)


# --------------------------------------------------------------------------- HTZ
@dataclass(frozen=True)
class HTZResult:
    """Pustejovsky-Tipton HTZ Wald test of :math:`C\\beta = d`."""

    F: float
    df_num: int
    df_denom: float
    p_value: float
    Q: float
    eta: float


def _htz(
    des: ClusterDesign,
    M: np.ndarray,
    coef: np.ndarray,
    V: np.ndarray,
    C: np.ndarray,
    d: np.ndarray,
    kind: str,
) -> HTZResult:
    q = C.shape[0]
    k = des.k
    Cp = np.hstack([C, np.zeros((q, des.p - k))])
    aa, W = _lambda_pieces(des, M, Cp, kind)
    WM = np.einsum("gps,pr->grs", W, M)  # G x p x q
    # P[s][t] (G x G): p_sg' p_th = delta_gh a_sg'a_tg - w_sg' M w_th
    P = [[None] * q for _ in range(q)]
    for s in range(q):
        for t in range(q):
            L = -WM[:, :, s] @ W[:, :, t].T
            L[np.diag_indices(des.G)] += aa[:, s, t]
            P[s][t] = L
    Omega = np.array([[np.trace(P[s][t]) for t in range(q)] for s in range(q)])
    w, Qv = np.linalg.eigh((Omega + Omega.T) / 2)
    if np.any(w <= EIG_TOL * max(1.0, float(np.max(np.abs(w))))):
        raise InputError("the restrictions are linearly dependent")
    On = (Qv * w**-0.5) @ Qv.T
    Bm = [
        [sum(On[s, a] * P[a][b] * On[b, t] for a in range(q) for b in range(q)) for t in range(q)]
        for s in range(q)
    ]
    tot = 0.0
    for s in range(q):
        for t in range(q):
            tot += float(np.sum(Bm[s][t] * Bm[t][s]) + np.sum(Bm[s][s] * Bm[t][t]))
    eta = q * (q + 1) / tot
    r = C @ coef - d
    CVC = C @ V @ C.T
    Qstat = float(r @ np.linalg.solve((CVC + CVC.T) / 2, r))
    df2 = eta - q + 1
    F = max((eta - q + 1) / eta, 0.0) * Qstat / q
    p = float(stats.f.sf(F, q, df2)) if df2 > 0 else float("nan")
    return HTZResult(F=float(F), df_num=q, df_denom=float(df2), p_value=p, Q=Qstat, eta=float(eta))


def htz_test(
    y: Any,
    X: Any,
    clusters: Any,
    constraints: Any,
    rhs: Any = None,
    *,
    fe: Any = None,
    kind: Kind = "CR2",
) -> HTZResult:
    r"""Pustejovsky-Tipton (2018) HTZ test of :math:`C\beta = d` (module docstring).

    Parameters
    ----------
    y, X, clusters, fe
        As in :func:`ols_cluster`.
    constraints
        ``q x k`` matrix :math:`C` (or a list of column indices to test jointly
        equal to ``rhs``).
    rhs
        Length-``q`` vector :math:`d` (default zeros).
    kind
        Covariance whose adjustment matrices define the test (default CR2).
    """
    _check_kind(kind)
    if kind == "CR3J":
        raise InputError("htz_test supports kind 'CR0', 'CR1', 'CR2' or 'CR3'")
    des = ClusterDesign.build(y, X, clusters, fe)
    C = np.asarray(constraints, dtype=np.float64)
    if C.ndim == 1 and np.issubdtype(np.asarray(constraints).dtype, np.integer):
        idx = np.asarray(constraints, dtype=np.int64)
        if idx.size == 0 or idx.min() < 0 or idx.max() >= des.k:
            raise InputError(f"constraint indices must lie in 0..{des.k - 1}")
        C = np.eye(des.k)[idx]
    C = np.atleast_2d(C)
    if C.shape[1] != des.k or not np.all(np.isfinite(C)):
        raise InputError(f"constraints must be a q x {des.k} matrix of finite numbers")
    d = np.zeros(C.shape[0]) if rhs is None else np.asarray(rhs, dtype=np.float64).ravel()
    if d.size != C.shape[0]:
        raise InputError("rhs must have one value per constraint")
    M = des.bread()
    g, e = des.fit()
    V, _ = _vcov_from(des, M, e, kind, "fixest", "estimate")
    return _htz(des, M, g[: des.k], V, C, d, kind)


# --------------------------------------------------------------------------- OLS
def _freeze(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class ClusterOLSResult:
    """OLS coefficients with a cluster-robust covariance (immutable).

    Attributes
    ----------
    coef, se, vcov
        Estimates of the coefficients on ``X``, standard errors, covariance.
    df
        Degrees of freedom of the reference :math:`t` distribution of each
        coefficient (``G - 1``, or Satterthwaite for CR2).
    t, p
        :math:`t = \\hat\\beta / \\mathrm{se}` and two-sided p-values.
    kind, ssc, df_method
        Covariance type, small-sample convention (CR1 only) and df rule.
    factor
        Scalar factor applied to the sandwich (CR1's ssc; (G-1)/G for CR3J; else 1).
    names, n_obs, n_clusters, fe_levels, fe_nested
        Design facts.
    """

    coef: np.ndarray
    se: np.ndarray
    vcov: np.ndarray
    df: np.ndarray
    t: np.ndarray
    p: np.ndarray
    kind: str
    ssc: str
    df_method: str
    factor: float
    names: tuple[str, ...]
    n_obs: int
    n_clusters: int
    fe_levels: tuple[int, ...] = ()
    fe_nested: tuple[bool, ...] = ()

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """``k x 2`` intervals :math:`\\hat\\beta \\pm t_{1-\\alpha/2,\\,df}\\,\\mathrm{se}`."""
        alpha = check_alpha(alpha)
        q = stats.t.ppf(1 - alpha / 2, self.df)
        return np.column_stack([self.coef - q * self.se, self.coef + q * self.se])

    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row per coefficient: term, estimate, std_error, statistic, df, p_value, conf_low, conf_high."""
        ci = self.conf_int(alpha)
        return pd.DataFrame(
            {
                "term": list(self.names),
                "estimate": self.coef,
                "std_error": self.se,
                "statistic": self.t,
                "df": self.df,
                "p_value": self.p,
                "conf_low": ci[:, 0],
                "conf_high": ci[:, 1],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {
            "kind": self.kind,
            "ssc": self.ssc,
            "df_method": self.df_method,
            "n_obs": self.n_obs,
            "n_clusters": self.n_clusters,
            "terms": [
                {
                    "term": nm,
                    "estimate": num(b),
                    "se": num(s),
                    "df": num(d),
                    "t": num(t),
                    "p": num(p),
                }
                for nm, b, s, d, t, p in zip(
                    self.names, self.coef, self.se, self.df, self.t, self.p, strict=True
                )
            ],
        }


def ols_cluster(
    y: Any,
    X: Any,
    clusters: Any,
    fe: Any = None,
    kind: Kind = "CR1",
    *,
    ssc: str | SSC = "fixest",
    df: Literal["auto", "G-1", "satterthwaite"] = "auto",
    jackknife_center: Literal["estimate", "mean"] = "estimate",
    weights: Any = None,
) -> ClusterOLSResult:
    r"""OLS of ``y`` on ``X`` (and fixed effects) with a cluster-robust covariance.

    Parameters
    ----------
    y
        Outcome, length ``n``.
    X
        ``n x k`` regressors (a DataFrame names the coefficients). Include an
        intercept column yourself when there are no fixed effects; with fixed
        effects an intercept is collinear and rejected.
    clusters
        Cluster label of each row (at least two clusters).
    fe
        Optional fixed-effect factors: a vector, a 2-D array, a list of vectors
        or a DataFrame (one column per factor). Partialled out exactly (module
        docstring); their coefficients are not reported.
    kind
        ``"CR0"``, ``"CR1"`` (default), ``"CR2"``, ``"CR3"`` or ``"CR3J"``.
    ssc
        CR1 small-sample convention: ``"fixest"`` (= ``"stata"``),
        ``"linearmodels"``, ``"none"`` or an :class:`SSC`.
    df
        Reference distribution: ``"auto"`` (Satterthwaite for CR2, else
        :math:`G-1`), ``"G-1"`` or ``"satterthwaite"``.
    jackknife_center
        Centre of the CR3J jackknife (``"estimate"`` or ``"mean"``).
    weights
        Optional positive analytic weights: weighted least squares, with every
        covariance computed on the :math:`\\sqrt{\\omega}`-transformed model
        (:meth:`ClusterDesign.build`).

    Returns
    -------
    ClusterOLSResult
    """
    _check_kind(kind)
    s = SSC.preset(ssc)
    if df not in ("auto", "G-1", "satterthwaite"):
        raise InputError(f"df must be 'auto', 'G-1' or 'satterthwaite' (got {df!r})")
    if jackknife_center not in ("estimate", "mean"):
        raise InputError(
            f"jackknife_center must be 'estimate' or 'mean' (got {jackknife_center!r})"
        )
    des = ClusterDesign.build(y, X, clusters, fe, weights)
    M = des.bread()
    g, e = des.fit()
    V, c = _vcov_from(des, M, e, kind, s, jackknife_center)
    coef = g[: des.k]
    se = np.sqrt(np.diag(V))
    use_satt = df == "satterthwaite" or (df == "auto" and kind == "CR2")
    if use_satt:
        dfs = _satterthwaite(des, M, "CR3" if kind == "CR3J" else kind)
        df_method = "satterthwaite"
    else:
        dfs = np.full(des.k, float(des.G - 1))
        df_method = "G-1"
    with np.errstate(divide="ignore", invalid="ignore"):
        t = coef / se
    p = 2.0 * stats.t.sf(np.abs(t), dfs)
    return ClusterOLSResult(
        coef=_freeze(coef),
        se=_freeze(se),
        vcov=_freeze(V),
        df=_freeze(dfs),
        t=_freeze(t),
        p=_freeze(p),
        kind=kind,
        ssc=s.label if kind == "CR1" else "none",
        df_method=df_method,
        factor=float(c),
        names=des.names,
        n_obs=des.n,
        n_clusters=des.G,
        fe_levels=des.fe_levels,
        fe_nested=des.fe_nested,
    )
