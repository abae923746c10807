"""Goodman-Bacon decomposition: exactness, peer (diff-diff), R bacondecomp, inputs."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from analysis.data.paths import RAW_DIR
from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators.bacon import (
    BaconDecomposition,
    bacon,
    bacon_decomposition,
    cohort_from_treatment,
)
from analysis.estimators.registry import get_spec
from analysis.estimators.twfe import twfe
from tests._fe_common import MP, REF, SIM, load_mpdta, ref, sim_panel


@pytest.fixture(scope="module")
def mpdta():
    return load_mpdta()


@pytest.mark.parametrize("never", [0.0, 0.3])
@pytest.mark.parametrize("seed", [1, 2])
def test_weighted_sum_equals_twfe(never, seed):
    d = simulate_staggered(
        n_units=400, n_periods=12, cohorts=(3, 5, 8, 11), never_share=never, seed=seed
    ).data
    b = bacon_decomposition(d, **SIM)
    assert b.weighted_sum == pytest.approx(b.twfe, abs=1e-10)
    assert b.table["weight"].sum() == pytest.approx(1.0, abs=1e-10)
    assert b.twfe == pytest.approx(twfe(d, **SIM).att, abs=1e-10)


@pytest.mark.parametrize("name", ["mpdta", "sim"])
def test_matches_diff_diff(name, mpdta):
    data, cols = (mpdta, MP) if name == "mpdta" else (sim_panel(), SIM)
    b = bacon_decomposition(data, **cols)
    p = ref(name)["bacon"]["diff_diff"]
    assert b.twfe == pytest.approx(p["twfe"], abs=1e-10)
    assert b.weighted_sum == pytest.approx(b.twfe, abs=1e-10)
    got = b.table.set_index(["type", "treated_cohort", "control_cohort"])
    for row in p["table"]:
        ctrl = 0 if row["control_group"] == "never_treated" else int(row["control_group"])
        key = (row["comparison_type"], int(row["treated_group"]), ctrl)
        assert got.loc[key, "estimate"] == pytest.approx(row["estimate"], abs=1e-6)
        assert got.loc[key, "weight"] == pytest.approx(row["weight"], abs=1e-6)
    assert len(got) == len(p["table"])


def test_result_object(mpdta):
    b = bacon_decomposition(mpdta, **MP)
    assert isinstance(b, BaconDecomposition)
    assert set(b.table.columns) == {
        "type",
        "treated_cohort",
        "control_cohort",
        "estimate",
        "weight",
    }
    assert "contribution" in b.tidy().columns
    assert "TWFE coefficient" in b.summary()
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.twfe = 0.0  # type: ignore[misc]
    bt = b.by_type()
    assert bt["weight"].sum() == pytest.approx(1.0)


def test_unbalanced_panel_raises(mpdta):
    with pytest.raises(InputError, match="balanced"):
        bacon_decomposition(mpdta.iloc[1:], **MP)


def test_missing_column_raises(mpdta):
    with pytest.raises(InputError, match="not found"):
        bacon_decomposition(mpdta, **{**MP, "outcome": "y"})


# ---------------------------------------------------------------------------------------------
# R bacondecomp: printed outputs (tests/reference/bacon_bacondecomp.json names each source).
# Data: bacondecomp's own math_reform and castle panels (MIT), data/raw/external/*_bacondecomp.csv.
# Tolerances: half a unit in the last printed digit (README 2x2s: 5e-9 estimates, 5e-10 weights;
# summaries 5e-6; TWFE 1e-12 against the 16 digits of index.ipynb).
BD = json.loads((REF / "bacon_bacondecomp.json").read_text())
CASTLE = dict(outcome="l_homicide", unit="state", time="year", treatment="post")
OURS = {
    "Treated vs Untreated": "treated_vs_never",
    "Earlier vs Later Treated": "earlier_vs_later",
    "Later vs Earlier Treated": "later_vs_earlier",
    "Both Treated": "both_treated",
}


@pytest.fixture(scope="module")
def castle():
    return pd.read_csv(RAW_DIR / "external" / "castle_bacondecomp.csv")


@pytest.fixture(scope="module")
def math_reform():
    return pd.read_csv(RAW_DIR / "external" / "math_reform_bacondecomp.csv")


def test_math_reform_readme_two_by_twos_and_summary(math_reform):
    """bacon(incearn_ln ~ reform_math, math_reform, "state", "class"): README, cohort and dummy input."""
    ref = BD["math_reform_readme"]
    cols = dict(outcome="incearn_ln", unit="state", time="class")
    by_cohort = bacon_decomposition(
        math_reform.assign(g=math_reform["reformyr_math"].fillna(0)), **cols, cohort="g"
    )
    by_dummy = bacon_decomposition(math_reform, **cols, treatment="reform_math")
    pd.testing.assert_frame_equal(by_cohort.table, by_dummy.table)
    got = by_dummy.table.set_index(["treated_cohort", "control_cohort"])
    for row in ref["two_by_twos"]:
        r = got.loc[(row["treated"], row["untreated"])]
        assert r["type"] == OURS[row["type"]]
        assert r["estimate"] == pytest.approx(row["estimate"], abs=5e-9)
        assert r["weight"] == pytest.approx(row["weight"], abs=5e-10)
    summ = by_dummy.by_type().set_index("type")
    for row in ref["summary"]:
        assert summ.loc[OURS[row["type"]], "weight"] == pytest.approx(row["weight"], abs=5e-6)
        assert summ.loc[OURS[row["type"]], "estimate"] == pytest.approx(row["avg_est"], abs=5e-6)


def test_castle_uncontrolled_matches_vignette(castle):
    ref = BD["castle_uncontrolled"]
    b = bacon_decomposition(castle, **CASTLE)
    assert b.twfe == pytest.approx(ref["twfe"], abs=1e-12)
    summ = b.by_type().set_index("type")
    for row in ref["summary"]:
        assert summ.loc[OURS[row["type"]], "weight"] == pytest.approx(row["weight"], abs=5e-6)
        assert summ.loc[OURS[row["type"]], "estimate"] == pytest.approx(row["avg_est"], abs=5e-6)
    top = b.table.loc[b.table["weight"].idxmax()]
    assert (top["treated_cohort"], top["control_cohort"]) == (2006, 0)
    assert top["estimate"] == pytest.approx(ref["top_weight"]["estimate"], abs=5e-9)
    assert top["weight"] == pytest.approx(ref["top_weight"]["weight"], abs=5e-8)


def test_castle_controlled_matches_vignette(castle):
    """bacon(l_homicide ~ post + l_pop + l_income, castle): between summary, TWFE|X, Omega identity."""
    ref = BD["castle_controlled"]
    b = bacon_decomposition(castle, **CASTLE, covariates=["l_pop", "l_income"])
    between = b.table.assign(s=b.table["weight"] / (1 - b.omega))  # bacondecomp's s_kl
    for row in ref["summary"]:
        part = between[between["type"] == OURS[row["type"]]]
        assert part["s"].sum() == pytest.approx(row["weight"], abs=5e-6)
        assert np.average(part["estimate"], weights=part["s"]) == pytest.approx(
            row["avg_est"], abs=5e-6
        )
    assert b.twfe == pytest.approx(ref["twfe"], abs=5e-5)
    # exact identities (bacondecomp's own tests): TWFE with controls, Omega + (1 - Omega) = 1
    tw = twfe(
        castle.assign(g=cohort_from_treatment(castle, unit="state", time="year", treatment="post")),
        outcome="l_homicide",
        unit="state",
        time="year",
        cohort="g",
        covariates=["l_pop", "l_income"],
    )
    assert b.twfe == pytest.approx(tw.att, abs=1e-10)
    assert b.weighted_sum == pytest.approx(b.twfe, abs=1e-10)
    assert b.omega + b.info["between_share"] == pytest.approx(1.0, abs=1e-10)
    assert b.components()["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert set(b.table["type"]) == {"treated_vs_never", "both_treated"}


@pytest.mark.parametrize("seed", [3, 4])
def test_controlled_identity_on_simulated_panels(seed):
    sim = simulate_staggered(n_units=300, n_periods=9, cohorts=(3, 5, 7), beta_x=1.0, seed=seed)
    rng = np.random.default_rng(seed)
    d = sim.data.assign(
        xt=sim.data["x"] * sim.data["time"] + rng.normal(size=len(sim.data)),
        z=rng.normal(size=len(sim.data)),
    )
    b = bacon_decomposition(d, **SIM, covariates=["xt", "z"])
    assert b.weighted_sum == pytest.approx(twfe(d, **SIM, covariates=["xt", "z"]).att, abs=1e-10)
    assert 0 < b.omega < 1


def test_uncontrolled_has_no_within_term():
    d = simulate_staggered(n_units=200, n_periods=8, cohorts=(3, 6), seed=9).data
    b0 = bacon_decomposition(d, **SIM)
    assert b0.omega is None and b0.beta_within is None
    assert b0.components().equals(b0.table)


# ----------------------------------------------------------------------------- treatment dummy
def test_non_absorbing_treatment_rejected(castle):
    bad = castle.copy()
    bad.loc[(bad["state"] == "Alabama") & (bad["year"] == 2009), "post"] = 0
    with pytest.raises(InputError, match="not absorbing.*Alabama"):
        bacon_decomposition(bad, **CASTLE)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d.assign(post=d["post"] * 2), "0/1 dummy"),
        (lambda d: d.assign(post=d["post"].where(d.index != 3)), "missing"),
    ],
)
def test_bad_treatment_dummy(castle, edit, match):
    with pytest.raises(InputError, match=match):
        bacon_decomposition(edit(castle), **CASTLE)


def test_cohort_or_treatment_not_both(castle):
    with pytest.raises(InputError, match="not both"):
        bacon_decomposition(castle.assign(g=0), **CASTLE, cohort="g")
    with pytest.raises(InputError, match="either cohort"):
        bacon_decomposition(castle, outcome="l_homicide", unit="state", time="year")


# ----------------------------------------------------------------------------- DiDResult / CLI
def test_registered_result_carries_the_decomposition(castle):
    spec = get_spec("bacon")
    assert spec.supports("covariates") and not spec.supports("weights")
    assert "weights" in spec.notes
    r = bacon(castle, **CASTLE, covariates=["l_pop", "l_income"])
    out = r.to_dict()
    dec = out["decomposition"]
    assert out["aggregates"]["simple"]["att"] == pytest.approx(dec["twfe"], abs=1e-10)
    assert out["aggregates"]["simple"]["se"] > 0
    comps = dec["components"]
    assert {"type", "estimate", "weight"} <= set(comps[0])
    assert comps[-1]["type"] == "within"
    assert sum(c["weight"] for c in comps) == pytest.approx(1.0, abs=1e-12)
    assert sum(c["weight"] * c["estimate"] for c in comps) == pytest.approx(dec["twfe"], abs=1e-10)
    assert "Decomposition" in r.summary()


def test_cli_bacon_json_and_text(tmp_path):
    from tests.test_cli import run

    path = RAW_DIR / "external" / "castle_bacondecomp.csv"
    base = [
        "estimate",
        "--data",
        str(path),
        "--outcome",
        "l_homicide",
        "--unit",
        "state",
        "--time",
        "year",
        "--method",
        "bacon",
    ]
    r = run([*base, "--treatment", "post", "--json"])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["method"] == "bacon"
    assert out["decomposition"]["twfe"] == pytest.approx(
        BD["castle_uncontrolled"]["twfe"], abs=1e-12
    )
    types = {c["type"] for c in out["decomposition"]["components"]}
    assert types == {"treated_vs_never", "earlier_vs_later", "later_vs_earlier"}
    text = run([*base, "--treatment", "post", "--covariates", "l_pop,l_income"])
    assert text.returncode == 0 and "within" in text.stdout and "both_treated" in text.stdout
    neither = run(base)
    assert neither.returncode == 2 and "--treatment" in neither.stderr
    other = run([*base[:-1], "twfe", "--treatment", "post"])
    assert other.returncode == 2 and "does not apply" in other.stderr


def test_missing_value_drops_the_unit_with_a_note(castle):
    """A missing outcome would unbalance the panel: that unit is dropped (noted), as if absent."""
    bad = castle.copy()
    bad.loc[(bad["state"] == "Texas") & (bad["year"] == 2003), "l_homicide"] = np.nan
    with pytest.warns(UserWarning, match="dropped 1 unit"):
        b = bacon_decomposition(bad, **CASTLE)
    same = bacon_decomposition(castle[castle["state"] != "Texas"], **CASTLE)
    pd.testing.assert_frame_equal(b.table, same.table)
    r = bacon(bad, **CASTLE)
    assert r.att == pytest.approx(same.twfe, abs=1e-12)
    assert any("dropped 1 unit" in n for n in r.notes)
