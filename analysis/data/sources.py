"""Loaders for the shipped raw tables (validated) and for user-supplied files."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import pandas as pd

from analysis.data.paths import raw_path
from analysis.errors import InputError


@cache
def _load(name: str, rel: str) -> pd.DataFrame:
    # pandera (schemas) is imported only here: reading a user's table must not pay
    # its import (about 1 s, measured with python -X importtime)
    from analysis.data.schemas import validate

    df = pd.read_csv(
        raw_path(rel),
        keep_default_na=True,
        dtype={"adcode": "string"} if name == "bulletin_figures" else None,
    )
    return validate(name, df)


def load_paper_claims() -> pd.DataFrame:
    """Every quantitative statement of the seed paper (``data/raw/paper_claims.csv``)."""
    return _load("paper_claims", "paper_claims.csv").copy()


def load_enclave_events() -> pd.DataFrame:
    """Enclave and pairing events from the sourced timeline (``data/raw/enclave_events.csv``)."""
    return _load("enclave_events", "enclave_events.csv").copy()


#: ``variable`` of ``bulletin_figures.csv`` -> the column of the annual panel (the twin's and
#: the yearbook layer's columns) that holds it. Variables not listed (per-capita GDP,
#: registered population, new urban jobs, ...) have no column of their own.
BULLETIN_COLUMNS: dict[str, str] = {
    "gdp": "gdp",
    "gdp_real_growth": "gdp_growth",
    "resident_pop": "population",
    "urbanization_rate": "urbanisation",
    "urban_disp_income_pc": "urban_income",
    "rural_disp_income_pc": "rural_income",
    "disp_income_pc": "disp_income",
    "fiscal_total_revenue": "fiscal_revenue",
    "general_budget_revenue": "budget_revenue",
    "fai_growth": "fai_growth",
}


def load_bulletin_figures() -> pd.DataFrame:
    """Cited county/province figures from statistical bulletins, one URL per row."""
    return _load("bulletin_figures", "bulletin_figures.csv").copy()


def load_mpdta() -> pd.DataFrame:
    """Callaway & Sant'Anna's minimum-wage example panel (500 counties x 2003-2007)."""
    return _load("mpdta", "external/mpdta.csv").copy()


_READ_ERRORS = (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError)


def _readable(path: str | Path) -> tuple[Path, str]:
    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {p}")
    if p.is_dir():
        raise InputError(f"{p} is a folder, not a data file")
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError(
            f"unsupported file type {suffix or '(none)'} for {p.name}: use .csv or .parquet"
        )
    return p, suffix


def _cannot_read(p: Path, e: BaseException) -> InputError:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return InputError(f"cannot read {p.name}: {first}")


def read_header(path: str | Path) -> list[str]:
    """Column names of a CSV or parquet file as written (reads the header only).

    Duplicated names are an :class:`InputError`: pandas would silently rename
    the second ``y`` to ``y.1`` and every method would use the first one.
    """
    p, suffix = _readable(path)
    try:
        if suffix == ".csv":
            # the csv module, not pandas: building a frame of 100k columns to read one
            # line takes seconds (measured 9 s for a 100k-column file), this takes ms
            with open(p, encoding="utf-8-sig", newline="") as f:
                names = next(csv.reader(f), [])
        else:
            import pyarrow.parquet as pq

            names = [str(n) for n in pq.read_schema(p).names]
    except (*_READ_ERRORS, csv.Error) as e:
        raise _cannot_read(p, e) from None
    if not names:
        raise InputError(f"cannot read {p.name}: the file is empty (no header row)")
    counts = pd.Series(names).value_counts(sort=False) if names else pd.Series(dtype=int)
    dups = [n for n, c in counts.items() if c > 1]
    if dups:
        shown = ", ".join(repr(d) for d in dups[:5]) + (" ..." if len(dups) > 5 else "")
        raise InputError(
            f"{p.name}: duplicated column name(s) {shown}: every column needs its own name"
        )
    return names


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a user's CSV or parquet file; any failure is a one-line InputError.

    The header is read first (:func:`read_header`), so duplicated column names
    are rejected before any data is parsed.
    """
    p, suffix = _readable(path)
    read_header(p)
    try:
        if suffix == ".csv":
            return pd.read_csv(p)
        return pd.read_parquet(p)
    except _READ_ERRORS as e:
        raise _cannot_read(p, e) from None
