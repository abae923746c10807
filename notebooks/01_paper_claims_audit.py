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
# # 01 — The paper's statistics, audited
#
# **Data layer: REAL.** Every number in this notebook comes from real, cited sources: the seed
# paper itself (`data/raw/paper_claims.csv`), statistical-bulletin figures with one URL per row
# (`data/raw/bulletin_figures.csv`), and the 2010 and 2020 population censuses
# (`data/raw/census*_zhejiang.csv`, MIT licence). Nothing synthetic is used here.
#
# The seed paper (储昊东 & 潘家栋, *产业飞地助力浙江山区26县共同富裕的机制与路径*) supports its argument
# with a handful of 2022 aggregates for the 26 mountain counties. We list **every** quantitative
# statement it makes and ask, for each, what offline evidence can say:
#
# | status | meaning |
# |---|---|
# | reproduced | recomputed from other numbers and equal at the printed precision |
# | consistent | independent cited evidence agrees within a stated tolerance |
# | partly checkable | only part of its scope can be checked offline |
# | not checkable offline | no offline source exists (reason given) |
#
# The notebook only calls the package (`analysis`); the rules live in
# `analysis/studies/claims_audit.py`.

# %% tags=["parameters"]
# papermill parameters
max_colwidth = 200

# %%
import matplotlib.pyplot as plt
import pandas as pd

from analysis.data import registry, sources
from analysis.report.figures import group_change_plot, structure_plot
from analysis.studies import census_descriptive as cd
from analysis.studies.claims_audit import AuditContext, audit_claims

pd.set_option("display.max_colwidth", max_colwidth)
pd.set_option("display.width", 200)

# %% [markdown]
# ## 1. The claims
#
# One row per quantity, with the Chinese phrase it comes from.

# %%
claims = sources.load_paper_claims()
claims[["claim_id", "section", "quantity", "value", "unit", "year", "phrase_zh"]]

# %% [markdown]
# ## 2. The audit

# %%
ctx = AuditContext()
audit = audit_claims(ctx)
audit["status"].value_counts().reindex(
    ["reproduced", "consistent", "partly checkable", "not checkable offline"], fill_value=0
)

# %%
audit[["claim_id", "quantity", "value", "unit", "status", "check_value", "evidence"]]

# %% [markdown]
# ### The headline checks, worked through
#
# * **Urban/rural income ratio.** 56303 / 29607 = 1.9017, which the paper prints as 1.9:1.
# * **Provincial incomes implied by the 79% and 78.8% shares.** About 71,270 and 37,572 yuan; their
#   ratio (1.897) matches the province's published 2022 urban/rural ratio of 1.90, and the implied
#   growth from the cited 2021 provincial figures is plausible.
# * **Provincial investment growth implied by "7.3 points above".** 16.4 − 7.3 = 9.1%.
# * **GDP.** 7404 亿元 is about 9.5% of the cited provincial GDP (77,715 亿元). Cited 2022 county
#   GDPs cover most of the 26 counties; the remainder implies a plausible GDP per resident for the
#   uncovered ones.
# * **Urbanisation.** The 2020 census puts the 26 counties at about 58.1%; the paper's 58.8% for
#   2022 minus its stated 0.7-point gain gives 58.1% for 2021.

# %%
cov, total, labels = ctx.gdp_coverage_2022()
print(f"cited 2022 GDP covers {len(cov)} of 26 counties: {total:,.1f} 亿元 "
      f"({100 * total / ctx.claim('gdp_26_counties'):.1f}% of 7404)")
print("figures used:", ", ".join(labels))

# %% [markdown]
# ## 3. The 26 mountain counties and the rest of Zhejiang in the censuses
#
# **Data layer: REAL** (6th and 7th population censuses). Units are consistent-boundary units
# (CBUs) so that 2010 and 2020 cover the same territory (`data/raw/registry/README.md`).
# Group figures are aggregates (population-weighted). Industry and occupation shares come from the
# **long-form sample (~10% of households)** and carry sampling error; the 2010 and 2020
# classifications are matched at section / major-group level (`analysis/data/census.py`).

# %%
panel = cd.cbu_panel()
print(panel.groupby(["group", "year"]).size().unstack())
table = cd.comparison_table(panel)
table.round(2)

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, (var, lab) in zip(
    axes,
    [("urbanisation", "urbanisation rate"), ("edu_years", "mean years of schooling (6+)"),
     ("professional_share", "professional & technical share (long form)")],
    strict=True,
):
    group_change_plot(panel, var, lab, ax=ax)
fig.suptitle("County-level distributions — REAL census data")
plt.show()

# %%
fig, ax = plt.subplots(figsize=(8, 3.2))
structure_plot(cd.employment_structure(panel), ax=ax)
ax.set_title("Employment structure — REAL census, long-form sample")
plt.show()

# %% [markdown]
# ## 4. What this shows, and what it does not
#
# * Between the censuses the mountain counties urbanised about as fast as the rest of the province,
#   moved out of agriculture much faster, and *gained* manufacturing share while the rest of
#   Zhejiang lost it; the gap in schooling and in professional and technical occupations persisted.
# * These are descriptive differences between two groups that were never comparable. They say
#   nothing yet about enclaves: the causal comparison (treated vs not-yet-treated mountain counties)
#   is notebook 02.
# * Income, GDP and R&D are **not** in the census. The paper's 2022 income and GDP aggregates can
#   only be checked in part, against cited bulletin figures.

# %%
n_mountain = len(registry.mountain26_codes())
print(f"mountain counties in the registry: {n_mountain}")
