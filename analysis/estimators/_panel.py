"""Validate-first preparation of a long panel for every estimator.

Following R ``did``'s habit, every argument is checked before anything is
computed, and every problem is reported as an :class:`~analysis.errors.InputError`
with a one-line message naming it. Rows or units that cannot be used are never
dropped silently: each drop is recorded in :attr:`Panel.notes` and emitted as a
``UserWarning``.

Conventions
-----------
* ``cohort`` is the first treated period; ``0`` or missing means never treated.
* ``time`` must be integer-valued (years, quarters as integers, ...).
* Units whose cohort is at or before the first observed period (treated in
  every observed period) have no untreated pre-period; they are dropped with a
  note, as R ``did`` does.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import InputError


@dataclass(frozen=True)
class Panel:
    """A validated long panel with standardised column names.

    ``data`` has columns ``unit`` (original ids), ``uid`` (0..n_units-1),
    ``time``, ``cohort`` (``0`` = never treated, as float), ``y`` and the
    covariate / cluster columns under their original names. Rows are sorted by
    ``uid, time``.
    """

    data: pd.DataFrame
    outcome: str
    unit: str
    time: str
    cohort: str
    covariates: tuple[str, ...]
    cluster: str | None
    times: np.ndarray
    cohorts: np.ndarray  # treated cohorts present (sorted, excludes 0)
    n_units: int
    balanced: bool
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_obs(self) -> int:
        return len(self.data)


def _require_columns(df: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        avail = ", ".join(map(str, list(df.columns)[:12]))
        more = ", ..." if df.shape[1] > 12 else ""
        raise InputError(
            f"column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"not found in the data (available: {avail}{more})"
        )


def _numeric(df: pd.DataFrame, col: str, role: str) -> pd.Series:
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64")
    if not pd.api.types.is_numeric_dtype(s):
        conv = pd.to_numeric(s, errors="coerce")
        bad = s.notna() & conv.isna()
        if bad.any():
            example = s[bad].iloc[0]
            raise InputError(
                f"{role} column {col!r} is not numeric ({int(bad.sum())} value(s) such as {example!r})"
            )
        s = conv
    return s.astype("float64")


def _whole(raw: pd.Series, values: pd.Series) -> bool:
    """Whole numbers (integer dtypes trivially; floats within 1e-8, NaN ignored)."""
    if pd.api.types.is_integer_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        return True
    v = values.to_numpy()
    v = v[~np.isnan(v)]
    return bool(v.size == 0 or np.abs(v - np.round(v)).max() <= 1e-8)


def prepare_panel(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    require_never_treated: bool = False,
    require_comparison: bool = True,
) -> Panel:
    """Validate and standardise a long panel.

    Parameters
    ----------
    data
        Long panel, one row per unit and period.
    outcome, unit, time, cohort
        Column names. ``cohort`` is the first treated period (0/missing = never).
    covariates
        Optional covariate columns (must be numeric and, for the estimators
        that use baseline covariates, are read in each unit's base period).
    cluster
        Optional cluster column (must be constant within unit for the
        influence-function estimators; checked there).
    require_never_treated
        Raise if there are no never-treated units.
    require_comparison
        Raise if there is no untreated comparison at all (neither never-treated
        units nor units treated after the first post-period of another cohort).

    Raises
    ------
    InputError
        Missing column, non-numeric outcome/time/cohort/covariate, duplicate
        unit-time rows, cohort varying within a unit, non-integer time, no
        treated units, no comparison units, empty data after dropping.
    """
    arr = panel_arrays(
        data,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        cluster=cluster,
        require_never_treated=require_never_treated,
        require_comparison=require_comparison,
        stacklevel=4,
    )
    return arr.to_panel()


@dataclass(frozen=True)
class PanelArrays:
    """The validated panel as numpy arrays, rows sorted by ``(uid, time)``.

    What :func:`prepare_panel` wraps into a :class:`Panel`; estimators with a
    light input path (:mod:`analysis.estimators.cs`) read the arrays directly.
    When the input is already sorted by unit and time and nothing is dropped,
    the row arrays are views of the input columns (no copy).
    """

    unit: np.ndarray  # original unit id of every row
    uid: np.ndarray  # int64 dense unit code 0..n_units-1
    time: np.ndarray  # int64
    cohort: np.ndarray  # float64, 0 = never treated
    y: np.ndarray  # float64
    x: dict[str, np.ndarray]  # covariates, float64
    cluster_values: np.ndarray | None  # cluster label of every row
    outcome: str
    unit_col: str
    time_col: str
    cohort_col: str
    covariates: tuple[str, ...]
    cluster: str | None
    times: np.ndarray
    cohorts: np.ndarray
    n_units: int
    balanced: bool
    notes: tuple[str, ...]

    def to_panel(self) -> Panel:
        """The :class:`Panel` (a standardised DataFrame) of these arrays."""
        cols: dict[str, np.ndarray] = {
            "unit": self.unit,
            "uid": self.uid,
            "time": self.time,
            "cohort": self.cohort,
            "y": self.y,
        }
        for c, v in self.x.items():
            cols[c] = v
        if self.cluster:
            cols[self.cluster] = self.cluster_values
        df = pd.DataFrame(cols)
        return Panel(
            data=df,
            outcome=self.outcome,
            unit=self.unit_col,
            time=self.time_col,
            cohort=self.cohort_col,
            covariates=self.covariates,
            cluster=self.cluster,
            times=self.times,
            cohorts=self.cohorts,
            n_units=self.n_units,
            balanced=self.balanced,
            notes=self.notes,
        )


def _unit_codes(u: pd.Series) -> tuple[np.ndarray, np.ndarray, bool]:
    """Sorted-order codes of the unit column, its distinct values, and whether the
    rows are already grouped in ascending unit order (then no hashing is needed)."""
    if pd.api.types.is_numeric_dtype(u) and not pd.api.types.is_bool_dtype(u):
        v = u.to_numpy()
        if v.size < 2 or bool((v[1:] >= v[:-1]).all()):
            change = np.empty(v.size, dtype=bool)
            change[0] = False
            np.not_equal(v[1:], v[:-1], out=change[1:])
            codes = np.cumsum(change, dtype=np.int64)
            change[0] = True
            return codes, v[change], True
    codes, uniques = pd.factorize(u, sort=True)
    return codes.astype(np.int64, copy=False), np.asarray(uniques), False


def panel_arrays(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    require_never_treated: bool = False,
    require_comparison: bool = True,
    stacklevel: int = 3,
) -> PanelArrays:
    """Validate a long panel into arrays (see :func:`prepare_panel` for the checks).

    One pass: the unit column is encoded once as integer codes (without hashing
    when it is numeric and already ascending), one integer key ``(unit, time)``
    does the duplicate check and the ordering, and the sort is skipped when the
    key is already strictly increasing (the usual layout of a long panel).
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame")
    covariates = tuple(c for c in covariates if c)
    if len(set(covariates)) != len(covariates):
        raise InputError("covariates listed more than once")
    _require_columns(
        data, [outcome, unit, time, cohort, *covariates] + ([cluster] if cluster else [])
    )
    if len({outcome, unit, time, cohort}) < 4:
        raise InputError("outcome, unit, time and cohort must be four different columns")
    if data.empty:
        raise InputError("the data have no rows")

    notes: list[str] = []
    y = _numeric(data, outcome, "outcome")
    t = _numeric(data, time, "time")
    g = _numeric(data, cohort, "cohort")
    xs = {c: _numeric(data, c, "covariate") for c in covariates}

    if data[unit].isna().any():
        raise InputError(
            f"unit column {unit!r} has {int(data[unit].isna().sum())} missing value(s)"
        )
    if t.isna().any():
        raise InputError(f"time column {time!r} has {int(t.isna().sum())} missing value(s)")
    if not _whole(data[time], t):
        raise InputError(f"time column {time!r} must hold whole numbers (e.g. years)")
    gv = g.to_numpy()
    if (gv < 0).any():  # NaN compares False
        raise InputError(f"cohort column {cohort!r} has negative values; use 0 for never treated")
    if not _whole(data[cohort], g):
        raise InputError(f"cohort column {cohort!r} must hold whole numbers (first treated period)")

    # One integer key (unit code, time) does the duplicate check, the within-unit
    # checks and the ordering; it is sorted only when it is not already increasing.
    codes, uniques, _ = _unit_codes(data[unit])
    raw_t = data[time]
    if pd.api.types.is_integer_dtype(raw_t):
        tt = raw_t.to_numpy().astype(np.int64, copy=False)
    else:
        tt = t.round().astype("int64").to_numpy()
    t0 = int(tt.min())
    span = int(tt.max()) - t0 + 1
    key = codes * span
    key += tt
    key -= t0
    if key.size < 2 or bool((key[1:] > key[:-1]).all()):
        order = None  # already sorted by (unit, time), hence no duplicates
        del key
    else:
        order = np.argsort(key, kind="stable")
        ks = key[order]
        del key
        same = ks[1:] == ks[:-1]
        if same.any():
            i = order[int(np.flatnonzero(same)[0])]
            raise InputError(
                f"{int(same.sum())} duplicate unit-time row(s) in ({unit!r}, {time!r}) "
                f"(first: {unit}={data[unit].iloc[i]!r}, {time}={int(tt[i])})"
            )
        del ks, same

    def rows(a: np.ndarray) -> np.ndarray:
        return a if order is None else a[order]

    uid = rows(codes)
    del codes
    starts = np.flatnonzero(np.r_[True, uid[1:] != uid[:-1]])
    gs = rows(g.fillna(0.0).to_numpy())
    varies = np.minimum.reduceat(gs, starts) != np.maximum.reduceat(gs, starts)
    if varies.any():
        first_u = uniques[uid[starts[int(np.flatnonzero(varies)[0])]]]
        raise InputError(
            f"cohort column {cohort!r} varies within {int(varies.sum())} unit(s) "
            f"(first: {unit}={first_u!r}); it must be the unit's first treated period"
        )
    unit_rows = rows(np.asarray(data[unit].to_numpy()))
    tt = rows(tt)
    yv = rows(y.to_numpy())
    xv = {c: rows(s_.to_numpy()) for c, s_ in xs.items()}
    cl_rows = None
    if cluster:
        cl = data[cluster]
        if cl.isna().any():
            raise InputError(f"cluster column {cluster!r} has missing values")
        ccodes = rows(pd.factorize(cl)[0])
        cvar = np.minimum.reduceat(ccodes, starts) != np.maximum.reduceat(ccodes, starts)
        if cvar.any():
            raise InputError(
                f"cluster column {cluster!r} varies within {int(cvar.sum())} unit(s); "
                "clusters must nest units"
            )
        cl_rows = rows(cl.to_numpy())

    # Rows with a missing outcome or covariate cannot be used; say so.
    miss = np.isnan(yv)
    for c in covariates:
        miss |= np.isnan(xv[c])
    keep = None
    if miss.any():
        notes.append(f"dropped {int(miss.sum())} row(s) with a missing outcome or covariate")
        keep = ~miss
        if not keep.any():
            raise InputError("no rows left after dropping rows with missing values")
    del miss

    tmin = int(tt.min() if keep is None else tt[keep].min())
    early = (gs > 0) & (gs <= tmin)
    if keep is not None:
        early &= keep
    if early.any():
        n_u = int(np.unique(uid[early]).size)
        notes.append(
            f"dropped {n_u} unit(s) treated at or before the first period {tmin} "
            "(no untreated pre-period)"
        )
        keep = ~early if keep is None else keep & ~early
    del early
    tmax = int(tt.max() if keep is None else tt[keep].max())
    late = gs > tmax
    if keep is not None:
        late &= keep
    if late.any():
        # Treated only after the sample ends: they are untreated throughout.
        n_u = int(np.unique(uid[late]).size)
        notes.append(
            f"{n_u} unit(s) first treated after the last period {tmax} are coded never treated"
        )
        gs = np.where(late, 0.0, gs)
    del late

    n_units = len(uniques)
    if keep is not None:
        unit_rows, tt, gs, yv = unit_rows[keep], tt[keep], gs[keep], yv[keep]
        xv = {c: v[keep] for c, v in xv.items()}
        if cl_rows is not None:
            cl_rows = cl_rows[keep]
        uid = uid[keep]
        # re-code units densely after the drops (rows stay in unit order)
        change = np.r_[False, uid[1:] != uid[:-1]]
        uid = np.cumsum(change, dtype=np.int64)
        n_units = int(uid[-1]) + 1 if uid.size else 0

    cohorts = np.unique(gs[gs > 0])
    if cohorts.size == 0:
        raise InputError("no treated units: every unit has cohort 0 (never treated)")
    has_never = bool((gs == 0).any())
    if require_never_treated and not has_never:
        raise InputError("no never-treated units (cohort 0) to serve as the comparison group")
    if require_comparison and not has_never and cohorts.size < 2:
        raise InputError(
            "no untreated comparison: all units are treated at the same time and none is never treated"
        )
    times = np.unique(tt)
    balanced = uid.size == n_units * times.size
    for n in notes:
        warnings.warn(n, UserWarning, stacklevel=stacklevel)
    return PanelArrays(
        unit=unit_rows,
        uid=np.asarray(uid, dtype=np.int64),
        time=tt,
        cohort=gs,
        y=yv,
        x=xv,
        cluster_values=cl_rows,
        outcome=outcome,
        unit_col=unit,
        time_col=time,
        cohort_col=cohort,
        covariates=covariates,
        cluster=cluster,
        times=times,
        cohorts=cohorts,
        n_units=n_units,
        balanced=balanced,
        notes=tuple(notes),
    )
