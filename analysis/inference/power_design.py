r"""The simulated panel of the power calculations: design, errors and noise from data.

:class:`PanelDesign` is the data-generating process of :mod:`analysis.inference.power`
and :func:`estimate_noise` calibrates its noise on an observed panel. They are
separate from the simulation engine and the power/MDE layer (``power.py``)
because a design is used on its own (``enclave power``, the studies' design
tables, the teaching examples build and describe designs without simulating),
and because nothing here depends on an estimator's closed form or on an
inference method.

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
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from analysis.design import demean_two_way
from analysis.errors import InputError
from analysis.estimators import registry

__all__ = ["PanelDesign", "estimate_noise"]


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
        """Number of ever-treated units."""
        return sum(c for _, c in self.adoption)

    @property
    def times(self) -> np.ndarray:
        """Period labels ``first_period, ..., first_period + T - 1``."""
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
        """One line: units, periods, adoption timing and noise (with its source)."""
        adop = ", ".join(f"{c} units in {g}" for g, c in self.adoption)
        return (
            f"{self.n_units} units x {self.n_periods} periods ({self.times[0]}-{self.times[-1]}); "
            f"treated: {adop}; never treated: {self.n_units - self.n_treated}; "
            f"noise AR(1) sd {self.sigma:.4g}, rho {self.rho:.3f} ({self.source})"
        )


# =========================================================================== noise
def _ar1_corr(rho: float, T: int) -> np.ndarray:
    """AR(1) correlation matrix :math:`R_\\rho = (\\rho^{|s-t|})_{s,t=1..T}`."""
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
