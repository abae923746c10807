"""A provisional annual county panel with the columns of the annual-panel contract.

Used by ``tests/test_annual_did.py`` to build small fake "yearbook" files and
to test the study against known effects independently of the Zhejiang twin.
Outcomes follow unit and year effects, a prefecture-by-year shock, AR(1)
noise and a treatment effect that grows with exposure; nothing here is
calibrated to Zhejiang.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data import registry

YEARS = tuple(range(2010, 2024))
NO_RAILWAY = {"云和县", "景宁畲族自治县", "文成县", "泰顺县"}

#: effect on impact and per year of exposure, in outcome units, per stored variable
EFFECTS = {
    "urban_income": (0.02, 0.004),  # log points
    "rural_income": (0.03, 0.006),
    "employment": (0.01, 0.003),
    "rd_expenditure": (0.10, 0.02),
    "gdp": (0.02, 0.004),
    "fiscal_revenue": (0.03, 0.005),
}


def fake_panel(seed: int = 1, layer: str = "real", null: bool = False) -> pd.DataFrame:
    """90 units x 2010-2023 with the contract's columns (``data_layer`` = ``layer``)."""
    rng = np.random.default_rng(seed)
    c = registry.load_counties().sort_values("code").reset_index(drop=True)
    n, T = len(c), len(YEARS)
    t = np.arange(T)
    mountain = c["mountain26"].to_numpy(bool)
    cohort = np.zeros(n, dtype=int)
    idx = np.flatnonzero(mountain)
    pool = np.array([2013, 2014, 2015, 2016, 2017, 2018, 2019, 2020, 2021, 2022])
    cohort[idx] = rng.choice(pool, size=idx.size)
    cohort[idx[rng.choice(idx.size, size=4, replace=False)]] = 0
    pref = c["prefecture_code"].to_numpy(int)
    pref_codes, pref_idx = np.unique(pref, return_inverse=True)
    shock = rng.normal(0, 0.01, size=(pref_codes.size, T))
    cols: dict[str, np.ndarray] = {}
    levels = {
        "urban_income": 10.5,
        "rural_income": 9.9,
        "employment": 3.5,
        "rd_expenditure": 1.5,
        "gdp": 6.0,
        "fiscal_revenue": 4.0,
    }
    growth = {
        "urban_income": 0.07,
        "rural_income": 0.08,
        "employment": 0.005,
        "rd_expenditure": 0.1,
        "gdp": 0.07,
        "fiscal_revenue": 0.06,
    }
    D = (cohort[:, None] > 0) & (np.array(YEARS)[None, :] >= cohort[:, None])
    expo = np.where(D, np.array(YEARS)[None, :] - cohort[:, None], 0)
    for v, mu in levels.items():
        a = mu - 0.3 * mountain + rng.normal(0, 0.3, size=n)
        lam = growth[v] * t + rng.normal(0, 0.01, size=T)
        e = np.zeros((n, T))
        e[:, 0] = rng.normal(0, 0.03, size=n)
        for j in range(1, T):
            e[:, j] = 0.5 * e[:, j - 1] + rng.normal(0, 0.03 * np.sqrt(0.75), size=n)
        base, slope = EFFECTS[v]
        tau = 0.0 if null else np.where(D, base + slope * expo, 0.0)
        cols[v] = np.exp(a[:, None] + lam[None, :] + shock[pref_idx] + e + tau)
    ui, ri_ = cols["urban_income"], cols["rural_income"]
    gdp = cols["gdp"]
    rd = cols["rd_expenditure"]
    pop = np.repeat(rng.uniform(10, 120, size=n)[:, None], T, axis=1)
    frame = pd.DataFrame(
        {
            "code": np.repeat(c["code"].to_numpy(int), T),
            "year": np.tile(np.array(YEARS), n),
            "name_zh": np.repeat(c["name_zh"].to_numpy(), T),
            "prefecture": np.repeat(pref, T),
            "mountain26": np.repeat(mountain, T),
            "railway": np.repeat(~c["name_zh"].isin(NO_RAILWAY).to_numpy(), T),
            "pop2010": np.repeat(rng.uniform(10, 120, size=n), T),
            "data_layer": layer,
            "gdp": gdp.ravel(),
            "gdp_growth": 7.0,
            "population": pop.ravel(),
            "urbanisation": np.repeat(rng.uniform(40, 90, size=n)[:, None], T, axis=1).ravel(),
            "urban_income": ui.ravel(),
            "rural_income": ri_.ravel(),
            "disp_income": (0.6 * ui + 0.4 * ri_).ravel(),
            "employment": cols["employment"].ravel(),
            "rd_expenditure": rd.ravel(),
            "rd_intensity": (100 * rd / gdp).ravel(),
            "fiscal_revenue": cols["fiscal_revenue"].ravel(),
            "budget_revenue": (0.6 * cols["fiscal_revenue"]).ravel(),
            "fai_growth": 8.0,
            "cohort": np.repeat(cohort, T),
            "timing_imputed": False,
            "soe_cohort": np.repeat(np.where(np.isin(np.arange(n), idx[:7]), 2021, 0), T),
            "enclave_kind": np.repeat(
                np.where(cohort > 0, np.where(np.arange(n) % 2 == 0, "industrial", "sci-tech"), ""),
                T,
            ),
            "source": "fake figures made by tests/annual_fixture.py",
            "note": "",
        }
    )
    frame.attrs = {
        "data_layer": "real" if layer == "real" else "synthetic",
        "scenario": "null" if null else "effects",
        "seed": seed,
        "source": "tests/annual_fixture.py (fake panel for tests)",
    }
    return frame
