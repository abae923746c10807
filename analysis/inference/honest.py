r"""Sensitivity of event-study conclusions to violations of parallel trends.

Rambachan & Roth (2023), "A More Credible Approach to Parallel Trends",
*Review of Economic Studies* 90(5), 2555-2591 ("HonestDiD").

(One module of ~1,350 lines on purpose: the smoothness FLCI, the
relative-magnitude ARP conditional test and the breakdown search share one
validated input, one grid and one result type, and are read against the
paper's sections in order; split, each part would re-validate the same
``betahat``/``sigma`` or import the others' private pieces.)

Setting
-------
An event study delivers :math:`\hat\beta = (\hat\beta_{pre}', \hat\beta_{post}')'
\in \mathbb{R}^{\underline T + \bar T}` (the reference period, normalised to
zero, is *excluded*, as in the R package where ``betahat`` has length
``numPrePeriods + numPostPeriods``) with
:math:`\hat\beta \overset{a}{\sim} N(\beta, \Sigma)` and

.. math::

    \beta = \tau + \delta, \qquad \tau_{pre} = 0,

where :math:`\tau_{post}` are the dynamic treatment effects and :math:`\delta`
the (unknown) differential trend. Index periods
:math:`t = -\underline T, \dots, -1, 1, \dots, \bar T` and set
:math:`\delta_0 = 0` for the reference period. The target is
:math:`\theta = l'\tau_{post}` (default :math:`l = e_1`, the first
post-period, as in the R package). Parallel trends (:math:`\delta_{post} = 0`)
is replaced by :math:`\delta \in \Delta`:

*Relative magnitudes* (``"relative_magnitude"``, R ``DeltaRM``):

.. math::

    \Delta^{RM}(\bar M) = \Big\{\delta :\ |\delta_{t} - \delta_{t-1}|
       \le \bar M \max_{s \le 0} |\delta_{s} - \delta_{s-1}|
       \ \ \forall\, t \ge 1 \Big\},

post-treatment period-to-period violations are at most :math:`\bar M` times
the largest pre-treatment one.

*Smoothness* (``"smoothness"``, R ``DeltaSD``):

.. math::

    \Delta^{SD}(M) = \Big\{\delta :\ |(\delta_{t+1} - \delta_t)
       - (\delta_t - \delta_{t-1})| \le M
       \ \ \forall\, t = -\underline T + 1, \dots, \bar T - 1 \Big\},

the slope of the differential trend changes by at most :math:`M` per period
(:math:`M = 0`: exactly linear trends, extrapolated from the pre-period).

Confidence sets (the R package's defaults)
------------------------------------------
``smoothness`` -> **FLCI**, the optimal fixed-length affine confidence interval
of Armstrong & Kolesár (2018, 2020):
:math:`\hat\theta_v = v'\hat\beta_{pre} + l'\hat\beta_{post}` with worst-case
bias :math:`b(v) = \sup_{\delta \in \Delta^{SD}(M)} |v'\delta_{pre} +
l'\delta_{post}|` and standard deviation
:math:`h(v) = \sqrt{(v', l')\,\Sigma\,(v', l')'}`; the interval
:math:`\hat\theta_v \pm h(v)\, \mathrm{cv}_\alpha(b(v)/h(v))`, where
:math:`\mathrm{cv}_\alpha(t)` is the :math:`1-\alpha` quantile of
:math:`|N(t, 1)|`, is minimised over :math:`v`. Writing
:math:`\delta_t = c\,t + \sum_j s_j \phi_j(t)` with second differences
:math:`|s_j| \le M` and kink functions :math:`\phi_j(t) = (t-j)_+` for
:math:`j \ge 0`, :math:`(j-t)_+` for :math:`j < 0`, the bias is finite only if
:math:`\sum_{t<0} v_t t + \sum_{t>0} l_t t = 0` and then equals

.. math::

    b(v) = M\Big(\sum_{j=0}^{\bar T - 1}\Big|\sum_{t>j} l_t (t-j)\Big|
         + \sum_{j=-\underline T+1}^{-1}\Big|\sum_{t<j} v_t (j-t)\Big|\Big).

:math:`h\,\mathrm{cv}_\alpha(b/h)` is jointly convex and non-decreasing in
:math:`(b, h)`, so the length is a convex function of :math:`v`; it is
minimised exactly (SLSQP on the epigraph form of the :math:`\ell_1` term, with
analytic gradients and an exact folded-normal quantile; R uses CVXR over a
grid/bisection in :math:`h` and a simulated quantile).

``relative_magnitude`` -> **C-LF**, the conditional-least-favourable hybrid
test of Andrews, Roth & Pakes (2023, "ARP"), inverted over a grid of
:math:`\theta`. :math:`\Delta^{RM}(\bar M)` is the union over the location
:math:`s \in \{-\underline T + 1, \dots, 0\}` and sign of the largest
pre-period difference of polyhedra :math:`\{A_{s,\pm}\delta \le 0\}`; the
confidence set is the union of the ARP sets for each piece (R
``computeConditionalCS_DeltaRM``). For a piece :math:`\{A\delta \le d\}`, the
null :math:`l'\tau_{post} = \theta` is the moment inequality
:math:`E[A\hat\beta - d - a_1\theta] - X\tilde\tau \le 0` with nuisance
:math:`\tilde\tau \in \mathbb{R}^{\bar T - 1}` (only the moments involving
post-periods are used, R's ``postPeriodMomentsOnly``). The statistic
:math:`\hat\eta = \min_{\tilde\tau}\max_i (y_i - X_i\tilde\tau)/\sigma_i`
equals :math:`\max_\gamma \gamma'\tilde y` over the vertices of
:math:`\{\gamma \ge 0, 1'\gamma = 1, \tilde X'\gamma = 0\}`; conditioning on
the optimal vertex gives a truncated normal, whose truncation points
:math:`[V^{lo}, V^{up}]` are computed exactly from the vertex list (R uses a
bisection). The first stage rejects when :math:`\hat\eta` exceeds the
:math:`1-\kappa` quantile of its least-favourable (mean-zero) null
distribution (simulated, ``lf_sims`` draws, ``seed``; :math:`\kappa =
\alpha/10`), the second stage uses size :math:`(\alpha-\kappa)/(1-\kappa)` and
:math:`V^{up}` capped at that quantile. The accepted set is found on a grid of
``grid_points`` values (default 1000, as R) spanning the identified set plus
20 standard errors on each side, and each end point is then refined by
repeated sub-gridding, so the reported bounds carry no grid discretisation
error (R reports grid points: its bounds are inside ours by up to one grid
step). Like R, the reported interval is the hull of the accepted set.

Differences from R's defaults, on purpose: the least-favourable critical value
uses 100,000 draws (R: 1,000; with the vertex list the draws are cheap,
while the 1,000-draw :math:`0.995` quantile moves the end points by up to
about 3% of a standard error in the README example -- one R grid step); the
folded-normal quantile is exact (R: :math:`10^6` draws).
The vertex enumeration visits :math:`\binom{2\bar T}{\bar T}` supports, which
limits relative magnitudes to :math:`\bar T \le 10` post-periods.

Breakdown value: the smallest :math:`M` (or :math:`\bar M`) at which the robust
interval contains zero: the first grid value whose interval contains zero and
its predecessor bracket the crossing, which Brent's method then locates.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from analysis.errors import InputError

__all__ = [
    "HonestResult",
    "FLCIResult",
    "honest_did",
    "honest_from_result",
    "original_ci",
    "flci",
    "rm_confidence_set",
    "rm_identified_set",
    "folded_normal_quantile",
    "sd_default_grid_bound",
]

Restriction = Literal["relative_magnitude", "smoothness"]
RESTRICTIONS: Mapping[str, str] = MappingProxyType(
    {"relative_magnitude": "DeltaRM", "smoothness": "DeltaSD"}
)
METHODS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"relative_magnitude": ("C-LF", "Conditional"), "smoothness": ("FLCI",)}
)
TABLE_COLUMNS = ["M", "lb", "ub", "method"]

# Largest number of candidate supports enumerated for the ARP vertex list.
_MAX_SUPPORTS = 400_000


# =====================================================================  results
@dataclass(frozen=True)
class HonestResult:
    """Sensitivity analysis of one event-study target.

    Attributes
    ----------
    table
        One row per grid value: ``M`` (the smoothness bound :math:`M`, or
        :math:`\\bar M` for relative magnitudes), ``lb``, ``ub``, ``method``
        (``"FLCI"``, ``"C-LF"`` or ``"Conditional"``).
    original
        ``(lb, ub)``: the conventional interval
        :math:`l'\\hat\\beta_{post} \\pm z_{1-\\alpha/2}\\sqrt{l'\\Sigma_{post}l}`.
    breakdown
        Smallest grid-bound value at which the robust interval contains zero
        (refined by bisection); ``0.0`` if the original interval already
        contains zero; ``inf`` if no value up to ``max(grid)`` does.
    restriction
        ``"relative_magnitude"`` or ``"smoothness"``.
    delta
        R's name of the restriction set (``"DeltaRM"`` / ``"DeltaSD"``).
    estimate, se
        :math:`l'\\hat\\beta_{post}` and its standard error.
    alpha
        Level: intervals have nominal coverage :math:`1-\\alpha`.
    l_vec
        Target weights on the post-period effects.
    num_pre_periods, num_post_periods
        Event-study dimensions.
    options
        Numerical settings (grid points, simulation draws, seed, ...).
    """

    table: pd.DataFrame
    original: tuple[float, float]
    breakdown: float
    restriction: str
    delta: str
    estimate: float
    se: float
    alpha: float
    l_vec: tuple[float, ...]
    num_pre_periods: int
    num_post_periods: int
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", self.table.reset_index(drop=True).copy())
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "original", (float(self.original[0]), float(self.original[1])))

    @property
    def method(self) -> str:
        return str(self.table["method"].iloc[0]) if len(self.table) else ""

    @property
    def bound_name(self) -> str:
        """``"Mbar"`` for relative magnitudes, ``"M"`` for smoothness."""
        return "Mbar" if self.restriction == "relative_magnitude" else "M"

    def tidy(self) -> pd.DataFrame:
        """Long frame: the original interval first, then one row per bound.

        Columns ``restriction``, ``delta``, ``method``, ``bound`` (``M`` or
        ``Mbar``), ``M``, ``estimate`` (only for the original row),
        ``conf_low``, ``conf_high``, ``alpha``, ``covers_zero``.
        """
        rows = [
            {
                "restriction": self.restriction,
                "delta": self.delta,
                "method": "Original",
                "bound": self.bound_name,
                "M": np.nan,
                "estimate": self.estimate,
                "conf_low": self.original[0],
                "conf_high": self.original[1],
            }
        ]
        for r in self.table.itertuples(index=False):
            rows.append(
                {
                    "restriction": self.restriction,
                    "delta": self.delta,
                    "method": r.method,
                    "bound": self.bound_name,
                    "M": float(r.M),
                    "estimate": np.nan,
                    "conf_low": float(r.lb),
                    "conf_high": float(r.ub),
                }
            )
        out = pd.DataFrame(rows)
        out["alpha"] = self.alpha
        out["covers_zero"] = (out["conf_low"] <= 0) & (out["conf_high"] >= 0)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (non-finite numbers become ``None``)."""

        def num(x: float) -> float | None:
            x = float(x)
            return x if math.isfinite(x) else None

        return {
            "restriction": self.restriction,
            "delta": self.delta,
            "method": self.method,
            "alpha": self.alpha,
            "l_vec": list(self.l_vec),
            "num_pre_periods": self.num_pre_periods,
            "num_post_periods": self.num_post_periods,
            "estimate": num(self.estimate),
            "se": num(self.se),
            "original": [num(self.original[0]), num(self.original[1])],
            "breakdown": num(self.breakdown),
            "table": [
                {"M": num(r.M), "lb": num(r.lb), "ub": num(r.ub), "method": r.method}
                for r in self.table.itertuples(index=False)
            ],
            "options": dict(self.options),
        }

    def summary(self) -> str:
        """Plain-text table with the original interval and the breakdown value."""
        name = self.bound_name
        lines = [
            f"HonestDiD sensitivity ({self.delta}, {self.method}), "
            f"{100 * (1 - self.alpha):.0f}% intervals for l'tau_post, l = {list(self.l_vec)}",
            f"Original: estimate {self.estimate:.6g}, se {self.se:.6g}, "
            f"CI [{self.original[0]:.6g}, {self.original[1]:.6g}]",
        ]
        tab = self.table.rename(columns={"M": name})
        lines.append(tab.to_string(index=False, float_format=lambda v: f"{v: .6f}"))
        bd = self.breakdown
        if math.isnan(bd):
            txt = "not computed"
        elif math.isinf(bd):
            txt = f"> {self.table['M'].max():g} (robust CI excludes 0 on the whole grid)"
        else:
            txt = f"{bd:.6g}"
        lines.append(f"Breakdown value ({name}): {txt}")
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()

    def plot(self, ax=None):
        """Sensitivity plot; thin delegate to :func:`analysis.report.figures.sensitivity_plot`."""
        from analysis.presentation import present

        return present("sensitivity_plot")(self.table, original_ci=self.original, ax=ax)


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


# ================================================================  validation
def _as_vector(x: Any, name: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype="float64")
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numeric") from None
    a = np.squeeze(a) if a.ndim > 1 and 1 in a.shape else a
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise InputError(f"{name} must be a vector, got an array of shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} contains non-finite values")
    return a


def _check_periods(num_pre_periods: Any, num_post_periods: Any) -> tuple[int, int]:
    out = []
    for name, v in (("num_pre_periods", num_pre_periods), ("num_post_periods", num_post_periods)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"{name} must be a positive integer, got {v!r}")
        out.append(int(v))
    return out[0], out[1]


def _check_alpha(alpha: Any) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise InputError(f"alpha must be a number in (0, 1), got {alpha!r}") from None
    if not 0 < a < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha!r}")
    return a


def _validate(
    betahat: Any,
    sigma: Any,
    num_pre_periods: Any,
    num_post_periods: Any,
    l_vec: Any,
    alpha: Any,
) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray, float]:
    K, T = _check_periods(num_pre_periods, num_post_periods)
    b = _as_vector(betahat, "betahat")
    n = K + T
    if b.size != n:
        raise InputError(
            f"betahat has length {b.size} but num_pre_periods + num_post_periods = {n} "
            "(exclude the reference period)"
        )
    try:
        S = np.asarray(sigma, dtype="float64")
    except (TypeError, ValueError):
        raise InputError("sigma must be a numeric matrix") from None
    if S.shape != (n, n):
        raise InputError(f"sigma must be {n} x {n} to match betahat, got shape {S.shape}")
    if not np.all(np.isfinite(S)):
        raise InputError("sigma contains non-finite values")
    scale = max(float(np.max(np.abs(S))), np.finfo(float).tiny)
    if np.max(np.abs(S - S.T)) > 1e-8 * scale:
        raise InputError("sigma is not symmetric")
    S = (S + S.T) / 2
    ev = np.linalg.eigvalsh(S)
    if ev[0] < -1e-10 * max(ev[-1], np.finfo(float).tiny):
        raise InputError(f"sigma is not positive semi-definite (smallest eigenvalue {ev[0]:.3g})")
    if l_vec is None:
        lv = np.zeros(T)
        lv[0] = 1.0
    else:
        lv = _as_vector(l_vec, "l_vec")
        if lv.size != T:
            raise InputError(f"l_vec has length {lv.size} but num_post_periods = {T}")
        if not np.any(lv != 0):
            raise InputError("l_vec must not be all zeros")
    a = _check_alpha(alpha)
    if float(lv @ S[K:, K:] @ lv) <= 0:
        raise InputError("the target l'beta_post has zero variance under sigma")
    return b, S, K, T, lv, a


def _check_grid(grid: Any, name: str) -> np.ndarray:
    g = _as_vector(grid, name)
    if g.size == 0:
        raise InputError(f"{name} must contain at least one value")
    if np.any(g < 0):
        raise InputError(f"{name} values must be non-negative, got min {g.min():g}")
    return g


# ===========================================================  original interval
def original_ci(
    betahat: Any,
    sigma: Any,
    num_pre_periods: int,
    num_post_periods: int,
    l_vec: Any = None,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Conventional interval :math:`l'\\hat\\beta_{post} \\pm z_{1-\\alpha/2}
    \\sqrt{l'\\Sigma_{post}l}` (R ``constructOriginalCS``).

    Returns
    -------
    tuple
        ``(lb, ub)``.
    """
    b, S, K, T, lv, a = _validate(betahat, sigma, num_pre_periods, num_post_periods, l_vec, alpha)
    est, se = _target(b, S, K, lv)
    z = stats.norm.ppf(1 - a / 2)
    return est - z * se, est + z * se


def _target(b: np.ndarray, S: np.ndarray, K: int, lv: np.ndarray) -> tuple[float, float]:
    return float(lv @ b[K:]), float(np.sqrt(lv @ S[K:, K:] @ lv))


# ==================================================================  folded normal
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


# =====================================================================  DeltaRM
def _rm_pieces(K: int, T: int, Mbar: float) -> list[tuple[np.ndarray, int, int]]:
    """Constraint matrices :math:`A_{s,\\pm}` (delta_0 dropped) for every piece of
    :math:`\\Delta^{RM}(\\bar M)`; ``d = 0``."""
    n = K + T + 1  # includes delta_0 at position K
    D = np.zeros((K + T, n))
    for r in range(K + T):
        D[r, r], D[r, r + 1] = -1.0, 1.0
    pieces = []
    for s in range(-K + 1, 1):
        row_s = D[K - 1 + s]  # Delta_s = delta_s - delta_{s-1}
        for sign in (1, -1):
            bound = np.vstack([np.tile(sign * row_s, (K, 1)), np.tile(Mbar * sign * row_s, (T, 1))])
            A = np.vstack([D - bound, -D - bound])
            A = A[np.sum(A * A, axis=1) > 1e-10]
            A = np.delete(A, K, axis=1)
            pieces.append((A, s, sign))
    return pieces


def rm_identified_set(
    betahat: Any,
    num_pre_periods: int,
    num_post_periods: int,
    Mbar: float,
    l_vec: Any = None,
) -> tuple[float, float]:
    """Identified set for :math:`l'\\tau_{post}` under :math:`\\Delta^{RM}(\\bar M)`
    when :math:`\\beta` is known (population event study).

    :math:`[l'\\beta_{post} - \\max l'\\delta_{post},\\ l'\\beta_{post} - \\min
    l'\\delta_{post}]` over :math:`\\delta \\in \\Delta^{RM}(\\bar M)` with
    :math:`\\delta_{pre} = \\beta_{pre}` (union over the pieces, linear programs).
    """
    K, T = _check_periods(num_pre_periods, num_post_periods)
    b = _as_vector(betahat, "betahat")
    if b.size != K + T:
        raise InputError(f"betahat has length {b.size} but expected {K + T}")
    lv = np.eye(T)[0] if l_vec is None else _as_vector(l_vec, "l_vec")
    return _rm_id_set(b, K, T, lv, float(Mbar))


def _rm_id_set(b: np.ndarray, K: int, T: int, lv: np.ndarray, Mbar: float) -> tuple[float, float]:
    # delta_pre = beta_pre is known, so the largest pre-period difference is
    # D = max_{s<=0} |beta_s - beta_{s-1}| (beta_0 = 0); post differences are free in
    # [-Mbar D, Mbar D] and l'delta_post = sum_r Delta_r L_r with L_r = sum_{t>=r} l_t.
    pre = np.concatenate([b[:K], [0.0]])
    D = float(np.max(np.abs(np.diff(pre)))) if K >= 1 else 0.0
    L = np.cumsum(lv[::-1])[::-1]
    half = Mbar * D * float(np.abs(L).sum())
    theta_b = float(lv @ b[K:])
    return theta_b - half, theta_b + half


# ==========================================================================  ARP
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
    \\tilde X'\\gamma = 0\\}`, whose vertices are enumerated once.
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
        self.y0 = (A @ b - d) / sd
        self.a1 = a1 / sd
        self.corr = SY / np.outer(sd, sd)
        Xs = X / sd[:, None]
        self.m = A.shape[0]
        self.vertices = self._vertices(Xs)
        if self.vertices.shape[0]:
            VS = self.vertices @ self.corr @ self.vertices.T
            self.var_v = np.diag(VS).copy()
            with np.errstate(divide="ignore", invalid="ignore"):
                self.Bmat = VS / self.var_v[None, :]
        self.lf_cv = np.inf

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
        n_sup = math.comb(m, k)
        if n_sup > _MAX_SUPPORTS:
            raise InputError(
                f"too many moments for the exact ARP vertex enumeration ({n_sup} supports); "
                "reduce the number of post-periods"
            )
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

    def set_lf_cv(self, z_draws: np.ndarray, kappa: float) -> None:
        """Least-favourable first-stage critical value: :math:`1-\\kappa` quantile
        of :math:`\\hat\\eta` under :math:`E[\\tilde y] = 0`."""
        if not self.vertices.shape[0]:
            self.lf_cv = np.inf
            return
        w, Q = np.linalg.eigh(self.corr)
        root = Q * np.sqrt(np.clip(w, 0, None))[None, :]  # corr = root root'
        # eta_i = max_v gamma_v' root z_i
        # (einsum, not BLAS: multithreaded BLAS is slow for this tall, thin product)
        P = root.T @ self.vertices.T
        eta = np.max(np.einsum("ij,jk->ik", z_draws[:, : self.m], P), axis=1)
        self.lf_cv = float(np.quantile(eta, 1 - kappa))

    def accept(self, theta: np.ndarray, alpha: float, hybrid: str, kappa: float) -> np.ndarray:
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        if not self.vertices.shape[0]:
            return np.ones(theta.size, dtype=bool)
        Y = self.y0[:, None] - self.a1[:, None] * theta[None, :]  # m x n
        E = self.vertices @ Y  # nv x n
        k = np.argmax(E, axis=0)
        cols = np.arange(theta.size)
        eta = E[k, cols]
        var_b = self.var_v[k]
        sig_b = np.sqrt(np.clip(var_b, 0, None))
        Bk = self.Bmat[:, k]  # nv x n: gamma_v' Sigma gamma_k / sigma_k^2
        a = E - Bk * eta[None, :]
        den = 1.0 - Bk
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = a / den
        tol = 1e-10
        vlo = np.max(np.where(den > tol, ratio, -np.inf), axis=0)
        vup = np.min(np.where(den < -tol, ratio, np.inf), axis=0)
        if hybrid == "LF":
            size = (alpha - kappa) / (1 - kappa)
            vup = np.minimum(vup, self.lf_cv)
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
        return ~reject


def rm_confidence_set(
    betahat: Any,
    sigma: Any,
    num_pre_periods: int,
    num_post_periods: int,
    Mbar: float,
    l_vec: Any = None,
    alpha: float = 0.05,
    *,
    method: str = "C-LF",
    kappa: float | None = None,
    grid_points: int = 1000,
    lf_sims: int = 100_000,
    seed: int = 0,
) -> tuple[float, float]:
    """ARP confidence set for :math:`l'\\tau_{post}` under :math:`\\Delta^{RM}(\\bar M)`
    (R ``computeConditionalCS_DeltaRM``), reported as its hull ``(lb, ub)``.

    Parameters
    ----------
    betahat, sigma, num_pre_periods, num_post_periods, l_vec, alpha
        As in :func:`honest_did`.
    Mbar
        Relative-magnitude bound :math:`\\bar M \\ge 0`.
    method
        ``"C-LF"`` (least-favourable hybrid, R default) or ``"Conditional"``.
    kappa
        First-stage size of the hybrid, default :math:`\\alpha/10`.
    grid_points
        Points of the initial :math:`\\theta` grid (end points are then refined).
    lf_sims, seed
        Draws and seed for the least-favourable critical value.

    Returns
    -------
    tuple
        ``(lb, ub)``; ``(nan, nan)`` if no value is accepted.
    """
    b, S, K, T, lv, a = _validate(betahat, sigma, num_pre_periods, num_post_periods, l_vec, alpha)
    opts = _rm_options(method, kappa, grid_points, lf_sims, seed, a)
    Mbar = float(Mbar)
    if not math.isfinite(Mbar) or Mbar < 0:
        raise InputError(f"Mbar must be a non-negative number, got {Mbar!r}")
    return _rm_ci(b, S, K, T, lv, Mbar, a, **opts)


def _rm_options(
    method: str, kappa: Any, grid_points: Any, lf_sims: Any, seed: Any, alpha: float
) -> dict[str, Any]:
    if method not in ("C-LF", "Conditional"):
        raise InputError(
            f"method for relative magnitudes must be 'C-LF' or 'Conditional', not {method!r}"
        )
    k = alpha / 10 if kappa is None else float(kappa)
    if method == "C-LF" and not 0 < k < alpha:
        raise InputError(f"kappa must be in (0, alpha), got {kappa!r}")
    if (
        isinstance(grid_points, bool)
        or not isinstance(grid_points, (int, np.integer))
        or grid_points < 10
    ):
        raise InputError(f"grid_points must be an integer >= 10, got {grid_points!r}")
    if isinstance(lf_sims, bool) or not isinstance(lf_sims, (int, np.integer)) or lf_sims < 100:
        raise InputError(f"lf_sims must be an integer >= 100, got {lf_sims!r}")
    return {
        "hybrid": "LF" if method == "C-LF" else "ARP",
        "kappa": k,
        "grid_points": int(grid_points),
        "lf_sims": int(lf_sims),
        "seed": int(seed),
    }


def _rm_ci(
    b: np.ndarray,
    S: np.ndarray,
    K: int,
    T: int,
    lv: np.ndarray,
    Mbar: float,
    alpha: float,
    *,
    hybrid: str,
    kappa: float,
    grid_points: int,
    lf_sims: int,
    seed: int,
) -> tuple[float, float]:
    pieces = [_ARPPiece(A, np.zeros(A.shape[0]), b, S, K, lv) for A, _, _ in _rm_pieces(K, T, Mbar)]
    if hybrid == "LF":
        z = _draws(seed, lf_sims, max(p.m for p in pieces))
        for p in pieces:
            p.set_lf_cv(z, kappa)
    sd_theta = float(np.sqrt(lv @ S[K:, K:] @ lv))
    id_lb, id_ub = _rm_id_set(b, K, T, lv, Mbar)
    margin = 20.0 * sd_theta
    for _ in range(8):
        lo, hi = id_lb - margin, id_ub + margin
        grid = np.linspace(lo, hi, grid_points)
        acc = [p.accept(grid, alpha, hybrid, kappa) for p in pieces]
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
    for p, ac in zip(pieces, acc, strict=True):
        idx = np.flatnonzero(ac)
        if not idx.size:
            continue
        i, j = idx[0], idx[-1]
        lbs.append(
            grid[i] if i == 0 else _bisect(p, grid[i - 1], grid[i], alpha, hybrid, kappa, tol)
        )
        ubs.append(
            grid[j]
            if j == grid.size - 1
            else _bisect(p, grid[j + 1], grid[j], alpha, hybrid, kappa, tol)
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
    for _ in range(20):
        if abs(a - r) <= tol:
            break
        pts = np.linspace(r, a, points)
        ok = piece.accept(pts, alpha, hybrid, kappa)
        ok[-1] = True
        i = int(np.argmax(ok))  # first accepted point walking from the rejected side
        r, a = pts[i - 1], pts[i]
    return a


# ===================================================================  front door
def honest_did(
    betahat: Any,
    sigma: Any,
    num_pre_periods: int,
    num_post_periods: int,
    restriction: Restriction,
    grid: Sequence[float] | np.ndarray | None = None,
    l_vec: Any = None,
    alpha: float = 0.05,
    *,
    method: str | None = None,
    breakdown: bool = True,
    kappa: float | None = None,
    grid_points: int = 1000,
    lf_sims: int = 100_000,
    seed: int = 0,
) -> HonestResult:
    """Robust confidence intervals over a grid of restriction bounds.

    Parameters
    ----------
    betahat
        Event-study coefficients, pre-periods first (earliest first), then
        post-periods; the reference period (normalised to 0) is **excluded**,
        so ``len(betahat) == num_pre_periods + num_post_periods``.
    sigma
        Covariance matrix of ``betahat`` (symmetric positive semi-definite).
    num_pre_periods, num_post_periods
        :math:`\\underline T \\ge 1` and :math:`\\bar T \\ge 1`.
    restriction
        ``"relative_magnitude"``:
        :math:`\\Delta^{RM}(\\bar M) = \\{\\delta : |\\delta_t - \\delta_{t-1}| \\le
        \\bar M \\max_{s\\le 0}|\\delta_s - \\delta_{s-1}|,\\ t \\ge 1\\}`
        (C-LF intervals); ``"smoothness"``:
        :math:`\\Delta^{SD}(M) = \\{\\delta : |(\\delta_{t+1}-\\delta_t) -
        (\\delta_t - \\delta_{t-1})| \\le M\\}` (FLCI). :math:`\\delta_0 = 0`.
    grid
        Values of :math:`\\bar M` (relative magnitudes; default 10 points on
        [0, 2], as R) or :math:`M` (smoothness; default 10 points from 0 to
        :func:`sd_default_grid_bound`). Non-negative.
    l_vec
        Weights defining :math:`\\theta = l'\\tau_{post}`; default :math:`e_1`
        (the first post-period).
    alpha
        Intervals have nominal coverage :math:`1-\\alpha`.
    method
        ``"C-LF"`` (default) or ``"Conditional"`` for relative magnitudes;
        ``"FLCI"`` for smoothness.
    breakdown
        Compute the breakdown value (the smallest bound whose robust interval
        contains 0), refined between grid values by Brent's method.
    kappa, grid_points, lf_sims, seed
        ARP settings for relative magnitudes: first-stage size (default
        :math:`\\alpha/10`), initial :math:`\\theta`-grid size, draws and seed
        of the least-favourable critical value (R uses 1,000 draws; the
        default 100,000 makes the Monte Carlo error in the bounds negligible).

    Returns
    -------
    HonestResult
        ``.table`` with columns ``M``, ``lb``, ``ub``, ``method``;
        ``.original``; ``.breakdown``.

    Raises
    ------
    InputError
        Wrong lengths or shapes, non-finite values, a sigma that is not
        symmetric positive semi-definite, negative grid values, bad options.
    """
    b, S, K, T, lv, a = _validate(betahat, sigma, num_pre_periods, num_post_periods, l_vec, alpha)
    if restriction not in RESTRICTIONS:
        raise InputError(
            f"restriction must be 'relative_magnitude' or 'smoothness', not {restriction!r}"
        )
    meth = METHODS[restriction][0] if method is None else method
    if meth not in METHODS[restriction]:
        raise InputError(
            f"method {meth!r} is not available for {restriction}; use one of {list(METHODS[restriction])}"
        )
    if grid is None:
        if restriction == "relative_magnitude":
            g = np.linspace(0.0, 2.0, 10)
        else:
            g = np.linspace(0.0, sd_default_grid_bound(b, S, K, alpha=0.05), 10)
    else:
        g = _check_grid(grid, "grid")
    options: dict[str, Any] = {}
    if restriction == "relative_magnitude":
        rm_opts = _rm_options(meth, kappa, grid_points, lf_sims, seed, a)
        options.update({k: v for k, v in rm_opts.items()})

        def interval(m: float) -> tuple[float, float]:
            return _rm_ci(b, S, K, T, lv, m, a, **rm_opts)
    else:

        def interval(m: float) -> tuple[float, float]:
            r = _flci(b, S, K, T, lv, m, a)
            return r.lb, r.ub

    memo: dict[float, tuple[float, float]] = {}

    def cached(m: float) -> tuple[float, float]:
        m = float(m)
        if m not in memo:
            memo[m] = interval(m)
        return memo[m]

    bounds = [cached(m) for m in g]
    table = pd.DataFrame(
        {
            "M": g.astype(float),
            "lb": [x[0] for x in bounds],
            "ub": [x[1] for x in bounds],
            "method": meth,
        },
        columns=TABLE_COLUMNS,
    )
    est, se = _target(b, S, K, lv)
    z = stats.norm.ppf(1 - a / 2)
    orig = (est - z * se, est + z * se)
    bd = _breakdown(g, bounds, cached, orig) if breakdown else math.nan
    return HonestResult(
        table=table,
        original=orig,
        breakdown=bd,
        restriction=restriction,
        delta=RESTRICTIONS[restriction],
        estimate=est,
        se=se,
        alpha=a,
        l_vec=tuple(float(x) for x in lv),
        num_pre_periods=K,
        num_post_periods=T,
        options=options,
    )


def _covers_zero(ci: tuple[float, float]) -> bool:
    lo, hi = ci
    return bool(np.isfinite(lo) and np.isfinite(hi) and lo <= 0 <= hi)


def _breakdown(
    grid: np.ndarray, bounds: list[tuple[float, float]], interval, orig, rel_tol: float = 1e-6
) -> float:
    """Smallest bound with 0 inside the robust interval.

    The first grid value whose interval covers 0 brackets the crossing with the
    previous (non-covering) value; the crossing of
    :math:`g(M) = \\min(-lb(M), ub(M))` through zero is then located by Brent's
    method (bisection if :math:`g` is not finite).
    """
    if _covers_zero(orig):
        return 0.0
    order = np.argsort(grid, kind="stable")
    gs = grid[order]
    covers = [_covers_zero(bounds[i]) for i in order]
    if not any(covers):
        return math.inf
    first = int(np.argmax(covers))
    hi = float(gs[first])
    if first == 0:
        if hi == 0.0 or _covers_zero(interval(0.0)):
            return 0.0
        lo = 0.0
    else:
        lo = float(gs[first - 1])
    tol = rel_tol * max(hi, 1e-12)

    def g(m: float) -> float:
        lb, ub = interval(m)
        return float(min(-lb, ub))

    try:
        g_lo, g_hi = g(lo), g(hi)
        if not (np.isfinite(g_lo) and np.isfinite(g_hi)) or g_lo >= 0 or g_hi < 0:
            raise ValueError("not a clean bracket")
        root = optimize.brentq(g, lo, hi, xtol=tol, rtol=4 * np.finfo(float).eps, maxiter=100)
        # return the covering side of the crossing
        return float(root) if _covers_zero(interval(root)) else float(min(root + tol, hi))
    except (ValueError, RuntimeError):
        while hi - lo > tol:
            mid = 0.5 * (lo + hi)
            if _covers_zero(interval(mid)):
                hi = mid
            else:
                lo = mid
        return hi


def honest_from_result(
    did_result: Any,
    restriction: Restriction,
    grid: Sequence[float] | np.ndarray | None = None,
    *,
    event: int | None = None,
    l_vec: Any = None,
    reference_period: int = -1,
    alpha: float | None = None,
    **kwargs: Any,
) -> HonestResult:
    """HonestDiD sensitivity analysis of a :class:`~analysis.results.DiDResult`.

    Uses the ``"dynamic"`` aggregate: its ``by`` frame (``event``, ``att``,
    ``se``) and its ``vcov`` (the covariance of the event-study coefficients,
    in the order of ``by``). Events before ``reference_period`` are the
    pre-periods, events after it the post-periods; the reference period itself
    (zero by construction) is dropped if present, as in the R package where
    ``betahat`` has length ``numPrePeriods + numPostPeriods``. Event times must
    be consecutive.

    Parameters
    ----------
    did_result
        A :class:`~analysis.results.DiDResult` with a ``dynamic`` aggregate.
    restriction, grid, alpha
        As in :func:`honest_did` (``alpha`` defaults to the result's).
    event
        Target a single post-period event time (default: the first one,
        ``reference_period + 1``). Ignored when ``l_vec`` is given.
    l_vec
        Weights over all post-periods (overrides ``event``).
    reference_period
        The normalised event time (default ``-1``).
    **kwargs
        Passed to :func:`honest_did` (``method``, ``grid_points``, ``lf_sims``,
        ``seed``, ``kappa``, ``breakdown``).

    Notes
    -----
    With Callaway-Sant'Anna estimates use ``base_period="universal"`` (as R's
    ``honest_did``): under the varying base period the pre-period coefficients
    are not deviations from one reference period.
    """
    aggs = getattr(did_result, "aggregates", None)
    if aggs is None or "dynamic" not in aggs:
        raise InputError("the result has no 'dynamic' (event-study) aggregate")
    if getattr(did_result, "info", {}).get("base_period") == "varying":
        raise InputError(
            "HonestDiD needs a universal base period; re-estimate with base_period='universal'"
        )
    agg = aggs["dynamic"]
    if agg.vcov is None:
        raise InputError(
            "a covariance of the event-study coefficients is needed: the 'dynamic' aggregate has vcov=None"
        )
    by = agg.by
    if by is None or "event" not in by.columns or by.empty:
        raise InputError("the 'dynamic' aggregate has no event-time coefficients")
    V = np.asarray(agg.vcov, dtype=float)
    if V.shape != (len(by), len(by)):
        raise InputError(
            f"dynamic vcov has shape {V.shape} but there are {len(by)} event coefficients"
        )
    ev = by["event"].to_numpy(dtype=float)
    if not np.all(np.isfinite(ev)) or np.any(ev != np.round(ev)):
        raise InputError("event times must be integers")
    ref = int(reference_period)
    keep = ev != ref
    order = np.argsort(ev[keep], kind="stable")
    ev_k = ev[keep][order].astype(int)
    beta = by["att"].to_numpy(dtype=float)[keep][order]
    idx = np.flatnonzero(keep)[order]
    V = V[np.ix_(idx, idx)]
    if np.unique(ev_k).size != ev_k.size:
        raise InputError("duplicate event times in the dynamic aggregate")
    pre = ev_k[ev_k < ref]
    post = ev_k[ev_k > ref]
    if not pre.size:
        raise InputError(f"no pre-period coefficients (event < {ref}) in the dynamic aggregate")
    if not post.size:
        raise InputError(f"no post-period coefficients (event > {ref}) in the dynamic aggregate")
    full = np.concatenate([pre, [ref], post])
    if np.any(np.diff(full) != 1):
        raise InputError("event times must be consecutive around the reference period")
    T = post.size
    if l_vec is None:
        target = ref + 1 if event is None else int(event)
        if target not in set(post.tolist()):
            raise InputError(
                f"event {target} is not a post-period event time ({post.min()}..{post.max()})"
            )
        l_vec = (post == target).astype(float)
    a = getattr(did_result, "alpha", 0.05) if alpha is None else alpha
    return honest_did(beta, V, pre.size, T, restriction, grid=grid, l_vec=l_vec, alpha=a, **kwargs)
