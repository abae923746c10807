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
# # 02 — What the censuses say
#
# **Data layer: REAL.** The 6th (2010) and 7th (2020) population censuses of every county-level unit
# of Zhejiang (MIT-licensed county tables), on consistent boundaries, total population from the 5th
# census (2000) for a pre-period, and the sourced timeline of
# enclave events (`data/raw/enclave_events.csv`). Nothing synthetic is used here.
#
# This is the one causal comparison we can make on real, openly licensed data today: mountain
# counties that had an enclave in a developed partner area agreed between the censuses, against the
# other mountain counties, on the change between 2010 and 2020. The notebook only calls the package;
# the design is documented in `analysis/studies/census_did.py` and `analysis/data/treatment.py`.

# %% tags=["parameters"]
seed = 0

# %%
import matplotlib.pyplot as plt
import pandas as pd

from analysis.data import census
from analysis.data.treatment import ALTERNATIVE_RULES, DEFAULT_RULE, first_enclave_year
from analysis.report.figures import coefficient_plot
from analysis.studies import census_did as cd

pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 20)
labels = cd.OUTCOME_LABELS

# %% [markdown]
# ## 1. Design
#
# * **Units**: 86 census consistent-boundary units (CBUs); the 26 mountain counties are 26 of them
#   (苍南's unit includes 龙港, split off in 2019).
# * **Treatment** (default rule): an enclave located in a developed partner area, of any kind
#   (industrial, sci-tech, village-income), with an agreement or later milestone dated by 2019.
#   磐安's 1995 扶贫飞地 predates the baseline, so 磐安 is treated in both censuses and is dropped.
# * **Comparison** (default): the other mountain counties — same programme and terrain, not (yet)
#   treated by the rule. The timeline is incomplete: "not treated" means "no enclave found".
# * **Estimator**: first-difference regression of the 2010→2020 change on treatment, prefecture
#   effects and 2010 log population and urbanisation; a doubly-robust 2×2 estimator as a check.

# %%
print(DEFAULT_RULE.describe())
first = first_enclave_year(DEFAULT_RULE)
first[first > 0]

# %%
panel = census.harmonised_census("census")
sample = cd.build_sample(panel=panel)
print(sample.dropped)
sample.data[["cbu", "name", "prefecture", "cohort", "treated"]]

# %% [markdown]
# ## 2. Balance in 2010
#
# With 5 treated counties, balance is about magnitudes, not tests. Normalised differences above
# 0.25 in absolute value are large by the usual rule of thumb (Imbens & Rubin).

# %%
cd.balance_table(sample).assign(variable=lambda d: d["variable"].map(labels)).round(3)

# %% [markdown]
# ## 3. Results and the three kinds of p-values
#
# Conventional (HC1; CR1 clustered by prefecture), a wild cluster bootstrap over the 6 prefectures
# (restricted, Webb weights), and randomisation inference — exact, over every assignment of 5
# treated units among the 25 counties. Holm, Benjamini–Hochberg and Romano–Wolf adjust the RI
# p-values across the ten outcomes.

# %%
ri = cd.randomization_inference(sample, seed=seed)
main = cd.main_table(sample, ri=ri)
main.assign(outcome=main["outcome"].map(labels))[
    ["outcome", "beta", "p_ri", "p_wild", "p_ri_holm", "p_ri_bh", "p_ri_romano_wolf", "dr_att", "dr_p",
     "p_hc1", "p_cr1"]
].round(3)

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2))
coefficient_plot(main, labels, ax=ax)
ax.set_title("Enclave counties vs other mountain counties — REAL census data")
plt.show()

# %% [markdown]
# **Reading the p-values.** The CR1 p-values clustered by prefecture are far smaller than the others:
# with 6 clusters and 5 treated units the cluster-robust variance is badly biased downwards, which
# is exactly why referees ask for the wild bootstrap and randomisation inference. The counts below
# say how many of the ten outcomes each method calls significant at 5%.

# %%
print("outcomes with p < 0.05 under each method:")
main[["p_hc1", "p_cr1", "p_wild", "p_ri", "p_ri_holm", "p_ri_bh", "p_ri_romano_wolf"]].lt(0.05).sum()

# %% [markdown]
# ## 4. Robustness
#
# ### Alternative treatment rules

# %%
rules = cd.rules_table(panel=panel)
rules.pivot(index="outcome", columns="rule", values="p_ri").rename(index=labels).round(2)

# %%
for r in ALTERNATIVE_RULES:
    print(f"{r.name:20s} {r.describe()}")

# %% [markdown]
# ### Comparison groups
#
# Against all non-mountain units, or taking the mountain-26 designation itself as the treatment,
# the estimated "effects" differ a lot from the within-mountain comparison — these groups were on
# different paths anyway (notebook 01). That is the reason the other mountain counties are the
# default comparison.

# %%
comps = cd.comparisons_table(panel=panel)
comps.pivot(index="outcome", columns="comparison", values="beta").rename(index=labels).round(3)

# %% [markdown]
# ### Leave one prefecture out

# %%
lopo = cd.leave_one_prefecture_out(sample)
lopo.pivot(index="outcome", columns="dropped_prefecture", values="beta").rename(index=labels).round(3)

# %% [markdown]
# ### Where the treated counties are: 4 of 5 in Lishui
#
# With prefecture effects, the estimate compares treated counties with comparison counties of the
# same prefecture. Four of the five treated counties are in Lishui, the fifth (泰顺) in Wenzhou.

# %%
cd.prefecture_concentration(sample)

# %% [markdown]
# Dropping Lishui leaves one treated county: its coefficient is one county's deviation from its
# neighbours, not an estimate with a valid p-value, and several signs flip.

# %%
cd.drop_prefecture_table(sample).assign(outcome=lambda d: d["outcome"].map(labels)).round(3)

# %% [markdown]
# In the leave-one-prefecture-out table, rows that **repeat the full sample** (a prefecture with a
# single county in the sample, absorbed by its own prefecture effect) and rows with **one treated
# unit** (no p-value shown) are marked.

# %%
lopo_status = cd.lopo_table(sample)
lopo_status.drop_duplicates("dropped_prefecture")[
    ["dropped_prefecture", "n_left_out", "n_units", "n_treated", "status"]
]

# %% [markdown]
# ## 5. A real pre-period: the 2000 census (REAL data)
#
# The 5th census (2000) reports total population per county (`data/raw/census2000_population.csv`,
# provenance in `data/raw/MANIFEST.csv`). Boundaries differ from 2010 only in some urban districts
# and between 柯城 and 衢江, which are merged into one unit here, so log population has a pre-period.
# **Pre-trend test**: the 2000→2010 change in log population, treated vs comparison, with the main
# table's estimator (prefecture effects, start-of-period log population; no urbanisation in 2000) and
# inference (exact RI, wild cluster bootstrap; HC1/CR1 for reference).

# %%
pop3 = census.three_census_population()
pop3[pop3["mountain26"]].pivot(index="tcu_name_zh", columns="year", values="pop_total").head()

# %%
pre = cd.pretrend_table()
pre.set_index("period")[["beta", "p_ri", "p_wild", "p_hc1", "p_cr1", "n_units", "n_treated"]].round(3)

# %%
from analysis.report.figures import event_study_plot

ev = cd.event_study_table()
fig, ax = plt.subplots(figsize=(6.4, 4.0))
event_study_plot(ev, ax=ax)
ax.set_title("Log population relative to 2010 — REAL census data")
plt.show()

# %% [markdown]
# **Reading it honestly.** The test does not reject parallel pre-trends (RI and wild p-values well
# above 0.05), but it has little power with 5 treated counties, and the point estimate is not small:
# before any enclave was agreed, the treated counties' population grew about 10 log points *less*
# than the comparison counties' — several times the 2010–2020 estimate, with the opposite sign. That
# is what one would see if enclaves went to counties in decline. A non-rejection here is weak
# evidence for parallel trends (Roth 2022), and only population has a pre-period at all.

# %% [markdown]
# ## 6. Limitations — what these data cannot tell us
#
# * **Few treated units.** Five treated counties in six prefectures: the design can detect only large
#   effects, and cluster-robust inference is unreliable (section 3).
# * **Timing.** Most dated enclaves were agreed in 2017–2019, so by 2020 exposure is one to three
#   years, and many enclaves opened only later. Dates come from news reports; a blank in the timeline
#   is "not found", not "never", so some comparison counties may have had undocumented enclaves.
# * **Outcomes are proxies.** The census has no income, GDP, employment counts or R&D spending;
#   industry and occupation shares come from the ~10% long-form sample and carry sampling error; the
#   2010 and 2020 classifications are matched only at section / major-group level.
# * **Selection.** Counties with early enclaves may differ in unobserved ways (see the balance table);
#   only population has a pre-period (2000), and there the treated counties were already falling
#   behind (not significantly).
#
# Nothing here supports — or refutes — the seed paper's claims about incomes, jobs and innovation at
# conventional levels of evidence.
