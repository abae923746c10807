"""Build the processed tables and check raw data / user panels.

``build_processed`` computes every table in memory and validates it before
anything is written; files are then written to temporary names and renamed,
so a failure never leaves a half-written ``data/processed``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.data import census, registry, sources
from analysis.data.atomic import tmp_name
from analysis.data.manifest import verify_manifest
from analysis.data.paths import PROCESSED_DIR
from analysis.data.schemas import (
    non_integer_cells,
    panel_schema,
    plain_problems,
    unparsed_problems,
    validate,
)
from analysis.errors import InputError

#: Widest panel ``data check`` accepts: the template has 17 columns; a file with
#: thousands is a transposed table or not a panel, refused from its header alone.
MAX_PANEL_COLUMNS = 1_000


def _template_columns() -> list[str]:
    from analysis.data.paths import raw_path

    return sources.read_header(raw_path("yearbook", "TEMPLATE.csv"))


def processed_tables() -> dict[str, pd.DataFrame]:
    """Every processed table, validated, keyed by file stem."""
    harmonised = validate("census_harmonised", census.harmonised_census("census"))
    units = pd.concat([census.load_census(2010), census.load_census(2020)], ignore_index=True)
    return {
        "counties": validate("counties", registry.load_counties()),
        "crosswalk": validate("crosswalk", registry.load_crosswalk("census")),
        "census_units": units,
        "census_harmonised": harmonised,
        "census_population_2000_2020": census.three_census_population(),
        "enclave_events": sources.load_enclave_events(),
        "paper_claims": sources.load_paper_claims(),
        "bulletin_figures": sources.load_bulletin_figures(),
        **_twin_tables(),
    }


def _twin_tables() -> dict[str, pd.DataFrame]:
    """The SYNTHETIC twin (default seed, both scenarios) and its truth, written beside it."""
    from analysis.data import twin

    out: dict[str, pd.DataFrame] = {}
    for scenario in ("effects", "null"):
        t = twin.build_twin(scenario=scenario)
        sfx = "" if scenario == "effects" else "_null"
        out[f"twin_panel{sfx}"] = t.panel
        out[f"twin_att_gt{sfx}"] = t.att_gt
        out[f"twin_aggregates{sfx}"] = t.aggregates
    vs = twin.twin_vs_real()
    vs["within"] = vs["within"].astype("float")
    out["twin_vs_real"] = vs
    return out


def build_processed(out_dir: Path = PROCESSED_DIR) -> list[Path]:
    """Write every processed table as parquet; return the paths written."""
    tables = processed_tables()
    tmp_paths: list[tuple[Path, Path]] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for stem, df in tables.items():
            final = out_dir / f"{stem}.parquet"
            tmp = tmp_name(final)
            tmp_paths.append((tmp, final))
            df.to_parquet(tmp, index=False)
        for tmp, final in tmp_paths:
            tmp.replace(final)
    except BaseException as e:  # a full or read-only disk, Ctrl-C: leave nothing behind
        for tmp, _ in tmp_paths:
            tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            where = e.filename or out_dir
            raise InputError(f"cannot write {where}: {e.strerror or e}") from None
        raise
    return [final for _, final in tmp_paths]


def check_raw() -> list[str]:
    """Manifest checksums plus schema validation of every shipped raw table."""
    problems = verify_manifest()
    loaders = {
        "paper_claims": sources.load_paper_claims,
        "enclave_events": sources.load_enclave_events,
        "bulletin_figures": sources.load_bulletin_figures,
        "mpdta": sources.load_mpdta,
        "counties": registry.load_counties,
        "census2000": census.load_census2000,
    }
    for name, load in loaders.items():
        try:
            df = load()
            if name == "counties":
                validate("counties", df)
        except InputError as e:
            problems.extend(e.problems)
    from analysis.data import yearbook

    for f in sorted(yearbook.YEARBOOK_DIR.glob("*.csv")):
        problems.extend(f"yearbook/{f.name}: {p}" for p in yearbook.check_yearbook_file(f))
    return problems


def _parse_numeric(raw: pd.Series, col: str, problems: list[str]) -> pd.Series:
    """``raw`` as numbers (unreadable cells NaN); their problem is appended to ``problems``."""
    parsed = pd.to_numeric(raw, errors="coerce")
    problems.extend(unparsed_problems(col, raw, parsed))
    return parsed


def check_panel_file(path: str | Path) -> list[str]:
    """Validate a user's county-year panel; every problem in plain words.

    A file in ``data/raw/yearbook/`` or with a ``data_layer`` column is checked as the
    yearbook layer (:func:`analysis.data.yearbook.check_yearbook_file`, the twin's
    columns); any other file as a county-year panel keyed by ``code`` and ``year``. See
    ``data/raw/yearbook/README.md`` for the template. Reads only; writes
    nothing. Non-numeric cells are reported first (with their line), then set
    aside so that the remaining checks still run on the other cells.
    """
    import pandera.pandas as pa

    from analysis.data import yearbook

    header = sources.read_header(path)
    if len(header) > MAX_PANEL_COLUMNS:
        # checked on the header alone, so a huge file is refused in well under a second
        return [
            f"the file has {len(header):,} columns; a county-year panel has at most "
            f"{MAX_PANEL_COLUMNS:,} (the template has {len(_template_columns())}): is it "
            "transposed, or not a panel?"
        ]
    p = Path(path)
    if p.resolve().parent == yearbook.YEARBOOK_DIR.resolve() or "data_layer" in header:
        return yearbook.check_yearbook_file(p)
    df = sources.read_table(path)
    if df.empty:
        return ["the panel has no rows (a header alone): nothing to check"]
    problems: list[str] = []
    df = df.copy()
    for col in df.columns:
        if col in ("name_zh", "source", "note") or pd.api.types.is_numeric_dtype(df[col]):
            continue
        df[col] = _parse_numeric(df[col], col, problems)
    for col in ("code", "year", "cohort"):
        if col not in df.columns:
            continue
        bad, found = non_integer_cells(df, col)
        if found:
            problems.extend(found)
            df = df.loc[~bad]  # reported; the other checks run on the remaining rows
    known = frozenset(int(c) for c in registry.load_crosswalk("full")["code"].unique())
    schema = panel_schema(list(df.columns), known)
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as e:
        problems.extend(plain_problems(e, "panel"))
    return problems


def check_long_panel(
    path: str | Path, *, unit: str, time: str, cohort: str | None = None
) -> list[str]:
    """Validate any long panel (``enclave data check FILE --unit U --time T [--cohort G]``).

    Checks, reporting every problem with its line: the named columns exist; the unit has
    no missing value; time is numeric and a whole number; (unit, time) rows are unique;
    the cohort (first treated period; 0 or empty = never treated) is numeric, a whole
    number, non-negative and constant within a unit; some unit is untreated in some
    period (a comparison exists). Other columns are not checked (the estimator checks its
    outcome). Reads only; writes nothing.
    """
    import pandera.pandas as pa

    from analysis.data.schemas import generic_panel_schema

    sources.read_header(path)  # duplicate column names are refused before the read
    df = sources.read_table(path)
    problems: list[str] = []
    need = [c for c in (unit, time, cohort) if c is not None]
    missing = [c for c in need if c not in df.columns]
    for c in missing:
        problems.append(f"required column {c!r} is missing")
    if missing:
        return problems
    df = df.copy()
    for col in [time] + ([cohort] if cohort else []):
        if pd.api.types.is_numeric_dtype(df[col]):
            continue
        df[col] = _parse_numeric(df[col], col, problems)
    if df.empty:
        problems.append("the panel has no rows")
        return problems
    try:
        generic_panel_schema(unit, time, cohort).validate(df, lazy=True)
    except pa.errors.SchemaErrors as e:
        problems.extend(plain_problems(e, "panel"))
    if cohort is not None and not problems:
        g = df[cohort].fillna(0)
        untreated = (g == 0) | (df[time] < g)
        if not untreated.any():
            problems.append(
                f"no untreated comparison: every unit is treated from its first period ({cohort})"
            )
    return problems
