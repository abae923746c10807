"""pandera schemas for every raw and processed table, and plain-word reports.

Every table the package reads or writes has a schema here. ``validate(name, df)``
checks a frame lazily (all problems at once) and raises
:class:`~analysis.errors.InputError` whose ``problems`` list says each problem
in plain words, e.g. ``"2 duplicate county-year rows (code 330127, year 2015)"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from analysis.errors import InputError

_KINDS = ["industrial", "sci-tech", "village-income", "pairing", "other"]
_DIRECTIONS = ["in_developed_area", "in_mountain_county", "ambiguous", "not_applicable"]
_EVENT_TYPES = ["agreement", "start", "open", "pairing", "exists"]
_DATE_STATUS = ["read", "inferred", "unknown"]
_CONFIDENCE = ["high", "medium-high", "medium", "medium-low", "low"]
_CLAIM_KINDS = ["level", "growth", "share", "ratio", "gap", "count", "date", "average"]

_code = pa.Column(int, pa.Check.in_range(330000, 339999), coerce=True)


def _unique(*cols: str, what: str) -> pa.Check:
    return pa.Check(
        lambda d: ~d.duplicated(list(cols), keep=False),
        name=f"unique_{'_'.join(cols)}",
        error=f"duplicate {what}",
    )


COUNTIES = pa.DataFrameSchema(
    {
        "code": _code,
        "name_zh": pa.Column(str),
        "name_pinyin": pa.Column(str),
        "prefecture_code": pa.Column(int, pa.Check(lambda s: s % 100 == 0), coerce=True),
        "prefecture_zh": pa.Column(str),
        "type": pa.Column(
            str, pa.Check.isin(["district", "county", "county_city", "autonomous_county"])
        ),
        "mountain26": pa.Column(bool, coerce=True),
    },
    checks=[
        _unique("code", what="county code"),
        pa.Check(lambda d: len(d) == 90, element_wise=False, error="registry must list 90 units"),
        pa.Check(lambda d: int(d["mountain26"].sum()) == 26, error="exactly 26 mountain counties"),
    ],
    strict=False,
    name="counties",
)

CROSSWALK = pa.DataFrameSchema(
    {
        "year": pa.Column(int, pa.Check.isin([2010, 2020, 2022]), coerce=True),
        "code": _code,
        "name_zh": pa.Column(str),
        "cbu": pa.Column(str),
        "cbu_level": pa.Column(str, pa.Check.isin(["census", "full"])),
    },
    checks=[_unique("cbu_level", "year", "code", what="crosswalk row (level, year, code)")],
    strict=False,
    name="crosswalk",
)

ENCLAVE_EVENTS = pa.DataFrameSchema(
    {
        "event_id": pa.Column(str, pa.Check.str_matches(r"^E\d{3}$"), unique=True),
        "county_code": _code,
        "county_name": pa.Column(str),
        "level": pa.Column(str, pa.Check.isin(["county", "city"])),
        "kind": pa.Column(str, pa.Check.isin(_KINDS)),
        "kind_inferred": pa.Column(bool, coerce=True),
        "direction": pa.Column(str, pa.Check.isin(_DIRECTIONS)),
        "event_type": pa.Column(str, pa.Check.isin(_EVENT_TYPES)),
        "date": pa.Column(str, pa.Check.str_matches(r"^\d{4}(-\d{2}(-\d{2})?)?$"), nullable=True),
        "year": pa.Column("Int64", pa.Check.in_range(1990, 2030), nullable=True, coerce=True),
        "date_status": pa.Column(str, pa.Check.isin(_DATE_STATUS)),
        "confidence": pa.Column(str, pa.Check.isin(_CONFIDENCE)),
        "source_url": pa.Column(str),
    },
    checks=[
        pa.Check(
            lambda d: (
                d["year"].isna()
                | d["date"].isna()
                | (d["date"].astype("string").str[:4] == d["year"].astype("string"))
            ),
            error="date and year disagree",
        ),
    ],
    strict=False,
    name="enclave_events",
)

PAPER_CLAIMS = pa.DataFrameSchema(
    {
        "claim_id": pa.Column(str, pa.Check.str_matches(r"^C\d{2,3}$"), unique=True),
        "section": pa.Column(str),
        "topic": pa.Column(str),
        "quantity": pa.Column(str, pa.Check.str_matches(r"^[a-z0-9_]+$")),
        "value": pa.Column(float, coerce=True),
        "unit": pa.Column(str),
        "year": pa.Column("Int64", nullable=True, coerce=True),
        "scope": pa.Column(str),
        "kind": pa.Column(str, pa.Check.isin(_CLAIM_KINDS)),
        "phrase_zh": pa.Column(str),
    },
    strict=False,
    name="paper_claims",
)

BULLETIN_FIGURES = pa.DataFrameSchema(
    {
        "county": pa.Column(str),
        "adcode": pa.Column(str),
        "year": pa.Column(int, pa.Check.in_range(2000, 2030), coerce=True),
        "variable": pa.Column(str),
        "value": pa.Column(float, coerce=True),
        "unit": pa.Column(str),
        "source": pa.Column(str, pa.Check.str_startswith("http")),
    },
    strict=False,
    name="bulletin_figures",
)

CENSUS_HARMONISED = pa.DataFrameSchema(
    {
        "cbu": pa.Column(str),
        "year": pa.Column(int, pa.Check.isin([2010, 2020])),
        "mountain26": pa.Column(bool),
        "pop_total": pa.Column(float, pa.Check.gt(0)),
        "pop_urban": pa.Column(float, pa.Check.ge(0)),
        "urbanisation": pa.Column(float, pa.Check.in_range(0, 1)),
        "edu_years": pa.Column(float, pa.Check.in_range(3, 16)),
        "manuf_share": pa.Column(float, pa.Check.in_range(0, 1)),
        "research_share": pa.Column(float, pa.Check.in_range(0, 1)),
        "professional_share": pa.Column(float, pa.Check.in_range(0, 1)),
        "old_age_share": pa.Column(float, pa.Check.in_range(0, 1)),
    },
    checks=[
        _unique("cbu", "year", what="CBU-year rows"),
        pa.Check(
            lambda d: (d["pop_urban"] + d["pop_rural"] - d["pop_total"]).abs() < 1,
            error="urban + rural population differs from total",
        ),
    ],
    strict=False,
    name="census_harmonised",
)

MPDTA = pa.DataFrameSchema(
    {
        "year": pa.Column(int, pa.Check.in_range(2003, 2007), coerce=True),
        "countyreal": pa.Column(int, coerce=True),
        "lpop": pa.Column(float, coerce=True),
        "lemp": pa.Column(float, coerce=True),
        "first.treat": pa.Column(int, pa.Check.isin([0, 2004, 2006, 2007]), coerce=True),
    },
    checks=[_unique("countyreal", "year", what="county-year rows")],
    strict=False,
    name="mpdta",
)

#: Level variables of a county-year panel that cannot be negative (both the user's panel
#: and the yearbook layer).
_LEVELS = (
    "gdp",
    "population",
    "urban_income",
    "rural_income",
    "disp_income",
    "employment",
    "rd_expenditure",
    "fiscal_revenue",
    "budget_revenue",
)
#: Level variables of the yearbook panel template that cannot be negative.
PANEL_NONNEGATIVE = (*_LEVELS, "fai")
#: Percent variables of the template (0-100).
PANEL_PERCENT = ("urbanisation",)


def _value_checks(
    column: str,
    *,
    nonnegative: tuple[str, ...],
    percent: tuple[str, ...],
    growth: tuple[str, ...] = (),
    cohorts: tuple[str, ...],
) -> list[pa.Check]:
    """Range checks of one column of a county-year panel.

    Non-negative for a level of ``nonnegative``, within 0-100 for a percentage of
    ``percent``, above -100 for a growth rate (%) of ``growth``, ``0`` or a year for a
    cohort column of ``cohorts``.
    """
    checks = []
    if column in nonnegative:
        checks.append(pa.Check.ge(0, error="negative (impossible for this variable)"))
    if column in percent:
        checks.append(pa.Check.in_range(0, 100, error="outside 0-100 (a percentage)"))
    if column in growth:
        checks.append(pa.Check.gt(-100, error="a growth rate at or below -100%"))
    if column in cohorts:
        checks.append(pa.Check(lambda s: (s == 0) | s.between(1990, 2035), error="not 0 or a year"))
    return checks


def _county_year_checks(constant: dict[str, str]) -> list[pa.Check]:
    """Frame checks of a county-year panel: unique (code, year) rows, constant columns.

    Each key of ``constant`` must be constant within a county; its value is the error
    that reports it.
    """
    checks = [
        pa.Check(
            lambda d: ~d.duplicated(["code", "year"], keep=False),
            error="duplicate county-year rows (same code and year)",
        ),
    ]
    for c, error in constant.items():
        checks.append(
            pa.Check(lambda d, c=c: d.groupby("code")[c].transform("nunique") <= 1, error=error)
        )
    return checks


def panel_schema(columns: list[str], known_codes: frozenset[int]) -> pa.DataFrameSchema:
    """Schema of a user's county-year panel (``data/raw/yearbook/TEMPLATE.csv``).

    Required: ``code`` (a Zhejiang county-level code valid in 2010, 2020 or
    2022) and ``year``. Optional ``cohort`` (first enclave year, 0 = never)
    must be constant within a county. Level variables must be non-negative,
    percentages within 0-100, and every other column except ``name_zh``,
    ``source`` and ``note`` numeric.
    """
    cols: dict[str, pa.Column] = {
        "code": pa.Column(
            int, pa.Check.isin(sorted(known_codes), error="unknown county code"), coerce=True
        ),
        "year": pa.Column(
            int, pa.Check.in_range(1990, 2035, error="outside 1990-2035"), coerce=True
        ),
    }
    for c in columns:
        if c in cols or c in ("name_zh", "source", "note"):
            continue
        checks = _value_checks(
            c, nonnegative=PANEL_NONNEGATIVE, percent=PANEL_PERCENT, cohorts=("cohort",)
        )
        cols[c] = pa.Column(float, checks, nullable=True, coerce=True)
    changes = "cohort changes within a county (it must be the county's first enclave year)"
    frame_checks = _county_year_checks({"cohort": changes} if "cohort" in columns else {})
    return pa.DataFrameSchema(cols, checks=frame_checks, strict=False, name="panel")


CENSUS2000 = pa.DataFrameSchema(
    {
        "code": _code,
        "prefecture": pa.Column(str),
        "name_zh": pa.Column(str),
        "pop_census2000": pa.Column(float, pa.Check.gt(0), nullable=True, coerce=True),
        "pop_census2000_group_total": pa.Column(float, pa.Check.gt(0), nullable=True, coerce=True),
        "compare_group": pa.Column(str),
        "source": pa.Column(str),
    },
    checks=[
        _unique("code", what="2020 code"),
        pa.Check(lambda d: len(d) == 90, element_wise=False, error="file must list 90 units"),
        pa.Check(
            lambda d: d["pop_census2000"].notna().sum() == 87,
            element_wise=False,
            error="87 units carry a 2000 population",
        ),
    ],
    strict=False,
    name="census2000",
)

SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "census2000": CENSUS2000,
    "counties": COUNTIES,
    "crosswalk": CROSSWALK,
    "enclave_events": ENCLAVE_EVENTS,
    "paper_claims": PAPER_CLAIMS,
    "bulletin_figures": BULLETIN_FIGURES,
    "census_harmonised": CENSUS_HARMONISED,
    "mpdta": MPDTA,
}


def _show(v: object) -> str:
    """A failure value as a user would write it (no numpy reprs)."""
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return repr(v)
    if f != f:
        return "missing"
    return str(int(f)) if f.is_integer() else f"{f:g}"


def cell_problems(
    column: str, bad: pd.Series, values: pd.Series, what: str, show: Callable[[Any], str] = repr
) -> list[str]:
    """The plain-word problem of the ``bad`` cells of ``column``; empty if none is bad.

    ``"column 'x': 2 <what>, e.g. <show(first bad value)> (first at line 5)"``: lines are
    those of the file (the header is line 1, so row ``i`` is line ``i + 2``).
    """
    if not bad.any():
        return []
    first = int(bad.to_numpy().nonzero()[0][0])
    return [
        f"column {column!r}: {int(bad.sum())} {what}, e.g. {show(values.iloc[first])} "
        f"(first at line {first + 2})"
    ]


def unparsed_problems(
    column: str, raw: pd.Series, parsed: pd.Series, what: str = "non-numeric value(s)"
) -> list[str]:
    """The problem of the cells given in ``raw`` that ``parsed`` could not read (NaN)."""
    return cell_problems(column, raw.notna() & parsed.isna(), raw, what)


def non_integer_cells(df: pd.DataFrame, column: str) -> tuple[pd.Series, list[str]]:
    """Mask of the finite numbers of ``column`` that are not whole, and their problem.

    For integer columns (codes, years, cohorts): a value like 2019.7 would otherwise be
    truncated silently when the column is coerced to integers.
    """
    v = pd.to_numeric(df[column], errors="coerce")
    bad = v.notna() & np.isfinite(v) & (v != np.round(v))
    return bad, cell_problems(column, bad, v, "non-integer value(s)", show=lambda x: f"{x:g}")


def plain_problems(err: pa.errors.SchemaErrors, table: str) -> list[str]:
    """Turn pandera's failure cases into one plain sentence per problem."""
    fc = err.failure_cases.copy()
    out: list[str] = []
    missing = fc[fc["check"].astype(str) == "column_in_dataframe"]
    for c in missing["failure_case"]:
        out.append(f"required column {c!r} is missing")
    rest = fc[fc["check"].astype(str) != "column_in_dataframe"]
    frame_level = rest["schema_context"] == "DataFrameSchema"
    # frame-level checks are reported once per check, counting distinct rows
    for check, grp in rest[frame_level].groupby("check", sort=False):
        if grp["failure_case"].astype(str).str.startswith("KeyError").any():
            continue  # consequence of a missing column, already reported
        rows = sorted({int(i) for i in grp["index"].dropna()})
        where = (
            f" (lines {', '.join(str(r + 2) for r in rows[:5])}{', ...' if len(rows) > 5 else ''})"
            if rows
            else ""
        )
        out.append(f"{check}{where}")
    seen: set[tuple[str, str]] = set()
    for (column, check), grp in rest[~frame_level].groupby(["column", "check"], sort=False):
        grp = grp[~grp["failure_case"].astype(str).str.match(r"^[A-Za-z]+Error\(")]
        if grp.empty:
            continue  # a check that could not run because of a type problem reported elsewhere
        kind = "type" if str(check).startswith(("dtype", "coerce_dtype")) else str(check)
        if (column, kind) in seen:
            continue
        seen.add((column, kind))
        n = len(grp)
        first = grp.iloc[0]
        row = "" if pd.isna(first["index"]) else f" (first at line {int(first['index']) + 2})"
        check = str(check)
        if check.startswith(("dtype", "coerce_dtype")):
            what = "non-numeric or wrongly typed value(s)"
        elif check == "not_nullable":
            what = "missing value(s)"
        else:
            what = f"value(s) {check}" if " " in check else f"value(s) failing {check}"
        out.append(f"column {column!r}: {n} {what}, e.g. {_show(first['failure_case'])}{row}")
    return out


def validate(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Validate ``df`` against schema ``name``; return the coerced frame.

    Raises
    ------
    InputError
        With one plain-word problem per failed check in ``.problems``.
    """
    schema = SCHEMAS[name]
    try:
        return schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as e:
        problems = plain_problems(e, name)
        raise InputError(
            f"{name}: {len(problems)} problem(s): " + "; ".join(problems), problems
        ) from None


# ------------------------------------------------------------------ yearbook layer
#: Level variables of the yearbook layer (the twin's columns) that cannot be negative.
YEARBOOK_NONNEGATIVE = ("pop2010", *_LEVELS)
#: Percentages of the yearbook layer (0-100).
YEARBOOK_PERCENT = ("urbanisation", "rd_intensity")
#: Growth rates (%, real or nominal): above -100.
YEARBOOK_GROWTH = ("gdp_growth", "fai_growth")
#: Text and flag columns of the yearbook layer.
YEARBOOK_TEXT = ("name_zh", "data_layer", "enclave_kind", "source", "note")
YEARBOOK_FLAGS = ("mountain26", "railway", "timing_imputed")


def yearbook_schema(columns: list[str], codes_2022: frozenset[int]) -> pa.DataFrameSchema:
    """Schema of the real yearbook layer (``data/raw/yearbook/``, same columns as the twin).

    Rows are (code, year) of the 90 county-level units of end-2022 (2022 codes and
    boundaries, like the twin). ``source`` (the citation of the yearbook table or
    bulletin, one per row) is required; ``data_layer`` must be ``real`` when given.
    Levels are non-negative, percentages within 0-100, growth rates above -100, budget
    revenue at most total fiscal revenue, ``cohort`` and ``soe_cohort`` 0 or a year and
    constant within a county. Numeric cells may be blank (not keyed in). Every column of
    ``columns`` other than the text/flag columns must be numeric.
    """
    cols: dict[str, pa.Column] = {
        "code": pa.Column(
            int,
            pa.Check.isin(sorted(codes_2022), error="not a county-level code of 2022"),
            coerce=True,
        ),
        "year": pa.Column(
            int, pa.Check.in_range(2000, 2035, error="outside 2000-2035"), coerce=True
        ),
        "source": pa.Column(
            str,
            pa.Check(lambda s: s.str.strip().str.len() > 0, error="empty source"),
            nullable=False,
        ),
    }
    kinds = ["", "industrial", "sci-tech", "village-income"]
    for c in columns:
        if c in cols or c in ("name_zh", "note"):
            continue
        if c == "data_layer":
            cols[c] = pa.Column(
                str,
                pa.Check.isin(["real"], error="not 'real' (this is the real layer)"),
                nullable=True,
            )
            continue
        if c == "enclave_kind":
            cols[c] = pa.Column(
                str, pa.Check.isin(kinds, error="not an enclave kind"), nullable=True
            )
            continue
        if c in YEARBOOK_FLAGS:
            cols[c] = pa.Column(
                float,
                pa.Check.isin([0.0, 1.0], error="not true/false"),
                nullable=True,
                coerce=True,
            )
            continue
        checks = _value_checks(
            c,
            nonnegative=YEARBOOK_NONNEGATIVE,
            percent=YEARBOOK_PERCENT,
            growth=YEARBOOK_GROWTH,
            cohorts=("cohort", "soe_cohort"),
        )
        cols[c] = pa.Column(float, checks, nullable=True, coerce=True)
    frame_checks = _county_year_checks(
        {
            c: f"{c} changes within a county (it must be constant)"
            for c in ("cohort", "soe_cohort")
            if c in columns
        }
    )
    if {"fiscal_revenue", "budget_revenue"} <= set(columns):
        frame_checks.append(
            pa.Check(
                lambda d: ~(d["budget_revenue"] > d["fiscal_revenue"]),
                error="budget revenue above total fiscal revenue",
            )
        )
    return pa.DataFrameSchema(cols, checks=frame_checks, strict=False, name="yearbook")


def generic_panel_schema(unit: str, time: str, cohort: str | None) -> pa.DataFrameSchema:
    """Schema of any long panel (``enclave data check FILE --unit U --time T [--cohort G]``).

    The unit column has no missing values; time is a whole number; (unit, time) rows are
    unique; the cohort (first treated period, 0 or empty = never) is a whole number,
    constant within a unit.
    """
    whole = pa.Check(
        lambda s: s.isna() | (s == s.round()), error="not a whole number (periods are integers)"
    )
    cols = {
        unit: pa.Column(nullable=False),
        time: pa.Column(float, whole, nullable=False, coerce=True),
    }
    checks = [
        pa.Check(
            lambda d: ~d.duplicated([unit, time], keep=False),
            error=f"duplicate unit-time rows (same {unit} and {time})",
        )
    ]
    if cohort is not None:
        cols[cohort] = pa.Column(
            float,
            [whole, pa.Check.ge(0, error="negative (a cohort is a period or 0)")],
            nullable=True,
            coerce=True,
        )
        checks.append(
            pa.Check(
                lambda d: d.groupby(unit)[cohort].transform(lambda s: s.fillna(0).nunique()) <= 1,
                error=f"{cohort} changes within a unit (it must be the unit's first treated period)",
            )
        )
    return pa.DataFrameSchema(cols, checks=checks, strict=False, name="generic_panel")
