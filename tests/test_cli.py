"""CLI contracts: exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.data.paths import REPO_ROOT

ENCLAVE = [sys.executable, "-m", "analysis.cli"]


def run(args, cwd=None):
    return subprocess.run([*ENCLAVE, *args], capture_output=True, text=True, cwd=cwd or REPO_ROOT)


def test_data_check_raw_ok():
    r = run(["data", "check"])
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


def test_data_check_bad_panel_exits_2_names_both_problems_writes_nothing(tmp_path):
    p = tmp_path / "panel.csv"
    pd.DataFrame({"code": [330127, 330127, 330324], "year": [2015, 2015, 2015],
                  "population": [33.0, 33.1, -4.0]}).to_csv(p, index=False)
    before = sorted(tmp_path.iterdir())
    r = run(["data", "check", str(p)], cwd=tmp_path)
    assert r.returncode == 2
    assert "duplicate county-year" in r.stderr
    assert "negative" in r.stderr and "'population'" in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize("args, needle", [
    (["data", "check", "/nonexistent/x.csv"], "file not found"),
    (["data", "check", "README.md"], "unsupported file type"),
    (["estimate", "--data", "x.csv"], "the following arguments are required"),
    (["nonsense"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(args, needle):
    r = run(args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_estimate_on_missing_file_is_one_line():
    r = run(["estimate", "--data", "missing.csv", "--outcome", "y", "--unit", "u",
             "--time", "t", "--cohort", "g", "--method", "twfe"])
    assert r.returncode == 2
    assert r.stderr.strip() == "enclave: error: file not found: missing.csv"


def test_reproduce_help_lists_stages():
    r = run(["reproduce", "--help"])
    assert r.returncode == 0
    for s in ("data", "analyses", "notebooks", "paper"):
        assert s in r.stdout


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "enclave"
    assert exe.exists()
