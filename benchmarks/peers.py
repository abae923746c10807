"""Implementations compared by ``benchmarks/run.py``: ours and the peer packages.

Every case is a pair ``(prepare, run)``:

* ``prepare(df) -> obj`` turns the canonical long panel (columns ``unit, time,
  cohort, x, y, cluster``; cohort 0 = never treated) into whatever the package
  wants (a MultiIndex, a treatment dummy, NaN for never-treated...).  It is *not*
  timed: it is input formatting, not estimation.
* ``run(obj) -> dict`` is the timed call.  It returns ``{"att": float, "se":
  float | None}`` — the overall (simple) ATT, or the TWFE / stage-2 coefficient —
  plus optional ``"vec"``: a mapping ``label -> value`` of finer estimates
  (group-time ATTs, event-time effects) that ``run.py`` also compares with ours.

Peers are imported lazily so that a missing optional package only fails its
own rows.  All calls use analytic standard errors clustered by unit unless the
case name says ``boot``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

Y, UNIT, TIME, COHORT = "y", "unit", "time", "cohort"
N_BOOT = 999
BOOT_SEED = 20240601

Case = tuple[Callable[[pd.DataFrame], Any], Callable[[Any], dict]]


@contextlib.contextmanager
def _quiet():
    """Silence peers that print tables or emit warnings on every call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield


def _ident(df: pd.DataFrame) -> pd.DataFrame:
    return df


def _with_d(df: pd.DataFrame) -> pd.DataFrame:
    c = df[COHORT].to_numpy()
    return df.assign(D=((c > 0) & (df[TIME].to_numpy() >= c)).astype(np.float64))


def _f(x) -> float:
    return float(np.asarray(x, dtype=float).ravel()[0])


# --------------------------------------------------------------------------- ours
def _ours(module: str, func: str, **kw):
    def run(df: pd.DataFrame) -> dict:
        import importlib

        f = getattr(importlib.import_module(f"analysis.estimators.{module}"), func)
        r = f(df, outcome=Y, unit=UNIT, time=TIME, cohort=COHORT, **kw)
        out = {"att": float(r.att), "se": None if r.se is None else float(r.se)}
        vec: dict[str, float] = {}
        gt = getattr(r, "att_gt", None)
        if module == "cs" and gt is not None and len(gt):
            vec.update(
                {
                    f"gt:{int(g)}:{int(t)}": float(a)
                    for g, t, a in zip(gt["cohort"], gt["time"], gt["att"], strict=True)
                }
            )
        dyn = (r.aggregates or {}).get("dynamic") if hasattr(r, "aggregates") else None
        if dyn is not None and getattr(dyn, "by", None) is not None:
            by = dyn.by
            vec.update(
                {f"e:{int(e)}": float(a) for e, a in zip(by["event"], by["att"], strict=True)}
            )
        grp = (r.aggregates or {}).get("group") if hasattr(r, "aggregates") else None
        if grp is not None and getattr(grp, "by", None) is not None:
            by = grp.by
            vec.update(
                {f"g:{int(g)}": float(a) for g, a in zip(by["cohort"], by["att"], strict=True)}
            )
        out["vec"] = vec
        return out

    return run


# ------------------------------------------------------------------- Callaway-Sant'Anna
def _csdid(boot: bool):
    def run(df: pd.DataFrame) -> dict:
        from csdid.att_gt import ATTgt

        with _quiet():
            m = ATTgt(
                yname=Y,
                tname=TIME,
                idname=UNIT,
                gname=COHORT,
                data=df,
                control_group=["nevertreated"],
                biters=N_BOOT,
            )
            m.fit(est_method="dr", bstrap=boot)
            gt = m.results
            vec = {
                f"gt:{int(g)}:{int(t)}": float(a)
                for g, t, a in zip(gt["group"], gt["year"], gt["att"], strict=True)
            }
            res = {}
            for typ in ("group", "dynamic", "calendar", "simple"):
                m.aggte(typec=typ, bstrap=boot, biters=N_BOOT if boot else None)
                res[typ] = dict(m.atte)
            for e, a in zip(res["dynamic"]["egt"], res["dynamic"]["att_egt"], strict=True):
                vec[f"e:{int(e)}"] = float(a)
            for g, a in zip(res["group"]["egt"], res["group"]["att_egt"], strict=True):
                vec[f"g:{int(g)}"] = float(a)
        s = res["simple"]
        return {"att": _f(s["overall_att"]), "se": _f(s["overall_se"]), "vec": vec}

    return _ident, run


def _differences_prep(df: pd.DataFrame) -> pd.DataFrame:
    c = df[COHORT].astype(float)
    return df.assign(cohort=c.where(c > 0)).set_index([UNIT, TIME])


def _differences(boot: bool):
    def run(df: pd.DataFrame) -> dict:
        from differences import ATTgt

        nb = N_BOOT if boot else 0
        with _quiet():
            m = ATTgt(df, cohort_column=COHORT)
            m.fit(
                "y",
                est_method="dr",
                control_group="never_treated",
                boot_iterations=nb,
                random_state=BOOT_SEED,
                progress_bar=False,
            )
            aggs = {
                a: m.aggregate(a, boot_iterations=nb, random_state=BOOT_SEED)
                for a in ("cohort", "event", "time", "simple")
            }
        vec = {}
        att_col = m.results().xs("ATT", axis=1, level=-1).iloc[:, 0]
        for (g, _b, t), a in att_col.items():
            vec[f"gt:{int(g)}:{int(t)}"] = float(a)
        for lab, key in (("event", "e"), ("cohort", "g")):
            ag = aggs[lab]
            col = ag.xs("ATT", axis=1, level=-1).iloc[:, 0]
            for idx, a in col.items():
                vec[f"{key}:{int(idx)}"] = float(a)
        s = aggs["simple"]
        att = _f(s.xs("ATT", axis=1, level=-1).iloc[0, 0])
        se = _f(s.xs("std_error", axis=1, level=-1).iloc[0, 0])
        return {"att": att, "se": se, "vec": vec}

    return _differences_prep, run


def _diffdiff_cs(boot: bool):
    def run(df: pd.DataFrame) -> dict:
        import diff_diff as dd

        with _quiet():
            est = dd.CallawaySantAnna(
                control_group="never_treated",
                estimation_method="dr",
                n_bootstrap=N_BOOT if boot else 0,
                seed=BOOT_SEED if boot else None,
            )
            r = est.fit(df, Y, UNIT, TIME, COHORT)
            # diff-diff offers simple / group / event_study (no calendar aggregation)
            aggs = {t: r.aggregate(t) for t in ("group", "event_study")}
        vec = {
            f"gt:{int(g)}:{int(t)}": float(v["effect"])
            for (g, t), v in r.group_time_effects.items()
        }
        es = r.event_study_effects or {}
        vec.update(
            {
                f"e:{int(e)}": float(v["effect"])
                for e, v in es.items()
                if np.isfinite(v.get("effect", np.nan)) and v.get("n_groups", 1) != 0
            }
        )
        ge = r.group_effects or {}
        vec.update({f"g:{int(g)}": float(v["effect"]) for g, v in ge.items()})
        del aggs
        return {"att": float(r.overall_att), "se": float(r.overall_se), "vec": vec}

    return _ident, run


def _numpy_cs(df: pd.DataFrame) -> dict:
    """A minimal vectorised numpy CS (never-treated control, varying base period, no
    covariates, analytic SEs): the practical bound of a dense implementation.

    Assumes what ours checks (balanced panel, one cohort per unit). One sort by
    (unit, time), Delta Y for all K cells (n x K), the dense influence-function
    matrix Psi (in place), the ATT(g,t), and the simple and event-time aggregates
    with their SEs (estimated-weight term included) through one product
    Psi @ W + H @ B."""
    u = df[UNIT].to_numpy()
    t = df[TIME].to_numpy()
    order = np.lexsort((t, u))
    times = np.unique(t)
    n_t = times.size
    n = u.size // n_t
    y = df[Y].to_numpy()[order].reshape(n, n_t)
    g = df[COHORT].to_numpy()[order][::n_t].astype(float)
    glist = np.unique(g[g > 0])
    cg, ct, tix, bix = [], [], [], []
    for c in glist:
        bar = int(np.flatnonzero(times < c)[-1])
        for j in range(1, n_t):
            cg.append(c)
            ct.append(times[j])
            tix.append(j)
            bix.append(j - 1 if times[j] < c else bar)
    cg, ct = np.array(cg), np.array(ct)
    k = cg.size
    ucoh, code = np.unique(g, return_inverse=True)  # code 0 = never treated
    cnt = np.bincount(code).astype(float)
    psi = y[:, tix] - y[:, bix]  # Delta Y, n x K; becomes Psi in place
    sums = np.zeros((ucoh.size, k))
    for c in range(ucoh.size):
        sums[c] = psi[code == c].sum(axis=0)
    tcode = np.searchsorted(ucoh, cg)
    cols = np.arange(k)
    m_t = sums[tcode, cols] / cnt[tcode]
    m_c = sums[0] / cnt[0]
    att = m_t - m_c
    coef = np.zeros((ucoh.size, k))
    cent = np.zeros((ucoh.size, k))
    coef[0], cent[0] = -n / cnt[0], m_c
    coef[tcode, cols], cent[tcode, cols] = n / cnt[tcode], m_t
    psi -= cent[code]
    psi *= coef[code]
    pg = cnt[tcode] / n
    ev = ct - cg
    sels = [cg <= ct] + [ev == e for e in np.unique(ev)]
    w = np.zeros((k, len(sels)))
    b = np.zeros((glist.size, len(sels)))
    th = np.zeros(len(sels))
    gidx = tcode - 1
    for j, sel in enumerate(sels):
        s_ = pg[sel].sum()
        w[sel, j] = pg[sel] / s_
        th[j] = w[:, j] @ att
        np.add.at(b[:, j], gidx[sel], (att[sel] - th[j]) / s_)
    h = (code[:, None] == np.arange(1, ucoh.size)[None, :]).astype(float)
    inf = psi @ w + h @ b
    se = np.sqrt((inf**2).sum(axis=0)) / n
    vec = {f"gt:{int(a)}:{int(c)}": float(v) for a, c, v in zip(cg, ct, att, strict=True)}
    vec.update({f"e:{int(e)}": float(v) for e, v in zip(np.unique(ev), th[1:], strict=True)})
    return {"att": float(th[0]), "se": float(se[0]), "vec": vec}


# ------------------------------------------------------------------------ Sun-Abraham
def _sa_prep(df: pd.DataFrame) -> pd.DataFrame:
    """fixest ``sunab()``: one dummy per (cohort, relative period), ref. period -1,
    never-treated units have none."""
    c = df[COHORT].to_numpy()
    rel = df[TIME].to_numpy() - c
    keep = (c > 0) & (rel != -1)
    lab = np.where(keep, "g" + c.astype(str) + "_e" + rel.astype(str), "ref")
    return df.assign(cell=lab)


def _pyfixest_sa(df: pd.DataFrame) -> dict:
    import pyfixest as pf

    with _quiet():
        fit = pf.feols(f"{Y} ~ i(cell, ref='ref') | {UNIT} + {TIME}", data=df, vcov={"CRV1": UNIT})
    names = list(fit._coefnames)
    b = np.asarray(fit.coef(), dtype=float)
    V = np.asarray(fit._vcov, dtype=float)
    # aggregate the post-period cells with weights = their number of observations
    # (fixest::aggregate(., "att")): ATT over all treated observations
    counts = df.loc[df["cell"] != "ref", "cell"].value_counts()
    w = np.zeros(len(names))
    for j, nm in enumerate(names):
        lab = nm.split("::", 1)[-1].rstrip("]").split("T.")[-1]
        e = int(lab.split("_e")[1])
        if e >= 0:
            w[j] = counts[lab]
    w /= w.sum()
    return {"att": float(w @ b), "se": float(np.sqrt(w @ V @ w))}


def _diffdiff_sa(df: pd.DataFrame) -> dict:
    import diff_diff as dd

    with _quiet():
        r = dd.SunAbraham(control_group="never_treated").fit(df, Y, UNIT, TIME, COHORT)
    vec = {f"e:{int(e)}": float(v["effect"]) for e, v in (r.event_study_effects or {}).items()}
    return {"att": float(r.overall_att), "se": float(r.overall_se), "vec": vec}


# ---------------------------------------------------------------- BJS imputation
def _diffdiff_bjs(df: pd.DataFrame) -> dict:
    import diff_diff as dd

    with _quiet():
        r = dd.ImputationDiD().fit(df, Y, UNIT, TIME, COHORT)
    return {"att": float(r.overall_att), "se": float(r.overall_se)}


# ------------------------------------------------------------------------- Gardner
def _pyfixest_did2s(df: pd.DataFrame) -> dict:
    import pyfixest as pf

    with _quiet():
        fit = pf.did2s(
            df,
            yname=Y,
            first_stage=f"~ 0 | {UNIT} + {TIME}",
            second_stage="~ D",
            treatment="D",
            cluster=UNIT,
        )
    return {"att": _f(fit.coef()["D"]), "se": _f(fit.se()["D"])}


def _diffdiff_gardner(df: pd.DataFrame) -> dict:
    import diff_diff as dd

    with _quiet():
        r = dd.TwoStageDiD().fit(df, Y, UNIT, TIME, COHORT)
    return {"att": float(r.overall_att), "se": float(r.overall_se)}


# ---------------------------------------------------------------------------- TWFE
def _pyfixest_twfe(df: pd.DataFrame) -> dict:
    import pyfixest as pf

    with _quiet():
        fit = pf.feols(f"{Y} ~ D | {UNIT} + {TIME}", data=df, vcov={"CRV1": UNIT})
    return {"att": _f(fit.coef()["D"]), "se": _f(fit.se()["D"])}


def _lm_prep(df: pd.DataFrame) -> pd.DataFrame:
    return _with_d(df).set_index([UNIT, TIME])


def _linearmodels_twfe(df: pd.DataFrame) -> dict:
    from linearmodels.panel import PanelOLS

    with _quiet():
        r = PanelOLS(df[Y], df[["D"]], entity_effects=True, time_effects=True).fit(
            cov_type="clustered", cluster_entity=True
        )
    return {"att": _f(r.params["D"]), "se": _f(r.std_errors["D"])}


# ------------------------------------------------------------------------ registry
#: estimator -> implementation -> (prepare, run).  "ours" is always first.
CASES: dict[str, dict[str, Case]] = {
    "cs": {
        "ours": (_ident, _ours("cs", "callaway_santanna", est_method="dr")),
        "csdid": _csdid(boot=False),
        "differences": _differences(boot=False),
        "diff-diff": _diffdiff_cs(boot=False),
        "numpy-minimal": (_ident, _numpy_cs),
    },
    "cs_boot": {
        "ours": (
            _ident,
            _ours("cs", "callaway_santanna", est_method="dr", n_boot=N_BOOT, seed=BOOT_SEED),
        ),
        "csdid": _csdid(boot=True),
        "differences": _differences(boot=True),
        "diff-diff": _diffdiff_cs(boot=True),
    },
    "sa": {
        "ours": (_ident, _ours("sa", "sun_abraham", control="never")),
        "pyfixest": (_sa_prep, _pyfixest_sa),
        "diff-diff": (_ident, _diffdiff_sa),
    },
    "bjs": {
        # like for like: diff-diff's ImputationDiD().fit computes the overall ATT only
        "ours": (_ident, _ours("bjs", "bjs_imputation", estimands="simple")),
        "diff-diff": (_ident, _diffdiff_bjs),
    },
    "gardner": {
        "ours": (_ident, _ours("gardner", "gardner")),
        "pyfixest": (_with_d, _pyfixest_did2s),
        "diff-diff": (_ident, _diffdiff_gardner),
    },
    "twfe": {
        "ours": (_ident, _ours("twfe", "twfe", ssc="fixest")),
        "pyfixest": (_with_d, _pyfixest_twfe),
        "linearmodels": (_lm_prep, _linearmodels_twfe),
    },
}

TITLES = {
    "cs": "Callaway-Sant'Anna (dr, never-treated, no covariates, analytic SEs, all aggregations)",
    "cs_boot": f"Callaway-Sant'Anna (dr, multiplier bootstrap, {N_BOOT} draws, all aggregations)",
    "sa": "Sun-Abraham interaction-weighted event study (never-treated control, CRV1 by unit)",
    "bjs": "Borusyak-Jaravel-Spiess imputation (unit-clustered analytic SEs)",
    "gardner": "Gardner two-stage DiD (GMM SEs clustered by unit)",
    "twfe": "Static TWFE, y ~ D | unit + time, CRV1 by unit",
}

#: implementations that are bounds, not peer packages: never the "fastest peer"
BOUNDS = {"numpy-minimal"}

#: which peers' package names to record versions of
PACKAGES = [
    "numpy",
    "pandas",
    "scipy",
    "pyfixest",
    "linearmodels",
    "csdid",
    "drdid",
    "differences",
    "diff-diff",
    "formulaic",
    "polars",
    "psutil",
]


def _ours_twfe_lm_se(df: pd.DataFrame) -> float:
    from analysis.estimators.twfe import twfe

    return float(twfe(df, outcome=Y, unit=UNIT, time=TIME, cohort=COHORT, ssc="linearmodels").se)


#: our SE recomputed (untimed) under a peer's small-sample convention, so that the
#: |ΔSE| column compares like with like: estimator -> peer -> f(prepared frame)
OURS_SE_FOR_PEER: dict[str, dict[str, Callable[[pd.DataFrame], float]]] = {
    "twfe": {"linearmodels": _ours_twfe_lm_se},
}


def exact_imputation_att(df: pd.DataFrame) -> float:
    """Imputation ATT (BJS = Gardner's static coefficient) by a direct sparse solve.

    Unit and time effects are fitted on the untreated observations by solving the
    normal equations exactly (sparse LU), then the ATT is the mean of
    ``y - fitted`` over treated observations: an iteration-free reference used to
    tell which implementation is right when they disagree.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    u = pd.factorize(df[UNIT])[0]
    t = pd.factorize(df[TIME], sort=True)[0]
    c, tt = df[COHORT].to_numpy(), df[TIME].to_numpy()
    treated = (c > 0) & (tt >= c)
    n = len(df)
    rows = np.arange(n)
    X = sp.hstack(
        [sp.csr_matrix((np.ones(n), (rows, u))), sp.csr_matrix((np.ones(n), (rows, t)))[:, 1:]]
    ).tocsr()
    X0 = X[~treated]
    b = spsolve((X0.T @ X0).tocsc(), X0.T @ df[Y].to_numpy()[~treated])
    return float(np.mean(df[Y].to_numpy()[treated] - X[treated] @ b))


#: static notes printed under the agreement summary of RESULTS.md
NOTES: list[str] = [
    "pyfixest `did2s` recovers the first-stage unit and time effects with `Feols.fixef()`, an "
    "iterative solver with a convergence tolerance, so its imputed Y(0) — and its ATT — "
    "carry an error of order 1e-5; ours and diff-diff agree with the iteration-free direct "
    "solve below to ≤ 1e-10. Its GMM variance builds dense unit and time dummy matrices "
    "(`C(unit)` through formulaic: rows × (units + periods) × 8 bytes, 16 GB at N = 10,000), "
    "which is what trips the memory guard from N = 10,000 on. diff-diff's `TwoStageDiD` "
    "likewise allocates a dense units × (units + periods) array in its variance at N = 100,000.",
    "TWFE: linearmodels' clustered SE uses its own small-sample factor; its |ΔSE| is "
    'measured against ours with `ssc="linearmodels"` (computed untimed in the same child).',
    "pyfixest has no Sun–Abraham class; its row is `feols(\"y ~ i(cell, ref='ref') | unit + "
    'time", vcov={"CRV1": "unit"})` with one dummy per (cohort, relative period ≠ -1) — '
    "what fixest's `sunab()` builds — aggregated to the ATT with cell-size weights (the "
    "aggregation's own cost, a few ms, is included in its time).",
    "diff-diff's Callaway–Sant'Anna offers the simple, group and event-study aggregations "
    "(no calendar aggregation); csdid, differences and ours compute all four.",
    'BJS: ours is called with `estimands="simple"` (overall ATT and its SE only), the '
    "request of diff-diff's `ImputationDiD().fit` (no event study, no pre-trend test). "
    "Gardner: ours computes more per call than the peers (dynamic effects as well as the "
    "overall ATT); the peers were asked only for the overall ATT and its SE.",
]
