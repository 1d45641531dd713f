"""The README's code runs and shows real outputs; its commands parse; its links resolve.

Python blocks written with ``>>>`` prompts run as doctests (each output compared); the other
Python blocks are executed. Every ``tconv ...`` line of a shell block must be accepted by the
command line's parser (the examples themselves run in tests/cli/test_help_examples.py).
"""

from __future__ import annotations

import doctest
import re
import shlex
from pathlib import Path

import pytest

from tconv.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", TEXT, flags=re.S)


def test_python_blocks_are_real(tmp_path, monkeypatch):
    blocks = _blocks("python")
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for i, block in enumerate(blocks):
        if "import torch" in block or "tconv.nn" in block:
            pytest.importorskip("torch")
        if ">>>" in block:
            test = parser.get_doctest(block, {}, f"README block {i}", str(README), 0)
            assert test.examples, block
            report: list[str] = []
            if runner.run(test, out=report.append).failed:
                pytest.fail("".join(report))
        else:
            exec(compile(block, f"README block {i}", "exec"), {})  # noqa: S102 - our own README


def _tconv_lines() -> list[str]:
    lines = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line.startswith("tconv "):
                lines.append(line)
    return lines


@pytest.mark.parametrize("line", _tconv_lines())
def test_shell_lines_parse(line):
    args = build_parser().parse_args(shlex.split(line)[1:])
    assert getattr(args, "func", None) is not None, line


def test_make_targets_exist():
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"^make (\w+)", TEXT, flags=re.M):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target


def test_relative_links_resolve():
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", TEXT):
        if "://" in target:
            continue
        assert (ROOT / target).exists(), target


def test_no_diary():
    """History lives in git and the CHANGELOG: no run letters, rounds, dates or commits."""
    for pattern in (r"\brun [A-Z]{1,2}\b", r"\bruns [A-Z]{1,2}\b", r"\bround(s)? of development",
                    r"\b20\d\d-\d\d-\d\d\b", r"\bcommit `?[0-9a-f]{7}", r"\bstop's\b",
                    r"\bthis stop\b"):
        assert not re.search(pattern, TEXT), pattern


def test_length():
    assert TEXT.count("\n") <= 300
