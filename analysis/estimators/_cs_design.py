r"""Panel preparation of :func:`analysis.estimators.cs.callaway_santanna`.

The validated long panel becomes wide ``unit x period`` arrays (balanced
panels) or row arrays (unbalanced panels, ``panel_handling="unbalanced"``), with
the drops and recodings R ``did`` makes, each recorded as a note. The light
path for the common case (:func:`_wide_design`: balanced, never-treated units,
no anticipation; no data frame built) and the general path end in the same
builder, :func:`_wide_from_arrays`. Split from
:mod:`analysis.estimators.cs` to keep each module readable; see that module's
docstring for the model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.estimators._panel import PanelArrays, panel_arrays
from analysis.inference.vcov import Clusters


# --------------------------------------------------------------------------- design
@dataclass
class _Long:
    """Row-level arrays of an unbalanced panel (one entry per observed unit-period)."""

    unit: np.ndarray  # unit code 0..n-1
    period: np.ndarray  # period index into ``times``
    y: np.ndarray
    x: np.ndarray | None  # rows x k design (intercept first) or None


@dataclass
class _Design:
    """Wide (unit x period) arrays of a balanced panel, or rows of an unbalanced one."""

    y: np.ndarray | None  # n x T (None for an unbalanced panel)
    x: np.ndarray | None  # n x T x k (time-varying) or None
    x_static: np.ndarray | None  # n x k when the covariates are time-invariant
    g: np.ndarray  # n, cohort (0 = never treated)
    times: np.ndarray  # T
    glist: np.ndarray  # treated cohorts for which ATT(g,t) are estimated
    clusters: Clusters | None
    units: np.ndarray  # original unit ids, length n
    notes: list[str] = field(default_factory=list)
    n_dropped_unbalanced: int = 0
    long: _Long | None = None
    w: np.ndarray | None = None  # unit sampling weights (None = unweighted)
    panel: object = None  # the validated panel (prepare_panel), for DiDResult.design

    @property
    def n(self) -> int:
        return int(self.g.shape[0])

    @property
    def n_obs(self) -> int:
        if self.long is not None:
            return int(self.long.y.shape[0])
        return self.n * int(self.times.size)

    def covariates_at(self, j: int) -> np.ndarray | None:
        """Design matrix (intercept + covariates) of all units at period index j."""
        if self.x_static is not None:
            return self.x_static
        if self.x is None:
            return None
        return self.x[:, j, :]


def _warn(notes: list[str], msg: str, stacklevel: int = 3) -> None:
    """Record a sample/estimation note and emit it as a UserWarning (never silent).

    ``stacklevel`` 3 points at the caller of :func:`callaway_santanna` when
    ``_warn`` is called from it directly; helpers one level deeper pass 4.
    """
    notes.append(msg)
    warnings.warn(msg, UserWarning, stacklevel=stacklevel)


def _build_design(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: tuple[str, ...],
    cluster: str | None,
    control: str,
    anticipation: int,
    panel_handling: str = "balance",
    weights: str | None = None,
) -> _Design:
    """Validate the long panel and build the :class:`_Design` of the estimator.

    Parameters
    ----------
    data
        Long panel, one row per unit and period.
    outcome, unit, time, cohort, covariates, cluster, weights
        Column names (``cluster=None``: units are the clusters; ``weights=None``:
        unweighted).
    control, anticipation, panel_handling
        The options of :func:`~analysis.estimators.cs.callaway_santanna` that
        decide which units and periods are kept.

    Returns
    -------
    _Design
        Wide arrays of a balanced panel (units not observed in every period
        dropped, with a note) or, with ``panel_handling="unbalanced"`` and an
        unbalanced panel, the observed rows (:func:`_long_design`).

    Raises
    ------
    InputError
        Invalid data (:func:`~analysis.estimators._panel.panel_arrays`) or no
        estimable cohort, period or comparison unit after the restrictions.
    """
    arr = panel_arrays(
        data,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        cluster=cluster,
        require_never_treated=(control == "never"),
        weights=weights,
        weights_unit_level=True,
        stacklevel=4,
    )
    if arr.balanced and anticipation == 0 and bool((arr.unit_cohort() == 0).any()):
        # the common case: nothing below would drop or recode a row
        return _wide_design(arr, covariates, cluster)
    panel = arr.to_panel()
    notes: list[str] = list(panel.notes)
    df = panel.data
    tmin, tmax = int(df["time"].min()), int(df["time"].max())

    if anticipation > 0:
        # prepare_panel codes cohorts after the last period as never treated; R keeps
        # cohorts in (tmax, tmax + anticipation] as treated (they anticipate in-sample).
        late = df["cohort"] == 0
        if late.any():
            orig = pd.to_numeric(data[cohort], errors="coerce")
            by_unit = pd.Series(orig.to_numpy(), index=data[unit].to_numpy())
            by_unit = by_unit[~by_unit.index.duplicated()]
            g0 = df.loc[late, "unit"].map(by_unit)
            restore = g0.notna() & (g0 > tmax) & (g0 <= tmax + anticipation)
            if restore.any():
                idx = g0.index[restore]
                df.loc[idx, "cohort"] = g0[restore].astype(float)
                _warn(
                    notes,
                    f"{df.loc[idx, 'unit'].nunique()} unit(s) first treated within "
                    f"{anticipation} period(s) after the sample end are kept as a treated "
                    "cohort (anticipation)",
                    stacklevel=4,
                )
        early = (df["cohort"] > 0) & (df["cohort"] <= tmin + anticipation)
        if early.any():
            n_u = df.loc[early, "unit"].nunique()
            _warn(
                notes,
                f"dropped {n_u} unit(s) treated at or before the first period plus "
                f"anticipation ({tmin} + {anticipation})",
                stacklevel=4,
            )
            df = df.loc[~early]

    has_never = bool((df["cohort"] == 0).any())
    latest_only_control = None
    if not has_never:
        # control == "notyet" (prepare_panel already refused "never").
        latest = float(df.loc[df["cohort"] > 0, "cohort"].max())
        cutoff = latest - anticipation
        keep = df["time"] < cutoff
        _warn(
            notes,
            f"no never-treated units: periods from {int(cutoff)} on are dropped and cohort "
            f"{int(latest)} serves only as a not-yet-treated comparison group",
            stacklevel=4,
        )
        df = df.loc[keep]
        latest_only_control = latest
        if df.empty:
            raise InputError("no periods left before the last cohort is treated")

    cohorts = np.sort(df.loc[df["cohort"] > 0, "cohort"].unique())
    times = np.sort(df["time"].unique())
    if times.size < 2:
        raise InputError("at least two time periods are needed")
    first = times[0]
    glist = cohorts[cohorts > first + anticipation]
    if latest_only_control is not None:
        glist = glist[glist < latest_only_control]
    if glist.size == 0:
        raise InputError("no treated cohort with an untreated pre-period to estimate ATT(g,t)")

    # Balance: drop units not observed in every period (R did's default).
    n_t = times.size
    uid = df["uid"].to_numpy()
    counts = np.bincount(uid)
    present = counts > 0
    incomplete = present & (counts < n_t)
    n_drop = int(incomplete.sum())
    if n_drop and panel_handling == "unbalanced":
        long_design = _long_design(df, times, glist, covariates, cluster, notes, n_drop, weights)
        long_design.panel = panel
        return long_design
    if n_drop:
        _warn(
            notes,
            f"dropped {n_drop} unit(s) not observed in all {n_t} periods "
            "(balanced panel required, as in R did)",
            stacklevel=4,
        )
        df = df.loc[~incomplete[uid]]
        if df.empty:
            raise InputError("no units left after balancing the panel")
    # prepare_panel returns rows sorted by (uid, time); row filters keep that order.
    n = len(df) // n_t
    if n * n_t != len(df):  # pragma: no cover - guarded by the balancing above
        raise InputError("panel could not be balanced")
    time_vals = df["time"].to_numpy().reshape(n, n_t)
    if not (time_vals == times[None, :]).all():  # pragma: no cover - defensive
        raise InputError("panel periods are not aligned after balancing")

    y = df["y"].to_numpy(dtype=np.float64).reshape(n, n_t)
    g = df["cohort"].to_numpy(dtype=np.float64)[::n_t]
    units = df["unit"].to_numpy()[::n_t]
    for c in glist:
        if not (g == c).any():  # pragma: no cover - defensive
            raise InputError(f"cohort {c} has no units after balancing")
    if not ((g == 0) | (g > glist.min())).any():  # no possible comparison unit
        raise InputError("no untreated comparison units after sample restrictions")

    return _wide_from_arrays(
        y=y,
        g=g,
        units=units,
        times=times,
        glist=glist,
        xs=(
            df[list(covariates)].to_numpy(dtype=np.float64).reshape(n, n_t, len(covariates))
            if covariates
            else None
        ),
        cluster=cluster,
        cluster_labels=df[cluster].to_numpy()[::n_t] if cluster else None,
        notes=notes,
        n_dropped_unbalanced=n_drop,
        w=df["_weight"].to_numpy(dtype=np.float64)[::n_t] if weights else None,
        panel=panel,
    )


def _wide_design(arr: PanelArrays, covariates: tuple[str, ...], cluster: str | None) -> _Design:
    """Balanced panel with never-treated units and no anticipation, from the arrays
    of :func:`~analysis.estimators._panel.panel_arrays` (rows sorted by unit and
    period): the outcome matrix is a reshape (a view when the input was sorted),
    no data frame is built. The same design as the general path of
    :func:`_build_design` would return for such a panel."""
    times = arr.times
    n_t = times.size
    if n_t < 2:
        raise InputError("at least two time periods are needed")
    glist = arr.cohorts[arr.cohorts > times[0]]
    if glist.size == 0:
        raise InputError("no treated cohort with an untreated pre-period to estimate ATT(g,t)")
    n = arr.n_units
    return _wide_from_arrays(
        y=np.asarray(arr.y, dtype=np.float64).reshape(n, n_t),
        g=arr.unit_cohort(),
        units=np.asarray(arr.unit[::n_t]),
        times=times,
        glist=glist,
        xs=(
            np.stack([arr.x[c] for c in covariates], axis=-1).reshape(n, n_t, len(covariates))
            if covariates
            else None
        ),
        cluster=cluster,
        cluster_labels=arr.cluster_values[::n_t] if cluster else None,
        notes=list(arr.notes),
        n_dropped_unbalanced=0,
        # unit-level weights (checked by panel_arrays): each unit's first row
        w=None if arr.w is None else np.asarray(arr.w[::n_t], dtype=np.float64),
        panel=arr.to_panel(),  # the frame wraps the arrays (no copy of the input)
    )


def _wide_from_arrays(
    *,
    y: np.ndarray,
    g: np.ndarray,
    units: np.ndarray,
    times: np.ndarray,
    glist: np.ndarray,
    xs: np.ndarray | None,
    cluster: str | None,
    cluster_labels: np.ndarray | None,
    notes: list[str],
    n_dropped_unbalanced: int,
    w: np.ndarray | None,
    panel: object,
) -> _Design:
    """The balanced :class:`_Design` from unit x period arrays (both wide paths).

    Parameters
    ----------
    y
        ``n x T`` outcome matrix.
    g, units
        Cohort (0 = never treated) and original id of each unit.
    times, glist
        Sorted periods and the treated cohorts whose ATT(g,t) are estimated.
    xs
        ``n x T x p`` covariates (``None`` without covariates). An intercept is
        prepended; time-invariant covariates are stored once (``x_static``).
    cluster, cluster_labels
        Cluster column name and each unit's label (``None`` = units are clusters).
    notes, n_dropped_unbalanced, w, panel
        Stored on the design as they are.

    Raises
    ------
    InputError
        Rank-deficient covariates (with the intercept) or fewer than two clusters.
    """
    n, n_t = y.shape
    x = x_static = None
    if xs is not None:
        xfull = np.concatenate([np.ones((n, n_t, 1)), xs], axis=2)
        if np.all(xs == xs[:, :1, :]):
            x_static = np.ascontiguousarray(xfull[:, 0, :])
        else:
            x = xfull
        _check_full_rank(x_static if x_static is not None else xfull[:, 0, :])
    return _Design(
        panel=panel,
        y=y,
        x=x,
        x_static=x_static,
        g=g,
        times=times.astype(np.int64),
        glist=glist.astype(np.float64),
        clusters=None if cluster_labels is None else _unit_clusters(cluster_labels, cluster),
        units=units,
        notes=notes,
        n_dropped_unbalanced=n_dropped_unbalanced,
        w=w,
    )


def _check_full_rank(x: np.ndarray) -> None:
    """Refuse a covariate design (intercept first) without full column rank.

    Raises
    ------
    InputError
        When ``x`` is rank deficient (collinear or constant covariates).
    """
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise InputError(
            "covariates are collinear or constant (the design with an intercept is rank deficient)"
        )


def _unit_clusters(labels: np.ndarray, cluster: str | None) -> Clusters:
    """:class:`~analysis.inference.vcov.Clusters` of one label per unit.

    Raises
    ------
    InputError
        When the column ``cluster`` has fewer than two distinct labels.
    """
    clusters = Clusters.from_labels(labels)
    if clusters.n_clusters < 2:
        raise InputError(f"cluster column {cluster!r} has fewer than 2 clusters")
    return clusters


def _long_design(
    df: pd.DataFrame,
    times: np.ndarray,
    glist: np.ndarray,
    covariates: tuple[str, ...],
    cluster: str | None,
    notes: list[str],
    n_incomplete: int,
    weights: str | None = None,
) -> _Design:
    """Keep every observed row (R ``allow_unbalanced_panel = TRUE``)."""
    _warn(
        notes,
        f"unbalanced panel: {n_incomplete} unit(s) are not observed in every period; kept "
        "(panel_handling='unbalanced': repeated-cross-section estimators, influence "
        "functions summed by unit)",
        stacklevel=5,
    )
    codes, uniques = pd.factorize(df["uid"], sort=True)
    first = ~pd.Series(codes).duplicated().to_numpy()
    g = df["cohort"].to_numpy(dtype=np.float64)[first]
    units = df["unit"].to_numpy()[first]
    if not ((g == 0) | (g > glist.min())).any():
        raise InputError("no untreated comparison units after sample restrictions")
    period = np.searchsorted(times, df["time"].to_numpy())
    x = None
    if covariates:
        xs = df[list(covariates)].to_numpy(dtype=np.float64)
        x = np.column_stack([np.ones(len(df)), xs])
        _check_full_rank(x)
    clusters = _unit_clusters(df[cluster].to_numpy()[first], cluster) if cluster else None
    return _Design(
        y=None,
        x=None,
        x_static=None,
        g=g,
        times=times.astype(np.int64),
        glist=glist.astype(np.float64),
        clusters=clusters,
        units=units,
        notes=notes,
        n_dropped_unbalanced=0,
        long=_Long(
            unit=codes.astype(np.int64),
            period=period.astype(np.int64),
            y=df["y"].to_numpy(dtype=np.float64),
            x=x,
        ),
        w=df["_weight"].to_numpy(dtype=np.float64)[first] if weights else None,
    )
