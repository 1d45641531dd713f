"""The README's API micro-reference runs, and the outputs its comments show are real."""

from __future__ import annotations

import pathlib

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _block() -> str:
    text = README.read_text()
    start = text.index("```python\nimport numpy as np, tconv") + len("```python\n")
    return text[start:text.index("```", start)]


def test_micro_reference_runs_and_comments_are_true():
    ns: dict = {}
    exec(compile(_block(), str(README), "exec"), ns)  # noqa: S102 - our own README
    tconv, x, w, C = ns["tconv"], ns["x"], ns["w"], ns["C"]
    y = tconv.conv_transpose(x, w)[0, 0]
    assert y.tolist() == [[1, 3, 3, 2], [4, 10, 10, 6], [4, 10, 10, 6], [3, 7, 7, 4]]
    assert C.shape == (4, 16) and C.nnz == 36
    np.testing.assert_allclose((C.T @ x.ravel()).reshape(4, 4), y)
    assert tconv.conv_transpose_output_size((2, 2), 3) == (4, 4)
    assert tconv.output_padding_for(4, 8, 3, stride=2, padding=1) == (1,)
    assert tconv.conv_transpose(x, w, stride=2, padding="same").shape == (1, 1, 4, 4)
    assert ns["gx"].tolist() == [[[[9, 9], [9, 9]]]]
    assert tconv.checkerboard.is_uneven(3, 2)
    # each value the comments print appears in the block
    block = _block()
    for shown in ("[[ 1.  3.  3.  2.] [ 4. 10. 10.  6.]", "(4, 16), 36 non-zeros", "(4, 4)",
                  "(1,)", "(1, 1, 4, 4)", "[[9, 9], [9, 9]]"):
        assert shown in block, shown
