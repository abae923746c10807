"""Slow tier: Monte Carlo over twin seeds -- bias and coverage of CS, SA, BJS, Gardner.

The truth (true_effects) does not depend on the seed; each replication redraws every
shock of the twin and re-calibrates it. Horizons e = 0, 1, 2 average over >= 9 treated
counties and must be unbiased with near-nominal coverage; longer horizons rest on 1-5
counties (a property of Zhejiang's enclave timing, not of the estimators): their bias is
checked, their coverage only reported (printed with ``-s``).
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
    # near-nominal coverage of the 95% intervals where >= 9 treated counties are averaged
    short = s[s.index.get_level_values("event") <= 1]
    assert (short["coverage"] >= 0.90).all(), short[short["coverage"] < 0.90]
    e2 = s[s.index.get_level_values("event") == 2]
    assert (e2["coverage"] >= 0.85).all(), e2[e2["coverage"] < 0.85]
