"""Annual study: the effect estimates and the tables read straight off them.

Every estimator spec of :data:`~analysis.studies.annual.design.SPECS` fitted on
one outcome (:func:`fit`, :func:`fit_all`), the twin's true aggregates they are
compared with, the event-study frame with sup-t bands, the main table, the
Goodman-Bacon decomposition (of the estimate and of the true effects), the
pre-trend tests, HonestDiD sensitivity and the subgroup (heterogeneity) fits.

Separate from :mod:`analysis.studies.annual.inference` (inference beyond the
estimators' analytic standard errors: clustering by prefecture, wild
bootstrap, randomisation, multiple testing, power) and from
:mod:`analysis.studies.annual.estimate` (the run of the whole study that
combines both): this module only fits and tabulates point estimates with the
estimators' own standard errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import InputError
from analysis.studies.annual.design import (
    ALPHA,
    CLUSTER,
    COHORT,
    COVARIATES,
    DRAW_SEED,
    MAIN,
    PRE_LEADS,
    SPEC,
    SPECS,
    TIME,
    UNIT,
    WINDOW,
    AnnualData,
    Sample,
    Spec,
    sample_frame,
)


# ----------------------------------------------------------------- estimation
def fit(data: AnnualData, outcome: str, spec: str | Spec, sample: Sample = "all", **extra: Any):
    """Fit one estimator spec on one outcome (clustered by county unless ``cluster``)."""
    from analysis.estimators import get_estimator

    s = SPEC[spec] if isinstance(spec, str) else spec
    d = sample_frame(data, sample)
    opts = dict(s.options)
    if s.method == "cs" and COVARIATES:
        opts["covariates"] = COVARIATES
    opts.update(extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_estimator(s.method)(
            d,
            outcome=outcome,
            unit=UNIT,
            time=TIME,
            cohort=COHORT,
            data_layer=data.label,
            **opts,
        )


def fit_all(data: AnnualData, outcome: str, sample: Sample = "all") -> dict[str, Any]:
    """Every spec of :data:`SPECS` (a spec that is not identified maps to its error text)."""
    out: dict[str, Any] = {}
    for s in SPECS:
        try:
            out[s.key] = fit(data, outcome, s, sample)
        except InputError as e:
            out[s.key] = str(e)
    try:
        out["bjs_pre"] = fit(data, outcome, "bjs", sample, pretrends=PRE_LEADS)
    except InputError as e:
        out["bjs_pre"] = str(e)
    return out


def true_aggregates(
    data: AnnualData, outcome: str, sample: Sample = "all"
) -> dict[str, Any] | None:
    """True simple ATT and dynamic effects for the estimation sample (twin only).

    ``simple`` = :math:`\\sum_{g,t \\ge g} n_g ATT(g,t) / \\sum n_g` over the
    cohorts and years of the sample (the estimand of the CS, SA, BJS and
    Gardner simple ATT); ``dynamic`` = the same average at each event time.
    Without never-treated units only the years before the last cohort count
    (the last cohort is then only a comparison), as in the estimators.
    """
    if data.truth is None:
        return None
    att = data.truth["att_gt"]
    att = att[att["outcome"] == outcome]
    if att.empty:
        return None
    d = sample_frame(data, sample)
    sizes = d.drop_duplicates(UNIT).groupby(COHORT)[UNIT].size()
    sizes = sizes[sizes.index > 0]
    t0, t1 = int(d[TIME].min()), int(d[TIME].max())
    if not (d[COHORT] == 0).any():
        # no never-treated unit: nothing is untreated from the last cohort on, so
        # the estimators identify (and average) only the years before it
        t1 = min(t1, int(sizes.index.max()) - 1)
        sizes = sizes[sizes.index <= t1]
    a = att[
        att["cohort"].isin(sizes.index)
        & (att["time"] >= att["cohort"])
        & att["time"].between(t0, t1)
    ].copy()
    a["w"] = a["cohort"].map(sizes).astype(float)
    a["event"] = a["time"] - a["cohort"]
    simple = float(np.average(a["att"], weights=a["w"]))
    dyn = a.groupby("event").apply(
        lambda s: np.average(s["att"], weights=s["w"]), include_groups=False
    )
    return {"simple": simple, "dynamic": dyn.rename("att"), "att_gt": a}


def _sup_t(V: np.ndarray, se: np.ndarray, seed: int = DRAW_SEED, n: int = 10_000) -> float:
    """Sup-t critical value of a simultaneous band from a covariance matrix.

    Draws :math:`Z \\sim N(0, V)` (seeded) and takes the :math:`1-\\alpha`
    quantile of :math:`\\max_k |Z_k|/se_k` (Montiel Olea and Plagborg-Moller
    2019), via :func:`analysis.inference.multiplier.sup_t_critical_value`.
    """
    from analysis.inference.multiplier import sup_t_critical_value

    rng = np.random.default_rng(seed)
    k = V.shape[0]
    w, Q = np.linalg.eigh((V + V.T) / 2)
    L = Q * np.sqrt(np.clip(w, 0, None))
    Z = rng.standard_normal((n, k)) @ L.T
    return float(sup_t_critical_value(Z, se, ALPHA))


def event_frame(results: Mapping[str, Any], window: tuple[int, int] = WINDOW) -> pd.DataFrame:
    """Event-study coefficients of every dynamic estimator in the window, with bands.

    Columns ``estimator, label, event, estimate, std_error, conf_low, conf_high,
    band_low, band_high, band``. The simultaneous band is a sup-t band over the
    estimator's coefficients in the window with a finite standard error
    (:func:`_sup_t` on their covariance); BJS leads come from its separate
    pre-trend regression, whose covariance with the horizons is not estimated,
    so BJS's band covers the horizons only and its leads carry pointwise
    intervals (``band = "pointwise"``). The CS reference period (-1, universal
    base) is reported as 0 without an interval.
    """
    z = stats.norm.ppf(1 - ALPHA / 2)
    rows = []
    for key in SPEC:  # static TWFE has no dynamic aggregate and is skipped
        r = results.get(key)
        if not hasattr(r, "aggregates") or "dynamic" not in r.aggregates:
            continue
        agg = r.aggregates["dynamic"]
        by = agg.by[(agg.by["event"] >= window[0]) & (agg.by["event"] <= window[1])]
        by = by.assign(ok=np.isfinite(by["se"]) & (by["se"] > 0))
        crit, in_band = z, np.zeros(len(by), dtype=bool)
        if agg.vcov is not None:
            ev_all = agg.by["event"].to_numpy()
            in_band = by["ok"].to_numpy()
            ii = [int(np.flatnonzero(ev_all == e)[0]) for e in by["event"].to_numpy()[in_band]]
            if len(ii) >= 2:
                Vs = np.asarray(agg.vcov)[np.ix_(ii, ii)]
                crit = max(_sup_t(Vs, np.sqrt(np.diag(Vs))), z)
            else:
                in_band[:] = False
        if key == "bjs" and hasattr(results.get("bjs_pre"), "aggregates"):
            lead = results["bjs_pre"].aggregates["dynamic"].by
            lead = lead[(lead["event"] < 0) & (lead["event"] >= window[0])]
            lead = lead.assign(ok=np.isfinite(lead["se"]) & (lead["se"] > 0))
            by = pd.concat([lead, by], ignore_index=True)
            in_band = np.concatenate([np.zeros(len(lead), dtype=bool), in_band])
        lab = SPEC[key].label.replace(" (mean of e=0..5)", "")
        for rr, b in zip(by.itertuples(index=False), in_band, strict=True):
            se = rr.se if rr.ok else np.nan
            c = crit if b else z
            rows.append(
                {
                    "estimator": key,
                    "label": lab,
                    "event": int(rr.event),
                    "estimate": float(rr.att),
                    "std_error": float(se),
                    "conf_low": rr.att - z * se,
                    "conf_high": rr.att + z * se,
                    "band_low": rr.att - c * se,
                    "band_high": rr.att + c * se,
                    "band": "sup-t" if b else "pointwise",
                }
            )
    return pd.DataFrame(rows)


def main_table(results: Mapping[str, Any], truth: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Estimator x simple ATT, SE, 95% CI, p (and the truth, bias, coverage on the twin)."""
    z = stats.norm.ppf(1 - ALPHA / 2)
    rows = []
    for s in SPECS:
        r = results.get(s.key)
        row: dict[str, Any] = {"estimator": s.key, "label": s.label, "comparison": s.comparison}
        if not hasattr(r, "att"):
            row.update(
                att=np.nan,
                se=np.nan,
                ci_low=np.nan,
                ci_high=np.nan,
                p_value=np.nan,
                n_units=0,
                note=str(r),
            )
        else:
            row.update(
                att=r.att,
                se=r.se,
                ci_low=r.att - z * r.se,
                ci_high=r.att + z * r.se,
                p_value=float(2 * stats.norm.sf(abs(r.att / r.se))) if r.se > 0 else np.nan,
                n_units=r.n_units,
                note="",
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    if truth is not None:
        tv = np.full(len(out), truth["simple"])
        dyn = truth["dynamic"]
        post = dyn[(dyn.index >= 0) & (dyn.index <= WINDOW[1])]
        tv[out["estimator"] == "event"] = float(post.mean()) if len(post) else np.nan
        out["truth"] = tv
        out["bias"] = out["att"] - out["truth"]
        out["covers_truth"] = (out["ci_low"] <= out["truth"]) & (out["truth"] <= out["ci_high"])
    return out


# ------------------------------------------------------------------ Bacon
def bacon(data: AnnualData, outcome: str, sample: Sample = "all"):
    """Goodman-Bacon decomposition of the static TWFE coefficient."""
    from analysis.estimators.bacon import bacon_decomposition

    return bacon_decomposition(
        sample_frame(data, sample),
        outcome=outcome,
        unit=UNIT,
        time=TIME,
        cohort=COHORT,
        data_layer=data.label,
    )


def bacon_truth(data: AnnualData, outcome: str, sample: Sample = "all"):
    """The decomposition applied to the *true* effects (twin only).

    TWFE is linear in the outcome and, in a balanced panel without covariates,
    its weight on :math:`Y_{it}` depends only on the unit's cohort and the year.
    So under parallel trends its expectation is the TWFE coefficient of the
    noise-free panel :math:`Y_{it} = ATT(G_i, t) D_{it}`: decomposing that panel
    shows the bias TWFE *should* have (``twfe - true simple ATT``) and which
    comparisons cause it.
    """
    from analysis.estimators.bacon import bacon_decomposition

    tr = true_aggregates(data, outcome, sample)
    if tr is None:
        return None
    d = sample_frame(data, sample)[[UNIT, TIME, COHORT]].copy()
    cell = tr["att_gt"].set_index(["cohort", "time"])["att"]
    key = pd.MultiIndex.from_arrays([d[COHORT], d[TIME]])
    d["tau"] = np.nan_to_num(cell.reindex(key).to_numpy(float), nan=0.0)
    d.loc[(d[COHORT] == 0) | (d[TIME] < d[COHORT]), "tau"] = 0.0
    return bacon_decomposition(
        d,
        outcome="tau",
        unit=UNIT,
        time=TIME,
        cohort=COHORT,
        data_layer=data.label + " [true effects]",
    )


def bacon_table(dec, dec_truth=None) -> pd.DataFrame:
    """Weight and average estimate of each comparison type (and of the true-effects panel)."""
    t = dec.by_type().rename(columns={"weight": "weight", "estimate": "estimate"})
    n = dec.table.groupby("type").size()
    t["n_comparisons"] = t["type"].map(n).astype(int)
    t["contribution"] = t["weight"] * t["estimate"]
    if dec_truth is not None:
        bt = dec_truth.by_type().set_index("type")
        t["estimate_true_effects"] = t["type"].map(bt["estimate"])
    tot = {
        "type": "TWFE (weighted sum)",
        "weight": t["weight"].sum(),
        "estimate": dec.twfe,
        "n_comparisons": int(t["n_comparisons"].sum()),
        "contribution": dec.twfe,
    }
    if dec_truth is not None:
        tot["estimate_true_effects"] = dec_truth.twfe
    return pd.concat([t, pd.DataFrame([tot])], ignore_index=True)


# ----------------------------------------------------------- pre-trends / honest
def pretrend_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Joint pre-trend test of every event-study estimator."""
    rows = []
    # every specification with an event-study form; BJS's leads come from its
    # separate pre-trend regression (results key "bjs_pre")
    for spec in SPECS:
        if spec.key == "twfe":
            continue
        key = "bjs_pre" if spec.key == "bjs" else spec.key
        lab = spec.pretrend_label or spec.label
        r = results.get(key)
        pt = getattr(r, "pretest", None)
        if key.startswith("cs") and hasattr(r, "aggregates"):
            pt = _cs_lead_test(r)
        if pt is None:
            rows.append(
                {
                    "estimator": key,
                    "label": lab,
                    "test": "",
                    "stat": np.nan,
                    "df": np.nan,
                    "p_value": np.nan,
                }
            )
            continue
        rows.append(
            {
                "estimator": key,
                "label": lab,
                "test": str(pt.get("name", "Wald")),
                "stat": float(pt.get("stat", np.nan)),
                "df": float(pt.get("df", np.nan)),
                "p_value": float(pt.get("p_value", np.nan)),
            }
        )
    return pd.DataFrame(rows)


def _cs_lead_test(result, window: tuple[int, int] = WINDOW) -> dict[str, Any]:
    """Wald test that the CS event-study leads ``window[0]..-2`` are zero.

    Uses the dynamic aggregate (universal base period, reference -1) and its
    influence-function covariance. The cell-level pre-test of R ``did``
    (all pre-treatment ATT(g,t)) is singular here: with one- or two-county
    cohorts it has more cells than the covariance can support.
    """
    from analysis.inference.vcov import wald_test

    agg = result.aggregates["dynamic"]
    by = agg.by.reset_index(drop=True)
    ev = by["event"].to_numpy()
    idx = [int(np.flatnonzero(ev == e)[0]) for e in range(window[0], -1) if (ev == e).any()]
    w = wald_test(by["att"].to_numpy()[idx], np.asarray(agg.vcov)[np.ix_(idx, idx)])
    return {
        "name": f"Wald test of event-study leads {window[0]}..-2",
        "stat": w.stat,
        "df": w.df,
        "p_value": w.p_value,
    }


def honest(result, window: tuple[int, int] = WINDOW) -> dict[str, Any]:
    """HonestDiD on the main CS event study: relative magnitudes and smoothness.

    Target: the average effect over event times 0..``window[1]``; pre-periods
    ``window[0]..-2`` (reference -1, universal base period).
    """
    from analysis.inference.honest import honest_did

    agg = result.aggregates["dynamic"]
    by = agg.by.reset_index(drop=True)
    ev = by["event"].to_numpy()
    pre = [e for e in range(window[0], -1) if e in ev]
    post = [e for e in range(0, window[1] + 1) if e in ev]
    idx = [int(np.flatnonzero(ev == e)[0]) for e in pre + post]
    beta = by["att"].to_numpy()[idx]
    V = np.asarray(agg.vcov)[np.ix_(idx, idx)]
    lvec = np.full(len(post), 1.0 / len(post))
    out = {}
    for restr in ("relative_magnitude", "smoothness"):
        # six Mbar values on [0, 2] (R's default range): the C-LF cost grows with the grid
        grid = np.linspace(0.0, 2.0, 6) if restr == "relative_magnitude" else None
        out[restr] = honest_did(
            beta,
            V,
            len(pre),
            len(post),
            restr,
            grid=grid,
            l_vec=lvec,
            alpha=ALPHA,
            lf_sims=20_000,
            seed=DRAW_SEED,
        )
    return out


def honest_table(h: Mapping[str, Any]) -> pd.DataFrame:
    """Original and robust intervals of both restrictions, with breakdown values."""
    rows = []
    for r in h.values():
        t = r.tidy()
        t["breakdown"] = r.breakdown
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------ heterogeneity
def subgroups(data: AnnualData) -> list[tuple[str, str, list[int]]]:
    """(dimension, label, treated unit codes) of the seed paper's heterogeneity splits."""
    d = sample_frame(data, "all")
    u = d.drop_duplicates(UNIT)
    tr = u[u[COHORT] > 0]
    out: list[tuple[str, str, list[int]]] = []
    norail = tr["railway"].astype(bool) == False  # noqa: E712
    out.append(
        (
            "railway",
            "no railway (Yunhe, Jingning, Wencheng, Taishun)",
            tr.loc[norail, UNIT].tolist(),
        )
    )
    out.append(("railway", "railway", tr.loc[~norail, UNIT].tolist()))
    for k in sorted(x for x in tr["enclave_kind"].fillna("").unique() if x):
        out.append(("enclave kind", k, tr.loc[tr["enclave_kind"] == k, UNIT].tolist()))
    en = _prefecture_names()
    for p in sorted(tr[CLUSTER].unique()):
        out.append(("prefecture", en.get(int(p), str(p)), tr.loc[tr[CLUSTER] == p, UNIT].tolist()))
    soe = tr["soe_cohort"].fillna(0).astype(int) > 0
    out.append(("SOE pairing", "SOE-paired counties", tr.loc[soe, UNIT].tolist()))
    out.append(("SOE pairing", "other treated counties", tr.loc[~soe, UNIT].tolist()))
    return out


def _prefecture_names() -> dict[int, str]:
    from analysis.data import registry

    c = registry.load_counties()
    return dict(zip(c["prefecture_code"].astype(int), c["prefecture_en"], strict=False))


def heterogeneity_table(data: AnnualData, outcome: str) -> pd.DataFrame:
    """Main CS ATT for each subgroup of treated counties against all untreated comparisons.

    Each row re-estimates on the subgroup's treated counties plus every
    county not treated in the panel; other treated counties are left out.
    """
    z = stats.norm.ppf(1 - ALPHA / 2)
    d = sample_frame(data, "all")
    treated_all = set(d.loc[d[COHORT] > 0, UNIT])
    rows = []
    for dim, lab, codes in subgroups(data):
        row = {"dimension": dim, "subgroup": lab, "n_treated": len(codes)}
        if not codes:
            rows.append(
                {
                    **row,
                    "att": np.nan,
                    "se": np.nan,
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    "note": "no treated county",
                }
            )
            continue
        drop = treated_all - set(codes)
        sub = AnnualData(
            panel=d[~d[UNIT].isin(drop)].reset_index(drop=True),
            layer=data.layer,
            scenario=data.scenario,
            seed=data.seed,
            source=data.source,
        )
        try:
            r = fit(sub, outcome, MAIN)
            if len(codes) == 1:
                # one treated county: its influence function is identically zero, so
                # the analytic SE would ignore the treated side's variability entirely
                rows.append(
                    {
                        **row,
                        "att": r.att,
                        "se": np.nan,
                        "ci_low": np.nan,
                        "ci_high": np.nan,
                        "note": "one treated county: no valid SE",
                    }
                )
                continue
            rows.append(
                {
                    **row,
                    "att": r.att,
                    "se": r.se,
                    "ci_low": r.att - z * r.se,
                    "ci_high": r.att + z * r.se,
                    "note": "",
                }
            )
        except InputError as e:
            rows.append(
                {
                    **row,
                    "att": np.nan,
                    "se": np.nan,
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    "note": str(e),
                }
            )
    return pd.DataFrame(rows)
