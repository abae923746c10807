"""Front door of the HonestDiD sensitivity analysis: :func:`honest_did`,
:func:`honest_from_result` and the single-bound helpers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.errors import InputError
from analysis.inference.honest._arp import _arp_ci
from analysis.inference.honest._deltas import (
    _rm_id_set,
    delta_name,
    delta_pieces,
    id_set_lp,
)
from analysis.inference.honest._flci import _flci, sd_default_grid_bound
from analysis.inference.honest._inputs import (
    _as_vector,
    _check_grid,
    _check_periods,
    _target,
    _validate,
)
from analysis.inference.honest._results import TABLE_COLUMNS, HonestResult
from analysis.validation import check_option

Restriction = Literal["relative_magnitude", "smoothness"]
#: Method of the robust interval (R ``method``): the optimal fixed-length CI,
#: the conditional-FLCI hybrid, the conditional-least-favourable hybrid, the
#: conditional test.
Method = Literal["FLCI", "C-F", "C-LF", "Conditional"]
#: Sign of the post-period bias :math:`\delta_{post}` (R ``biasDirection``).
BiasDirection = Literal["positive", "negative"]
#: Direction of the trend :math:`\delta_t` (R ``monotonicityDirection``).
MonotonicityDirection = Literal["increasing", "decreasing"]
#: What :math:`\bar M` bounds for relative magnitudes (R ``bound``): period-to-
#: period deviations from parallel trends (``DeltaRM``) or deviations from a
#: linear trend, i.e. second differences (``DeltaSDRM``).
Bound = Literal["parallel_trends", "linear_trend"]

RESTRICTIONS: Mapping[str, str] = MappingProxyType(
    {"relative_magnitude": "DeltaRM", "smoothness": "DeltaSD"}
)
METHODS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "relative_magnitude": ("C-LF", "Conditional"),
        "smoothness": ("FLCI", "C-F", "C-LF", "Conditional"),
    }
)
_HYBRID = MappingProxyType({"C-LF": "LF", "Conditional": "ARP", "C-F": "FLCI"})


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
    method: Method | None = None,
    bias_direction: BiasDirection | None = None,
    monotonicity_direction: MonotonicityDirection | None = None,
    bound: Bound = "parallel_trends",
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
        R's default for each set when ``None``: ``"FLCI"`` for
        :math:`\\Delta^{SD}`, ``"C-F"`` (conditional FLCI hybrid) for
        :math:`\\Delta^{SD}` with a sign or monotonicity restriction, ``"C-LF"``
        for every relative-magnitude set. Also available: ``"Conditional"``
        (both families), ``"C-LF"`` and ``"C-F"`` for smoothness. ``"FLCI"``
        is refused with a sign or monotonicity restriction (it ignores it).
    bias_direction
        ``"positive"`` (:math:`\\delta_{post} \\ge 0`) or ``"negative"``
        (:math:`\\le 0`), intersected with the set (R ``biasDirection``;
        ``DeltaSDPB``, ``DeltaRMNB``, ...).
    monotonicity_direction
        ``"increasing"`` (:math:`\\delta_{t-1} \\le \\delta_t` for all
        :math:`t`) or ``"decreasing"`` (R ``monotonicityDirection``;
        ``DeltaSDI``, ``DeltaRMD``, ...). Not together with ``bias_direction``.
    bound
        Relative magnitudes only: ``"parallel_trends"`` (default,
        :math:`\\Delta^{RM}`) or ``"linear_trend"``: :math:`\\Delta^{SDRM}(\\bar M)
        = \\{\\delta : |\\Delta^2\\delta_t| \\le \\bar M \\max_{s<0}
        |\\Delta^2\\delta_s|,\\ t \\ge 0\\}`, post-period changes in slope at most
        :math:`\\bar M` times the largest pre-period one (R ``bound =
        "deviation from linear trend"``; needs 2 pre-periods).
    breakdown
        Compute the breakdown value (the smallest bound whose robust interval
        contains 0), refined between grid values by Brent's method.
    kappa, grid_points, lf_sims, seed
        ARP settings: first-stage size of the hybrids (default
        :math:`\\alpha/10`), initial :math:`\\theta`-grid size (at most 101 when
        the test is evaluated by linear programs), draws and seed of the
        least-favourable critical value (R uses 1,000 draws; the default
        100,000 makes the Monte Carlo error in the bounds negligible).

    Returns
    -------
    HonestResult
        ``.table`` with columns ``M``, ``lb``, ``ub``, ``method``;
        ``.original``; ``.breakdown``; ``.delta`` names R's set.

    Raises
    ------
    InputError
        Wrong lengths or shapes, non-finite values, a sigma that is not
        symmetric positive semi-definite, negative grid values, bad options.
    """
    b, S, K, T, lv, a = _validate(betahat, sigma, num_pre_periods, num_post_periods, l_vec, alpha)
    check_option("restriction", restriction, Restriction)
    if method is not None:
        check_option("method", method, Method)
    if bias_direction is not None:
        check_option("bias_direction", bias_direction, BiasDirection)
    if monotonicity_direction is not None:
        check_option("monotonicity_direction", monotonicity_direction, MonotonicityDirection)
    check_option("bound", bound, Bound)
    if bias_direction is not None and monotonicity_direction is not None:
        raise InputError("give either bias_direction or monotonicity_direction, not both")
    if bound == "linear_trend" and restriction != "relative_magnitude":
        raise InputError("bound='linear_trend' applies to restriction='relative_magnitude' only")
    shaped = bias_direction is not None or monotonicity_direction is not None
    default = "C-F" if restriction == "smoothness" and shaped else METHODS[restriction][0]
    meth = default if method is None else method
    if meth not in METHODS[restriction]:
        raise InputError(
            f"method {meth!r} is not available for {restriction}; use one of {list(METHODS[restriction])}"
        )
    if meth == "FLCI" and shaped:
        raise InputError(
            "method 'FLCI' ignores the sign or monotonicity restriction; "
            "use 'C-F' (the default), 'C-LF' or 'Conditional'"
        )
    if grid is None:
        if restriction == "relative_magnitude":
            g = np.linspace(0.0, 2.0, 10)
        else:
            g = np.linspace(0.0, sd_default_grid_bound(b, S, K, alpha=0.05), 10)
    else:
        g = _check_grid(grid, "grid")
    family = "sdrm" if bound == "linear_trend" else restriction
    if family == "sdrm" and K < 2:
        raise InputError(
            "bound='linear_trend' needs at least 2 pre-periods (a pre-period second difference)"
        )
    options: dict[str, Any] = {}
    if meth == "FLCI":

        def interval(m: float) -> tuple[float, float]:
            r = _flci(b, S, K, T, lv, m, a)
            return r.lb, r.ub
    else:
        arp_opts = _arp_options(meth, kappa, grid_points, lf_sims, seed, a)
        options.update(arp_opts)
        plain_rm = family == "relative_magnitude" and not shaped
        # R: relative-magnitude sets use the post-period moments only; the smoothness
        # sets too, except with one post-period (no nuisance: every moment)
        post_only = family != "smoothness" or T > 1

        def interval(m: float) -> tuple[float, float]:
            pieces = delta_pieces(family, K, T, m, bias_direction, monotonicity_direction)
            ids = _rm_id_set(b, K, T, lv, m) if plain_rm else id_set_lp(pieces, b, K, lv)
            fl = _flci(b, S, K, T, lv, m, arp_opts["kappa"]) if meth == "C-F" else None
            return _arp_ci(
                pieces, b, S, K, lv, a, id_set=ids, post_only=post_only, flci=fl, **arp_opts
            )

    if bias_direction is not None:
        options["bias_direction"] = bias_direction
    if monotonicity_direction is not None:
        options["monotonicity_direction"] = monotonicity_direction
    if bound != "parallel_trends":
        options["bound"] = bound

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
        delta=delta_name(family, bias_direction, monotonicity_direction),
        estimate=est,
        se=se,
        alpha=a,
        l_vec=tuple(float(x) for x in lv),
        num_pre_periods=K,
        num_post_periods=T,
        options=options,
    )


def _arp_options(
    method: str, kappa: Any, grid_points: Any, lf_sims: Any, seed: Any, alpha: float
) -> dict[str, Any]:
    k = alpha / 10 if kappa is None else float(kappa)
    if method in ("C-LF", "C-F") and not 0 < k < alpha:
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
        "hybrid": _HYBRID[method],
        "kappa": k,
        "grid_points": int(grid_points),
        "lf_sims": int(lf_sims),
        "seed": int(seed),
    }


def _covers_zero(ci: tuple[float, float]) -> bool:
    lo, hi = ci
    return bool(np.isfinite(lo) and np.isfinite(hi) and lo <= 0 <= hi)


def _breakdown(
    grid: np.ndarray, bounds: list[tuple[float, float]], interval, orig, rel_tol: float = 1e-6
) -> float:
    """Smallest bound with 0 inside the robust interval, on a decimal lattice.

    The first grid value whose interval covers 0 brackets the crossing with the
    previous (non-covering) value; the crossing of
    :math:`g(M) = \\min(-lb(M), ub(M))` through zero is then located by Brent's
    method (bisection if :math:`g` is not finite) to ``rel_tol``.

    The value returned is the smallest point of the lattice
    :math:`k \\cdot 10^{e-5}` (:math:`e = \\lfloor \\log_{10} M^* \\rfloor`, so a
    relative resolution of 1e-5 to 1e-4) whose interval covers 0. Why a
    lattice: the root finder's path depends on the last bits of the interval
    end points, which differ between CPUs and BLAS kernels, so an unsnapped
    root agrees across machines only to ``rel_tol``; the lattice decision at
    fixed points changes only if the interval end lies within solver noise of
    zero there (committed outputs are written at 12 significant digits).
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
        root = float(
            optimize.brentq(g, lo, hi, xtol=tol, rtol=4 * np.finfo(float).eps, maxiter=100)
        )
    except (ValueError, RuntimeError):
        a, b = lo, hi
        while b - a > tol:
            mid = 0.5 * (a + b)
            if _covers_zero(interval(mid)):
                b = mid
            else:
                a = mid
        root = b
    return _snap_breakdown(root, lo, hi, interval)


def _snap_breakdown(root: float, lo: float, hi: float, interval) -> float:
    """Smallest lattice point in ``(lo, hi]`` near ``root`` whose interval covers 0."""
    if root <= 0.0:
        return hi if root < 0 else 0.0
    e = math.floor(math.log10(root)) - 5

    def point(k: int) -> float:
        return float(f"{k}e{e}")  # exact decimal, no k * 10**e rounding error

    k = max(math.floor(root / 10.0**e), 1)
    if _covers_zero(interval(point(k))):
        while k > 1 and point(k - 1) > lo and _covers_zero(interval(point(k - 1))):
            k -= 1
        return min(point(k), hi)
    while point(k) < hi and not _covers_zero(interval(point(k))):
        k += 1
    return min(point(k), hi)


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
        Passed to :func:`honest_did` (``method``, ``bias_direction``,
        ``monotonicity_direction``, ``bound``, ``grid_points``, ``lf_sims``,
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
    if method not in ("C-LF", "Conditional"):
        raise InputError(
            f"method for relative magnitudes must be 'C-LF' or 'Conditional', not {method!r}"
        )
    opts = _arp_options(method, kappa, grid_points, lf_sims, seed, a)
    Mbar = float(Mbar)
    if not math.isfinite(Mbar) or Mbar < 0:
        raise InputError(f"Mbar must be a non-negative number, got {Mbar!r}")
    pieces = delta_pieces("relative_magnitude", K, T, Mbar, None, None)
    return _arp_ci(pieces, b, S, K, lv, a, id_set=_rm_id_set(b, K, T, lv, Mbar), **opts)
