"""Dynamic TWFE event study with relative-time dummies.

Model
-----

.. math::

    y_{it} = \\alpha_i + \\lambda_t
           + \\sum_{e \\in W \\setminus \\{r\\}} \\beta_e \\, 1\\{b(t - g_i) = e\\}
           + x_{it}'\\gamma + \\varepsilon_{it},

with window :math:`W = \\{\\underline e, \\dots, \\bar e\\}`, reference period
:math:`r` (default :math:`-1`) omitted, and never-treated units having every
dummy equal to zero. With ``bin_endpoints=True`` (default)
:math:`b(e) = \\min(\\max(e, \\underline e), \\bar e)`: every lead/lag beyond the
window is pooled into the end bins, so each treated observation except the
reference period carries a dummy. With ``bin_width > 1``, :math:`b` further maps
each event time to its bin and :math:`e` runs over the bin labels (section
*Bins of event time* below).

``bin_endpoints=False`` and ``never_only=False``
    observations outside the window keep all dummies at zero (fixest's
    ``i(rel, keep = window)``): they silently join the comparison group, which
    is only harmless if effects outside the window are zero.
``never_only=True``
    the comparison group is restricted to never-treated units: treated units'
    observations outside the window are dropped (with ``bin_endpoints=False``)
    and never-treated units are required. With binned end-points no treated
    observation is outside the window, so only the requirement changes.

Bins of event time (``bin_width``)
----------------------------------
With ``bin_width = w > 1`` the event times are grouped into bins of ``w``
consecutive periods, one coefficient per bin (the effect is assumed constant
within a bin). The bins are anchored at the treatment onset and at the
reference period, so that no bin mixes pre- and post-treatment periods and the
reference period :math:`r` is always a bin of its own:

* post-treatment: :math:`\\{0,\\dots,w-1\\}, \\{w,\\dots,2w-1\\}, \\dots`;
* leads below the reference: :math:`\\{r-1,\\dots,r-w\\}, \\{r-w-1,\\dots\\}, \\dots`;
* leads between the reference and the onset (only when :math:`r < -1`):
  :math:`\\{-1,\\dots,-w\\}, \\dots`, stopping at :math:`r+1`.

Each bin is labelled (the ``event`` of ``dynamic``) by its member closest to the
onset: with :math:`r=-1, w=2` the labels are :math:`\\dots,-4,-2,0,2,4,\\dots`
for :math:`\\{-4,-5\\}, \\{-2,-3\\}, \\{0,1\\}, \\{2,3\\}, \\{4,5\\}`. Binning is
applied after the window: with binned end-points the first and last bins also
pool every lead/lag beyond the window (they may be narrower than ``w`` inside
the window when the window is not a multiple of ``w``); without, observations
outside the window keep zero dummies as above. ``info["event_bins"]`` lists
the members of every bin.

Other conventions. fixest's ``i(rel, bin = "bin::w")`` (and ``sunab(...,
bin.rel = "bin::w")``) groups :math:`\\lfloor e/w \\rfloor w` -- bins anchored at
event time 0 and labelled by their lowest member: identical to ours for
:math:`e \\ge 0`, but for :math:`w=2` it puts :math:`-1` with :math:`-2` (so the
reference is no longer its own bin) where we keep :math:`\\{-1\\}` alone and
group :math:`\\{-2,-3\\}`. Stata's ``eventdd`` (``accum``) and ``xtevent`` pool
only the end-points; we know of no Stata command that bins interior event
times by width.

Always-treated units (``always_treated``)
-----------------------------------------
Units treated at or before the first observed period have no untreated
period. ``"drop"`` (default, as R ``did`` and fixest's ``sunab``) drops them
with a note. ``"include"`` keeps them; all their observations are post-treatment
and, with binned end-points, fall in the lag bins (for units treated long
before the sample, the last bin only, which the unit effect then absorbs): they
identify the time effects under the assumption that the effect in those bins
is constant over calendar time -- Goodman-Bacon's (2021) "already treated"
comparisons. Without binned end-points their observations beyond the window
would carry no dummy and act as untreated controls, so ``"include"`` requires
``bin_endpoints=True`` (``InputError`` otherwise).

Without never-treated units and with every relative period dummied, the
event-time profile is identified only up to a linear trend (Borusyak, Jaravel
& Spiess 2024, Sec. 3); the most distant lead is then dropped as a second
reference period and a note says so.

Summaries
---------
``dynamic``
    the :math:`\\hat\\beta_e`, :math:`e \\ne r` (the reference period is
    *omitted* from the frame: it is zero by construction).
``simple``
    the equally weighted average of the post-period coefficients
    :math:`\\frac{1}{\\bar e + 1}\\sum_{e=0}^{\\bar e}\\hat\\beta_e` (end bin
    included), with its delta-method SE. This is a summary of the TWFE event
    study, not an ATT with known weights; under heterogeneous effects use
    :func:`~analysis.estimators.sa.sun_abraham`, :func:`~analysis.estimators.bjs.bjs_imputation`
    or :func:`~analysis.estimators.gardner.gardner`.
``pretest``
    joint Wald test that all lead coefficients are zero (chi-square with the
    number of identified leads as df; ``f_stat = W/df`` is compared with
    :math:`F(df, G-1)`).

Standard errors are clustered (unit by default) with the ``ssc`` conventions of
:func:`~analysis.estimators.twfe.twfe`; ``se`` and ``weights`` are those of
:func:`~analysis.estimators.twfe.twfe` (``iid``, ``hc1``, ``cr1``, ``cr2``;
analytic weights), and the ``dynamic`` covariance handed to HonestDiD is the
chosen one. The unit effects are absorbed exactly
(:mod:`analysis.estimators._fe`), so no dense dummy matrix is built.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from analysis.design import SEType, se_label
from analysis.errors import InputError
from analysis.estimators import _fe
from analysis.estimators._docs import fill_doc
from analysis.estimators._panel import estimator_input, note
from analysis.results import Aggregate, DiDResult, EstimationDesign
from analysis.validation import check_int, check_option, comparison_group

__all__ = ["AlwaysTreated", "event_bins", "event_study"]

#: What to do with units treated at or before the first period (module docstring).
AlwaysTreated = Literal["drop", "include"]


@fill_doc
def event_study(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    window: tuple[int, int] = (-5, 5),
    bin_endpoints: bool = True,
    ref_period: int = -1,
    bin_width: int = 1,
    always_treated: AlwaysTreated = "drop",
    never_only: bool | None = None,
    ssc: Literal["fixest", "linearmodels"] = "fixest",
    control: Literal["never", "notyet"] | None = None,
    alpha: float = 0.05,
    data_layer: str | None = None,
    se: SEType = "cr1",
    weights: str | None = None,
) -> DiDResult:
    """Dynamic TWFE event study (relative-time dummies, binned end-points).

    Parameters
    ----------
    {{data}}
    {{columns}}
    covariates
        Time-varying controls entered linearly.
    {{cluster}}
    window
        ``(lo, hi)`` event times with ``lo <= -1`` and ``hi >= 0``.
    bin_endpoints
        Pool leads/lags beyond the window into the end bins (module docstring).
    ref_period
        Omitted event time, inside the window and negative.
    bin_width
        Width of the event-time bins (default 1: one dummy per event time);
        bins anchored at the onset and the reference (module docstring).
    always_treated
        ``"drop"`` (default) or ``"include"`` units treated at or before the
        first period; ``"include"`` needs ``bin_endpoints=True``.
    control
        Comparison group (the package's one vocabulary): ``"notyet"`` (default:
        never-treated and not-yet-treated observations, implicitly) or
        ``"never"`` (never-treated units only; module docstring).
    never_only
        Deprecated spelling: ``True`` is ``control="never"``, ``False`` is
        ``control="notyet"``.
    {{ssc}}
    {{alpha}}
    {{data_layer}}
    {{se}}
    weights
        Column of analytic observation weights (fixest ``weights=``): weighted
        least squares.

    Returns
    -------
    DiDResult
        ``dynamic`` (event, att, se; reference omitted), ``simple`` (average of
        post coefficients), ``coefficients`` (event dummies and covariates) and
        ``pretest`` (joint Wald test of the leads).
    """
    if never_only is not None:
        _fe.check_choice("never_only", never_only, (True, False))
        old = "never" if never_only else "notyet"
        warnings.warn(
            f"never_only={bool(never_only)} is deprecated; use control={old!r}",
            DeprecationWarning,
            stacklevel=2,
        )
        if control is not None and control != old:
            raise InputError(f"never_only={never_only!r} contradicts control={control!r}")
        control = old
    control = comparison_group(control, ("never", "notyet"), default="notyet")
    never_only = control == "never"
    width = check_int("bin_width", bin_width, 1)
    check_option("always_treated", always_treated, AlwaysTreated)
    if always_treated == "include" and bin_endpoints is not True:
        raise InputError(
            "always_treated='include' needs bin_endpoints=True: without binned end-points "
            "the always-treated units' lags beyond the window are not identified"
        )
    _fe.check_choice("bin_endpoints", bin_endpoints, (True, False))
    lo, hi = _fe.check_window(window)
    try:
        ref = int(ref_period)
    except (TypeError, ValueError):
        raise InputError(f"ref_period must be an integer, not {ref_period!r}") from None
    if ref != ref_period or not (lo <= ref <= -1):
        raise InputError(f"ref_period must be a negative event time inside the window {window!r}")
    inp = estimator_input(
        data,
        alpha=alpha,
        ssc=ssc,
        se=se,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        cluster=cluster,
        require_never_treated=bool(never_only),
        weights=weights,
        keep_always_treated=always_treated == "include",
    )
    panel, alpha, se_kind = inp.panel, inp.alpha, se

    codes = _fe.panel_codes(panel)
    notes = list(panel.notes)
    covs, cov_notes = _fe.usable_covariates(panel, codes.uid, codes.n_units)
    notes += cov_notes
    d = panel.data
    e = codes.event
    is_tr_unit = codes.cohort > 0
    inside = ~is_tr_unit | ((e >= lo) & (e <= hi))
    rows = np.ones(len(d), dtype=bool)
    if bin_endpoints:
        eb = np.where(is_tr_unit, np.clip(e, lo, hi), np.nan)
    else:
        eb = np.where(is_tr_unit & inside, e, np.nan)
        if never_only:
            rows = inside
            n_drop = int((~inside).sum())
            if n_drop:
                note(
                    notes,
                    f"dropped {n_drop} treated observation(s) outside the window {lo}..{hi}",
                )
    if not rows.all():
        d = d.loc[rows].reset_index(drop=True)
        codes = _fe.panel_codes(_subpanel(panel, d))
        eb = eb[rows]
    eb, bins = event_bins(eb, lo=lo, hi=hi, ref=ref, width=width, pooled=bool(bin_endpoints))
    has_never = bool((codes.cohort == 0).any())

    present = sorted({int(v) for v in np.unique(eb[np.isfinite(eb)])} - {ref})
    # column order: post (hi..0), then leads nearest first, so that the most
    # distant lead is the one dropped if the profile is not identified
    order = [v for v in present if v >= 0][::-1] + [v for v in present if v < 0][::-1]
    col_of = {v: j for j, v in enumerate(order)}
    ev_codes = _fe.level_codes(eb, order)
    Ev = _fe.indicator_matrix(ev_codes, len(order))
    Td = _fe.time_dummies(codes.tid, codes.n_times)
    S = sp.hstack([Td, Ev]).tocsr()
    X = d[covs].to_numpy(dtype=float) if covs else None
    om = d["_weight"].to_numpy() if weights else None
    fit = _fe.fit_absorbed(d["y"].to_numpy(), codes.uid, codes.n_units, S, X, weights=om)

    nT = Td.shape[1]
    kept = fit.keep
    if not kept[:nT].all():
        note(notes, "some time effects are not identified and were dropped")
    ev_keep = kept[nT : nT + len(order)]
    dropped_ev = [order[j] for j in range(len(order)) if not ev_keep[j]]
    if dropped_ev:
        why = (
            "" if has_never else " (no never-treated units: profile identified only up to a trend)"
        )
        note(
            notes, f"event time(s) {dropped_ev} not identified and dropped as extra reference{why}"
        )
    if not ev_keep.any():
        raise InputError("no event-time coefficient is identified in this panel")

    k = int(kept[nT:].sum())
    V, factor = _fe.codes_vcov(fit, S, X, "cr1" if se == "cr2" else se, codes, ssc=ssc, k=k)
    if se == "cr2":  # Bell-McCaffrey on the kept event dummies and covariates
        Xk = sp.hstack([Ev, sp.csr_matrix(X) if X is not None else None]).toarray()
        Xk = Xk[:, kept[nT:]]
        V = V.copy()
        nk = int(kept[:nT].sum())
        V[nk:, nk:] = _fe.cr2_vcov(d["y"].to_numpy(), Xk, codes, om)
        V[:nk, nk:] = V[nk:, :nk] = np.nan  # time-effect rows are not reported
        factor = 1.0
    kept_idx = np.flatnonzero(kept)
    pos = {j: i for i, j in enumerate(kept_idx)}

    ev_sorted = sorted(v for v in order if v not in dropped_ev)
    cols = [pos[nT + col_of[v]] for v in ev_sorted]
    b = fit.coef[kept][cols]
    Vb = V[np.ix_(cols, cols)]
    se = np.sqrt(np.diag(Vb))
    dyn = pd.DataFrame({"event": ev_sorted, "att": b, "se": se})

    post = np.array([v >= 0 for v in ev_sorted])
    if not post.any():
        raise InputError("no post-treatment event time is identified")
    w = post / post.sum()
    simple_att, simple_se = float(w @ b), float(np.sqrt(w @ Vb @ w))

    leads = ~post
    pretest = None
    if leads.any():
        W, df, p = _fe.wald_test(b[leads], Vb[np.ix_(leads, leads)], notes)
        fstat = W / df if df else float("nan")
        lead_ev = np.array(ev_sorted)[leads]
        pretest = {
            "name": f"joint Wald test of leads = 0 (event {min(lead_ev)}..{max(lead_ev)})",
            "stat": W,
            "df": df,
            "p_value": p,
            "f_stat": fstat,
            "f_p_value": float(stats.f.sf(fstat, df, codes.n_cl - 1)) if df else float("nan"),
        }

    coefs = _fe.coefficient_table(
        [f"event::{v}" for v in ev_sorted], b, se, covs, nT + len(order), fit, V, pos
    )
    info = {
        "estimator": "dynamic TWFE event study (relative-time dummies)",
        "control": "never" if never_only else "never+not-yet (implicit)",
        "est_method": "wls" if weights else "ols",
        "se_type": se_label(se_kind, cluster or unit),
        "se": se_kind,
        "ssc": ssc if se_kind == "cr1" else None,
        "ssc_factor": float(factor),
        "weights": weights,
        "cluster": (cluster or unit) if se_kind in ("cr1", "cr2") else None,
        "n_clusters": int(codes.n_cl),
        "alpha": alpha,
        "reference_period": ref,
        "window": [lo, hi],
        "bin_endpoints": bool(bin_endpoints),
        "bin_width": width,
        "event_bins": {v: bins[v] for v in ev_sorted},
        "always_treated": always_treated,
        "simple_definition": (
            "equal-weight average of post-period event coefficients (0..hi)"
            if width == 1
            else f"equal-weight average of the post-period bin coefficients (bins of {width})"
        ),
        "dynamic_note": "reference period omitted from 'dynamic' (zero by construction)",
        "covariates": covs,
        "data_layer": data_layer or "unspecified",
        "notes": notes,
    }
    return DiDResult(
        design=EstimationDesign(panel=panel, cluster=cluster),
        method="event",
        outcome=outcome,
        n_units=int(np.unique(codes.uid).size),
        n_obs=len(d),
        att_gt=None,
        aggregates={
            "simple": Aggregate("simple", simple_att, simple_se),
            "dynamic": Aggregate("dynamic", simple_att, simple_se, by=dyn, vcov=Vb),
        },
        info=info,
        coefficients=coefs,
        pretest=pretest,
    )


def event_bins(
    e: np.ndarray, *, lo: int, hi: int, ref: int, width: int = 1, pooled: bool = True
) -> tuple[np.ndarray, dict[int, str]]:
    """Bin labels of event times ``e`` (NaN: no dummy) and each bin's members.

    ``e`` holds event times already restricted to the window (``NaN`` outside
    it, or clipped to it when ``pooled``: then the end bins are labelled as
    open, ``"..lo"`` / ``"hi.."``). The bins are those of the module
    docstring: anchored at the onset (post) and at ``ref`` (leads), ``ref``
    alone, each labelled by its member closest to event time 0.

    Returns
    -------
    labels
        Float array like ``e``: the bin label of each observation (``ref`` for
        the reference period, ``NaN`` where ``e`` is ``NaN``).
    members
        ``label -> "a..b"`` (``"a"`` for a single period) for every bin in the window.
    """
    e = np.asarray(e, dtype=float)
    w = int(width)

    def label(v: np.ndarray) -> np.ndarray:
        out = np.full(v.shape, np.nan)
        post = v >= 0
        out[post] = np.floor(v[post] / w) * w
        below = v < ref
        out[below] = (ref - 1) - np.floor(((ref - 1) - v[below]) / w) * w
        mid = (v > ref) & (v < 0)
        out[mid] = -1 - np.floor((-1 - v[mid]) / w) * w
        out[v == ref] = ref
        return out

    grid = np.arange(lo, hi + 1, dtype=float)
    glab = label(grid)
    members: dict[int, str] = {}
    for lab in np.unique(glab):
        m = grid[glab == lab]
        a, b = int(m.min()), int(m.max())
        if pooled and a == lo:
            members[int(lab)] = f"..{b}"
        elif pooled and b == hi:
            members[int(lab)] = f"{a}.."
        else:
            members[int(lab)] = str(a) if a == b else f"{a}..{b}"
    ok = np.isfinite(e)
    out = np.full(e.shape, np.nan)
    out[ok] = label(e[ok])
    return out, members


def _subpanel(panel, d: pd.DataFrame):
    """The same panel restricted to rows ``d`` (codes are rebuilt by the caller)."""
    from dataclasses import replace

    times = np.sort(d["time"].unique())
    uid, _ = pd.factorize(d["uid"], sort=True)
    d = d.assign(uid=uid.astype(np.int64))
    return replace(panel, data=d, times=times, n_units=int(uid.max()) + 1)
