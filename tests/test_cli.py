"""CLI contracts: exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from analysis.cli import main
from analysis.data.paths import REPO_ROOT

ENCLAVE = [sys.executable, "-m", "analysis.cli"]


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run(args, cwd=None) -> Ran:
    """Run the CLI in-process (fast); exit status and streams as a user sees them."""
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd or REPO_ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(old)
    return Ran(code, out.getvalue(), err.getvalue())


def run_subprocess(args, cwd=None):
    return subprocess.run([*ENCLAVE, *args], capture_output=True, text=True, cwd=cwd or REPO_ROOT)


def test_data_check_raw_ok():
    r = run(["data", "check"])
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


def test_data_check_bad_panel_exits_2_names_both_problems_writes_nothing(tmp_path):
    p = tmp_path / "panel.csv"
    pd.DataFrame(
        {
            "code": [330127, 330127, 330324],
            "year": [2015, 2015, 2015],
            "population": [33.0, 33.1, -4.0],
        }
    ).to_csv(p, index=False)
    before = sorted(tmp_path.iterdir())
    r = run(["data", "check", str(p)], cwd=tmp_path)
    assert r.returncode == 2
    assert "duplicate county-year" in r.stderr
    assert "negative" in r.stderr and "'population'" in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    "args, needle",
    [
        (["data", "check", "/nonexistent/x.csv"], "file not found"),
        (["data", "check", "README.md"], "unsupported file type"),
        (["estimate", "--data", "x.csv"], "the following arguments are required"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, needle):
    r = run(args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_estimate_on_missing_file_is_one_line():
    r = run(
        [
            "estimate",
            "--data",
            "missing.csv",
            "--outcome",
            "y",
            "--unit",
            "u",
            "--time",
            "t",
            "--cohort",
            "g",
            "--method",
            "twfe",
        ]
    )
    assert r.returncode == 2
    assert r.stderr.strip() == "enclave: error: file not found: missing.csv"


def test_reproduce_help_lists_stages():
    r = run(["reproduce", "--help"])
    assert r.returncode == 0
    for s in ("data", "analyses", "notebooks", "paper"):
        assert s in r.stdout


def test_console_script_is_installed_and_exits_2_on_bad_input(tmp_path):
    exe = Path(sys.executable).parent / "enclave"
    assert exe.exists()
    r = subprocess.run(
        [
            str(exe),
            "estimate",
            "--data",
            "missing.csv",
            "--outcome",
            "y",
            "--unit",
            "u",
            "--time",
            "t",
            "--cohort",
            "g",
            "--method",
            "cs",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 2
    assert r.stderr.strip() == "enclave: error: file not found: missing.csv"
    r = run_subprocess(["data", "check"])
    assert r.returncode == 0, r.stderr


MPDTA = str(REPO_ROOT / "data" / "raw" / "external" / "mpdta.csv")
BASE = [
    "estimate",
    "--data",
    MPDTA,
    "--outcome",
    "lemp",
    "--unit",
    "countyreal",
    "--time",
    "year",
    "--cohort",
    "first.treat",
]


@pytest.mark.parametrize(
    "method, simple",
    [
        ("cs", -0.0400),
        ("twfe", -0.0365),
        ("sa", -0.0400),
        ("bjs", -0.0477),
        ("gardner", -0.0477),
        ("event", None),
    ],
)
def test_estimate_json_contract_on_mpdta(method, simple):
    import json

    r = run([*BASE, "--method", method, "--json"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["method"] == method and d["outcome"] == "lemp"
    assert d["n_units"] == 500 and d["n_obs"] == 2500
    assert {"simple"} <= set(d["aggregates"])
    assert set(d["aggregates"]["simple"]) >= {"att", "se", "ci"}
    assert set(d["provenance"]) >= {"data", "package_version", "seed"}
    if simple is not None:
        assert d["aggregates"]["simple"]["att"] == pytest.approx(simple, abs=5e-5)
    if method == "cs":
        assert len(d["att_gt"]) == 12
        assert set(d["aggregates"]) == {"simple", "group", "dynamic", "calendar"}
        assert d["att_gt"][0] == {
            "cohort": 2004,
            "time": 2004,
            "att": pytest.approx(-0.0105, abs=5e-5),
            "se": pytest.approx(0.0233, abs=5e-5),
        }
    elif method == "sa":  # cohort x period interactions; with never-treated controls = CS's
        assert len(d["att_gt"]) == 12
        assert d["att_gt"][0] == {
            "cohort": 2004,
            "time": 2004,
            "att": pytest.approx(-0.0105, abs=5e-5),
            "se": pytest.approx(0.0233, abs=5e-5),
        }
    elif method == "bjs":  # imputed effects averaged by cohort and period (post cells only)
        assert len(d["att_gt"]) == 7
        assert all(c["time"] >= c["cohort"] for c in d["att_gt"])
        assert d["att_gt"][0] == {
            "cohort": 2004,
            "time": 2004,
            "att": pytest.approx(-0.0194, abs=5e-5),
            "se": pytest.approx(0.0223, abs=5e-5),
        }
    else:
        assert d["att_gt"] == []


def test_estimate_bootstrap_same_seed_same_bytes(tmp_path):
    args = [*BASE, "--method", "cs", "--bootstrap", "199", "--seed", "7", "--json"]
    a, b = run(args), run(args)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    out = tmp_path / "res.json"
    c = run([*args, "--output", str(out)])
    assert out.read_text() == c.stdout


def _estimate_args(path, method):
    """``enclave estimate`` on an mpdta-shaped file, JSON output."""
    return [
        "estimate",
        "--data",
        str(path),
        "--outcome",
        "lemp",
        "--unit",
        "countyreal",
        "--time",
        "year",
        "--cohort",
        "first.treat",
        "--method",
        method,
        "--json",
    ]


def _bad_panel(tmp_path, kind):
    df = pd.read_csv(MPDTA)
    if kind == "duplicate":
        df = pd.concat([df, df.iloc[[0]]])
    elif kind == "nonnumeric":
        df["lemp"] = df["lemp"].astype(str)
        df.loc[5, "lemp"] = "n.a."
    elif kind == "varying":
        df.loc[0, "first.treat"] = 2006
    elif kind == "no_never":
        df = df[df["first.treat"] > 0]
    p = tmp_path / f"{kind}.csv"
    df.to_csv(p, index=False)
    return p


@pytest.mark.parametrize(
    "kind, needle",
    [
        ("duplicate", "duplicate unit-time"),
        ("nonnumeric", "is not numeric"),
        ("varying", "varies within"),
        ("no_never", "no never-treated units"),
    ],
)
@pytest.mark.parametrize("method", ["cs", "twfe"])
def test_estimate_bad_input_exit_2_one_line(tmp_path, kind, needle, method):
    p = _bad_panel(tmp_path, kind)
    r = run(_estimate_args(p, method))
    if kind == "no_never" and method == "twfe":
        assert r.returncode == 0, r.stderr  # TWFE uses not-yet-treated units; still estimable
        return
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert r.stdout == ""


def test_option_that_does_not_apply_is_rejected():
    r = run([*BASE, "--method", "twfe", "--est-method", "dr"])
    assert r.returncode == 2
    assert "does not apply to method 'twfe'" in r.stderr


def test_units_treated_in_first_period_are_announced(tmp_path):
    df = pd.read_csv(MPDTA)
    df.loc[df["countyreal"] == df["countyreal"].iloc[0], "first.treat"] = 2003
    p = tmp_path / "early.csv"
    df.to_csv(p, index=False)
    r = run(_estimate_args(p, "cs"))
    assert r.returncode == 0, r.stderr
    assert "enclave: note: dropped 1 unit(s) treated at or before the first period" in r.stderr


@pytest.mark.parametrize(
    "kind, method", [("wild", "twfe"), ("cr2", "twfe"), ("ri", "cs"), ("ri", "twfe")]
)
def test_estimate_inference_options_report_p_and_interval(kind, method):
    import json

    args = [
        *BASE,
        "--method",
        method,
        "--inference",
        kind,
        "--draws",
        "199",
        "--seed",
        "3",
        "--json",
    ]
    r = run(args)
    assert r.returncode == 0, r.stderr
    inf = json.loads(r.stdout)["inference"]
    assert inf["inference"] == kind
    assert 0 <= inf["p_value"] <= 1
    lo, hi = inf["ci"]
    assert lo is not None and hi is not None and lo < hi
    assert run(args).stdout == r.stdout  # same seed, same bytes


def test_inference_that_does_not_apply_is_one_line_exit_2():
    r = run([*BASE, "--method", "sa", "--inference", "wild"])
    assert r.returncode == 2
    assert "applies to the regression coefficient of method twfe" in r.stderr


def test_power_prints_an_mde_table():
    r = run(
        [
            "power",
            "--units",
            "60",
            "--treated",
            "20",
            "--periods",
            "8",
            "--cohorts",
            "5,6",
            "--methods",
            "twfe",
            "--inferences",
            "analytic",
            "--sims",
            "100",
            "--json",
        ]
    )
    assert r.returncode == 0, r.stderr
    import json

    rows = json.loads(r.stdout)
    assert rows[0]["method"] == "twfe" and rows[0]["inference"] == "analytic"
    assert 0 < rows[0]["mde"] < 5
    bad = run(["power", "--units", "60"])
    assert bad.returncode == 2 and "give --data" in bad.stderr
