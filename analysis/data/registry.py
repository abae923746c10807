"""Registry of Zhejiang's county-level units and consistent-boundary units (CBUs).

Two shipped files, both under ``data/raw/registry/`` (see the README there for
sources and the list of boundary changes):

``counties.csv``
    The 90 county-level units as of end-2022 (GB/T 2260 codes, names, prefecture,
    type, membership of the 26 mountain counties, 山区26县).
``crosswalk.csv``
    Every county-level unit of 2010 (6th census), 2020 (7th census) and 2022
    mapped to a consistent-boundary unit, at two levels:

    * ``"census"`` -- boundaries consistent between 2010 and 2020 (86 CBUs);
    * ``"full"``   -- boundaries consistent across 2010, 2020 and 2022 (82 CBUs).

A CBU is the smallest union of units whose outer boundary is the same in every
year the level covers. Harmonisation is by aggregation only (weight 1, no
population splitting), so any count variable can be summed onto CBUs exactly;
ratios must be recomputed from the summed numerators and denominators.

All functions are pure: they read the shipped files (cached) and return new
objects; callers may mutate what they get back.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from analysis.data.paths import raw_path
from analysis.errors import DataIntegrityError, InputError

__all__ = [
    "LEVEL_YEARS",
    "Level",
    "cbu_table",
    "load_counties",
    "load_crosswalk",
    "mountain26_codes",
    "to_cbu",
]

Level = Literal["census", "full"]

#: Years covered by each CBU level.
LEVEL_YEARS: dict[str, tuple[int, ...]] = {"census": (2010, 2020), "full": (2010, 2020, 2022)}

_COUNTIES = ("registry", "counties.csv")
_CROSSWALK = ("registry", "crosswalk.csv")

_COUNTY_COLUMNS = [
    "code",
    "name_zh",
    "name_pinyin",
    "name_en_short",
    "prefecture_code",
    "prefecture_zh",
    "prefecture_en",
    "type",
    "mountain26",
]
_COUNTY_TYPES = {"district", "county", "county_city", "autonomous_county"}
_CROSSWALK_COLUMNS = ["year", "code", "name_zh", "cbu", "cbu_name_zh", "cbu_level", "note"]


# --------------------------------------------------------------------------- loading
def _read_registry(
    parts: tuple[str, ...], columns: list[str], dtype: dict[str, str]
) -> tuple[Path, pd.DataFrame]:
    """Read a registry CSV (blank cells stay empty strings); refuse any other header.

    Raises
    ------
    DataIntegrityError
        If the file's columns are not exactly ``columns``, in that order.
    """
    path = raw_path(*parts)
    df = pd.read_csv(path, dtype=dtype, keep_default_na=False)
    if list(df.columns) != columns:
        raise DataIntegrityError(f"{path}: columns {list(df.columns)} != {columns}")
    return path, df


@lru_cache(maxsize=1)
def _counties() -> pd.DataFrame:
    path, df = _read_registry(
        _COUNTIES,
        _COUNTY_COLUMNS,
        {"code": "int64", "prefecture_code": "int64", "mountain26": "string"},
    )
    flags = df["mountain26"].str.lower()
    if not flags.isin(["true", "false"]).all():
        raise DataIntegrityError(f"{path}: mountain26 must be true/false")
    df["mountain26"] = flags.eq("true").astype(bool)
    problems = []
    if len(df) != 90:
        problems.append(f"{len(df)} rows, expected 90")
    if df["code"].duplicated().any():
        problems.append(f"duplicate codes {sorted(df.loc[df['code'].duplicated(), 'code'])}")
    if not df["code"].between(330101, 331199).all():
        problems.append("codes outside Zhejiang's 3301xx-3311xx range")
    if not (df["prefecture_code"] == df["code"] // 100 * 100).all():
        problems.append("prefecture_code does not match the code's first four digits")
    if not df["type"].isin(_COUNTY_TYPES).all():
        problems.append(f"unknown type values {sorted(set(df['type']) - _COUNTY_TYPES)}")
    if int(df["mountain26"].sum()) != 26:
        problems.append(f"{int(df['mountain26'].sum())} mountain26 units, expected 26")
    if problems:
        raise DataIntegrityError(f"{path}: " + "; ".join(problems))
    return df


@lru_cache(maxsize=1)
def _crosswalk() -> pd.DataFrame:
    path, df = _read_registry(
        _CROSSWALK, _CROSSWALK_COLUMNS, {"year": "int64", "code": "int64", "cbu": "str"}
    )
    problems = []
    for level, years in LEVEL_YEARS.items():
        sub = df[df["cbu_level"] == level]
        if set(sub["year"]) != set(years):
            problems.append(
                f"level {level!r} has years {sorted(set(sub['year']))}, expected {years}"
            )
        if sub.duplicated(["year", "code"]).any():
            problems.append(f"level {level!r} maps some (year, code) more than once")
        names = sub.groupby("cbu")["cbu_name_zh"].nunique()
        if (names > 1).any():
            problems.append(
                f"level {level!r}: CBUs with several names {list(names[names > 1].index)}"
            )
    if not df["cbu_level"].isin(list(LEVEL_YEARS)).all():
        problems.append("unknown cbu_level values")
    if problems:
        raise DataIntegrityError(f"{path}: " + "; ".join(problems))
    return df


def _check_level(level: str) -> None:
    if level not in LEVEL_YEARS:
        raise InputError(f"unknown CBU level {level!r}; use one of {sorted(LEVEL_YEARS)}")


def load_counties() -> pd.DataFrame:
    """The 90 county-level units of Zhejiang as of end-2022.

    Returns
    -------
    pandas.DataFrame
        One row per unit with columns ``code`` (int, GB/T 2260), ``name_zh``,
        ``name_pinyin``, ``name_en_short``, ``prefecture_code`` (int),
        ``prefecture_zh``, ``prefecture_en``, ``type`` (``district``, ``county``,
        ``county_city`` or ``autonomous_county``) and ``mountain26`` (bool).
        A fresh copy on every call.

    Raises
    ------
    analysis.errors.DataIntegrityError
        If the shipped file does not have the expected shape.
    """
    return _counties().copy()


def load_crosswalk(level: Level = "census") -> pd.DataFrame:
    """Unit-to-CBU crosswalk rows of one level.

    Parameters
    ----------
    level : {"census", "full"}
        ``"census"``: CBUs consistent between 2010 and 2020 (rows for 2010 and
        2020). ``"full"``: CBUs consistent across 2010, 2020 and 2022 (rows for
        all three years).

    Returns
    -------
    pandas.DataFrame
        Columns ``year, code, name_zh, cbu, cbu_name_zh, cbu_level, note``; each
        (year, code) appears exactly once. A fresh copy on every call.

    Raises
    ------
    analysis.errors.InputError
        If ``level`` is not one of the two levels.
    """
    _check_level(level)
    cw = _crosswalk()
    return cw[cw["cbu_level"] == level].reset_index(drop=True)


@lru_cache(maxsize=1)
def mountain26_codes() -> frozenset[int]:
    """Codes of the 26 mountain counties (山区26县).

    Returns
    -------
    frozenset of int
        The 26 GB/T 2260 codes; they are unchanged from 2010 to 2022.
    """
    c = _counties()
    return frozenset(int(x) for x in c.loc[c["mountain26"], "code"])


# --------------------------------------------------------------------------- CBU table
@lru_cache(maxsize=2)
def _cbu_table(level: str) -> pd.DataFrame:
    cw = load_crosswalk(level)
    years = LEVEL_YEARS[level]
    last = years[-1]
    m26 = mountain26_codes()
    counties = _counties()
    prefectures = (
        counties[["prefecture_code", "prefecture_zh", "prefecture_en"]]
        .drop_duplicates()
        .set_index("prefecture_code")
    )
    rows = []
    for cbu, g in cw.groupby("cbu", sort=True):
        pref = set((g["code"] // 100 * 100).tolist())
        if len(pref) != 1:
            raise DataIntegrityError(f"CBU {cbu} spans several prefectures {sorted(pref)}")
        (pcode,) = pref
        latest = g.loc[g["year"] == last, "code"]
        in_m26 = latest.isin(m26)
        row = {
            "cbu": cbu,
            "cbu_name_zh": g["cbu_name_zh"].iloc[0],
            "prefecture_code": int(pcode),
            "prefecture_zh": prefectures.loc[pcode, "prefecture_zh"],
            "prefecture_en": prefectures.loc[pcode, "prefecture_en"],
            "mountain26": bool(in_m26.any()),
            "mountain26_mixed": bool(in_m26.any() and not in_m26.all()),
        }
        for y in years:
            codes = sorted(g.loc[g["year"] == y, "code"].tolist())
            if not codes:
                raise DataIntegrityError(f"CBU {cbu} ({level}) has no unit in {y}")
            row[f"n_units_{y}"] = len(codes)
            row[f"codes_{y}"] = ";".join(str(c) for c in codes)
        rows.append(row)
    return pd.DataFrame(rows)


def cbu_table(level: Level = "census") -> pd.DataFrame:
    """One row per consistent-boundary unit.

    Parameters
    ----------
    level : {"census", "full"}
        Which CBU system (see :func:`load_crosswalk`).

    Returns
    -------
    pandas.DataFrame
        Columns ``cbu, cbu_name_zh, prefecture_code, prefecture_zh,
        prefecture_en, mountain26, mountain26_mixed`` and, for each year ``Y``
        the level covers, ``n_units_Y`` and ``codes_Y`` (member codes joined by
        ``;``). ``mountain26`` is true when the CBU contains a mountain26 unit
        in the level's latest year; ``mountain26_mixed`` when it also contains
        a unit that is not one (苍南县+龙港市: 龙港 was part of 苍南 until 2019
        and is not itself on the list). Sorted by ``cbu``; a fresh copy.

    Raises
    ------
    analysis.errors.InputError
        If ``level`` is not one of the two levels.
    """
    _check_level(level)
    return _cbu_table(level).copy()


# --------------------------------------------------------------------------- aggregation
def _preview(values: Sequence[object], k: int = 5) -> str:
    vals = list(values)
    more = f" (+{len(vals) - k} more)" if len(vals) > k else ""
    return ", ".join(str(v) for v in vals[:k]) + more


def _as_int_codes(codes: pd.Series, code_col: str) -> pd.Series:
    num = pd.to_numeric(codes, errors="coerce")
    bad = num.isna() | (num.notna() & (num.fillna(0) % 1 != 0))
    if bad.any():
        raise InputError(
            f"column {code_col!r} has non-integer county codes: {_preview(codes[bad].tolist())}"
        )
    return num.astype("int64")


def to_cbu(
    df: pd.DataFrame,
    code_col: str,
    year: int,
    level: Level = "census",
    sum_cols: Sequence[str] | None = None,
    *,
    allow_partial: bool = False,
    allow_duplicate_codes: bool = False,
) -> pd.DataFrame:
    """Aggregate a table of county-level units of one year onto CBUs.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per county-level unit valid in ``year`` (no province or
        prefecture rows). Extra columns are ignored.
    code_col : str
        Column holding the GB/T 2260 code (int, or float/str with an integral
        value such as ``330102.0``).
    year : int
        Vintage of the codes: 2010 or 2020 (``level="census"``), or 2010, 2020
        or 2022 (``level="full"``).
    level : {"census", "full"}
        Which CBU system to aggregate to.
    sum_cols : sequence of str, optional
        Count columns to sum. Default: every numeric column other than
        ``code_col``. Only counts may be summed; recompute ratios afterwards.
        Object columns are accepted if every value converts to a number.
    allow_partial : bool, default False
        If False, every CBU touched by ``df`` must have all its member units of
        ``year`` present (otherwise its sum would silently cover only part of
        its area). If True, partial CBUs are summed over the units present.
    allow_duplicate_codes : bool, default False
        If False, a code may appear only once (a repeated row would be counted
        twice). Set True to add extra rows on purpose, e.g. a prefecture
        residual assigned to its host unit.

    Returns
    -------
    pandas.DataFrame
        One row per CBU present, sorted by ``cbu``, with columns ``cbu``,
        ``cbu_name_zh``, ``mountain26``, ``n_units`` (units aggregated) and the
        summed columns. A sum is missing (NaN) if any member value is missing.

    Raises
    ------
    analysis.errors.InputError
        For an unknown level or year, a missing or non-numeric column, a
        non-integer, duplicated or unknown code, a code that is not a
        county-level unit in ``year``, or (unless ``allow_partial``) a CBU
        with member units missing.
    """
    _check_level(level)
    years = LEVEL_YEARS[level]
    if year not in years:
        raise InputError(f"year {year} is not covered by CBU level {level!r} (years {years})")
    if code_col not in df.columns:
        raise InputError(f"code column {code_col!r} not found")
    if sum_cols is None:
        sum_cols = [c for c in df.columns if c != code_col and pd.api.types.is_numeric_dtype(df[c])]
    sum_cols = list(sum_cols)
    missing = [c for c in sum_cols if c not in df.columns]
    if missing:
        raise InputError(f"columns to sum not found: {_preview(missing)}")
    if code_col in sum_cols:
        raise InputError(f"code column {code_col!r} cannot also be summed")
    values = df[sum_cols].reset_index(drop=True)
    nonnum = []
    for c in sum_cols:
        if pd.api.types.is_numeric_dtype(values[c]):
            continue
        converted = pd.to_numeric(values[c], errors="coerce")
        if (converted.isna() & values[c].notna()).any() or pd.api.types.is_string_dtype(values[c]):
            nonnum.append(c)
        else:
            values[c] = converted
    if nonnum:
        raise InputError(f"columns to sum are not numeric: {_preview(nonnum)}")

    codes = _as_int_codes(df[code_col], code_col)
    dup = codes[codes.duplicated()].unique()
    if len(dup) and not allow_duplicate_codes:
        raise InputError(f"duplicate county codes in {code_col!r}: {_preview(sorted(dup))}")

    cw = load_crosswalk(level)
    cw_year = cw[cw["year"] == year]
    valid = dict(zip(cw_year["code"], cw_year["cbu"], strict=True))
    unknown = sorted(set(codes) - set(valid))
    if unknown:
        other = (
            _crosswalk()
            .groupby("code")["year"]
            .agg(lambda s: "/".join(str(y) for y in sorted(set(s))))
        )
        parts = []
        for c in unknown[:5]:
            if c in other.index:
                parts.append(f"{c} (not a county-level unit in {year}; valid in {other[c]})")
            else:
                parts.append(f"{c} (unknown county code)")
        more = f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else ""
        raise InputError(
            f"codes not valid for {year} at level {level!r}: " + ", ".join(parts) + more
        )

    cbu = codes.map(valid)
    if not allow_partial:
        members = cw_year.groupby("cbu")["code"].agg(set)
        present = set(codes)
        partial = []
        for b in sorted(set(cbu)):
            lacking = sorted(members[b] - present)
            if lacking:
                partial.append(f"{b} lacks {'/'.join(str(c) for c in lacking)}")
        if partial:
            raise InputError(
                f"incomplete CBUs for {year} (pass allow_partial=True to sum anyway): "
                + _preview(partial, 3)
            )

    key = pd.Series(cbu.to_numpy(), name="cbu")
    grouped = values.groupby(key, sort=True)
    sums = grouped.sum()
    if len(sum_cols):
        any_na = values.isna().groupby(key, sort=True).any()
        sums = sums.mask(any_na.to_numpy(), np.nan)
    out = sums.reset_index()
    out.insert(
        1, "n_units", pd.Series(codes.to_numpy()).groupby(key, sort=True).nunique().to_numpy()
    )
    table = _cbu_table(level)[["cbu", "cbu_name_zh", "mountain26"]]
    out = table.merge(out, on="cbu", how="inner", validate="one_to_one")
    return out.sort_values("cbu", ignore_index=True)
