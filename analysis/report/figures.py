"""Figures. Every plot function takes ``ax=`` and returns the figure; none calls
``show()``. Figures are labelled with their data layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt  # no backend is forced here: notebooks show figures inline
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.data.atomic import atomic_path

PALETTE = {"Mountain 26": "#1b7837", "Rest of Zhejiang": "#762a83"}


def _ax(ax):
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        return fig, ax
    return ax.figure, ax


def layer_stamp(ax, layer: str) -> None:
    """Print the data layer in the corner of a panel (real / synthetic)."""
    ax.text(
        0.995,
        0.01,
        f"data: {layer}",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
        color="0.35",
    )


def effects_plot(result, ax=None, aggregation: str = "dynamic", band: bool = True):
    """Point estimates with pointwise intervals and, if available, simultaneous bands."""
    fig, ax = _ax(ax)
    tidy = result.tidy()
    sel = tidy[tidy["aggregation"] == aggregation]
    if sel.empty:
        raise ValueError(f"result has no {aggregation!r} aggregation")
    key = {"dynamic": "event", "group": "cohort", "calendar": "time", "att_gt": "event"}[
        aggregation
    ]
    x = sel[key].to_numpy(dtype=float)
    y = sel["estimate"].to_numpy()
    if band and not np.allclose(sel["band_low"], sel["conf_low"]):
        ax.fill_between(
            x,
            sel["band_low"],
            sel["band_high"],
            color="0.85",
            step=None,
            label="simultaneous band",
            zorder=0,
        )
    ax.errorbar(
        x,
        y,
        yerr=[y - sel["conf_low"], sel["conf_high"] - y],
        fmt="o",
        color="k",
        capsize=3,
        label="estimate, pointwise CI",
    )
    ax.axhline(0, color="0.5", lw=0.8)
    if key == "event":
        ax.axvline(-0.5, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel({"event": "periods since treatment", "cohort": "cohort", "time": "period"}[key])
    ax.set_ylabel(f"effect on {result.outcome}")
    ax.set_title(f"{result.method.upper()}: {aggregation} effects")
    ax.legend(frameon=False, fontsize=8)
    layer_stamp(ax, result.info.get("data_layer") or "unspecified")
    return fig


def group_change_plot(
    units: pd.DataFrame, variable: str, label: str, ax=None, layer: str = "real (census)"
):
    """2010 vs 2020 distribution of a unit-level variable by group (strip + box)."""
    fig, ax = _ax(ax)
    sns.boxplot(
        data=units,
        x="year",
        y=variable,
        hue="group",
        palette=PALETTE,
        ax=ax,
        fliersize=0,
        width=0.6,
        linewidth=0.8,
    )
    # swarmplot, not stripplot: its layout is deterministic (stripplot's jitter
    # draws from numpy's global random state, so the PNG bytes would vary)
    sns.swarmplot(
        data=units,
        x="year",
        y=variable,
        hue="group",
        palette=PALETTE,
        ax=ax,
        dodge=True,
        size=2.5,
        alpha=0.7,
        legend=False,
    )
    ax.set_ylabel(label)
    ax.set_xlabel("census year")
    ax.legend(title=None, frameon=False, fontsize=8, loc="best")
    layer_stamp(ax, layer)
    return fig


def structure_plot(shares: pd.DataFrame, ax=None, layer: str = "real (census long form)"):
    """Stacked bars of employment structure by group and year.

    ``shares``: index = (group, year) labels, columns = sectors, rows sum to 1.
    """
    fig, ax = _ax(ax)
    colors = sns.color_palette("Set2", n_colors=shares.shape[1])
    left = np.zeros(len(shares))
    labels = [f"{g} {y}" for g, y in shares.index]
    for j, col in enumerate(shares.columns):
        vals = shares[col].to_numpy()
        ax.barh(labels, vals, left=left, color=colors[j], label=col, edgecolor="white", lw=0.5)
        left += vals
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of employed (long-form sample)")
    ax.invert_yaxis()
    ax.legend(ncol=3, fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    layer_stamp(ax, layer)
    return fig


def coefficient_plot(
    table: pd.DataFrame, labels: dict[str, str], ax=None, layer: str = "real (census)"
):
    """Standardised effects (beta / s.d. of the change among controls) with 95% intervals.

    ``table`` needs ``outcome``, ``effect_sd``, ``se_hc1``, ``sd_control`` and
    ``p_ri``; intervals are HC1 (conventional); the randomisation p-value is
    printed beside each estimate.
    """
    fig, ax = _ax(ax)
    t = table.reset_index(drop=True)
    yy = np.arange(len(t))[::-1]
    half = 1.959963984540054 * t["se_hc1"] / t["sd_control"]
    if {"wild_ci_low", "wild_ci_high"} <= set(t.columns):
        lo = (t["wild_ci_low"] / t["sd_control"]).to_numpy()
        hi = (t["wild_ci_high"] / t["sd_control"]).to_numpy()
        e = t["effect_sd"].to_numpy()
        ax.errorbar(
            e,
            yy + 0.18,
            xerr=[e - lo, hi - e],
            fmt="none",
            ecolor="#2166ac",
            capsize=2,
            label="wild cluster bootstrap 95% CI (valid with 6 clusters)",
        )
    ax.errorbar(
        t["effect_sd"],
        yy - 0.18,
        xerr=half,
        fmt="none",
        ecolor="0.6",
        capsize=2,
        label="HC1 95% CI (reference only)",
    )
    ax.plot(t["effect_sd"], yy, "o", color="k", label="estimate (beta / s.d.)")
    for yv, (_, r) in zip(yy, t.iterrows(), strict=True):
        ax.text(
            1.02,
            yv,
            f"RI p = {r['p_ri']:.2f}",
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=8,
        )
    ax.axvline(0, color="0.5", lw=0.8)
    span = 1.6 * float(np.nanmax(np.abs(np.r_[t["effect_sd"] - half, t["effect_sd"] + half])))
    ax.set_xlim(-span, span)
    if {"wild_ci_low", "wild_ci_high"} <= set(t.columns):
        # wild intervals wider than the panel are clipped; an arrow marks each clipped end
        for ends, x0, m in ((lo, -span, "<"), (hi, span, ">")):
            cut = np.abs(ends) > span
            ax.plot(np.full(cut.sum(), x0 * 0.985), yy[cut] + 0.18, m, color="#2166ac", ms=5)
    ax.set_yticks(yy)
    ax.set_yticklabels([labels.get(o, o) for o in t["outcome"]], fontsize=8)
    ax.set_xlabel("effect in s.d. of the 2010-2020 change among comparison counties")
    ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    layer_stamp(ax, layer)
    return fig


def save_figure(fig, out_dir: Path, stem: str) -> Path:
    """Save as PNG with fixed DPI and no timestamp metadata (same inputs, same bytes)."""
    path = Path(out_dir) / f"{stem}.png"
    with atomic_path(path, ".png") as tmp:  # the suffix tells matplotlib the format
        fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def sensitivity_plot(result_df, original_ci=None, ax=None, *, layer=None):
    """HonestDiD sensitivity plot: robust intervals against the restriction bound.

    ``result_df`` has columns ``M``, ``lb``, ``ub``, ``method`` (the ``table`` of
    :class:`analysis.inference.honest.HonestResult`; a result object itself is
    accepted too). ``original_ci`` = ``(lb, ub)`` of the conventional interval,
    drawn one grid step to the left of the smallest bound, as in R
    ``createSensitivityPlot``. The x axis is :math:`\\bar M` for C-LF /
    Conditional (relative magnitudes) and :math:`M` for FLCI (smoothness).
    ``layer`` (keyword only) stamps the data layer in the corner.
    """
    if hasattr(result_df, "table"):
        if original_ci is None:
            original_ci = getattr(result_df, "original", None)
        result_df = result_df.table
    df = pd.DataFrame(result_df)
    missing = {"M", "lb", "ub", "method"} - set(df.columns)
    if missing:
        raise ValueError(f"result_df lacks column(s) {sorted(missing)}")
    if df.empty:
        raise ValueError("result_df has no rows")
    df = df.sort_values("M", kind="stable")
    fig, ax = _ax(ax)
    m = df["M"].to_numpy(dtype=float)
    gaps = np.diff(np.unique(m))
    gap = float(gaps.min()) if gaps.size else (abs(m[0]) if m[0] else 1.0)
    methods = list(dict.fromkeys(df["method"].astype(str)))
    colors = dict(
        zip(methods, sns.color_palette("deep", n_colors=len(methods) + 1)[1:], strict=True)
    )
    for meth in methods:
        sub = df[df["method"].astype(str) == meth]
        mid = (sub["lb"] + sub["ub"]) / 2
        ax.errorbar(
            sub["M"],
            mid,
            yerr=[mid - sub["lb"], sub["ub"] - mid],
            fmt="none",
            ecolor=colors[meth],
            capsize=3,
            lw=1.4,
            label=f"robust ({meth})",
        )
    if original_ci is not None:
        lo, hi = (float(original_ci[0]), float(original_ci[1]))
        x0 = float(m.min()) - gap
        ax.errorbar(
            [x0],
            [(lo + hi) / 2],
            yerr=[[(hi - lo) / 2], [(hi - lo) / 2]],
            fmt="none",
            ecolor="0.2",
            capsize=3,
            lw=1.4,
            label="original",
        )
    ax.axhline(0, color="0.5", lw=0.8)
    rm = any(x in ("C-LF", "Conditional") for x in methods)
    ax.set_xlabel(r"$\bar M$ (relative magnitudes)" if rm else r"$M$ (smoothness)")
    ax.set_ylabel("robust confidence interval")
    ax.set_title(f"HonestDiD sensitivity ({', '.join(methods)})")
    ax.legend(frameon=False, fontsize=8)
    if layer is not None:
        layer_stamp(ax, layer)
    return fig


def event_study_plot(table: pd.DataFrame, ax=None, layer: str = "real (census)"):
    """Census event study: coefficients by census year with two kinds of interval.

    ``table`` has ``census``, ``beta``, ``reference`` (the normalised year,
    drawn at 0 without an interval), ``wild_ci_low/high`` (wild cluster
    bootstrap, the valid interval with few clusters), ``hc1_ci_low/high``
    (conventional, for reference) and ``p_ri`` (printed beside each point).
    """
    fig, ax = _ax(ax)
    t = table.sort_values("census").reset_index(drop=True)
    est = t[~t["reference"].astype(bool)]
    ref = t[t["reference"].astype(bool)]
    x = est["census"].to_numpy(float)
    b = est["beta"].to_numpy(float)
    ax.errorbar(
        x - 0.4,
        b,
        yerr=[b - est["hc1_ci_low"], est["hc1_ci_high"] - b],
        fmt="none",
        ecolor="0.6",
        capsize=3,
        label="HC1 95% CI (reference only)",
    )
    ax.errorbar(
        x + 0.4,
        b,
        yerr=[b - est["wild_ci_low"], est["wild_ci_high"] - b],
        fmt="none",
        ecolor="#2166ac",
        capsize=3,
        label="wild cluster bootstrap 95% CI",
    )
    ax.plot(x, b, "o", color="k", label="estimate")
    ax.plot(ref["census"], ref["beta"], "s", color="k", mfc="white", label="reference census (= 0)")
    for xv, bv, p in zip(x, b, est["p_ri"], strict=True):
        ax.annotate(
            f"RI p = {p:.2f}", (xv, bv), textcoords="offset points", xytext=(8, 6), fontsize=8
        )
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axvline(2015, color="0.5", lw=0.8, ls="--")
    lo = np.nanmin(np.r_[est["hc1_ci_low"], -0.05])
    hi = np.nanmax(np.r_[est["hc1_ci_high"], 0.05])
    pad = 0.6 * (hi - lo)
    y0, y1 = lo - pad, hi + pad
    ax.set_ylim(y0, y1)
    # wild intervals wider than the panel are clipped; an arrow marks each clipped end
    for ends, edge, m in ((est["wild_ci_low"], y0, "v"), (est["wild_ci_high"], y1, "^")):
        cut = ((ends < y0) | (ends > y1)).to_numpy()
        ax.plot(
            x[cut] + 0.4,
            np.full(cut.sum(), edge - 0.015 * (y1 - y0) * np.sign(edge)),
            m,
            color="#2166ac",
            ms=5,
        )
    ax.set_xticks(t["census"].to_numpy())
    ax.set_xlabel("census year (enclaves agreed 2011-2019)")
    ax.set_ylabel("log population relative to 2010")
    ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    layer_stamp(ax, layer)


# ---------------------------------------------------------------- teaching (issue 12)
BACON_COLORS = {
    "treated_vs_never": "#1b9e77",
    "earlier_vs_later": "#7570b3",
    "later_vs_earlier": "#d95f02",
}


def bacon_plot(decomp, ax=None, *, layer=None):
    """Goodman-Bacon scatter: each 2x2 estimate against its weight, coloured by type.

    ``decomp`` is a :class:`analysis.estimators.bacon.BaconDecomposition`; the
    dashed line is the TWFE coefficient (the weighted sum of the points).
    "later_vs_earlier" are the forbidden comparisons (already-treated units as
    controls). Returns the figure.
    """
    fig, ax = _ax(ax)
    t = decomp.table
    for typ, sub in t.groupby("type", sort=False):
        ax.scatter(
            sub["weight"],
            sub["estimate"],
            s=36,
            color=BACON_COLORS.get(typ, "0.4"),
            label=typ.replace("_", " "),
            edgecolor="white",
            lw=0.5,
        )
    ax.axhline(decomp.twfe, color="0.2", ls="--", lw=1, label=f"TWFE = {decomp.twfe:.3f}")
    ax.set_xlabel("weight of the 2x2 comparison")
    ax.set_ylabel("2x2 DiD estimate")
    ax.legend(frameon=False, fontsize=8)
    if layer is not None:
        layer_stamp(ax, layer)
    return fig


def twfe_weights_plot(weights, exposure=None, ax=None, *, layer=None):
    """de Chaisemartin-D'Haultfoeuille weights of treated cells against exposure.

    ``weights`` is a :class:`analysis.estimators.twfe_weights.TWFEWeights`;
    ``exposure`` maps each row of ``weights.cells`` to its periods since
    adoption (array-like, same order; default the ``exposure`` column that
    ``twfe_weights(..., cohort=...)`` adds). Bars: total weight per exposure,
    split into positive and negative parts. Returns the figure.
    """
    fig, ax = _ax(ax)
    c = weights.cells
    if exposure is not None:
        c = c.assign(exposure=np.asarray(exposure))
    pos = c[c["weight"] > 0].groupby("exposure")["weight"].sum()
    neg = c[c["weight"] < 0].groupby("exposure")["weight"].sum()
    ax.bar(pos.index, pos.to_numpy(), color="#4393c3", label="positive weights")
    ax.bar(neg.index, neg.to_numpy(), color="#d6604d", label="negative weights")
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_xlabel("periods since adoption (t - g)")
    ax.set_ylabel("sum of TWFE weights")
    ax.set_title(
        f"{weights.n_negative} of {weights.n_positive + weights.n_negative} weights negative "
        f"(sum {weights.sum_negative:.3f})",
        fontsize=9,
    )
    ax.legend(frameon=False, fontsize=8)
    if layer is not None:
        layer_stamp(ax, layer)
    return fig


def mc_metric_plot(summary, metric: str = "bias", ax=None, *, target=None, err=None, layer=None):
    """Dot plot of one Monte Carlo metric by DGP (rows) and method (colours).

    ``summary`` has columns ``dgp, method`` and ``metric`` (e.g. the teaching
    study's ``bias``, ``rmse``, ``coverage``); ``err`` names a column of
    Monte Carlo standard errors drawn as +-2 s.e. bars; ``target`` draws a
    reference line (0 for bias, 0.95 for coverage). Returns the figure.
    """
    fig, ax = _ax(ax)
    dgps = list(dict.fromkeys(summary["dgp"]))
    methods = list(dict.fromkeys(summary["method"]))
    colors = dict(zip(methods, sns.color_palette("colorblind", len(methods)), strict=True))
    off = np.linspace(-0.3, 0.3, len(methods))
    for j, m in enumerate(methods):
        sub = summary[summary["method"] == m].set_index("dgp").reindex(dgps)
        y = np.arange(len(dgps)) + off[j]
        xerr = 2 * sub[err].to_numpy() if err else None
        ax.errorbar(
            sub[metric],
            y,
            xerr=xerr,
            fmt="o",
            ms=5,
            color=colors[m],
            label=m,
            elinewidth=1,
            capsize=2,
        )
    if target is not None:
        ax.axvline(target, color="0.3", ls="--", lw=1)
    ax.set_yticks(np.arange(len(dgps)))
    ax.set_yticklabels(dgps)
    ax.invert_yaxis()
    ax.set_xlabel(metric)
    ax.legend(frameon=False, fontsize=7, ncol=3, loc="best")
    if layer is not None:
        layer_stamp(ax, layer)
    return fig


def rejection_plot(summary, ax=None, *, alpha: float = 0.05, layer=None):
    """Null rejection rates against the number of clusters, one line per method.

    ``summary`` has ``clusters, method, rejection, mc_se``; the band is the
    nominal level +- 2 Monte Carlo s.e. of a correctly sized test. Returns the figure.
    """
    fig, ax = _ax(ax)
    for m, sub in summary.groupby("method", sort=False):
        ax.errorbar(
            sub["clusters"], sub["rejection"], yerr=2 * sub["mc_se"], marker="o", capsize=2, label=m
        )
    n = int(summary["n_reps"].iloc[0]) if "n_reps" in summary else None
    if n:
        band = 2 * np.sqrt(alpha * (1 - alpha) / n)
        ax.axhspan(alpha - band, alpha + band, color="0.9", zorder=0)
    ax.axhline(alpha, color="0.3", ls="--", lw=1, label=f"nominal {alpha:.0%}")
    ax.set_xscale("log")
    ticks = sorted(summary["clusters"].unique())
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set_xlabel("number of clusters (log scale)")
    ax.set_ylabel("rejection rate under the null")
    ax.legend(frameon=False, fontsize=8)
    if layer is not None:
        layer_stamp(ax, layer)
    return fig


# ----------------------------------------------------------------- staggered designs
#: colours of the treatment-timing statuses (codes of ``analysis.studies.annual_did.STATUS``)
TIMING_COLORS = ("#d9d9d9", "#9ecae1", "#fdd49e", "#d7301f", "#737373")


def treatment_timing_plot(
    status: pd.DataFrame,
    labels: dict[int, str],
    ax=None,
    *,
    imputed: pd.DataFrame | None = None,
    layer: str | None = None,
    max_labels: int = 40,
    label_rows: Sequence[bool] | None = None,
):
    """Units x periods picture of treatment status (like Stata/R ``panelview``).

    ``status``: index = unit labels (rows in plotting order), columns = periods,
    integer codes; ``labels``: code -> legend text (colours follow
    :data:`TIMING_COLORS` in code order). ``imputed`` (same shape, bool) marks
    cells whose adoption year was imputed with a dot. Unit labels are printed
    for the rows flagged in ``label_rows``; by default for every row when there
    are at most ``max_labels``, else only for the rows whose status changes.
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    fig, ax = _ax(ax)
    codes = sorted(labels)
    cmap = ListedColormap([TIMING_COLORS[c % len(TIMING_COLORS)] for c in codes])
    norm = BoundaryNorm(np.arange(len(codes) + 1) - 0.5, cmap.N)
    pos = {c: i for i, c in enumerate(codes)}
    mat = np.vectorize(pos.get)(status.to_numpy())
    ax.imshow(mat, aspect="auto", cmap=cmap, norm=norm, interpolation="nearest")
    if imputed is not None:
        yy, xx = np.nonzero(imputed.to_numpy())
        ax.scatter(xx, yy, s=4, c="k", marker="o", linewidths=0, label="imputed timing")
    cols = list(status.columns)
    ax.set_xticks(np.arange(len(cols)))
    ax.set_xticklabels([str(c) for c in cols], rotation=90, fontsize=7)
    n = len(status)
    if label_rows is not None:
        rows = np.flatnonzero(np.asarray(label_rows, dtype=bool))
    elif n <= max_labels:
        rows = np.arange(n)
    else:
        rows = np.flatnonzero((status.nunique(axis=1) > 1).to_numpy())
    ax.set_yticks(rows)
    ax.set_yticklabels([str(status.index[i]) for i in rows], fontsize=6)
    handles = [
        Patch(color=TIMING_COLORS[c % len(TIMING_COLORS)], label=labels[c])
        for c in codes
        if (status.to_numpy() == c).any()
    ]
    if imputed is not None and imputed.to_numpy().any():
        handles.append(
            plt.Line2D([], [], marker="o", ls="", color="k", ms=3, label="imputed timing")
        )
    ax.legend(
        handles=handles,
        fontsize=7,
        frameon=False,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08),
        ncol=3,
    )
    ax.set_xlabel("")
    if layer is not None:
        layer_stamp(ax, layer)
    return fig


def event_study_overlay(
    events: pd.DataFrame,
    ax=None,
    *,
    truth: pd.Series | None = None,
    layer: str | None = None,
    ylabel: str = "effect",
    bands: bool = True,
    legend: bool = True,
):
    """Event-study estimates of several estimators side by side.

    ``events``: long frame with ``label, event, estimate, conf_low, conf_high``
    and optionally ``band_low, band_high`` (simultaneous bands, drawn as
    shaded boxes behind the pointwise intervals). Estimators are dodged along
    the x axis. ``truth`` (event -> effect) adds the true dynamic effects as a
    line (known-truth simulations only).
    """
    fig, ax = _ax(ax)
    labs = list(dict.fromkeys(events["label"]))
    colors = sns.color_palette("colorblind", n_colors=max(len(labs), 3))
    width = 0.8 / max(len(labs), 1)
    for j, lab in enumerate(labs):
        s = events[events["label"] == lab].sort_values("event")
        x = s["event"].to_numpy(float) + (j - (len(labs) - 1) / 2) * width
        y = s["estimate"].to_numpy(float)
        if bands and "band_low" in s:
            ok = np.isfinite(s["band_low"].to_numpy(float))
            ax.bar(
                x[ok],
                (s["band_high"] - s["band_low"]).to_numpy(float)[ok],
                bottom=s["band_low"].to_numpy(float)[ok],
                width=width * 0.9,
                color=colors[j],
                alpha=0.18,
                lw=0,
                zorder=1,
            )
        lo = y - s["conf_low"].to_numpy(float)
        hi = s["conf_high"].to_numpy(float) - y
        ax.errorbar(
            x,
            y,
            yerr=[np.nan_to_num(lo), np.nan_to_num(hi)],
            fmt="o",
            ms=3,
            color=colors[j],
            capsize=0,
            lw=1,
            label=lab,
            zorder=3,
        )
    if truth is not None and len(truth):
        tr = truth.sort_index()
        lo_e, hi_e = events["event"].min(), events["event"].max()
        tr = tr[(tr.index >= lo_e) & (tr.index <= hi_e)]
        ev = np.concatenate([[e for e in range(int(lo_e), 0)], tr.index.to_numpy(float)])
        val = np.concatenate([np.zeros(int(-lo_e)) if lo_e < 0 else [], tr.to_numpy(float)])
        ax.plot(ev, val, color="k", lw=1.6, ls="-", label="true effect", zorder=4)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axvline(-0.5, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel("years since first enclave (event time)")
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend(frameon=False, fontsize=7, ncol=2)
    if layer is not None:
        layer_stamp(ax, layer)
    return fig


def estimates_plot(
    table: pd.DataFrame,
    ax=None,
    *,
    truth: float | None = None,
    layer: str | None = None,
    xlabel: str = "simple ATT",
    legend: bool = True,
):
    """One row per estimator: point estimate and 95% interval (``label, att,
    ci_low, ci_high``), with the true value as a vertical line when known."""
    fig, ax = _ax(ax)
    t = table.reset_index(drop=True)
    yy = np.arange(len(t))[::-1]
    ax.errorbar(
        t["att"],
        yy,
        xerr=[t["att"] - t["ci_low"], t["ci_high"] - t["att"]],
        fmt="o",
        color="k",
        capsize=3,
        ms=4,
        label="estimate, 95% CI",
    )
    if truth is not None and np.isfinite(truth):
        ax.axvline(truth, color="#d7301f", lw=1.4, label=f"true value {truth:.4g}")
    ax.axvline(0, color="0.6", lw=0.7)
    ax.set_yticks(yy)
    ax.set_yticklabels(t["label"], fontsize=7)
    ax.set_xlabel(xlabel)
    if legend:
        ax.legend(frameon=False, fontsize=7)
    if layer is not None:
        layer_stamp(ax, layer)
    return fig


# ---------------------------------------------------------- synthetic DiD (issue 13)
def _synth_cohort(result, cohort):
    traj = result.trajectories
    if traj is None:
        raise ValueError("synth plots need a synthetic-DiD result (analysis.estimators.synthdid)")
    cohorts = list(dict.fromkeys(traj["cohort"]))
    c = cohorts[0] if cohort is None else cohort
    if c not in cohorts:
        raise ValueError(f"cohort {cohort!r} not in the result (cohorts: {cohorts})")
    return c


def synth_plot(result, ax=None, *, cohort=None, overlay: bool = False, layer=None):
    """Treated vs synthetic-control trajectories of one cohort, with the time weights.

    ``result`` is a :class:`analysis.estimators.synthdid.SynthDiDResult` (methods
    ``sdid``, ``sc`` or the DiD comparison). Lines: the cohort's treated mean and
    the :math:`\\hat\\omega`-weighted mean of the never-treated units; the dashed
    vertical line marks adoption. Bars along the bottom (right-hand axis) are
    the time weights :math:`\\hat\\lambda_t` of the pre-treatment periods.
    ``overlay=True`` shifts the synthetic line by the :math:`\\hat\\lambda`-weighted
    pre-treatment gap (R ``plot(..., overlay = 1)``), so that the estimate is the
    post-period distance between the lines. ``cohort``: which cohort (default the
    first). Returns the figure.
    """
    fig, ax = _ax(ax)
    c = _synth_cohort(result, cohort)
    tr = result.trajectories[result.trajectories["cohort"] == c]
    lam = result.time_weights[result.time_weights["cohort"] == c]
    t = tr["time"].to_numpy(dtype=float)
    treated = tr["treated"].to_numpy()
    synth = tr["synthetic"].to_numpy()
    label = "synthetic control"
    if overlay:
        pre = t < float(c)
        w = lam["weight"].to_numpy()
        shift = float(w @ (treated[pre] - synth[pre])) if w.sum() > 0 else 0.0
        synth = synth + shift
        label += f" (shifted by {shift:+.3g})"
    ax.plot(t, treated, color="#b2182b", lw=1.8, label="treated (mean)")
    ax.plot(t, synth, color="#2166ac", lw=1.8, ls="-", label=label)
    ax.axvline(float(c) - 0.5, color="0.4", lw=0.9, ls="--")
    panel = getattr(result.design, "panel", None)
    ax.set_xlabel(getattr(panel, "time", None) or "period")
    ax.set_ylabel(result.outcome)
    est = result.aggregates["group"].by
    att = float(est.loc[est["cohort"] == c, "att"].iloc[0]) if len(est) > 1 else result.att
    ax.set_title(
        f"{result.method.upper()}: cohort {c:g}, estimate {att:.3g} "
        f"(SE {result.info.get('se_type', 'n/a')})",
        fontsize=9,
    )
    if lam["weight"].to_numpy().sum() > 0:
        ax2 = ax.twinx()
        ax2.bar(lam["time"].to_numpy(dtype=float), lam["weight"], width=0.8, color="0.6", alpha=0.6)
        ax2.set_ylim(0, 4 * max(float(lam["weight"].max()), 1e-12))
        ax2.set_ylabel(r"time weight $\hat\lambda_t$", fontsize=8, color="0.4")
        ax2.tick_params(axis="y", labelsize=7, colors="0.4")
    ax.legend(frameon=False, fontsize=8, loc="best")
    layer_stamp(ax, layer or result.info.get("data_layer") or "unspecified")
    return fig


def synth_weights_plot(result, ax=None, *, cohort=None, top: int = 15, layer=None):
    """Unit weights :math:`\\hat\\omega_i` of one cohort: the ``top`` largest, as bars.

    Companion of :func:`synth_plot`; returns the figure.
    """
    fig, ax = _ax(ax)
    c = _synth_cohort(result, cohort)
    w = result.unit_weights[result.unit_weights["cohort"] == c]
    w = w[w["weight"] > 0].sort_values("weight", ascending=False).head(top)
    yy = np.arange(len(w))[::-1]
    ax.barh(yy, w["weight"], color="#2166ac")
    ax.set_yticks(yy)
    ax.set_yticklabels([str(u) for u in w["unit"]], fontsize=7)
    n_pos = int((result.unit_weights.query("cohort == @c")["weight"] > 0).sum())
    ax.set_xlabel(r"unit weight $\hat\omega_i$")
    ax.set_title(
        f"{result.method.upper()}: {n_pos} of {result.info.get('n_controls', '?')} "
        f"controls weighted (cohort {c:g})",
        fontsize=9,
    )
    layer_stamp(ax, layer or result.info.get("data_layer") or "unspecified")
    return fig
