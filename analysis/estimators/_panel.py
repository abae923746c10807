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
  note, as R ``did`` does, unless the estimator can use them
  (``keep_always_treated=True``: the event study's binned end-point lags).
* Every note is also a ``UserWarning`` (:func:`note`); estimators copy
  :attr:`Panel.notes` into their result's ``notes``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import validation
from analysis.errors import InputError


def _role(col: str, outcome: str, unit: str, time: str, cohort: str) -> str:
    return {outcome: "outcome", unit: "unit", time: "time", cohort: "cohort"}[col]


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
    weights: str | None = None  # the weights column (its values are in data["_weight"])

    @property
    def n_obs(self) -> int:
        return len(self.data)


def note(notes: list[str], msg: str, *, stacklevel: int = 3) -> None:
    """Record ``msg`` for the result's ``notes`` and issue it as a ``UserWarning``.

    The one way an estimator reports a drop, a recoding or a degenerate test:
    the user sees the warning at run time and finds the same sentence in the
    result (``DiDResult.notes``, the ``notes`` list of the JSON output).
    """
    notes.append(msg)
    warnings.warn(msg, UserWarning, stacklevel=stacklevel)


def _cohort_list(values: np.ndarray) -> str:
    """``"2031"`` or ``"2030, 2031"`` (at most five cohorts named)."""
    u = [str(int(v)) for v in np.unique(values)]
    return ", ".join(u[:5]) + (", ..." if len(u) > 5 else "")


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
    weights: str | None = None,
    weights_unit_level: bool = False,
    keep_always_treated: bool = False,
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
    weights
        Optional column of observation weights (numeric, finite, non-negative,
        not all zero; :func:`analysis.validation.check_weights`). Stored as
        column ``_weight``; rows with weight zero are dropped with a note (fixest).
    weights_unit_level
        Require the weights to be constant within unit (sampling weights of
        units, as R ``did``'s ``weightsname``).
    keep_always_treated
        Keep units treated at or before the first period (with a note) instead
        of dropping them; only for estimators that can use them.

    Raises
    ------
    InputError
        Missing column, non-numeric outcome/time/cohort/covariate, duplicate
        unit-time rows, cohort varying within a unit, non-integer time, no
        treated units, no comparison units, empty data after dropping.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame")
    covariates = tuple(c for c in covariates if c)
    if len(set(covariates)) != len(covariates):
        raise InputError("covariates listed more than once")
    if weights is not None and not isinstance(weights, str):
        raise InputError(f"weights must be a column name (got {weights!r})")
    _require_columns(
        data,
        [outcome, unit, time, cohort, *covariates]
        + ([cluster] if cluster else [])
        + ([weights] if weights else []),
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

    # One stable integer sort by (unit code, time) does the duplicate check, the
    # within-unit checks and the final ordering (measured: ~6x faster than pandas
    # duplicated/groupby/sort_values on 2 million rows).
    codes, uniques = pd.factorize(data[unit], sort=True)
    tt = t.round().astype("int64").to_numpy()
    span = int(tt.max() - tt.min()) + 1
    key = codes.astype("int64") * span + (tt - int(tt.min()))
    order = np.argsort(key, kind="stable")
    ks = key[order]
    same = ks[1:] == ks[:-1]
    if same.any():
        i = order[int(np.flatnonzero(same)[0])]
        raise InputError(
            f"{int(same.sum())} duplicate unit-time row(s) in ({unit!r}, {time!r}) "
            f"(first: {unit}={data[unit].iloc[i]!r}, {time}={int(tt[i])})"
        )
    uid = codes[order].astype("int64")
    starts = np.flatnonzero(np.r_[True, uid[1:] != uid[:-1]])
    gs = g.fillna(0.0).to_numpy()[order]
    varies = np.minimum.reduceat(gs, starts) != np.maximum.reduceat(gs, starts)
    if varies.any():
        first_u = uniques[uid[starts[int(np.flatnonzero(varies)[0])]]]
        raise InputError(
            f"cohort column {cohort!r} varies within {int(varies.sum())} unit(s) "
            f"(first: {unit}={first_u!r}); it must be the unit's first treated period"
        )
    df = pd.DataFrame(
        {
            "unit": np.asarray(data[unit].to_numpy())[order],
            "time": tt[order],
            "cohort": gs,
            "y": y.to_numpy()[order],
        }
    )
    for c, s_ in xs.items():
        df[c] = s_.to_numpy()[order]
    if cluster:
        cl = data[cluster]
        if cl.isna().any():
            raise InputError(f"cluster column {cluster!r} has missing values")
        ccodes = pd.factorize(cl)[0][order]
        cvar = np.minimum.reduceat(ccodes, starts) != np.maximum.reduceat(ccodes, starts)
        if cvar.any():
            raise InputError(
                f"cluster column {cluster!r} varies within {int(cvar.sum())} unit(s); "
                "clusters must nest units"
            )
        df[cluster] = cl.to_numpy()[order]
    if weights:
        if weights in (outcome, unit, time, cohort):
            role = _role(weights, outcome, unit, time, cohort)
            raise InputError(f"weights column {weights!r} is also the {role} column")
        wv = validation.check_weights(data[weights].to_numpy(), weights)[order]
        if weights_unit_level:
            wvar = np.minimum.reduceat(wv, starts) != np.maximum.reduceat(wv, starts)
            if wvar.any():
                first_u = uniques[uid[starts[int(np.flatnonzero(wvar)[0])]]]
                raise InputError(
                    f"weights column {weights!r} varies within {int(wvar.sum())} unit(s) "
                    f"(first: {unit}={first_u!r}); this estimator needs unit-level weights"
                )
        df["_weight"] = wv
        zero = wv == 0
        if zero.any():
            notes.append(f"dropped {int(zero.sum())} row(s) with weight zero")
            df = df.loc[~zero]

    # Rows with a missing outcome or covariate cannot be used; say so.
    miss = np.isnan(df["y"].to_numpy())
    for c in covariates:
        miss |= np.isnan(df[c].to_numpy())
    if miss.any():
        notes.append(f"dropped {int(miss.sum())} row(s) with a missing outcome or covariate")
        df = df.loc[~miss]
    if df.empty:
        raise InputError("no rows left after dropping rows with missing values")

    tmin = int(df["time"].min())
    early = (df["cohort"] > 0) & (df["cohort"] <= tmin)
    if early.any():
        n_u = df.loc[early, "unit"].nunique()
        which = _cohort_list(df.loc[early, "cohort"].to_numpy())
        if keep_always_treated:
            notes.append(
                f"kept {n_u} unit(s) treated at or before the first period {tmin} "
                f"(cohort(s) {which}; always treated in the sample)"
            )
        else:
            notes.append(
                f"dropped {n_u} unit(s) treated at or before the first period {tmin} "
                f"(cohort(s) {which}; no untreated pre-period)"
            )
            df = df.loc[~early]
    tmax = int(df["time"].max())
    late = df["cohort"] > tmax
    if late.any():
        # Treated only after the sample ends: they are untreated throughout.
        n_u = df.loc[late, "unit"].nunique()
        which = _cohort_list(df.loc[late, "cohort"].to_numpy())
        notes.append(
            f"{n_u} unit(s) first treated after the last period {tmax} (cohort(s) {which}) "
            "are coded never treated"
        )
        df.loc[late, "cohort"] = 0.0

    gcol = df["cohort"].to_numpy()
    cohorts = np.unique(gcol[gcol > 0])
    if cohorts.size == 0:
        raise InputError("no treated units: every unit has cohort 0 (never treated)")
    has_never = bool((gcol == 0).any())
    if require_never_treated and not has_never:
        raise InputError("no never-treated units (cohort 0) to serve as the comparison group")
    if require_comparison and not has_never and cohorts.size < 2:
        raise InputError(
            "no untreated comparison: all units are treated at the same time and none is never treated"
        )

    # rows are already in (unit, time) order; re-code units densely after drops
    if len(df) == len(uid):
        ucodes, n_units = uid, len(uniques)
    else:
        ucodes, kept_units = pd.factorize(df["unit"], sort=False)
        n_units = len(kept_units)
    df.insert(1, "uid", np.asarray(ucodes, dtype="int64"))
    df = df.reset_index(drop=True)
    times = np.unique(df["time"].to_numpy())
    balanced = len(df) == n_units * len(times)
    for n in notes:
        warnings.warn(n, UserWarning, stacklevel=3)
    return Panel(
        data=df,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        cluster=cluster,
        times=times,
        cohorts=cohorts,
        n_units=n_units,
        balanced=balanced,
        notes=tuple(notes),
        weights=weights or None,
    )
