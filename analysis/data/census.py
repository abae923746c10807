"""Load the 2010 and 2020 census county tables and harmonise them.

Raw files (``data/raw/census{2010,2020}_zhejiang.csv``, MIT, from
``leiii/census``) carry every Zhejiang row as published, with Chinese headers
that differ between the two censuses. This module maps both onto one set of
English variable names (the codebook is :data:`VARIABLES`), keeps county-level
rows only, and aggregates them onto consistent-boundary units (CBUs) with the
crosswalk of :mod:`analysis.data.registry`.

Two facts a user must know (also in ``data/README.md``):

* Industry and occupation counts come from the ~10% **long-form sample**; they
  are used only as shares. Everything else (population, urban/rural, age,
  schooling) is a full count.
* The 2010 file's industry header cells are shifted: the columns headed
  ``仓储和邮政业``, ``交通运输、计算机服务和软件业`` and ``信息传输、批发和零售业``
  hold, in that order, *transport, storage & post*, *information transmission,
  computer services & software* and *wholesale & retail* (checked: the 20
  sections sum exactly to the published total, and the magnitudes match the
  provincial 2010 yearbook ordering). We map them by position accordingly.

Industry sections follow GB/T 4754-2002 (2010) and GB/T 4754-2017 (2020); the
20 sections correspond one-to-one at section level (A-T), with name changes
(e.g. 2017 adds "repair" to resident services and "social work" to health).
Occupation major groups follow the 1999 classification (2010) and the 2015
classification (2020); the seven major groups correspond, but the 2015
"social production and life services" group (IV) is broader than the 1999
"commerce and service" group. Shares of *professional and technical* staff
(group II) are comparable; the service share comparison is approximate.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from analysis.data.paths import raw_path

CensusYear = Literal[2010, 2020]

#: Codebook of harmonised count variables: name -> (2010 header, 2020 header, description).
#: ``None`` in a header means "computed" (see :func:`_standardise`).
COUNTS: dict[str, tuple[str | None, str | None, str]] = {
    "pop_total": ("合计", "人口数_合计", "Resident population (full count)"),
    "pop_male": ("男", "人口数_男", "Male resident population"),
    "pop_urban": ("城镇人口", "城镇人口", "Urban resident population"),
    "pop_rural": ("乡村人口", "乡村人口", "Rural resident population"),
    "pop_65plus": (None, None, "Population aged 65 and over (sum of age-group counts)"),
    "pop_0_14": (None, None, "Population aged 0-14 (sum of age-group counts)"),
    "edu_none": (None, None, "Aged 6+: never attended school (2020 incl. pre-school)"),
    "edu_primary": (None, None, "Aged 6+: primary school"),
    "edu_junior": (None, None, "Aged 6+: junior secondary"),
    "edu_senior": (None, None, "Aged 6+: senior secondary"),
    "edu_college": (None, None, "Aged 6+: junior college (大专)"),
    "edu_bachelor": (None, None, "Aged 6+: bachelor's degree or above"),
    "occ_total": (
        "各种职业人口\n总计",
        "各种职业人口总计",
        "Employed, long-form sample: all occupations",
    ),
    "occ_heads": (
        "国家机关、党群组织、企业、事业单位负责人",
        "党的机关国家机关群众团体和社会组织企事业单位负责人",
        "Heads of organisations (group I)",
    ),
    "occ_professional": (
        "专业技术人员",
        "专业技术人员",
        "Professional and technical staff (group II)",
    ),
    "occ_clerical": ("办事人员和\n有关人员", "办事人员和有关人员", "Clerical staff (group III)"),
    "occ_service": (
        "商业、服务业\n人员",
        "社会生产服务和生活服务人员",
        "Commerce/service staff (group IV; broader in 2020)",
    ),
    "occ_agriculture": (
        "农、林、牧、\n渔、水利业\n生产人员",
        "农林牧渔业生产及辅助人员",
        "Agricultural production (group V)",
    ),
    "occ_production": (
        "生产、运输\n设备操作人员\n及有关人员",
        "生产制造及有关人员",
        "Production and transport operators (group VI)",
    ),
    "ind_total": (
        "各种行业人口\n总计",
        "各种行业人口总计",
        "Employed, long-form sample: all industries",
    ),
    "ind_agriculture": (
        "农林牧渔业",
        "农林牧渔业",
        "A Agriculture, forestry, animal husbandry, fishery",
    ),
    "ind_mining": ("采矿业", "采矿业", "B Mining"),
    "ind_manufacturing": ("制造业", "制造业", "C Manufacturing"),
    "ind_utilities": (
        "电力、燃气\n及水的生产\n和供应业",
        "电力热力燃气及水生产和供应业",
        "D Electricity, gas, water",
    ),
    "ind_construction": ("建筑业", "建筑业", "E Construction"),
    # 2010 headers shifted in the source file; see module docstring.
    "ind_transport": ("仓储和邮政业", "交通运输仓储和邮政业", "Transport, storage and post"),
    "ind_ict": (
        "交通运输、\n计算机服务\n和软件业",
        "信息传输软件和信息技术服务业",
        "Information transmission, software and IT",
    ),
    "ind_trade": ("信息传输、\n批发和零售业", "批发和零售业", "Wholesale and retail"),
    "ind_hospitality": ("住宿和餐饮业", "住宿和餐饮业", "Accommodation and catering"),
    "ind_finance": ("金融业", "金融业", "Finance"),
    "ind_real_estate": ("房地产业", "房地产业", "Real estate"),
    "ind_business": ("租赁和\n商务服务业", "租赁和商务服务业", "Leasing and business services"),
    "ind_research": (
        "科学研究、\n技术服务和\n地质勘察业",
        "科学研究和技术服务业",
        "Scientific research and technical services",
    ),
    "ind_environment": (
        "水利、环境\n和公共设施\n管理业",
        "水利环境和公共设施管理业",
        "Water, environment, public facilities",
    ),
    "ind_resident_services": (
        "居民服务和\n其他服务业",
        "居民服务修理和其服务业",
        "Resident services (2020: and repair)",
    ),
    "ind_education": ("教育", "教育", "Education"),
    "ind_health": ("卫生、社会\n保障和社会\n福利业", "卫生和社会工作", "Health and social work"),
    "ind_culture": (
        "文化、体育\n和娱乐业",
        "文化体育和娱乐业",
        "Culture, sports and entertainment",
    ),
    "ind_public_admin": (
        "公共管理和\n社会组织",
        "公共管理社会保障和社会组织",
        "Public administration",
    ),
    "ind_international": ("国际组织", "国际组织", "International organisations"),
}

#: Published mean years of schooling (aged 6+), used as a cross-check only.
SCHOOLING_HEADER = {2010: "平均受教育年限（年）-合计", 2020: "平均受教育年限_合计"}

#: Years of schooling per attainment level (NBS convention for the published mean).
SCHOOLING_YEARS = {
    "edu_none": 0.0,
    "edu_primary": 6.0,
    "edu_junior": 9.0,
    "edu_senior": 12.0,
    "edu_college": 15.0,
    "edu_bachelor": 16.0,
}

_EDU_2010 = {
    "edu_none": ["未上过学"],
    "edu_primary": ["小学"],
    "edu_junior": ["初中"],
    "edu_senior": ["高中"],
    "edu_college": ["大学专科"],
    "edu_bachelor": ["大学本科及以上"],
}
_EDU_2020 = {
    "edu_none": ["未上过学", "学前教育"],
    "edu_primary": ["小学"],
    "edu_junior": ["初中"],
    "edu_senior": ["高中"],
    "edu_college": ["大学专科"],
    "edu_bachelor": ["本科及以上"],
}
_OLD_2010 = ["65-69岁", "70-74岁", "75-79岁", "80-84岁", "85岁及以上"]
_YOUNG_2010 = ["0岁", "1-4岁", "5-9岁", "10-14岁"]
_OLD_2020 = ["65到69岁", "70到74岁", "75到79岁", "80到84岁", "85岁以上"]
_YOUNG_2020 = ["0岁", "1到4岁", "5到9岁", "10到14岁"]


#: Industry sections counted as services (sections F-T, in :data:`COUNTS` order): every
#: ``ind_`` count but the total, agriculture (A), mining (B), manufacturing (C),
#: utilities (D) and construction (E).
SERVICE_SECTIONS: tuple[str, ...] = tuple(
    c
    for c in COUNTS
    if c.startswith("ind_")
    and c
    not in (
        "ind_total",
        "ind_agriculture",
        "ind_mining",
        "ind_manufacturing",
        "ind_utilities",
        "ind_construction",
    )
)


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="raise").astype("float64")


def _sum_cols(df: pd.DataFrame, cols: list[str]) -> pd.Series:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"census columns not found: {missing}")
    return sum((_num(df[c]) for c in cols), start=pd.Series(0.0, index=df.index))


@lru_cache(maxsize=2)
def _read_raw(year: int) -> pd.DataFrame:
    return pd.read_csv(raw_path(f"census{year}_zhejiang.csv"))


def read_census_raw(year: CensusYear) -> pd.DataFrame:
    """The raw census table exactly as shipped (all rows, original headers)."""
    if year not in (2010, 2020):
        raise ValueError("census year must be 2010 or 2020")
    return _read_raw(year).copy()


def _standardise(df: pd.DataFrame, year: int) -> pd.DataFrame:
    """Map raw census rows (any level) onto the harmonised variables."""
    df = df.reset_index(drop=True)
    out = pd.DataFrame({"code": _num(df["区划代码"]).round().astype("int64").to_numpy()})
    names = df["地区"] if year == 2010 else df["区县"]
    out["name_zh"] = names.astype(str).str.strip().to_numpy()
    out["year"] = year
    j = 0 if year == 2010 else 1
    for name, headers in COUNTS.items():
        h = headers[j]
        if h is not None:
            out[name] = _num(df[h]).to_numpy()
    if year == 2010:
        old = [f"{a}（{s}）" for a in _OLD_2010 for s in ("男", "女")]
        young = [f"{a}（{s}）" for a in _YOUNG_2010 for s in ("男", "女")]
        old = [c if c in df.columns else c.replace("（女）", "（女)") for c in old]
        edu = {k: [f"{v}-{s}" for v in vs for s in ("男", "女")] for k, vs in _EDU_2010.items()}
    else:
        old = [f"{s}_{a}" for a in _OLD_2020 for s in ("男", "女")]
        young = [f"{s}_{a}" for a in _YOUNG_2020 for s in ("男", "女")]
        edu = {k: [f"{v}_{s}" for v in vs for s in ("男", "女")] for k, vs in _EDU_2020.items()}
    out["pop_65plus"] = _sum_cols(df, old).to_numpy()
    out["pop_0_14"] = _sum_cols(df, young).to_numpy()
    for k, cols in edu.items():
        out[k] = _sum_cols(df, cols).to_numpy()
    out["edu_years_published"] = _num(df[SCHOOLING_HEADER[year]]).to_numpy()
    # Blank count cells are zeros in the published tables (e.g. rural population of
    # fully urban districts in 2010, international organisations, mining); check
    # that this reading is right where it can be checked.
    blank_rural = out["pop_rural"].isna()
    if (out.loc[blank_rural, "pop_urban"] != out.loc[blank_rural, "pop_total"]).any():
        raise ValueError(f"{year} census: blank rural population where urban != total")
    out[list(COUNTS)] = out[list(COUNTS)].fillna(0.0)
    return out[["code", "name_zh", "year", *COUNTS, "edu_years_published"]]


def _levels(year: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    raw = read_census_raw(year)
    code = _num(raw["区划代码"]).round().astype("int64")
    units = _standardise(raw.loc[(code % 100) != 0], year)
    prefs = _standardise(raw.loc[((code % 100) == 0) & (code != 330000)], year)
    prov = _standardise(raw.loc[code == 330000], year).iloc[0]
    return units, prefs, prov


def load_census(year: CensusYear) -> pd.DataFrame:
    """County-level rows of one census with harmonised English variables.

    Returns one row per county-level unit as published (that year's
    boundaries and codes), with ``code`` (int), ``name_zh``, ``year``, every
    count in :data:`COUNTS` and ``edu_years_published`` (the published mean
    years of schooling of the population aged 6+).
    """
    return _levels(year)[0]


#: Population enumerated in a prefecture but in no county row of the file,
#: assigned to the county-level unit whose territory holds it.
#: 2020: the Wenzhou Economic and Technological Development Zone
#: (温州经济技术开发区, 249,343 residents) is listed by the 7th census apart from
#: 龙湾区, inside whose territory it lies; in 2010 it was counted within 龙湾区.
RESIDUAL_HOSTS: dict[int, tuple[int, str]] = {
    330300: (330303, "温州经济技术开发区 (counted apart from 龙湾区 in 2020)"),
}


def prefecture_residuals(year: CensusYear) -> pd.DataFrame:
    """Prefecture row minus the sum of its county rows, where non-zero.

    One row per prefecture with a residual, coded with the host unit of
    :data:`RESIDUAL_HOSTS`. Raises if a residual has no declared host.
    """
    units, prefs, _ = _levels(year)
    cols = list(COUNTS)
    sums = units.assign(pref=units["code"] // 100 * 100).groupby("pref")[cols].sum()
    rows = []
    for _, p in prefs.iterrows():
        resid = p[cols].astype(float) - sums.loc[p["code"], cols]
        if (resid.abs() > 0).any():
            if p["code"] not in RESIDUAL_HOSTS:
                raise RuntimeError(f"{year} census: unexplained residual in prefecture {p['code']}")
            host, label = RESIDUAL_HOSTS[p["code"]]
            rows.append(
                {
                    "code": host,
                    "name_zh": label,
                    "year": year,
                    **resid.to_dict(),
                    "edu_years_published": np.nan,
                }
            )
    return pd.DataFrame(rows, columns=units.columns)


def province_row(year: CensusYear) -> pd.Series:
    """The province row of the raw file: the counts of :data:`COUNTS`."""
    return _levels(year)[2][list(COUNTS)].astype("float64")


def add_rates(df: pd.DataFrame) -> pd.DataFrame:
    """Derived outcomes from counts (works on units or CBUs).

    ``urbanisation`` (urban / total), ``old_age_share`` (65+ / total),
    ``youth_share``, ``edu_years`` (published mean years of schooling of the
    6+ population; for aggregated units the 6+-population-weighted mean of the
    published unit means), ``edu_years_counts`` (the same computed from
    attainment counts with 0/6/9/12/15/16 years -- a cross-check that runs
    0.05-0.3 years below the published figure because postgraduates and
    literacy classes are not separable in the county tables), ``college_share``
    (junior college or above among 6+), shares of long-form employment in
    manufacturing, scientific research & technical services, agriculture,
    services, and the share of professional & technical occupations; and
    ``log_pop``.
    """
    out = df.copy()
    out["log_pop"] = np.log(out["pop_total"])
    out["urbanisation"] = out["pop_urban"] / out["pop_total"]
    out["old_age_share"] = out["pop_65plus"] / out["pop_total"]
    out["youth_share"] = out["pop_0_14"] / out["pop_total"]
    edu_pop = sum(out[k] for k in SCHOOLING_YEARS)
    out["edu_pop6"] = edu_pop
    out["edu_years_counts"] = sum(out[k] * w for k, w in SCHOOLING_YEARS.items()) / edu_pop
    if "edu_years_x_pop6" in out.columns:  # aggregated units: pop-6+-weighted published means
        out["edu_years"] = out["edu_years_x_pop6"] / out["edu_pop6_published"]
    else:
        out["edu_years"] = out["edu_years_published"]
    out["college_share"] = (out["edu_college"] + out["edu_bachelor"]) / edu_pop
    out["manuf_share"] = out["ind_manufacturing"] / out["ind_total"]
    out["research_share"] = out["ind_research"] / out["ind_total"]
    out["agri_share"] = out["ind_agriculture"] / out["ind_total"]
    out["services_share"] = out[list(SERVICE_SECTIONS)].sum(axis=1) / out["ind_total"]
    out["professional_share"] = out["occ_professional"] / out["occ_total"]
    return out


#: Outcomes derived by :func:`add_rates`, with labels for tables.
OUTCOME_LABELS: dict[str, str] = {
    "log_pop": "Log resident population",
    "urbanisation": "Urbanisation rate",
    "old_age_share": "Share aged 65+",
    "edu_years": "Mean years of schooling (6+)",
    "college_share": "Share with college education (6+)",
    "manuf_share": "Manufacturing share of employment*",
    "research_share": "Research & technical services share of employment*",
    "agri_share": "Agriculture share of employment*",
    "services_share": "Services share of employment*",
    "professional_share": "Professional & technical occupation share*",
}
LONG_FORM_NOTE = "* long-form (~10%) sample shares"
#: The census outcome family of the studies, in the order of their tables (the outcomes of
#: :data:`OUTCOME_LABELS`).
OUTCOMES: tuple[str, ...] = (
    "log_pop",
    "urbanisation",
    "old_age_share",
    "edu_years",
    "college_share",
    "agri_share",
    "manuf_share",
    "services_share",
    "research_share",
    "professional_share",
)
#: The outcomes of :data:`OUTCOMES` that are shares (urban, aged 65+, college, sector and
#: occupation shares; tables show them in percent), not a log count or years.
SHARE_OUTCOMES: tuple[str, ...] = tuple(o for o in OUTCOMES if o not in ("log_pop", "edu_years"))


def harmonised_census(level: Literal["census", "full"] = "census") -> pd.DataFrame:
    """2010 and 2020 census on consistent-boundary units (CBUs), long format.

    Counts of the county rows, plus the prefecture residuals of
    :func:`prefecture_residuals` (assigned to their host unit), are summed
    over the units of each CBU (aggregation only, no splitting), so
    provincial totals are conserved exactly. Rates are recomputed from the
    summed counts by :func:`add_rates`. One row per CBU and census year with
    ``cbu``, ``cbu_name_zh``, ``mountain26``, ``year``.
    """
    from analysis.data.registry import to_cbu

    frames = []
    for year in (2010, 2020):
        units = pd.concat([load_census(year), prefecture_residuals(year)], ignore_index=True)
        pop6 = sum(units[k] for k in SCHOOLING_YEARS)
        has_pub = units["edu_years_published"].notna()
        units["edu_pop6_published"] = np.where(has_pub, pop6, 0.0)
        units["edu_years_x_pop6"] = np.where(has_pub, units["edu_years_published"] * pop6, 0.0)
        # a residual shares its host's code: fold it into the host row first
        sums = [*COUNTS, "edu_pop6_published", "edu_years_x_pop6"]
        units = units.groupby("code", as_index=False, sort=True).agg(
            {"name_zh": "first", **{c: "sum" for c in sums}}
        )
        agg = to_cbu(
            units,
            code_col="code",
            year=year,
            level=level,
            sum_cols=[*COUNTS, "edu_pop6_published", "edu_years_x_pop6"],
        )
        agg["year"] = year
        frames.append(agg)
    out = add_rates(pd.concat(frames, ignore_index=True))
    return out.sort_values(["cbu", "year"], kind="mergesort").reset_index(drop=True)


# ------------------------------------------------------------- the 2000 census
#: The 5th census (2000-11-01) total resident population, on 2020 codes.
CENSUS2000_FILE = "census2000_population.csv"
#: Zhejiang's 2000 census total resident population (NBS communique); the file's
#: 87 units plus the 湖州市区 group total add up to it exactly.
PROVINCE_POP_2000 = 45_930_651


@lru_cache(maxsize=1)
def _read_2000() -> pd.DataFrame:
    return pd.read_csv(raw_path(CENSUS2000_FILE), dtype={"adcode_2020": "int64"})


def load_census2000() -> pd.DataFrame:
    """The 2000 census population file, validated, one row per 2020 unit.

    Columns ``code`` (2020 code), ``name_zh``, ``pop_census2000`` (NaN where
    the unit did not exist separately in 2000: 吴兴/南浔, which were one unit
    湖州市区 whose total is in ``pop_census2000_group_total``, and 龙港, part
    of 苍南 in 2000), ``pop_census2000_group_total`` and ``compare_group``
    (the smallest groups of 2020 units whose outer boundary was the same in
    2000, 2010 and 2020; see the file's ``note`` column).
    """
    from analysis.data.schemas import validate

    raw = _read_2000().rename(columns={"adcode_2020": "code", "county": "name_zh"})
    return validate("census2000", raw).reset_index(drop=True)


def three_census_groups() -> pd.DataFrame:
    """2020 code -> census CBU -> three-census unit (``tcu``).

    A three-census unit is the smallest union of census CBUs (consistent
    2010-2020) and 2000 ``compare_group`` s (consistent 2000-2020 per the file)
    that is closed under both, i.e. the connected components of the graph
    joining 2020 codes that share a CBU or a compare group. Aggregation only,
    as for the CBUs.
    """
    from analysis.data import registry

    cw = registry.load_crosswalk("census")
    cw = cw[cw["year"] == 2020][["code", "cbu", "cbu_name_zh"]]
    c00 = load_census2000()[["code", "compare_group"]]
    m = cw.merge(c00, on="code", how="outer", validate="one_to_one", indicator=True)
    if (m["_merge"] != "both").any():
        bad = sorted(m.loc[m["_merge"] != "both", "code"])
        raise ValueError(f"2000 census file and 2020 crosswalk disagree on codes {bad}")
    parent = {c: c for c in m["code"]}

    def find(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for key in ("cbu", "compare_group"):
        for _, codes in m.groupby(key)["code"]:
            first = find(int(codes.iloc[0]))
            for c in codes.iloc[1:]:
                parent[find(int(c))] = first
    m["root"] = [find(int(c)) for c in m["code"]]
    out = []
    for _, g in m.groupby("root", sort=True):
        cbus = sorted(set(g["cbu"]))
        if len(cbus) == 1:
            tcu, name = cbus[0], g["cbu_name_zh"].iloc[0]
        else:
            tcu = "T" + str(int(g["code"].min()))
            names = g.drop_duplicates("cbu").sort_values("cbu")["cbu_name_zh"]
            name = "+".join(names)
        out.append(g.assign(tcu=tcu, tcu_name_zh=name))
    return pd.concat(out)[["code", "cbu", "compare_group", "tcu", "tcu_name_zh"]].reset_index(
        drop=True
    )


def three_census_population() -> pd.DataFrame:
    """Total population in 2000, 2010 and 2020 on three-census units, long format.

    Units (``tcu``) are unions of census CBUs closed under the 2000 boundary
    groups (see :func:`three_census_groups`): 74 units, because 柯城+衢江
    (towns moved between them in 2001) and the Hangzhou, Ningbo, Wenzhou,
    Huzhou, Shaoxing and Jinhua urban districts (re-drawn 2001-2003) cannot be
    separated in 2000. 2010 and 2020 counts are the CBU sums of
    :func:`harmonised_census`; the 2000 count is the sum of the unit figures
    plus each group total (湖州市区) once. Columns ``tcu``, ``tcu_name_zh``,
    ``mountain26``, ``cbus`` (``;``-joined census CBU ids), ``year``,
    ``pop_total``, ``log_pop``. Provincial totals are conserved exactly
    (checked against :data:`PROVINCE_POP_2000` and the 2010/2020 sums).
    """
    groups = three_census_groups()
    c00 = load_census2000().set_index("code")
    rows = []
    for tcu, g in groups.groupby("tcu", sort=True):
        sub = c00.loc[g["code"]]
        total = float(sub["pop_census2000"].sum())
        for _, gg in sub[sub["pop_census2000"].isna()].groupby("compare_group"):
            gt = gg["pop_census2000_group_total"].dropna().unique()
            if len(gt) > 1:
                raise ValueError(f"2000 census: conflicting group totals in {tcu}")
            total += float(gt[0]) if len(gt) else 0.0
        if not total > 0:
            raise ValueError(f"2000 census: no population for three-census unit {tcu}")
        rows.append({"tcu": tcu, "year": 2000, "pop_total": total})
    pop00 = pd.DataFrame(rows)
    if not math.isclose(pop00["pop_total"].sum(), PROVINCE_POP_2000, abs_tol=0.5):
        raise ValueError(
            f"2000 census units sum to {pop00['pop_total'].sum():,.0f}, "
            f"not the provincial {PROVINCE_POP_2000:,}"
        )
    cen = harmonised_census("census")[["cbu", "year", "pop_total", "mountain26"]]
    cbu_tcu = groups.drop_duplicates("cbu").set_index("cbu")["tcu"]
    cen = cen.assign(tcu=cen["cbu"].map(cbu_tcu))
    later = cen.groupby(["tcu", "year"], as_index=False)["pop_total"].sum()
    meta = (
        cen.groupby("tcu")
        .agg(mountain26=("mountain26", "max"), cbus=("cbu", lambda s: ";".join(sorted(set(s)))))
        .reset_index()
        .merge(groups.drop_duplicates("tcu")[["tcu", "tcu_name_zh"]], on="tcu")
    )
    out = pd.concat([pop00, later], ignore_index=True).merge(meta, on="tcu", validate="many_to_one")
    out["mountain26"] = out["mountain26"].astype(bool)
    out["log_pop"] = np.log(out["pop_total"])
    out = out[["tcu", "tcu_name_zh", "mountain26", "cbus", "year", "pop_total", "log_pop"]]
    return out.sort_values(["tcu", "year"], kind="mergesort").reset_index(drop=True)
