r"""The randomisation design of :mod:`analysis.inference.ri`: which re-assignments of
cohorts across units are equally likely, how many there are, and samplers that
draw them uniformly (Monte Carlo) or enumerate them all (exact).

Split from :mod:`analysis.inference.ri` (the test and its intervals) so that the
design can be used on its own (:mod:`analysis.inference.power` draws from
:class:`PermutationSampler`). See that module's docstring for the design and
the p-value conventions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import combinations
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.inference.engine import run_draws
from analysis.validation import literal_values

Permute = Literal["cohort", "timing"]
PERMUTES: tuple[str, ...] = literal_values(Permute)
#: Enumerate every assignment when there are at most this many (``exact="auto"``).
DEFAULT_MAX_EXACT = 100_000
#: Hard cap for ``exact=True``.
HARD_MAX_EXACT = 1_000_000


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
        ``"cohort"`` or ``"timing"`` (module docstring); ``"treatment"`` for the
        cross-sectional design of :func:`treatment_design`.
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
        what = {
            "cohort": "cohort labels (first treated period, 0 = never treated)",
            "timing": "adoption years among the ever-treated units (treated set held fixed)",
            "treatment": "the treatment indicator (1 = treated)",
        }[self.permute]
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


def _count_assignments(codes: np.ndarray, strata: np.ndarray) -> int:
    """:math:`\\prod_s n_s! / \\prod_g n_{sg}!`: distinct label arrangements within strata."""
    out = 1
    for k in np.unique(strata):
        out *= _multinomial(np.bincount(codes[strata == k]))
    return int(out)


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
    return AssignmentDesign(
        units=np.asarray(units),
        labels=labels.astype(np.float64),
        codes=codes.astype(np.int64),
        strata=s_codes,
        strata_names=s_names,
        strata_column=strata,
        permute=permute,
        row_unit=np.asarray(row_unit, dtype=np.int64),
        n_assignments=_count_assignments(codes, s_codes),
        notes=tuple(notes),
    )


def treatment_design(
    treated: np.ndarray | pd.Series,
    strata: np.ndarray | pd.Series | None = None,
    *,
    strata_column: str | None = None,
) -> AssignmentDesign:
    """The design of a cross-section (or a two-period first difference): the
    treatment indicator re-assigned across units, its count held fixed within strata.

    Parameters
    ----------
    treated
        0/1 treatment indicator, one entry per unit (the unit order of every array).
    strata
        Optional stratum of each unit; permutations stay within strata.
    strata_column
        Name of the strata for :meth:`AssignmentDesign.describe`.

    Returns
    -------
    AssignmentDesign
        Labels ``(0, 1)``; :math:`|\\mathcal{A}| = \\prod_s \\binom{n_s}{n_{s1}}`.

    Raises
    ------
    InputError
        Treatment not 0/1 or missing, strata of another length or with missing values.
    """
    d = np.asarray(treated, dtype=np.float64)
    if d.ndim != 1 or d.size == 0 or not np.isin(d, (0.0, 1.0)).all():
        raise InputError("treated must be a non-empty one-dimensional 0/1 array")
    n = d.size
    labels, codes = np.unique(d, return_inverse=True)
    if strata is None:
        s_codes, s_names = np.zeros(n, dtype=np.int64), ("all",)
    else:
        s = pd.Series(np.asarray(strata))
        if s.size != n or s.isna().any():
            raise InputError("strata must give a non-missing stratum for every unit")
        s_codes, names = pd.factorize(s, sort=True)
        s_names = tuple(names)
    return AssignmentDesign(
        units=np.arange(n),
        labels=labels.astype(np.float64),
        codes=codes.astype(np.int64),
        strata=np.asarray(s_codes, dtype=np.int64),
        strata_names=s_names,
        strata_column=(strata_column or "strata") if strata is not None else None,
        permute="treatment",
        row_unit=np.arange(n, dtype=np.int64),
        n_assignments=_count_assignments(codes, s_codes),
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
class PermutationSampler:
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


# =========================================================================== evaluation
def _ri_block(rng: np.random.Generator, size: int, *, sampler: Any, evaluator: Any) -> np.ndarray:
    return evaluator(sampler(rng, size))


def _use_exact(design: AssignmentDesign, exact: bool | str, max_exact: int) -> bool:
    """Whether to enumerate every assignment (``exact``: ``"auto"``, ``True`` or ``False``)."""
    if exact == "auto":
        return design.n_assignments <= max_exact
    if exact is True:
        if design.n_assignments > HARD_MAX_EXACT:
            raise InputError(
                f"exact enumeration of {_fmt_int(design.n_assignments)} assignments is not "
                f"feasible (limit {HARD_MAX_EXACT:,}); use Monte Carlo (exact=False)"
            )
        return True
    if exact is False:
        return False
    raise InputError(f"exact must be True, False or 'auto' (got {exact!r})")


def _evaluate(
    design: AssignmentDesign,
    evaluator: Callable[[np.ndarray], np.ndarray],
    *,
    exact: bool,
    n_draws: int,
    seed: int | None,
    block: int,
    n_jobs: int,
    backend: str,
    client: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """``evaluator`` (label codes ``(R, n_units)`` -> statistic columns ``(R, m)``) at the
    observed assignment and at every enumerated (``exact``) or drawn assignment."""
    observed = evaluator(design.codes[None, :])[0]
    if exact:
        sampler: Any = _enumeration_sampler(design, block)
        total, run_seed = design.n_assignments, 0
    else:
        sampler = PermutationSampler(design.codes, design.members())
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
    if exact:
        # tie policy (analysis.inference.ties): the observed assignment is one of the
        # enumerated ones; take its statistic from its own row so it ties with itself
        observed = draws[sampler.index_of(design.codes)].reshape(observed.shape).copy()
    return observed, draws


def design_assignments(
    design: AssignmentDesign,
    *,
    exact: bool,
    n_draws: int = 9999,
    seed: int | None = 0,
    block: int = 1000,
) -> np.ndarray:
    """The assignments that :func:`_evaluate` visits, as label values ``(R, n_units)``:
    every distinct one in the fixed enumeration order (``exact``), or ``n_draws``
    seeded uniform draws (the same for the same ``seed`` and ``block``)."""
    _, rows = _evaluate(
        design,
        design.labels.__getitem__,
        exact=exact,
        n_draws=n_draws,
        seed=seed,
        block=block,
        n_jobs=1,
        backend="serial",
        client=None,
    )
    return rows
