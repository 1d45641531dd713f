"""``tconv explain``: the output_padding reason, the overlap verdict, Chinese text, and clear
argument errors (argparse's usage line and exit status 2, before any matrix is built)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

import tconv
from tconv import checkerboard
from tconv.cli import main
from tconv.cli.explain import MAX_SIDE, walkthrough

# a seeded population of configurations: sizes, kernels, strides, paddings, dilations
_RNG = np.random.default_rng(5)
CONFIGS = []
while len(CONFIGS) < 24:
    size = tuple(int(v) for v in _RNG.integers(2, 9, 2))
    k = tuple(int(v) for v in _RNG.integers(1, 5, 2))
    s = tuple(int(v) for v in _RNG.integers(1, 4, 2))
    p = tuple(int(v) for v in _RNG.integers(0, 2, 2))
    d = tuple(int(v) for v in _RNG.integers(1, 3, 2))
    try:
        tconv.conv_output_size(size, k, s, p, d)
    except ValueError:
        continue
    CONFIGS.append((size, k, s, p, d))


@pytest.mark.parametrize("cfg", CONFIGS)
def test_output_padding_and_overlap_are_explained(cfg):
    size, k, s, p, d = cfg
    text = walkthrough(size, k, s, p, d)
    out = tconv.conv_output_size(size, k, s, p, d)
    op = tconv.output_padding_for(out, size, k, s, p, d)
    step = re.search(r"\n11\. output_padding=(\(\d+, \d+\)): (.*)\n", text)
    assert step and step.group(1) == str(op)
    if any(op):
        base = tconv.conv_transpose_output_size(out, k, s, p, 0, d)
        assert f"= {base} without it" in step.group(2) and "floor division" in step.group(2)
    else:
        assert "no output_padding is needed" in step.group(2)
    counts = " x ".join(str(checkerboard.overlap_map(kk, ss, dd, ndim=1).tolist())
                        for kk, ss, dd in zip(k, s, d))
    assert f"taps per phase in each dim: {counts}." in text
    uneven = checkerboard.is_uneven(k, s, d)
    assert ("The overlap is UNEVEN" in text) == uneven
    assert ("The overlap is even" in text) == (not uneven)
    assert text.count("True") == 3


def test_article_example_even_and_k3_s2_uneven():
    assert "The overlap is even" in walkthrough()
    text = walkthrough((5, 5), (3, 3), (2, 2), (1, 1))
    assert "UNEVEN (k=3 is not a multiple of stride=2)" in text
    assert "output_padding=(0, 0)" in text
    text = walkthrough((6, 6), (3, 3), (2, 2), (1, 1))
    assert "output_padding=(1, 1): conv_transpose of a 3x3 input gives" in text


def test_chinese_uses_the_article_terms(capsys):
    assert main(["explain", "--lang", "zh", "--input-size", "6", "--stride", "2",
                 "--padding", "1"]) == 0
    text = capsys.readouterr().out
    for term in ("转置卷积", "卷积矩阵", "棋盘效应", "一对多", "多对一", "摊平", "插入"):
        assert term in text, term
    assert "output_padding=(1, 1)：" in text and "重叠不均匀" in text
    # the numbers are the English walk-through's
    en = walkthrough((6, 6), (3, 3), (2, 2), (1, 1))
    nums = lambda t: re.findall(r"\[[-\d\s\[\]]+\]", t)  # noqa: E731
    assert nums(text) == nums(en)


def test_english_is_the_default(capsys):
    assert main(["explain"]) == 0
    assert "== Convolution: 4x4 input" in capsys.readouterr().out
    with pytest.raises(ValueError, match="lang='fr'"):
        walkthrough(lang="fr")


@pytest.mark.parametrize("flag,value,rule", [
    ("--input-size", "500", f"must be in [1, {MAX_SIDE}]; the walk-through prints"),
    ("--input-size", "-1", f"'-1' must be in [1, {MAX_SIDE}]"),
    ("--input-size", "0,4", f"'0,4' must be in [1, {MAX_SIDE}]"),
    ("--input-size", "4,4,4", "expected N or H,W"),
    ("--input-size", "four", "expected N or H,W (integers)"),
    ("--kernel-size", "100000", f"must be in [1, {MAX_SIDE}]"),
    ("--stride", "0", f"'0' must be in [1, {MAX_SIDE}]"),
    ("--padding", "-2", f"'-2' must be in [0, {MAX_SIDE}]"),
    ("--lang", "fr", "invalid choice: 'fr'"),
])
def test_bad_arguments_are_argparse_errors(capsys, flag, value, rule):
    with pytest.raises(SystemExit) as exc:
        main(["explain", flag, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: tconv explain")
    assert f"argument {flag}: " in err and rule in err
    assert "Traceback" not in err and "MemoryError" not in err


def test_largest_allowed_size_runs(capsys):
    """32x32 with a 3x3 kernel: the full walk-through, C of 900 x 1024."""
    assert main(["explain", "--input-size", "32", "--stride", "1"]) == 0
    assert "C (900x1024)" in capsys.readouterr().out


def test_every_line_translated():
    from tconv.cli.explain import TEXT
    assert TEXT["en"].keys() == TEXT["zh"].keys()
    for key, en in TEXT["en"].items():
        fields = lambda t: sorted(set(re.findall(r"\{(\w+)", t)))  # noqa: E731
        assert fields(en) == fields(TEXT["zh"][key]), key
    assert list(itertools.islice(TEXT, 2)) == ["en", "zh"]
