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

:func:`estimator_input` is the one prologue of the estimators: it checks the
options they share (``ssc``, ``se``, ``alpha``) and prepares the panel.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import validation
from analysis.design import SEType
from analysis.errors import InputError
from analysis.estimators._docs import fill_doc


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


@fill_doc
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
    {{data}}
    {{columns}}
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
        weights=weights,
        weights_unit_level=weights_unit_level,
        keep_always_treated=keep_always_treated,
        stacklevel=4,
    )
    return arr.to_panel()


@dataclass(frozen=True)
class PanelArrays:
    """The validated panel as numpy arrays, rows sorted by ``(uid, time)``.

    What :func:`prepare_panel` wraps into a :class:`Panel`; estimators with a
    light input path (:mod:`analysis.estimators.cs`) read the arrays directly.
    When the input is already sorted by unit and time and nothing is dropped,
    the row arrays are views of the input columns (no copy); ``cohort`` then
    keeps the input's numeric dtype (0 = never treated, no missing values).
    """

    unit: np.ndarray  # original unit id of every row
    starts: np.ndarray  # first row of each unit (n_units)
    time: np.ndarray  # int64
    cohort: np.ndarray  # numeric, 0 = never treated
    y: np.ndarray  # float64
    x: dict[str, np.ndarray]  # covariates, float64
    cluster_values: np.ndarray | None  # cluster label of every row
    w: np.ndarray | None  # observation weight of every row (float64; zero-weight rows dropped)
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
    weights: str | None = None  # the weights column name (values in ``w``)

    @property
    def n_rows(self) -> int:
        return int(self.y.shape[0])

    def uid(self) -> np.ndarray:
        """Dense unit code (0..n_units-1) of every row."""
        return _uid_from_starts(self.starts, self.n_rows)

    def unit_cohort(self) -> np.ndarray:
        """Cohort of each unit (float64)."""
        return np.asarray(self.cohort[self.starts], dtype=np.float64)

    def to_panel(self) -> Panel:
        """The :class:`Panel` (a standardised DataFrame) of these arrays.

        The frame wraps the arrays without copying them (``copy=False``: no
        consolidation into 2-D blocks), so a sorted input costs only the new
        ``uid`` and ``cohort`` columns; ``cohort`` is always a fresh array (the
        one column an estimator recodes in place). Columns that are views of the
        input are read-only, as pandas' own views are.
        """
        cols: dict[str, np.ndarray] = {
            "unit": self.unit,
            "uid": self.uid(),
            "time": self.time,
            "cohort": np.array(self.cohort, dtype=np.float64),
            "y": self.y,
        }
        for c, v in self.x.items():
            cols[c] = v
        if self.cluster:
            cols[self.cluster] = self.cluster_values
        if self.w is not None:
            cols["_weight"] = self.w
        df = pd.DataFrame(cols, copy=False)
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
            weights=self.weights,
        )


def _uid_from_starts(starts: np.ndarray, n_rows: int) -> np.ndarray:
    return np.repeat(np.arange(starts.size, dtype=np.int64), np.diff(np.r_[starts, n_rows]))


def _sorted_layout(u: pd.Series, tt: np.ndarray) -> np.ndarray | None:
    """Row starts of each unit when the rows are already sorted by a numeric unit
    id and, within unit, strictly by time (so no duplicates); else ``None``.
    Only boolean temporaries: no hashing, no sort, no integer key."""
    if not pd.api.types.is_numeric_dtype(u) or pd.api.types.is_bool_dtype(u):
        return None
    v = u.to_numpy()
    if v.size < 2:
        return np.zeros(min(v.size, 1), dtype=np.int64)
    new = v[1:] > v[:-1]
    ok = new | ((v[1:] == v[:-1]) & (tt[1:] > tt[:-1]))
    if not ok.all():
        return None
    return np.flatnonzero(np.r_[True, new])


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
    weights: str | None = None,
    weights_unit_level: bool = False,
    keep_always_treated: bool = False,
    stacklevel: int = 3,
) -> PanelArrays:
    """Validate a long panel into arrays (see :func:`prepare_panel` for the checks).

    When the unit column is numeric and the rows are already sorted by unit and
    time (the usual layout of a long panel) nothing is hashed, sorted or copied:
    the checks run on the input columns with boolean temporaries only. Otherwise
    the unit column is encoded once (``pd.factorize``) and one integer key
    ``(unit code, time)`` does the duplicate check and the ordering.
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
    raw_t, raw_g = data[time], data[cohort]
    # plain numpy integer columns (not the nullable extension types, which hold NA)
    int_t = isinstance(raw_t.dtype, np.dtype) and raw_t.dtype.kind in "iu"
    int_g = isinstance(raw_g.dtype, np.dtype) and raw_g.dtype.kind in "iu"
    # integer columns are used as they are (no float copy: nothing to round, no NaN)
    t = None if int_t else _numeric(data, time, "time")
    g = None if int_g else _numeric(data, cohort, "cohort")
    xs = {c: _numeric(data, c, "covariate") for c in covariates}

    if data[unit].isna().any():
        raise InputError(
            f"unit column {unit!r} has {int(data[unit].isna().sum())} missing value(s)"
        )
    if t is not None:
        if t.isna().any():
            raise InputError(f"time column {time!r} has {int(t.isna().sum())} missing value(s)")
        if not _whole(raw_t, t):
            raise InputError(f"time column {time!r} must hold whole numbers (e.g. years)")
    gv = raw_g.to_numpy() if g is None else g.to_numpy()
    if (gv < 0).any():  # NaN compares False
        raise InputError(f"cohort column {cohort!r} has negative values; use 0 for never treated")
    if g is not None and not _whole(raw_g, g):
        raise InputError(f"cohort column {cohort!r} must hold whole numbers (first treated period)")

    tt = (
        raw_t.to_numpy().astype(np.int64, copy=False)
        if int_t
        else t.round().astype("int64").to_numpy()
    )
    starts = _sorted_layout(data[unit], tt)
    order = None
    if starts is None:
        codes, uniques = pd.factorize(data[unit], sort=True)
        t0 = int(tt.min())
        span = int(tt.max()) - t0 + 1
        key = codes.astype(np.int64) * span
        key += tt
        key -= t0
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
        uc = codes[order]
        starts = np.flatnonzero(np.r_[True, uc[1:] != uc[:-1]])
        del uc, codes
        uniques = np.asarray(uniques)
    else:
        uniques = None

    def rows(a: np.ndarray) -> np.ndarray:
        return a if order is None else a[order]

    gs = rows(gv if g is None else g.fillna(0.0).to_numpy())
    unit_rows = rows(np.asarray(data[unit].to_numpy()))
    if uniques is None:
        uniques = unit_rows[starts]
    varies = np.minimum.reduceat(gs, starts) != np.maximum.reduceat(gs, starts)
    if varies.any():
        first_u = uniques[int(np.flatnonzero(varies)[0])]
        raise InputError(
            f"cohort column {cohort!r} varies within {int(varies.sum())} unit(s) "
            f"(first: {unit}={first_u!r}); it must be the unit's first treated period"
        )
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
    w_rows = None
    keep = None
    if weights:
        if weights in (outcome, unit, time, cohort):
            role = _role(weights, outcome, unit, time, cohort)
            raise InputError(f"weights column {weights!r} is also the {role} column")
        w_rows = rows(validation.check_weights(data[weights].to_numpy(), weights))
        if weights_unit_level:
            wvar = np.minimum.reduceat(w_rows, starts) != np.maximum.reduceat(w_rows, starts)
            if wvar.any():
                first_u = uniques[int(np.flatnonzero(wvar)[0])]
                raise InputError(
                    f"weights column {weights!r} varies within {int(wvar.sum())} unit(s) "
                    f"(first: {unit}={first_u!r}); this estimator needs unit-level weights"
                )
        zero = w_rows == 0
        if zero.any():
            notes.append(f"dropped {int(zero.sum())} row(s) with weight zero")
            keep = ~zero
        del zero

    # Rows with a missing outcome or covariate cannot be used; say so.
    miss = np.isnan(yv)
    for c in covariates:
        miss |= np.isnan(xv[c])
    if keep is not None:
        miss &= keep  # rows already dropped for weight zero are not counted again
    if miss.any():
        notes.append(f"dropped {int(miss.sum())} row(s) with a missing outcome or covariate")
        keep = ~miss if keep is None else keep & ~miss
    if keep is not None and not keep.any():
        raise InputError("no rows left after dropping rows with missing values")
    del miss

    n_rows = yv.shape[0]
    g_unit = gs[starts]
    if keep is None:
        tmin, tmax0 = int(tt.min()), int(tt.max())
    else:
        tmin = int(tt[keep].min())
    # cohort is constant within unit: the unit-level checks decide the row drops
    early_u = (g_unit > 0) & (g_unit <= tmin)
    if keep is not None:
        early_u &= np.add.reduceat(keep, starts) > 0
    if early_u.any():
        which = _cohort_list(g_unit[early_u])
        if keep_always_treated:
            notes.append(
                f"kept {int(early_u.sum())} unit(s) treated at or before the first period {tmin} "
                f"(cohort(s) {which}; always treated in the sample)"
            )
        else:
            notes.append(
                f"dropped {int(early_u.sum())} unit(s) treated at or before the first period "
                f"{tmin} (cohort(s) {which}; no untreated pre-period)"
            )
            drop = np.repeat(early_u, np.diff(np.r_[starts, n_rows]))
            keep = ~drop if keep is None else keep & ~drop
            del drop
    tmax = tmax0 if keep is None else int(tt[keep].max())
    late_u = g_unit > tmax
    if keep is not None:
        late_u &= np.add.reduceat(keep, starts) > 0
    if late_u.any():
        # Treated only after the sample ends: they are untreated throughout.
        notes.append(
            f"{int(late_u.sum())} unit(s) first treated after the last period {tmax} "
            f"(cohort(s) {_cohort_list(g_unit[late_u])}) are coded never treated"
        )
        gs = np.where(gs > tmax, 0.0, gs)

    n_units = starts.size
    if keep is not None:
        uid = _uid_from_starts(starts, n_rows)[keep]
        unit_rows, tt, gs, yv = unit_rows[keep], tt[keep], gs[keep], yv[keep]
        xv = {c: v[keep] for c, v in xv.items()}
        if cl_rows is not None:
            cl_rows = cl_rows[keep]
        if w_rows is not None:
            w_rows = w_rows[keep]
        starts = np.flatnonzero(np.r_[True, uid[1:] != uid[:-1]]) if uid.size else uid[:0]
        n_units = starts.size
        del uid
        n_rows = yv.shape[0]
    g_unit = np.asarray(gs[starts], dtype=np.float64)

    cohorts = np.unique(g_unit[g_unit > 0])
    if cohorts.size == 0:
        raise InputError("no treated units: every unit has cohort 0 (never treated)")
    has_never = bool((g_unit == 0).any())
    if require_never_treated and not has_never:
        raise InputError("no never-treated units (cohort 0) to serve as the comparison group")
    if require_comparison and not has_never and cohorts.size < 2:
        raise InputError(
            "no untreated comparison: all units are treated at the same time and none is never treated"
        )
    # periods: those of the first unit when every unit has exactly them (balanced)
    times = np.unique(tt[: (starts[1] if n_units > 1 else n_rows)])
    n_t = times.size
    balanced = n_rows == n_units * n_t and bool((tt.reshape(n_units, n_t) == times[None, :]).all())
    if not balanced:
        times = np.unique(tt)
        balanced = n_rows == n_units * times.size
    for n in notes:
        warnings.warn(n, UserWarning, stacklevel=stacklevel)
    return PanelArrays(
        unit=unit_rows,
        starts=starts,
        time=tt,
        cohort=gs,
        y=yv,
        x=xv,
        cluster_values=cl_rows,
        w=w_rows,
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
        weights=weights or None,
    )


#: The ``ssc`` vocabulary of the fixed-effects regressions (:mod:`.twfe`, :mod:`.event`,
#: :mod:`.sa`); :mod:`.etwfe` accepts :data:`analysis.design.SSCName`.
PANEL_SSC: tuple[str, ...] = ("fixest", "linearmodels")


@dataclass(frozen=True)
class EstimatorInput:
    """What :func:`estimator_input` hands an estimator: the prepared panel, its
    arrays and the checked significance level."""

    panel: Panel
    arrays: PanelArrays
    alpha: float


def estimator_input(
    data: pd.DataFrame,
    *,
    alpha: float,
    ssc: str | None = None,
    ssc_names: Sequence[str] = PANEL_SSC,
    se: str | None = None,
    **panel_options,
) -> EstimatorInput:
    """The one prologue of the panel estimators: the common options, then the panel.

    Checks, in this order, ``ssc`` against ``ssc_names`` and ``se`` against
    :data:`analysis.design.SEType` (each only when the estimator has the
    option, i.e. it is not ``None``) and ``alpha``
    (:func:`analysis.validation.check_alpha`), then validates the panel with
    :func:`panel_arrays` (the checks and notes of :func:`prepare_panel`). An
    estimator checks its own options before calling this, so that every
    option error comes before any work on the data.

    Parameters
    ----------
    data
        Long panel, one row per unit and period.
    alpha
        Significance level.
    ssc, ssc_names
        The estimator's small-sample convention and its vocabulary.
    se
        The estimator's standard-error type.
    **panel_options
        The keyword arguments of :func:`prepare_panel` (``outcome``, ``unit``,
        ``time``, ``cohort``, ``covariates``, ``cluster``, ``weights``, ...).

    Returns
    -------
    EstimatorInput
        The :class:`Panel`, the :class:`PanelArrays` it wraps and ``alpha``.
        The notes of the panel are issued as ``UserWarning`` at the caller of
        the estimator.
    """
    if ssc is not None:
        validation.check_option("ssc", ssc, ssc_names)
    if se is not None:
        validation.check_option("se", se, SEType)
    alpha = validation.check_alpha(alpha)
    arrays = panel_arrays(data, stacklevel=4, **panel_options)
    return EstimatorInput(panel=arrays.to_panel(), arrays=arrays, alpha=alpha)
