"""The raw-data manifest: shipped files verify; changes are caught."""

from __future__ import annotations

import shutil

from analysis.data.manifest import read_manifest, verify_manifest
from analysis.data.paths import RAW_DIR


def test_shipped_raw_data_matches_manifest():
    assert verify_manifest() == []


def test_every_entry_has_source_licence_and_sha():
    man = read_manifest()
    assert len(man) >= 10
    assert man["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert (man["source"].str.len() > 10).all()
    assert (man["licence"].str.len() > 2).all()
    assert "LICENSE-census.txt" in set(man["path"])  # the MIT licence ships with the census


def _copy(tmp_path):
    dst = tmp_path / "raw"
    shutil.copytree(RAW_DIR, dst)
    for p in dst.rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    return dst


def test_changed_missing_and_undocumented_files_are_reported(tmp_path):
    raw = _copy(tmp_path)
    with open(raw / "bulletin_figures.csv", "a", encoding="utf-8") as f:
        f.write("x\n")
    (raw / "external" / "mpdta.csv").unlink()
    (raw / "stray.csv").write_text("a\n1\n")
    problems = verify_manifest(raw)
    text = "\n".join(problems)
    assert "bulletin_figures.csv has changed" in text
    assert "external/mpdta.csv is listed in the manifest but missing" in text
    assert "stray.csv is not in the manifest" in text
    assert len(problems) == 3
