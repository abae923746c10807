"""The SYNTHETIC twin's inputs: its parameter file, its units and their census anchors.

What lives here is everything :mod:`analysis.data.twin` (the generator) and
:mod:`analysis.data.twin_targets` (the calibration targets) read before a single number
is drawn: the parameters of ``analysis/data/twin_params.toml`` (every number there has its
source or its reason), the 90 county-level units of end-2022 with their time-invariant
covariates, and the 2010 and 2020 census counts allocated to those units. It is separate
so that the targets and the generator share one reading of the inputs without importing
each other.

Units and boundaries
--------------------
The twin has the **90 county-level units of end-2022** (``data/raw/registry/counties.csv``)
on their 2022 boundaries for every year 2010-2023 (a back-cast), not the 82
consistent-boundary units. Reasons: the yearbook tables a researcher will key in, the
bulletin figures, the 26 mountain counties, the SOE pairing and the enclave timeline are
all reported for the 2022 units; and on consistent boundaries the mountain county 苍南 would
be merged with 龙港 (split from 苍南 in 2019, not a mountain county), contaminating the
treated group. The census anchors, which exist only for consistent-boundary units where
boundaries moved, are imposed on the CBU totals: a CBU's census count is split over its 2022
units by the 2020 census shares where the 2020 census lists those units (苍南/龙港,
海曙/鄞州, 龙湾/洞头, 越城/柯桥; so 龙港 is back-cast to 2010 at its 2020 share of
苍南+龙港) and by the stated shares of the parameter file for the 2021 Hangzhou
re-districting. Calibration tests compare the twin with the census at CBU level. A real
yearbook keyed in by 2022 units has the same break a real 苍南 series has in 2019; the
yearbook layer documents it.
"""

from __future__ import annotations

import copy
import tomllib
from functools import cache

import numpy as np
import pandas as pd

from analysis.data import census, registry
from analysis.data.paths import REPO_ROOT
from analysis.errors import DataIntegrityError

__all__ = ["PARAMS_PATH", "census_anchors", "load_params"]

PARAMS_PATH = REPO_ROOT / "analysis" / "data" / "twin_params.toml"


@cache
def _params_cached(path: str) -> dict:
    """The parsed parameter file at ``path`` (read once per process; never mutate it)."""
    with open(path, "rb") as f:
        return tomllib.load(f)


def load_params() -> dict:
    """The twin's parameters (``analysis/data/twin_params.toml``), as a fresh dict."""
    return copy.deepcopy(_params_cached(str(PARAMS_PATH)))


def is_default(params: dict | None) -> bool:
    """Whether ``params`` is ``None`` or equal to the parameter file (cached results apply)."""
    return params is None or params == _params_cached(str(PARAMS_PATH))


@cache
def census_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Harmonised census (level "full") and the 2020 county rows (read once per process)."""
    return census.harmonised_census("full"), census.load_census(2020)


def units(params: dict) -> pd.DataFrame:
    """The 90 units of end-2022 sorted by code: ``code, name_zh, prefecture, mountain26, railway``.

    ``railway`` is False for the codes of ``[panel] no_railway`` in ``params``.
    """
    c = registry.load_counties().sort_values("code").reset_index(drop=True)
    out = pd.DataFrame(
        {
            "code": c["code"].astype("int64"),
            "name_zh": c["name_zh"],
            "prefecture": c["prefecture_code"].astype("int64"),
            "mountain26": c["mountain26"].astype(bool),
        }
    )
    out["railway"] = ~out["code"].isin(params["panel"]["no_railway"])
    return out


@cache
def _census_anchors_default() -> pd.DataFrame:
    """:func:`census_anchors` of the parameter file (computed once per process)."""
    return _census_anchors(load_params())


def census_anchors(params: dict | None = None) -> pd.DataFrame:
    """Census population (万人) and urbanisation (%) of 2010 and 2020 on the 2022 units.

    A consistent-boundary unit's counts are split over its 2022 units (module docstring);
    sums over a CBU's units equal the census exactly. Columns ``code, year, population,
    urban_pop`` (万人), ``urbanisation``, ``cbu``.
    """
    if is_default(params):
        return _census_anchors_default().copy()
    return _census_anchors(params)  # type: ignore[arg-type]


def _census_anchors(params: dict) -> pd.DataFrame:
    """Body of :func:`census_anchors`."""
    params = load_params() if params is None else params
    h, cen20 = census_inputs()
    cen20 = cen20.set_index("code")
    cw = registry.load_crosswalk("full")
    c22 = cw[cw["year"] == 2022]
    c20 = cw[cw["year"] == 2020]
    shares_cfg = {int(k): float(v) for k, v in params["allocation"]["shares"].items()}
    rows = []
    for cbu, members in c22.groupby("cbu"):
        codes = sorted(int(x) for x in members["code"])
        codes20 = sorted(int(x) for x in c20.loc[c20["cbu"] == cbu, "code"])
        for year in (2010, 2020):
            hv = h[(h["cbu"] == cbu) & (h["year"] == year)]
            if len(hv) != 1:
                raise DataIntegrityError(f"census: CBU {cbu} missing in {year}")
            pop, urb = float(hv["pop_total"].iloc[0]), float(hv["pop_urban"].iloc[0])
            if len(codes) == 1:
                rows.append((codes[0], year, pop, urb, cbu))
                continue
            if codes == codes20:
                p20 = np.array([float(cen20.loc[k, "pop_total"]) for k in codes])
                u20 = np.array([float(cen20.loc[k, "pop_urban"]) for k in codes])
            else:
                missing = [k for k in codes if k not in shares_cfg]
                if missing:
                    raise DataIntegrityError(f"no allocation share for units {missing} ({cbu})")
                p20 = np.array([shares_cfg[k] for k in codes])
                u20 = p20 * (urb / pop)
            share = p20 / p20.sum()
            p = pop * share
            rate = np.minimum((u20 / p20) * (urb / pop) / (u20.sum() / p20.sum()), 1.0)
            u = p * rate
            u *= urb / u.sum()
            for _ in range(len(codes)):  # no unit above 100% urban: move the excess
                u = np.minimum(u, p)
                room = p - u
                gap = urb - u.sum()
                if gap <= 1e-9 * urb or room.sum() <= 0:
                    break
                u += gap * room / room.sum()
            for k, pk, uk in zip(codes, p, u, strict=True):
                rows.append((k, year, pk, uk, cbu))
    out = pd.DataFrame(rows, columns=["code", "year", "pop", "urb", "cbu"])
    out["population"] = out["pop"] / 1e4
    out["urban_pop"] = out["urb"] / 1e4
    out["urbanisation"] = 100 * out["urb"] / out["pop"]
    return out[["code", "year", "population", "urban_pop", "urbanisation", "cbu"]]
