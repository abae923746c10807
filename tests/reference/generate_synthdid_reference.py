"""Generate ``synthdid_diffdiff.json``: synthetic-DiD reference values from diff-diff.

diff-diff 3.13.0 (``SyntheticDiD``) implements R ``synthdid``'s algorithm
independently of this package. This script does NOT import ``analysis``: it
builds its own small block panel (written to ``synthdid_block.csv``: 30 control
and 5 treated units, 12 periods, adoption in period 9, a two-factor structure
plus noise, effect 1.5) and runs diff-diff on it and on the Proposition 99
panel (``data/raw/external/california_prop99.csv``), storing estimates and
standard errors (jackknife; bootstrap and placebo with ``seed=0``).

diff-diff is a benchmark-only peer (``benchmarks/requirements-bench.txt``). Run
from the repository root::

    .venv/bin/pip install -c requirements.lock diff-diff==3.13.0
    .venv/bin/python tests/reference/generate_synthdid_reference.py

Tests read only the CSV and the JSON.
"""

from __future__ import annotations

import json
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
N_REPS = 10


def block_panel() -> pd.DataFrame:
    rng = np.random.default_rng(20261202)
    n0, n1, T, adopt = 30, 5, 12, 9
    n = n0 + n1
    load = rng.normal(size=(n, 2))
    load[n0:] += 0.5  # treated units load differently: DiD is biased, SDID reweights
    f = np.cumsum(rng.normal(size=(T, 2)), axis=0)
    y = rng.normal(size=n)[:, None] + np.linspace(0, 2, T)[None, :] + load @ f.T
    y += rng.normal(scale=0.5, size=(n, T))
    t = np.arange(1, T + 1)
    y[n0:, t >= adopt] += 1.5
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(1, n + 1), T),
            "time": np.tile(t, n),
            "cohort": np.repeat(np.r_[np.zeros(n0, int), np.full(n1, adopt)], T),
            "y": np.round(y.ravel(), 10),
        }
    )


def run(df, outcome, unit, time, cohort, method, **kw):
    import diff_diff as dd

    d = df.assign(_tr=(df[cohort] > 0).astype(int))
    adopt = int(df.loc[df[cohort] > 0, cohort].min())
    post = sorted(t for t in df[time].unique() if t >= adopt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = dd.SyntheticDiD(variance_method=method, seed=0, **kw).fit(
            d, outcome=outcome, treatment="_tr", unit=unit, time=time, post_periods=post
        )
    return {"att": float(r.att), "se": float(r.se)}


def main() -> None:
    blk = block_panel()
    blk.to_csv(HERE / "synthdid_block.csv", index=False)
    prop = pd.read_csv(ROOT / "data" / "raw" / "external" / "california_prop99.csv")
    pcols = ("PacksPerCapita", "State", "Year", "first_treated")
    out = {
        "generator": "tests/reference/generate_synthdid_reference.py",
        "peer": f"diff-diff {metadata.version('diff-diff')} (SyntheticDiD)",
        "numpy": np.__version__,
        "n_reps": N_REPS,
        "seed": 0,
        "block": {
            m: run(blk, "y", "unit", "time", "cohort", m, n_bootstrap=N_REPS)
            for m in ("jackknife", "bootstrap", "placebo")
        },
        "prop99_placebo_200": run(prop, *pcols, "placebo", n_bootstrap=200),
    }
    (HERE / "synthdid_diffdiff.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
