r"""De Chaisemartin-D'Haultfoeuille weights of the static TWFE coefficient.

Model
-----
Observations :math:`i` belong to a group :math:`g` (a county, a worker) and a
period :math:`t`; :math:`N_{g,t}` is the number of observations in cell
:math:`(g,t)` and :math:`D_{g,t}` its (cell-level) treatment. The static
two-way fixed-effects regression

.. math::

    Y_{i,g,t} = \alpha_g + \lambda_t + \beta_{fe} D_{g,t} + u_{i,g,t}

gives, by Frisch-Waugh-Lovell,
:math:`\hat\beta_{fe} = \sum_i \varepsilon_{g,t} Y_i / \sum_i \varepsilon_{g,t} D_{g,t}`,
where :math:`\varepsilon_{g,t}` is the residual of the regression of
:math:`D_{g,t}` on group and period fixed effects (observation level, i.e.
cells weighted by :math:`N_{g,t}`). Write :math:`N_1 = \sum_{g,t} N_{g,t} D_{g,t}`.
De Chaisemartin and D'Haultfoeuille (2020, *AER* 110(9), Theorem 1) show that
under common trends

.. math::

    E[\hat\beta_{fe}] = \sum_{(g,t):\,D_{g,t} \neq 0} W_{g,t}\,\Delta_{g,t},
    \qquad
    W_{g,t} = \frac{N_{g,t} D_{g,t}\,\varepsilon_{g,t}}{\sum_{g',t'} N_{g',t'} D_{g',t'}\,\varepsilon_{g',t'}},
    \qquad \sum W_{g,t} = 1,

with :math:`\Delta_{g,t}` the average treatment effect (per unit of treatment)
in cell :math:`(g,t)`. The weights are the product of the "natural" weight
:math:`\pi_{g,t} = N_{g,t} D_{g,t} / N_1` and the normalised residual
:math:`w_{g,t} = \varepsilon_{g,t} / \sum \pi\,\varepsilon`; they can be
negative (already-treated cells used as controls). The identity is exact in
sample: if :math:`Y = Y(0) + \Delta D` then :math:`\hat\beta_{fe}(Y) -
\hat\beta_{fe}(Y(0)) = \sum W_{g,t}\Delta_{g,t}` (tested on simulated data).

Robustness measures (Corollary 1)
---------------------------------
(i) The smallest standard deviation of the :math:`\Delta_{g,t}` (across treated
cells, weights :math:`\pi`) compatible with :math:`\beta_{fe}` and an ATT of
zero,

.. math::

    \underline\sigma_{fe} = \frac{|\hat\beta_{fe}|}{\sigma(w)},\qquad
    \sigma(w) = \Big(\sum \pi_{g,t}(w_{g,t} - 1)^2\Big)^{1/2}\sqrt{\tfrac{M}{M-1}},

with :math:`M` the number of treated cells; the :math:`\sqrt{M/(M-1)}`
degrees-of-freedom factor is the one used by the current R
``TwoWayFEWeights`` and Stata ``twowayfeweights`` (it reproduces their printed
output). (ii) When some weights are negative, the smallest standard deviation
compatible with :math:`\beta_{fe}` and treatment effects all of the opposite
sign: sort the non-zero-weight cells by :math:`w` in decreasing order
:math:`w_{(1)} \ge \dots \ge w_{(M)}`, let :math:`P_k = \sum_{j \ge k}\pi_{(j)}`,
:math:`S_k = \sum_{j \ge k}\pi_{(j)}w_{(j)}`,
:math:`T_k = \sum_{j \ge k}\pi_{(j)}w_{(j)}^2`, and :math:`s` the smallest
:math:`k \ge 2` with :math:`w_{(k)} < -S_k/(1-P_k)`; then

.. math::

    \underline{\underline\sigma}_{fe} = \frac{|\hat\beta_{fe}|}{\sqrt{T_s + S_s^2/(1-P_s)}} .

Conventions follow the reference implementations: cells whose weight is
within :math:`10^{-10}` of zero count as zero-weight cells (neither positive
nor negative); a treatment that varies within a cell is replaced by its cell
mean (with a note). Only the ``feTR`` case (fixed-effects regression, common
trends, no controls, no regression weights) is implemented.

Validated against the printed Stata ``twowayfeweights`` output for the
Vella-Verbeek (1998) union-wage panel (``tests/test_twfe_weights.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.estimators import _fe

__all__ = ["TWFEWeights", "twfe_weights", "ZERO_TOL"]

#: Weights with absolute value below this count as zero (R/Stata convention).
ZERO_TOL = 1e-10


@dataclass(frozen=True)
class TWFEWeights:
    """Weights attached to the static TWFE coefficient and their summaries.

    Attributes
    ----------
    cells
        One row per treated cell: ``group, time, n_obs, treatment, eps`` (residual
        of the treatment on the fixed effects), ``natural`` (:math:`\\pi_{g,t}`),
        ``w`` (normalised residual) and ``weight`` (:math:`W_{g,t}`, zero when
        within :data:`ZERO_TOL`), sorted by group and time; with ``cohort=`` also
        ``cohort`` and ``exposure`` (:math:`t - g`).
    beta
        :math:`\\hat\\beta_{fe}` (``NaN`` when no outcome was given).
    sigma_fe
        Robustness measure (i): smallest s.d. of effects compatible with an ATT of 0.
    sigma_sign
        Robustness measure (ii): smallest s.d. compatible with effects all of the
        opposite sign to :math:`\\beta_{fe}`; ``NaN`` when no weight is negative.
    """

    cells: pd.DataFrame
    beta: float
    sigma_fe: float
    sigma_sign: float
    data_layer: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", self.cells.reset_index(drop=True).copy())

    @property
    def n_treated_cells(self) -> int:
        return int(len(self.cells))

    @property
    def n_positive(self) -> int:
        return int((self.cells["weight"] > 0).sum())

    @property
    def n_negative(self) -> int:
        return int((self.cells["weight"] < 0).sum())

    @property
    def n_zero(self) -> int:
        return int((self.cells["weight"] == 0).sum())

    @property
    def sum_positive(self) -> float:
        return float(self.cells.loc[self.cells["weight"] > 0, "weight"].sum())

    @property
    def sum_negative(self) -> float:
        return float(self.cells.loc[self.cells["weight"] < 0, "weight"].sum())

    @property
    def share_negative(self) -> float:
        """Share of the non-zero-weight treated cells whose weight is negative."""
        m = self.n_positive + self.n_negative
        return self.n_negative / m if m else math.nan

    def implied_beta(self, effects: pd.DataFrame, effect: str = "att") -> float:
        """:math:`\\sum W_{g,t}\\Delta_{g,t}` for cell effects ``effects`` (columns
        ``group, time, <effect>``); every treated cell must have an effect."""
        m = self.cells.merge(effects, on=["group", "time"], how="left")
        if m[effect].isna().any():
            raise InputError("effects must give a value for every treated (group, time) cell")
        return float((m["weight"] * m[effect]).sum())

    def summary(self) -> pd.DataFrame:
        """The table printed by R/Stata: counts and sums of positive and negative weights."""
        rows = [
            ("Positive weights", self.n_positive, self.sum_positive),
            ("Negative weights", self.n_negative, self.sum_negative),
            ("Total", self.n_positive + self.n_negative, self.sum_positive + self.sum_negative),
        ]
        return pd.DataFrame(rows, columns=["weights", "n_cells", "sum"]).set_index("weights")

    def tidy(self) -> pd.DataFrame:
        """One row of named summary numbers (the hand-off to tables)."""
        return pd.DataFrame(
            [
                {
                    "beta": self.beta,
                    "n_treated_cells": self.n_treated_cells,
                    "n_positive": self.n_positive,
                    "n_negative": self.n_negative,
                    "n_zero": self.n_zero,
                    "share_negative": self.share_negative,
                    "sum_positive": self.sum_positive,
                    "sum_negative": self.sum_negative,
                    "sigma_fe": self.sigma_fe,
                    "sigma_sign": self.sigma_sign,
                    "data_layer": self.data_layer or "",
                }
            ]
        )

    def __str__(self) -> str:
        return (
            f"TWFE coefficient {self.beta:.4f} is a weighted sum of {self.n_positive + self.n_negative} "
            f"cell effects: {self.n_positive} positive weights (sum {self.sum_positive:.4f}), "
            f"{self.n_negative} negative (sum {self.sum_negative:.4f}); {self.n_zero} treated cells "
            f"get weight 0. sigma_fe = {self.sigma_fe:.4f}, sign-reversal sigma = {self.sigma_sign:.4f}."
        )


def _validate(
    data: pd.DataFrame, group: str, time: str, treatment: str | None, cohort: str | None, outcome
) -> list[str]:
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame")
    if (treatment is None) == (cohort is None):
        raise InputError("give exactly one of `treatment` (a 0/1 column) or `cohort`")
    cols = [group, time, treatment or cohort] + ([outcome] if outcome else [])
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}")
    for c in cols[1:]:
        if not pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c]):
            if not pd.api.types.is_bool_dtype(data[c]) or c != treatment:
                raise InputError(f"column {c!r} must be numeric")
    return cols


def twfe_weights(
    data: pd.DataFrame,
    *,
    group: str,
    time: str,
    treatment: str | None = None,
    cohort: str | None = None,
    outcome: str | None = None,
    data_layer: str | None = None,
) -> TWFEWeights:
    """Weights of the treated cells in the static TWFE coefficient (``feTR``).

    Parameters
    ----------
    data
        Long data, one row per observation (several rows per cell allowed).
    group, time
        Group and period columns; cells are their combinations.
    treatment
        Treatment column :math:`D` (0/1, or a non-negative intensity). Give this
        **or** ``cohort``.
    cohort
        First treated period (0/missing = never): :math:`D = 1\\{g > 0, t \\ge g\\}`.
    outcome
        Outcome column; when given, :math:`\\hat\\beta_{fe}` and the robustness
        measures are computed, otherwise they are ``NaN``.
    data_layer
        Label of the data layer (``"real"``, ``"synthetic"``).

    Returns
    -------
    TWFEWeights

    Raises
    ------
    InputError
        Missing or non-numeric columns, no treated cell, fewer than two groups
        or periods, or a treatment absorbed by the fixed effects.
    """
    cols = _validate(data, group, time, treatment, cohort, outcome)
    notes: list[str] = []
    d = data[cols].copy()
    n0 = len(d)
    d = d.dropna(subset=[c for c in cols if c != cohort])
    if len(d) < n0:
        notes.append(f"dropped {n0 - len(d)} rows with missing values")
    if cohort is not None:
        g = d[cohort].fillna(0).to_numpy(dtype=float)
        tt = d[time].to_numpy(dtype=float)
        D = ((g > 0) & (tt >= g)).astype(float)
    else:
        D = d[treatment].to_numpy(dtype=float)
    gid, glev = pd.factorize(d[group], sort=True)
    tid, tlev = pd.factorize(d[time], sort=True)
    if len(glev) < 2 or len(tlev) < 2:
        raise InputError("need at least two groups and two periods")
    cell = gid.astype(np.int64) * len(tlev) + tid
    cell_codes, cell_inv = np.unique(cell, return_inverse=True)
    n_cell = np.bincount(cell_inv).astype(float)
    D_cell = np.bincount(cell_inv, weights=D) / n_cell
    if not np.allclose(D_cell[cell_inv], D, atol=1e-12):
        notes.append("the treatment varies within some (group, time) cells; cell means are used")
    D = D_cell[cell_inv]
    if not (D != 0).any():
        raise InputError("no treated (group, time) cell")

    # residual of D on group and period effects, observation level (cells weighted by N_gt)
    Td = _fe.time_dummies(tid, len(tlev))
    fit = _fe.fit_absorbed(D, gid, len(glev), Td)
    eps = fit.resid
    denom = float(eps @ D)
    if abs(denom) < 1e-12 * max(1.0, float(D @ D)):
        raise InputError("the treatment is absorbed by the group and period effects")
    beta = float(eps @ d[outcome].to_numpy(dtype=float)) / denom if outcome else math.nan

    eps_cell = np.bincount(cell_inv, weights=eps) / n_cell
    treated = D_cell != 0
    N1 = float((n_cell * D_cell).sum())
    natural = n_cell * D_cell / N1
    w = eps_cell * N1 / denom
    weight = natural * w
    weight = np.where(np.abs(weight) < ZERO_TOL, 0.0, weight)
    cells = pd.DataFrame(
        {
            "group": np.asarray(glev)[cell_codes // len(tlev)],
            "time": np.asarray(tlev)[cell_codes % len(tlev)],
            "n_obs": n_cell.astype(np.int64),
            "treatment": D_cell,
            "eps": eps_cell,
            "natural": natural,
            "w": w,
            "weight": weight,
        }
    )
    if cohort is not None:
        g_cell = np.bincount(cell_inv, weights=g) / n_cell
        cells["cohort"] = g_cell
        cells["exposure"] = cells["time"].to_numpy(dtype=float) - g_cell
    cells = cells[treated]

    sigma_fe = sigma_sign = math.nan
    if outcome:
        pi, ww = cells["natural"].to_numpy(), cells["w"].to_numpy()
        M = int((pi != 0).sum())
        sd_w = (
            math.sqrt(float((pi * (ww - 1.0) ** 2).sum())) * math.sqrt(M / (M - 1)) if M > 1 else 0
        )
        sigma_fe = abs(beta) / sd_w if sd_w > 0 else math.inf
        if (cells["weight"] < 0).any():
            sigma_sign = _sign_reversal_sigma(cells, beta)
    return TWFEWeights(
        cells=cells,
        beta=beta,
        sigma_fe=sigma_fe,
        sigma_sign=sigma_sign,
        data_layer=data_layer,
        notes=tuple(notes),
    )


def _sign_reversal_sigma(cells: pd.DataFrame, beta: float) -> float:
    """Corollary 1 (ii), on the cells with a non-zero weight (module docstring)."""
    c = cells[cells["weight"] != 0]
    # decreasing w; ties broken by group then time (as the reference implementations)
    order = np.lexsort((c["time"].to_numpy(), c["group"].to_numpy(), -c["w"].to_numpy()))
    pi = c["natural"].to_numpy()[order]
    w = c["w"].to_numpy()[order]
    W = c["weight"].to_numpy()[order]
    P = np.cumsum(pi[::-1])[::-1]
    S = np.cumsum(W[::-1])[::-1]
    T = np.cumsum((pi * w**2)[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = w < -S / (1.0 - P)
    cond[0] = False
    if not cond.any():
        return math.nan
    s = int(np.argmax(cond))
    return abs(beta) / math.sqrt(T[s] + S[s] ** 2 / (1.0 - P[s]))
