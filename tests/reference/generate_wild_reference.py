"""Reference p-values for analysis/inference/wild.py from the peer package `wildboottest`.

Not run in CI (tests only read the JSON). To regenerate, from the repository root:

    python3 -m venv /tmp/peers_wild
    /tmp/peers_wild/bin/pip install wildboottest pyfixest
    /tmp/peers_wild/bin/python tests/reference/generate_wild_reference.py

Writes tests/reference/wild_data.csv (seeded data: 20 clusters of unequal size,
a factor `period` not nested in the clusters) and
tests/reference/wild_wildboottest.json.

Every case is the WCR/WCU "11" bootstrap of `wildboottest.WildboottestCL`
(CR1 t-statistics, one weight per cluster) for H0: beta_x1 = r. Fixed effects
enter as explicit dummy columns (the dummy-variable regression), which is what
pyfixest's `Feols.wildboottest` does too (also recorded). With 2^G < B
wildboottest enumerates all sign vectors; for that case the sorted bootstrap
statistics are stored as well (an exact, deterministic reference).
"""

from __future__ import annotations

import json
import platform
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from wildboottest.wildboottest import WildboottestCL

OUT = Path("tests/reference")
SEED = 20240612
B_MC = 99_999


def make_data() -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    G = 20
    sizes = rng.integers(5, 26, size=G)
    cl = np.repeat(np.arange(1, G + 1), sizes)
    n = cl.size
    period = (np.concatenate([np.arange(s) for s in sizes]) % 6) + 1
    a = rng.normal(size=G)[cl - 1]
    z = rng.normal(size=G)[cl - 1]
    x1 = 0.7 * z + rng.normal(size=n)
    x2 = rng.normal(size=n) + 0.2 * period
    u = a + rng.normal(size=n) * (1.0 + 0.5 * np.abs(z))
    y = 1.0 + 0.25 * x1 - 0.3 * x2 + 0.1 * period + u
    return pd.DataFrame({"cl": cl, "period": period, "x1": x1, "x2": x2, "y": y})


def design(df: pd.DataFrame, fe: bool) -> tuple[np.ndarray, list[str]]:
    if not fe:
        X = np.column_stack([np.ones(len(df)), df["x1"], df["x2"]])
        return X, ["Intercept", "x1", "x2"]
    D1 = pd.get_dummies(df["cl"], prefix="cl", dtype=float)
    D2 = pd.get_dummies(df["period"], prefix="period", dtype=float).iloc[:, 1:]
    X = np.column_stack([df["x1"], df["x2"], D1.to_numpy(), D2.to_numpy()])
    return X, ["x1", "x2", *D1.columns, *D2.columns]


def run(df, *, fe, r, weights, impose_null, B, seed, keep_draws=False):
    X, names = design(df, fe)
    R = np.zeros(X.shape[1])
    R[names.index("x1")] = 1.0
    # wildboottest 0.3.2 tests R'beta = 0 only: H0 beta_x1 = r is tested as
    # beta_x1 = 0 in the regression of y - r * x1 (identical t and bootstrap).
    yy = df["y"].to_numpy() - r * df["x1"].to_numpy()
    boot = WildboottestCL(X=X, Y=yy, cluster=df["cl"].to_numpy(), R=R, B=B, seed=seed)
    boot.get_scores(bootstrap_type="11", impose_null=impose_null, adj=True, cluster_adj=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, B_used, enum_warn = boot.get_weights(weights_type=weights)
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_vcov()
    boot.get_tstat()
    out = {}
    for pt in ("two-tailed", "equal-tailed"):
        boot.get_pvalue(pval_type=pt)
        out[pt] = float(np.squeeze(boot.pvalue))
    case = {
        "fixed_effects": ["cl", "period"] if fe else [],
        "null": r,
        "weights": weights,
        "impose_null": impose_null,
        "B": B,
        "B_used": int(B_used),
        "full_enumeration": bool(boot.full_enumeration),
        "seed": seed,
        "t_stat": float(np.squeeze(boot.t_stat)),
        "p_two_tailed": out["two-tailed"],
        "p_equal_tailed": out["equal-tailed"],
        "command": (
            f"WildboottestCL(X, Y=y - {r} * x1, cluster=cl, R=e_x1, B={B}, seed={seed}); "
            f"get_scores(bootstrap_type='11', impose_null={impose_null}, adj=True, cluster_adj=True); "
            f"get_weights(weights_type={weights!r}); get_numer(); get_denom(); get_tboot(); "
            "get_vcov(); get_tstat(); get_pvalue(pval_type=...)"
        ),
    }
    if keep_draws:
        case["t_boot_sorted"] = sorted(float(v) for v in np.ravel(boot.t_boot))
    return case


def main() -> None:
    df = make_data()
    csv = OUT / "wild_data.csv"
    df.to_csv(csv, index=False, float_format="%.17g")
    df = pd.read_csv(csv)
    small = df[df["cl"] <= 10].reset_index(drop=True)

    cases = {
        "pooled_rademacher_wcr": run(
            df, fe=False, r=0.0, weights="rademacher", impose_null=True, B=B_MC, seed=101
        ),
        "pooled_webb_wcr": run(
            df, fe=False, r=0.0, weights="webb", impose_null=True, B=B_MC, seed=102
        ),
        "pooled_mammen_wcr": run(
            df, fe=False, r=0.0, weights="mammen", impose_null=True, B=B_MC, seed=103
        ),
        "pooled_rademacher_wcu": run(
            df, fe=False, r=0.0, weights="rademacher", impose_null=False, B=B_MC, seed=104
        ),
        "pooled_rademacher_wcr_null": run(
            df, fe=False, r=0.3, weights="rademacher", impose_null=True, B=B_MC, seed=105
        ),
        "fe_rademacher_wcr": run(
            df, fe=True, r=0.0, weights="rademacher", impose_null=True, B=B_MC, seed=106
        ),
        "fe_webb_wcu": run(df, fe=True, r=0.0, weights="webb", impose_null=False, B=B_MC, seed=107),
        "enum_g10_wcr": run(
            small,
            fe=False,
            r=0.0,
            weights="rademacher",
            impose_null=True,
            B=9999,
            seed=108,
            keep_draws=True,
        ),
        "enum_g10_fe_wcr": run(
            small,
            fe=True,
            r=0.1,
            weights="rademacher",
            impose_null=True,
            B=9999,
            seed=109,
            keep_draws=True,
        ),
    }
    cases["enum_g10_wcr"]["subset"] = "cl <= 10"
    cases["enum_g10_fe_wcr"]["subset"] = "cl <= 10"

    # pyfixest's integration (fixed effects one-hot encoded inside pyfixest)
    import pyfixest as pf

    fit = pf.feols("y ~ x1 + x2 | cl + period", data=df, vcov={"CRV1": "cl"})
    pfx = fit.wildboottest(param="x1", reps=B_MC, seed=110)
    cases["pyfixest_fe_rademacher_wcr"] = {
        "fixed_effects": ["cl", "period"],
        "null": 0.0,
        "weights": "rademacher",
        "impose_null": True,
        "B": B_MC,
        "seed": 110,
        "t_stat": float(pfx["t value"]),
        "p_two_tailed": float(pfx["Pr(>|t|)"]),
        "command": "pf.feols('y ~ x1 + x2 | cl + period', data, vcov={'CRV1': 'cl'})"
        f".wildboottest(param='x1', reps={B_MC}, seed=110)",
    }

    meta = {
        "generated_by": "tests/reference/generate_wild_reference.py",
        "command": "/tmp/peers_wild/bin/python tests/reference/generate_wild_reference.py",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "wildboottest": version("wildboottest"),
        "pyfixest": version("pyfixest"),
        "numpy": version("numpy"),
        "data": "tests/reference/wild_data.csv",
        "data_seed": SEED,
        "tested": "coefficient on x1, H0: beta_x1 = null; clusters = cl",
        "p_value_convention": "wildboottest counts strict exceedances: mean(|t| < |t*|)",
    }
    path = OUT / "wild_wildboottest.json"
    path.write_text(json.dumps({"meta": meta, "cases": cases}, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
