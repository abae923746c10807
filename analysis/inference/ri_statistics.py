r"""What :mod:`analysis.inference.ri` computes at each assignment: the statistics named
by estimator (:class:`EstimatorStatistic`) and their closed-form evaluators over all
assignments at once (the "Fast paths" of :mod:`analysis.inference.ri`'s docstring).

Split from :mod:`analysis.inference.ri` (the test, its engine glue and the interval).
The closed forms themselves are the estimators' (registry ``ri_closed_form``); this
module gathers them into per-assignment evaluators and checks when they apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.design import demean_two_way, panel_ssc_factor
from analysis.errors import InputError
from analysis.estimators import registry
from analysis.inference.ri_design import AssignmentDesign


# =========================================================================== statistics
def method_statistics() -> tuple[str, ...]:
    """Statistic names accepted by ``statistic=``: every estimator of the registry with
    the ``ri`` capability (its simple ATT) and the same name + ``_t`` (ATT / SE)."""
    names = registry.methods("ri")
    return (*names, *(f"{m}_t" for m in names))


def _estimator(method: str) -> Callable[..., Any]:
    return registry.get_spec(method, "ri", what="randomisation inference").func


@dataclass(frozen=True)
class EstimatorStatistic:
    """``statistic(data) -> float`` from a package estimator.

    Parameters
    ----------
    method
        ``"twfe"``, ``"cs"`` or ``"bjs"``.
    kind
        ``"att"`` (the simple ATT) or ``"t"`` (ATT / SE).
    outcome, unit, time, cohort
        Column names passed to the estimator.
    options
        Further keyword arguments of the estimator, as ``(name, value)`` pairs.
    """

    method: str
    kind: str
    outcome: str
    unit: str
    time: str
    cohort: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        return self.method + ("_t" if self.kind == "t" else "")

    def __call__(self, data: pd.DataFrame) -> float:
        fn = _estimator(self.method)
        res = fn(
            data,
            outcome=self.outcome,
            unit=self.unit,
            time=self.time,
            cohort=self.cohort,
            **dict(self.options),
        )
        return float(res.att) if self.kind == "att" else float(res.att / res.se)


def _resolve_statistic(
    statistic: str | Callable[[pd.DataFrame], float],
    *,
    outcome: str | None,
    unit: str,
    time: str,
    cohort: str,
    estimator_options: Mapping[str, Any] | None,
) -> tuple[Callable[[pd.DataFrame], float], str]:
    if isinstance(statistic, str):
        allowed = method_statistics()
        if statistic not in allowed:
            raise InputError(
                f"statistic must be a callable or one of {', '.join(allowed)} (got {statistic!r})"
            )
        if outcome is None:
            raise InputError(f"statistic {statistic!r} needs the outcome column (outcome=...)")
        t = statistic not in registry.REGISTRY and statistic.endswith("_t")
        method = statistic[:-2] if t else statistic
        opts = tuple(sorted((estimator_options or {}).items()))
        return (
            EstimatorStatistic(method, "t" if t else "att", outcome, unit, time, cohort, opts),
            statistic,
        )
    if not callable(statistic):
        raise InputError("statistic must be a callable statistic(data) -> float or a method name")
    if estimator_options:
        raise InputError("estimator_options apply only to statistics named by method")
    return statistic, getattr(statistic, "__name__", type(statistic).__name__)


def _treatment_rows(design: AssignmentDesign, times: np.ndarray) -> np.ndarray:
    """Observed treatment dummy D_it for every data row."""
    g = design.labels[design.codes][design.row_unit]
    return ((g > 0) & (times >= g)).astype(np.float64)


# --------------------------------------------------------------------------- evaluators
@dataclass(frozen=True)
class _LinearEvaluator:
    """Statistics of the form sum_i Q[i, a_i], one Q per outcome variant."""

    q: np.ndarray  # (m, n_units, n_labels)

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        ar = np.arange(codes.shape[1])[None, :]
        return np.stack([qm[ar, codes].sum(axis=1) for qm in self.q], axis=1)


@dataclass(frozen=True)
class _TwfeTEvaluator:
    r"""Pieces of the TWFE t-statistic per assignment.

    With :math:`h_k` the two-way demeaned treatment profile of label :math:`k`
    (fixed by the label counts), the coefficient is :math:`A = \sum_i Q_{i,a_i}`
    and the cluster score of unit :math:`i` is
    :math:`s_i = P_{i,a_i} - A\,\|h_{a_i}\|^2` with :math:`P = \ddot Y h'`.
    Returns ``(A, S0)`` with :math:`S0 = \sum_c (\sum_{i \in c} s_i)^2`, or, with
    the treatment as a second outcome variant (``b`` pieces),
    ``(A, B, S0, S1, S2)`` so that the statistic at the null :math:`\tau` is
    :math:`(A - \tau B)\,den / \sqrt{c\,(S0 - 2\tau S1 + \tau^2 S2)}`.
    """

    q: np.ndarray  # (m, n_units, n_labels)
    p: np.ndarray  # (m, n_units, n_labels)
    nk: np.ndarray  # (n_labels,)
    cl: np.ndarray  # (n_units, n_clusters) indicator

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        ar = np.arange(codes.shape[1])[None, :]
        nkg = self.nk[codes]
        cols, scores = [], []
        for qm, pm in zip(self.q, self.p, strict=True):
            a = qm[ar, codes].sum(axis=1)
            cols.append(a)
            scores.append((pm[ar, codes] - a[:, None] * nkg) @ self.cl)
        if len(scores) == 1:
            return np.column_stack([cols[0], np.einsum("rc,rc->r", scores[0], scores[0])])
        sa, sb = scores
        return np.column_stack(
            [
                cols[0],
                cols[1],
                np.einsum("rc,rc->r", sa, sa),
                np.einsum("rc,rc->r", sa, sb),
                np.einsum("rc,rc->r", sb, sb),
            ]
        )


# --------------------------------------------------------------------------- fast paths
@dataclass(frozen=True)
class _FastPath:
    r"""Closed-form statistic over assignments (module docstring, "Fast paths").

    ``kind="linear"``: statistic :math:`\sum_i Z_i' w_{a_i}` with ``Z`` the
    outcome (two-way demeaned when ``demean``); ``kind="twfe_t"``: the TWFE
    t-statistic from the pieces of :class:`_TwfeTEvaluator`.
    """

    name: str
    weights: np.ndarray  # (n_labels, T): linear statistic = sum_i Z_i . weights[a_i]
    demean: bool  # two-way demean Y before applying the weights (TWFE)
    kind: str = "linear"
    h: np.ndarray | None = None  # (n_labels, T) demeaned treatment profiles (twfe_t)
    den: float = 1.0
    factor: float = 1.0
    cl: np.ndarray | None = None  # (n_units, n_clusters)

    def q(self, wide: np.ndarray) -> np.ndarray:
        z = demean_two_way(wide) if self.demean else wide
        return z @ self.weights.T

    def evaluator(self, wides: list[np.ndarray]) -> Any:
        qs = np.stack([self.q(w) for w in wides])
        if self.kind == "linear":
            return _LinearEvaluator(qs)
        assert self.h is not None and self.cl is not None
        ps = np.stack([demean_two_way(w) @ self.h.T for w in wides])
        return _TwfeTEvaluator(qs, ps, (self.h**2).sum(axis=1), self.cl)

    def value(self, cols: np.ndarray, tau: float = 0.0) -> np.ndarray:
        """Statistic at the null ``tau`` from the evaluator's columns."""
        cols = np.atleast_2d(cols)
        if self.kind == "linear":
            return cols[:, 0] if tau == 0.0 else cols[:, 0] - tau * cols[:, 1]
        if cols.shape[1] == 2:
            num, ss = cols[:, 0], cols[:, 1]
        else:
            num = cols[:, 0] - tau * cols[:, 1]
            ss = cols[:, 2] - 2.0 * tau * cols[:, 3] + tau * tau * cols[:, 4]
        with np.errstate(divide="ignore", invalid="ignore"):
            return num * self.den / np.sqrt(self.factor * np.maximum(ss, 0.0))

    @staticmethod
    def effect(cols: np.ndarray, tau: float) -> np.ndarray:
        r"""The effect-scale part :math:`A - \tau B` (the coefficient or ATT)."""
        cols = np.atleast_2d(cols)
        return cols[:, 0] - tau * cols[:, 1]


def _wide(
    data: pd.DataFrame, design: AssignmentDesign, time: str, values: np.ndarray
) -> np.ndarray | None:
    """(n_units x T) matrix of ``values`` in design order, or None if unbalanced."""
    t = pd.to_numeric(data[time]).to_numpy()
    times, t_idx = np.unique(t, return_inverse=True)
    n, nt = design.n_units, times.size
    if len(data) != n * nt:
        return None
    flat = design.row_unit * nt + t_idx
    if np.unique(flat).size != flat.size:
        return None
    out = np.empty(n * nt)
    out[flat] = values
    return out.reshape(n, nt)


def _fast_path(
    stat: Callable[[pd.DataFrame], float],
    data: pd.DataFrame,
    design: AssignmentDesign,
    time: str,
) -> tuple[_FastPath | None, str]:
    """A closed-form evaluator of ``stat`` over assignments, or (None, reason).

    The closed forms are the estimators' own (``ri_closed_form`` in the
    registry entry, kept in the estimator's module).
    """
    if not isinstance(stat, EstimatorStatistic):
        return None, "user-supplied statistic"
    spec = registry.REGISTRY.get(stat.method)
    closed_form = None if spec is None else spec.ri_fast()
    if spec is None or closed_form is None:
        return None, f"no closed form for {stat.method!r}"
    if stat.kind != "att" and not spec.ri_closed_form_t:
        return None, f"the {stat.method} t-statistic is re-fitted"
    opts = dict(stat.options)
    extra = set(opts) - spec.ri_closed_form_options
    if extra:
        return None, f"options {sorted(extra)} are not covered by the fast path"
    if opts.get("covariates"):
        return None, "covariates"
    if int(opts.get("anticipation", 0)) != 0:
        return None, "anticipation > 0"
    y = pd.to_numeric(data[stat.outcome], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(y).all():
        return None, "missing outcome values"
    t = pd.to_numeric(data[time]).to_numpy()
    times = np.unique(t)
    if not np.allclose(times, np.round(times)):
        return None, "non-integer time"
    wide = _wide(data, design, time, y)
    if wide is None:
        return None, "unbalanced panel"
    labels = design.labels
    if ((labels > 0) & (labels <= times[0])).any():
        return None, "units treated in the first period (dropped by the estimator)"
    counts = np.bincount(design.codes, minlength=labels.size).astype(np.float64)
    cf = closed_form(labels, counts, times, opts)
    if isinstance(cf, str):
        return None, cf
    if stat.kind == "att":
        return _FastPath(cf.name, cf.weights, cf.demean), ""
    # t-statistic: the coefficient's CR1 cluster scores (clusters nest units)
    cluster = opts.get("cluster")
    if cluster is not None and cluster != stat.unit:
        if cluster not in data.columns or data[cluster].isna().any():
            return None, "cluster column missing or incomplete"
        first = np.zeros(design.n_units, dtype=np.int64)
        first[design.row_unit[::-1]] = np.arange(design.row_unit.size)[::-1]
        cl_codes, _ = pd.factorize(data[cluster].to_numpy()[first])
        if pd.Series(data[cluster].to_numpy()).groupby(design.row_unit).nunique().max() > 1:
            return None, "clusters do not nest units"
    else:
        cl_codes = np.arange(design.n_units)
    G = int(cl_codes.max()) + 1
    if G < 2:
        return None, "fewer than two clusters"
    cl = np.zeros((design.n_units, G))
    cl[np.arange(design.n_units), cl_codes] = 1.0
    T = times.size
    factor = panel_ssc_factor(
        opts.get("ssc", "fixest"), n=design.n_units * T, k=1, n_units=design.n_units, n_times=T, G=G
    )
    return _FastPath(
        cf.name_t,
        cf.weights,
        cf.demean,
        kind="twfe_t",
        h=cf.h,
        den=cf.den,
        factor=factor,
        cl=cl,
    ), ""
