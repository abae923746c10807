r"""Power and minimum detectable effects (MDE) by simulation for a panel design.

The design -- :math:`N` units, :math:`T` periods, adoption timing and AR(1)
noise :math:`Y_{it} = \delta D_{it} + \varepsilon_{it}` -- and the noise
estimate from an observed panel live in :mod:`analysis.inference.power_design`
(:class:`PanelDesign`, :func:`estimate_noise`, re-exported here). This module
is the simulation engine (one plan per inference method) and the power/MDE
layer on the stored simulations.

Inference methods and rejection rules (two-sided, level :math:`\alpha`)
-----------------------------------------------------------------------
* ``"analytic"``: the estimator's own standard error (TWFE: CR1 clustered by
  unit, fixest small-sample factor; CS: influence function; BJS: Theorem-3
  conservative variance), reject when :math:`|\widehat{ATT}/\widehat{se}| >
  z_{1-\alpha/2}` (the normal critical value, as in ``DiDResult.tidy``).
* ``"ri"``: randomisation inference (:mod:`analysis.inference.ri`) of the
  sharp null :math:`\delta = 0` permuting cohort labels across all units,
  ``ri_draws`` Monte Carlo draws, reject when :math:`p \le \alpha`
  (TWFE and CS, through their closed forms).
* ``"wild"``: WCR wild cluster bootstrap by unit
  (:func:`analysis.inference.wild.wild_cluster_bootstrap`, Rademacher,
  ``boot_draws`` draws, symmetric p-value), TWFE only.

Common random numbers and equivariance
--------------------------------------
All estimators are *equivariant* in a constant effect: with
:math:`Y = \varepsilon + \delta D`, :math:`\widehat{ATT}(Y) =
\widehat{ATT}(\varepsilon) + \delta` and every standard error is unchanged
(residuals, influence functions and imputation residuals do not move), and
the RI statistic of every re-assignment is :math:`A^*(\varepsilon) + \delta
B^*` with :math:`B^*` the statistic of :math:`D` as an outcome. The WCR test
of :math:`\beta = 0` on :math:`Y` is the WCR test of :math:`\beta = -\delta`
on :math:`\varepsilon`, so it rejects iff :math:`-\delta` lies outside the WCR
interval computed on :math:`\varepsilon`. Each simulated panel is therefore
estimated **once**, at :math:`\delta = 0`; the rejection decision at any
:math:`\delta` follows exactly from a few stored numbers. The same
simulations (same seed) serve every effect size -- common random numbers --
so power curves are smooth in :math:`\delta` and the MDE is well defined. The
test suite checks the equivariance against the estimators themselves.

Power and MDE
-------------
:math:`\widehat{\text{power}}(\delta) = S^{-1}\sum_s 1\{\text{reject}_s(\delta)\}`
over :math:`S` = ``n_sims`` simulated panels, with Monte Carlo standard error
:math:`\sqrt{\hat p(1-\hat p)/S}`. The MDE is the smallest :math:`\delta > 0`
with power :math:`\ge` ``power`` (default 0.8), found by bisection on the
common-random-number power function: bracket by doubling from a first
guess, then halve the bracket until it is narrower than ``xtol``; the upper
end of the final bracket is returned (its power is :math:`\ge` the target).

Fast paths
----------
With the assignment fixed, all three estimators without covariates are
linear in :math:`Y` and their standard errors are norms of linear maps of
:math:`Y`; they are computed for a block of simulated panels at once
(``engine="fast"``, default) and checked against the estimators in the test
suite. ``engine="refit"`` calls :func:`~analysis.estimators.twfe.twfe`,
:func:`~analysis.estimators.cs.callaway_santanna` or
:func:`~analysis.estimators.bjs.bjs_imputation` on every simulated panel
(analytic inference only).

All simulation loops run through :func:`analysis.inference.engine.run_draws`:
the same ``seed`` gives identical results for any ``n_jobs``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.design import demean_two_way
from analysis.errors import InputError
from analysis.estimators import registry
from analysis.inference.engine import run_draws
from analysis.inference.power_design import PanelDesign, estimate_noise
from analysis.inference.ri_design import PermutationSampler
from analysis.inference.ties import count_at_least
from analysis.validation import check_alpha, check_draws, check_option, literal_values

__all__ = [
    "INFERENCES",
    "PanelDesign",
    "PowerSimulation",
    "estimate_noise",
    "mde",
    "mde_table",
    "power_curve",
    "simulate_power",
]

Inference = Literal["analytic", "ri", "wild"]
INFERENCES: tuple[str, ...] = literal_values(Inference)
#: inference -> the registry capability a method needs for it
_NEEDS = {"analytic": "power", "ri": "power_ri", "wild": "power_wild"}
#: Simulated panels per engine block (part of the random design).
POWER_BLOCK = 50


# =========================================================================== estimators
def _fast_estimator(design: PanelDesign, method: str, options: Mapping[str, Any]) -> Any:
    """The estimator's closed form (registry ``power_closed_form``) for ``design``."""
    build = registry.get_spec(method).power_fast()
    if build is None:
        raise InputError(f"{method} has no closed form for power simulation; use engine='refit'")
    return build(design, **dict(options))


@dataclass(frozen=True)
class _RefitEstimator:
    """Calls the package estimator on every simulated panel (slow, for checks)."""

    design: PanelDesign
    method: str
    options: tuple[tuple[str, Any], ...]

    def __call__(self, Y: np.ndarray) -> np.ndarray:
        fn = registry.get_estimator(self.method)
        out = np.empty((Y.shape[0], 2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for s in range(Y.shape[0]):
                r = fn(
                    self.design.long(Y[s]),
                    outcome="y",
                    unit="unit",
                    time="time",
                    cohort="cohort",
                    **dict(self.options),
                )
                out[s] = (r.att, r.se)
        return out


# =========================================================================== simulation plans
@dataclass(frozen=True)
class _AnalyticPlan:
    design: PanelDesign
    estimator: Any

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.estimator(self.design.errors(rng, size))


@dataclass(frozen=True)
class _RIPlan:
    """Per panel: observed A, B and R draws of A*, B* (statistic = A + delta * B)."""

    design: PanelDesign
    weights: np.ndarray  # (labels, T)
    demean: bool
    codes: np.ndarray
    qd: np.ndarray  # (n, labels): Q of the treatment dummy
    n_draws: int

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        E = self.design.errors(rng, size)
        Z = demean_two_way(E) if self.demean else E
        Q = Z @ self.weights.T  # (size, n, labels)
        sampler = PermutationSampler(self.codes, (np.arange(self.codes.size),))
        n = self.codes.size
        ar = np.arange(n)
        out = np.empty((size, 2 + 2 * self.n_draws))
        b_obs = self.qd[ar, self.codes].sum()
        for s in range(size):
            perm = sampler(rng, self.n_draws)
            out[s, 0] = Q[s][ar, self.codes].sum()
            out[s, 1] = b_obs
            out[s, 2 : 2 + self.n_draws] = Q[s][ar[None, :], perm].sum(axis=1)
            out[s, 2 + self.n_draws :] = self.qd[ar[None, :], perm].sum(axis=1)
        return out


@dataclass(frozen=True)
class _WildPlan:
    """Per panel: the WCR interval on the noise-only panel (reject iff -delta is outside)."""

    design: PanelDesign
    n_draws: int
    alpha: float

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        from analysis.inference.wild import wild_cluster_bootstrap

        E = self.design.errors(rng, size)
        D = self.design.treatment().ravel()
        n, T = self.design.n_units, self.design.n_periods
        uid = np.repeat(np.arange(n), T)
        tid = np.tile(np.arange(T), n)
        out = np.empty((size, 4))
        for s in range(size):
            sub_seed = int(rng.integers(0, 2**62))
            r = wild_cluster_bootstrap(
                E[s].ravel(),
                D[:, None],
                uid,
                0,
                fe=[uid, tid],
                null=0.0,
                B=self.n_draws,
                seed=sub_seed,
                alpha=self.alpha,
                impose_null=True,
                ci=True,
                enumerate=False,
            )
            out[s] = (r.ci[0], r.ci[1], r.estimate, r.se)
        return out


# =========================================================================== results
@dataclass(frozen=True)
class PowerSimulation:
    """Stored simulation results from which power at any effect size follows.

    Attributes
    ----------
    design
        The :class:`PanelDesign`.
    method, inference
        Estimator and inference method.
    alpha
        Test level.
    n_sims, seed
        Simulated panels and seed.
    stats
        Per-panel sufficient statistics at :math:`\\delta = 0` (read-only):
        analytic ``(att, se)``; RI ``(A, B, A*_1..R, B*_1..R)``; wild
        ``(ci_low, ci_high, att, se)``.
    n_draws
        Randomisation or bootstrap draws per panel (``0`` for analytic).
    """

    design: PanelDesign
    method: str
    inference: str
    alpha: float
    n_sims: int
    seed: int | None
    stats: np.ndarray
    n_draws: int = 0
    options: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        s = np.array(self.stats, dtype=np.float64, copy=True)
        s.setflags(write=False)
        object.__setattr__(self, "stats", s)

    def rejections(self, effect: float) -> np.ndarray:
        """Boolean rejection of :math:`H_0: \\delta = 0` in each panel at true effect ``effect``."""
        d = float(effect)
        st = self.stats
        if self.inference == "analytic":
            z = stats.norm.ppf(1.0 - self.alpha / 2.0)
            return np.abs(st[:, 0] + d) > z * st[:, 1]
        if self.inference == "ri":
            R = self.n_draws
            obs = st[:, 0] + d * st[:, 1]
            dr = st[:, 2 : 2 + R] + d * st[:, 2 + R :]
            # the package's tie rule (analysis.inference.ties), one panel per row
            hits = count_at_least(np.abs(dr), np.abs(obs), axis=1)
            p = (1.0 + hits) / (1.0 + R)
            return p <= self.alpha
        # wild (WCR): reject iff -effect is outside the interval computed at delta = 0
        return (-d < st[:, 0]) | (-d > st[:, 1])

    def power(self, effect: float) -> float:
        """Rejection rate at true effect ``effect``."""
        return float(self.rejections(effect).mean())

    def curve(self, effects: Sequence[float]) -> pd.DataFrame:
        """Power at each effect: ``effect, power, mc_se`` plus the design columns."""
        rows = []
        for e in effects:
            p = self.power(e)
            rows.append(
                {
                    "method": self.method,
                    "inference": self.inference,
                    "effect": float(e),
                    "power": p,
                    "mc_se": math.sqrt(p * (1 - p) / self.n_sims),
                    "n_sims": self.n_sims,
                    "alpha": self.alpha,
                }
            )
        return pd.DataFrame(rows)

    def scale(self) -> float:
        """A typical standard error (first guess for the MDE search)."""
        st = self.stats
        if self.inference == "analytic":
            return float(np.median(st[:, 1]))
        if self.inference == "ri":
            R = self.n_draws
            return float(np.median(np.std(st[:, 2 : 2 + R], axis=1)))
        return float(np.median(st[:, 3]))

    def mde(self, power: float = 0.8, *, xtol: float | None = None, max_iter: int = 200) -> float:
        """Smallest effect :math:`\\delta > 0` with power :math:`\\ge` ``power``.

        Procedure: bracket by doubling from :math:`2.8\\times` the typical
        standard error, then bisect the common-random-number power function
        until the bracket is narrower than ``xtol`` (default :math:`10^{-6}`
        times the typical standard error); return the bracket's upper end.
        ``inf`` if even a huge effect does not reach the target (e.g. RI with
        too few draws for the level).
        """
        if not (0.0 < power < 1.0):
            raise InputError(f"power must lie strictly between 0 and 1 (got {power!r})")
        sc = self.scale()
        if not (np.isfinite(sc) and sc > 0):
            sc = self.design.sigma
        tol = float(xtol) if xtol is not None else 1e-6 * sc
        lo, hi = 0.0, 2.8 * sc
        it = 0
        while self.power(hi) < power:
            lo, hi = hi, 2.0 * hi
            it += 1
            if it > 60:
                return math.inf
        while hi - lo > tol and it < max_iter:
            mid = 0.5 * (lo + hi)
            if self.power(mid) >= power:
                hi = mid
            else:
                lo = mid
            it += 1
        return float(hi)


# =========================================================================== API
def _check_method(method: str, inference: str, engine: str) -> None:
    if method not in registry.methods("power"):
        ok = ", ".join(registry.methods("power"))
        raise InputError(f"method must be one of {ok} (got {method!r})")
    check_option("inference", inference, Inference)
    check_option("engine", engine, ("fast", "refit"))
    spec = registry.get_spec(method)
    if not spec.supports(_NEEDS[inference]):
        why = spec.notes.get(_NEEDS[inference]) or {
            "ri": f"{method} has no closed form over cohort assignments",
            "wild": "the wild cluster bootstrap applies to regression estimators (TWFE) only",
        }.get(inference, "not supported")
        raise InputError(f"{method} with {inference} inference is not available: {why}")
    if engine == "refit" and inference != "analytic":
        raise InputError("engine='refit' is available for analytic inference only")
    if engine == "fast" and inference == "analytic" and spec.power_fast() is None:
        raise InputError(f"{method} has no closed form for power simulation; use engine='refit'")


def simulate_power(
    design: PanelDesign,
    *,
    method: str = "twfe",
    inference: str = "analytic",
    n_sims: int = 500,
    alpha: float = 0.05,
    seed: int | None = 0,
    ri_draws: int = 999,
    boot_draws: int = 999,
    method_options: Mapping[str, Any] | None = None,
    engine: Literal["fast", "refit"] = "fast",
    n_jobs: int = 1,
    backend: Literal["serial", "joblib", "dask"] = "joblib",
    client: Any = None,
) -> PowerSimulation:
    """Simulate ``n_sims`` panels of ``design`` once and store what power needs.

    Parameters
    ----------
    design
        The panel design.
    method
        ``"twfe"``, ``"cs"`` or ``"bjs"``.
    inference
        ``"analytic"``, ``"ri"`` (TWFE, CS) or ``"wild"`` (TWFE).
    n_sims
        Number of simulated panels :math:`S`.
    alpha
        Level of the two-sided test.
    seed
        Seed of the engine; the same seed reproduces the same panels for every
        method and effect size (common random numbers).
    ri_draws, boot_draws
        Randomisation / wild-bootstrap draws per panel.
    method_options
        Estimator options; CS accepts ``control`` (``"never"``/``"notyet"``).
    engine
        ``"fast"`` (closed forms) or ``"refit"`` (call the estimators).
    n_jobs, backend, client
        Passed to :func:`~analysis.inference.engine.run_draws`.

    Returns
    -------
    PowerSimulation
    """
    _check_method(method, inference, engine)
    check_draws("n_sims", n_sims)
    alpha = check_alpha(alpha)
    opts = dict(method_options or {})
    spec = registry.get_spec(method)
    allowed = spec.power_options
    if set(opts) - allowed:
        raise InputError(f"unsupported method_options for {method}: {sorted(set(opts) - allowed)}")
    registry.validate_options(method, opts)
    n_draws = 0
    if inference == "analytic":
        est = (
            _fast_estimator(design, method, opts)
            if engine == "fast"
            else _RefitEstimator(design, method, tuple(sorted(opts.items())))
        )
        plan: Any = _AnalyticPlan(design, est)
    elif inference == "ri":
        n_draws = int(ri_draws)
        if n_draws < 1:
            raise InputError("ri_draws must be positive")
        g = design.cohorts()
        labels, codes = np.unique(g, return_inverse=True)
        counts = np.bincount(codes).astype(np.float64)
        cf = spec.ri_fast()(labels, counts, design.times, opts)
        if isinstance(cf, str):
            raise InputError(f"{method} with ri inference is not available: {cf}")
        w, demean = cf.weights, cf.demean
        D = design.treatment()
        qd = (demean_two_way(D) if demean else D) @ w.T
        plan = _RIPlan(design, w, demean, codes.astype(np.int64), qd, n_draws)
    else:
        n_draws = int(boot_draws)
        plan = _WildPlan(design, n_draws, alpha)
    st = run_draws(
        plan,
        int(n_sims),
        seed,
        block=POWER_BLOCK,
        n_jobs=n_jobs,
        backend=backend,
        client=client,
        desc=f"power {method}/{inference}",
    )
    return PowerSimulation(
        design=design,
        method=method,
        inference=inference,
        alpha=alpha,
        n_sims=int(n_sims),
        seed=seed,
        stats=st,
        n_draws=n_draws,
        options=tuple(sorted(opts.items())),
    )


def power_curve(
    design: PanelDesign,
    effects: Sequence[float],
    *,
    method: str = "twfe",
    inference: str = "analytic",
    n_sims: int = 500,
    alpha: float = 0.05,
    seed: int | None = 0,
    n_jobs: int = 1,
    **kwargs: Any,
) -> pd.DataFrame:
    """Simulated power at each effect size (common random numbers).

    Procedure: :func:`simulate_power` once, then the rejection rate of every
    effect in ``effects`` from the same simulated panels (module docstring).

    Returns
    -------
    pandas.DataFrame
        ``method, inference, effect, power, mc_se, n_sims, alpha``.
    """
    sim = simulate_power(
        design,
        method=method,
        inference=inference,
        n_sims=n_sims,
        alpha=alpha,
        seed=seed,
        n_jobs=n_jobs,
        **kwargs,
    )
    return sim.curve(effects)


def mde(
    design: PanelDesign,
    *,
    method: str = "twfe",
    inference: str = "analytic",
    power: float = 0.8,
    n_sims: int = 500,
    alpha: float = 0.05,
    seed: int | None = 0,
    xtol: float | None = None,
    n_jobs: int = 1,
    **kwargs: Any,
) -> float:
    """Minimum detectable effect: smallest :math:`\\delta` with power :math:`\\ge` ``power``.

    Procedure: simulate once (:func:`simulate_power`), then bisection on the
    common-random-number power function (:meth:`PowerSimulation.mde`).
    """
    sim = simulate_power(
        design,
        method=method,
        inference=inference,
        n_sims=n_sims,
        alpha=alpha,
        seed=seed,
        n_jobs=n_jobs,
        **kwargs,
    )
    return sim.mde(power, xtol=xtol)


def mde_table(
    design: PanelDesign,
    *,
    methods: Sequence[str] | None = None,
    inferences: Sequence[str] = ("analytic", "ri"),
    power: float = 0.8,
    n_sims: int = 500,
    alpha: float = 0.05,
    seed: int | None = 0,
    n_jobs: int = 1,
    **kwargs: Any,
) -> pd.DataFrame:
    """MDE of every available (method, inference) pair on the same simulated panels.

    Returns
    -------
    pandas.DataFrame
        ``method, inference, mde, mde_over_sigma, power_at_mde, size`` (rejection
        rate at :math:`\\delta = 0`), ``n_sims, n_draws, alpha, target_power,
        seed, design, note``. Unavailable pairs get ``mde = NaN`` and a note.
    """
    rows = []
    for m in registry.methods("power") if methods is None else methods:
        for inf in inferences:
            row: dict[str, Any] = {"method": m, "inference": inf}
            try:
                _check_method(m, inf, "fast")
            except InputError as exc:
                row.update(
                    mde=math.nan,
                    mde_over_sigma=math.nan,
                    power_at_mde=math.nan,
                    size=math.nan,
                    n_sims=int(n_sims),
                    n_draws=0,
                    note=str(exc),
                )
                rows.append(row)
                continue
            sim = simulate_power(
                design,
                method=m,
                inference=inf,
                n_sims=n_sims,
                alpha=alpha,
                seed=seed,
                n_jobs=n_jobs,
                **kwargs,
            )
            v = sim.mde(power)
            row.update(
                mde=v,
                mde_over_sigma=v / design.sigma,
                power_at_mde=sim.power(v) if math.isfinite(v) else math.nan,
                size=sim.power(0.0),
                n_sims=sim.n_sims,
                n_draws=sim.n_draws,
                note="",
            )
            rows.append(row)
    out = pd.DataFrame(rows)
    out["alpha"] = float(alpha)
    out["target_power"] = float(power)
    out["seed"] = seed
    out["design"] = design.describe()
    return out
