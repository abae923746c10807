"""The yearbook layer: a REAL annual county panel in exactly the twin's schema.

No openly licensed annual county panel for Zhejiang exists offline. The county tables of
the Zhejiang Statistical Yearbook (《浙江统计年鉴》, "各县(市、区)主要经济指标") and the county
statistical bulletins are the authoritative source and must be keyed in by a person with
access. This module defines where such a file goes (``data/raw/yearbook/``), what it must
look like (``TEMPLATE.csv``: the columns of :data:`analysis.data.twin.COLUMNS`; schema
:func:`analysis.data.schemas.yearbook_schema`), checks it (every problem with its line),
loads it, and says whether it is *complete* (then the pipeline uses it instead of the
synthetic twin, with no code change).

Units are the 90 county-level units of end-2022 with their 2022 codes (like the twin). A
real series for 苍南县 before 2019 includes 龙港 (split off in 2019) and 龙港市 has no
rows before 2019: key the figures as published and say so in ``note``.

Shipped real data: ``bulletins_partial.csv`` keys every county figure of
``data/raw/bulletin_figures.csv`` (and the county figures printed in its notes) into this
schema, one row per county and year, with the source URL of every cell in ``source``
(``"gdp, gdp_growth: URL | urban_income: URL"``). It is far from complete (a few dozen
county-years of 1260), so ``layer="auto"`` stays synthetic.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data import registry, sources
from analysis.data.paths import raw_path
from analysis.data.schemas import (
    YEARBOOK_FLAGS,
    YEARBOOK_TEXT,
    non_integer_cells,
    plain_problems,
    unparsed_problems,
    yearbook_schema,
)
from analysis.errors import InputError

__all__ = [
    "COMPLETE_OUTCOMES",
    "PARTIAL_NAME",
    "TEMPLATE_NAME",
    "YEARBOOK_DIR",
    "check_yearbook_file",
    "complete_file",
    "completeness",
    "completeness_hint",
    "key_bulletin_figures",
    "load_yearbook",
    "read_yearbook",
    "template_columns",
]

YEARBOOK_DIR = raw_path("yearbook")
TEMPLATE_NAME = "TEMPLATE.csv"
PARTIAL_NAME = "bulletins_partial.csv"
#: A file is complete when it has every (code, year) of the 90 units x 2010-2023 and these
#: columns have no blank cell (the annual study's outcomes and weights).
COMPLETE_OUTCOMES = (
    "population",
    "urban_income",
    "rural_income",
    "employment",
    "rd_expenditure",
    "gdp",
)
YEARS = (2010, 2023)


def template_columns() -> list[str]:
    """The yearbook columns (= the twin's columns), in template order."""
    from analysis.data.twin import COLUMNS

    return list(COLUMNS)


_TEXT = {c: "string" for c in YEARBOOK_TEXT}
_TRUE = {
    "true": 1.0,
    "1": 1.0,
    "1.0": 1.0,
    "yes": 1.0,
    "false": 0.0,
    "0": 0.0,
    "0.0": 0.0,
    "no": 0.0,
}


def read_yearbook(path: str | Path) -> pd.DataFrame:
    """Read a yearbook-layer CSV as text-safe columns (no checks)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {p}")
    if p.suffix.lower() != ".csv":
        return sources.read_table(p)
    try:
        return pd.read_csv(p, dtype=_TEXT, keep_default_na=True)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"cannot read {p.name}: {first}") from None


def _codes_2022() -> frozenset[int]:
    return frozenset(int(c) for c in registry.load_counties()["code"])


def _check_frame(df: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """Problems of a yearbook frame, and the frame with numbers and flags converted."""
    problems: list[str] = []
    cols = template_columns()
    for c in cols:
        if c not in df.columns:
            problems.append(f"required column {c!r} is missing")
    df = df.copy()
    for col in df.columns:
        if col in YEARBOOK_TEXT:
            continue
        s = df[col]
        if col in YEARBOOK_FLAGS:
            conv = s.astype("string").str.strip().str.lower().map(_TRUE)
            what = "value(s) that are not true/false"
        else:
            if pd.api.types.is_numeric_dtype(s):
                continue
            conv = pd.to_numeric(s, errors="coerce")
            what = "non-numeric value(s)"
        problems.extend(unparsed_problems(col, s, conv, what))
        df[col] = pd.to_numeric(conv, errors="coerce")
    for col in ("code", "year", "cohort", "soe_cohort"):
        if col not in df.columns:
            continue
        bad, found = non_integer_cells(df, col)
        if found:
            problems.extend(found)
            df.loc[bad, col] = np.nan  # reported; the other checks still run
    if "source" in df.columns:
        df["source"] = df["source"].fillna("")
    import pandera.pandas as pa

    schema = yearbook_schema([c for c in df.columns], _codes_2022())
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as e:
        problems.extend(plain_problems(e, "yearbook"))
    # agreement with the registry where the identifying columns are filled in
    reg = registry.load_counties().set_index("code")
    for col, reg_col in (("mountain26", "mountain26"), ("prefecture", "prefecture_code")):
        if not ({"code", col} <= set(df.columns) and not problems):
            continue
        m = df[col].notna()
        want = df.loc[m, "code"].map(reg[reg_col].astype(float))
        bad = want.notna() & (df.loc[m, col] != want)
        if bad.any():
            i = int(np.flatnonzero(m.to_numpy())[np.flatnonzero(bad.to_numpy())[0]])
            problems.append(
                f"column {col!r}: {int(bad.sum())} value(s) disagree with the registry "
                f"(first at line {i + 2})"
            )
    return problems, df


def check_yearbook_file(path: str | Path) -> list[str]:
    """Every problem of a yearbook-layer file, in plain words with its line (reads only)."""
    return _check_frame(read_yearbook(path))[0]


def completeness(df: pd.DataFrame) -> tuple[bool, str]:
    """Whether a (checked) yearbook frame is complete, and a one-line account."""
    n_units = len(_codes_2022())
    years = range(YEARS[0], YEARS[1] + 1)
    need = n_units * len(years)
    inside = df[df["year"].between(*YEARS)] if "year" in df.columns else df.iloc[0:0]
    have = inside[["code", "year"]].drop_duplicates().shape[0] if len(inside) else 0
    blanks = {
        c: int(inside[c].isna().sum()) if c in inside.columns else len(inside)
        for c in COMPLETE_OUTCOMES
    }
    ok = have == need and all(v == 0 for v in blanks.values())
    missing = ", ".join(f"{c} blank in {v}" for c, v in blanks.items() if v)
    text = f"{have} of {need} county-years 2010-2023" + (f"; {missing}" if missing else "")
    return ok, text


def _candidates() -> list[Path]:
    if not YEARBOOK_DIR.is_dir():
        return []
    return sorted(p for p in YEARBOOK_DIR.glob("*.csv") if p.name != TEMPLATE_NAME)


def _signature() -> tuple:
    """Names, sizes and modification times of the candidate files (cache key)."""
    return (
        str(YEARBOOK_DIR),
        tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in _candidates()),
    )


@lru_cache(maxsize=8)
def _scan(signature: tuple) -> tuple[Path | None, str]:
    hints = []
    for p in _candidates():
        problems, df = _check_frame(read_yearbook(p))
        if problems:
            hints.append(f"{p.name}: {len(problems)} problem(s)")
            continue
        ok, text = completeness(df)
        if ok:
            return p, ""
        hints.append(f"{p.name}: {text}")
    return None, "; ".join(hints) if hints else "no data file besides TEMPLATE.csv"


def complete_file() -> Path | None:
    """The first complete real file in ``data/raw/yearbook/`` (by name) that passes the check.

    The scan is cached on the files' names, sizes and modification times.
    """
    return _scan(_signature())[0]


def completeness_hint() -> str:
    """Why no file is complete (one clause per candidate file)."""
    return _scan(_signature())[1]


def load_yearbook(path: str | Path | None = None) -> pd.DataFrame:
    """Load and check a real yearbook file; fill the registry and treatment columns.

    Blank ``prefecture``, ``mountain26``, ``railway``, ``pop2010`` are filled from the
    registry and the census (as the twin does), blank ``cohort``, ``timing_imputed``,
    ``soe_cohort``, ``enclave_kind`` from :func:`analysis.data.treatment.annual_cohorts`
    (default annual rule), blank ``rd_intensity`` from R&D / GDP. ``data_layer`` is
    ``"real"``. Raises :class:`InputError` listing every problem.
    """
    from analysis.data.treatment import ANNUAL_RULE, annual_cohorts
    from analysis.data.twin_params import census_anchors, load_params

    p = Path(path) if path is not None else complete_file()
    if p is None:
        raise InputError(f"no complete real yearbook file in {YEARBOOK_DIR}")
    problems, df = _check_frame(read_yearbook(p))
    if problems:
        raise InputError(f"{p.name}: {len(problems)} problem(s): " + "; ".join(problems), problems)
    df = df.astype({"code": "int64", "year": "int64"})
    reg = registry.load_counties().set_index("code")
    params = load_params()
    cen = census_anchors(params)
    pop10 = cen[cen["year"] == 2010].set_index("code")["population"]
    treat = annual_cohorts(ANNUAL_RULE).set_index("code")
    fills = {
        "name_zh": df["code"].map(reg["name_zh"]),
        "prefecture": df["code"].map(reg["prefecture_code"]).astype(float),
        "mountain26": df["code"].map(reg["mountain26"].astype(float)),
        "railway": (~df["code"].isin(params["panel"]["no_railway"])).astype(float),
        "pop2010": df["code"].map(pop10),
        "cohort": df["code"].map(treat["cohort"]).astype(float),
        "timing_imputed": df["code"].map(treat["timing_imputed"].astype(float)),
        "soe_cohort": df["code"].map(treat["soe_cohort"]).astype(float),
        "enclave_kind": df["code"].map(treat["enclave_kind"]),
    }
    for c, v in fills.items():
        df[c] = df[c].where(df[c].notna(), v) if c in df.columns else v
    if df["rd_intensity"].isna().any():
        df["rd_intensity"] = df["rd_intensity"].where(
            df["rd_intensity"].notna(), 100 * df["rd_expenditure"] / df["gdp"]
        )
    df["data_layer"] = "real"
    df["enclave_kind"] = df["enclave_kind"].fillna("").astype(str)
    df["note"] = df["note"].fillna("").astype(str)
    for c in ("prefecture", "cohort", "soe_cohort"):
        df[c] = df[c].astype("int64")
    for c in YEARBOOK_FLAGS:
        df[c] = df[c].astype(bool)
    df = df[template_columns()].sort_values(["code", "year"], kind="mergesort")
    df = df.reset_index(drop=True)
    df.attrs.update(
        {
            "data_layer": "real",
            "scenario": "real",
            "seed": None,
            "source": f"data/raw/yearbook/{p.name}",
        }
    )
    return df


# ------------------------------------------------------- keying the cited figures
def key_bulletin_figures() -> pd.DataFrame:
    """Every cited county figure keyed into the yearbook schema (``bulletins_partial.csv``).

    From ``bulletin_figures.csv``: every single-county row; variables outside the schema
    (per-capita GDP, registered population, new urban jobs, unemployment rate) go into
    ``note`` with their value. County figures printed in a row's note or derived from
    cited ones (the ``extra_targets`` of the twin's parameter file with ``scope =
    "county"``) are keyed too and marked in ``note``. Sums over several counties and
    prefecture/province figures cannot be keyed into a county row (they stay in
    ``bulletin_figures.csv``). ``source`` maps each keyed cell to its URL.
    """
    from analysis.data.twin_params import load_params

    bf = sources.load_bulletin_figures()
    codes = _codes_2022()
    reg = registry.load_counties().set_index("code")
    cells: dict[tuple[int, int], dict] = {}

    def cell(code: int, year: int) -> dict:
        return cells.setdefault((code, year), {"vals": {}, "src": {}, "notes": []})

    for r in bf.itertuples(index=False):
        ad = str(r.adcode)
        if "+" in ad or int(ad) not in codes:
            continue
        c = cell(int(ad), int(r.year))
        var = sources.BULLETIN_COLUMNS.get(r.variable)
        if var is None:
            c["notes"].append(f"{r.variable} = {r.value:g} {r.unit}")
            c["src"].setdefault(r.source, []).append(f"note ({r.variable})")
            continue
        c["vals"][var] = float(r.value)
        c["src"].setdefault(r.source, []).append(var)
        if str(r.vintage).startswith(("derived", "secondary")):
            c["notes"].append(f"{var}: {r.vintage}")
    for e in load_params().get("extra_targets", []):
        if e["scope"] != "county":
            continue
        c = cell(int(e["codes"][0]), int(e["year"]))
        if e["variable"] in c["vals"]:
            continue
        c["vals"][e["variable"]] = float(e["value"])
        c["src"].setdefault(e["source"], []).append(e["variable"])
        c["notes"].append(f"{e['variable']}: {e['how']}")
    rows = []
    cols = template_columns()
    for (code, year), c in sorted(cells.items()):
        row = dict.fromkeys(cols, None)
        row.update(
            code=code,
            year=year,
            name_zh=reg.loc[code, "name_zh"],
            prefecture=int(reg.loc[code, "prefecture_code"]),
            mountain26=bool(reg.loc[code, "mountain26"]),
            data_layer="real",
            source=" | ".join(f"{', '.join(v)}: {u}" for u, v in c["src"].items()),
            note="; ".join(c["notes"]),
        )
        row.update(c["vals"])
        rows.append(row)
    out = pd.DataFrame(rows, columns=cols)
    return out
