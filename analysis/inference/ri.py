r"""Randomisation inference for staggered-adoption panels.

The design
----------
Randomisation inference (RI; Fisher 1935, Imbens and Rubin 2015 ch. 5, Young
2019) treats the outcomes as fixed and the *assignment* as random. Here the
assignment is the vector of cohort labels :math:`G = (G_1, \dots, G_N)` --
the first treated period of each unit, ``0`` = never treated -- and the stated
design is

    every unit-level permutation of the observed labels that keeps the number
    of units with each label fixed *within each stratum* is equally likely.

With ``permute="cohort"`` (default) all labels, including ``0``, are permuted:
both *whether* and *when* a unit is treated are re-assigned. With
``permute="timing"`` only the ever-treated units exchange adoption years (the
set of treated units is held fixed), i.e. the treated/never split is an extra
stratum. ``strata`` (a unit-level column such as the prefecture or the
mountain-26 flag) restricts permutations to units of the same stratum.

The number of distinct assignments is the product over strata :math:`s` of
multinomial coefficients

.. math::

    |\mathcal{A}| = \prod_s \frac{n_s!}{\prod_g n_{sg}!},

with :math:`n_{sg}` the number of units of stratum :math:`s` carrying label
:math:`g`. Missing cohorts are coded ``0`` and cohorts after the last period
are recoded ``0`` (never treated within the sample, as the estimators do)
before counting.

The sharp null and the test
---------------------------
Under the sharp null of a constant effect :math:`\tau_0`,
:math:`H_0: Y_{it}(g) = Y_{it}(0) + \tau_0 D_{it}(g)` for all units, periods
and assignments (:math:`D_{it}(g) = 1\{g > 0, t \ge g\}`), the untreated
outcomes :math:`Y^{(\tau_0)}_{it} = Y_{it} - \tau_0 D_{it}` (:math:`D` at the
observed assignment) are known, and every statistic
:math:`T(a) = T(Y^{(\tau_0)}, a)` can be recomputed for any assignment
:math:`a`. With :math:`T^{obs}` the statistic at the observed assignment:

* ``exact`` (enumeration of :math:`\mathcal{A}`, used when
  :math:`|\mathcal{A}| \le` ``max_exact``, default 100,000):
  :math:`p = |\mathcal{A}|^{-1} \sum_{a \in \mathcal{A}} 1\{|T(a)| \ge |T^{obs}|\}`,
  the exact proportion (the observed assignment is one of the :math:`a`,
  so :math:`p \ge 1/|\mathcal{A}|`);
* Monte Carlo (otherwise): :math:`R` assignments drawn uniformly with
  replacement from :math:`\mathcal{A}` and
  :math:`p = (1 + \#\{r: |T^*_r| \ge |T^{obs}|\}) / (1 + R)`, which counts
  the observed assignment as one draw and is therefore an exact
  (conservative) level-:math:`\alpha` test for every :math:`R` (Phipson and
  Smyth 2010). Its Monte Carlo standard error is about :math:`\sqrt{p(1-p)/R}`.

``alternative="greater"`` counts :math:`T^*_r \ge T^{obs}` and ``"less"``
counts :math:`T^*_r \le T^{obs}`. Ties follow the package's one tie policy
(:mod:`analysis.inference.ties`): with exact enumeration the observed
statistic is taken from its own row of the enumerated draws, and comparisons
use the relative tolerance ``TIE_RTOL`` (``1e-10``) so that assignments
producing the same statistic up to rounding count as ties (ties count against
the null, i.e. towards a larger p).

Statistics
----------
``statistic`` is any callable ``statistic(data) -> float`` evaluated on the
data with the cohort column re-assigned, or one of the names

* ``"twfe"``, ``"cs"``, ``"bjs"`` -- the simple ATT of
  :func:`~analysis.estimators.twfe.twfe`,
  :func:`~analysis.estimators.cs.callaway_santanna` or
  :func:`~analysis.estimators.bjs.bjs_imputation`;
* ``"twfe_t"``, ``"cs_t"``, ``"bjs_t"`` -- the corresponding t-statistics
  :math:`\widehat{ATT}/\widehat{se}` (studentised statistics make RI robust to
  heteroskedasticity across assignment groups; Young 2019, Wu and Ding 2021),

with estimator options in ``estimator_options``.

Fast paths
----------
Re-fitting an estimator for each of 9,999 assignments is slow. For three
statistics the dependence on the assignment has a closed form, computed for
all draws at once:

* **static TWFE** on a balanced panel without covariates. With
  :math:`\ddot Y` the two-way demeaned outcome and :math:`\ddot D` the two-way
  demeaned treatment dummy, :math:`\hat\beta = \langle \ddot D, \ddot Y\rangle /
  \langle \ddot D, \ddot D \rangle = \sum_i d_{G_i}'\ddot Y_i / \langle \ddot D,
  \ddot D\rangle`, where :math:`d_g = (1\{g>0, t \ge g\})_t`. The denominator
  depends on the assignment only through the label counts, which every
  permutation preserves, so it is a constant; the numerator is
  :math:`\sum_i Q_{i, G_i}` with :math:`Q = \ddot Y D_{prof}' / \langle\ddot D,
  \ddot D\rangle` (units :math:`\times` labels).
* **Callaway-Sant'Anna simple ATT** on a balanced panel without covariates,
  ``anticipation=0``, never-treated units present, ``control`` ``"never"`` or
  ``"notyet"`` (``est_method`` is irrelevant: without covariates ``dr``,
  ``ipw`` and ``reg`` coincide). Each :math:`ATT(g,t)` is a difference of
  group means of :math:`Y_t - Y_{b(g)}`, group sizes are fixed by the
  permutation, and the ``simple`` weights :math:`\hat p_g` too, so again
  :math:`\widehat{ATT} = \sum_i c_{G_i}' Y_i = \sum_i Q_{i,G_i}` with a fixed
  label-by-period weight matrix :math:`c`.
* **TWFE t-statistic** (``"twfe_t"``, same conditions; clusters that nest
  units allowed). The two-way demeaned treatment of unit :math:`i` is
  :math:`h_{G_i}`, a fixed profile of its label, so the CR1 cluster score is
  :math:`s_i = \ddot Y_i' h_{G_i} - \hat\beta\,\|h_{G_i}\|^2` and
  :math:`t = \hat\beta / \sqrt{c \sum_c (\sum_{i \in c} s_i)^2 / \langle\ddot D,
  \ddot D\rangle^2}` (fixest or linearmodels factor :math:`c`, which cancels
  in the p-value) -- again gathers of fixed unit-by-label matrices.

The coefficient and the ATT are linear in :math:`Y`, so the statistic under the null
:math:`\tau_0` is :math:`T(a) = A(a) - \tau_0 B(a)` with :math:`A` the
statistic of :math:`Y` and :math:`B` that of the observed :math:`D` taken as
an outcome (for the t-statistic numerator and squared scores are linear and
quadratic in :math:`\tau`); the interval by test inversion then needs one set
of draws. The
fast statistic is checked against the estimator on the observed assignment
before any draw is made (``verify=True``; a mismatch is a bug and raises), and
the test suite checks it on permuted assignments too. ``fast="auto"`` uses a
fast path when one applies and re-fits otherwise.

Reproducibility
---------------
Every draw goes through :func:`analysis.inference.engine.run_draws`: Monte
Carlo assignments come from the engine's per-block generators, so the same
``seed`` gives identical draws for any ``n_jobs`` and backend; exact
enumeration visits the assignments in a fixed order (mixed radix over strata,
lexicographic within a stratum) and uses no randomness.

References
----------
Imbens, G. W. and Rubin, D. B. (2015). *Causal Inference for Statistics,
Social, and Biomedical Sciences*, ch. 5. Cambridge University Press.
Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be
zero. *Statistical Applications in Genetics and Molecular Biology* 9(1).
Young, A. (2019). Channeling Fisher: randomization tests and the statistical
insignificance of seemingly significant experimental results. *Quarterly
Journal of Economics* 134(2), 557-598.
Wu, J. and Ding, P. (2021). Randomization tests for weak null hypotheses in
randomized experiments. *JASA* 116(536), 1898-1913.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from itertools import combinations
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.inference.engine import run_draws
from analysis.inference.ties import TIE_RTOL, count_at_least, count_at_most  # noqa: F401

__all__ = [
    "AssignmentDesign",
    "EstimatorStatistic",
    "RIInterval",
    "RIResult",
    "assignment_design",
    "randomization_test",
    "ri_confidence_interval",
]

Alternative = Literal["two-sided", "greater", "less"]
Permute = Literal["cohort", "timing"]
ALTERNATIVES = ("two-sided", "greater", "less")
PERMUTES = ("cohort", "timing")
METHOD_STATISTICS = ("twfe", "cs", "bjs", "twfe_t", "cs_t", "bjs_t")
#: Enumerate every assignment when there are at most this many (``exact="auto"``).
DEFAULT_MAX_EXACT = 100_000
#: Hard cap for ``exact=True``.
HARD_MAX_EXACT = 1_000_000

P_VALUE_CONVENTIONS = {
    "exact": "exact: p = #{a in A: |T(a)| >= |T_obs|} / |A| over all |A| assignments "
    "(the observed one included)",
    "mc": "Monte Carlo: p = (1 + #{r: |T*_r| >= |T_obs|}) / (1 + R), the observed "
    "assignment counted as one draw",
}


# =========================================================================== design
@dataclass(frozen=True)
class AssignmentDesign:
    """The randomisation design: which re-assignments of cohorts are equally likely.

    Attributes
    ----------
    units
        Unit identifiers, in the (sorted) order used by every array below.
    labels
        Distinct cohort labels (first treated period, ``0`` = never), sorted.
    codes
        Observed label index of each unit (``labels[codes]`` = observed cohorts).
    strata
        Stratum index of each unit (all zero without strata).
    strata_names
        Stratum labels, in the order of the indices.
    strata_column
        Name of the strata column (``None`` = no strata).
    permute
        ``"cohort"`` or ``"timing"`` (module docstring).
    row_unit
        For each row of the data, the index of its unit.
    n_assignments
        Number of distinct assignments :math:`|\\mathcal{A}|` (exact integer).
    notes
        Recodings applied to the cohort labels.
    """

    units: np.ndarray
    labels: np.ndarray
    codes: np.ndarray
    strata: np.ndarray
    strata_names: tuple[Any, ...]
    strata_column: str | None
    permute: str
    row_unit: np.ndarray
    n_assignments: int
    notes: tuple[str, ...] = ()

    @property
    def n_units(self) -> int:
        return int(self.units.size)

    def members(self) -> tuple[np.ndarray, ...]:
        """Unit indices of every stratum whose units carry more than one label."""
        out = []
        for s in range(len(self.strata_names)):
            idx = np.flatnonzero(self.strata == s)
            if np.unique(self.codes[idx]).size > 1:
                out.append(idx)
        return tuple(out)

    def describe(self) -> str:
        """One sentence stating the design (for tables and ``summary()``)."""
        what = (
            "cohort labels (first treated period, 0 = never treated)"
            if self.permute == "cohort"
            else "adoption years among the ever-treated units (treated set held fixed)"
        )
        where = (
            f"within {len(self.strata_names)} strata of {self.strata_column!r}"
            if self.strata_column
            else "across all units"
        )
        counts = ", ".join(
            f"{_fmt_label(lab)}: {int(c)}"
            for lab, c in zip(
                self.labels, np.bincount(self.codes, minlength=self.labels.size), strict=True
            )
        )
        return (
            f"uniform permutation of {what} over {self.n_units} units {where}; label counts "
            f"held fixed within each stratum ({counts}); {_fmt_int(self.n_assignments)} "
            "distinct assignments"
        )


def _fmt_label(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _fmt_int(n: int) -> str:
    if n < 10**7:
        return f"{n:,}"
    s = str(n)
    return f"{s[0]}.{s[1:3]}e+{len(s) - 1}"


def _multinomial(counts: np.ndarray) -> int:
    out, total = 1, 0
    for c in counts:
        c = int(c)
        total += c
        out *= math.comb(total, c)
    return out


def _unit_constant(frame: pd.DataFrame, col: str, role: str, name: str, unit: str) -> None:
    nun = frame.groupby("u", sort=False)[col].nunique(dropna=False)
    if (nun > 1).any():
        bad = nun[nun > 1]
        first = bad.index[0]
        first = first.item() if isinstance(first, np.generic) else first
        raise InputError(
            f"{role} column {name!r} varies within {len(bad)} unit(s) "
            f"(first: {unit}={first!r}); it must be constant within unit"
        )


def assignment_design(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    strata: str | None = None,
    permute: Permute = "cohort",
) -> AssignmentDesign:
    """Build the randomisation design of a long panel.

    Parameters
    ----------
    data
        Long panel.
    unit, time, cohort
        Column names; ``cohort`` = first treated period (``0``/missing = never).
    strata
        Optional unit-level column; permutations stay within its values.
    permute
        ``"cohort"`` (re-assign treatment and timing) or ``"timing"``
        (re-assign adoption years among ever-treated units only).

    Returns
    -------
    AssignmentDesign

    Raises
    ------
    InputError
        Missing columns, non-numeric cohorts, cohort or stratum varying within
        a unit, missing strata, bad ``permute``.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame")
    if permute not in PERMUTES:
        raise InputError(f"permute must be one of {PERMUTES} (got {permute!r})")
    cols = [unit, time, cohort] + ([strata] if strata else [])
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise InputError(f"column(s) {', '.join(map(repr, missing))} not found in the data")
    if data.empty:
        raise InputError("the data have no rows")
    g = pd.to_numeric(data[cohort], errors="coerce")
    if (g.isna() & data[cohort].notna()).any():
        raise InputError(f"cohort column {cohort!r} is not numeric")
    t = pd.to_numeric(data[time], errors="coerce")
    if t.isna().any():
        raise InputError(f"time column {time!r} has missing or non-numeric values")
    notes: list[str] = []
    g = g.fillna(0.0).astype("float64")
    if (g < 0).any():
        raise InputError(f"cohort column {cohort!r} has negative values; use 0 for never treated")
    late = g > float(t.max())
    if late.any():
        notes.append("cohorts after the last period recoded 0 (never treated in the sample)")
        g = g.where(~late, 0.0)
    frame = pd.DataFrame({"u": data[unit].to_numpy(), "g": g.to_numpy()})
    _unit_constant(frame, "g", "cohort", cohort, unit)
    if strata:
        if data[strata].isna().any():
            raise InputError(f"strata column {strata!r} has missing values")
        frame["s"] = data[strata].to_numpy()
        _unit_constant(frame, "s", "strata", strata, unit)
    row_unit, units = pd.factorize(frame["u"], sort=True)
    first = np.zeros(units.size, dtype=np.int64)
    first[row_unit[::-1]] = np.arange(row_unit.size)[::-1]  # first row of each unit
    g_unit = frame["g"].to_numpy()[first]
    labels, codes = np.unique(g_unit, return_inverse=True)
    if strata:
        s_codes, s_names = pd.factorize(frame["s"].to_numpy()[first], sort=True)
        s_names = tuple(s_names)
    else:
        s_codes, s_names = np.zeros(units.size, dtype=np.int64), ("all",)
    if permute == "timing":
        treated = (g_unit > 0).astype(np.int64)
        combo = s_codes * 2 + treated
        s_codes, uniq = pd.factorize(combo, sort=True)
        s_names = tuple(
            (s_names[c // 2], "treated" if c % 2 else "never")
            if strata
            else ("treated" if c % 2 else "never")
            for c in uniq
        )
    s_codes = np.asarray(s_codes, dtype=np.int64)
    n_assign = 1
    for s in range(len(s_names)):
        n_assign *= _multinomial(np.bincount(codes[s_codes == s]))
    return AssignmentDesign(
        units=np.asarray(units),
        labels=labels.astype(np.float64),
        codes=codes.astype(np.int64),
        strata=s_codes,
        strata_names=s_names,
        strata_column=strata,
        permute=permute,
        row_unit=np.asarray(row_unit, dtype=np.int64),
        n_assignments=int(n_assign),
        notes=tuple(notes),
    )


# =========================================================================== samplers
def _block_index(rng: np.random.Generator) -> int:
    """Index of the engine block that ``rng`` belongs to.

    :func:`~analysis.inference.engine.run_draws` documents that block ``b``
    receives ``Generator(PCG64(SeedSequence(seed).spawn(n_blocks)[b]))``; the
    spawn key of that sequence ends in ``b``. Exact enumeration uses it to know
    which slice of the (deterministic) list of assignments a block covers.
    """
    key = rng.bit_generator.seed_seq.spawn_key  # type: ignore[attr-defined]
    if not key:
        raise RuntimeError("generator was not spawned by the engine (no spawn key)")
    return int(key[-1])


@dataclass(frozen=True)
class _PermutationSampler:
    """Monte Carlo: uniform random permutation of labels within each stratum."""

    codes: np.ndarray
    members: tuple[np.ndarray, ...]

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        out = np.broadcast_to(self.codes, (size, self.codes.size)).copy()
        for idx in self.members:
            out[:, idx] = rng.permuted(out[:, idx], axis=1)
        return out


def _enumerate_stratum(codes: np.ndarray) -> np.ndarray:
    """All distinct arrangements of a multiset of labels, in lexicographic order
    of the position sets chosen label by label (``(N_s, n_s)`` array)."""
    n = codes.size
    labs, cnt = np.unique(codes, return_counts=True)
    rows = np.full((1, n), -1, dtype=np.int64)
    free = n
    for lab, c in zip(labs, cnt, strict=True):
        combos = np.array(list(combinations(range(free), int(c))), dtype=np.int64).reshape(
            -1, int(c)
        )
        m = rows.shape[0]
        free_pos = np.nonzero(rows == -1)[1].reshape(m, free)
        new = np.repeat(rows, combos.shape[0], axis=0)
        pos = free_pos[:, combos].reshape(m * combos.shape[0], int(c))
        np.put_along_axis(new, pos, lab, axis=1)
        rows = new
        free -= int(c)
    return rows


@dataclass(frozen=True)
class _EnumerationSampler:
    """Exact: assignment ``j`` of the fixed enumeration, for the block's range of ``j``."""

    codes: np.ndarray
    members: tuple[np.ndarray, ...]
    tables: tuple[np.ndarray, ...]
    block: int

    def rows(self, start: int, size: int) -> np.ndarray:
        out = np.broadcast_to(self.codes, (size, self.codes.size)).copy()
        j = np.arange(start, start + size, dtype=np.int64)
        for idx, tab in zip(self.members[::-1], self.tables[::-1], strict=True):
            j, js = np.divmod(j, tab.shape[0])
            out[:, idx] = tab[js]
        return out

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.rows(_block_index(rng) * self.block, size)

    def index_of(self, codes: np.ndarray) -> int:
        """Position ``j`` of the assignment ``codes`` in the enumeration (inverse of ``rows``)."""
        j = 0
        for idx, tab in zip(self.members, self.tables, strict=True):
            hit = np.flatnonzero((tab == codes[idx]).all(axis=1))
            if hit.size != 1:
                raise RuntimeError(
                    "assignment not found in the enumeration; please report this bug"
                )
            j = j * tab.shape[0] + int(hit[0])
        return j


def _enumeration_sampler(design: AssignmentDesign, block: int) -> _EnumerationSampler:
    members = design.members()
    small = np.int16 if design.labels.size < 2**15 else np.int64
    tables = tuple(_enumerate_stratum(design.codes[idx]).astype(small) for idx in members)
    return _EnumerationSampler(design.codes, members, tables, block)


# =========================================================================== statistics
def _estimator(method: str) -> Callable[..., Any]:
    if method == "twfe":
        from analysis.estimators.twfe import twfe

        return twfe
    if method == "cs":
        from analysis.estimators.cs import callaway_santanna

        return callaway_santanna
    if method == "bjs":
        from analysis.estimators.bjs import bjs_imputation

        return bjs_imputation
    raise InputError(f"unknown estimator {method!r}; use 'twfe', 'cs' or 'bjs'")


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
        if statistic not in METHOD_STATISTICS:
            raise InputError(
                f"statistic must be a callable or one of {', '.join(METHOD_STATISTICS)} "
                f"(got {statistic!r})"
            )
        if outcome is None:
            raise InputError(f"statistic {statistic!r} needs the outcome column (outcome=...)")
        method, _, t = statistic.partition("_")
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


@dataclass(frozen=True)
class _RefitEvaluator:
    """Re-assign the cohort column and call the statistic, draw by draw."""

    data: pd.DataFrame
    cohort: str
    labels: np.ndarray
    row_unit: np.ndarray
    statistic: Callable[[pd.DataFrame], float]

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        out = np.empty((codes.shape[0], 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for r in range(codes.shape[0]):
                d = self.data.copy(deep=False)  # copy-on-write: the original is never touched
                d[self.cohort] = self.labels[codes[r]][self.row_unit]
                out[r, 0] = float(self.statistic(d))
        return out


def _ri_block(rng: np.random.Generator, size: int, *, sampler: Any, evaluator: Any) -> np.ndarray:
    return evaluator(sampler(rng, size))


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
        z = _demean2(wide) if self.demean else wide
        return z @ self.weights.T

    def evaluator(self, wides: list[np.ndarray]) -> Any:
        qs = np.stack([self.q(w) for w in wides])
        if self.kind == "linear":
            return _LinearEvaluator(qs)
        assert self.h is not None and self.cl is not None
        ps = np.stack([_demean2(w) @ self.h.T for w in wides])
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


def _demean2(y: np.ndarray) -> np.ndarray:
    return y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()


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


def _label_profiles(labels: np.ndarray, times: np.ndarray) -> np.ndarray:
    return ((labels[:, None] > 0) & (times[None, :] >= labels[:, None])).astype(np.float64)


def _twfe_parts(
    labels: np.ndarray, counts: np.ndarray, times: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Treatment profiles d, their two-way demeaned versions h and <D~, D~>."""
    d = _label_profiles(labels, times)
    n = counts.sum()
    dbar_t = counts @ d / n
    h = d - d.mean(axis=1, keepdims=True) - dbar_t[None, :] + dbar_t.mean()
    den = float(counts @ (h**2).sum(axis=1))
    if den <= 1e-12 * n * times.size:
        return None
    return d, h, den


def _twfe_weights(labels: np.ndarray, counts: np.ndarray, times: np.ndarray) -> np.ndarray | None:
    parts = _twfe_parts(labels, counts, times)
    return None if parts is None else parts[0] / parts[2]


def _cs_weights(
    labels: np.ndarray,
    counts: np.ndarray,
    times: np.ndarray,
    control: str,
    max_event: int | None,
) -> np.ndarray | None:
    n_lab, nt = labels.size, times.size
    n = counts.sum()
    never = labels == 0
    if not never.any() or counts[never].sum() == 0:
        return None
    cells: list[tuple[int, int, int, float]] = []  # (label idx, t idx, b idx, p_g)
    for k, g in enumerate(labels):
        if g <= 0:
            continue
        pre = np.flatnonzero(times < g)
        if pre.size == 0:
            return None
        b = int(pre[-1])
        for ti in np.flatnonzero(times >= g):
            if max_event is not None and times[ti] - g > max_event:
                continue
            cells.append((k, int(ti), b, counts[k] / n))
    if not cells:
        return None
    wsum = sum(c[3] for c in cells)
    c_mat = np.zeros((n_lab, nt))
    for k, ti, b, p in cells:
        w = p / wsum
        c_mat[k, ti] += w / counts[k]
        c_mat[k, b] -= w / counts[k]
        if control == "never":
            ctrl = never
        else:
            ctrl = never | ((labels > times[ti]) & (np.arange(n_lab) != k))
        nc = counts[ctrl].sum()
        c_mat[ctrl, ti] -= w / nc
        c_mat[ctrl, b] += w / nc
    return c_mat


_TWFE_OK = {"cluster", "ssc", "alpha", "data_layer", "covariates"}
_CS_OK = {
    "control",
    "est_method",
    "base_period",
    "anticipation",
    "cluster",
    "alpha",
    "data_layer",
    "max_event",
    "balance_event",
    "panel_handling",
    "boot_weights",
    "covariates",
    "n_boot",
    "seed",
}


def _fast_path(
    stat: Callable[[pd.DataFrame], float],
    data: pd.DataFrame,
    design: AssignmentDesign,
    time: str,
) -> tuple[_FastPath | None, str]:
    """A closed-form evaluator of ``stat`` over assignments, or (None, reason)."""
    if not isinstance(stat, EstimatorStatistic):
        return None, "user-supplied statistic"
    if stat.method not in ("twfe", "cs"):
        return None, f"no closed form for {stat.method!r}"
    if stat.kind != "att" and stat.method != "twfe":
        return None, f"the {stat.method} t-statistic is re-fitted"
    opts = dict(stat.options)
    allowed = _TWFE_OK if stat.method == "twfe" else _CS_OK
    extra = set(opts) - allowed
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
    if stat.method == "twfe":
        parts = _twfe_parts(labels, counts, times)
        if parts is None:
            return None, "treatment absorbed by the fixed effects"
        d, h, den = parts
        if stat.kind == "att":
            return _FastPath("twfe: two-way demeaned inner products", d / den, True), ""
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
        nobs, T = design.n_units * times.size, times.size
        if opts.get("ssc", "fixest") == "fixest":
            factor = G / (G - 1) * (nobs - 1) / (nobs - 1 - T)
        else:
            factor = nobs / (nobs - 1 - (design.n_units + T - 1))
        return _FastPath(
            "twfe_t: two-way demeaned inner products and CR1 cluster scores",
            d / den,
            True,
            kind="twfe_t",
            h=h,
            den=den,
            factor=factor,
            cl=cl,
        ), ""
    control = opts.get("control", "never")
    if control not in ("never", "notyet"):
        return None, f"control={control!r}"
    w = _cs_weights(labels, counts, times, control, opts.get("max_event"))
    if w is None:
        return None, "no never-treated units or no post-treatment cell"
    return _FastPath(f"cs: group-mean differences ({control} control)", w, False), ""


# =========================================================================== results
@dataclass(frozen=True)
class RIResult:
    """Result of a randomisation test.

    Attributes
    ----------
    statistic
        Name of the statistic.
    observed
        Statistic at the observed assignment (under the null ``null``).
    p_value
        Randomisation p-value (convention in ``p_value_convention``).
    n_draws
        Number of assignments evaluated besides the observed one (Monte Carlo:
        ``R``; exact: all :math:`|\\mathcal{A}|`, the observed one included).
    exact
        Whether every assignment was enumerated.
    draws
        The statistic at each evaluated assignment (read-only).
    design
        Description of the randomisation design.
    alternative
        ``"two-sided"`` (:math:`|T^*| \\ge |T|`), ``"greater"`` or ``"less"``.
    p_value_convention
        The formula used.
    n_assignments
        Number of distinct assignments.
    null
        The constant effect :math:`\\tau_0` of the sharp null.
    seed
        Seed of the draws (``None`` for exact enumeration, which is not random).
    fast_path
        The closed-form evaluator used, or ``None`` when the statistic was re-fitted.
    notes
        Recodings and remarks.
    """

    statistic: str
    observed: float
    p_value: float
    n_draws: int
    exact: bool
    draws: np.ndarray
    design: str
    alternative: str
    p_value_convention: str
    n_assignments: int
    null: float = 0.0
    seed: int | None = None
    fast_path: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        d = np.array(self.draws, dtype=np.float64, copy=True)
        d.setflags(write=False)
        object.__setattr__(self, "draws", d)

    @property
    def mc_se(self) -> float:
        """Monte Carlo standard error of the p-value (0 for exact enumeration)."""
        if self.exact:
            return 0.0
        return math.sqrt(self.p_value * (1.0 - self.p_value) / max(self.n_draws, 1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "observed": self.observed,
            "p_value": self.p_value,
            "alternative": self.alternative,
            "null": self.null,
            "exact": self.exact,
            "n_draws": self.n_draws,
            "n_assignments": str(self.n_assignments)
            if self.n_assignments > 2**53
            else self.n_assignments,
            "p_value_convention": self.p_value_convention,
            "design": self.design,
            "seed": self.seed,
            "fast_path": self.fast_path,
        }

    def summary(self) -> str:
        kind = (
            "exact enumeration"
            if self.exact
            else f"Monte Carlo, {self.n_draws} draws, seed {self.seed}"
        )
        return "\n".join(
            [
                f"Randomisation test of H0: constant effect = {self.null:g} ({self.alternative})",
                f"Statistic: {self.statistic} = {self.observed:.6g}",
                f"p-value: {self.p_value:.4f} ({kind}"
                + ("" if self.exact else f"; MC s.e. {self.mc_se:.4f}")
                + ")",
                f"Convention: {self.p_value_convention}",
                f"Design: {self.design}",
            ]
        )

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


@dataclass(frozen=True)
class RIInterval:
    """Confidence set for a constant effect by inverting randomisation tests.

    Attributes
    ----------
    estimate
        Point estimate (the :math:`\\tau` at which the statistic is zero for the
        fast paths; the observed statistic or the value given otherwise).
    low, high
        Bounds: the :math:`\\tau` where the p-value falls to ``alpha``
        (``-inf``/``inf`` for the open side of a one-sided interval).
    alpha
        Level of the tests inverted (coverage ``1 - alpha``).
    alternative
        Alternative of the inverted tests.
    p_at_estimate
        p-value of the null :math:`\\tau_0 =` ``estimate``.
    n_draws, exact, design, statistic, seed, fast_path
        As in :class:`RIResult`.
    xtol
        Bisection tolerance on :math:`\\tau`.
    n_evaluations
        Number of p-value evaluations used by the root search.
    """

    estimate: float
    low: float
    high: float
    alpha: float
    alternative: str
    p_at_estimate: float
    n_draws: int
    exact: bool
    design: str
    statistic: str
    seed: int | None
    fast_path: str | None
    xtol: float
    n_evaluations: int

    @property
    def ci(self) -> tuple[float, float]:
        return (self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# =========================================================================== engine glue
@dataclass
class _Prepared:
    design: AssignmentDesign
    stat: Callable[[pd.DataFrame], float]
    stat_name: str
    exact: bool
    fast: _FastPath | None
    fast_reason: str
    notes: list[str]


def _prepare(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    statistic: Any,
    outcome: str | None,
    strata: str | None,
    permute: str,
    exact: bool | str,
    max_exact: int,
    estimator_options: Mapping[str, Any] | None,
    fast: bool | str,
    verify: bool,
) -> _Prepared:
    design = assignment_design(
        data, unit=unit, time=time, cohort=cohort, strata=strata, permute=permute
    )
    stat, name = _resolve_statistic(
        statistic,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        estimator_options=estimator_options,
    )
    if design.n_assignments <= 1:
        raise InputError("the design admits a single assignment: nothing to permute")
    if exact == "auto":
        use_exact = design.n_assignments <= max_exact
    elif exact is True:
        if design.n_assignments > HARD_MAX_EXACT:
            raise InputError(
                f"exact enumeration of {_fmt_int(design.n_assignments)} assignments is not "
                f"feasible (limit {HARD_MAX_EXACT:,}); use Monte Carlo (exact=False)"
            )
        use_exact = True
    elif exact is False:
        use_exact = False
    else:
        raise InputError(f"exact must be True, False or 'auto' (got {exact!r})")
    fp, reason = (None, "fast=False") if fast is False else _fast_path(stat, data, design, time)
    if fast is True and fp is None:
        raise InputError(f"no fast path for this statistic: {reason}")
    if fast not in (True, False, "auto"):
        raise InputError(f"fast must be True, False or 'auto' (got {fast!r})")
    notes = list(design.notes)
    if fp is not None and verify:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = float(stat(data))
        ev = fp.evaluator([_wide(data, design, time, _outcome(data, stat))])
        got = float(fp.value(ev(design.codes[None, :]))[0])
        if not np.isclose(got, ref, rtol=1e-8, atol=1e-10 * max(1.0, abs(ref))):
            raise RuntimeError(
                f"fast path {fp.name!r} gives {got!r} but the estimator gives {ref!r} on the "
                "observed assignment; please report this bug (use fast=False meanwhile)"
            )
    return _Prepared(design, stat, name, use_exact, fp, reason, notes)


def _outcome(data: pd.DataFrame, stat: Any) -> np.ndarray:
    return pd.to_numeric(data[stat.outcome], errors="coerce").to_numpy(dtype=np.float64)


def _draws(
    prep: _Prepared,
    data: pd.DataFrame,
    *,
    time: str,
    cohort: str,
    outcome: str | None,
    null: float,
    with_d: bool,
    n_draws: int,
    seed: int | None,
    block: int,
    n_jobs: int,
    backend: str,
    client: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed statistic(s) and draws.

    Fast path: the evaluator's columns for Y and, if ``with_d``, for the observed
    D taken as outcome, from which ``prep.fast.value(cols, tau)`` gives the statistic
    at any null ``tau``. Re-fit: one column, the statistic at ``null``.
    """
    design = prep.design
    t = pd.to_numeric(data[time]).to_numpy()
    if prep.fast is not None:
        fp = prep.fast
        wides = [_wide(data, design, time, _outcome(data, prep.stat))]
        if with_d:
            wides.append(_wide(data, design, time, _treatment_rows(design, t)))
        evaluator: Any = fp.evaluator(wides)
    else:
        d = data
        if null != 0.0:
            if outcome is None:
                raise InputError("testing a non-zero constant effect needs outcome=...")
            d = data.copy()
            d[outcome] = pd.to_numeric(d[outcome]) - null * _treatment_rows(design, t)
        evaluator = _RefitEvaluator(d, cohort, design.labels, design.row_unit, prep.stat)
    observed = evaluator(design.codes[None, :])[0]
    if prep.exact:
        sampler: Any = _enumeration_sampler(design, block)
        total, run_seed = design.n_assignments, 0
    else:
        sampler = _PermutationSampler(design.codes, design.members())
        total, run_seed = n_draws, seed
    fn = partial(_ri_block, sampler=sampler, evaluator=evaluator)
    draws = run_draws(
        fn,
        total,
        run_seed,
        block=block,
        n_jobs=n_jobs,
        backend=backend,
        client=client,
        desc="randomisation draws",
    )
    observed = np.asarray(observed, dtype=np.float64)
    draws = np.asarray(draws, dtype=np.float64).reshape(total, -1)
    if prep.exact:
        # tie policy (analysis.inference.ties): the observed assignment is one of the
        # enumerated ones; take its statistic from its own row so it ties with itself
        observed = draws[sampler.index_of(design.codes)].reshape(observed.shape).copy()
    return observed, draws


def _p_value(obs: float, draws: np.ndarray, alternative: str, exact: bool) -> float:
    ok = np.isfinite(draws)
    d = draws[ok]
    if alternative == "two-sided":
        hits = int(count_at_least(np.abs(d), abs(obs)))
    elif alternative == "greater":
        hits = int(count_at_least(d, obs))
    else:
        hits = int(count_at_most(d, obs))
    if exact:
        return hits / d.size
    return (1 + hits) / (1 + d.size)


def _check_common(alternative: str, n_draws: int, block: int) -> None:
    if alternative not in ALTERNATIVES:
        raise InputError(f"alternative must be one of {ALTERNATIVES} (got {alternative!r})")
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
        raise InputError(f"n_draws must be a positive integer (got {n_draws!r})")
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise InputError(f"block must be a positive integer (got {block!r})")


def _nan_note(draws: np.ndarray, notes: list[str]) -> None:
    bad = int((~np.isfinite(draws)).sum())
    if bad:
        msg = f"{bad} draw(s) gave a non-finite statistic and were left out of the p-value"
        notes.append(msg)
        warnings.warn(msg, UserWarning, stacklevel=3)


# =========================================================================== public API
def randomization_test(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    statistic: str | Callable[[pd.DataFrame], float],
    outcome: str | None = None,
    strata: str | None = None,
    permute: Permute = "cohort",
    n_draws: int = 9999,
    seed: int | None = 0,
    exact: bool | Literal["auto"] = "auto",
    max_exact: int = DEFAULT_MAX_EXACT,
    alternative: Alternative = "two-sided",
    null: float = 0.0,
    estimator_options: Mapping[str, Any] | None = None,
    fast: bool | Literal["auto"] = "auto",
    verify: bool = True,
    n_jobs: int = 1,
    backend: Literal["serial", "joblib", "dask"] = "joblib",
    client: Any = None,
    block: int = 1000,
) -> RIResult:
    """Randomisation test of a sharp null by re-assigning cohorts across units.

    Parameters
    ----------
    data
        Long panel, one row per unit and period.
    unit, time, cohort
        Column names; ``cohort`` = first treated period (``0``/missing = never).
    statistic
        ``statistic(data) -> float`` (evaluated on the data with the cohort
        column re-assigned; must be picklable for parallel backends) or one of
        ``"twfe"``, ``"cs"``, ``"bjs"`` (simple ATT) and ``"twfe_t"``,
        ``"cs_t"``, ``"bjs_t"`` (t-statistics).
    outcome
        Outcome column (required for named statistics and for ``null != 0``).
    strata
        Unit-level column; permutations stay within strata.
    permute
        ``"cohort"`` (re-assign treatment and timing) or ``"timing"``
        (re-assign adoption years among ever-treated units).
    n_draws
        Monte Carlo draws :math:`R` (ignored when enumerating).
    seed
        Seed of the Monte Carlo draws (engine: identical for any ``n_jobs``).
    exact
        ``"auto"``, ``True`` (enumerate; at most 1,000,000 assignments) or ``False``.
    max_exact
        Threshold of ``exact="auto"`` (default 100,000).
    alternative
        ``"two-sided"``, ``"greater"`` or ``"less"``.
    null
        Constant effect :math:`\\tau_0` under the sharp null (default 0).
    estimator_options
        Keyword arguments of the estimator for named statistics
        (e.g. ``{"control": "notyet"}``).
    fast
        ``"auto"`` (closed form when available), ``True`` (require it) or
        ``False`` (always re-fit).
    verify
        Check the closed form against the estimator at the observed assignment.
    n_jobs, backend, client, block
        Passed to :func:`~analysis.inference.engine.run_draws`.

    Returns
    -------
    RIResult

    Raises
    ------
    InputError
        Bad columns or options, a design with one assignment, infeasible
        exact enumeration.

    Notes
    -----
    Procedure:

    1. Build the design (:func:`assignment_design`): units, their cohort
       labels and strata; count the distinct assignments
       :math:`|\\mathcal{A}| = \\prod_s n_s! / \\prod_g n_{sg}!`.
    2. Under :math:`H_0`: effect :math:`\\equiv \\tau_0` (``null``), replace the
       outcome by :math:`Y - \\tau_0 D` (observed :math:`D`) and compute
       :math:`T^{obs}`, the statistic at the observed assignment.
    3. If ``exact`` (``"auto"``: :math:`|\\mathcal{A}| \\le` ``max_exact``),
       evaluate :math:`T` at every assignment and report the exact proportion
       :math:`p = \\#\\{a: |T(a)| \\ge |T^{obs}|\\}/|\\mathcal{A}|`; otherwise draw
       ``n_draws`` = :math:`R` uniform permutations within strata and report
       :math:`p = (1 + \\#\\{r: |T^*_r| \\ge |T^{obs}|\\})/(1 + R)`.
       (One-sided alternatives use signed comparisons.)
    """
    _check_common(alternative, n_draws, block)
    prep = _prepare(
        data,
        unit=unit,
        time=time,
        cohort=cohort,
        statistic=statistic,
        outcome=outcome,
        strata=strata,
        permute=permute,
        exact=exact,
        max_exact=max_exact,
        estimator_options=estimator_options,
        fast=fast,
        verify=verify,
    )
    null = float(null)
    obs, draws = _draws(
        prep,
        data,
        time=time,
        cohort=cohort,
        outcome=outcome,
        null=null,
        with_d=prep.fast is not None and null != 0.0,
        n_draws=n_draws,
        seed=seed,
        block=block,
        n_jobs=n_jobs,
        backend=backend,
        client=client,
    )
    if prep.fast is not None:
        t_obs = float(prep.fast.value(obs, null)[0])
        t_draws = prep.fast.value(draws, null)
    else:
        t_obs, t_draws = float(obs[0]), draws[:, 0]
    notes = list(prep.notes)
    _nan_note(t_draws, notes)
    if not np.isfinite(t_obs):
        raise InputError("the statistic is not finite at the observed assignment")
    p = _p_value(t_obs, t_draws, alternative, prep.exact)
    conv = P_VALUE_CONVENTIONS["exact" if prep.exact else "mc"]
    if alternative != "two-sided":
        conv = conv.replace(
            "|T(a)| >= |T_obs|", "T(a) >= T_obs" if alternative == "greater" else "T(a) <= T_obs"
        )
        conv = conv.replace(
            "|T*_r| >= |T_obs|", "T*_r >= T_obs" if alternative == "greater" else "T*_r <= T_obs"
        )
    return RIResult(
        statistic=prep.stat_name,
        observed=t_obs,
        p_value=float(p),
        n_draws=int(t_draws.size),
        exact=prep.exact,
        draws=t_draws,
        design=prep.design.describe()
        + (
            "; exact enumeration"
            if prep.exact
            else f"; Monte Carlo with {n_draws} draws (seed {seed})"
        ),
        alternative=alternative,
        p_value_convention=conv,
        n_assignments=prep.design.n_assignments,
        null=null,
        seed=None if prep.exact else seed,
        fast_path=prep.fast.name if prep.fast is not None else None,
        notes=tuple(notes),
    )


def ri_confidence_interval(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    statistic: str | Callable[[pd.DataFrame], float],
    strata: str | None = None,
    permute: Permute = "cohort",
    alpha: float = 0.05,
    n_draws: int = 9999,
    seed: int | None = 0,
    exact: bool | Literal["auto"] = "auto",
    max_exact: int = DEFAULT_MAX_EXACT,
    alternative: Alternative = "two-sided",
    estimator_options: Mapping[str, Any] | None = None,
    fast: bool | Literal["auto"] = "auto",
    verify: bool = True,
    estimate: float | None = None,
    step: float | None = None,
    xtol: float | None = None,
    max_evaluations: int = 200,
    n_jobs: int = 1,
    backend: Literal["serial", "joblib", "dask"] = "joblib",
    client: Any = None,
    block: int = 1000,
) -> RIInterval:
    """Confidence interval for a constant effect by inverting randomisation tests.

    Parameters
    ----------
    data, outcome, unit, time, cohort, statistic, strata, permute, n_draws, seed,
    exact, max_exact, estimator_options, fast, verify, n_jobs, backend, client, block
        As in :func:`randomization_test`.
    alpha
        Level; the interval has coverage :math:`1-\\alpha` under constant effects.
    alternative
        ``"two-sided"`` gives ``(low, high)``; ``"greater"`` ``(low, inf)``;
        ``"less"`` ``(-inf, high)``.
    estimate, step, xtol
        Starting point, initial step and tolerance of the search (defaults in Notes).
    max_evaluations
        Cap on p-value evaluations.

    Returns
    -------
    RIInterval

    Notes
    -----
    Procedure:

    The :math:`1-\\alpha` confidence set is
    :math:`\\{\\tau_0: p(\\tau_0) > \\alpha\\}`, with :math:`p(\\tau_0)` the
    randomisation p-value of the sharp null "the effect is :math:`\\tau_0` for
    every treated unit-period" (:func:`randomization_test` with
    ``null=tau0``: subtract :math:`\\tau_0 D_{it}` from the outcome on treated
    post-periods, re-test). The same assignments are used for every
    :math:`\\tau_0` (same seed, or the same enumeration), so :math:`p(\\cdot)` is
    a fixed step function.

    1. Start at the point estimate :math:`\\hat\\tau` (fast paths: the root of
       :math:`T(\\tau) = A - \\tau B` at the observed assignment; otherwise
       ``estimate`` or the observed statistic, meaningful when the statistic
       is an effect estimate).
    2. Step outwards from :math:`\\hat\\tau` by ``step`` (default: the
       standard deviation of the randomisation distribution at
       :math:`\\hat\\tau` -- for fast paths that of the effect-scale part
       :math:`A - \\hat\\tau B`, also when the statistic is a t-statistic),
       doubling it until :math:`p \\le \\alpha`.
    3. Bisect between the last accepted and the first rejected value until
       they are ``xtol`` apart; the bound is their midpoint. The search finds
       the crossing nearest to :math:`\\hat\\tau` on each side (the set is an
       interval whenever :math:`p(\\cdot)` is unimodal, the usual case).

    With a fast path :math:`p(\\tau)` costs one vectorised comparison, so the
    default ``xtol`` is :math:`10^{-10}` times the scale; when the statistic is
    re-fitted each evaluation costs ``n_draws`` fits and the default ``xtol``
    is :math:`10^{-3}` times the scale.
    """
    _check_common(alternative, n_draws, block)
    if not (0.0 < float(alpha) < 1.0):
        raise InputError(f"alpha must lie strictly between 0 and 1 (got {alpha!r})")
    alpha = float(alpha)
    prep = _prepare(
        data,
        unit=unit,
        time=time,
        cohort=cohort,
        statistic=statistic,
        outcome=outcome,
        strata=strata,
        permute=permute,
        exact=exact,
        max_exact=max_exact,
        estimator_options=estimator_options,
        fast=fast,
        verify=verify,
    )
    kw = dict(
        time=time,
        cohort=cohort,
        outcome=outcome,
        n_draws=n_draws,
        seed=seed,
        block=block,
        n_jobs=n_jobs,
        backend=backend,
        client=client,
    )
    n_eval = 0
    if prep.fast is not None:
        obs, draws = _draws(prep, data, null=0.0, with_d=True, **kw)
        a_obs, b_obs = float(obs[0]), float(obs[1])
        if abs(b_obs) < 1e-12:
            raise InputError("the statistic does not respond to a constant effect (B = 0)")
        est = a_obs / b_obs if estimate is None else float(estimate)

        fp = prep.fast

        def pfun(tau: float) -> tuple[float, np.ndarray]:
            # second value: draws on the effect scale (for the default step)
            p = _p_value(
                float(fp.value(obs, tau)[0]), fp.value(draws, tau), alternative, prep.exact
            )
            return p, fp.effect(draws, tau)

        rel = 1e-10
    else:
        cache: dict[float, tuple[float, np.ndarray]] = {}

        def pfun(tau: float) -> tuple[float, np.ndarray]:
            if tau not in cache:
                o, d = _draws(prep, data, null=tau, with_d=False, **kw)
                cache[tau] = (_p_value(float(o[0]), d[:, 0], alternative, prep.exact), d[:, 0])
            return cache[tau]

        if estimate is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = float(prep.stat(data))
        else:
            est = float(estimate)
        rel = 1e-3
    p_est, dr_est = pfun(est)
    n_eval += 1
    scale = float(step) if step is not None else float(np.nanstd(dr_est))
    if not np.isfinite(scale) or scale <= 0:
        scale = max(abs(est), 1.0)
    tol = float(xtol) if xtol is not None else rel * scale
    if p_est <= alpha:
        warnings.warn(
            f"p-value at the estimate is {p_est:.4g} <= alpha; the confidence set may be empty "
            "or not an interval",
            UserWarning,
            stacklevel=2,
        )

    def bound(direction: int) -> float:
        nonlocal n_eval
        inside, h = est, scale
        outside = None
        while n_eval < max_evaluations:
            cand = est + direction * h
            p, _ = pfun(cand)
            n_eval += 1
            if p <= alpha:
                outside = cand
                break
            inside, h = cand, 2 * h
        if outside is None:
            return direction * math.inf
        while abs(outside - inside) > tol and n_eval < max_evaluations:
            mid = 0.5 * (inside + outside)
            p, _ = pfun(mid)
            n_eval += 1
            if p > alpha:
                inside = mid
            else:
                outside = mid
        return 0.5 * (inside + outside)

    low = bound(-1) if alternative in ("two-sided", "greater") else -math.inf
    high = bound(+1) if alternative in ("two-sided", "less") else math.inf
    if n_eval >= max_evaluations:
        warnings.warn(
            "root search hit max_evaluations; bounds are approximate", UserWarning, stacklevel=2
        )
    desc = prep.design.describe() + (
        "; exact enumeration" if prep.exact else f"; Monte Carlo with {n_draws} draws (seed {seed})"
    )
    return RIInterval(
        estimate=float(est),
        low=float(low),
        high=float(high),
        alpha=alpha,
        alternative=alternative,
        p_at_estimate=float(p_est),
        n_draws=int(dr_est.size),
        exact=prep.exact,
        design=desc,
        statistic=prep.stat_name,
        seed=None if prep.exact else seed,
        fast_path=prep.fast.name if prep.fast is not None else None,
        xtol=float(tol),
        n_evaluations=int(n_eval),
    )
