r"""Teaching study: what each staggered-DiD estimator does under five DGPs, and
inference with few clusters. **Every number here is from SYNTHETIC data.**

Data-generating processes
-------------------------
All five build on :func:`analysis.data.simulate.simulate_staggered` (balanced
panel, unit and period effects, cohorts first treated in periods 3, 5, 7 of 8,
30% never treated, i.i.d. N(0,1) noise) and add at most one complication:

.. math::

    y_{it} = \alpha_i + \lambda_t + \tau_{g_i}(t)\,1\{t \ge g_i\}
             + a\,1\{t = g_i - 1\} + \kappa\,(t-1)\,1\{g_i > 0\} + \varepsilon_{it}.

============== ===================================================== ===========
name           effect :math:`\tau_g(t)` and complication             parallel trends
============== ===================================================== ===========
homogeneous    2 for every cohort and period                          hold
heterogeneous  3, 2, 1 for cohorts 3, 5, 7 (constant over time)       hold
dynamic        1 + 0.5 (t - g): grows with exposure                   hold
anticipation   2, plus :math:`a = 1` in the period before adoption    hold (post)
pt_violation   2, plus a trend :math:`\kappa = 0.15` per period for   fail
               ever-treated units
============== ===================================================== ===========

Estimands. ``twfe, cs, sa, bjs, gardner`` are compared with the overall ATT
(average of the true :math:`\tau` over treated unit-periods, R ``did``'s
"simple"); ``event`` (the dynamic TWFE event study) reports the equally
weighted mean of its post-period coefficients, so it is compared with the
equally weighted mean of the true event-time effects over the same event
times. Static TWFE has no causal estimand under heterogeneity: its "bias" is
the distance from the overall ATT, which is the quantity users read it as.

Monte Carlo
-----------
Each replication draws a panel from its own seed (taken from the engine's block
generator), fits every estimator with its defaults (analytic standard errors,
clustered by unit) and records the estimate, its standard error and the truth.
Reported: bias :math:`\bar{\hat\theta} - \bar\theta`, RMSE, the coverage of the
normal 95% interval :math:`\hat\theta \pm 1.96\,\widehat{se}` and its Monte
Carlo standard error :math:`\sqrt{c(1-c)/R}`. Replications run in fixed
blocks on :func:`analysis.inference.engine.run_draws`, so results are
identical serially, with joblib workers or on a Dask cluster.

Few clusters
------------
Panels of :math:`G` units (= clusters) x 10 periods from
:class:`analysis.inference.power.PanelDesign` (AR(1) errors, :math:`\rho = 0.5`;
one unit in six treated -- 1, 2, 4 and 8 treated units at :math:`G` = 6, 12, 26, 50 --
in periods 5 and 7), **no effect**. Few *treated* clusters are what breaks
cluster-robust inference (MacKinnon and Webb 2017). For the TWFE
coefficient we record how often each test rejects at 5%: CR1 with
:math:`t(G-1)`, CR2 (Bell-McCaffrey) with Satterthwaite degrees of freedom
(:mod:`analysis.inference.crve`), the WCR wild cluster bootstrap with Webb
weights (:mod:`analysis.inference.wild`) and randomisation inference on the
TWFE t-statistic (:mod:`analysis.inference.ri`, exact when the assignments can
be enumerated).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.data.atomic import atomic_path, atomic_write_text
from analysis.data.simulate import SimulatedPanel, simulate_staggered
from analysis.errors import InputError
from analysis.estimators import get_estimator, registry
from analysis.inference.engine import run_draws

__all__ = [
    "DGPS",
    "METHODS",
    "DGP",
    "simulate_dgp",
    "estimands",
    "monte_carlo",
    "summarise",
    "few_cluster_study",
    "record_runs",
    "load_recorded",
    "mde_grid",
    "dynamic_mde_factor",
    "RECORD_DIR",
    "pre_analysis_plan",
]

#: The estimators compared: every method of the registry (one list of methods) whose
#: default SEs are analytic (resampling-SE methods re-fit per replication).
METHODS: tuple[str, ...] = registry.methods("analytic_se")
FEW_CLUSTER_METHODS: tuple[str, ...] = ("CR1", "CR2", "wild", "ri")
RECORD_DIR = Path(__file__).resolve().parents[2] / "data" / "derived" / "teaching"
SYNTHETIC = "SYNTHETIC (simulated; not about Zhejiang)"
#: Replications per engine block (part of the random design).
MC_BLOCK = 25
Backend = Literal["serial", "joblib", "dask"]


@dataclass(frozen=True)
class DGP:
    """One data-generating process of the teaching Monte Carlo (module docstring)."""

    name: str
    label: str
    base_effect: tuple[float, ...] | float = 2.0
    slope: float = 0.0
    anticipation: float = 0.0
    trend: float = 0.0
    n_units: int = 200
    n_periods: int = 8
    cohorts: tuple[int, ...] = (3, 5, 7)
    never_share: float = 0.3
    noise_sd: float = 1.0


DGPS: dict[str, DGP] = {
    d.name: d
    for d in (
        DGP("homogeneous", "Homogeneous effect"),
        DGP("heterogeneous", "Heterogeneous by cohort", base_effect=(3.0, 2.0, 1.0)),
        DGP("dynamic", "Dynamic (grows with exposure)", base_effect=1.0, slope=0.5),
        DGP("anticipation", "Anticipation one period ahead", anticipation=1.0),
        DGP("pt_violation", "Parallel trends violated", trend=0.15),
    )
}


def _dgp(dgp: str | DGP) -> DGP:
    if isinstance(dgp, DGP):
        return dgp
    if dgp not in DGPS:
        raise InputError(f"unknown DGP {dgp!r}; choose one of {', '.join(DGPS)}")
    return DGPS[dgp]


def simulate_dgp(dgp: str | DGP, seed: int = 0) -> SimulatedPanel:
    """One panel of ``dgp`` with its true ATT(g, t) (module docstring)."""
    d = _dgp(dgp)
    sim = simulate_staggered(
        n_units=d.n_units,
        n_periods=d.n_periods,
        cohorts=d.cohorts,
        never_share=d.never_share,
        base_effect=d.base_effect,
        slope=d.slope,
        noise_sd=d.noise_sd,
        seed=seed,
    )
    data = sim.data
    if d.anticipation or d.trend:
        g, t = data["cohort"].to_numpy(), data["time"].to_numpy()
        extra = d.anticipation * ((g > 0) & (t == g - 1)) + d.trend * (t - 1) * (g > 0)
        data = data.assign(y=data["y"] + extra)
    return SimulatedPanel(data=data, att_gt=sim.att_gt)


def estimands(sim: SimulatedPanel, method: str, result: Any = None) -> float:
    """The true value of the number ``method`` reports as its ``simple`` aggregate."""
    if method != "event":
        return sim.true_simple()
    dyn = sim.true_dynamic()
    if result is not None and "dynamic" in result.aggregates:
        keys = result.aggregates["dynamic"].by["event"].to_numpy()
        keys = keys[keys >= 0]
        return float(dyn.reindex(keys).mean())
    return float(dyn.mean())


def _fit(method: str, data: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_estimator(method)(data, outcome="y", unit="unit", time="time", cohort="cohort")


def _mc_block(
    rng: np.random.Generator, size: int, *, dgp: DGP, methods: tuple[str, ...]
) -> np.ndarray:
    """``size`` replications -> array (size, n_methods, 4): estimate, se, truth, seed."""
    out = np.empty((size, len(methods), 4))
    for r in range(size):
        s = int(rng.integers(0, 2**32))
        sim = simulate_dgp(dgp, seed=s)
        for j, m in enumerate(methods):
            res = _fit(m, sim.data)
            agg = res.aggregates["simple"]
            out[r, j] = (agg.att, agg.se, estimands(sim, m, res), s)
    return out


def _client(client: Any, address: str | None) -> Any:
    if address is None:
        return client
    from dask.distributed import Client

    return Client(address)


@dataclass(frozen=True)
class MonteCarlo:
    """Draws of the teaching Monte Carlo (one row per DGP x replication x method)."""

    draws: pd.DataFrame
    seed: int
    n_reps: int
    methods: tuple[str, ...]
    dgps: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        return summarise(self.draws, level=level)


def monte_carlo(
    dgps: Sequence[str] = tuple(DGPS),
    methods: Sequence[str] = METHODS,
    *,
    n_reps: int = 500,
    seed: int = 20260601,
    n_jobs: int = 1,
    backend: Backend = "joblib",
    client: Any = None,
    address: str | None = None,
    block: int = MC_BLOCK,
) -> MonteCarlo:
    """Run the teaching Monte Carlo on the package's simulation engine.

    Parameters
    ----------
    dgps, methods
        DGP names (:data:`DGPS`) and estimator names (:data:`METHODS`).
    n_reps
        Replications per DGP.
    seed
        Root seed; DGP number ``k`` uses ``SeedSequence([seed, k])``, so adding a
        DGP never changes the others.
    n_jobs, backend
        Workers and backend of :func:`~analysis.inference.engine.run_draws`
        (``"serial"``, ``"joblib"`` or ``"dask"``).
    client, address
        A ``dask.distributed.Client`` or a scheduler address such as
        ``"tcp://10.0.0.5:8786"`` (implies ``backend="dask"``).
    block
        Replications per engine block (part of the random design).

    Returns
    -------
    MonteCarlo
        Identical for any ``n_jobs`` / backend (blocks carry their own seeds).
    """
    methods = tuple(methods)
    for m in methods:
        get_estimator(m)  # validates the name
    if isinstance(n_reps, bool) or not isinstance(n_reps, (int, np.integer)) or n_reps < 1:
        raise InputError(f"n_reps must be a positive integer (got {n_reps!r})")
    client = _client(client, address)
    if client is not None:
        backend = "dask"
    frames = []
    for k, name in enumerate(dgps):
        d = _dgp(name)
        fn = partial(_mc_block, dgp=d, methods=methods)
        arr = run_draws(
            fn,
            int(n_reps),
            [int(seed), k],
            block=block,
            n_jobs=n_jobs,
            backend=backend,
            client=client,
            desc=f"MC {d.name}",
        )
        rep = np.repeat(np.arange(1, n_reps + 1), len(methods))
        frames.append(
            pd.DataFrame(
                {
                    "dgp": d.name,
                    "rep": rep,
                    "panel_seed": arr[:, :, 3].ravel().astype(np.int64),
                    "method": np.tile(methods, n_reps),
                    "estimate": arr[:, :, 0].ravel(),
                    "se": arr[:, :, 1].ravel(),
                    "truth": arr[:, :, 2].ravel(),
                }
            )
        )
    return MonteCarlo(
        draws=pd.concat(frames, ignore_index=True),
        seed=int(seed),
        n_reps=int(n_reps),
        methods=methods,
        dgps=tuple(dgps),
    )


def summarise(draws: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Bias, RMSE and interval coverage by DGP and method (module docstring)."""
    z = stats.norm.ppf(0.5 + level / 2)
    d = draws.assign(
        err=draws["estimate"] - draws["truth"],
        cover=(draws["estimate"] - draws["truth"]).abs() <= z * draws["se"],
    )
    g = d.groupby(["dgp", "method"], sort=False)
    out = pd.DataFrame(
        {
            "n_reps": g.size(),
            "truth": g["truth"].mean(),
            "mean_estimate": g["estimate"].mean(),
            "bias": g["err"].mean(),
            "rmse": g["err"].apply(lambda e: math.sqrt(float((e**2).mean()))),
            "sd_estimate": g["estimate"].std(ddof=1),
            "mean_se": g["se"].mean(),
            "coverage": g["cover"].mean(),
        }
    ).reset_index()
    out["coverage_mc_se"] = np.sqrt(out["coverage"] * (1 - out["coverage"]) / out["n_reps"])
    return out


# ============================================================== few clusters
def _fc_block(
    rng: np.random.Generator,
    size: int,
    *,
    G: int,
    n_periods: int,
    rho: float,
    B: int,
    treated_share: float = 1 / 6,
) -> np.ndarray:
    """``size`` null panels with ``G`` clusters -> p-values (size, 4) + panel seed."""
    from analysis.inference.crve import ols_cluster
    from analysis.inference.power import PanelDesign
    from analysis.inference.ri import randomization_test
    from analysis.inference.wild import wild_cluster_bootstrap

    n_treated = max(1, int(round(G * treated_share)))
    design = PanelDesign.from_counts(G, n_treated, n_periods, (5, 7), rho=rho)
    out = np.empty((size, len(FEW_CLUSTER_METHODS) + 1))
    for r in range(size):
        s = int(rng.integers(0, 2**32))
        e = design.errors(np.random.default_rng(s), 1)[0]
        d = design.long(e)
        X = ((d["cohort"] > 0) & (d["time"] >= d["cohort"])).astype(float).to_frame("D")
        fe = d[["unit", "time"]]
        p_cr1 = ols_cluster(d["y"], X, d["unit"], fe=fe, kind="CR1").p[0]
        p_cr2 = ols_cluster(d["y"], X, d["unit"], fe=fe, kind="CR2").p[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p_w = wild_cluster_bootstrap(
                d["y"], X, d["unit"], 0, fe=fe, B=B, weights="webb", ci=False, seed=s
            ).p_value
            p_ri = randomization_test(
                d,
                unit="unit",
                time="time",
                cohort="cohort",
                statistic="twfe_t",
                outcome="y",
                n_draws=B,
                seed=s,
                verify=False,
            ).p_value
        out[r] = (p_cr1, p_cr2, p_w, p_ri, s)
    return out


def few_cluster_study(
    clusters: Sequence[int] = (6, 12, 26, 50),
    *,
    n_reps: int = 500,
    seed: int = 20260602,
    n_periods: int = 10,
    rho: float = 0.5,
    B: int = 999,
    alpha: float = 0.05,
    n_jobs: int = 1,
    backend: Backend = "joblib",
    client: Any = None,
    address: str | None = None,
    block: int = MC_BLOCK,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Null rejection rates of CR1, CR2, wild bootstrap and RI by number of clusters.

    Returns
    -------
    (summary, draws)
        ``summary``: ``clusters, method, n_reps, rejection, mc_se, alpha``;
        ``draws``: one row per replication with the four p-values.
    """
    client = _client(client, address)
    if client is not None:
        backend = "dask"
    rows, frames = [], []
    for G in clusters:
        if int(G) < 4:
            raise InputError("clusters must be at least 4")
        fn = partial(_fc_block, G=int(G), n_periods=n_periods, rho=rho, B=B)
        arr = run_draws(
            fn,
            int(n_reps),
            [int(seed), int(G)],
            block=block,
            n_jobs=n_jobs,
            backend=backend,
            client=client,
            desc=f"few clusters G={G}",
        )
        fr = pd.DataFrame(arr[:, :4], columns=list(FEW_CLUSTER_METHODS))
        fr.insert(0, "rep", np.arange(1, n_reps + 1))
        fr.insert(0, "clusters", int(G))
        fr["panel_seed"] = arr[:, 4].astype(np.int64)
        frames.append(fr)
        for m in FEW_CLUSTER_METHODS:
            rej = float((fr[m] <= alpha).mean())
            rows.append(
                {
                    "clusters": int(G),
                    "method": m,
                    "n_reps": int(n_reps),
                    "rejection": rej,
                    "mc_se": math.sqrt(rej * (1 - rej) / n_reps),
                    "alpha": alpha,
                }
            )
    return pd.DataFrame(rows), pd.concat(frames, ignore_index=True)


# ============================================================== recorded runs
def _atomic_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.12g", lineterminator="\n")


def record_runs(
    out_dir: Path = RECORD_DIR,
    *,
    n_reps: int = 500,
    mc_seed: int = 20260601,
    fc_seed: int = 20260602,
    only: Literal["mc", "fewclusters"] | None = None,
    add: Sequence[str] | None = None,
    n_jobs: int = 1,
    backend: Backend = "joblib",
    client: Any = None,
    address: str | None = None,
) -> dict[str, Any]:
    """Run the studies and write them (atomically, 12 significant digits) to ``out_dir``:
    ``mc_summary.csv``, ``mc_draws.csv``, ``fewclusters_summary.csv``,
    ``fewclusters_draws.csv`` and ``run.json`` (seeds, replications, design).
    ``only`` re-runs one of the two and keeps the other's recorded files.

    ``add`` runs the Monte Carlo for these methods only and merges them into the
    recorded run (use it when an estimator is registered after the record was
    made). It is exact, not an approximation: every replication's panel comes
    from ``SeedSequence([seed, k])`` and the block layout, never from the list of
    methods, so the added methods see the very panels the recorded ones saw
    (``panel_seed`` is checked row by row), and the merged draws are ordered as a
    full run would order them."""
    if only not in (None, "mc", "fewclusters"):
        raise InputError("only must be 'mc' or 'fewclusters'")
    if add is not None:
        return _add_methods(
            out_dir, tuple(add), n_jobs=n_jobs, backend=backend, client=client, address=address
        )
    old: dict[str, Any] = {}
    if only is not None and (out_dir / "run.json").exists():
        old = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))
    meta = {"data_layer": "synthetic", "label": SYNTHETIC, "regenerate": "make mc"}
    kw = dict(n_jobs=n_jobs, backend=backend, client=client, address=address)
    if only in (None, "mc"):
        mc = monte_carlo(n_reps=n_reps, seed=mc_seed, **kw)
        _atomic_csv(mc.summary(), out_dir / "mc_summary.csv")
        _atomic_csv(mc.draws, out_dir / "mc_draws.csv")
        meta["mc"] = {
            "seed": mc_seed,
            "n_reps": n_reps,
            "block": MC_BLOCK,
            "dgps": list(DGPS),
            "methods": list(METHODS),
            "level": 0.95,
        }
    else:
        meta["mc"] = old.get("mc")
    if only in (None, "fewclusters"):
        fc, fc_draws = few_cluster_study(n_reps=n_reps, seed=fc_seed, **kw)
        _atomic_csv(fc, out_dir / "fewclusters_summary.csv")
        _atomic_csv(fc_draws, out_dir / "fewclusters_draws.csv")
        meta["fewclusters"] = {
            "seed": fc_seed,
            "n_reps": n_reps,
            "block": MC_BLOCK,
            "clusters": [6, 12, 26, 50],
            "treated_clusters": [1, 2, 4, 8],
            "n_periods": 10,
            "rho": 0.5,
            "boot_and_ri_draws": 999,
            "alpha": 0.05,
            "methods": list(FEW_CLUSTER_METHODS),
        }
    else:
        meta["fewclusters"] = old.get("fewclusters")
    atomic_write_text(out_dir / "run.json", json.dumps(meta, indent=2) + "\n")
    return meta


def _add_methods(out_dir: Path, add: tuple[str, ...], **kw: Any) -> dict[str, Any]:
    """Merge newly registered methods into the recorded Monte Carlo (see :func:`record_runs`)."""
    rec = load_recorded(out_dir)
    meta = rec["meta"]
    have = list(meta["mc"]["methods"])
    unknown = [m for m in add if m not in METHODS]
    if unknown:
        raise InputError(
            f"cannot add {', '.join(unknown)}: the teaching Monte Carlo compares {', '.join(METHODS)}"
        )
    new = [m for m in add if m not in have]
    if not new:
        return meta
    mc = monte_carlo(
        tuple(meta["mc"]["dgps"]),
        tuple(new),
        n_reps=int(meta["mc"]["n_reps"]),
        seed=int(meta["mc"]["seed"]),
        block=int(meta["mc"]["block"]),
        **kw,
    )
    old = rec["mc_draws"]
    seeds_old = old.drop_duplicates(["dgp", "rep"]).set_index(["dgp", "rep"])["panel_seed"]
    seeds_new = mc.draws.drop_duplicates(["dgp", "rep"]).set_index(["dgp", "rep"])["panel_seed"]
    if not seeds_new.reindex(seeds_old.index).astype("int64").equals(seeds_old.astype("int64")):
        raise InputError("the recorded run's panels cannot be regenerated; run `make mc` in full")
    methods = [m for m in METHODS if m in have or m in new]
    draws = pd.concat([old, mc.draws[old.columns]], ignore_index=True)
    order = {
        "dgp": {d: i for i, d in enumerate(meta["mc"]["dgps"])},
        "method": {m: i for i, m in enumerate(methods)},
    }
    draws = draws.sort_values(
        ["dgp", "rep", "method"], key=lambda c: c.map(order[c.name]) if c.name in order else c
    ).reset_index(drop=True)
    _atomic_csv(summarise(draws, level=meta["mc"]["level"]), out_dir / "mc_summary.csv")
    _atomic_csv(draws, out_dir / "mc_draws.csv")
    meta["mc"]["methods"] = methods
    meta["mc"]["added"] = list(meta["mc"].get("added", [])) + new
    atomic_write_text(out_dir / "run.json", json.dumps(meta, indent=2) + "\n")
    return meta


def load_recorded(out_dir: Path = RECORD_DIR) -> dict[str, Any]:
    """The recorded runs: ``meta``, ``mc_summary``, ``mc_draws``, ``fewclusters``,
    ``fewclusters_draws`` (raises :class:`InputError` if absent: run ``make mc``)."""
    need = [
        "run.json",
        "mc_summary.csv",
        "mc_draws.csv",
        "fewclusters_summary.csv",
        "fewclusters_draws.csv",
    ]
    missing = [n for n in need if not (out_dir / n).exists()]
    if missing:
        raise InputError(
            f"recorded teaching runs missing in {out_dir}: {', '.join(missing)}; run `make mc`"
        )
    return {
        "meta": json.loads((out_dir / "run.json").read_text(encoding="utf-8")),
        "mc_summary": pd.read_csv(out_dir / "mc_summary.csv"),
        "mc_draws": pd.read_csv(out_dir / "mc_draws.csv"),
        "fewclusters": pd.read_csv(out_dir / "fewclusters_summary.csv"),
        "fewclusters_draws": pd.read_csv(out_dir / "fewclusters_draws.csv"),
    }


# ============================================================== design and power
def dynamic_mde_factor(design: Any, profile: Sequence[float], method: str = "twfe") -> float:
    r"""How much larger the average post-treatment effect must be under a dynamic
    profile than under a constant effect for the same power.

    With effects :math:`\tau_{g,t} = \delta\,h(t-g)` every estimator here is
    linear in :math:`Y` and its standard error does not depend on :math:`\tau`
    (:mod:`analysis.inference.power`, equivariance), so power depends only on the
    estimand shift :math:`\delta\kappa`. For TWFE :math:`\kappa = \sum W_{g,t}
    h(t-g)` with the de Chaisemartin-D'Haultfoeuille weights
    (:func:`analysis.estimators.twfe_weights.twfe_weights`); for the
    heterogeneity-robust CS/BJS "simple" ATT :math:`\kappa` equals the true
    overall ATT :math:`\bar h = \sum \pi_{g,t} h(t-g)`. The factor returned is
    :math:`\bar h/\kappa`: the constant-effect MDE times this factor is the MDE
    for the overall ATT under the profile (1 for CS/BJS; above 1 for TWFE when
    effects grow with exposure).

    ``profile[e]`` is :math:`h(e)` for :math:`e = 0, 1, \dots` (the last value
    is carried forward).
    """
    from analysis.estimators.twfe_weights import twfe_weights

    h = np.asarray(profile, dtype=float)
    if h.size == 0:
        raise InputError("profile must have at least one value")
    g = design.cohorts()
    long = design.long(np.zeros((design.n_units, design.n_periods)))
    w = twfe_weights(long, group="unit", time="time", cohort="cohort").cells
    e = (w["time"].to_numpy() - g[w["group"].to_numpy() - 1]).astype(int)
    he = h[np.minimum(e, h.size - 1)]
    hbar = float((w["natural"] * he).sum())
    if method != "twfe":
        return 1.0
    kappa = float((w["weight"].to_numpy() * he).sum())
    if kappa <= 0:
        return math.inf
    return hbar / kappa


def mde_grid(
    base: Any,
    *,
    n_treated: Sequence[int] | None = None,
    n_periods: Sequence[int] | None = None,
    rho: Sequence[float] | None = None,
    methods: Sequence[str] | None = None,
    n_sims: int = 300,
    seed: int = 0,
    adoption_share: float = 0.5,
) -> pd.DataFrame:
    """MDEs (80% power, 5% two-sided, analytic SEs) as one design feature varies.

    ``base`` is a :class:`~analysis.inference.power.PanelDesign`; each of
    ``n_treated``, ``n_periods``, ``rho`` given is varied alone, other features
    kept at ``base``. Treated units adopt at the period ``adoption_share`` of the
    way through the panel (one cohort) when ``n_treated`` or ``n_periods`` vary.
    Uses :func:`analysis.inference.power.mde` (common random numbers, ``seed``).
    ``methods`` defaults to the estimators whose power has closed forms for both
    analytic and randomisation inference (registry capability ``power_ri``:
    TWFE and CS).
    """
    from analysis.inference.power import PanelDesign, mde

    if methods is None:
        methods = registry.methods("power_ri")

    rows = []

    def one(feature: str, value: Any, des: Any) -> None:
        for m in methods:
            v = mde(des, method=m, n_sims=n_sims, seed=seed)
            rows.append(
                {
                    "feature": feature,
                    "value": value,
                    "method": m,
                    "mde": v,
                    "mde_over_sigma": v / des.sigma,
                    "n_units": des.n_units,
                    "n_treated": des.n_treated,
                    "n_periods": des.n_periods,
                    "rho": des.rho,
                }
            )

    first = int(base.first_period)

    def adopt(T: int) -> int:
        return first + max(1, min(T - 1, int(round(adoption_share * T))))

    def varied(n_periods: int, adoption: Mapping[int, int], rho: float) -> Any:
        # base's units, noise scale and first period; the varied feature as given
        return PanelDesign(
            base.n_units, n_periods, adoption, sigma=base.sigma, rho=rho, first_period=first
        )

    for k in n_treated or ():
        one("n_treated", int(k), varied(base.n_periods, {adopt(base.n_periods): int(k)}, base.rho))
    for T in n_periods or ():
        one("n_periods", int(T), varied(int(T), {adopt(int(T)): base.n_treated}, base.rho))
    for r in rho or ():
        one("rho", float(r), varied(base.n_periods, dict(base.adoption), float(r)))
    return pd.DataFrame(rows)


PRIMARY_OUTCOMES = ("log_rural_income", "log_urban_income", "urban_rural_ratio")
SECONDARY_OUTCOMES = ("log_employment", "log_rd", "log_gdp", "log_fiscal")


def pre_analysis_plan(
    design: Any,
    mde: pd.DataFrame,
    *,
    census_mde_sd: float | None = None,
    data_source: str = "Zhejiang Statistical Yearbook county tables keyed into data/raw/yearbook/",
) -> pd.DataFrame:
    """A one-page pre-analysis plan for the annual (yearbook) study.

    ``design`` is the planned :class:`~analysis.inference.power.PanelDesign`;
    ``mde`` a frame from :func:`analysis.inference.power.mde_table` on it
    (``method, inference, mde_over_sigma``); ``census_mde_sd`` the census
    design's MDE in s.d. of the 2010-2020 change, for comparison.

    Returns
    -------
    pandas.DataFrame
        ``section, item, plan`` rows (the hand-off to a table).
    """
    m = mde.dropna(subset=["mde"]).copy()

    def fmt(method: str, inference: str) -> str:
        r = m[(m["method"] == method) & (m["inference"] == inference)]
        return f"{float(r['mde_over_sigma'].iloc[0]):.2f} sigma" if len(r) else "n/a"

    years = (
        f"{design.times[0]}-{design.times[-1]}"
        if design.first_period > 1900
        else f"{design.n_periods} years"
    )
    rows = [
        (
            "Question",
            "Estimand",
            "ATT of a county's first enclave agreement in a developed partner area (any kind), "
            "overall and by years since adoption",
        ),
        (
            "Data",
            "Source",
            data_source + "; double entry, `enclave data check` before any estimate",
        ),
        (
            "Data",
            "Units and years",
            f"{design.n_units} mountain counties x {design.n_periods} years ({years}); "
            "磐安 (treated 1995) excluded",
        ),
        (
            "Data",
            "Treatment timing",
            f"{design.n_treated} counties treated in {', '.join(str(g) for g, _ in design.adoption)}; "
            "imputed adoption years flagged and dropped in a robustness check",
        ),
        (
            "Data",
            "Comparison group",
            "not-yet-treated mountain counties (every mountain county is eventually treated; the "
            "last cohort serves as control until it adopts); robustness: non-mountain units as "
            "never-treated",
        ),
        ("Outcomes", "Primary family", ", ".join(PRIMARY_OUTCOMES)),
        ("Outcomes", "Secondary", ", ".join(SECONDARY_OUTCOMES)),
        (
            "Estimation",
            "Primary estimator",
            "Callaway-Sant'Anna, not-yet-treated comparison, no covariates (DR with baseline "
            "covariates as robustness)",
        ),
        (
            "Estimation",
            "Robustness",
            "BJS imputation, Sun-Abraham, Gardner two-stage; static TWFE only with its "
            "de Chaisemartin-D'Haultfoeuille weights and Goodman-Bacon decomposition",
        ),
        (
            "Inference",
            "Standard errors",
            f"clustered by county ({design.n_units} clusters); wild cluster bootstrap (WCR, Webb "
            "weights, 9,999 draws) and randomisation inference over adoption cohorts reported beside "
            "analytic p-values",
        ),
        (
            "Inference",
            "Multiple outcomes",
            "Holm and Romano-Wolf over the primary family; Benjamini-Hochberg over the secondary",
        ),
        (
            "Identification",
            "Pre-trends",
            "event-study leads with a joint test; HonestDiD relative-magnitude bounds (M-bar = 0.5, 1)",
        ),
        (
            "Power",
            "MDE at the planned design (80% power, 5%)",
            f"CS analytic {fmt('cs', 'analytic')}; BJS {fmt('bjs', 'analytic')}; TWFE analytic "
            f"{fmt('twfe', 'analytic')}, TWFE RI {fmt('twfe', 'ri')} "
            f"(sigma = s.d. of the outcome's idiosyncratic error; AR(1) rho = {design.rho:.2f})",
        ),
        (
            "Power",
            "Census design for comparison",
            "n/a"
            if census_mde_sd is None
            else f"{census_mde_sd:.2f} s.d. of the 2010-2020 change (25 units, 5 treated, 2 periods)",
        ),
        (
            "Reporting",
            "Decision rule",
            "effects reported with intervals whatever their sign; a null is read against the MDE, "
            "never as evidence of no effect",
        ),
    ]
    return pd.DataFrame(rows, columns=["section", "item", "plan"])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m analysis.studies.teaching [--reps N] [--jobs J] [--address A]`` (``make mc``)."""
    import argparse
    import time

    p = argparse.ArgumentParser(
        description="Re-run and record the teaching Monte Carlo (synthetic)."
    )
    p.add_argument("--reps", type=int, default=500)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--address", default=None, help="Dask scheduler address (optional)")
    p.add_argument("--out", type=Path, default=RECORD_DIR)
    p.add_argument("--only", choices=("mc", "fewclusters"), default=None)
    p.add_argument(
        "--add",
        default=None,
        help="comma-separated methods to merge into the recorded Monte Carlo (same panels)",
    )
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    add = [m.strip() for m in a.add.split(",") if m.strip()] if a.add else None
    record_runs(a.out, n_reps=a.reps, n_jobs=a.jobs, address=a.address, only=a.only, add=add)
    print(f"recorded {a.reps} replications in {a.out} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
