"""Shared data and reference loaders for the fixed-effects estimator tests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.data.simulate import simulate_staggered

REF = Path(__file__).parent / "reference"
MPDTA = Path(__file__).parents[1] / "data" / "raw" / "external" / "mpdta.csv"
MP = dict(outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
SIM = dict(outcome="y", unit="unit", time="time", cohort="cohort")
#: Agreement required with the stored peer values (estimates absolute, SEs relative).
EST_TOL, SE_RTOL = 1e-6, 1e-4


def ref(name: str) -> dict:
    """Stored peer reference values ``tests/reference/fe_<name>.json``."""
    return json.loads((REF / f"fe_{name}.json").read_text())


def sim_panel() -> pd.DataFrame:
    """The seeded simulated panel the reference values were generated on
    (recorded in ``fe_sim.json``), with a time-varying covariate ``xt``."""
    d = simulate_staggered(
        n_units=1000, n_periods=10, cohorts=(4, 6, 8), never_share=0.3, beta_x=0.5, seed=20240601
    ).data
    return d.assign(xt=d["x"] * d["time"] / 10.0)


def load_mpdta() -> pd.DataFrame:
    return pd.read_csv(MPDTA)
