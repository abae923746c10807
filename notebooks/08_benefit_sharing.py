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
# # 08 — Benefit sharing: how should a jointly owned enclave park split GDP and tax?
#
# **Data layer: ILLUSTRATIVE inputs (entered by hand), no data.** This notebook runs a small
# accounting model (`analysis.studies.benefit_sharing`). Every input below is a round number
# chosen to show how the model works; none is measured, and the effect size is *entered*, not
# estimated. Nothing here is a finding about any Zhejiang county. Replace the inputs in the
# parameters cell with your own (or with an estimate and its standard error from the annual
# study, once a real yearbook panel exists).
#
# **The proposal.** The seed paper (section 三(一), 借鉴公司制管理模式) proposes that the two
# governments of an enclave set up a jointly owned shareholding management company
# (股份制管理服务公司) to run the park, with "收益按照政府双方所持的股本进行分配" — returns split by
# the equity each government holds, equity set by what each puts in (capital, entrepreneurial
# talent, resource factors). The 2017 guidance of the NDRC and seven other ministries,
# 《关于支持"飞地经济"发展的指导意见》 (**发改地区〔2017〕922号**, signed 2017-05-12, published
# 2017-06; `data/raw/paper_claims.csv` rows C21–C22), allows the two sides of an enclave to
# divide GDP and fiscal revenue between them by agreement; the seed notes that conflicts remain
# in practice. The model asks: at which split do **both** sides gain relative to no enclave,
# and how sure can we be given the uncertainty of the effect?
#
# **Assumptions** (all simplifications, stated in full in the module docstring): the park's
# value added is additional except for the inputs' home uses (the counterfactual); constant
# home yields and tax rates, no spill-overs; one steady-state year, annualised contributions;
# tax shares follow GDP shares; the effect is causal with a normal sampling distribution.

# %% tags=["parameters"]
# papermill parameters — ILLUSTRATIVE values (亿元 per year unless stated)
base_gdp = 200.0  # output the effect applies to (e.g. the county's GDP)
effect = 0.03  # log-point effect of the enclave on that output (entered)
effect_se = 0.015  # its standard error (entered)
tax_rate = 0.12  # park tax / value added
k_send, k_recv = 5.0, 3.0  # annualised contributions: sending (capital, talent), receiving (land, services)
yield_send, yield_recv = 0.5, 0.6  # value added per unit of contribution if used at home
tax_send, tax_recv = 0.08, 0.11  # tax / value added at home
n_draws = 10_000
seed = 0

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.studies import benefit_sharing as bs

pd.set_option("display.width", 160)
LABEL = "ILLUSTRATIVE inputs (not data)"

# %% [markdown]
# ## 1. The park and its two shareholders
#
# "Sending" (飞出地) is the government that puts capital and talent in; "receiving" (飞入地)
# hosts the park. Which of the two is the mountain county depends on the enclave's direction
# (in Zhejiang's reverse enclaves the mountain county sends); the model is symmetric.

# %%
value_added = bs.value_added_from_log_effect(effect, base_gdp)
inputs = bs.SharingInputs(value_added=value_added, tax_rate=tax_rate, k_send=k_send,
                          k_recv=k_recv, yield_send=yield_send, yield_recv=yield_recv,
                          tax_send=tax_send, tax_recv=tax_recv)
s_equity = bs.equity_share(inputs)
s_equal = bs.equal_gain_share(inputs)
be = bs.break_even(inputs)
pd.Series(
    {
        "park value added V (亿元)": value_added,
        "park tax (亿元)": tax_rate * value_added,
        "home value added of the sending side's inputs r_S K_S": inputs.home_send,
        "home value added of the receiving side's inputs r_R K_R": inputs.home_recv,
        "GDP surplus of the park": inputs.surplus,
        "equity split s_K = K_S / (K_S + K_R)": s_equity,
        "equal-gain split": s_equal,
        "both gain for s in": f"[{be.low:.3f}, {be.high:.3f}]",
    },
    name=LABEL,
).to_frame()

# %% [markdown]
# ## 2. Who is credited with what, under the equity split

# %%
bs.credited(inputs, s_equity).style.format(precision=3).set_caption(
    f"Credited GDP and tax (亿元/year) at the equity split s = {s_equity:.3f} — {LABEL}"
)

# %% [markdown]
# The two rows always add up to the park totals, and the two gains add up to the park's surplus
# whatever the split (tested in `tests/test_benefit_sharing.py`). The split only decides who
# gets the surplus.

# %%
fig, ax = plt.subplots(figsize=(7, 4.2))
bs.sharing_plot(inputs, share=s_equity, ax=ax, label=LABEL)
ax.set_title("GDP gain of each side against the split")
fig.tight_layout()

# %% [markdown]
# The green band is the set of splits where both sides gain on GDP **and** tax. Its edges are
# the break-even splits: the sending side needs $s \ge r_S K_S / V$, the receiving side needs
# $s \le 1 - r_R K_R / V$ (and the tax analogues).

# %%
be.to_series().to_frame("sending share s").T

# %% [markdown]
# ## 3. How the answer moves with the effect's uncertainty
#
# The effect is uncertain. Drawing it from its sampling distribution
# $\theta \sim N(\hat\theta, se^2)$ (seeded) and recomputing the model shows how often a
# given split leaves both sides better off — and which splits are most robust.

# %%
draws = bs.sharing_uncertainty(inputs, effect=effect, se=effect_se, base=base_gdp,
                               share=s_equity, n_draws=n_draws, seed=seed)
pd.Series(
    {
        "P(some split makes both gain)": draws["feasible"].mean(),
        f"P(both gain at the equity split {s_equity:.2f})": draws["both_gain"].mean(),
        "P(sending side loses GDP at the equity split)": (draws["gdp_gain_send"] < 0).mean(),
        "P(receiving side loses GDP at the equity split)": (draws["gdp_gain_recv"] < 0).mean(),
        "median lower bound": draws["low"].median(),
        "median upper bound": draws["high"].median(),
    },
    name=f"{n_draws:,} draws, seed {seed} — {LABEL}",
).to_frame()

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
bs.break_even_plot(inputs, base=base_gdp, effects=np.linspace(0.0, 0.08, 161),
                   estimate=(effect, effect_se), share=s_equity, ax=axes[0], label=LABEL)
axes[0].set_title("Splits where both gain, by effect size")
bs.uncertainty_plot(draws, share=s_equity, ax=axes[1], label=LABEL)
axes[1].set_title("Probability both gain, over effect draws")
fig.tight_layout()

# %% [markdown]
# Reading the figures: a small effect leaves no split that makes both sides gain (the park
# does not cover the home value of its inputs); as the effect grows the band widens around the
# equal-gain split. A split near the middle of the band is the most robust to the effect's
# uncertainty; the seed's equity rule is robust only if it lies inside the band for most
# plausible effects.
#
# **From an estimate.** With a `DiDResult` `res` from the annual study on a real yearbook panel,
# use `effect, effect_se = res.aggregates["simple"].att, res.aggregates["simple"].se` (for a
# log-GDP outcome) in the parameters cell; everything else is unchanged.
