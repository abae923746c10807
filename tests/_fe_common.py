"""Shared data and reference loaders for the fixed-effects estimator tests."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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


@lru_cache(maxsize=1)
def truth_panel():
    """Large seeded panel with heterogeneous, dynamic effects (known truth), built once."""
    return simulate_staggered(
        n_units=20000,
        n_periods=10,
        cohorts=(3, 5, 7),
        never_share=0.25,
        base_effect=(1.0, 2.0, 3.0),
        slope=0.5,
        seed=11,
    )


def check_invariances(
    estimator, d: pd.DataFrame, *, perm_seed: int, shift: float, scale: float
) -> None:
    """Shuffled rows / relabelled units, y + c and c * y change estimates as theory says."""
    base = estimator(d, **SIM)
    rng = np.random.default_rng(perm_seed)
    shuffled = d.sample(frac=1.0, random_state=perm_seed).reset_index(drop=True)
    relabel = dict(zip(d["unit"].unique(), rng.permutation(d["unit"].nunique()) + 500, strict=True))
    shuffled["unit"] = shuffled["unit"].map(relabel)
    r = estimator(shuffled, **SIM)
    assert r.att == pytest.approx(base.att, abs=1e-9)
    assert r.se == pytest.approx(base.se, rel=1e-7)
    r = estimator(d.assign(y=d["y"] + shift), **SIM)
    assert r.att == pytest.approx(base.att, abs=1e-8)
    assert r.se == pytest.approx(base.se, rel=1e-6)
    r = estimator(d.assign(y=d["y"] * scale), **SIM)
    assert r.att == pytest.approx(scale * base.att, rel=1e-8, abs=1e-10)
    assert r.se == pytest.approx(scale * base.se, rel=1e-7)
