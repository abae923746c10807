# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 — Staggered adoption, for a course
#
# **Data layer: SYNTHETIC.** Every panel in this notebook is simulated by
# `analysis.data.simulate` / `analysis.studies.teaching` with effects *we set*; nothing here
# is a finding about Zhejiang. The one real data set is the public US union-wage panel of
# Vella and Verbeek (1998), used only to check the TWFE-weights diagnostic against the
# published Stata output.
#
# What the notebook teaches, in order:
#
# 1. why the static two-way fixed-effects (TWFE) coefficient fails under staggered adoption —
#    the "forbidden comparisons" of the Goodman-Bacon decomposition and the negative weights of
#    de Chaisemartin and D'Haultfœuille;
# 2. what each estimator (TWFE, the dynamic TWFE event study, Callaway–Sant'Anna, Sun–Abraham,
#    Borusyak–Jaravel–Spiess imputation, Gardner two-stage) does under five data-generating
#    processes, in a Monte Carlo of 500 replications each;
# 3. how to do inference with few clusters (CR1, CR2/Bell–McCaffrey, wild cluster bootstrap,
#    randomisation inference at 6, 12, 26 and 50 clusters);
# 4. exercises.
#
# **For teachers: hiding the solutions.** Every solution cell carries the cell tag `solution`.
# To hand out a version without them:
#
# ```bash
# jupyter nbconvert notebooks/06_staggered_adoption_for_a_course.ipynb --to notebook \
#     --TagRemovePreprocessor.enabled=True \
#     --TagRemovePreprocessor.remove_cell_tags='["solution"]' --output 06_students.ipynb
# ```
#
# (JupyterLab shows tags under *Property Inspector*; in the `.py` file they are the
# `tags=["solution"]` markers.)
#
# The Monte Carlo results are **read from a recorded run** (`data/derived/teaching/`, with its
# seed and replication count in `run.json`), so this notebook runs in seconds; `make mc`
# re-runs it (about 10 minutes on 2 cores).

# %% tags=["parameters"]
# papermill parameters
seed = 7

# %%
import matplotlib.pyplot as plt
import pandas as pd

from analysis.data.paths import raw_path
from analysis.estimators import get_estimator
from analysis.estimators.bacon import bacon_decomposition
from analysis.estimators.twfe_weights import twfe_weights
from analysis.report.figures import bacon_plot, mc_metric_plot, rejection_plot, twfe_weights_plot
from analysis.studies import teaching

pd.set_option("display.width", 160)
pd.set_option("display.precision", 3)
LAYER = "SYNTHETIC"

# %% [markdown]
# ## 1. One panel, three answers
#
# A panel of 200 units over 8 periods; cohorts first treated in periods 3, 5 and 7, 30% never
# treated. The effect starts at 1 and grows by 0.5 per period of exposure (the *dynamic* DGP).
# We know the true overall ATT, so we can see who gets it right.

# %%
sim = teaching.simulate_dgp("dynamic", seed=seed)
panel = sim.data
cols = dict(outcome="y", unit="unit", time="time", cohort="cohort")
rows = []
for m in teaching.METHODS:
    res = get_estimator(m)(panel, **cols, data_layer="synthetic")
    agg = res.aggregates["simple"]
    rows.append(
        {"method": m, "estimate": agg.att, "se": agg.se, "truth": teaching.estimands(sim, m, res)}
    )
one = pd.DataFrame(rows).assign(error=lambda d: d["estimate"] - d["truth"])
one.style.format(precision=3).set_caption(f"One SYNTHETIC panel (dynamic DGP), seed = {seed}")

# %% [markdown]
# Static TWFE is far below the truth; the heterogeneity-robust estimators are close. Why?

# %% [markdown]
# ## 2. Forbidden comparisons: the Goodman-Bacon decomposition
#
# The TWFE coefficient is a weighted average of every 2×2 DiD between a cohort and a
# comparison group. Some comparisons use **already-treated** units as controls
# ("later vs earlier"); when effects grow over time, the controls' own growing effect is
# subtracted, dragging those 2×2s down — even below zero.

# %%
bd = bacon_decomposition(panel, **cols, data_layer="synthetic")
print(bd.by_type().to_string(index=False))
fig, ax = plt.subplots(figsize=(6.4, 4))
bacon_plot(bd, ax=ax, layer=LAYER)
ax.set_title("Goodman-Bacon decomposition (SYNTHETIC, dynamic DGP)")
fig.tight_layout()

# %% [markdown]
# ## 3. Negative weights: the de Chaisemartin–D'Haultfœuille diagnostic
#
# Under parallel trends, $\hat\beta_{TWFE}$ estimates $\sum_{(g,t)} W_{g,t}\Delta_{g,t}$, a
# weighted sum of the treated cells' effects with weights
# $W_{g,t} \propto N_{g,t}\,\varepsilon_{g,t}$, where $\varepsilon_{g,t}$ is the residual of the
# treatment on unit and period effects (`analysis.estimators.twfe_weights`). Weights sum to one
# but can be negative: typically long-exposed cells of early cohorts. Two summary measures tell
# how much effect heterogeneity would be needed to make $\beta$ misleading.

# %%
w = twfe_weights(panel, group="unit", time="time", cohort="cohort", outcome="y",
                 data_layer="synthetic")
print(w)
w.summary().style.format(precision=4).set_caption("TWFE weights of the treated cells — SYNTHETIC")

# %%
fig, ax = plt.subplots(figsize=(6.4, 3.6))
twfe_weights_plot(w, ax=ax, layer=LAYER)
fig.tight_layout()

# %% [markdown]
# The weights times the *true* cell effects give back what TWFE estimates (here, with noise,
# the identity holds for the expected value; the package's tests check it exactly):

# %%
truth_cells = sim.att_gt.merge(
    panel[["unit", "cohort"]].drop_duplicates(), on="cohort"
).rename(columns={"unit": "group"})
pd.Series(
    {"sum of W x true effect": w.implied_beta(truth_cells), "TWFE estimate": w.beta,
     "true overall ATT": sim.true_simple()}
)

# %% [markdown]
# ### The diagnostic against published output (real US data, not about Zhejiang)
#
# The same function on the union-wage panel used by the R `TwoWayFEWeights` / Stata
# `twowayfeweights` documentation reproduces their printed numbers: β = 0.1066, 820 positive
# and 147 negative weights (sum −0.0105), σ̲ = 0.0969 and 3.1759
# (`tests/test_twfe_weights.py`).

# %%
wage = pd.read_csv(raw_path("external", "wagepan_twfeweights.csv"))
print(twfe_weights(wage, group="nr", time="year", treatment="union", outcome="lwage",
                   data_layer="real (US, Vella-Verbeek 1998)"))

# %% [markdown]
# ## 4. Five data-generating processes
#
# Each adds one complication to the homogeneous baseline (`analysis.studies.teaching.DGPS`).

# %%
pd.DataFrame(
    [
        {"dgp": d.name, "description": d.label, "effect on impact": d.base_effect,
         "growth per period": d.slope, "anticipation": d.anticipation,
         "treated trend": d.trend}
        for d in teaching.DGPS.values()
    ]
).style.set_caption("The five SYNTHETIC data-generating processes")

# %% [markdown]
# ## 5. Monte Carlo: bias, RMSE and coverage (recorded run)
#
# 500 replications per DGP, every estimator with its default analytic standard errors
# (clustered by unit), 95% normal intervals. The estimand of each method is its own "simple"
# summary (module docstring of `analysis.studies.teaching`): the overall ATT for all but the
# event study, which is compared with the mean of the true post-period event-time effects.

# %%
rec = teaching.load_recorded()
meta = rec["meta"]
mc = rec["mc_summary"]
print(f"recorded run: seed {meta['mc']['seed']}, {meta['mc']['n_reps']} replications per DGP, "
      f"data layer {meta['data_layer']}; regenerate with `{meta['regenerate']}`")
table = mc.pivot(index="dgp", columns="method", values=["bias", "rmse", "coverage"])
table = table.reindex(list(teaching.DGPS)).reindex(columns=list(teaching.METHODS), level=1)
table.style.format(precision=3).set_caption(
    "Bias, RMSE and 95% CI coverage — SYNTHETIC Monte Carlo (recorded run)"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
mc_metric_plot(mc, "bias", ax=axes[0], target=0.0)
axes[0].set_title("Bias (estimate - truth)")
mc_metric_plot(mc, "coverage", ax=axes[1], target=0.95, err="coverage_mc_se", layer=LAYER)
axes[1].set_title("Coverage of the 95% interval (+-2 MC s.e.)")
axes[1].get_legend().remove()
fig.suptitle(f"SYNTHETIC Monte Carlo, {meta['mc']['n_reps']} replications per DGP")
fig.tight_layout()

# %% [markdown]
# How to read it:
#
# * **homogeneous** — everyone is unbiased and covers 95%: with a constant effect TWFE is fine.
# * **heterogeneous by cohort** — TWFE weights cohorts by the variance of their treatment, not
#   by their size, so it misses the ATT; the event study's equal weighting of event times
#   differs from its target too. The robust estimators are unbiased.
# * **dynamic** — TWFE is strongly biased downward (forbidden comparisons); its interval almost
#   never covers the truth.
# * **anticipation** — every estimator is biased: CS, SA and the event study use the period
#   before adoption as their baseline and lose the full anticipation effect; the imputation
#   estimators (BJS, Gardner) and TWFE average it over all pre-periods. The fix is to declare it
#   (`cs(..., anticipation=1)`, exercise 3).
# * **parallel-trends violation** — no estimator can fix a wrong identifying assumption; the
#   pre-trend tests and HonestDiD (notebook 02) are the tools.

# %% [markdown]
# ### Running the Monte Carlo yourself — locally or on a Dask cluster
#
# All replications go through the package's simulation engine
# (`analysis.inference.engine.run_draws`) in seeded blocks, so the numbers do not depend on how
# many workers run them. The cell below runs three replications serially and on an in-process
# Dask cluster and checks that they are identical. On a real cluster pass its address:
#
# ```python
# teaching.monte_carlo(n_reps=500, address="tcp://scheduler-host:8786")   # or client=Client(...)
# ```
#
# or from the shell: `make mc MC_ADDRESS=tcp://scheduler-host:8786` (`MC_JOBS=4` for local
# processes).

# %%
from dask.distributed import Client

small = dict(dgps=("dynamic",), methods=("twfe", "cs"), n_reps=3, block=1, seed=meta["mc"]["seed"])
with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
    on_dask = teaching.monte_carlo(**small, client=client).draws
serial = teaching.monte_carlo(**small, backend="serial").draws
print("identical on Dask and serially:", on_dask.equals(serial))
serial.style.format(precision=3).set_caption("Three SYNTHETIC replications (serial run)")

# %% [markdown]
# ## 6. Few clusters: which test keeps its size?
#
# Null panels (no effect) of $G$ units = clusters over 10 periods, AR(1) errors with ρ = 0.5,
# one unit in six treated (1, 2, 4 and 8 treated clusters at $G$ = 6, 12, 26, 50), adopting in
# periods 5 and 7. What breaks cluster-robust inference is few *treated* clusters. The share of
# 500 replications in which each 5% test of the TWFE coefficient rejects (recorded run):

# %%
fc = rec["fewclusters"]
fc.pivot(index="clusters", columns="method", values="rejection").style.format(
    precision=3
).set_caption("Null rejection rates at 5% — SYNTHETIC (recorded run)")

# %%
fig, ax = plt.subplots(figsize=(6.4, 4))
rejection_plot(fc, ax=ax, layer=LAYER)
ax.set_title(f"Few-cluster inference, {meta['fewclusters']['n_reps']} null replications each")
fig.tight_layout()

# %% [markdown]
# How to read it (one treated cluster at $G = 6$, two at 12, four at 26, eight at 50):
#
# * **CR1** with $t(G-1)$ critical values rejects about a third of the time with one treated
#   cluster and still twice too often with four: the treated clusters' residuals are fitted
#   almost exactly in the direction of the treatment, so the variance is understated.
# * **CR2** (Bell–McCaffrey, Satterthwaite degrees of freedom) cannot help with a *single*
#   treated cluster — its leverage in the treatment direction is one, and the adjustment has
#   nothing to work with — but from two treated clusters on it is conservative.
# * The **wild cluster bootstrap** (WCR, Webb weights) is very conservative with one or two
#   treated clusters (it almost never rejects: MacKinnon and Webb's warning) and close to 5%
#   from four.
# * **Randomisation inference** is exact by construction; with 6 units and one treated there
#   are only 6 assignments, so its p-value never falls below 1/6 and it cannot reject at 5%.
#
# With 26 mountain counties the *number of treated counties*, not the 26, is what decides which
# test to trust — the designs of notebook 07 have 4–9 treated counties.

# %% [markdown]
# ## 7. Exercises
#
# **Exercise 1.** In the dynamic DGP, which comparison type carries negative 2×2 estimates in
# the Bacon decomposition, and what share of the TWFE weight does it get?

# %% tags=["solution"]
bt = bd.by_type()
print(bt.to_string(index=False))
print("The 'later vs earlier' comparisons (already-treated controls) get weight "
      f"{bt.loc[bt['type'] == 'later_vs_earlier', 'weight'].sum():.2f}.")

# %% [markdown]
# **Exercise 2.** Set the effect to be constant (`homogeneous` DGP). Are there still negative
# TWFE weights? Does TWFE still get the ATT right? Why is there no contradiction?

# %% tags=["solution"]
sim_h = teaching.simulate_dgp("homogeneous", seed=seed)
w_h = twfe_weights(sim_h.data, group="unit", time="time", cohort="cohort", outcome="y")
print(w_h)
print("Negative weights remain (they are a property of the design, not of the effects), "
      "but with a constant effect sum(W * effect) = effect * sum(W) = effect.")

# %% [markdown]
# **Exercise 3.** Re-estimate the anticipation DGP with Callaway–Sant'Anna declaring one period
# of anticipation. What happens to the bias?

# %% tags=["solution"]
sim_a = teaching.simulate_dgp("anticipation", seed=seed)
cs = get_estimator("cs")
plain = cs(sim_a.data, **cols).aggregates["simple"].att
fixed = cs(sim_a.data, **cols, anticipation=1).aggregates["simple"].att
pd.Series({"truth": sim_a.true_simple(), "cs (anticipation=0)": plain,
           "cs (anticipation=1)": fixed})

# %% [markdown]
# **Exercise 4.** Using the recorded few-cluster draws, compute the rejection rate of CR1 at
# the 10% level with 6 clusters. Is the over-rejection worse or better than at 5%?

# %% tags=["solution"]
d6 = rec["fewclusters_draws"].query("clusters == 6")
pd.Series({f"{m} at 10%": (d6[m] <= 0.10).mean() for m in ("CR1", "CR2", "wild", "ri")})
