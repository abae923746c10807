"""CR1 (fixest convention) and CR3 reference values from pyfixest, on crve_data.csv.

Complements generate_crve_reference.R (clubSandwich): pyfixest reproduces
fixest's default small-sample correction ssc(adj=TRUE, fixef.K="nested",
cluster.adj=TRUE), whose K discounts fixed effects nested in the clusters.
Not run in CI. From the repository root, after generate_crve_reference.R wrote
the data:

    python3 -m venv /tmp/peers_wild && /tmp/peers_wild/bin/pip install pyfixest
    /tmp/peers_wild/bin/python tests/reference/generate_crve_reference.py
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf

OUT = Path("tests/reference")


def main() -> None:
    df = pd.read_csv(OUT / "crve_data.csv")
    models = {
        "pooled": "y ~ x1 + x2",
        "cluster_fe": "y ~ x1 + x2 | cl",
        "twoway_fe": "y ~ x1 + x2 | cl + period",
    }
    res = {}
    for name, fml in models.items():
        entry = {"formula": fml}
        for vc in ("CRV1", "CRV3"):
            try:
                fit = pf.feols(fml, data=df, vcov={vc: "cl"})
            except Exception as e:
                entry[vc] = {"error": f"{type(e).__name__}: {e}"}
                continue
            tid = fit.tidy()
            terms = ["x1", "x2"]
            V = pd.DataFrame(fit._vcov, index=fit._coefnames, columns=fit._coefnames)
            entry[vc] = {
                "coef": [float(tid.loc[t, "Estimate"]) for t in terms],
                "se": [float(tid.loc[t, "Std. Error"]) for t in terms],
                "t": [float(tid.loc[t, "t value"]) for t in terms],
                "p": [float(tid.loc[t, "Pr(>|t|)"]) for t in terms],
                "vcov": V.loc[terms, terms].to_numpy().tolist(),
                "df_k": int(np.squeeze(fit._df_k)),
                "df_t": int(np.squeeze(fit._df_t)),
                "command": f"pf.feols({fml!r}, data=df, vcov={{{vc!r}: 'cl'}})",
            }
        res[name] = entry
    meta = {
        "generated_by": "tests/reference/generate_crve_reference.py",
        "command": "/tmp/peers_wild/bin/python tests/reference/generate_crve_reference.py",
        "python": sys.version.split()[0],
        "pyfixest": version("pyfixest"),
        "data": "tests/reference/crve_data.csv",
        "notes": "pyfixest defaults: ssc(k_adj=True, k_fixef='nonnested', G_adj=True); t(G-1) p-values",
    }
    path = OUT / "crve_pyfixest.json"
    path.write_text(json.dumps({"meta": meta, "models": res}, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
