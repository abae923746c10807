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
# # 07 — Design and power: what can the census and an annual panel detect?
#
# **Data layer: REAL design, SYNTHETIC outcomes.** The *designs* are real: the 25 mountain
# consistent-boundary units and the 5 treated by the 2019 cut-off of the census DiD
# (notebook 02), and the adoption years of the sourced enclave timeline
# (`data/raw/enclave_events.csv`). The *outcomes* are simulated noise
# (`analysis.inference.power`: AR(1) errors, effects we set), so every minimum detectable effect
# (MDE) below is a property of the design, in units of the noise s.d. σ, not an estimate about
# Zhejiang.
#
# The MDE is the smallest constant effect detected with 80% power by a two-sided 5% test
# (simulated, common random numbers; `analysis.inference.power.mde`). We compare
#
# * the **census design** (2 periods, 2010 and 2020) the paper uses today, and
# * the **annual design** (2010–2023) a researcher gets by keying in the yearbook county tables,
#
# as functions of the number of treated counties, the number of years, the serial correlation of
# the errors and the dynamics of the effect — and end with a one-page pre-analysis plan.

# %% tags=["parameters"]
# papermill parameters
n_sims = 300
seed = 0

# %%
import dataclasses

import matplotlib.pyplot as plt
import pandas as pd
from IPython import get_ipython

from analysis.data.treatment import DEFAULT_RULE, first_enclave_year
from analysis.inference.power import PanelDesign, mde_table
from analysis.studies import census_did as cdid
from analysis.studies import teaching

get_ipython().run_line_magic("matplotlib", "inline")  # embed figures even under MPLBACKEND=Agg
pd.set_option("display.width", 160)
pd.set_option("display.max_colwidth", 200)
LAYER = "design: real; outcomes: SYNTHETIC noise"

# %% [markdown]
# ## 1. The census design
#
# 25 mountain units, 5 treated between the censuses, two periods. With two periods the DiD is a
# comparison of changes, so the MDE is reported in s.d. of the 2010–2020 change
# ($\sigma_\Delta = \sigma\sqrt{2(1-\rho)}$). The analytic TWFE test uses CR1 standard errors
# with normal critical values; with 5 treated units it over-rejects (its "size" column), and
# randomisation inference (RI) is the honest benchmark.

# %%
sample = cdid.build_sample()
census = PanelDesign(sample.n_units, 2, {2: sample.n_treated}, sigma=1.0, rho=0.0,
                     source="census sample: units and treated count; unit-variance noise")
print(census.describe())
census_tab = mde_table(census, methods=("twfe",), inferences=("analytic", "ri"), n_sims=n_sims,
                       seed=seed, ri_draws=199)
census_tab["mde_sd_change"] = census_tab["mde"] / 2**0.5
census_tab[["method", "inference", "mde_sd_change", "size", "n_sims"]]

# %% [markdown]
# An enclave would have to move an outcome by **well over one standard deviation of its
# ten-year change** (the RI row; the analytic test's MDE looks smaller only because it
# over-rejects, see `size`) to be detected with 80% power — which is why the census DiD
# (notebook 02) can rarely reject.

# %% [markdown]
# ## 2. The annual design
#
# Units: the same 25 mountain counties, 2010–2023. Adoption years: the first dated enclave of
# each county in the sourced timeline under the default rule extended to 2023. When the annual
# panel module lands (`analysis.data.annual.annual_treatment`, branch feat-twin) its imputed
# timings replace these; until then undated events are left out, so the treated count below is a
# lower bound.

# %%
rule = dataclasses.replace(DEFAULT_RULE, cutoff=2023)
first = first_enclave_year(rule)
cohorts = first[(first > 2010) & (first <= 2023)].value_counts().sort_index()
annual = PanelDesign(sample.n_units, 14, {int(g): int(c) for g, c in cohorts.items()},
                     sigma=1.0, rho=0.5, first_period=2010,
                     source="timeline adoption years; AR(1) rho = 0.5 planning value")
print(annual.describe())
annual_tab = mde_table(annual, methods=("twfe", "cs", "bjs"), inferences=("analytic", "ri"),
                       n_sims=n_sims, seed=seed, ri_draws=199)
annual_tab[["method", "inference", "mde_over_sigma", "size", "note"]]

# %% [markdown]
# With 25 clusters the analytic tests still reject too often under the null (`size` above 5%),
# most for BJS; the RI MDEs are the ones to plan with where available.
#
# ## 3. How the MDE moves with the design
#
# One feature varied at a time around the annual design (all treated units adopting mid-panel
# when the number of treated or of years varies). MDEs in units of σ.

# %%
grid = teaching.mde_grid(annual, n_treated=(3, 5, 8, 12, 16, 20), n_periods=(4, 6, 8, 10, 14),
                         rho=(0.0, 0.3, 0.6, 0.9), methods=("twfe", "cs"), n_sims=n_sims,
                         seed=seed)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
for ax, (feat, xlabel) in zip(
    axes,
    [("n_treated", "treated counties (of 25)"), ("n_periods", "years in the panel"),
     ("rho", "AR(1) serial correlation of the errors")],
    strict=True,
):
    sub = grid[grid["feature"] == feat]
    for m, s in sub.groupby("method"):
        ax.plot(s["value"], s["mde_over_sigma"], marker="o", label=m)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
axes[0].set_ylabel("MDE / sigma (80% power, 5% test)")
axes[0].legend(frameon=False)
axes[2].text(0.99, 0.01, LAYER, transform=axes[2].transAxes, ha="right", va="bottom", fontsize=7,
             color="0.35")
fig.suptitle("Minimum detectable effects of the annual design (SYNTHETIC noise)")
fig.tight_layout()

# %% [markdown]
# More treated counties help most; more years help less once a few pre- and post-periods
# exist; strong serial correlation makes extra years nearly worthless (each adds little new
# information), which is also why clustered standard errors are essential.

# %% [markdown]
# ## 4. Effect dynamics
#
# If the effect builds up over time, power for the *overall ATT* does not change for CS/BJS
# (they estimate it without bias whatever the profile), but static TWFE puts negative weight on
# long-exposed cells (notebook 06), so it needs a larger true ATT for the same power. The factor
# below multiplies the constant-effect MDE (`teaching.dynamic_mde_factor`, exact, from the
# de Chaisemartin–D'Haultfœuille weights of the design).

# %%
profiles = {
    "constant": [1.0],
    "ramp over 4 years": [0.25, 0.5, 0.75, 1.0],
    "delayed 2 years": [0.0, 0.0, 1.0],
    "linear growth": [1.0 + 0.5 * e for e in range(14)],
}
pd.DataFrame(
    {name: {m: teaching.dynamic_mde_factor(annual, h, m) for m in ("twfe", "cs", "bjs")}
     for name, h in profiles.items()}
).T.rename_axis("effect profile").style.format(precision=2).set_caption(
    "MDE multiplier for the overall ATT, annual design"
)

# %% [markdown]
# ## 5. A one-page pre-analysis plan for the yearbook study
#
# For a researcher about to key in the yearbook county tables: fix these choices *before*
# seeing the outcomes. The MDE line is computed above for the planned design.

# %%
census_mde_sd = float(census_tab.loc[census_tab["inference"] == "ri", "mde_sd_change"].iloc[0])
plan = teaching.pre_analysis_plan(annual, annual_tab, census_mde_sd=census_mde_sd)
plan.style.hide(axis="index").set_properties(**{"text-align": "left"}).set_caption(
    "Pre-analysis plan: annual enclave study (MDEs from SYNTHETIC noise on the real design)"
)
