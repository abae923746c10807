"""Convert the R HonestDiD vignette's stored results and example event studies.

Dev-time only: not part of the test suite, not runnable in the project venv. It
needs the ``rdata`` reader (pure Python), in a separate environment::

    python3.11 -m venv /tmp/rdvenv
    /tmp/rdvenv/bin/pip install rdata==1.1.0 pandas
    git -C <HonestDiD clone> show 29adaaf47756f4f93b8c0baf6f9e689af65b4a9e:data/VignetteResults.rda > /tmp/hd/VignetteResults.rda
    git -C <HonestDiD clone> show 6813f02ed38f0b63bdca6915604b2eac90491303:data/BCdata_EventStudy.rda > /tmp/hd/BCdata_EventStudy.rda
    git -C <HonestDiD clone> show 6813f02ed38f0b63bdca6915604b2eac90491303:data/LWdata_EventStudy.rda > /tmp/hd/LWdata_EventStudy.rda
    /tmp/rdvenv/bin/python tests/reference/convert_honest_vignette.py /tmp/hd

Source: https://github.com/asheshrambachan/HonestDiD (MIT licence, "HonestDiD
authors" 2023). ``data/VignetteResults.rda`` was added in commit 29adaaf
(2024-04-28, package version 0.2.6) and deleted in 98ea3e6 (2024-05-21); it
holds the five result tables the vignette ``HonestDiD_Example.Rmd`` printed,
produced by ``vignettes/precompute.R`` (same commits). The event studies
``BCdata_EventStudy`` (Benzarti & Carloni 2019, French restaurant VAT cut, 4 pre
+ 4 post years) and ``LWdata_EventStudy`` (Lovenheim & Willen 2019, duty-to-
bargain laws and female employment, 9 pre + 23 post) are unchanged since the
package's first release. Writes (full double precision, ``repr`` of floats):

* ``honest_vignette_results.csv``: ``table, Delta, method, bound, lb, ub``;
* ``honest_vignette_eventstudies.json``: ``betahat``, ``sigma``, ``timeVec``,
  ``referencePeriod`` of both event studies, with the sha256 of every input.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import rdata

HERE = Path(__file__).resolve().parent


def _df(obj, attrs):
    # rdata 1.1.0 stores tibble columns as (n, 1) arrays; flatten them
    return pd.DataFrame({k: np.asarray(v).ravel() for k, v in obj.items()})


def read(path: Path) -> dict:
    classes = {**rdata.conversion.DEFAULT_CLASS_MAP, "data.frame": _df, "tbl_df": _df, "tbl": _df}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rdata.conversion.convert(rdata.parser.parse_file(path), classes)


def main(src: Path) -> None:
    sha = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(src.glob("*.rda"))}
    vig = read(src / "VignetteResults.rda")["VignetteResults"]
    rows = []
    for name, tab in vig.items():
        if name == "BC_OriginalResults":
            tab = tab.assign(Delta="Original", M=np.nan)
        bound = tab["Mbar"] if "Mbar" in tab else tab["M"]
        for r, bd in zip(tab.itertuples(index=False), bound, strict=True):
            rows.append(
                {
                    "table": name,
                    "Delta": r.Delta,
                    "method": r.method,
                    "bound": repr(float(bd)),
                    "lb": repr(float(r.lb)),
                    "ub": repr(float(r.ub)),
                }
            )
    pd.DataFrame(rows).to_csv(HERE / "honest_vignette_results.csv", index=False)
    out = {"source_sha256": sha}
    for key in ("BCdata_EventStudy", "LWdata_EventStudy"):
        d = read(src / f"{key}.rda")[key]
        out[key] = {
            "betahat": [float(x) for x in np.asarray(d["betahat"]).ravel()],
            "sigma": np.asarray(d["sigma"], dtype=float).tolist(),
            "timeVec": [float(x) for x in np.asarray(d["timeVec"]).ravel()],
            "referencePeriod": float(np.asarray(d["referencePeriod"]).ravel()[0]),
            "numPrePeriods": int(np.asarray(d["prePeriodIndices"]).size),
            "numPostPeriods": int(np.asarray(d["postPeriodIndices"]).size),
        }
    (HERE / "honest_vignette_eventstudies.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
