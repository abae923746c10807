"""Goodman-Bacon (2021) decomposition of the static TWFE coefficient.

For a balanced panel without covariates and timing groups :math:`k` (first
treated period), with :math:`U` the never-treated units, Goodman-Bacon's
Theorem 1 writes the TWFE coefficient of
:math:`y_{it} = \\alpha_i + \\lambda_t + \\beta D_{it} + \\varepsilon_{it}` as

.. math::

    \\hat\\beta^{TWFE} = \\sum_{k} s_{kU}\\hat\\beta_{kU}
      + \\sum_{k < l}\\big(s^{k}_{kl}\\hat\\beta^{k}_{kl} + s^{l}_{kl}\\hat\\beta^{l}_{kl}\\big),
    \\qquad \\sum s = 1,

with :math:`n_k` the share of units in group :math:`k`, :math:`\\bar D_k` the
share of periods group :math:`k` is treated, :math:`n_{ab} = n_a/(n_a + n_b)`,
:math:`\\hat V^D` the variance of the two-way demeaned treatment dummy, and

* treated vs never (``treated_vs_never``):
  :math:`\\hat\\beta_{kU} = (\\bar y_k^{POST(k)} - \\bar y_k^{PRE(k)}) - (\\bar y_U^{POST(k)} - \\bar y_U^{PRE(k)})`,
  :math:`s_{kU} = (n_k + n_U)^2 n_{kU}(1-n_{kU})\\bar D_k(1-\\bar D_k)/\\hat V^D`;
* earlier vs later-treated as control (``earlier_vs_later``), window before :math:`l`:
  :math:`\\hat\\beta^k_{kl} = (\\bar y_k^{MID} - \\bar y_k^{PRE(k)}) - (\\bar y_l^{MID} - \\bar y_l^{PRE(k)})`,
  :math:`s^k_{kl} = ((n_k+n_l)(1-\\bar D_l))^2 n_{kl}(1-n_{kl})
  \\frac{\\bar D_k - \\bar D_l}{1-\\bar D_l}\\frac{1-\\bar D_k}{1-\\bar D_l}/\\hat V^D`;
* later vs earlier-treated as control (``later_vs_earlier``, the "forbidden"
  comparison), window from :math:`k` on:
  :math:`\\hat\\beta^l_{kl} = (\\bar y_l^{POST(l)} - \\bar y_l^{MID}) - (\\bar y_k^{POST(l)} - \\bar y_k^{MID})`,
  :math:`s^l_{kl} = ((n_k+n_l)\\bar D_k)^2 n_{kl}(1-n_{kl})
  \\frac{\\bar D_l}{\\bar D_k}\\frac{\\bar D_k - \\bar D_l}{\\bar D_k}/\\hat V^D`,

where :math:`MID = [k, l)`. The weighted sum reproduces :math:`\\hat\\beta^{TWFE}`
exactly (tested to 1e-10). Units treated in the first period are dropped by
:func:`~analysis.estimators._panel.prepare_panel` (they are always treated), so
no "always-treated" comparison arises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.estimators._panel import prepare_panel

__all__ = ["BaconDecomposition", "bacon_decomposition"]

TYPES = ("treated_vs_never", "earlier_vs_later", "later_vs_earlier")


@dataclass(frozen=True)
class BaconDecomposition:
    """Result of :func:`bacon_decomposition`.

    Attributes
    ----------
    table
        One row per 2x2 comparison: ``type, treated_cohort, control_cohort
        (0 = never treated), estimate, weight``.
    twfe
        The static TWFE coefficient being decomposed.
    info
        Outcome, sample sizes, data layer, notes.
    """

    table: pd.DataFrame
    twfe: float
    info: Any = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", self.table.reset_index(drop=True).copy())
        object.__setattr__(self, "twfe", float(self.twfe))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    @property
    def weighted_sum(self) -> float:
        """:math:`\\sum_j s_j\\hat\\beta_j` (equals :attr:`twfe`)."""
        return float((self.table["estimate"] * self.table["weight"]).sum())

    def by_type(self) -> pd.DataFrame:
        """Total weight and weighted-average estimate of each comparison type."""
        t = self.table.assign(wb=self.table["estimate"] * self.table["weight"])
        g = t.groupby("type", sort=False).agg(weight=("weight", "sum"), wb=("wb", "sum"))
        g["estimate"] = g["wb"] / g["weight"]
        return g[["weight", "estimate"]].reindex([x for x in TYPES if x in g.index]).reset_index()

    def tidy(self) -> pd.DataFrame:
        """The comparison table with each comparison's contribution ``weight * estimate``."""
        return self.table.assign(contribution=self.table["estimate"] * self.table["weight"])

    def summary(self) -> str:
        lines = [
            "Goodman-Bacon decomposition of the static TWFE coefficient",
            f"Outcome: {self.info.get('outcome')}   Units: {self.info.get('n_units')}   "
            f"Periods: {self.info.get('n_periods')}   Data layer: {self.info.get('data_layer')}",
            f"TWFE coefficient: {self.twfe: .6f}   weighted sum of 2x2s: {self.weighted_sum: .6f}",
            "",
            self.by_type().to_string(index=False, float_format=lambda v: f"{v: .4f}"),
            "",
            self.table.to_string(index=False, float_format=lambda v: f"{v: .4f}"),
        ]
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


def bacon_decomposition(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    data_layer: str | None = None,
) -> BaconDecomposition:
    """Goodman-Bacon (2021) decomposition of the static TWFE DiD coefficient.

    Parameters
    ----------
    data
        Balanced long panel (no covariates).
    outcome, unit, time, cohort
        Column names; ``cohort`` = first treated period (0/missing = never).
    data_layer
        Data-layer label.

    Returns
    -------
    BaconDecomposition

    Raises
    ------
    InputError
        Invalid or unbalanced panel.
    """
    panel = prepare_panel(data, outcome=outcome, unit=unit, time=time, cohort=cohort)
    if not panel.balanced:
        raise InputError(
            "the Bacon decomposition needs a balanced panel (every unit in every period)"
        )
    d = panel.data
    times = panel.times
    T, N = len(times), panel.n_units
    Y = d["y"].to_numpy().reshape(N, T)
    g_unit = d["cohort"].to_numpy().reshape(N, T)[:, 0]
    Dm = (g_unit[:, None] > 0) & (times[None, :] >= g_unit[:, None])
    Df = Dm.astype(float)
    Dt = Df - Df.mean(1, keepdims=True) - Df.mean(0, keepdims=True) + Df.mean()
    VD = float((Dt**2).mean())
    if VD <= 0:
        raise InputError(
            "the treatment dummy has no variation after removing unit and time effects"
        )
    beta = float((Dt * Y).sum() / (Dt**2).sum())

    groups = np.sort(np.unique(g_unit))
    share = {g: float((g_unit == g).mean()) for g in groups}
    ybar = {g: Y[g_unit == g].mean(axis=0) for g in groups}
    dbar = {g: float((times >= g).mean()) if g > 0 else 0.0 for g in groups}
    treated = [g for g in groups if g > 0]

    def win_mean(g, lo, hi):  # mean over periods lo <= t < hi
        m = (times >= lo) & (times < hi)
        return float(ybar[g][m].mean())

    rows = []
    inf = np.inf
    if 0 in share:
        nU = share[0]
        for k in treated:
            nk = share[k]
            est = (win_mean(k, k, inf) - win_mean(k, -inf, k)) - (
                win_mean(0, k, inf) - win_mean(0, -inf, k)
            )
            nkU = nk / (nk + nU)
            w = (nk + nU) ** 2 * nkU * (1 - nkU) * dbar[k] * (1 - dbar[k]) / VD
            rows.append(("treated_vs_never", k, 0, est, w))
    for i, k in enumerate(treated):
        for l_ in treated[i + 1 :]:
            nk, nl = share[k], share[l_]
            Dk, Dl = dbar[k], dbar[l_]
            nkl = nk / (nk + nl)
            est_k = (win_mean(k, k, l_) - win_mean(k, -inf, k)) - (
                win_mean(l_, k, l_) - win_mean(l_, -inf, k)
            )
            w_k = (
                ((nk + nl) * (1 - Dl)) ** 2
                * nkl
                * (1 - nkl)
                * ((Dk - Dl) / (1 - Dl))
                * ((1 - Dk) / (1 - Dl))
                / VD
            )
            est_l = (win_mean(l_, l_, inf) - win_mean(l_, k, l_)) - (
                win_mean(k, l_, inf) - win_mean(k, k, l_)
            )
            w_l = ((nk + nl) * Dk) ** 2 * nkl * (1 - nkl) * (Dl / Dk) * ((Dk - Dl) / Dk) / VD
            rows.append(("earlier_vs_later", k, l_, est_k, w_k))
            rows.append(("later_vs_earlier", l_, k, est_l, w_l))
    table = pd.DataFrame(
        rows, columns=["type", "treated_cohort", "control_cohort", "estimate", "weight"]
    )
    table["treated_cohort"] = table["treated_cohort"].astype("int64")
    table["control_cohort"] = table["control_cohort"].astype("int64")
    info = {
        "outcome": outcome,
        "n_units": N,
        "n_periods": T,
        "n_obs": N * T,
        "weights_sum": float(table["weight"].sum()),
        "data_layer": data_layer or "unspecified",
        "notes": list(panel.notes),
    }
    return BaconDecomposition(table=table, twfe=beta, info=info)
