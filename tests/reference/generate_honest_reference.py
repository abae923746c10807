"""Regenerate ``tests/reference/honest_peer.json`` from Python HonestDiD peers.

Not part of the test suite and not runnable in the project venv: it needs the
peer packages, installed in a separate environment outside the repository::

    python3.11 -m venv /tmp/peers_honest
    /tmp/peers_honest/bin/pip install honestdid moderndid pyfixest
    /tmp/peers_honest/bin/python tests/reference/generate_honest_reference.py

Inputs: the R HonestDiD README's Medicaid example (``ehec_data.csv``), an event
study of ``dins`` on year x D interactions with state and year fixed effects,
clustered by state, reference year 2013, estimated with pyfixest (fixest's
CRV1 small-sample convention). The peers are run on that ``betahat``/``sigma``:

* ``honestdid`` (A. Quispe, a line-by-line port of R HonestDiD: folded-normal
  quantile from 10^6 simulated draws, C-LF on a 1000-point grid over
  +/- 20 sd(theta) around 0, least-favourable critical value from 1000 draws);
* ``moderndid.didhonest`` (J. DeKlerk: exact folded-normal quantile, C-LF on a
  1000-point grid centred on the identified set).

The script never imports the ``analysis`` package.
"""

from __future__ import annotations

import json
import platform
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "data" / "raw" / "external" / "ehec_data.csv"
OUT = HERE / "honest_peer.json"

M_GRID = [0.0, 0.01, 0.02, 0.03, 0.04, 0.05]
MBAR_GRID = [0.0, 0.5, 1.0, 1.5, 2.0]
L_VECS = {"first": [1.0, 0.0], "average": [0.5, 0.5]}


def event_study() -> tuple[np.ndarray, np.ndarray, list[str]]:
    import pyfixest as pf

    df = pd.read_csv(DATA)
    d = df[(df["year"] < 2016) & (df["yexp2"].isna() | (df["yexp2"] != 2015))].copy()
    d["D"] = (d["yexp2"] == 2014).astype(float)
    years = [2008, 2009, 2010, 2011, 2012, 2014, 2015]
    for y in years:
        d[f"D_{y}"] = d["D"] * (d["year"] == y)
    names = [f"D_{y}" for y in years]
    fit = pf.feols(
        "dins ~ " + " + ".join(names) + " | stfips + year", data=d, vcov={"CRV1": "stfips"}
    )
    coef = fit.coef()
    all_names = list(coef.index)
    idx = [all_names.index(n) for n in names]
    beta = np.array([coef[n] for n in names])
    sigma = np.asarray(fit._vcov)[np.ix_(idx, idx)]
    return beta, sigma, names


def attempt(fn, bound: str, call: str) -> dict:
    """Run one peer call; record rows and time, or the error it raised."""
    t0 = time.perf_counter()
    try:
        rows = frame_rows(fn(), bound)
    except Exception as exc:  # a peer bug is data, not a reason to stop
        return {
            "call": call,
            "error": f"{type(exc).__name__}: {exc}",
            "seconds": round(time.perf_counter() - t0, 2),
        }
    return {"call": call, "rows": rows, "seconds": round(time.perf_counter() - t0, 2)}


def frame_rows(df, bound: str) -> list[dict]:
    if hasattr(df, "to_pandas"):
        df = df.to_pandas()
    df = pd.DataFrame(df)
    return [
        {
            "M": float(r[bound]),
            "lb": float(r["lb"]),
            "ub": float(r["ub"]),
            "method": str(r["method"]),
        }
        for _, r in df.iterrows()
    ]


def run_honestdid(beta, sigma) -> dict:
    import honestdid as hd

    out: dict = {"package": "honestdid", "version": version("honestdid"), "runs": {}}
    for key, lv in L_VECS.items():
        lva = np.array(lv)
        orig = hd.constructOriginalCS(beta, sigma, 5, 2, l_vec=lva)
        orig = orig.to_dict("records")[0] if hasattr(orig, "to_dict") else dict(orig)
        out["runs"][key] = {
            "l_vec": lv,
            "smoothness": attempt(
                lambda lva=lva: hd.createSensitivityResults(
                    beta,
                    sigma,
                    numPrePeriods=5,
                    numPostPeriods=2,
                    Mvec=M_GRID,
                    l_vec=lva,
                    method="FLCI",
                ),
                "M",
                "createSensitivityResults(betahat, sigma, numPrePeriods=5, numPostPeriods=2, "
                f"Mvec={M_GRID}, l_vec={lv}, method='FLCI')",
            ),
            "relative_magnitude": attempt(
                lambda lva=lva: hd.createSensitivityResults_relativeMagnitudes(
                    beta,
                    sigma,
                    numPrePeriods=5,
                    numPostPeriods=2,
                    Mbarvec=MBAR_GRID,
                    l_vec=lva,
                    method="C-LF",
                ),
                "Mbar",
                "createSensitivityResults_relativeMagnitudes(betahat, sigma, numPrePeriods=5, "
                f"numPostPeriods=2, Mbarvec={MBAR_GRID}, l_vec={lv}, method='C-LF')",
            ),
            "original": {"lb": float(orig["lb"]), "ub": float(orig["ub"])},
        }
    return out


def run_moderndid(beta, sigma) -> dict:
    from moderndid.didhonest import (
        construct_original_cs,
        create_sensitivity_results_rm,
        create_sensitivity_results_sm,
    )

    out: dict = {"package": "moderndid", "version": version("moderndid"), "runs": {}}
    for key, lv in L_VECS.items():
        lva = np.array(lv)
        orig = construct_original_cs(beta, sigma, num_pre_periods=5, num_post_periods=2, l_vec=lva)
        out["runs"][key] = {
            "l_vec": lv,
            "smoothness": attempt(
                lambda lva=lva: create_sensitivity_results_sm(
                    beta,
                    sigma,
                    num_pre_periods=5,
                    num_post_periods=2,
                    m_vec=M_GRID,
                    l_vec=lva,
                    method="FLCI",
                ),
                "m",
                "create_sensitivity_results_sm(betahat, sigma, num_pre_periods=5, "
                f"num_post_periods=2, m_vec={M_GRID}, l_vec={lv}, method='FLCI')",
            ),
            "relative_magnitude": attempt(
                lambda lva=lva: create_sensitivity_results_rm(
                    beta,
                    sigma,
                    num_pre_periods=5,
                    num_post_periods=2,
                    m_bar_vec=MBAR_GRID,
                    l_vec=lva,
                    method="C-LF",
                ),
                "Mbar",
                "create_sensitivity_results_rm(betahat, sigma, num_pre_periods=5, "
                f"num_post_periods=2, m_bar_vec={MBAR_GRID}, l_vec={lv}, method='C-LF')",
            ),
            "original": {"lb": float(orig.lb), "ub": float(orig.ub)},
        }
    return out


def main() -> None:
    warnings.simplefilter("ignore")
    beta, sigma, names = event_study()
    peers = {"honestdid": run_honestdid(beta, sigma), "moderndid": run_moderndid(beta, sigma)}
    old = json.loads(OUT.read_text()) if OUT.exists() else {}
    doc = {
        "description": (
            "Python HonestDiD peers on the R HonestDiD README Medicaid event study "
            "(betahat/sigma below, from pyfixest). Generated by "
            "tests/reference/generate_honest_reference.py; 'notes' and 'tolerances' are "
            "written by hand and kept when the file is regenerated."
        ),
        "command": "/tmp/peers_honest/bin/python tests/reference/generate_honest_reference.py",
        "environment": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "numpy": np.__version__,
            "scipy": version("scipy"),
            "pandas": pd.__version__,
            "pyfixest": version("pyfixest"),
            "cvxpy": version("cvxpy"),
            "torch": version("torch"),
        },
        "event_study": {
            "estimator": "pyfixest.feols('dins ~ D_2008 + ... + D_2015 | stfips + year', "
            "vcov={'CRV1': 'stfips'}) on year < 2016, yexp2 missing or != 2015; "
            "D = 1{yexp2 == 2014}; reference year 2013",
            "terms": names,
            "betahat": beta.tolist(),
            "sigma": sigma.tolist(),
            "num_pre_periods": 5,
            "num_post_periods": 2,
        },
        "peers": peers,
        "tolerances": old.get("tolerances", {}),
        "notes": old.get("notes", []),
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
