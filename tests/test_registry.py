"""Tests of the county registry and the consistent-boundary crosswalk.

The census files are read directly here (not through the package) so that the
crosswalk is checked against an independent reading of the raw data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data import registry
from analysis.data.paths import raw_path
from analysis.errors import InputError

MOUNTAIN26 = {
    330127, 330324, 330326, 330327, 330328, 330329, 330723, 330727, 330802,
    330803, 330881, 330822, 330824, 330825, 331022, 331023, 331024, 331102,
    331181, 331121, 331125, 331126, 331122, 331123, 331124, 331127,
}  # fmt: skip

POP = {2010: "合计", 2020: "人口数_合计"}
NAME = {2010: "地区", 2020: "区县"}
FILE = {2010: "census2010_zhejiang.csv", 2020: "census2020_zhejiang.csv"}

# 2020 census total minus the sum of its 90 county rows: the 浙南产业集聚区 (Wenzhou
# economic and technological development zone), legally inside 龙湾区, is tabulated
# only in the Wenzhou prefecture row. See data/raw/registry/README.md.
WENZHOU_2020_UNALLOCATED = 249_343


def _census(year: int) -> pd.DataFrame:
    """All rows of a census file with an int ``code`` column (province, prefectures, counties)."""
    df = pd.read_csv(raw_path(FILE[year]), usecols=["区划代码", NAME[year], POP[year]])
    assert df["区划代码"].notna().all()
    assert (df["区划代码"] % 1 == 0).all()
    return df.assign(code=df["区划代码"].astype("int64"))


def _county_rows(year: int) -> pd.DataFrame:
    df = _census(year)
    county = df["code"] % 100 != 0
    if year == 2010:
        # In the 2010 file county rows are the indented ones; prefecture rows such
        # as "杭州市" are not. Both conventions must agree.
        indented = df[NAME[year]].str.match(r"^\s+\S")
        assert (indented == county).all()
    return df[county].reset_index(drop=True)


@pytest.fixture(scope="module")
def counties() -> pd.DataFrame:
    return registry.load_counties()


# --------------------------------------------------------------------------- counties.csv
def test_ninety_units_with_unique_codes(counties):
    assert len(counties) == 90
    assert counties["code"].is_unique
    assert counties["code"].dtype == np.int64
    assert counties["code"].between(330101, 331199).all()
    assert (counties["prefecture_code"] == counties["code"] // 100 * 100).all()


def test_exactly_the_26_mountain_counties(counties):
    assert counties["mountain26"].dtype == bool
    assert set(counties.loc[counties["mountain26"], "code"]) == MOUNTAIN26
    assert registry.mountain26_codes() == frozenset(MOUNTAIN26)


def test_type_counts_match_official_end_2022_structure(counties):
    # 37 districts, 32 counties, 20 county-level cities, 1 autonomous county
    assert counties["type"].value_counts().to_dict() == {
        "district": 37, "county": 32, "county_city": 20, "autonomous_county": 1,
    }  # fmt: skip
    suffix = {"district": "区", "county": "县", "county_city": "市", "autonomous_county": "自治县"}
    assert all(
        n.endswith(suffix[t]) for n, t in zip(counties["name_zh"], counties["type"], strict=True)
    )
    per_pref = counties.groupby("prefecture_en").size().to_dict()
    assert per_pref == {
        "Hangzhou": 13, "Ningbo": 10, "Wenzhou": 12, "Jiaxing": 7, "Huzhou": 5, "Shaoxing": 6,
        "Jinhua": 9, "Quzhou": 6, "Zhoushan": 4, "Taizhou": 9, "Lishui": 9,
    }  # fmt: skip


def test_pinyin_names(counties):
    by_code = counties.set_index("code")
    assert by_code.loc[330127, "name_pinyin"] == "Chun'an Xian"
    assert by_code.loc[330102, "name_pinyin"] == "Shangcheng Qu"
    assert by_code.loc[331127, "name_pinyin"] == "Jingning Shezu Zizhixian"
    assert by_code.loc[330127, "name_en_short"] == "Chun'an"
    for code, short in [
        (330112, "Lin'an"),
        (330381, "Rui'an"),
        (330727, "Pan'an"),
        (330382, "Yueqing"),
    ]:
        assert by_code.loc[code, "name_en_short"] == short
    suffix = {"district": " Qu", "county": " Xian", "county_city": " Shi",
              "autonomous_county": " Shezu Zizhixian"}  # fmt: skip
    for _, r in counties.iterrows():
        assert r["name_pinyin"] == r["name_en_short"] + suffix[r["type"]]
        assert r["name_pinyin"].isascii()


def test_2022_units_are_2020_units_with_hangzhou_2021_redistricting(counties):
    c2020 = set(_county_rows(2020)["code"])
    assert len(c2020) == 90
    expected = (c2020 - {330103, 330104}) | {330113, 330114}
    assert set(counties["code"]) == expected


def test_loads_return_copies(counties):
    a = registry.load_counties()
    a.loc[:, "mountain26"] = False
    assert registry.load_counties()["mountain26"].sum() == 26
    cw = registry.load_crosswalk("census")
    cw.loc[:, "cbu"] = "x"
    assert registry.load_crosswalk("census")["cbu"].nunique() > 1
    t = registry.cbu_table()
    t.loc[:, "mountain26"] = True
    assert registry.cbu_table()["mountain26"].sum() == 26


# --------------------------------------------------------------------------- crosswalk.csv
@pytest.mark.parametrize("level", ["census", "full"])
@pytest.mark.parametrize("year", [2010, 2020])
def test_every_census_county_row_maps_exactly_once(level, year):
    units = _county_rows(year)
    assert len(units) == 90
    cw = registry.load_crosswalk(level)
    cw_year = cw[cw["year"] == year]
    assert cw_year["code"].is_unique
    assert sorted(cw_year["code"]) == sorted(units["code"])
    # names agree with the census file (modulo the 2010 file's 巿/市 variant)
    names = dict(
        zip(units["code"], units[NAME[year]].str.strip().str.replace("巿", "市"), strict=True)
    )
    assert all(names[c] == n for c, n in zip(cw_year["code"], cw_year["name_zh"], strict=True))


def test_every_2022_code_maps_exactly_once(counties):
    cw = registry.load_crosswalk("full")
    cw22 = cw[cw["year"] == 2022]
    assert cw22["code"].is_unique
    assert sorted(cw22["code"]) == sorted(counties["code"])
    assert 2022 not in set(registry.load_crosswalk("census")["year"])


def test_cbu_counts():
    assert registry.load_crosswalk("census")["cbu"].nunique() == 86
    assert registry.load_crosswalk("full")["cbu"].nunique() == 82
    assert len(registry.cbu_table("census")) == 86
    assert len(registry.cbu_table("full")) == 82


def test_merged_cbus_have_the_documented_members():
    census = registry.cbu_table("census").set_index("cbu")
    full = registry.cbu_table("full").set_index("cbu")
    expect_census = {
        "C330212": ("330203;330204;330212", "330203;330212"),
        "C330327": ("330327", "330327;330383"),
        "C330602": ("330602;330621", "330602;330603"),
        "C330303": ("330303;330322", "330303;330305"),
    }
    merged = census[(census["n_units_2010"] > 1) | (census["n_units_2020"] > 1)]
    assert set(merged.index) == set(expect_census)
    for cbu, (c10, c20) in expect_census.items():
        assert (census.loc[cbu, "codes_2010"], census.loc[cbu, "codes_2020"]) == (c10, c20)
    core = full.loc["C330100CORE"]
    assert core["codes_2010"] == core["codes_2020"] == "330102;330103;330104;330105;330109"
    assert core["codes_2022"] == "330102;330105;330109;330114"
    assert full.loc["C330110", "codes_2020"] == "330110"
    assert full.loc["C330110", "codes_2022"] == "330110;330113"
    # pure re-designations: 2010 code -> CBU named by the 2020 code
    cw = registry.load_crosswalk("census")
    cw10 = cw[cw["year"] == 2010].set_index("code")["cbu"]
    for old, new in [(330183, "330111"), (330185, "330112"), (330283, "330213"),
                     (330682, "330604"), (331021, "331083")]:  # fmt: skip
        assert cw10[old] == new


def test_one_to_one_cbus_are_named_by_their_2020_code():
    t = registry.cbu_table("census")
    single = t[(t["n_units_2010"] == 1) & (t["n_units_2020"] == 1)]
    assert len(single) == 82
    assert (single["cbu"] == single["codes_2020"]).all()


def test_census_cbus_nest_in_full_cbus():
    census = registry.load_crosswalk("census")
    full = registry.load_crosswalk("full")
    both = census.merge(full, on=["year", "code"], suffixes=("_c", "_f"), validate="one_to_one")
    assert len(both) == 180
    assert (both.groupby("cbu_c")["cbu_f"].nunique() == 1).all()


def test_nontrivial_rows_carry_a_note():
    for level in ("census", "full"):
        cw = registry.load_crosswalk(level)
        t = registry.cbu_table(level).set_index("cbu")
        years = registry.LEVEL_YEARS[level]
        nontrivial = t[(t[[f"n_units_{y}" for y in years]] > 1).any(axis=1)].index
        redesignated = cw["cbu"] != cw["code"].astype(str)
        needs_note = cw["cbu"].isin(nontrivial) | redesignated
        assert (cw.loc[needs_note, "note"].str.len() > 0).all()


def test_mountain26_cbus():
    for level in ("census", "full"):
        t = registry.cbu_table(level)
        assert t["mountain26"].sum() == 26
        assert t.loc[t["mountain26_mixed"], "cbu"].tolist() == ["C330327"]
        flagged = {int(c) for codes in t.loc[t["mountain26"], f"codes_{registry.LEVEL_YEARS[level][-1]}"]
                   for c in codes.split(";")}  # fmt: skip
        assert flagged == MOUNTAIN26 | {330383}


# --------------------------------------------------------------------------- aggregation
@pytest.mark.parametrize("level", ["census", "full"])
@pytest.mark.parametrize("year", [2010, 2020])
def test_population_is_conserved_and_matches_province_row(level, year):
    df = _census(year)
    units = _county_rows(year)
    pop = POP[year]
    out = registry.to_cbu(units, "code", year, level=level, sum_cols=[pop])
    n_cbu = {"census": 86, "full": 82}[level]
    assert len(out) == n_cbu
    assert out["n_units"].sum() == 90
    county_sum = units[pop].sum()
    assert out[pop].sum() == county_sum  # exact: integer counts
    province = df.loc[df["code"] == 330000, pop].item()
    if year == 2010:
        assert province == county_sum
    else:
        # The province row exceeds the county rows by exactly Wenzhou's unallocated zone.
        assert province - county_sum == WENZHOU_2020_UNALLOCATED
        prefs = df[(df["code"] % 100 == 0) & (df["code"] != 330000)].set_index("code")[pop]
        gaps = {
            p: prefs[p] - units.loc[units["code"] // 100 * 100 == p, pop].sum() for p in prefs.index
        }
        assert {p: g for p, g in gaps.items() if g != 0} == {330300: WENZHOU_2020_UNALLOCATED}


@pytest.mark.parametrize("level", ["census", "full"])
def test_every_cbu_has_population_in_both_census_years(level):
    pops = {
        y: registry.to_cbu(_county_rows(y), "code", y, level=level, sum_cols=[POP[y]]).set_index(
            "cbu"
        )[POP[y]]
        for y in (2010, 2020)
    }
    assert set(pops[2010].index) == set(pops[2020].index) == set(registry.cbu_table(level)["cbu"])
    both = pd.concat(pops, axis=1)
    assert (both > 0).all().all()
    # Sanity bound on ten-year growth: a misassigned unit produces ratios far outside it.
    ratio = both[2020] / both[2010]
    assert ratio.between(0.6, 2.5).all(), ratio[~ratio.between(0.6, 2.5)]


def test_to_cbu_output_columns_and_mountain_flag():
    units = _county_rows(2020)
    out = registry.to_cbu(units, "区划代码", 2020, sum_cols=["人口数_合计"])  # float codes
    assert list(out.columns) == ["cbu", "cbu_name_zh", "mountain26", "n_units", "人口数_合计"]
    assert out["cbu"].is_unique
    row = out.set_index("cbu").loc["C330327"]
    expected = units.loc[units["code"].isin([330327, 330383]), "人口数_合计"].sum()
    assert row["人口数_合计"] == expected and row["mountain26"] and row["n_units"] == 2
    assert out["mountain26"].sum() == 26


def test_to_cbu_2022_full_level():
    c = registry.load_counties().assign(one=1)
    out = registry.to_cbu(c, "code", 2022, level="full", sum_cols=["one"])
    assert len(out) == 82 and out["one"].sum() == 90
    assert out.set_index("cbu").loc["C330100CORE", "one"] == 4


def test_to_cbu_propagates_missing_values():
    units = _county_rows(2020)[["code", "人口数_合计"]].astype({"人口数_合计": float})
    units.loc[units["code"] == 330383, "人口数_合计"] = np.nan
    out = registry.to_cbu(units, "code", 2020).set_index("cbu")
    assert np.isnan(out.loc["C330327", "人口数_合计"])
    assert out["人口数_合计"].notna().sum() == 85


def test_unknown_code_raises():
    df = pd.DataFrame({"code": [330102, 339999], "pop": [1, 2]})
    with pytest.raises(InputError, match="339999") as e:
        registry.to_cbu(df, "code", 2020)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("code", "year", "level"),
    [(330204, 2020, "census"), (330383, 2010, "census"), (330114, 2020, "full"),
     (330104, 2022, "full"), (330000, 2020, "census"), (330100, 2010, "census")],
)  # fmt: skip
def test_code_not_valid_in_year_raises(code, year, level):
    with pytest.raises(InputError, match=str(code)):
        registry.to_cbu(pd.DataFrame({"code": [code], "pop": [1]}), "code", year, level=level)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"year": 2022, "level": "census"},
        {"year": 2015},
        {"year": 2020, "level": "tract"},
        {"year": 2020, "sum_cols": ["missing"]},
        {"year": 2020, "sum_cols": ["name"]},
    ],
)
def test_bad_arguments_raise(kwargs):
    df = pd.DataFrame({"code": [330106], "pop": [1], "name": ["西湖区"]})
    with pytest.raises(InputError):
        registry.to_cbu(df, "code", **kwargs)


def test_bad_codes_raise():
    with pytest.raises(InputError, match="duplicate"):
        registry.to_cbu(pd.DataFrame({"code": [330106, 330106], "pop": [1, 2]}), "code", 2020)
    with pytest.raises(InputError, match="non-integer"):
        registry.to_cbu(pd.DataFrame({"code": [330106.5], "pop": [1]}), "code", 2020)
    with pytest.raises(InputError, match="non-integer"):
        registry.to_cbu(pd.DataFrame({"code": ["abc"], "pop": [1]}), "code", 2020)
    with pytest.raises(InputError, match="not found"):
        registry.to_cbu(pd.DataFrame({"c": [330106], "pop": [1]}), "code", 2020)


def test_partial_cbu_raises_unless_allowed():
    df = pd.DataFrame({"code": [330327, 330106], "pop": [10, 5]})  # 苍南 without 龙港
    with pytest.raises(InputError, match="C330327 lacks 330383"):
        registry.to_cbu(df, "code", 2020)
    out = registry.to_cbu(df, "code", 2020, allow_partial=True).set_index("cbu")
    assert out.loc["C330327", "pop"] == 10 and out.loc["330106", "pop"] == 5
    # a complete subset is fine without allow_partial
    assert len(registry.to_cbu(df.iloc[[1]], "code", 2020)) == 1


def test_load_crosswalk_rejects_unknown_level():
    with pytest.raises(InputError, match="level"):
        registry.load_crosswalk("county")  # type: ignore[arg-type]


def test_duplicate_codes_only_on_request():
    # e.g. a prefecture residual assigned to its host unit: 2020 龙湾区 + the Wenzhou zone
    df = pd.DataFrame({"code": [330303, 330305, 330303], "pop": [475_693, 148_807, 249_343]})
    with pytest.raises(InputError, match="duplicate"):
        registry.to_cbu(df, "code", 2020)
    out = registry.to_cbu(df, "code", 2020, allow_duplicate_codes=True).set_index("cbu")
    assert out.loc["C330303", "pop"] == 873_843
    assert out.loc["C330303", "n_units"] == 2


def test_object_columns_of_numbers_are_summed():
    df = pd.DataFrame({"code": [330106, 330108], "pop": pd.Series([1.5, 2], dtype=object)})
    out = registry.to_cbu(df, "code", 2020, sum_cols=["pop"])
    assert out["pop"].tolist() == [1.5, 2.0]
    df["pop"] = pd.Series([1, "x"], dtype=object)
    with pytest.raises(InputError, match="not numeric"):
        registry.to_cbu(df, "code", 2020, sum_cols=["pop"])
