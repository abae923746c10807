"""The manifest of ``data/raw``: source, licence and sha256 of every raw file.

``data/raw/MANIFEST.csv`` is curated by hand (source, licence, description)
and its ``sha256``/``bytes`` columns are filled by :func:`update_manifest`.
:func:`verify_manifest` (``enclave data check``) fails when a file is missing,
changed, or present but undocumented. Raw files are immutable: a changed
checksum is an error, never silently refreshed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from analysis.data.paths import RAW_DIR

MANIFEST_NAME = "MANIFEST.csv"
COLUMNS = ["path", "sha256", "bytes", "source", "licence", "description"]
#: Files in data/raw that document the folder rather than being data.
_DOC_FILES = {MANIFEST_NAME, "README.md", "CURATION.md", "registry/README.md", "yearbook/README.md"}
UNDOCUMENTED = "UNDOCUMENTED"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def raw_files(raw_dir: Path = RAW_DIR) -> list[str]:
    """Data files under ``raw_dir`` (relative POSIX paths), documentation excluded."""
    out = []
    for p in sorted(raw_dir.rglob("*")):
        rel = p.relative_to(raw_dir).as_posix()
        if p.is_file() and rel not in _DOC_FILES and not p.name.startswith("."):
            out.append(rel)
    return out


def read_manifest(raw_dir: Path = RAW_DIR) -> pd.DataFrame:
    path = raw_dir / MANIFEST_NAME
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path, dtype={"bytes": "Int64"}, keep_default_na=False)


def verify_manifest(raw_dir: Path = RAW_DIR) -> list[str]:
    """Every problem with ``data/raw`` against its manifest, in plain words."""
    man = read_manifest(raw_dir)
    problems: list[str] = []
    if man.empty:
        return [f"{raw_dir / MANIFEST_NAME} is missing or empty"]
    listed = set(man["path"])
    for rel in raw_files(raw_dir):
        if rel not in listed:
            problems.append(
                f"data/raw/{rel} is not in the manifest (add its source, licence and checksum)"
            )
    for row in man.itertuples(index=False):
        p = raw_dir / row.path
        if not p.exists():
            problems.append(f"data/raw/{row.path} is listed in the manifest but missing")
            continue
        if not row.source or row.source == UNDOCUMENTED or not row.licence:
            problems.append(f"data/raw/{row.path} has no documented source or licence")
        digest = sha256(p)
        if digest != row.sha256:
            problems.append(
                f"data/raw/{row.path} has changed: sha256 {digest[:12]}... != manifest {str(row.sha256)[:12]}..."
            )
    return problems


def update_manifest(raw_dir: Path = RAW_DIR) -> pd.DataFrame:
    """Fill checksums and sizes; add new files as UNDOCUMENTED (maintainer tool).

    Written atomically (temporary file then rename).
    """
    man = (
        read_manifest(raw_dir).set_index("path")
        if (raw_dir / MANIFEST_NAME).exists()
        else pd.DataFrame(columns=COLUMNS).set_index("path")
    )
    rows = []
    for rel in raw_files(raw_dir):
        p = raw_dir / rel
        meta = man.loc[rel] if rel in man.index else None
        rows.append(
            {
                "path": rel,
                "sha256": sha256(p),
                "bytes": p.stat().st_size,
                "source": meta["source"] if meta is not None else UNDOCUMENTED,
                "licence": meta["licence"] if meta is not None else "",
                "description": meta["description"] if meta is not None else "",
            }
        )
    out = pd.DataFrame(rows, columns=COLUMNS)
    tmp = raw_dir / (MANIFEST_NAME + ".tmp")
    out.to_csv(tmp, index=False, lineterminator="\n")
    tmp.replace(raw_dir / MANIFEST_NAME)
    return out
