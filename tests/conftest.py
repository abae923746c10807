"""Shared fixtures. Tests never write into the repository: outputs go to tmp_path."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("CI", "1")  # progress bars off in tests
