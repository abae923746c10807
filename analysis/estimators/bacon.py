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

Time-varying covariates (Goodman-Bacon 2021, Section 5, as R ``bacondecomp``)
------------------------------------------------------------------------------
With controls :math:`X_{it}` the TWFE coefficient of
:math:`y_{it} = \\alpha_i + \\lambda_t + \\beta D_{it} + X_{it}'\\gamma + e_{it}` is
:math:`\\hat\\beta = \\widehat{Cov}(y, \\tilde d)/\\widehat{Var}(\\tilde d)`, where
:math:`\\tilde d_{it}` is the residual of :math:`D_{it}` on :math:`X_{it}` and the two
sets of effects (Frisch-Waugh-Lovell). Splitting :math:`\\tilde d` into its part
within timing groups, :math:`\\tilde d_{ikt} = d_{it} - \\bar d_i - (\\bar d_{kt} - \\bar d_k)`,
and between them, :math:`\\tilde d_{kt} = (\\bar d_{kt} - \\bar d_k) - (\\bar d_t - \\bar d)`,

.. math::

    \\hat\\beta = \\Omega\\,\\hat\\beta_w + (1-\\Omega)\\sum_{k<l} s_{kl}\\hat\\beta^{b}_{kl},
    \\qquad \\Omega = \\widehat{Var}(\\tilde d_{ikt})/\\widehat{Var}(\\tilde d),

with :math:`\\hat\\beta_w = \\widehat{Cov}(y, \\tilde d_{ikt})/\\widehat{Var}(\\tilde d_{ikt})` (type
``within``). For each pair of timing groups :math:`k < l` (:math:`l` = never
treated included), on the rows of those two groups and all periods, with
:math:`\\hat V^D_{kl}` the variance of the two-way demeaned dummy, :math:`R^2_{kl}`
the :math:`R^2` of that dummy on the two-way demeaned group-by-period means of
:math:`X`, :math:`\\hat V^{dp}_{kl}` the variance of the gap between that fit and the
two-way demeaned group-by-period mean of the predicted treatment,
:math:`\\hat\\beta^{D}_{kl}` the pair's TWFE coefficient controlling for the group
means of :math:`X`, and :math:`\\hat\\beta^{p}_{kl}` the coefficient on that gap:

.. math::

    \\hat\\beta^b_{kl} = \\frac{(1-R^2_{kl})\\hat V^D_{kl}\\hat\\beta^D_{kl} + \\hat V^{dp}_{kl}\\hat\\beta^p_{kl}}
                           {(1-R^2_{kl})\\hat V^D_{kl} + \\hat V^{dp}_{kl}},
    \\qquad s_{kl} \\propto n_{kl}^2\\big((1-R^2_{kl})\\hat V^D_{kl} + \\hat V^{dp}_{kl}\\big),

:math:`n_{kl}` the pair's number of rows, :math:`\\sum s_{kl} = 1`. Types:
``treated_vs_never`` and ``both_treated`` (with controls earlier/later
comparisons are not separated, as in ``bacondecomp``). In :attr:`BaconDecomposition.table`
the pair weights are :math:`(1-\\Omega)s_{kl}` so that ``table`` plus the within
term (``omega``, ``beta_within``) sums to :math:`\\hat\\beta`; ``bacondecomp``'s
``two_by_twos$weight`` is :math:`s_{kl}` = our weight / :math:`(1-\\Omega)`.

Treatment dummy
---------------
Instead of a first-treated column, ``treatment`` names a 0/1 dummy (as the
right-hand side of ``bacondecomp::bacon(y ~ D)``). It must be absorbing (once 1,
1 in every later period of the unit); the cohort is the first period it is 1.
A dummy that switches off raises :class:`~analysis.errors.InputError`.

Observation weights
-------------------
Not supported, deliberately: R ``bacondecomp::bacon()`` has no weights argument
(``bacon(formula, data, id_var, time_var, quietly)``, GitHub evanjflack/bacondecomp
@ ec99dd0), so there is no reference implementation to validate a weighted
decomposition against, and the closed-form weights above are those of the
unweighted regression.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from analysis.design import demean_two_way
from analysis.errors import InputError
from analysis.estimators._panel import note, prepare_panel
from analysis.results import Aggregate, DiDResult

__all__ = ["BaconDecomposition", "bacon", "bacon_decomposition", "cohort_from_treatment"]

TYPES = (
    "treated_vs_never",
    "earlier_vs_later",
    "later_vs_earlier",
    "both_treated",
    "within",
)


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
    omega, beta_within
        With covariates: the weight :math:`\\Omega` and estimate
        :math:`\\hat\\beta_w` of the within-timing-group term (``None`` without).
    """

    table: pd.DataFrame
    twfe: float
    info: Any = field(default_factory=dict)
    omega: float | None = None
    beta_within: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", self.table.reset_index(drop=True).copy())
        object.__setattr__(self, "twfe", float(self.twfe))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))
        for name in ("omega", "beta_within"):
            v = getattr(self, name)
            object.__setattr__(self, name, None if v is None else float(v))

    @property
    def weighted_sum(self) -> float:
        """:math:`\\sum_j s_j\\hat\\beta_j` (+ :math:`\\Omega\\hat\\beta_w` with covariates; equals :attr:`twfe`)."""
        s = float((self.table["estimate"] * self.table["weight"]).sum())
        if self.omega is not None:
            s += self.omega * float(self.beta_within)
        return s

    def components(self) -> pd.DataFrame:
        """The table plus, with covariates, the ``within`` term (cohorts 0): weights sum to 1."""
        if self.omega is None:
            return self.table.copy()
        within = pd.DataFrame(
            [("within", 0, 0, self.beta_within, self.omega)], columns=list(self.table.columns)
        )
        return pd.concat([self.table, within], ignore_index=True)

    def by_type(self) -> pd.DataFrame:
        """Total weight and weighted-average estimate of each comparison type."""
        comp = self.components()
        t = comp.assign(wb=comp["estimate"] * comp["weight"])
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
            self.components().to_string(index=False, float_format=lambda v: f"{v: .4f}"),
        ]
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


def cohort_from_treatment(data: pd.DataFrame, *, unit: str, time: str, treatment: str) -> pd.Series:
    """First period in which the absorbing 0/1 dummy ``treatment`` is 1 (0 = never).

    Raises
    ------
    InputError
        Missing column, missing or non-0/1 values, or a dummy that switches off
        (non-absorbing treatment, which the decomposition does not cover).
    """
    missing = [c for c in (unit, time, treatment) if c not in data.columns]
    if missing:
        raise InputError(f"column(s) {', '.join(map(repr, missing))} not found in the data")
    D = pd.to_numeric(data[treatment], errors="coerce")
    if D.isna().any():
        raise InputError(
            f"treatment column {treatment!r} has {int(D.isna().sum())} missing or non-numeric value(s)"
        )
    if not D.isin([0, 1]).all():
        raise InputError(f"treatment column {treatment!r} must be a 0/1 dummy")
    t = pd.to_numeric(data[time], errors="coerce")
    if t.isna().any():
        raise InputError(f"time column {time!r} has missing or non-numeric values")
    frame = pd.DataFrame({"u": data[unit].to_numpy(), "t": t.to_numpy(), "D": D.to_numpy()})
    frame = frame.sort_values(["u", "t"], kind="stable")
    switched_off = frame["D"] < frame.groupby("u", sort=False)["D"].cummax()
    if switched_off.any():
        first = frame.loc[switched_off, "u"].iloc[0]
        n_u = frame.loc[switched_off, "u"].nunique()
        raise InputError(
            f"treatment {treatment!r} is not absorbing: it switches from 1 back to 0 in "
            f"{n_u} unit(s) (first: {unit}={first!r}); the decomposition needs staggered adoption"
        )
    first_on = frame.loc[frame["D"] == 1].groupby("u")["t"].min()
    return data[unit].map(first_on).fillna(0.0).astype(float).rename(f"{treatment}_cohort")


def _resolve_cohort(data, *, unit, time, cohort, treatment):
    if (cohort is None) == (treatment is None):
        raise InputError(
            "give either cohort (first treated period) or treatment (a 0/1 dummy)"
            + (", not both" if cohort is not None else "")
        )
    if treatment is None:
        return data, cohort
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame")
    g = cohort_from_treatment(data, unit=unit, time=time, treatment=treatment)
    name = f"_cohort_of_{treatment}"
    return data.assign(**{name: g.to_numpy()}), name


def _balanced(panel, data: pd.DataFrame, *, unit: str, time: str):
    """The panel itself if balanced; if it was balanced before rows with missing values
    were dropped, the panel without the units that lost rows (with a note); else an error."""
    if panel.balanced:
        return panel, []
    periods = data.groupby(unit, sort=False)[time].nunique()
    if len(data) != periods.size * data[time].nunique() or (periods != periods.max()).any():
        raise InputError(
            "the Bacon decomposition needs a balanced panel (every unit in every period)"
        )
    d = panel.data
    T = len(panel.times)
    full = d.groupby("uid")["time"].transform("size").to_numpy() == T
    notes = list(panel.notes)
    lost = list(pd.unique(d.loc[~full, "unit"]))
    n_lost = len(lost)
    note(
        notes,
        f"dropped {n_lost} unit(s) with a missing outcome or covariate in some period "
        "(the decomposition needs a balanced panel)",
        stacklevel=4,
    )
    d = d.loc[full].copy()
    if d.empty:
        raise InputError("no complete unit left to decompose")
    d["uid"] = pd.factorize(d["uid"])[0].astype("int64")
    d = d.reset_index(drop=True)
    g = d["cohort"].to_numpy()
    cohorts = np.unique(g[g > 0])
    if cohorts.size == 0:
        raise InputError("no treated units left after dropping incomplete units")
    return dataclasses.replace(
        panel,
        data=d,
        n_units=int(d["uid"].nunique()),
        cohorts=cohorts,
        times=np.unique(d["time"].to_numpy()),
        balanced=True,
        notes=tuple(notes),
    ), lost


def _wide(panel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The balanced panel in wide form, as both decompositions start from it.

    Parameters
    ----------
    panel
        A balanced :class:`~analysis.estimators._panel.Panel` (rows sorted by
        unit, then time).

    Returns
    -------
    Y, g, D
        The ``N x T`` outcome, each unit's cohort (0 = never treated) and the
        ``N x T`` treatment dummy :math:`D_{it} = 1[g_i > 0,\\ t \\ge g_i]` as
        floats; columns in ``panel.times`` order.
    """
    d = panel.data
    times = panel.times
    T, N = len(times), panel.n_units
    Y = d["y"].to_numpy().reshape(N, T)
    g_unit = d["cohort"].to_numpy().reshape(N, T)[:, 0]
    D = ((g_unit[:, None] > 0) & (times[None, :] >= g_unit[:, None])).astype(float)
    return Y, g_unit, D


def _table(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """The comparison table of :attr:`BaconDecomposition.table`.

    Parameters
    ----------
    rows
        ``(type, treated_cohort, control_cohort, estimate, weight)`` tuples.

    Returns
    -------
    pandas.DataFrame
        Those columns, the cohorts as ``int64``.
    """
    table = pd.DataFrame(
        rows, columns=["type", "treated_cohort", "control_cohort", "estimate", "weight"]
    )
    table["treated_cohort"] = table["treated_cohort"].astype("int64")
    table["control_cohort"] = table["control_cohort"].astype("int64")
    return table


def _info(
    panel,
    outcome: str,
    weights_sum: float,
    *,
    data_layer: str | None,
    dropped_units: list[Any],
    **extra: Any,
) -> dict[str, Any]:
    """The ``info`` of a :class:`BaconDecomposition`.

    Parameters
    ----------
    panel
        The balanced panel decomposed (sizes and notes).
    outcome
        The outcome column.
    weights_sum
        The sum of the weights (1 up to rounding; with covariates including
        :math:`\\Omega`).
    data_layer, dropped_units
        The data-layer label and the units dropped to balance the panel.
    **extra
        Further entries, after the sample sizes (with covariates: ``covariates``,
        ``between_share``).

    Returns
    -------
    dict
        ``outcome, n_units, n_periods, n_obs, **extra, weights_sum, data_layer,
        notes, dropped_units``.
    """
    N, T = panel.n_units, len(panel.times)
    return {
        "outcome": outcome,
        "n_units": N,
        "n_periods": T,
        "n_obs": N * T,
        **extra,
        "weights_sum": weights_sum,
        "data_layer": data_layer or "unspecified",
        "notes": list(panel.notes),
        "dropped_units": dropped_units,
    }


def bacon_decomposition(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    covariates: Sequence[str] = (),
    data_layer: str | None = None,
) -> BaconDecomposition:
    """Goodman-Bacon (2021) decomposition of the static TWFE DiD coefficient.

    Parameters
    ----------
    data
        Balanced long panel.
    outcome, unit, time
        Column names.
    cohort
        First treated period (0/missing = never); or give ``treatment``.
    treatment
        An absorbing 0/1 treatment dummy (``bacondecomp``'s input) instead of ``cohort``.
    covariates
        Time-varying controls: the within / between decomposition of
        Goodman-Bacon (2021, Section 5), as ``bacondecomp::bacon(y ~ D + x1 + x2)``.
    data_layer
        Data-layer label.

    Returns
    -------
    BaconDecomposition

    Raises
    ------
    InputError
        Invalid or unbalanced panel, both or neither of ``cohort``/``treatment``,
        a non-absorbing treatment dummy.
    """
    data, cohort = _resolve_cohort(data, unit=unit, time=time, cohort=cohort, treatment=treatment)
    covariates = tuple(c for c in covariates if c)
    panel = prepare_panel(
        data, outcome=outcome, unit=unit, time=time, cohort=cohort, covariates=covariates
    )
    panel, lost = _balanced(panel, data, unit=unit, time=time)
    if covariates:
        return _controlled(
            panel, covariates, outcome=outcome, data_layer=data_layer, dropped_units=lost
        )
    times = panel.times
    Y, g_unit, Df = _wide(panel)
    N, T = Y.shape
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
    table = _table(rows)
    info = _info(
        panel, outcome, float(table["weight"].sum()), data_layer=data_layer, dropped_units=lost
    )
    return BaconDecomposition(table=table, twfe=beta, info=info)


def _controlled(panel, covariates, *, outcome, data_layer, dropped_units) -> BaconDecomposition:
    """Within / between decomposition with controls (module docstring), as ``bacondecomp``."""
    d = panel.data
    Y, g_unit, D = _wide(panel)
    N, T = Y.shape
    X = np.stack([d[c].to_numpy(dtype=float).reshape(N, T) for c in covariates], axis=-1)

    # Frisch-Waugh-Lovell: d = residual of D on X and both sets of effects; p = D - d
    Dt = demean_two_way(D)
    Xt = demean_two_way(np.moveaxis(X, -1, 0))  # (K, N, T)
    A = Xt.reshape(len(covariates), -1).T
    gam = np.linalg.lstsq(A, Dt.ravel(), rcond=None)[0]
    dres = Dt - (A @ gam).reshape(N, T)
    if not (dres**2).sum() > 1e-12 * max(1.0, (Dt**2).sum()):
        raise InputError("the treatment dummy is explained by the covariates and fixed effects")
    P = D - dres
    beta = float((dres * Y).sum() / (dres**2).sum())

    groups = np.sort(np.unique(g_unit))
    gcode = np.searchsorted(groups, g_unit)
    cnt = np.bincount(gcode).astype(float)

    def by_group_time(M: np.ndarray) -> np.ndarray:  # (N, T) -> group x period means on rows
        sums = np.stack([np.bincount(gcode, weights=M[:, j]) for j in range(T)], axis=1)
        return (sums / cnt[:, None])[gcode]

    d_kt = by_group_time(dres)
    d_k = d_kt.mean(axis=1, keepdims=True)
    d_i = dres.mean(axis=1, keepdims=True)
    d_t = dres.mean(axis=0, keepdims=True)
    d_bar = dres.mean()
    d_w = dres - d_i - (d_kt - d_k)
    d_b = (d_kt - d_k) - (d_t - d_bar)
    v_all = float(((dres - dres.mean()) ** 2).mean())
    omega = float(((d_w - d_w.mean()) ** 2).mean()) / v_all
    beta_w = float(((Y - Y.mean()) * d_w).mean() / ((d_w - d_w.mean()) ** 2).mean())
    gX = np.stack([by_group_time(X[:, :, k]) for k in range(len(covariates))], axis=0)
    gP = by_group_time(P)

    rows = []
    treated = [g for g in groups if g > 0]
    for k in treated:
        for l_ in [g for g in groups if g == 0 or g > k]:
            m = (g_unit == k) | (g_unit == l_)
            n_rows = int(m.sum()) * T
            Dk = demean_two_way(D[m])
            VD = float((Dk**2).mean())
            PG = demean_two_way(gX[:, m, :]).reshape(len(covariates), -1).T
            Z = np.column_stack([np.ones(n_rows), PG])
            fit = Z @ np.linalg.lstsq(Z, Dk.ravel(), rcond=None)[0]
            sst = float(((Dk - Dk.mean()) ** 2).sum())
            r2 = 1.0 - float(((Dk.ravel() - fit) ** 2).sum()) / sst
            dp = fit - demean_two_way(gP[m]).ravel()
            Vdp = float(((dp - dp.mean()) ** 2).mean())
            Yk = demean_two_way(Y[m]).ravel()
            B = np.linalg.lstsq(np.column_stack([Dk.ravel(), PG]), Yk, rcond=None)[0]
            dpt = demean_two_way(dp.reshape(-1, T)).ravel()
            Bb = float(dpt @ Yk / (dpt @ dpt)) if dpt @ dpt > 0 else 0.0
            den = (1 - r2) * VD + Vdp
            est = ((1 - r2) * VD * B[0] + Vdp * Bb) / den
            kind = "treated_vs_never" if l_ == 0 else "both_treated"
            rows.append((kind, k, l_, est, n_rows**2 * den))
    table = _table(rows)
    table["weight"] = table["weight"] / table["weight"].sum() * (1.0 - omega)
    info = _info(
        panel,
        outcome,
        float(table["weight"].sum()) + omega,
        data_layer=data_layer,
        dropped_units=dropped_units,
        covariates=list(covariates),
        between_share=float(((d_b - d_b.mean()) ** 2).mean()) / v_all,  # = 1 - omega
    )
    return BaconDecomposition(table=table, twfe=beta, info=info, omega=omega, beta_within=beta_w)


def bacon(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    alpha: float = 0.05,
    data_layer: str | None = None,
) -> DiDResult:
    """The Bacon decomposition as a :class:`~analysis.results.DiDResult` (``--method bacon``).

    ``aggregates["simple"]`` is the static TWFE coefficient being decomposed,
    with its cluster-robust (CR1, fixest) standard error from
    :func:`analysis.estimators.twfe.twfe` (same covariates); ``decomposition``
    holds ``twfe``, ``weighted_sum``, ``omega`` and ``beta_within`` (with
    covariates) and the ``components`` (``type, treated_cohort,
    control_cohort, estimate, weight``; with covariates the ``within`` term is
    the last component), whose weights sum to one. Parameters as in
    :func:`bacon_decomposition`; ``cluster`` and ``alpha`` apply to the TWFE
    standard error only.
    """
    from analysis.estimators.twfe import twfe

    b = bacon_decomposition(
        data,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        treatment=treatment,
        covariates=covariates,
        data_layer=data_layer,
    )
    data, cohort_col = _resolve_cohort(
        data, unit=unit, time=time, cohort=cohort, treatment=treatment
    )
    if b.info["dropped_units"]:  # the same units as the decomposition
        data = data.loc[~data[unit].isin(b.info["dropped_units"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same notes were issued by the decomposition
        tw = twfe(
            data,
            outcome=outcome,
            unit=unit,
            time=time,
            cohort=cohort_col,
            covariates=covariates,
            cluster=cluster,
            alpha=alpha,
            data_layer=data_layer,
        )
    notes = list(b.info.get("notes", []))
    for msg in tw.notes:  # e.g. a covariate constant within units, absorbed by TWFE
        if msg not in notes:
            note(notes, msg)
    if abs(tw.att - b.twfe) > 1e-8 * max(1.0, abs(b.twfe)):
        raise InputError(  # pragma: no cover - an identity; guards against a broken panel
            f"TWFE coefficient {tw.att:.10g} differs from the decomposed one {b.twfe:.10g}"
        )
    decomposition = {
        "twfe": b.twfe,
        "weighted_sum": b.weighted_sum,
        "omega": b.omega,
        "beta_within": b.beta_within,
        "components": b.components(),
        "by_type": b.by_type(),
    }
    info = {
        **{k: v for k, v in tw.info.items() if k not in ("notes",)},
        "control": "all 2x2 comparisons (never, earlier and later treated)",
        "est_method": "Goodman-Bacon decomposition of static TWFE",
        "treatment_input": "dummy" if treatment is not None else "cohort",
        "data_layer": data_layer or "unspecified",
        "notes": notes,
    }
    return DiDResult(
        design=tw.design,  # the TWFE regression it decomposes, on the same units
        method="bacon",
        outcome=outcome,
        n_units=b.info["n_units"],
        n_obs=b.info["n_obs"],
        att_gt=None,
        aggregates={"simple": Aggregate("simple", tw.att, tw.se)},
        info=info,
        decomposition=decomposition,
    )
