"""Generate ``cs_weights_mpdta.json``: weighted Callaway-Sant'Anna reference values.

R ``did``'s ``weightsname`` through its Python port ``csdid`` 0.4.3
(``ATTgt(..., weights_name=...)``, a line-by-line port of R ``did`` 2.5.0 /
``DRDID`` 1.3.0) on ``mpdta`` with county population weights
``popwt = exp(lpop)`` (``lpop`` is mpdta's log county population, constant
within county, so the weights are unit-level as R ``did`` requires). It does
NOT import the ``analysis`` package. Run from the repository root with the
benchmark peers installed::

    .venv/bin/pip install -r benchmarks/requirements-bench.txt
    .venv/bin/python tests/reference/generate_cs_weights_reference.py

Tests read only the JSON.
"""

from __future__ import annotations

import contextlib
import io
import json
import platform
import sys
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_cs_reference import (
    config_key,
    load,
    run_csdid,
    unbalanced_drop_rows,
)

OUT = Path(__file__).resolve().parent / "cs_weights_mpdta.json"

GRID = [
    {"control": c, "est_method": m, "covariates": cov, "weights": "popwt"}
    for c in ("never", "notyet")
    for m in ("reg", "ipw", "dr")
    for cov in ([], ["lpop"])
]
EXTRA = [
    {
        "control": "never",
        "est_method": "dr",
        "covariates": [],
        "cluster": "state",
        "weights": "popwt",
    },
    {
        "control": "never",
        "est_method": "dr",
        "covariates": ["lpop"],
        "base_period": "universal",
        "weights": "popwt",
    },
    {
        "control": "never",
        "est_method": "dr",
        "covariates": [],
        "panel": "unbalanced",
        "weights": "popwt",
    },
    {
        "control": "notyet",
        "est_method": "dr",
        "covariates": ["lpop"],
        "panel": "unbalanced",
        "weights": "popwt",
    },
    {
        "control": "never",
        "est_method": "reg",
        "covariates": ["lpop"],
        "panel": "unbalanced",
        "weights": "popwt",
    },
    {
        "control": "never",
        "est_method": "ipw",
        "covariates": ["lpop"],
        "panel": "unbalanced",
        "weights": "popwt",
    },
]


def main() -> None:
    df = load()
    df["popwt"] = np.exp(df["lpop"])
    df_unbal = df.drop(index=unbalanced_drop_rows(df)).reset_index(drop=True)
    results = {}
    for cfg in GRID + EXTRA:
        data = df_unbal if cfg.get("panel") == "unbalanced" else df
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            results[config_key(cfg)] = {"config": cfg, "csdid": run_csdid(data, cfg)}
        print(config_key(cfg), "done", file=sys.stderr)
    doc = {
        "description": (
            "Weighted Callaway-Sant'Anna (R did weightsname) on mpdta with population "
            "weights popwt = exp(lpop): ATT(g,t), analytic SEs, aggregations, from csdid."
        ),
        "data": "data/raw/external/mpdta.csv; popwt = exp(lpop); state = countyreal // 1000; "
        "unbalanced entries drop the rows of generate_cs_reference.unbalanced_drop_rows",
        "command": ".venv/bin/python tests/reference/generate_cs_weights_reference.py",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {p: metadata.version(p) for p in ("csdid", "drdid", "numpy", "pandas")},
        "settings": "analytic SEs (bstrap=False); alpha 0.05",
        "results": results,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
