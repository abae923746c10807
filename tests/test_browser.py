"""The real-browser check fails on what a reader would see broken (headless Chromium)."""

from __future__ import annotations

import pytest

from analysis.report.browser import check_pages, find_chromium, main

pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="chromium not installed (make check-browser installs it)"
)

_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title></head>'
    '<body><h1 id="top">t</h1>{body}</body></html>'
)


def test_clean_page_passes_and_broken_image_fails(tmp_path):
    # a valid 1x1 PNG
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    (tmp_path / "ok.png").write_bytes(png)
    (tmp_path / "other.html").write_text(_PAGE.format(body=""), encoding="utf-8")
    good = tmp_path / "good.html"
    good.write_text(
        _PAGE.format(
            body='<img src="ok.png" alt="ok"><a href="other.html">o</a><a href="#top">t</a>'
        ),
        encoding="utf-8",
    )
    bad = tmp_path / "bad.html"
    bad.write_text(
        _PAGE.format(
            body='<img src="missing.png" alt="x"><a href="gone.html">g</a>'
            '<script>console.error("deliberate")</script>'
        ),
        encoding="utf-8",
    )
    res = check_pages([good, bad], timeout=60)
    assert res[str(good)] == []
    problems = res[str(bad)]
    assert any(p.startswith("broken image: missing.png") for p in problems)
    assert any("gone.html" in p for p in problems)
    assert any("deliberate" in p for p in problems)
    assert main([str(bad)]) == 1
    assert main([str(tmp_path / "absent.html")]) == 2
