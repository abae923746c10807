"""Generate tests/reference/multitest_pyfixest.json with pyfixest (run OUTSIDE the project venv).

Command (recorded in the JSON):

    python3.11 -m venv /tmp/peers_mt
    /tmp/peers_mt/bin/pip install pyfixest==0.60.0 wildboottest==0.3.2
    /tmp/peers_mt/bin/python tests/reference/multitest_pyfixest.py

Four correlated outcomes are regressed on a treatment X1 (and a control X2)
with errors clustered by ``g`` (40 clusters). For every model pyfixest's wild
cluster bootstrap (WCR, Rademacher, ``seed`` reset per model so that the same
weights are used for every outcome, exactly as ``pf.rwolf`` does) gives the
observed and bootstrap t-statistics; ``pf.rwolf`` and ``pf.wyoung`` give the
adjusted p-values. The script checks that the stored draws reproduce
``pf.rwolf`` through pyfixest's own ``_get_rwolf_pval``, so the test of
:func:`analysis.inference.multitest.romano_wolf` on the stored draws compares
like with like.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf
from pyfixest.estimation.post_estimation.multcomp import _get_rwolf_pval, _get_wyoung_pval
from scipy import stats

OUT = Path(__file__).with_name("multitest_pyfixest.json")
SEED, REPS, N, G = 20240607, 999, 400, 40


def make_data() -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    g = rng.integers(0, G, size=N)
    x1 = rng.normal(size=N) + 0.3 * rng.normal(size=G)[g]
    x2 = rng.normal(size=N)
    common = rng.normal(size=N) + rng.normal(size=G)[g]
    effects = [0.25, 0.12, 0.0, 0.05]
    cols = {"g": g, "X1": x1, "X2": x2}
    for k, b in enumerate(effects):
        cols[f"Y{k + 1}"] = b * x1 + 0.5 * x2 + 0.7 * common + rng.normal(size=N)
    return pd.DataFrame(cols)


def main() -> None:
    data = make_data()
    models = [pf.feols(f"Y{k} ~ X1 + X2", data=data, vcov={"CRV1": "g"}) for k in range(1, 5)]
    t_stats, boot = [], []
    for m in models:
        res, tb = m.wildboottest(param="X1", reps=REPS, seed=SEED, return_bootstrapped_t_stats=True)
        t_stats.append(float(res["t value"]))
        boot.append(np.asarray(tb, dtype=float))
    t_stats = np.array(t_stats)
    boot = np.column_stack(boot)
    rw = pf.rwolf(models, "X1", reps=REPS, seed=SEED).loc["RW Pr(>|t|)"].to_numpy(dtype=float)
    wy = pf.wyoung(models, "X1", reps=REPS, seed=SEED).loc["WY Pr(>|t|)"].to_numpy(dtype=float)
    # the stored draws are the ones rwolf/wyoung used
    np.testing.assert_allclose(_get_rwolf_pval(t_stats, boot), rw, rtol=0, atol=0)
    df = G - 1
    p_t = 2 * (1 - stats.t.cdf(np.abs(t_stats), df))
    boot_p = 2 * (1 - stats.t.cdf(np.abs(boot), df))
    np.testing.assert_allclose(_get_wyoung_pval(p_t, boot_p), wy, rtol=0, atol=0)
    out = {
        "description": "pyfixest rwolf / wyoung on wild-bootstrap t-statistics of X1 in 4 "
        "regressions Yk ~ X1 + X2, CRV1 by g (40 clusters), WCR11 Rademacher",
        "command": "python3.11 -m venv /tmp/peers_mt && /tmp/peers_mt/bin/pip install "
        "pyfixest==0.60.0 wildboottest==0.3.2 && /tmp/peers_mt/bin/python "
        "tests/reference/multitest_pyfixest.py",
        "environment": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "pyfixest": pf.__version__,
            "wildboottest": importlib.metadata.version("wildboottest"),
            "numpy": np.__version__,
            "scipy": __import__("scipy").__version__,
        },
        "seed": SEED,
        "reps": REPS,
        "t_df": df,
        "t_stats": t_stats.tolist(),
        "boot_t_stats": boot.tolist(),
        "rwolf_pvalues": rw.tolist(),
        "wyoung_pvalues": wy.tolist(),
        "notes": [
            "rwolf: p = (1 + #{max over remaining |t*| >= |t|}) / (B + 1), step-down with running max.",
            "wyoung: minP step-down with t(G-1) marginal p-values and p = #{...} / B (no +1).",
        ],
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
