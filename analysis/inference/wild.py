r"""Wild cluster bootstrap for one regression coefficient ("fast and wild").

Setting
-------
OLS of :math:`y` on :math:`X` (and fixed effects) with :math:`G` clusters;
test :math:`H_0: \beta_j = r` for one coefficient :math:`j`. Fixed effects
are handled exactly as in :mod:`analysis.inference.crve`: the factor nested
in the clusters is partialled out (Frisch-Waugh), other factors (e.g. year
effects with clustering by unit) are carried as within-transformed dummy
columns. Write :math:`Z` (:math:`n\times p`) for the resulting design,
:math:`M = (Z'Z)^{-1}`, :math:`q = M e_j`. Because the partialled-out factor
is constant within clusters, bootstrapping the partialled data is identical
to bootstrapping the dummy-variable regression (re-estimating the fixed effects
in every draw), which is what ``boottest``/``wildboottest`` do.

Bootstrap DGPs
--------------
WCR (``impose_null=True``, Roodman et al. 2019; MacKinnon-Webb's WCR-C): the
restricted fit :math:`\tilde\beta(r)` (with :math:`\tilde\beta_j = r`) has
residuals :math:`\tilde u(r) = M_{Z_{-j}}(y - r z_j) = \tilde u_0 - r\,\tilde u_1`
(affine in :math:`r`). Draw :math:`y^*_b = Z\tilde\beta(r) + v_{b,g(i)}\tilde u_i(r)`
with one weight :math:`v_{bg}` per cluster (:math:`E v = 0`, :math:`E v^2 = 1`)
and re-estimate. WCU (``impose_null=False``): the same with the unrestricted
:math:`\hat\beta, \hat u`.

Fast algebra
------------
With per-cluster scores :math:`s_g = Z_g'\tilde u_g`, :math:`n_g = q's_g`
and :math:`W_h = Z_h'Z_h q`,

.. math::

    \hat\beta^*_{bj} - r = \sum_g v_{bg}\, n_g, \qquad
    q'Z_h'\hat u^*_{bh} = \sum_g v_{bg}\, C_{hg}, \qquad
    C = \operatorname{diag}(n) - W M S' ,

so each draw's CR1 t-statistic is

.. math::

    t^*_b = \frac{\sum_g v_{bg} n_g}{\sqrt{c\sum_h \big(\sum_g v_{bg} C_{hg}\big)^2}},

with CR1 factor :math:`c = \frac{G}{G-1}\frac{n-1}{n-K}` (fixest/boottest; it
cancels in every p-value). The :math:`G` and :math:`G\times G` pieces are
computed once; a block of :math:`B_b` draws costs two :math:`B_b\times G`
by :math:`G\times G` products. Because :math:`n` and :math:`C` are affine in
:math:`r` (WCR), every draw keeps five numbers from which :math:`t^*_b(r)`
follows for *any* :math:`r` in :math:`O(1)`:
:math:`t^*_b(r) = (N_b - \delta N^1_b)/\sqrt{c(D_b - 2\delta D^1_b + \delta^2 D^2_b)}`,
:math:`\delta = r - r_0`.

For WCU the centred statistic is :math:`t^*_b = (\hat\beta^*_{bj} - \hat\beta_j)/\mathrm{se}^*_b`.
The sample statistic is :math:`t = (\hat\beta_j - r)/\mathrm{se}_{CR1}` in both.

p-values and confidence intervals
---------------------------------
Symmetric: :math:`p = B^{-1}\#\{b: |t^*_b| \ge |t|\}`; equal-tailed:
:math:`p = 2\min(B^{-1}\#\{t^*_b \le t\},\ B^{-1}\#\{t^*_b \ge t\})` (capped at 1).
Ties are counted (``>=``) with the package's tie rule
(:mod:`analysis.inference.ties`, relative tolerance ``TIE_RTOL`` = ``1e-10``), so that under
exact enumeration the draw :math:`v = \pm 1` -- which reproduces the sample
statistic exactly -- counts, as in a randomisation test. (``wildboottest``
counts only strict exceedances; the difference is :math:`O(2^{-G})`.)

The WCR interval inverts the test: :math:`\{r: p(r) > \alpha\}`, with the same
draws for every :math:`r`. :math:`p(r) > \alpha` iff :math:`|t(r)| \le`
the :math:`(\lfloor\alpha B\rfloor + 1)`-th largest :math:`|t^*_b(r)|`
(symmetric; the equal-tailed analogue uses both tails at
:math:`\lfloor\alpha B/2\rfloor + 1`). The difference of the two sides is a
continuous function of :math:`r`; the endpoints are its first roots on either
side of :math:`\hat\beta_j` (grid search outward in steps of
:math:`\mathrm{se}/4`, then bisection to ``1e-10 * se``); an interval may be
unbounded (e.g. :math:`2^G\alpha < 2` under enumeration, where no value can be
rejected). The WCU interval is the studentised percentile-t interval in closed form.

Under WCR a draw whose weights are all equal, :math:`v = w\mathbf 1`, gives
exactly :math:`t^* = \operatorname{sign}(w)\, t` for every :math:`r` (with
Rademacher weights: :math:`v = \pm\mathbf 1`). Such draws are flagged and set to
:math:`\pm t` exactly, so that p-values and interval endpoints do not depend on
rounding (these ties are why the WCR p-value under enumeration is at least
:math:`2/2^G`).

Weights
-------
``rademacher`` (:math:`\pm1`), ``webb`` (:math:`\pm\sqrt{3/2}, \pm1, \pm\sqrt{1/2}`,
each 1/6), ``mammen`` (:math:`(1-\sqrt5)/2` w.p. :math:`(\sqrt5+1)/(2\sqrt5)`,
else :math:`(1+\sqrt5)/2`), ``normal``. With Rademacher weights and
:math:`2^G \le B` (``enumerate="auto"``) all :math:`2^G` sign vectors are used:
the p-value is then exact and deterministic, and no random numbers are drawn.

Random draws go through :func:`analysis.inference.engine.run_draws` in blocks
of :data:`BLOCK` draws: the same ``seed`` gives identical output for any
``n_jobs`` or backend.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from analysis.errors import InputError
from analysis.inference.crve import SSC, ClusterDesign, ssc_factor
from analysis.inference.engine import run_draws
from analysis.inference.ties import (  # noqa: F401
    TIE_RTOL,
    count_at_least,
    count_at_most,
    tie_tolerance,
)
from analysis.validation import check_alpha

WeightsName = Literal["rademacher", "webb", "mammen", "normal"]
WEIGHTS: tuple[str, ...] = ("rademacher", "webb", "mammen", "normal")
PTypes: tuple[str, ...] = ("symmetric", "equal-tailed")
#: Draws per block of the simulation engine (part of the random design).
BLOCK = 1000
#: Largest G for which full enumeration of 2^G sign vectors is allowed.
MAX_ENUM_G = 20

_SQRT5 = math.sqrt(5.0)
_MAMMEN_LOW = (1.0 - _SQRT5) / 2.0
_MAMMEN_HIGH = (1.0 + _SQRT5) / 2.0
_MAMMEN_P_LOW = (_SQRT5 + 1.0) / (2.0 * _SQRT5)
_WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])

__all__ = [
    "WEIGHTS",
    "MultiplierResult",
    "WildResult",
    "cluster_multiplier_bootstrap",
    "draw_weights",
    "wild_cluster_bootstrap",
]


# --------------------------------------------------------------------------- weights
def draw_weights(rng: np.random.Generator, size: int, G: int, weights: str) -> np.ndarray:
    """``size x G`` matrix of i.i.d. cluster weights (mean 0, variance 1)."""
    if weights == "rademacher":
        bits = rng.integers(0, 2, size=(size, G), dtype=np.int8)
        return 1.0 - 2.0 * bits
    if weights == "webb":
        return _WEBB[rng.integers(0, 6, size=(size, G))]
    if weights == "mammen":
        u = rng.random(size=(size, G))
        return np.where(u < _MAMMEN_P_LOW, _MAMMEN_LOW, _MAMMEN_HIGH)
    if weights == "normal":
        return rng.standard_normal(size=(size, G))
    raise InputError(f"weights must be one of {', '.join(map(repr, WEIGHTS))} (got {weights!r})")


def _sign_vectors(start: int, stop: int, G: int) -> np.ndarray:
    """Rows ``start..stop-1`` of the 2^G sign vectors (row 0 is all +1)."""
    idx = np.arange(start, stop, dtype=np.int64)[:, None]
    bits = (idx >> np.arange(G, dtype=np.int64)[None, :]) & 1
    return 1.0 - 2.0 * bits


# --------------------------------------------------------------------------- per-draw pieces
def _tie_sign(V: np.ndarray) -> np.ndarray:
    """+1 / -1 for draws whose weights are all equal and positive / negative, else 0."""
    const = np.all(V == V[:, :1], axis=1)
    return np.where(const, np.sign(V[:, 0]), 0.0)


def _pieces(V: np.ndarray, n0, CT0, n1=None, CT1=None) -> np.ndarray:
    """Per-draw numbers: WCU -> (N, D); WCR -> (N, N1, D, D1, D2, tie sign)."""
    if n1 is None:
        E0 = V @ CT0
        return np.column_stack([V @ n0, np.einsum("bg,bg->b", E0, E0)])
    G = V.shape[1]
    E = V @ np.hstack([CT0, CT1])  # one product for both pieces
    E0, E1 = E[:, :G], E[:, G:]
    N = V @ np.column_stack([n0, n1])
    return np.column_stack(
        [
            N[:, 0],
            N[:, 1],
            np.einsum("bg,bg->b", E0, E0),
            np.einsum("bg,bg->b", E0, E1),
            np.einsum("bg,bg->b", E1, E1),
            _tie_sign(V),
        ]
    )


def _random_block(rng: np.random.Generator, size: int, *, G: int, weights: str, n0, CT0, n1, CT1):
    return _pieces(draw_weights(rng, size, G, weights), n0, CT0, n1, CT1)


def _enumerated(G: int, n0, CT0, n1, CT1) -> np.ndarray:
    total = 1 << G
    step = 1 << 14
    parts = [
        _pieces(_sign_vectors(a, min(a + step, total), G), n0, CT0, n1, CT1)
        for a in range(0, total, step)
    ]
    return np.concatenate(parts, axis=0)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class WildResult:
    """Wild cluster bootstrap test and confidence interval for one coefficient.

    Attributes
    ----------
    estimate, se
        :math:`\\hat\\beta_j` and its CR1 (fixest) standard error.
    t_stat
        :math:`(\\hat\\beta_j - r)/\\mathrm{se}` at the null value ``null``.
    p_value
        Bootstrap p-value of ``p_type`` at ``null``.
    ci
        ``(low, high)`` at level :math:`1-\\alpha` (test inversion for WCR,
        percentile-t for WCU); ``nan`` if not computed; ``inf`` if unbounded.
    draws_used
        Number of bootstrap statistics (``2**G`` under enumeration).
    enumerated
        Whether all sign vectors were enumerated (exact, no randomness).
    t_draws
        The bootstrap statistics at ``null`` (read-only).
    """

    estimate: float
    se: float
    t_stat: float
    p_value: float
    ci: tuple[float, float]
    draws_used: int
    enumerated: bool
    weights: str
    B: int
    seed: int | None
    null: float
    impose_null: bool
    p_type: str
    alpha: float
    coef_index: int
    term: str
    n_obs: int
    n_clusters: int
    t_draws: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {
            "term": self.term,
            "estimate": num(self.estimate),
            "se": num(self.se),
            "t_stat": num(self.t_stat),
            "p_value": num(self.p_value),
            "ci": [num(self.ci[0]), num(self.ci[1])],
            "null": self.null,
            "bootstrap": "WCR" if self.impose_null else "WCU",
            "weights": self.weights,
            "B": self.B,
            "draws_used": self.draws_used,
            "enumerated": self.enumerated,
            "seed": self.seed,
            "p_type": self.p_type,
            "alpha": self.alpha,
            "n_obs": self.n_obs,
            "n_clusters": self.n_clusters,
        }


# --------------------------------------------------------------------------- validation
def _check_int(name: str, v: Any, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise InputError(f"{name} must be an integer (got {v!r})")
    if v < lo:
        raise InputError(f"{name} must be at least {lo} (got {v})")
    return int(v)


def _coef_position(coef_index: Any, names: tuple[str, ...]) -> int:
    if isinstance(coef_index, str):
        if coef_index not in names:
            raise InputError(f"coef_index {coef_index!r} is not a regressor ({', '.join(names)})")
        return names.index(coef_index)
    if isinstance(coef_index, bool) or not isinstance(coef_index, (int, np.integer)):
        raise InputError(f"coef_index must be an integer or a column name (got {coef_index!r})")
    if not 0 <= coef_index < len(names):
        raise InputError(f"coef_index must lie in 0..{len(names) - 1} (got {coef_index})")
    return int(coef_index)


# --------------------------------------------------------------------------- statistics
def _tstar(P: np.ndarray, c: float, delta: float, restricted: bool, t: float = 0.0) -> np.ndarray:
    """Bootstrap t-statistics at :math:`r = r_0 + \\delta`.

    Under WCR a draw with all weights equal to :math:`w` reproduces
    :math:`\\operatorname{sign}(w)\\, t` exactly; those draws are set to it exactly
    (``t`` is the sample statistic at the same :math:`r`).
    """
    if not restricted:
        N, D = P[:, 0], P[:, 1]
    else:
        N = P[:, 0] - delta * P[:, 1]
        D = P[:, 2] - 2.0 * delta * P[:, 3] + delta * delta * P[:, 4]
    D = np.maximum(D, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ts = N / np.sqrt(c * D)
    if restricted:
        tie = P[:, 5] != 0
        if tie.any():
            ts[tie] = P[tie, 5] * t
    return ts


def _p_value(t: float, ts: np.ndarray, p_type: str) -> float:
    ts = ts[np.isfinite(ts)]
    if ts.size == 0:
        return float("nan")
    if p_type == "symmetric":
        return float(count_at_least(np.abs(ts), abs(t)) / ts.size)
    lo = count_at_most(ts, t) / ts.size
    hi = count_at_least(ts, t) / ts.size
    return float(min(1.0, 2.0 * min(lo, hi)))


def _kth_largest(a: np.ndarray, k: int) -> float:
    if k <= 0:
        return math.inf
    if k > a.size:
        return -math.inf
    return float(np.partition(a, a.size - k)[a.size - k])


def _acceptance(
    t: float, ts: np.ndarray, sign: np.ndarray, p_type: str, alpha: float, B: int
) -> float:
    """Continuous margin, >= 0 iff :math:`p(r) > \\alpha`.

    ``ts`` are the statistics of the non-constant draws, ``sign`` the tie signs of
    the constant draws (their statistics are exactly :math:`\\pm t`).

    Ties follow :mod:`analysis.inference.ties`, as in :func:`_p_value`: a draw
    within :math:`\\epsilon` of :math:`t` counts as at least as extreme, so the
    margin is shifted by :math:`\\epsilon`. Without it, draws whose statistic
    equals :math:`\\pm t` in exact arithmetic (weight vectors that are constant
    on the clusters that move the coefficient) leave the margin at
    :math:`\\pm 10^{-13}` over whole stretches of :math:`r`, and the interval end
    jumps between the ends of such a stretch with the CPU (seen: 0.3275 vs
    0.3376 on the census event study).
    """
    n_pos = int(np.sum(sign > 0))
    n_neg = int(np.sum(sign < 0))
    eps = float(tie_tolerance(t, ts))
    if p_type == "symmetric":
        need = int(math.floor(alpha * B)) + 1 - n_pos - n_neg
        return _kth_largest(np.abs(ts), need) - abs(t) + eps
    kk = int(math.floor(alpha * B / 2)) + 1
    need_lo = kk - n_pos - (n_neg if t >= 0 else 0)  # draws <= t still needed
    need_hi = kk - n_pos - (n_neg if t <= 0 else 0)  # draws >= t still needed
    m_lo = t + _kth_largest(-ts, need_lo) + eps  # >= 0 iff at least need_lo draws <= t + eps
    m_hi = _kth_largest(ts, need_hi) - t + eps
    return min(m_lo, m_hi)


def _invert(fun, center: float, se: float, direction: int, max_steps: int = 400) -> float:
    """First sign change of ``fun`` moving from ``center`` in ``direction``.

    Grid in steps of se/4 up to 10 se, then geometric steps; the bracket is
    refined by bisection on the sign of ``fun`` to ``1e-10 * se``.
    """
    prev = center
    for i in range(1, max_steps + 1):
        dist = se / 4.0 * i if i <= 40 else 10.0 * se * 1.25 ** (i - 40)
        r = center + direction * dist
        fr = fun(r)
        if fr < 0:
            a, b = prev, r  # fun(a) >= 0 > fun(b)
            while abs(b - a) > 1e-10 * se:
                mid = 0.5 * (a + b)
                if fun(mid) >= 0:
                    a = mid
                else:
                    b = mid
            return float(0.5 * (a + b))
        if dist > 1e8 * se:
            break
        prev = r
    return direction * math.inf


# --------------------------------------------------------------------------- main
def wild_cluster_bootstrap(
    y: Any,
    X: Any,
    clusters: Any,
    coef_index: int | str,
    *,
    fe: Any = None,
    null: float = 0.0,
    B: int = 9999,
    weights: WeightsName = "rademacher",
    impose_null: bool = True,
    seed: int | None = 0,
    alpha: float = 0.05,
    p_type: Literal["symmetric", "equal-tailed"] = "symmetric",
    enumerate: bool | Literal["auto"] = "auto",
    ci: bool = True,
    n_jobs: int = 1,
    backend: Literal["serial", "joblib", "dask"] = "joblib",
    ssc: str | SSC = "fixest",
) -> WildResult:
    r"""Wild cluster bootstrap (WCR/WCU) test and interval for one OLS coefficient.

    Parameters
    ----------
    y, X, clusters, fe
        Outcome, regressors (include an intercept yourself when there are no
        fixed effects), cluster labels and optional fixed-effect factors, as in
        :func:`analysis.inference.crve.ols_cluster`.
    coef_index
        Position (or name, if ``X`` is a DataFrame) of the tested coefficient.
    null
        Null value :math:`r` of :math:`H_0: \beta_j = r`.
    B
        Number of bootstrap draws (ignored under enumeration, where ``2**G`` are used).
    weights
        ``"rademacher"``, ``"webb"``, ``"mammen"`` or ``"normal"``.
    impose_null
        ``True``: WCR (restricted residuals); ``False``: WCU.
    seed
        Seed of the simulation engine (same seed -> identical result).
    alpha
        Level of the interval (:math:`1-\alpha` coverage).
    p_type
        ``"symmetric"`` or ``"equal-tailed"``; also governs the interval.
    enumerate
        ``"auto"`` (enumerate when Rademacher and :math:`2^G \le B`), ``True``
        (force; Rademacher and :math:`G \le 20` only) or ``False``.
    ci
        Compute the confidence interval.
    n_jobs, backend
        Workers and backend of :func:`~analysis.inference.engine.run_draws`.
    ssc
        CR1 small-sample convention of the reported standard error and
        :math:`t` (cancels in p-values and intervals).

    Returns
    -------
    WildResult
    """
    # ---- validate first
    if weights not in WEIGHTS:
        raise InputError(
            f"weights must be one of {', '.join(map(repr, WEIGHTS))} (got {weights!r})"
        )
    if p_type not in PTypes:
        raise InputError(f"p_type must be 'symmetric' or 'equal-tailed' (got {p_type!r})")
    B = _check_int("B", B, 1)
    n_jobs = _check_int("n_jobs", n_jobs, -(2**31))
    if n_jobs == 0:
        raise InputError("n_jobs must not be 0")
    if seed is not None:
        seed = _check_int("seed", seed, 0)
    try:
        alpha = float(alpha)
        null = float(null)
    except (TypeError, ValueError):
        raise InputError("alpha and null must be numbers") from None
    alpha = check_alpha(alpha)
    if not math.isfinite(null):
        raise InputError("null must be a finite number")
    if not isinstance(impose_null, (bool, np.bool_)):
        raise InputError(f"impose_null must be True or False (got {impose_null!r})")
    if enumerate not in ("auto", True, False):
        raise InputError(f"enumerate must be 'auto', True or False (got {enumerate!r})")
    if backend not in ("serial", "joblib", "dask"):
        raise InputError(f"backend must be 'serial', 'joblib' or 'dask' (got {backend!r})")
    SSC.preset(ssc)
    des = ClusterDesign.build(y, X, clusters, fe)
    j = _coef_position(coef_index, des.names)
    G = des.G
    if enumerate is True:
        if weights != "rademacher":
            raise InputError("full enumeration needs Rademacher weights")
        if G > MAX_ENUM_G:
            raise InputError(f"full enumeration is limited to G <= {MAX_ENUM_G} clusters (got {G})")
    do_enum = enumerate is True or (
        enumerate == "auto" and weights == "rademacher" and G <= MAX_ENUM_G and (1 << G) <= B
    )

    # ---- unrestricted fit, CR1 standard error
    Z = des.Z
    M = des.bread()
    gamma, uhat = des.fit()
    q = M[:, j]
    c = ssc_factor(ssc, n=des.n, k=des.k, G=G, fe_levels=des.fe_levels, fe_nested=des.fe_nested)
    S_hat = des.cluster_sums(Z * uhat[:, None])  # G x p
    sc = S_hat @ q
    se = float(math.sqrt(c * float(sc @ sc)))
    est = float(gamma[j])
    if not se > 0:
        raise InputError("the cluster-robust standard error of the tested coefficient is zero")
    t_stat = (est - null) / se

    # ---- per-cluster pieces
    Wq = des.cluster_sums(Z * (Z @ q)[:, None])  # G x p, rows Z_h'Z_h q
    WM = Wq @ M  # G x p

    def cmat(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nvec = S @ q
        C = np.diag(nvec) - WM @ S.T  # C[h, g]
        return nvec, np.ascontiguousarray(C.T)  # (n, C') so that V @ C' gives rows over h

    if impose_null:
        keep = np.arange(des.p) != j
        Zr = Z[:, keep]
        if Zr.shape[1]:
            A = np.linalg.lstsq(
                Zr, np.column_stack([des.yw - null * Z[:, j], Z[:, j]]), rcond=None
            )[0]
            U = np.column_stack([des.yw - null * Z[:, j], Z[:, j]]) - Zr @ A
        else:
            U = np.column_stack([des.yw - null * Z[:, j], Z[:, j]])
        u0, u1 = U[:, 0], U[:, 1]  # u(r) = u0 - (r - null) u1
        n0, CT0 = cmat(des.cluster_sums(Z * u0[:, None]))
        n1, CT1 = cmat(des.cluster_sums(Z * u1[:, None]))
    else:
        n0, CT0 = cmat(S_hat)
        n1 = CT1 = None

    # ---- draws
    if do_enum:
        P = _enumerated(G, n0, CT0, n1, CT1)
    else:
        fn = functools.partial(_random_block, G=G, weights=weights, n0=n0, CT0=CT0, n1=n1, CT1=CT1)
        P = run_draws(
            fn, B, seed, block=BLOCK, n_jobs=n_jobs, backend=backend, desc="wild bootstrap"
        )
    draws_used = int(P.shape[0])

    tstar0 = _tstar(P, c, 0.0, impose_null, t_stat)
    p_value = _p_value(t_stat, tstar0, p_type)

    # ---- interval
    lo = hi = float("nan")
    if ci:
        if impose_null:
            sign = P[:, 5]
            Pfree = P[sign == 0]
            Bf = int(np.sum(np.isfinite(tstar0)))

            def margin(r: float) -> float:
                ts = _tstar(Pfree, c, r - null, True) if Pfree.shape[0] else np.empty(0)
                ts = ts[np.isfinite(ts)]
                return _acceptance((est - r) / se, ts, sign[sign != 0], p_type, alpha, Bf)

            if margin(est) < 0:  # even the estimate is rejected: degenerate design
                lo = hi = float("nan")
            else:
                lo = _invert(margin, est, se, -1)
                hi = _invert(margin, est, se, +1)
        else:
            ts = tstar0[np.isfinite(tstar0)]
            Bf = ts.size
            if p_type == "symmetric":
                kk = int(math.floor(alpha * Bf)) + 1
                crit = np.partition(np.abs(ts), Bf - kk)[Bf - kk] if kk <= Bf else math.inf
                lo, hi = est - se * crit, est + se * crit
            else:
                kk = int(math.floor(alpha * Bf / 2)) + 1
                if kk <= Bf:
                    tl = np.partition(ts, kk - 1)[kk - 1]
                    th = np.partition(ts, Bf - kk)[Bf - kk]
                    lo, hi = est - se * th, est - se * tl
                else:
                    lo, hi = -math.inf, math.inf

    t_draws = np.array(tstar0, dtype=np.float64)
    t_draws.setflags(write=False)
    return WildResult(
        estimate=est,
        se=se,
        t_stat=float(t_stat),
        p_value=p_value,
        ci=(float(lo), float(hi)),
        draws_used=draws_used,
        enumerated=bool(do_enum),
        weights=weights,
        B=B,
        seed=seed,
        null=null,
        impose_null=bool(impose_null),
        p_type=p_type,
        alpha=alpha,
        coef_index=j,
        term=des.names[j],
        n_obs=des.n,
        n_clusters=G,
        t_draws=t_draws,
    )


# --------------------------------------------------------------------------- multiplier
@dataclass(frozen=True)
class MultiplierResult:
    """Cluster multiplier bootstrap of influence functions.

    ``draws`` are :math:`\\hat\\theta^*_b - \\hat\\theta` (``n_boot x k``), ``se``
    the IQR-based bootstrap standard errors and ``crit_value`` the sup-t
    critical value of a simultaneous :math:`1-\\alpha` band.
    """

    draws: np.ndarray
    se: np.ndarray
    crit_value: float
    n_boot: int
    weights: str
    seed: int | None


def cluster_multiplier_bootstrap(
    influence: Any,
    clusters: Any,
    n_boot: int,
    seed: int | None,
    *,
    weights: Literal["rademacher", "mammen"] = "rademacher",
    alpha: float = 0.05,
) -> MultiplierResult:
    r"""Cluster-level multiplier bootstrap for DiD aggregates (thin adapter).

    Reuses :mod:`analysis.inference.multiplier` (R ``did``'s ``mboot``
    conventions: one multiplier per cluster applied to cluster sums of the
    influence function, :math:`\hat\theta^*_b - \hat\theta = n^{-1}\sum_g V_{bg} S_g`;
    IQR standard errors; type-1 quantile of :math:`\max_k |d_{bk}|/\hat\sigma_k`
    as the sup-t critical value). Nothing is re-implemented here.

    Parameters
    ----------
    influence
        ``n x k`` influence functions (one row per unit).
    clusters
        Cluster label of each unit (``None``: each unit is its own cluster).
    n_boot, seed
        Number of draws and seed.
    weights
        ``"rademacher"`` or ``"mammen"``.
    alpha
        Level of the simultaneous band.
    """
    from analysis.inference.multiplier import (
        multiplier_bootstrap,
        sup_t_critical_value,
    )
    from analysis.inference.vcov import Clusters

    try:
        psi = np.asarray(influence, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("influence must be a numeric array") from None
    if psi.ndim == 1:
        psi = psi[:, None]
    if psi.ndim != 2 or psi.shape[0] == 0:
        raise InputError("influence must be an n x k array")
    if not np.all(np.isfinite(psi)):
        raise InputError("influence contains missing or non-finite values")
    n_boot = _check_int("n_boot", n_boot, 1)
    if seed is not None:
        seed = _check_int("seed", seed, 0)
    if weights not in ("rademacher", "mammen"):
        raise InputError(f"weights must be 'rademacher' or 'mammen' (got {weights!r})")
    check_alpha(alpha)
    cl = None
    if clusters is not None:
        arr = np.asarray(clusters)
        if arr.ndim != 1 or arr.shape[0] != psi.shape[0]:
            raise InputError(f"clusters must have one label per row of influence ({psi.shape[0]})")
        try:
            cl = Clusters.from_labels(arr)
        except ValueError as e:
            raise InputError(str(e)) from None
    res = multiplier_bootstrap(psi, n_boot, rng=seed, clusters=cl, weights=weights)
    crit = sup_t_critical_value(res.draws, res.se, float(alpha))
    return MultiplierResult(
        draws=res.draws, se=res.se, crit_value=crit, n_boot=n_boot, weights=weights, seed=seed
    )
