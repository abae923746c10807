"""Goodman-Bacon decomposition: exactness, peer (diff-diff), inputs."""

from __future__ import annotations

import dataclasses

import pytest

from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators.bacon import BaconDecomposition, bacon_decomposition
from analysis.estimators.twfe import twfe
from tests._fe_common import MP, SIM, load_mpdta, ref, sim_panel


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
