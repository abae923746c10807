"""Slow tier: Monte Carlo over twin seeds -- bias and coverage of CS, SA, BJS, Gardner.

The truth (true_effects) does not depend on the seed; each replication redraws every
shock of the twin and re-calibrates it. Every horizon must be unbiased. Horizons e = 0, 1
average over >= 20 treated counties and must have near-nominal coverage; longer horizons
rest on 9 (e = 2), 4-5 (e = 3-5) and 1 (e = 6) counties -- a property of Zhejiang's enclave
timing, not of the estimators -- and their coverage is lower (floors below; the full table
is printed with ``-s``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.data import twin

REPS = 200
METHODS = ("cs", "sa", "bjs", "gardner")


def _fit(name, data, outcome):
    from analysis.estimators.bjs import bjs_imputation
    from analysis.estimators.cs import callaway_santanna
    from analysis.estimators.gardner import gardner
    from analysis.estimators.sa import sun_abraham

    f = {"cs": callaway_santanna, "sa": sun_abraham, "bjs": bjs_imputation, "gardner": gardner}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f[name](data, outcome=outcome, unit="code", time="year", cohort="cohort")


@pytest.fixture(scope="module")
def draws() -> pd.DataFrame:
    params = twin.load_params()
    rows = []
    for rep in range(REPS):
        panel, _ = twin._generate(params, 100_000 + rep, "effects")
        for v, o in twin.EFFECT_OUTCOMES.items():
            panel[o] = np.log(panel[v])
            for m in METHODS:
                td = _fit(m, panel, o).tidy()
                d = td[(td["aggregation"] == "dynamic") & (td["event"] >= 0)]
                for r in d.itertuples():
                    rows.append((rep, m, o, int(r.event), r.estimate, r.conf_low, r.conf_high))
    out = pd.DataFrame(rows, columns=["rep", "method", "outcome", "event", "est", "lo", "hi"])
    truth = twin.build_twin().aggregates
    tr = truth[(truth["type"] == "dynamic") & truth["key"].notna()].rename(
        columns={"key": "event", "att": "true"}
    )[["outcome", "event", "true"]]
    out = out.merge(tr.astype({"event": int}), on=["outcome", "event"], how="left")
    out["covered"] = (out["lo"] <= out["true"]) & (out["true"] <= out["hi"])
    return out


@pytest.mark.slow
def test_monte_carlo_bias_and_coverage(draws):
    s = draws.groupby(["method", "outcome", "event"]).agg(
        mean=("est", "mean"),
        true=("true", "first"),
        sd=("est", "std"),
        coverage=("covered", "mean"),
        n=("est", "size"),
    )
    s["bias"] = s["mean"] - s["true"]
    s["mc_se"] = s["sd"] / np.sqrt(s["n"])
    print("\nSYNTHETIC twin Monte Carlo (", REPS, "replications)\n", s.round(4).to_string())
    assert (s["n"] == REPS).all()
    # unbiased at every horizon (within 4 Monte Carlo standard errors)
    assert (s["bias"].abs() <= 4 * s["mc_se"] + 1e-4).all(), s[
        s["bias"].abs() > 4 * s["mc_se"] + 1e-4
    ]
    # Coverage of the 95% intervals. e <= 1 averages >= 20 treated counties: near nominal
    # (>= 0.88 for every method and outcome, >= 0.92 on average; Monte Carlo s.e. 0.015; the
    # shortfall is the usual anti-conservatism of cluster-robust errors with few treated
    # clusters and AR(1) shocks). Recorded run (seeds 100000-100199): 0.89-0.97 at e <= 1;
    # 0.80-0.985 at e = 2 (9 counties); 0.68-1.0 at e = 3-5 (4-5 counties); 0.11-0.17 at
    # e = 6 (one county: its interval is not meaningful).
    short = s[s.index.get_level_values("event") <= 1]
    assert (short["coverage"] >= 0.88).all(), short[short["coverage"] < 0.88]
    assert short["coverage"].mean() >= 0.92
    mid = s[s.index.get_level_values("event").isin([2, 3, 4, 5])]
    assert (mid["coverage"] >= 0.65).all(), mid[mid["coverage"] < 0.65]
