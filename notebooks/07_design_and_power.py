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
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.data import annual
from analysis.inference.power import PanelDesign, estimate_noise, mde_table
from analysis.studies import census_did as cdid
from analysis.studies import teaching

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
census_tab[["method", "inference", "mde_sd_change", "size", "n_sims"]].style.format(
    precision=3
).set_caption("Census design: MDE in s.d. of the 2010-2020 change (SYNTHETIC noise, real design)")

# %% [markdown]
# An enclave would have to move an outcome by **well over one standard deviation of its
# ten-year change** (the RI row; the analytic test's MDE looks smaller only because it
# over-rejects, see `size`) to be detected with 80% power — which is why the census DiD
# (notebook 02) can rarely reject.

# %% [markdown]
# ## 2. The annual design
#
# Units: the same 25 mountain counties (磐安, treated 1995, excluded), 2010–2023, adoption years
# from the annual treatment coding (`analysis.data.annual.annual_treatment`: first enclave
# under the annual rule, with **imputed** years for counties whose enclave is sourced but undated).
# Every mountain county is eventually treated, so the comparison is the *not-yet-treated*
# counties: the 2022 cohort serves as the control group up to 2021, which is how we model it
# (2010–2021, the 2022 cohort as untreated). A second design uses all units, with the
# non-mountain units as never-treated controls (`comparison_sample(..., "never_nonmountain")`).
#
# Planning values for the noise come from the **SYNTHETIC** twin
# (`load_annual_panel(layer="synthetic")`; TWFE-residual s.d. and AR(1) ρ by
# `analysis.inference.power.estimate_noise`): they are calibrated guesses, to be replaced by the
# yearbook's own once keyed in.

# %%
treat = annual.annual_treatment()
mtn = treat[treat["mountain26"] & (treat["cohort"] != 1995)]
print(f"{len(mtn)} mountain counties; adoption years (counties, of which with imputed timing):")
print(mtn.groupby("cohort")["timing_imputed"].agg(counties="size", imputed="sum").T.to_string())

twin = annual.load_annual_panel(layer="synthetic")
twin = twin[twin["cohort"] != 1995].assign(
    log_rural_income=lambda d: np.log(d["rural_income"]),
    log_urban_income=lambda d: np.log(d["urban_income"]),
    log_employment=lambda d: np.log(d["employment"]),
    log_rd=lambda d: np.log(d["rd_expenditure"]),
)
noise = pd.DataFrame(
    {o: estimate_noise(twin, outcome=o, unit="code", time="year", cohort="cohort")
     for o in ("log_rural_income", "log_urban_income", "log_employment", "log_rd")}
).T[["sigma", "rho"]].astype(float)
noise.style.format(precision=3).set_caption("Planning noise from the SYNTHETIC twin (log points)")

# %%
rho_plan = round(float(noise["rho"].median()), 1)
early = mtn.loc[mtn["cohort"].between(2011, 2021), "cohort"].value_counts().sort_index()
design_a = PanelDesign(len(mtn), 12, {int(g): int(c) for g, c in early.items()}, sigma=1.0,
                     rho=rho_plan, first_period=2010,
                     source=f"annual treatment coding; rho {rho_plan} from the SYNTHETIC twin")
print("A (not-yet-treated mountain counties):", design_a.describe())
annual_tab = mde_table(design_a, methods=("twfe", "cs", "bjs"), inferences=("analytic", "ri"),
                       n_sims=n_sims, seed=seed, ri_draws=199)
allc = mtn.loc[mtn["cohort"] > 2010, "cohort"].value_counts().sort_index()
n_all = int((treat["cohort"] != 1995).sum())
wide = PanelDesign(n_all, 14, {int(g): int(c) for g, c in allc.items()}, sigma=1.0,
                   rho=rho_plan, first_period=2010, source="all units, non-mountain never treated")
print("B (non-mountain never-treated):", wide.describe())
wide_tab = mde_table(wide, methods=("twfe", "cs"), inferences=("analytic",), n_sims=n_sims,
                     seed=seed)
both = pd.concat([annual_tab.assign(design="A: mountain, not-yet-treated"),
                  wide_tab.assign(design="B: all units, never-treated")])
both[["design", "method", "inference", "mde_over_sigma", "size", "note"]].style.format(
    precision=3
).set_caption("Annual designs: MDE / sigma (SYNTHETIC noise, real adoption years)")

# %% [markdown]
# In outcome units (log points), using the twin's planning s.d. for each outcome (design A,
# Callaway–Sant'Anna, analytic and RI):

# %%
cs_a = annual_tab[annual_tab["method"] == "cs"].set_index("inference")["mde_over_sigma"]
(noise[["sigma"]].assign(mde_cs_analytic=noise["sigma"] * cs_a["analytic"],
                         mde_cs_ri=noise["sigma"] * cs_a["ri"])
 .style.format(precision=3)
 .set_caption("MDE in log points (x100 = approx. %), design A — SYNTHETIC planning values"))

# %% [markdown]
# With 25 clusters the analytic tests still reject too often under the null (`size` above 5%),
# most for BJS; the RI MDEs are the ones to plan with where available.
#
# ## 3. How the MDE moves with the design
#
# One feature varied at a time around design A (all treated units adopting mid-panel when the
# number of treated or of years varies). MDEs in units of σ.

# %%
grid = teaching.mde_grid(design_a, n_treated=(3, 5, 8, 12, 16, 20), n_periods=(4, 6, 8, 10, 14),
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
    {name: {m: teaching.dynamic_mde_factor(design_a, h, m) for m in ("twfe", "cs", "bjs")}
     for name, h in profiles.items()}
).T.rename_axis("effect profile").style.format(precision=2).set_caption(
    "MDE multiplier for the overall ATT, design A"
)

# %% [markdown]
# ## 5. A one-page pre-analysis plan for the yearbook study
#
# For a researcher about to key in the yearbook county tables: fix these choices *before*
# seeing the outcomes. The MDE line is computed above for the planned design.

# %%
census_mde_sd = float(census_tab.loc[census_tab["inference"] == "ri", "mde_sd_change"].iloc[0])
plan = teaching.pre_analysis_plan(design_a, annual_tab, census_mde_sd=census_mde_sd)
plan.style.hide(axis="index").set_properties(**{"text-align": "left"}).set_caption(
    "Pre-analysis plan: annual enclave study (MDEs from SYNTHETIC noise on the real design)"
)
