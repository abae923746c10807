"""Loaders for the shipped raw tables (validated) and for user-supplied files."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from analysis.data.paths import raw_path
from analysis.data.schemas import validate
from analysis.errors import InputError


@cache
def _load(name: str, rel: str) -> pd.DataFrame:
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


def load_bulletin_figures() -> pd.DataFrame:
    """Cited county/province figures from statistical bulletins, one URL per row."""
    return _load("bulletin_figures", "bulletin_figures.csv").copy()


def load_mpdta() -> pd.DataFrame:
    """Callaway & Sant'Anna's minimum-wage example panel (500 counties x 2003-2007)."""
    return _load("mpdta", "external/mpdta.csv").copy()


def load_ehec() -> pd.DataFrame:
    """HonestDiD's Medicaid-expansion example panel (states x 2008-2019)."""
    return pd.read_csv(raw_path("external", "ehec_data.csv"))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a user's CSV or parquet file; any failure is a one-line InputError."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {p}")
    if p.is_dir():
        raise InputError(f"{p} is a folder, not a data file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(p)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"cannot read {p.name}: {first}") from None
    raise InputError(
        f"unsupported file type {suffix or '(none)'} for {p.name}: use .csv or .parquet"
    )
