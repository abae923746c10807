"""Where the package finds its data: one place for every path."""

from __future__ import annotations

import os
from pathlib import Path

#: Repository root (the folder holding ``pyproject.toml``). Override with
#: ``ENCLAVE_ROOT`` to run the pipeline against another checkout.
REPO_ROOT = Path(os.environ.get("ENCLAVE_ROOT", Path(__file__).resolve().parents[2]))
DATA_DIR = REPO_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
PAPER_DIR = REPO_ROOT / "paper"
BUILD_DIR = REPO_ROOT / "build"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


def raw_path(*parts: str) -> Path:
    """Path of a shipped raw file, e.g. ``raw_path("external", "mpdta.csv")``."""
    return RAW_DIR.joinpath(*parts)
