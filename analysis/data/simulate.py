"""Seeded simulated staggered-adoption panels with known treatment effects.

Used by the known-truth tests, the benchmarks and teaching examples. Nothing
here is about Zhejiang; the calibrated "Zhejiang twin" lives in
:mod:`analysis.data.twin`.

Model
-----
For unit :math:`i` in cohort :math:`g_i` (0 = never treated) and period
:math:`t = 1, \\dots, T`,

.. math::

    y_{it} = \\alpha_i + \\lambda_t + \\beta x_i \\, t / T
             + \\tau_{g_i}(t) \\, 1\\{g_i > 0, t \\ge g_i\\} + \\varepsilon_{it},

with :math:`\\tau_g(t) = (\\text{base}_g + \\text{slope} \\cdot (t - g))`, i.e.
heterogeneous by cohort and growing with exposure. ``x`` is a time-invariant
covariate that also shifts the probability of being treated early, so that
unconditional parallel trends fail when ``beta != 0`` while conditional
parallel trends hold. The true ATT(g,t) are returned beside the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SimulatedPanel:
    """A simulated long panel and its true effects.

    Attributes
    ----------
    data
        Columns ``unit, time, cohort, x, y, cluster`` (one row per unit-period).
    att_gt
        True ATT(g, t) for every treated cohort and post period: ``cohort, time, att``.
    """

    data: pd.DataFrame
    att_gt: pd.DataFrame

    def true_simple(self) -> float:
        """True overall ATT with R ``did``'s 'simple' weights (cohort sizes)."""
        d = self.data
        sizes = d.groupby("cohort")["unit"].nunique()
        a = self.att_gt.assign(w=self.att_gt["cohort"].map(sizes))
        return float(np.average(a["att"], weights=a["w"]))

    def true_dynamic(self) -> pd.Series:
        """True event-time effects averaged over cohorts with cohort-size weights."""
        d = self.data
        sizes = d.groupby("cohort")["unit"].nunique()
        a = self.att_gt.assign(
            e=self.att_gt["time"] - self.att_gt["cohort"], w=self.att_gt["cohort"].map(sizes)
        )
        return a.groupby("e").apply(
            lambda s: np.average(s["att"], weights=s["w"]), include_groups=False
        )


def simulate_staggered(
    n_units: int = 500,
    n_periods: int = 10,
    cohorts: tuple[int, ...] = (4, 6, 8),
    never_share: float = 0.3,
    base_effect: tuple[float, ...] | float | None = None,
    slope: float = 0.5,
    beta_x: float = 0.0,
    noise_sd: float = 1.0,
    n_clusters: int | None = None,
    seed: int = 0,
) -> SimulatedPanel:
    """Simulate a balanced staggered-adoption panel with known effects.

    Parameters
    ----------
    n_units, n_periods
        Panel size; periods are ``1..n_periods``.
    cohorts
        Treated cohorts (first treated period); each must lie in ``2..n_periods``.
    never_share
        Share of never-treated units; the rest are split evenly over cohorts
        (tilted towards early cohorts by ``x`` when ``beta_x != 0``).
    base_effect
        Effect on impact for each cohort (scalar = same for all; default
        ``1, 2, ..., len(cohorts)``).
    slope
        Growth of the effect per period of exposure.
    beta_x
        Strength of the covariate-specific trend (0 = unconditional parallel trends).
    noise_sd
        Idiosyncratic noise s.d.
    n_clusters
        If given, units are assigned to this many clusters (column ``cluster``).
    seed
        Seed for :func:`numpy.random.default_rng`.
    """
    rng = np.random.default_rng(seed)
    cohorts = tuple(int(c) for c in cohorts)
    if any(c < 2 or c > n_periods for c in cohorts):
        raise ValueError("cohorts must lie in 2..n_periods")
    if base_effect is None:
        base_effect = tuple(float(j + 1) for j in range(len(cohorts)))
    base = np.asarray(base_effect, dtype=float)
    if base.ndim == 0:
        base = np.full(len(cohorts), float(base))
    if base.shape != (len(cohorts),):
        raise ValueError("base_effect must be a scalar or have one value per cohort")
    x = rng.normal(size=n_units)
    # assignment: never-treated with prob never_share; treated units pick a cohort,
    # earlier cohorts more likely for high x when beta_x != 0
    u = rng.random(n_units)
    treated = u >= never_share
    k = len(cohorts)
    tilt = np.exp(-np.outer(np.sign(beta_x) * x, np.arange(k)) * 0.5)
    p = tilt / tilt.sum(axis=1, keepdims=True)
    pick = (rng.random(n_units)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    g = np.where(treated, np.asarray(cohorts)[np.minimum(pick, k - 1)], 0)

    alpha = rng.normal(size=n_units) + 0.5 * x
    lam = np.cumsum(rng.normal(0.2, 0.3, size=n_periods))
    t = np.arange(1, n_periods + 1)
    eff_by_cohort = {c: base[j] + slope * (t - c) for j, c in enumerate(cohorts)}
    tau = np.zeros((n_units, n_periods))
    for c, e in eff_by_cohort.items():
        m = g == c
        tau[m] = np.where(t >= c, e, 0.0)
    y = (
        alpha[:, None]
        + lam[None, :]
        + beta_x * x[:, None] * (t[None, :] / n_periods)
        + tau
        + rng.normal(scale=noise_sd, size=(n_units, n_periods))
    )
    data = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(1, n_units + 1), n_periods),
            "time": np.tile(t, n_units),
            "cohort": np.repeat(g, n_periods),
            "x": np.repeat(x, n_periods),
            "y": y.ravel(),
        }
    )
    nc = n_clusters or n_units
    data["cluster"] = (data["unit"] - 1) % nc + 1
    rows = [
        {"cohort": c, "time": int(tt), "att": float(base[j] + slope * (tt - c))}
        for j, c in enumerate(cohorts)
        if (g == c).any()
        for tt in t
        if tt >= c
    ]
    return SimulatedPanel(data=data, att_gt=pd.DataFrame(rows))
