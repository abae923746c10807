r"""The ARP conditional and hybrid tests (Andrews, Roth & Pakes 2023) and their
inversion into confidence sets for :math:`\theta = l'\tau_{post}`.

For a polyhedron :math:`\{A\delta \le d\}` the null :math:`l'\tau_{post} =
\theta` is the moment inequality :math:`E[\tilde y] - \tilde X\tilde\tau \le 0`
with :math:`\tilde y = (A\hat\beta - d - a_1\theta)/\sigma` (rows standardised)
and nuisance :math:`\tilde\tau \in \mathbb{R}^{\bar T - 1}`. The statistic
:math:`\hat\eta = \min_{\tilde\tau}\max_i(\tilde y_i - \tilde X_i\tilde\tau)
= \max_{\gamma \in P}\gamma'\tilde y` over the dual polytope
:math:`P = \{\gamma \ge 0, 1'\gamma = 1, \tilde X'\gamma = 0\}`; conditioning
on the optimal vertex :math:`\gamma^*` gives a normal truncated to
:math:`[V^{lo}, V^{up}]`. Two exact evaluations of the same test:

* **vertex path** (small problems): the vertices of :math:`P` are enumerated
  once; :math:`\hat\eta`, :math:`V^{lo}`, :math:`V^{up}` are then closed forms,
  vectorised over the :math:`\theta` grid;
* **LP path** (when the enumeration would visit more than ``_MAX_SUPPORTS``
  supports, e.g. 23 post-periods): :math:`\hat\eta` and :math:`\gamma^*` by the
  dual simplex (HiGHS), and :math:`V^{up}` (:math:`V^{lo}`) as the largest
  (smallest) :math:`c` with :math:`\max_{\gamma\in P}\gamma'(s + bc) = c`,
  found by Newton steps on this convex piecewise-linear function -- exact in
  finitely many steps (R: the same function, by bisection to :math:`10^{-6}`).

Hybrids (R ``hybrid_flag``): ``"ARP"`` (the conditional test, size
:math:`\alpha`); ``"LF"`` (first stage rejects when :math:`\hat\eta` exceeds
the :math:`1-\kappa` least-favourable quantile, :math:`V^{up}` capped there);
``"FLCI"`` (first stage rejects when :math:`\theta` is outside the level-
:math:`\kappa` FLCI :math:`w'\hat\beta \pm h`; the truncation adds
:math:`|w'\hat\beta - \theta| \le h`, i.e. with :math:`c_F =
\mathrm{Cov}(w'\hat\beta, \hat\eta)/\mathrm{Var}(\hat\eta)` the bounds
:math:`\hat\eta + (\theta \mp h - w'\hat\beta)/c_F`). Second stages use size
:math:`(\alpha-\kappa)/(1-\kappa)`.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache
from itertools import combinations

import numpy as np
from scipy import optimize, special

from analysis.errors import InputError

# Largest number of candidate supports enumerated for the ARP vertex list;
# above it the test is evaluated by linear programs.
_MAX_SUPPORTS = 400_000
# Initial theta-grid size on the LP path (end points are refined as always).
_LP_GRID_POINTS = 101


def _tn_quantile(p: float, lo: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Quantile of a standard normal truncated to ``[lo, up]`` (vectorised, stable
    in both tails)."""
    lo = np.asarray(lo, dtype=float)
    up = np.asarray(up, dtype=float)
    out = np.empty(np.broadcast(lo, up).shape)
    lo, up = np.broadcast_to(lo, out.shape), np.broadcast_to(up, out.shape)
    right = lo >= 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # right tail: survival-function form
        ls_a, ls_b = special.log_ndtr(-lo), special.log_ndtr(-up)
        log_s = ls_a + np.log1p(-p + p * np.exp(ls_b - ls_a))
        q_right = -special.ndtri_exp(log_s)
        # left / central: distribution-function form
        lc_a, lc_b = special.log_ndtr(lo), special.log_ndtr(up)
        log_c = lc_b + np.log(p + (1 - p) * np.exp(lc_a - lc_b))
        q_left = special.ndtri_exp(log_c)
    out[...] = np.where(right, q_right, q_left)
    return np.clip(out, lo, up)


class _ARPPiece:
    """ARP conditional (hybrid) test of one polyhedron :math:`\\{A\\delta \\le d\\}`.

    Works in standardised moments: rows divided by their standard deviations,
    so the dual feasible set is :math:`\\{\\gamma \\ge 0, 1'\\gamma = 1,
    \\tilde X'\\gamma = 0\\}`, whose vertices are enumerated once (or, above
    ``_MAX_SUPPORTS`` candidate supports, visited by linear programs).
    """

    def __init__(
        self,
        A: np.ndarray,
        d: np.ndarray,
        b: np.ndarray,
        S: np.ndarray,
        K: int,
        lv: np.ndarray,
        post_only: bool = True,
    ) -> None:
        A_post = A[:, K:]
        if post_only:
            rows = np.flatnonzero(np.any(np.abs(A_post) > 0, axis=1))
            A, d, A_post = A[rows], d[rows], A_post[rows]
        T = lv.size
        g1 = lv / (lv @ lv)
        if T > 1:
            _, _, vt = np.linalg.svd(lv[None, :])
            null = vt[1:].T
        else:
            null = np.zeros((1, 0))
        a1 = A_post @ g1
        X = A_post @ null
        SY = A @ S @ A.T
        sd = np.sqrt(np.clip(np.diag(SY), 0, None))
        if np.any(sd <= 1e-12 * max(sd.max(), 1e-300)):
            raise InputError("a moment of the restriction set has zero variance; sigma is singular")
        self.A, self.sd = A, sd
        self.y0 = (A @ b - d) / sd
        self.a1 = a1 / sd
        self.corr = SY / np.outer(sd, sd)
        Xs = X / sd[:, None]
        self.m = A.shape[0]
        self.lf_cv = np.inf
        self.flci: tuple[float, float, np.ndarray] | None = None
        self.use_lp = self._n_supports(Xs) > _MAX_SUPPORTS
        if self.use_lp:
            self.Xs = Xs
            return
        self.vertices = self._vertices(Xs)
        if self.vertices.shape[0]:
            VS = self.vertices @ self.corr @ self.vertices.T
            self.var_v = np.diag(VS).copy()
            with np.errstate(divide="ignore", invalid="ignore"):
                self.Bmat = VS / self.var_v[None, :]

    @staticmethod
    def _n_supports(Xs: np.ndarray) -> int:
        m = Xs.shape[0]
        r = (
            int(np.linalg.matrix_rank(Xs, tol=1e-10 * max(np.abs(Xs).max(), 1e-300)))
            if Xs.shape[1]
            else 0
        )
        return math.comb(m, r + 1)

    @staticmethod
    def _vertices(Xs: np.ndarray) -> np.ndarray:
        m = Xs.shape[0]
        if Xs.shape[1]:
            U, sv, _ = np.linalg.svd(Xs, full_matrices=False)
            r = int(np.sum(sv > 1e-10 * max(sv.max(), 1e-300)))
            U = U[:, :r]
        else:
            U, r = np.zeros((m, 0)), 0
        ones = np.ones(m)
        resid = ones - U @ (U.T @ ones)
        if np.linalg.norm(resid) < 1e-9 * np.sqrt(m):
            return np.zeros((0, m))  # dual infeasible: the statistic is -inf
        W = np.column_stack([ones, U])  # m x (r+1)
        k = r + 1
        rhs = np.zeros(k)
        rhs[0] = 1.0
        verts = []
        combos = np.array(list(combinations(range(m), k)), dtype=np.int64).reshape(-1, k)
        for start in range(0, combos.shape[0], 20_000):
            cb = combos[start : start + 20_000]
            Wb = np.transpose(W[cb], (0, 2, 1))  # n x k x k : W_B'
            det = np.linalg.det(Wb)
            ok = np.abs(det) > 1e-10
            if not ok.any():
                continue
            sol = np.linalg.solve(Wb[ok], np.broadcast_to(rhs, (int(ok.sum()), k))[..., None])[
                ..., 0
            ]
            feas = np.all(sol >= -1e-10, axis=1)
            for idx, gam in zip(cb[ok][feas], sol[feas], strict=True):
                v = np.zeros(m)
                v[idx] = np.clip(gam, 0, None)
                v /= v.sum()
                verts.append(v)
        if not verts:
            return np.zeros((0, m))
        V = np.unique(np.round(np.array(verts), 12), axis=0)
        return V

    # ------------------------------------------------------------ LP path
    def _lp_max(self, y: np.ndarray) -> tuple[float, np.ndarray | None]:
        """:math:`\\max_{\\gamma \\in P}\\gamma'y` and the maximising vertex, as the
        primal :math:`\\min\\eta` s.t. :math:`y - \\tilde X\\tau \\le \\eta 1`
        (dual simplex; the duals are the vertex)."""
        m, k = self.Xs.shape
        c = np.zeros(k + 1)
        c[0] = 1.0
        res = optimize.linprog(
            c,
            A_ub=-np.column_stack([np.ones(m), self.Xs]),
            b_ub=-y,
            bounds=[(None, None)] * (k + 1),
            method="highs-ds",
        )
        if res.status == 3:  # unbounded below: P is empty
            return -np.inf, None
        if res.status != 0:
            raise RuntimeError(f"ARP linear program failed: {res.message}")
        gam = np.clip(-res.ineqlin.marginals, 0, None)
        return float(res.fun), gam / gam.sum()

    def _lp_truncation(
        self, s: np.ndarray, bvec: np.ndarray, eta: float, sig: float, side: int
    ) -> float:
        """End of :math:`\\{c : \\max_{\\gamma\\in P}\\gamma'(s + bc) = c\\}` on one
        side (``+1``: :math:`V^{up}`, ``-1``: :math:`V^{lo}`), by Newton steps on
        the convex piecewise-linear excess :math:`f(c) = \\max_\\gamma\\gamma'(s+bc) - c`."""
        tol = 1e-9 * max(1.0, abs(eta), sig)
        c = max(100.0, eta + 20.0 * sig) if side > 0 else min(-100.0, eta - 20.0 * sig)
        val, g = self._lp_max(s + bvec * c)
        if val - c <= tol:
            return side * np.inf
        for _ in range(200):
            slope = float(g @ bvec)
            if abs(1.0 - slope) < 1e-14:
                break
            c = float(g @ s) / (1.0 - slope)
            val, g = self._lp_max(s + bvec * c)
            if val - c <= tol:
                break
        return c

    def _lp_stats(
        self, theta: np.ndarray, first: np.ndarray, hybrid: str
    ) -> tuple[np.ndarray, ...]:
        """eta, its variance, vlo, vup and Cov(FLCI, eta) per theta. The truncation
        LPs are skipped where the decision does not depend on them: a first-stage
        rejection, or eta <= 0 (never rejected: the critical value is >= 0)."""
        n = theta.size
        eta, var_b = np.empty(n), np.empty(n)
        vlo, vup, q = np.full(n, -np.inf), np.full(n, np.inf), np.zeros(n)
        for j, th in enumerate(theta):
            y = self.y0 - self.a1 * th
            e, g = self._lp_max(y)
            eta[j] = e
            if g is None:
                var_b[j] = 0.0
                continue
            cg = self.corr @ g
            var_b[j] = float(g @ cg)
            if self.flci is not None:
                q[j] = float(g @ self.flci[2])
            skip = first[j] or e <= 0 or (hybrid == "LF" and e > self.lf_cv)
            if skip or var_b[j] < np.finfo(float).eps:
                continue
            bvec = cg / var_b[j]
            s = y - bvec * e
            sig = math.sqrt(var_b[j])
            vup[j] = self._lp_truncation(s, bvec, e, sig, +1)
            vlo[j] = self._lp_truncation(s, bvec, e, sig, -1)
        return eta, var_b, vlo, vup, q

    # ------------------------------------------------------------ hybrids
    def set_lf_cv(self, z_draws: np.ndarray, kappa: float) -> None:
        """Least-favourable first-stage critical value: :math:`1-\\kappa` quantile
        of :math:`\\hat\\eta` under :math:`E[\\tilde y] = 0`."""
        w, Q = np.linalg.eigh(self.corr)
        root = Q * np.sqrt(np.clip(w, 0, None))[None, :]  # corr = root root'
        if self.use_lp:
            ys = z_draws[:, : self.m] @ root.T
            eta = np.array([self._lp_max(y)[0] for y in ys])
            self.lf_cv = float(np.quantile(eta, 1 - kappa))
            return
        if not self.vertices.shape[0]:
            self.lf_cv = np.inf
            return
        # eta_i = max_v gamma_v' root z_i
        # (einsum, not BLAS: multithreaded BLAS is slow for this tall, thin product)
        P = root.T @ self.vertices.T
        eta = np.max(np.einsum("ij,jk->ik", z_draws[:, : self.m], P), axis=1)
        self.lf_cv = float(np.quantile(eta, 1 - kappa))

    def set_flci(
        self, weights: np.ndarray, half_length: float, b: np.ndarray, S: np.ndarray
    ) -> None:
        """First stage of the FLCI hybrid: the level-kappa FLCI ``weights'b +- half_length``;
        stores :math:`\\mathrm{Cov}(\\tilde y, w'\\hat\\beta)` for the truncation."""
        w = np.asarray(weights, dtype=float)
        self.flci = (float(w @ b), float(half_length), (self.A @ S @ w) / self.sd)

    # ------------------------------------------------------------- the test
    def accept(self, theta: np.ndarray, alpha: float, hybrid: str, kappa: float) -> np.ndarray:
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        if self.use_lp:
            first = self._first_stage(theta, hybrid)
            eta, var_b, vlo, vup, q = self._lp_stats(theta, first, hybrid)
            return self._decide(theta, eta, var_b, vlo, vup, q, alpha, hybrid, kappa, first)
        if not self.vertices.shape[0]:
            return ~self._first_stage(theta, hybrid)
        Y = self.y0[:, None] - self.a1[:, None] * theta[None, :]  # m x n
        E = self.vertices @ Y  # nv x n
        k = np.argmax(E, axis=0)
        cols = np.arange(theta.size)
        eta = E[k, cols]
        var_b = self.var_v[k]
        Bk = self.Bmat[:, k]  # nv x n: gamma_v' Sigma gamma_k / sigma_k^2
        a = E - Bk * eta[None, :]
        den = 1.0 - Bk
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = a / den
        tol = 1e-10
        vlo = np.max(np.where(den > tol, ratio, -np.inf), axis=0)
        vup = np.min(np.where(den < -tol, ratio, np.inf), axis=0)
        q = (self.vertices @ self.flci[2])[k] if self.flci is not None else np.zeros(theta.size)
        return self._decide(
            theta, eta, var_b, vlo, vup, q, alpha, hybrid, kappa, self._first_stage(theta, hybrid)
        )

    def _first_stage(self, theta: np.ndarray, hybrid: str) -> np.ndarray:
        """FLCI-hybrid first-stage rejections (the LF one needs eta: in ``_decide``).

        The FLCI end points themselves count as rejected: there the truncation
        interval closes at the statistic and the decision is a floating-point
        tie (R's grid starts and ends at these points; its decision there turns
        on the rounding of its numerically solved ``vbar``)."""
        if hybrid == "FLCI":
            est, half, _ = self.flci
            return np.abs(est - theta) >= half * (1 - 1e-12)
        return np.zeros(theta.size, dtype=bool)

    def _decide(self, theta, eta, var_b, vlo, vup, q, alpha, hybrid, kappa, first) -> np.ndarray:
        sig_b = np.sqrt(np.clip(var_b, 0, None))
        if hybrid == "LF":
            size = (alpha - kappa) / (1 - kappa)
            vup = np.minimum(vup, self.lf_cv)
        elif hybrid == "FLCI":
            size = (alpha - kappa) / (1 - kappa)
            est, half, _ = self.flci
            with np.errstate(divide="ignore", invalid="ignore"):
                cF = q / var_b
                r_F = est - cF * eta
                lo_F = np.where(cF > 0, (theta - half - r_F) / cF, (theta + half - r_F) / cF)
                up_F = np.where(cF > 0, (theta + half - r_F) / cF, (theta - half - r_F) / cF)
            live = np.abs(cF) > 1e-12
            vlo = np.where(live, np.maximum(vlo, lo_F), vlo)
            vup = np.where(live, np.minimum(vup, up_F), vup)
        else:
            size = alpha
        degenerate = var_b < np.finfo(float).eps
        sig_safe = np.where(degenerate, 1.0, sig_b)
        zlo, zup, stat = vlo / sig_safe, vup / sig_safe, eta / sig_safe
        inside = (zlo <= stat) & (stat <= zup)
        cval = np.zeros_like(stat)
        if inside.any():
            cval[inside] = np.maximum(0.0, _tn_quantile(1 - size, zlo[inside], zup[inside]))
        reject = inside & (stat > cval)
        if hybrid == "LF":
            reject |= eta > self.lf_cv
        reject = np.where(degenerate, eta > 0, reject)
        return ~(reject | first)


# ============================================================  test inversion
def _arp_ci(
    pieces: list[tuple[np.ndarray, np.ndarray]],
    b: np.ndarray,
    S: np.ndarray,
    K: int,
    lv: np.ndarray,
    alpha: float,
    *,
    hybrid: str,
    kappa: float,
    grid_points: int,
    lf_sims: int,
    seed: int,
    id_set: tuple[float, float],
    post_only: bool = True,
    flci=None,
) -> tuple[float, float]:
    """Hull of the union over ``pieces`` of the ARP confidence sets.

    The accepted set is found on a grid -- the identified set (``id_set``)
    plus 20 standard errors of :math:`l'\\hat\\beta_{post}` on each side,
    widened while a grid end is accepted; for the FLCI hybrid the level-kappa
    FLCI ``flci`` itself (nothing outside it is accepted), as R -- and each end
    point is then refined between its grid neighbours.
    """
    arps = [_ARPPiece(A, d, b, S, K, lv, post_only) for A, d in pieces]
    lp = any(p.use_lp for p in arps)
    n_grid = min(grid_points, _LP_GRID_POINTS) if lp else grid_points
    if hybrid == "LF":
        z = _draws(seed, lf_sims, max(p.m for p in arps))
        for p in arps:
            p.set_lf_cv(z, kappa)
    sd_theta = float(np.sqrt(lv @ S[K:, K:] @ lv))
    if hybrid == "FLCI":
        for p in arps:
            p.set_flci(np.asarray(flci.weights), flci.half_length, b, S)
        lo, hi = flci.lb, flci.ub
        grid = np.linspace(lo, hi, n_grid)
        acc = [p.accept(grid, alpha, hybrid, kappa) for p in arps]
    else:
        id_lb, id_ub = id_set
        if not (np.isfinite(id_lb) and np.isfinite(id_ub)):
            id_lb = id_ub = float(lv @ b[K:])
        margin = 20.0 * sd_theta
        for _ in range(8):
            lo, hi = id_lb - margin, id_ub + margin
            grid = np.linspace(lo, hi, n_grid)
            acc = [p.accept(grid, alpha, hybrid, kappa) for p in arps]
            if not any(x[0] or x[-1] for x in acc):
                break
            margin *= 2
        else:
            warnings.warn(
                "robust confidence set is open at the end of the theta grid; "
                "reported bounds are grid limits",
                RuntimeWarning,
                stacklevel=3,
            )
    lbs, ubs = [], []
    tol = 1e-10 * max(hi - lo, sd_theta)
    for p, ac in zip(arps, acc, strict=True):
        idx = np.flatnonzero(ac)
        if not idx.size:
            continue
        i, j = idx[0], idx[-1]
        pts = 3 if p.use_lp else 65
        lbs.append(
            grid[i]
            if i == 0
            else _bisect(p, grid[i - 1], grid[i], alpha, hybrid, kappa, tol, points=pts)
        )
        ubs.append(
            grid[j]
            if j == grid.size - 1
            else _bisect(p, grid[j + 1], grid[j], alpha, hybrid, kappa, tol, points=pts)
        )
    if not lbs:
        return math.nan, math.nan
    return float(min(lbs)), float(max(ubs))


@lru_cache(maxsize=4)
def _draws(seed: int, n: int, m: int) -> np.ndarray:
    """Standard normal draws for the least-favourable critical values, shared by
    every piece and every bound of one analysis (common random numbers, so the
    intervals and the breakdown search vary smoothly with the bound)."""
    z = np.random.default_rng(seed).standard_normal((n, m))
    z.setflags(write=False)
    return z


def _bisect(
    piece: _ARPPiece,
    rejected: float,
    accepted: float,
    alpha: float,
    hybrid: str,
    kappa: float,
    tol: float,
    points: int = 65,
) -> float:
    """Boundary between a rejected and an accepted theta, by repeated
    sub-gridding of the bracket (returns the accepted side, within ``tol``)."""
    r, a = rejected, accepted
    for _ in range(20 if points > 3 else 60):
        if abs(a - r) <= tol:
            break
        pts = np.linspace(r, a, points)
        if piece.use_lp:  # one LP evaluation per inner point; the ends are known
            ok = np.concatenate([[False], piece.accept(pts[1:-1], alpha, hybrid, kappa), [True]])
        else:
            ok = piece.accept(pts, alpha, hybrid, kappa)
        ok[-1] = True
        i = int(np.argmax(ok))  # first accepted point walking from the rejected side
        r, a = pts[i - 1], pts[i]
    return a
