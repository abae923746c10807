"""Annual study: the numbers, figures, tables and sentences it publishes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.studies.annual.design import (
    DRAW_SEED,
    MAIN,
    N_DRAWS,
    N_POWER_SIMS,
    OUTCOMES,
    ROBUST,
    SPEC,
    STATUS,
    TIME,
    AnnualData,
    Sample,
    design,
    timing_status,
)
from analysis.studies.annual.estimate import OutcomeAnalysis
from analysis.studies.annual.inference import trust_sentence


# ----------------------------------------------------------------- numbers
def _plain(v: Any) -> Any:
    """Plain Python numbers for ``numbers.json`` (counts and flags as int). Rounding to
    the committed precision happens in one place, ``pipeline._committed_value``."""
    if isinstance(v, (bool, np.bool_, int, np.integer)):
        return int(v)
    return float(v)


def numbers(
    data: AnnualData, analyses: Mapping[str, OutcomeAnalysis], family: pd.DataFrame
) -> dict[str, float]:
    """Every number the paper quotes about the annual design."""
    des = design(data)
    n: dict[str, Any] = {
        "annual.synthetic": int(data.synthetic),
        "annual.n_units": des.n_units - des.n_dropped_always,
        "annual.n_years": des.n_years,
        "annual.first_year": des.years[0],
        "annual.last_year": des.years[1],
        "annual.n_treated": des.n_treated,
        "annual.n_cohorts": len(des.cohorts),
        "annual.n_imputed": des.n_imputed,
        "annual.n_non_mountain": des.n_non_mountain,
        "annual.n_never_mountain": des.n_never_mountain,
        "annual.n_prefectures": des.n_prefectures,
        "annual.n_treated_prefectures": des.n_treated_prefectures,
        "annual.n_outcomes": len(analyses),
        "annual.n_draws": N_DRAWS,
    }
    for o, a in analyses.items():
        k = f"annual.{o}"
        for r in a.main.itertuples(index=False):
            n[f"{k}.{r.estimator}.att"] = r.att
            n[f"{k}.{r.estimator}.se"] = r.se
            n[f"{k}.{r.estimator}.ci_low"] = r.ci_low
            n[f"{k}.{r.estimator}.ci_high"] = r.ci_high
        n[f"{k}.bacon.forbidden_weight"] = float(
            a.bacon.table.loc[a.bacon.table["type"] == "later_vs_earlier", "weight"].sum()
        )
        n[f"{k}.bacon.twfe"] = a.bacon.twfe
        for r in a.pretrends.itertuples(index=False):
            n[f"{k}.pretest_p.{r.estimator}"] = r.p_value
        for restr, h in a.honest.items():
            n[f"{k}.honest.{restr}.breakdown"] = h.breakdown
        inf = a.inference
        for j, tag in enumerate(
            (
                "twfe_county",
                "twfe_prefecture",
                "twfe_wild",
                "twfe_ri",
                "cs_county",
                "cs_prefecture",
                "cs_ri",
            )
        ):
            n[f"{k}.p.{tag}"] = inf["p_value"].iloc[j]
        f = family.set_index("outcome").loc[o]
        for c in ("p_holm", "p_bh", "p_ri", "p_ri_holm", "p_ri_romano_wolf", "p_ri_wy_minp"):
            n[f"{k}.{c}"] = f[c]
        if a.truth is not None:
            n[f"{k}.truth"] = a.truth["simple"]
            n[f"{k}.twfe_gap"] = (
                a.main.set_index("estimator").loc["twfe", "att"] - a.truth["simple"]
            )
            if a.bacon_truth is not None:
                n[f"{k}.bacon.implied_bias"] = a.bacon_truth.twfe - a.truth["simple"]
            n[f"{k}.n_robust_cover"] = int(
                a.main.set_index("estimator").loc[list(ROBUST), "covers_truth"].sum()
            )
        if a.power is not None:
            n[f"{k}.mde"] = a.power["mde"]
            n[f"{k}.mde_over_sigma"] = a.power["mde_over_sigma"]
            n[f"{k}.sigma"] = a.power["sigma"]
    n["annual.n_sig05.cs"] = int((family["p_value"] < 0.05).sum())
    n["annual.n_sig05.holm"] = int((family["p_holm"] < 0.05).sum())
    n["annual.n_sig05.bh"] = int((family["p_bh"] < 0.05).sum())
    n["annual.n_sig05.ri"] = int((family["p_ri"] < 0.05).sum())
    n["annual.n_sig05.romano_wolf"] = int((family["p_ri_romano_wolf"] < 0.05).sum())
    n["annual.n_sig05.wy_minp"] = int((family["p_ri_wy_minp"] < 0.05).sum())
    exact = [
        o
        for o, a in analyses.items()
        if a.truth is not None and o in OUTCOMES and OUTCOMES[o].truth == "exact"
    ]
    if data.synthetic and exact:
        # coverage counts only outcomes with known effects and parallel trends by construction
        n["annual.n_exact_truth"] = len(exact)
        n["annual.n_robust_cover"] = int(sum(n[f"annual.{o}.n_robust_cover"] for o in exact))
        n["annual.n_robust_cells"] = len(ROBUST) * len(exact)
    return {key: _plain(v) for key, v in n.items()}


# ------------------------------------------------------------------ figures
def _ax_of(fig, ax):
    return ax if ax is not None else fig.axes[0]


def _title(data: AnnualData, text: str) -> str:
    return f"{text} [{data.short}]" if not data.synthetic else f"SYNTHETIC twin: {text}"


def plot_timing(data: AnnualData, ax=None):
    """Treatment-timing picture (units x years, coloured by status)."""
    from analysis.report.figures import treatment_timing_plot

    status, imp = timing_status(data)
    used = {k: v for k, v in STATUS.items() if (status.to_numpy() == k).any()}
    # label the mountain counties (every status but "never treated, non-mountain")
    fig = treatment_timing_plot(
        status,
        used,
        ax=ax,
        imputed=imp,
        layer=data.label,
        label_rows=(status != 0).any(axis=1).to_numpy(),
    )
    _ax_of(fig, ax).set_title(
        _title(data, "first enclave year of the mountain counties"), fontsize=9
    )
    return fig


def plot_overlay(
    data: AnnualData, a: OutcomeAnalysis, ax=None, truth: bool = True, legend: bool = True
):
    """Event-study estimates of every estimator, pointwise CIs and sup-t bands
    (and, on the twin, the true dynamic effects)."""
    from analysis.report.figures import event_study_overlay

    tr = a.truth["dynamic"] if (truth and a.truth is not None) else None
    fig = event_study_overlay(
        a.events, ax=ax, truth=tr, layer=data.label, ylabel=f"effect on {a.label}", legend=legend
    )
    _ax_of(fig, ax).set_title(
        _title(data, f"{a.label}: event studies (bars: 95% CI; boxes: sup-t band)"), fontsize=8
    )
    return fig


def plot_bacon(data: AnnualData, a: OutcomeAnalysis, ax=None, legend: bool = True):
    """Goodman-Bacon weight-vs-estimate scatter of the static TWFE coefficient
    (:func:`analysis.report.figures.bacon_plot`; grids keep one legend)."""
    from analysis.report.figures import bacon_plot

    fig = bacon_plot(a.bacon, ax=ax, layer=data.label)
    ax_ = _ax_of(fig, ax)
    if not legend and ax_.get_legend() is not None:
        ax_.get_legend().remove()
        ax_.annotate(
            f"TWFE = {a.bacon.twfe:.3f}",
            (1.0, a.bacon.twfe),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize=7,
        )
    ax_.set_title(_title(data, f"{a.label}: Goodman-Bacon decomposition"), fontsize=8)
    return fig


def plot_honest(data: AnnualData, a: OutcomeAnalysis, axes=None):
    """HonestDiD sensitivity plots (relative magnitudes, smoothness) side by side."""
    import matplotlib.pyplot as plt

    from analysis.report.figures import sensitivity_plot

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, (restr, h) in zip(axes, a.honest.items(), strict=True):
        sensitivity_plot(h, ax=ax, layer=data.label)
        ax.set_title(
            _title(data, f"{a.label}:\n{restr.replace('_', ' ')} (breakdown {h.breakdown:.3g})"),
            fontsize=8,
        )
    return axes[0].figure


def plot_estimates(data: AnnualData, a: OutcomeAnalysis, ax=None, legend: bool = True):
    """Simple ATT of every estimator with 95% CI -- with the true value on the twin
    (the estimates-vs-truth figure)."""
    from analysis.report.figures import estimates_plot

    t = a.main.dropna(subset=["att"])
    fig = estimates_plot(
        t,
        ax=ax,
        truth=None if a.truth is None else a.truth["simple"],
        layer=data.label,
        legend=legend,
        xlabel=f"ATT on {a.label} ({OUTCOMES[a.outcome].unit})",
    )
    what = "estimates vs the true effect" if a.truth is not None else "estimates side by side"
    _ax_of(fig, ax).set_title(_title(data, f"{a.label}: {what}"), fontsize=8)
    return fig


# ------------------------------------------------------------------- tables
def _lab(o: str) -> str:
    return OUTCOMES[o].label if o in OUTCOMES else o


def estimates_long(analyses: Mapping[str, OutcomeAnalysis], sample: Sample = "all") -> pd.DataFrame:
    rows = []
    for o, a in analyses.items():
        t = a.main if sample == "all" else a.mountain
        rows.append(t.assign(outcome=_lab(o)))
    out = pd.concat(rows, ignore_index=True)
    cols = ["outcome", "label", "att", "se", "ci_low", "ci_high", "p_value"]
    if "truth" in out:
        cols += ["truth", "bias"]
    return out[cols].rename(columns={"label": "estimator"})


def write_outputs(
    data: AnnualData,
    analyses: Mapping[str, OutcomeAnalysis],
    family: pd.DataFrame,
    paper_dir,
    *,
    figures: bool = True,
) -> None:
    """Tables (CSV, Markdown, LaTeX) and figures (PNG) of the study under ``paper_dir``."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from analysis.report.figures import save_figure
    from analysis.report.tables import write_table

    paper_dir = Path(paper_dir)
    tdir, fdir = paper_dir / "tables", paper_dir / "figures"
    des = design(data)
    syn = data.synthetic
    cap = (
        (lambda s: f"SYNTHETIC (Zhejiang twin): {s}")
        if syn
        else (lambda s: f"{s} (real yearbook panel)")
    )
    layer_note = f"Data layer: {data.label}." + (
        " Effects are set by code: a methods demonstration, not a finding about Zhejiang."
        if syn
        else ""
    )
    design_note = " ".join(des.lines()[1:4])
    est_note = (
        "Estimators: static TWFE; TWFE event study (binned end-points, window -5..5; its summary is the "
        "mean of e=0..5); Callaway-Sant'Anna doubly robust, universal base period, with never-treated or "
        "not-yet-treated comparison (no covariates); Sun-Abraham interaction-weighted; BJS imputation; "
        "Gardner two-stage. Standard errors clustered by county; 95% normal intervals."
    )

    def w(df, stem, caption, notes, digits=4):
        write_table(df, tdir, stem, caption=cap(caption), notes=[layer_note, *notes], digits=digits)

    w(
        des.cohorts.rename(columns={"cohort": "first enclave year"}),
        "annual_design",
        "Treatment cohorts of the annual design",
        [design_note, des.lines()[4]],
        digits=0,
    )
    w(
        estimates_long(analyses),
        "annual_estimates",
        "Simple ATT of every estimator, all outcomes" + (" (with the true effects)" if syn else ""),
        [design_note, est_note]
        + (
            ["truth: the true average effect over treated county-years; bias = estimate - truth."]
            if syn
            else []
        ),
    )
    w(
        estimates_long(analyses, "mountain"),
        "annual_estimates_mountain",
        "Mountain counties only: not-yet-treated mountain counties as the comparison",
        [
            est_note,
            "Rows that need never-treated units are empty when every mountain county is treated.",
        ],
    )
    bt = pd.concat(
        [a.bacon_table.assign(outcome=_lab(o)) for o, a in analyses.items()], ignore_index=True
    )
    w(
        bt[["outcome", *[c for c in bt.columns if c != "outcome"]]],
        "annual_bacon",
        "Goodman-Bacon decomposition of the static TWFE coefficient",
        [
            "Weights and weighted-average 2x2 estimates by comparison type; later_vs_earlier uses "
            "already-treated counties as controls."
        ]
        + (
            [
                "estimate_true_effects: the same decomposition of the noise-free panel of true effects "
                "(what TWFE estimates in expectation)."
            ]
            if syn
            else []
        ),
    )
    pt = pd.concat(
        [a.pretrends.assign(outcome=_lab(o)) for o, a in analyses.items()], ignore_index=True
    )
    w(
        pt[["outcome", "label", "test", "stat", "df", "p_value"]],
        "annual_pretrends",
        "Pre-trend tests of every event-study estimator",
        [est_note],
    )
    hr = []
    for o, a in analyses.items():
        for restr, h in a.honest.items():
            hr.append(
                {
                    "outcome": _lab(o),
                    "restriction": restr,
                    "method": h.method,
                    "estimate": h.estimate,
                    "ci_low": h.original[0],
                    "ci_high": h.original[1],
                    "breakdown": h.breakdown,
                }
            )
    w(
        pd.DataFrame(hr),
        "annual_honest",
        "HonestDiD sensitivity of the main CS event study (average effect e=0..5)",
        [
            "Rambachan-Roth (2023): relative magnitudes (C-LF; breakdown = largest Mbar) and smoothness "
            "(FLCI; breakdown = largest M) at which the robust 95% interval still excludes zero; 0 = the "
            "conventional interval already contains zero. Pre-periods -5..-2, reference -1."
        ],
    )
    inf = pd.concat(
        [a.inference.assign(outcome=_lab(o)) for o, a in analyses.items()], ignore_index=True
    )
    w(
        inf[["outcome", "estimate", "inference", "att", "se", "ci_low", "ci_high", "p_value"]],
        "annual_inference",
        "Inference side by side: clustering, wild bootstrap, randomisation",
        [
            f"Wild bootstrap and randomisation inference: {N_DRAWS} draws, seed {DRAW_SEED}; randomisation "
            "permutes adoption years among the ever-treated counties.",
            trust_sentence(des, inf),
        ],
    )
    het = pd.concat(
        [a.heterogeneity.assign(outcome=_lab(o)) for o, a in analyses.items()], ignore_index=True
    )
    w(
        het[["outcome", "dimension", "subgroup", "n_treated", "att", "se", "ci_low", "ci_high"]],
        "annual_heterogeneity",
        "Heterogeneity: main CS ATT by subgroup of treated counties",
        [
            "Each row: the subgroup's treated counties against every county not treated in the panel "
            "(never and not-yet treated). Overlapping intervals are not a test of equality."
        ],
    )
    fam = family.assign(outcome=family["outcome"].map(_lab))
    w(
        fam,
        "annual_family",
        "Multiple testing across the outcome family (main CS ATT)",
        [
            "Holm and Benjamini-Hochberg adjust the analytic p-values; Romano-Wolf (studentised "
            "max-T) and Westfall-Young (step-down min-P) adjust the randomisation p-values using "
            f"the joint permutation draws ({N_DRAWS}, seed {DRAW_SEED}); p_ri_holm is Holm on the "
            "randomisation p-values."
        ],
    )
    if syn and all(a.power is not None for a in analyses.values()):
        pw = pd.DataFrame(
            [
                {
                    "outcome": _lab(o),
                    "unit": OUTCOMES[o].unit,
                    "mde": a.power["mde"],
                    "sigma": a.power["sigma"],
                    "rho": a.power["rho"],
                    "mde_over_sigma": a.power["mde_over_sigma"],
                    "size_analytic": a.power["size"],
                    "true_att": a.truth["simple"] if a.truth else np.nan,
                }
                for o, a in analyses.items()
            ]
        )
        w(
            pw,
            "annual_power",
            "Minimum detectable effect of the main CS ATT (80% power, 5% size)",
            [
                f"{N_POWER_SIMS} simulated panels per outcome (seed {DRAW_SEED}) with the design's units, "
                "years and adoption timing and AR(1) noise estimated from TWFE residuals "
                "(analysis.inference.power); size_analytic = rejection rate of the analytic test at zero effect."
            ],
        )

    if not figures:
        return
    # figures
    fig, ax = plt.subplots(figsize=(8, 7.5))
    plot_timing(data, ax=ax)
    save_figure(fig, fdir, "annual_timing")
    outs = list(analyses)
    nr = math.ceil(len(outs) / 2)
    grids = [
        ("annual_event_study", plot_overlay, (13, 3.6 * nr)),
        ("annual_bacon", plot_bacon, (12, 3.4 * nr)),
    ]
    if syn and all(a.truth is not None for a in analyses.values()):
        grids.append(("annual_truth", plot_estimates, (12, 3.0 * nr)))
    for stem, fn, size in grids:
        fig, axes = plt.subplots(nr, 2, figsize=size, squeeze=False)
        for j, (ax, o) in enumerate(zip(axes.ravel(), outs, strict=False)):
            fn(data, analyses[o], ax=ax, legend=j == 0)
        for ax in axes.ravel()[len(outs) :]:
            ax.set_visible(False)
        fig.tight_layout()
        save_figure(fig, fdir, stem)
    fig, axes = plt.subplots(len(outs), 2, figsize=(11, 3.0 * len(outs)), squeeze=False)
    for row, o in zip(axes, outs, strict=True):
        plot_honest(data, analyses[o], axes=row)
    fig.tight_layout()
    save_figure(fig, fdir, "annual_honest")


# ---------------------------------------------------------------- sentences
def _fmt(v: float, digits: int = 3) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.{digits}f}"


def estimates_sentence(data: AnnualData, a: OutcomeAnalysis) -> str:
    """What the main table says (worded by layer)."""
    m = a.main.set_index("estimator")
    r = m.loc[MAIN]
    tw = m.loc["twfe"]
    unit = OUTCOMES[a.outcome].unit
    if data.synthetic and a.truth is not None:
        cov = int(m.loc[list(ROBUST), "covers_truth"].sum())
        return (
            f"SYNTHETIC twin, {a.label}: the true average effect over treated county-years is "
            f"{_fmt(a.truth['simple'], 4)} {unit}. The main estimator ({SPEC[MAIN].label}) gives "
            f"{_fmt(r['att'], 4)} (95% CI {_fmt(r['ci_low'], 4)} to {_fmt(r['ci_high'], 4)}); "
            f"{cov} of the {len(ROBUST)} heterogeneity-robust intervals cover the truth. Static TWFE gives "
            f"{_fmt(tw['att'], 4)}, {_fmt(tw['att'] - a.truth['simple'], 4)} from the truth."
        )
    return (
        f"{a.label} (real yearbook data): the main estimator ({SPEC[MAIN].label}) estimates an average "
        f"effect of {_fmt(r['att'], 4)} {unit} (95% CI {_fmt(r['ci_low'], 4)} to {_fmt(r['ci_high'], 4)}, "
        f"p = {_fmt(r['p_value'])}); static TWFE gives {_fmt(tw['att'], 4)}."
    )


def bacon_sentence(data: AnnualData, a: OutcomeAnalysis) -> str:
    bt = a.bacon_table.set_index("type")
    fw = float(bt["weight"].get("later_vs_earlier", 0.0))
    fe = float(bt["estimate"].get("later_vs_earlier", np.nan))
    s = (
        f"{a.label}: {100 * fw:.1f}% of the TWFE weight falls on 'forbidden' comparisons that use "
        f"already-treated counties as controls (their average 2x2 estimate {_fmt(fe, 4)}, against "
        f"{_fmt(a.bacon.twfe, 4)} for TWFE overall)."
    )
    if a.truth is not None and a.bacon_truth is not None:
        s += (
            f" On the SYNTHETIC twin, decomposing the true effects implies a TWFE bias of "
            f"{_fmt(a.bacon_truth.twfe - a.truth['simple'], 4)}; the estimated TWFE is "
            f"{_fmt(a.bacon.twfe - a.truth['simple'], 4)} from the truth."
        )
    return s


def honest_sentence(data: AnnualData, a: OutcomeAnalysis) -> str:
    rm, sd = a.honest["relative_magnitude"], a.honest["smoothness"]
    pre = a.pretrends.set_index("estimator").loc[MAIN, "p_value"]
    tag = " [SYNTHETIC]." if data.synthetic else "."
    if rm.breakdown == 0 or sd.breakdown == 0:
        return (
            f"{a.label}: pre-trend test of the main CS event study p = {_fmt(pre)}. The conventional "
            f"95% interval of the average effect over e = 0..5 ({_fmt(rm.original[0], 4)} to "
            f"{_fmt(rm.original[1], 4)}) already contains zero, so there is no significance to lose: "
            "the breakdown values are 0 and the robust intervals only widen" + tag
        )
    return (
        f"{a.label}: pre-trend test of the main CS event study p = {_fmt(pre)}. The average effect over "
        f"e = 0..5 stays significant at 5% for post-treatment trend violations up to "
        f"Mbar = {_fmt(rm.breakdown, 2)} times the largest pre-treatment one (relative magnitudes) and "
        f"for curvature up to M = {_fmt(sd.breakdown, 4)} per year (smoothness)" + tag
    )


def power_sentence(data: AnnualData, a: OutcomeAnalysis) -> str:
    if a.power is None:
        return f"{a.label}: power is computed on the synthetic twin only (pre-analysis plan)."
    p = a.power
    unit = OUTCOMES[a.outcome].unit
    return (
        f"Pre-analysis plan ({a.label}): with this design (its units, years and adoption timing) and "
        f"noise like the twin's (AR(1) s.d. {_fmt(p['sigma'], 4)}, rho {_fmt(p['rho'], 2)}), the main "
        f"CS estimator detects an average effect of {_fmt(p['mde'], 4)} {unit} with 80% power at 5% "
        f"size ({_fmt(p['mde_over_sigma'], 2)} noise s.d.); the analytic test's simulated size is "
        f"{_fmt(p['size'], 3)}. Smaller true effects would likely be missed on a real panel of this shape."
    )


#: optional employment-structure columns (employment by sector, 万人) a layer may carry
STRUCTURE_COLUMNS = ("employment_primary", "employment_secondary", "employment_tertiary")


def employment_structure(data: AnnualData) -> pd.DataFrame | None:
    """Sector shares of employment by group and year when the layer has them, else ``None``."""
    p = data.panel
    if not all(c in p.columns for c in STRUCTURE_COLUMNS):
        return None
    g = p.assign(group=np.where(p["mountain26"], "mountain 26", "rest")).groupby(["group", TIME])
    tot = g[list(STRUCTURE_COLUMNS)].sum()
    return tot.div(tot.sum(axis=1), axis=0)


def show(df: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """A display copy with floats rounded (notebooks)."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(digits)
    return out
