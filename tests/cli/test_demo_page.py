"""``tconv demo`` writes a guided tour: sections that open with what they show, figures with
real captions, files that exist, colour up-scale crops beside bicubic, and tables that name
what was evaluated."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from tconv.cli import main
from tconv.cli.demo import SECTIONS


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.sections: list[dict] = []
        self.captions: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("img", "iframe") and a.get("src"):
            self.srcs.append(a["src"])
        if tag == "h2":
            self.sections.append({"id": a.get("id"), "title": "", "intro": ""})
            self._in = "title"
        elif tag == "p" and a.get("class") == "intro" and self.sections:
            self._in = "intro"
        elif tag == "figcaption":
            self.captions.append("")
            self._in = "caption"

    def handle_endtag(self, tag):
        if tag in ("h2", "p", "figcaption"):
            self._in = None

    def handle_data(self, data):
        if self._in in ("title", "intro"):
            self.sections[-1][self._in] += data
        elif self._in == "caption":
            self.captions[-1] += data


def _demo(out: Path, parts: str) -> _Page:
    assert main(["demo", "--out", str(out), "--only", parts]) == 0
    page = _Page()
    page.feed((out / "index.html").read_text(encoding="utf-8"))
    return page


def _check_page(page: _Page, out: Path, parts: list[str]) -> None:
    assert [s["id"] for s in page.sections] == parts
    for s in page.sections:
        assert s["title"].strip() == SECTIONS[s["id"]][0]
        assert 1 <= s["intro"].count(". ") + 1 <= 4 and len(s["intro"]) > 80, s
    for src in page.srcs:
        assert (out / src).is_file(), src
    assert page.captions
    for cap in page.captions:
        assert cap.strip() and not re.fullmatch(r"[\w./-]+\.(png|gif|txt|html)", cap.strip()), cap


def test_tour_without_torch_parts(tmp_path):
    pytest.importorskip("matplotlib")
    parts = ["explain", "checkerboard", "explore"]
    page = _demo(tmp_path, ",".join(parts))
    _check_page(page, tmp_path, parts)
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "[[122 148]" in text                     # the article's numbers, shown open
    assert "explorer.html" in " ".join(page.srcs)    # the explorer, embedded
    assert "http://" not in text and "https://" not in text


def test_upscale_part_colour_crops_and_table(tmp_path):
    pytest.importorskip("skimage")
    pil = pytest.importorskip("PIL.Image")
    page = _demo(tmp_path, "upscale")
    _check_page(page, tmp_path, ["upscale"])
    crops = {name: np.asarray(pil.open(tmp_path / "upscale" / f"colour_{name}_x2.png"))
             for name in ("original", "bicubic", "learned")}
    for name, img in crops.items():
        assert img.ndim == 3 and img.shape[2] == 3, name
        assert np.abs(img[..., 0].astype(int) - img[..., 2]).mean() > 5, name   # in colour
    err = {n: np.abs(crops[n].astype(float) - crops["original"]).mean()
           for n in ("bicubic", "learned")}
    assert err["learned"] < err["bicubic"]
    report = (tmp_path / "upscale" / "report.md").read_text()
    assert "Held-out: astronaut." in report          # the one photo the demo evaluates
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert text.count("colour_") == 3
