r"""Power and minimum detectable effects (MDE) by simulation for a panel design.

Design and data-generating process
----------------------------------
A :class:`PanelDesign` fixes :math:`N` units observed in :math:`T` consecutive
periods, the adoption timing (how many units first treated in each period;
the rest never treated) and the noise. Outcomes are simulated as

.. math::

    Y_{it} = \delta D_{it} + \varepsilon_{it}, \qquad
    \varepsilon_{it} = \rho\,\varepsilon_{i,t-1} + \sqrt{1-\rho^2}\,\sigma u_{it},\quad
    \varepsilon_{i1} = \sigma u_{i1},\quad u_{it} \overset{iid}{\sim} N(0,1),

i.e. a stationary AR(1) within unit with marginal standard deviation
:math:`\sigma`, independent across units, and a constant effect
:math:`\delta` on treated unit-periods. Unit and period effects are omitted
because every estimator here (TWFE, Callaway-Sant'Anna, BJS imputation) is
exactly invariant to them.

Noise from data
---------------
:meth:`PanelDesign.from_data` estimates :math:`(\sigma, \rho)` from the
residuals :math:`\hat e` of the static TWFE regression
:math:`Y_{it} = \alpha_i + \lambda_t + \beta D_{it} + e_{it}` on a balanced
panel. Two-way demeaning biases the raw residual autocorrelation downwards
(by about :math:`-1/(T-1)`), so :math:`\rho` solves the moment equation

.. math::

    \frac{\sum_i\sum_{t\ge2}\hat e_{it}\hat e_{i,t-1}}{\sum_i\sum_t \hat e_{it}^2}
    = \frac{\operatorname{tr}(L\,M R_\rho M)}{\operatorname{tr}(M R_\rho M)},

with :math:`R_\rho = (\rho^{|s-t|})` the AR(1) correlation matrix,
:math:`M = I_T - \iota\iota'/T` and :math:`L` the first sub-diagonal (the
right-hand side is the ratio of expectations under the model), and
:math:`\sigma^2 = \mathrm{RSS} / \{(N-1)\operatorname{tr}(M R_\rho) -
\sum_i \ddot D_i' R_\rho \ddot D_i / \|\ddot D\|^2\}`, the residual sum of
squares divided by its expectation per unit of :math:`\sigma^2`
(:math:`\ddot D` = two-way demeaned treatment; the second term is the degree
of freedom used by :math:`\beta`). Estimated effects and their heterogeneity
are absorbed by :math:`\beta` only on average, so treat the estimate as a
planning value.

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
from scipy import optimize, stats

from analysis.design import demean_two_way
from analysis.errors import InputError
from analysis.estimators import registry
from analysis.inference.engine import run_draws
from analysis.inference.ri_design import PermutationSampler
from analysis.validation import check_alpha, check_option, literal_values

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


# =========================================================================== design
@dataclass(frozen=True)
class PanelDesign:
    """A balanced staggered-adoption panel design for power calculations.

    Parameters
    ----------
    n_units
        Number of units :math:`N`.
    n_periods
        Number of periods :math:`T` (labelled ``first_period, ..., first_period + T - 1``).
    adoption
        Adoption timing: mapping (or pairs) first-treated period -> number of
        units. Periods must lie after the first period and within the panel;
        the remaining units are never treated (at least one is required).
    sigma
        Marginal standard deviation of the idiosyncratic error.
    rho
        AR(1) coefficient of the error within unit, :math:`|\\rho| < 1`.
    first_period
        Label of the first period.
    source
        Free text stating where the noise parameters come from.
    """

    n_units: int
    n_periods: int
    adoption: Any
    sigma: float = 1.0
    rho: float = 0.0
    first_period: int = 1
    source: str = "given"

    def __post_init__(self) -> None:
        for name in ("n_units", "n_periods", "first_period"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise InputError(f"{name} must be an integer (got {v!r})")
            object.__setattr__(self, name, int(v))
        if self.n_units < 3 or self.n_periods < 2:
            raise InputError("a design needs at least 3 units and 2 periods")
        pairs = self.adoption.items() if isinstance(self.adoption, Mapping) else self.adoption
        try:
            adop = tuple(sorted((int(g), int(c)) for g, c in pairs))
        except (TypeError, ValueError):
            raise InputError("adoption must map first-treated periods to unit counts") from None
        if not adop:
            raise InputError("adoption must list at least one treated cohort")
        last = self.first_period + self.n_periods - 1
        for g, c in adop:
            if not (self.first_period < g <= last):
                raise InputError(
                    f"adoption period {g} must lie in {self.first_period + 1}..{last} "
                    "(after the first period, within the panel)"
                )
            if c < 1:
                raise InputError(f"cohort {g} must have at least one unit (got {c})")
        if len({g for g, _ in adop}) != len(adop):
            raise InputError("adoption lists a period twice")
        if sum(c for _, c in adop) >= self.n_units:
            raise InputError("at least one never-treated unit is required")
        object.__setattr__(self, "adoption", adop)
        sigma, rho = float(self.sigma), float(self.rho)
        if not (math.isfinite(sigma) and sigma > 0):
            raise InputError(f"sigma must be positive (got {self.sigma!r})")
        if not (math.isfinite(rho) and abs(rho) < 1):
            raise InputError(f"rho must lie in (-1, 1) (got {self.rho!r})")
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "rho", rho)

    # ----------------------------------------------------------------- builders
    @classmethod
    def from_counts(
        cls,
        n_units: int,
        n_treated: int,
        n_periods: int,
        cohorts: Sequence[int],
        *,
        sigma: float = 1.0,
        rho: float = 0.0,
        first_period: int = 1,
    ) -> PanelDesign:
        """Split ``n_treated`` units as evenly as possible over ``cohorts``
        (earlier cohorts get the remainder)."""
        cohorts = sorted(int(c) for c in cohorts)
        if not cohorts:
            raise InputError("cohorts must not be empty")
        q, r = divmod(int(n_treated), len(cohorts))
        counts = [q + (1 if j < r else 0) for j in range(len(cohorts))]
        adop = {g: c for g, c in zip(cohorts, counts, strict=True) if c > 0}
        return cls(n_units, n_periods, adop, sigma=sigma, rho=rho, first_period=first_period)

    @classmethod
    def from_data(
        cls,
        data: pd.DataFrame,
        *,
        outcome: str,
        unit: str,
        time: str,
        cohort: str,
        sigma: float | None = None,
        rho: float | None = None,
    ) -> PanelDesign:
        """Design of an observed balanced panel: its units, periods and adoption
        timing, with :math:`(\\sigma, \\rho)` estimated by :func:`estimate_noise`
        unless given."""
        noise = estimate_noise(data, outcome=outcome, unit=unit, time=time, cohort=cohort)
        g = noise["cohorts"]
        vals, cnt = np.unique(g[g > 0], return_counts=True)
        s = noise["sigma"] if sigma is None else float(sigma)
        r = noise["rho"] if rho is None else float(rho)
        src = (
            f"estimated from {outcome!r}: TWFE residual sd {noise['sigma']:.4g}, "
            f"AR(1) rho {noise['rho']:.3f} (N={noise['n_units']}, T={noise['n_periods']})"
        )
        return cls(
            int(noise["n_units"]),
            int(noise["n_periods"]),
            {int(v): int(c) for v, c in zip(vals, cnt, strict=True)},
            sigma=s,
            rho=r,
            first_period=int(noise["first_period"]),
            source=src,
        )

    # ----------------------------------------------------------------- views
    @property
    def n_treated(self) -> int:
        return sum(c for _, c in self.adoption)

    @property
    def times(self) -> np.ndarray:
        return self.first_period + np.arange(self.n_periods)

    def cohorts(self) -> np.ndarray:
        """Cohort of every unit (treated units first, ``0`` = never)."""
        g = np.zeros(self.n_units)
        pos = 0
        for c, k in self.adoption:
            g[pos : pos + k] = c
            pos += k
        return g

    def treatment(self) -> np.ndarray:
        """Treatment dummy :math:`D_{it}` (N x T)."""
        g = self.cohorts()
        t = self.times
        return ((g[:, None] > 0) & (t[None, :] >= g[:, None])).astype(np.float64)

    def errors(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws of the error panel, shape (size, N, T)."""
        u = rng.standard_normal((size, self.n_units, self.n_periods))
        if self.rho == 0.0:
            return self.sigma * u
        e = np.empty_like(u)
        e[:, :, 0] = u[:, :, 0]
        s = math.sqrt(1.0 - self.rho**2)
        for t in range(1, self.n_periods):
            e[:, :, t] = self.rho * e[:, :, t - 1] + s * u[:, :, t]
        return self.sigma * e

    def long(self, y: np.ndarray) -> pd.DataFrame:
        """Long panel (``unit, time, cohort, y``) of one outcome matrix (N x T)."""
        g = self.cohorts()
        return pd.DataFrame(
            {
                "unit": np.repeat(np.arange(1, self.n_units + 1), self.n_periods),
                "time": np.tile(self.times, self.n_units),
                "cohort": np.repeat(g, self.n_periods),
                "y": np.asarray(y, dtype=np.float64).ravel(),
            }
        )

    def describe(self) -> str:
        adop = ", ".join(f"{c} units in {g}" for g, c in self.adoption)
        return (
            f"{self.n_units} units x {self.n_periods} periods ({self.times[0]}-{self.times[-1]}); "
            f"treated: {adop}; never treated: {self.n_units - self.n_treated}; "
            f"noise AR(1) sd {self.sigma:.4g}, rho {self.rho:.3f} ({self.source})"
        )


# =========================================================================== noise
def _ar1_corr(rho: float, T: int) -> np.ndarray:
    idx = np.arange(T)
    return rho ** np.abs(idx[:, None] - idx[None, :])


def estimate_noise(
    data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str
) -> dict[str, Any]:
    """Estimate the error sd and AR(1) coefficient from TWFE residuals.

    Procedure (module docstring): fit the static TWFE regression on the
    balanced panel, solve the lag-1 moment equation for :math:`\\rho` (Brent's
    method on :math:`(-0.99, 0.99)`; clipped at the bounds with a warning), then
    divide the residual sum of squares by its expectation per unit of
    :math:`\\sigma^2`.

    Returns
    -------
    dict
        ``sigma, rho, r_lag1`` (raw residual autocorrelation), ``n_units,
        n_periods, first_period, cohorts`` (per unit), ``beta`` (TWFE coefficient).

    Raises
    ------
    InputError
        Missing columns, unbalanced panel, missing outcome, non-consecutive
        periods, units treated in the first period, no treated or no
        never-treated units.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = registry.prepare_panel(
            data,
            outcome=outcome,
            unit=unit,
            time=time,
            cohort=cohort,
            require_never_treated=True,
        )
    dropped = [note for note in panel.notes if "dropped" in note]
    if dropped:
        raise InputError("the noise estimate needs a clean balanced panel: " + "; ".join(dropped))
    if not panel.balanced:
        raise InputError("the noise estimate needs a balanced panel (every unit in every period)")
    times = panel.times
    if not np.all(np.diff(times) == 1):
        raise InputError("periods must be consecutive integers")
    n, T = panel.n_units, times.size
    if T < 3:
        raise InputError("estimating an AR(1) coefficient needs at least 3 periods")
    d = panel.data
    y = d["y"].to_numpy().reshape(n, T)
    g = d["cohort"].to_numpy()[::T]
    D = ((g[:, None] > 0) & (times[None, :] >= g[:, None])).astype(np.float64)
    Yt, Dt = demean_two_way(y), demean_two_way(D)
    dd = float((Dt**2).sum())
    beta = float((Dt * Yt).sum() / dd) if dd > 0 else 0.0
    e = Yt - beta * Dt
    rss = float((e**2).sum())
    r_hat = float((e[:, 1:] * e[:, :-1]).sum() / rss)
    M = np.eye(T) - 1.0 / T
    L = np.eye(T, k=-1)

    def ratio(rho: float) -> float:
        A = M @ _ar1_corr(rho, T) @ M
        return float(np.trace(L @ A) / np.trace(A))

    lo, hi = -0.99, 0.99
    if r_hat <= ratio(lo):
        rho = lo
        warnings.warn(
            "residual autocorrelation below the model range; rho set to -0.99",
            UserWarning,
            stacklevel=2,
        )
    elif r_hat >= ratio(hi):
        rho = hi
        warnings.warn(
            "residual autocorrelation above the model range; rho set to 0.99",
            UserWarning,
            stacklevel=2,
        )
    else:
        rho = float(optimize.brentq(lambda r: ratio(r) - r_hat, lo, hi, xtol=1e-12))
    R = _ar1_corr(rho, T)
    dof = (n - 1) * float(np.trace(M @ R)) - (
        float(np.einsum("it,ts,is->", Dt, R, Dt)) / dd if dd > 0 else 0.0
    )
    sigma = math.sqrt(rss / dof)
    return {
        "sigma": sigma,
        "rho": rho,
        "r_lag1": r_hat,
        "beta": beta,
        "n_units": n,
        "n_periods": T,
        "first_period": int(times[0]),
        "cohorts": g,
    }


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
            scale = np.maximum(np.abs(obs), np.abs(dr).max(axis=1))
            tol = 1e-10 * np.maximum(scale, np.finfo(float).tiny)
            hits = (np.abs(dr) >= (np.abs(obs) - tol)[:, None]).sum(axis=1)
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
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)) or n_sims < 1:
        raise InputError(f"n_sims must be a positive integer (got {n_sims!r})")
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
