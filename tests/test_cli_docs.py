"""CLI: every option says what it does; `estimate --out DIR` writes tables and a figure."""

from __future__ import annotations

import argparse
import json

from analysis.cli import build_parser, main
from analysis.data.paths import RAW_DIR


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def test_every_option_has_a_help_line():
    missing = []
    for name, sub in _subparsers(build_parser()):
        for a in sub._actions:
            if isinstance(a, argparse._HelpAction):
                continue
            if not a.help:
                missing.append(f"{name} {'/'.join(a.option_strings) or a.dest}")
    assert missing == []


def test_estimate_out_writes_tables_figure_and_json(tmp_path, capsys):
    out = tmp_path / "res"
    rc = main(
        [
            "estimate",
            "--data",
            str(RAW_DIR / "external" / "mpdta.csv"),
            "--outcome",
            "lemp",
            "--unit",
            "countyreal",
            "--time",
            "year",
            "--cohort",
            "first.treat",
            "--method",
            "cs",
            "--control",
            "never",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    names = sorted(p.name for p in out.iterdir())
    for ext in ("md", "tex", "html", "csv"):
        assert f"cs_lemp_estimates.{ext}" in names and f"cs_lemp_table.{ext}" in names
    assert "cs_lemp_dynamic.png" in names and "cs_lemp.json" in names
    assert not [n for n in names if n.startswith(".")]  # no temporary left behind
    payload = json.loads((out / "cs_lemp.json").read_text(encoding="utf-8"))
    assert payload["method"] == "cs"
    assert "Data layer" in (out / "cs_lemp_estimates.md").read_text(encoding="utf-8")
    assert "wrote" in capsys.readouterr().err


def test_estimate_out_refuses_a_file(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    rc = None
    try:
        rc = main(
            [
                "estimate",
                "--data",
                str(RAW_DIR / "external" / "mpdta.csv"),
                "--outcome",
                "lemp",
                "--unit",
                "countyreal",
                "--time",
                "year",
                "--cohort",
                "first.treat",
                "--method",
                "twfe",
                "--out",
                str(f),
            ]
        )
    except SystemExit as e:
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err
    assert "is a file" in err and len(err.strip().splitlines()) == 1
