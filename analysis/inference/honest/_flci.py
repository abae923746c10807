r"""Optimal fixed-length confidence intervals (FLCI) for :math:`\Delta^{SD}(M)`.

Armstrong & Kolesár (2018, 2020) as used by Rambachan & Roth (2023, section
4.1); the model and the bias formula are written out in the package docstring
(:mod:`analysis.inference.honest`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from analysis.errors import InputError
from analysis.inference.honest._inputs import _validate


@dataclass(frozen=True)
class FLCIResult:
    """Optimal fixed-length confidence interval for :math:`\\Delta^{SD}(M)`.

    Attributes
    ----------
    lb, ub
        Interval end points.
    estimate
        Centre :math:`v'\\hat\\beta_{pre} + l'\\hat\\beta_{post}`.
    half_length
        :math:`h\\,\\mathrm{cv}_\\alpha(b/h)`.
    max_bias, sd
        Worst-case bias :math:`b` and standard deviation :math:`h` of the estimator.
    weights
        Full weight vector :math:`(v', l')'` on :math:`\\hat\\beta`.
    """

    lb: float
    ub: float
    estimate: float
    half_length: float
    max_bias: float
    sd: float
    weights: tuple[float, ...]


def folded_normal_quantile(p: float, mu: float) -> float:
    """:math:`p`-quantile of :math:`|N(\\mu, 1)|`, exactly (root of
    :math:`\\Phi(c-\\mu) - \\Phi(-c-\\mu) = p`).

    R ``HonestDiD`` estimates this quantile from :math:`10^6` simulated draws;
    here it is solved to machine precision (safeguarded Newton iterations).
    """
    p = float(p)
    if not 0 < p < 1:
        raise InputError(f"p must be in (0, 1), got {p!r}")
    return _fn_quantile(p, abs(float(mu)))[0]


_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


def _fn_quantile(p: float, mu: float) -> tuple[float, float]:
    """Folded-normal quantile :math:`c(\\mu)` and its derivative :math:`c'(\\mu)`."""

    def cdf(x: float) -> float:
        return 0.5 * math.erfc(-x / _SQRT2)

    def pdf(x: float) -> float:
        return math.exp(-0.5 * x * x) / _SQRT2PI

    # max(mu + z_p, z_{(1+p)/2}) <= c <= mu + z_{(1+p)/2}; g(c) = P(|N(mu,1)| <= c) - p is increasing and,
    # for c >= mu, concave, so Newton started at the left end converges monotonically.
    z2 = float(special.ndtri((1 + p) / 2))
    hi = mu + z2
    if p > 0.5:
        c = max(mu + float(special.ndtri(p)), z2)  # both are below the root
        for _ in range(100):
            g = cdf(c - mu) - cdf(-c - mu) - p
            if g >= 0:
                break
            step = -g / (pdf(c - mu) + pdf(c + mu))
            c = min(c + step, hi)
            if step <= 1e-15 * max(1.0, c):
                break
    else:  # pragma: no cover - levels below 50% are not used
        c = float(optimize.brentq(lambda x: cdf(x - mu) - cdf(-x - mu) - p, 0.0, hi, xtol=1e-15))
    f1, f2 = pdf(c - mu), pdf(c + mu)
    return c, (f1 - f2) / (f1 + f2)


def _cv_and_slope(t: float, p: float) -> tuple[float, float]:
    return _fn_quantile(p, abs(t))


# ==========================================================================  FLCI
def _sd_bias_terms(K: int, T: int, lv: np.ndarray) -> tuple[float, np.ndarray]:
    """Post-period constant and pre-period matrix of the worst-case bias / M."""
    t_post = np.arange(1, T + 1)
    const = sum(abs(float(np.sum(lv[t_post > j] * (t_post[t_post > j] - j)))) for j in range(T))
    t_pre = np.arange(-K, 0)
    js = np.arange(-K + 1, 0)
    G = np.where(t_pre[None, :] < js[:, None], js[:, None] - t_pre[None, :], 0.0)
    return float(const), G.astype(float)


def flci(
    betahat: Any,
    sigma: Any,
    num_pre_periods: int,
    num_post_periods: int,
    M: float,
    l_vec: Any = None,
    alpha: float = 0.05,
) -> FLCIResult:
    """Optimal fixed-length confidence interval for :math:`\\theta = l'\\tau_{post}`
    under :math:`\\delta \\in \\Delta^{SD}(M)` (R ``findOptimalFLCI``).

    Parameters
    ----------
    betahat, sigma
        Event-study coefficients (pre then post, reference period excluded) and
        their covariance.
    num_pre_periods, num_post_periods
        :math:`\\underline T` and :math:`\\bar T`.
    M
        Bound on the change in slope of the differential trend, :math:`M \\ge 0`.
    l_vec
        Target weights (default :math:`e_1`).
    alpha
        Level.

    Returns
    -------
    FLCIResult
    """
    b, S, K, T, lv, a = _validate(betahat, sigma, num_pre_periods, num_post_periods, l_vec, alpha)
    M = float(M)
    if not math.isfinite(M) or M < 0:
        raise InputError(f"M must be a non-negative number, got {M!r}")
    return _flci(b, S, K, T, lv, M, a)


def _flci(
    b: np.ndarray, S: np.ndarray, K: int, T: int, lv: np.ndarray, M: float, alpha: float
) -> FLCIResult:
    scale = float(np.sqrt(lv @ S[K:, K:] @ lv))
    Ss = S / scale**2
    Ms = M / scale
    p = 1 - alpha
    const, G = _sd_bias_terms(K, T, lv)
    t_pre = np.arange(-K, 0, dtype=float)
    t_post = np.arange(1, T + 1, dtype=float)
    # v_pre = v0 + N z spans {t_pre' v = -t_post' l}; v0 is the minimum-bias point
    v0 = np.zeros(K)
    v0[-1] = float(t_post @ lv)
    if K > 1:
        _, _, vt = np.linalg.svd(t_pre[None, :])
        N = vt[1:].T
    else:
        N = np.zeros((1, 0))
    Spp, Spq = Ss[:K, :K], Ss[:K, K:]

    def weights(z: np.ndarray) -> np.ndarray:
        return np.concatenate([v0 + N @ z, lv])

    def sd_of(z: np.ndarray) -> float:
        w = weights(z)
        return float(np.sqrt(max(w @ Ss @ w, 0.0)))

    # minimum-variance point (optimal when M = 0: the linear-extrapolation estimator)
    if N.shape[1]:
        H = N.T @ Spp @ N
        g = N.T @ (Spp @ v0 + Spq @ lv)
        z_mv = -np.linalg.lstsq(H, g, rcond=None)[0]
    else:
        z_mv = np.zeros(0)

    def length(z: np.ndarray) -> float:
        h = sd_of(z)
        bias = Ms * (const + float(np.abs(G @ (v0 + N @ z)).sum()))
        return h * folded_normal_quantile(p, bias / h) if h > 0 else np.inf

    if Ms == 0 or N.shape[1] == 0:
        z_best = z_mv
    else:
        nz = N.shape[1]
        GN = G @ N
        Gv0 = G @ v0

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            z, u = x[:nz], x[nz:]
            w = weights(z)
            h = float(np.sqrt(max(w @ Ss @ w, 1e-300)))
            bias = Ms * (const + float(u.sum()))
            t = bias / h
            c, dc = _cv_and_slope(t, p)
            dF_db, dF_dh = dc, c - t * dc
            grad_z = dF_dh * (N.T @ (Ss @ w)[:K]) / h
            grad_u = np.full(u.size, dF_db * Ms)
            return h * c, np.concatenate([grad_z, grad_u])

        nu = G.shape[0]
        Acon = np.block([[-GN, np.eye(nu)], [GN, np.eye(nu)]])
        bcon = np.concatenate([Gv0, -Gv0])
        cons = [{"type": "ineq", "fun": lambda x: Acon @ x + bcon, "jac": lambda x: Acon}]
        candidates = []
        for z0 in (np.zeros(nz), z_mv, 0.5 * z_mv):
            x0 = np.concatenate([z0, np.abs(G @ (v0 + N @ z0)) + 1e-12])
            res = optimize.minimize(
                fun,
                x0,
                jac=True,
                method="SLSQP",
                constraints=cons,
                options={"ftol": 1e-15, "maxiter": 2000},
            )
            z = res.x[:nz]
            candidates.append((length(z), tuple(z)))
        candidates.append((length(z_mv), tuple(z_mv)))
        candidates.append((length(np.zeros(nz)), tuple(np.zeros(nz))))
        z_best = np.asarray(min(candidates)[1])
    w = weights(z_best)
    h = sd_of(z_best)
    bias = Ms * (const + float(np.abs(G @ (v0 + N @ z_best)).sum()))
    half = h * folded_normal_quantile(p, bias / h)
    est = float(w @ b)
    return FLCIResult(
        lb=est - half * scale,
        ub=est + half * scale,
        estimate=est,
        half_length=half * scale,
        max_bias=bias * scale,
        sd=h * scale,
        weights=tuple(float(x) for x in w),
    )


def sd_default_grid_bound(
    betahat: Any, sigma: Any, num_pre_periods: int, alpha: float = 0.05
) -> float:
    """Upper end of the default :math:`M` grid (R ``DeltaSD_upperBound_Mpre``).

    The largest one-sided upper confidence bound on the absolute pre-period
    second differences (with :math:`\\delta_0 = 0`):
    :math:`\\max_j |\\Delta^2\\hat\\beta_j| + z_{1-\\alpha} \\mathrm{se}_j`.
    R uses the signed difference; the absolute value keeps the bound positive.
    """
    K = int(num_pre_periods)
    b = np.asarray(betahat, dtype=float)[:K]
    S = np.asarray(sigma, dtype=float)[:K, :K]
    if K < 2:
        return float(np.sqrt(S[0, 0]))
    full = np.zeros((K - 1, K + 1))
    for r in range(K - 1):
        full[r, r : r + 3] = (1.0, -2.0, 1.0)
    A = full[:, :K]  # drop delta_0 = 0
    diffs = A @ b
    se = np.sqrt(np.diag(A @ S @ A.T))
    return float(np.max(np.abs(diffs) + stats.norm.ppf(1 - alpha) * se))
