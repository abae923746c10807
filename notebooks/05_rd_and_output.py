# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 — R&D and output: enclaves, innovation and the county economy
#
# **Data layer: printed in the banner below.** By default this notebook runs on the **SYNTHETIC**
# calibrated Zhejiang twin (`analysis.data.annual`), whose effects are set by code: on it every
# table and figure is a methods demonstration and a power analysis, never a finding about Zhejiang.
# With a complete real annual panel in `data/raw/yearbook/` the same notebook, unchanged, runs on the
# **REAL** yearbook layer and reads as findings. The notebook only calls the package; the design and
# every estimator are in `analysis/studies/annual_did.py`; each code cell below calls one section of
# `analysis/studies/annual/notebook.py`, the section code that notebooks 03–05 share.
#
# Outcomes: R&D intensity (% of GDP) and log R&D expenditure — the seed paper's "weak R&D"
# obstacle and the promise of sci-tech enclaves (科创飞地) — with log GDP and log fiscal revenue as
# secondary outcomes.

# %% tags=["parameters"]
layer = "auto"
scenario = "effects"

# %%
from analysis.studies import annual_did as ad
from analysis.studies.annual import notebook as nb

data = ad.load(layer=layer, scenario=scenario)
print(data.banner())
outcomes = ad.outcomes_of("rd")
analyses = {o: ad.analyse(data, o) for o in outcomes}  # every estimate, test and draw, once
print("outcomes:", ", ".join(ad.OUTCOMES[o].label for o in outcomes))

# %% [markdown]
# ## 1. Design
#
# * **Treatment**: a mountain county is treated from the first year it has an enclave in a developed
#   partner area under the panel's default annual rule (`cohort`); years imputed where the sources
#   give none are flagged (`timing_imputed`, dots in the picture). 磐安, treated since 1995, is treated
#   throughout and is dropped.
# * **Comparison groups**: the *not-yet-treated mountain counties* (main: same programme and terrain),
#   and the *never-treated* counties — mostly the non-mountain counties. Caveat: those are the
#   developed partner areas that host the enclaves, so spill-overs onto the hosts and their different
#   growth paths can bias a never-treated comparison.
# * **Clusters**: counties; prefectures (11) for prefecture-level shocks.

# %%
nb.show_design(data)

# %%
nb.show_timing(data)

# %% [markdown]
# ## 2. Estimates side by side
#
# One table per outcome: static TWFE, the TWFE event study (summarised as the mean of its e = 0..5
# coefficients), Callaway–Sant'Anna (doubly robust) with never-treated and with not-yet-treated
# comparisons, Sun–Abraham, BJS imputation and Gardner's two-stage estimator; standard errors
# clustered by county. The figure overlays their event studies with pointwise 95% intervals (bars) and
# sup-t simultaneous bands (boxes). On the twin the true value (table) and the true dynamic effects
# (black line) are shown.

# %%
nb.show_estimates(data, analyses)

# %% [markdown]
# The same estimators on the **26 mountain counties only** (the not-yet-treated mountain counties are
# then the whole comparison; estimators that need never-treated units are empty when every mountain
# county is eventually treated):

# %%
nb.show_mountain(analyses)

# %% [markdown]
# ## 3. Why TWFE differs: the Goodman-Bacon decomposition
#
# Static TWFE is a weighted average of every 2×2 comparison, including "forbidden" ones that use
# already-treated counties as controls; when effects grow with exposure those comparisons pull it
# away from the ATT. On the twin, decomposing the noise-free panel of true effects shows the bias TWFE
# should have (`estimate_true_effects`).

# %%
nb.show_bacon(data, analyses)

# %% [markdown]
# ## 4. Pre-trends and sensitivity (HonestDiD)
#
# Pre-trend tests of every event-study estimator, then Rambachan–Roth sensitivity of the main CS
# event study (not-yet-treated, universal base period): how large may post-treatment violations of
# parallel trends be — relative to the largest pre-treatment one (relative magnitudes, M̄), or as
# curvature per year (smoothness, M) — before the average effect over e = 0..5 is no longer
# significant (the breakdown value)?

# %%
nb.show_sensitivity(data, analyses)

# %% [markdown]
# ## 5. Inference for this design
#
# Clusters are counties, and prefectures (11) for prefecture-level shocks. Side by side: county- and
# prefecture-clustered standard errors, a wild cluster bootstrap over prefectures and randomisation
# inference over adoption timing (999 draws each, seed 0).

# %%
nb.show_inference(data, analyses)

# %% [markdown]
# ## 6. Heterogeneity
#
# The splits the seed paper names: the four counties without railway (云和, 景宁, 文成, 泰顺) against
# the rest, the kind of the first enclave (industrial, sci-tech, village-income), prefecture, and the
# 7 counties paired with provincial SOEs. Each row re-estimates the main CS ATT on the subgroup's
# treated counties against every untreated county; overlapping intervals are not a test.

# %%
nb.show_heterogeneity(analyses)

# %% [markdown]
# ## 7. Multiple testing across the outcome family
#
# The eight outcomes of notebooks 03–05 form one family: Holm (family-wise error) and
# Benjamini–Hochberg (false discovery rate) adjust the analytic p-values of the main CS ATT;
# Romano–Wolf (studentised max-T) and Westfall–Young (min-P) adjust the randomisation p-values using the joint permutation draws.

# %%
nb.show_family(data, analyses)

# %% [markdown]
# ## 8. On the twin only: estimates against the truth, and what this design can detect
#
# On the synthetic twin the effects are known, so we can see whether the estimators recover them, and
# simulate the power of this very design (its units, years, adoption timing and noise): the minimum
# detectable effect of the main estimator at 80% power and 5% size. This is the **pre-analysis plan**
# for a real yearbook panel of the same shape: effects below the MDE would likely be missed. On a real
# layer this section is skipped.

# %%
nb.show_truth_and_power(data, analyses)

# %% [markdown]
# ## Limitations
#
# * On the twin, every number is a property of the design and the estimators, not of Zhejiang.
# * Enclave dates come from news and government pages; imputed years and undocumented enclaves
#   (a blank is "not found", not "never") blur the timing.
# * Few treated counties per cohort and few treated prefectures: intervals are wide, and
#   cluster-robust inference by prefecture is unreliable (section 5).
# * The never-treated counties are the partner areas; spill-overs bias that comparison.
