"""The estimator registry is the one list of methods, and adding an estimator needs no other edit."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators import get_estimator, registry
from analysis.results import Aggregate, DiDResult

PKG = Path(__file__).parents[1] / "analysis"
SIM = dict(outcome="y", unit="unit", time="time", cohort="cohort")


# --------------------------------------------------------------------------- one list
def _string_collections(tree: ast.AST):
    exports = {  # ``__all__`` names functions, not methods
        id(n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets)
    }
    for node in ast.walk(tree):
        if id(node) in exports:
            continue
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            elts = node.elts
        elif isinstance(node, ast.Dict):
            elts = [k for k in node.keys if k is not None]
        else:
            continue
        vals = [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        if vals:
            yield node.lineno, vals
    names = set(registry.REGISTRY)
    for n in ast.walk(tree):  # "twfe,cs,bjs"-style joined lists
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and "," in n.value:
            parts = [v.strip() for v in n.value.split(",")]
            if all(v in names for v in parts):
                yield n.lineno, parts


def method_lists(path: Path) -> list[tuple[int, list[str]]]:
    """Collection literals (or comma-joined strings) in ``path`` that spell method names."""
    names = set(registry.REGISTRY)
    out = []
    for lineno, vals in _string_collections(ast.parse(path.read_text(encoding="utf-8"))):
        hits = [v for v in vals if v in names]
        if len(hits) >= 2 or (hits and len(hits) == len(vals)):
            out.append((lineno, vals))
    return out


def test_only_the_registry_lists_method_names():
    offenders = {
        str(p.relative_to(PKG)): found
        for p in sorted(PKG.rglob("*.py"))
        if p.name != "registry.py" and (found := method_lists(p))
    }
    assert offenders == {}, (
        f"method-name lists outside analysis/estimators/registry.py: {offenders}"
    )


def test_the_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        'OK = ("twfe", "cs")\nALSO = "twfe,bjs"\nFINE = ("cohort", "event", "time")\n'
        '__all__ = ["twfe"]\nIF = {"sa": 1, "bjs": 2}\n'
    )
    assert sorted(ln for ln, _ in method_lists(bad)) == [1, 2, 5]


def test_registry_entries_are_complete():
    assert registry.methods()[:6] == ("twfe", "event", "cs", "sa", "bjs", "gardner")
    for name, spec in registry.REGISTRY.items():
        fn = get_estimator(name)
        assert callable(fn) and spec.func is fn
        for opt in ("outcome", "unit", "time", "cohort", "alpha"):
            assert opt in spec.options, (name, opt)
        assert spec.capabilities <= set(registry.CAPABILITIES)
        if spec.supports("power_ri") or spec.ri_closed_form_t:
            assert spec.ri_fast() is not None
        assert (spec.power_fast() is not None) <= spec.supports("power")
    assert registry.get_spec("cs").options["control"].choices == ("never", "notyet")
    with pytest.raises(InputError, match="choose one of twfe, event, cs"):
        registry.get_spec("nope")
    with pytest.raises(InputError, match="est_method must be one of 'dr', 'ipw', 'reg'"):
        registry.validate_options("cs", {"est_method": "ols"})
    with pytest.raises(InputError, match="does not apply to method 'twfe'"):
        registry.validate_options("twfe", {"est_method": "dr"})


# --------------------------------------------------------------------------- a toy estimator
def toy_did(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    alpha: float = 0.05,
    data_layer: str | None = None,
) -> DiDResult:
    """Mean of y over treated cells minus mean over untreated cells (a toy, not a DiD)."""
    g = pd.to_numeric(data[cohort]).fillna(0).to_numpy()
    t = pd.to_numeric(data[time]).to_numpy()
    y = pd.to_numeric(data[outcome]).to_numpy(float)
    d = (g > 0) & (t >= g)
    att = float(y[d].mean() - y[~d].mean())
    se = float(np.sqrt(y[d].var(ddof=1) / d.sum() + y[~d].var(ddof=1) / (~d).sum()))
    return DiDResult(
        method="toy",
        outcome=outcome,
        n_units=int(data[unit].nunique()),
        n_obs=len(data),
        att_gt=None,
        aggregates={"simple": Aggregate("simple", att, se)},
        info={"alpha": alpha, "data_layer": data_layer or "unspecified", "control": "never"},
    )


@pytest.fixture
def toy(monkeypatch):
    spec = registry.EstimatorSpec("toy", toy_did, "toy difference in means", {"ri", "power"})
    monkeypatch.setitem(registry.REGISTRY, "toy", spec)
    return spec


@pytest.fixture(scope="module")
def panel():
    return simulate_staggered(n_units=30, n_periods=5, cohorts=(3, 4), never_share=0.4, seed=4).data


def test_toy_estimator_reaches_the_cli(toy, panel, tmp_path, capsys):
    f = tmp_path / "p.csv"
    panel.to_csv(f, index=False)
    args = ["estimate", "--data", str(f), "--outcome", "y", "--unit", "unit", "--time", "time"]
    args += ["--cohort", "cohort", "--method", "toy"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "toy"
    assert out["aggregates"]["simple"]["att"] == pytest.approx(toy_did(panel, **SIM).att, abs=1e-12)
    assert main([*args, "--json", "--inference", "ri", "--draws", "19", "--seed", "1"]) == 0
    ri = json.loads(capsys.readouterr().out)["inference"]
    assert ri["statistic"] == "toy" and 0 < ri["p_value"] <= 1


def test_toy_estimator_reaches_randomisation_inference(toy, panel):
    from analysis.inference.ri import randomization_test

    r = randomization_test(panel, statistic="toy", n_draws=19, seed=3, exact=False, **SIM)
    assert r.observed == pytest.approx(toy_did(panel, **SIM).att, abs=1e-12)
    assert r.n_draws == 19 and 0 < r.p_value <= 1
    rt = randomization_test(panel, statistic="toy_t", n_draws=19, seed=3, exact=False, **SIM)
    res = toy_did(panel, **SIM)
    assert rt.observed == pytest.approx(res.att / res.se, abs=1e-12)


def test_toy_estimator_reaches_power(toy):
    from analysis.inference.power import PanelDesign, mde_table, simulate_power

    des = PanelDesign.from_counts(20, 8, 5, [3, 4], sigma=1.0)
    sim = simulate_power(des, method="toy", engine="refit", n_sims=4, seed=1, backend="serial")
    assert sim.stats.shape[0] == 4 and np.isfinite(sim.stats).all()
    with pytest.raises(InputError, match="no closed form"):
        simulate_power(des, method="toy", n_sims=4)
    tab = mde_table(des, inferences=["ri"], n_sims=4, seed=1)
    assert "toy" in set(tab["method"])  # listed from the registry, refused with a reason
    assert tab.loc[tab["method"] == "toy", "note"].str.contains("not available").all()


def test_post_inference_starts_from_the_result(panel, monkeypatch):
    """``--inference cr2|wild`` uses the design the fit carries: no second validation."""
    from analysis.estimators import _panel
    from analysis.inference.post import post_inference

    fit = get_estimator("twfe")(panel, **SIM)
    fresh = post_inference("cr2", panel, method="twfe", **SIM)
    wild = post_inference("wild", panel, method="twfe", **SIM, draws=99, seed=2)

    def refuse(*a, **k):
        raise AssertionError("the panel was validated again")

    monkeypatch.setattr(_panel, "prepare_panel", refuse)
    assert post_inference("cr2", panel, method="twfe", **SIM, result=fit) == fresh
    assert post_inference("wild", panel, method="twfe", **SIM, draws=99, seed=2, result=fit) == wild
    assert fresh["estimate"] == pytest.approx(fit.att, abs=1e-12)
