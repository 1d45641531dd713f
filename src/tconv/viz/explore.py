"""A self-contained, offline HTML page to explore (transposed) convolution with numbers.

Input and kernel values are editable; the output, the matrix C or Cᵀ and five linked,
animated views are computed in the page: the scatter (one-to-many partial sums), zero
insertion (or the sliding window of conv) with its wasted multiplications, the matrix product,
the sub-pixel phases and the checkerboard overlap. The state lives in the URL hash; the text
is in English or Chinese.

The page holds a JavaScript port of the library's shape arithmetic, validation messages,
convolution-matrix structure and view numerics (:mod:`tconv.viz._explore_js`). The port is
proven equal to the library twice: the page embeds test vectors computed here by tconv and
checks itself on load (``#selfcheck``), and the browser tests compare it with tconv on many
more configurations. No network access: no CDN, no fonts, no images.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .. import __version__, _checks
from ..conv import conv, conv_transpose
from ..shapes import conv_output_size, conv_transpose_output_size
from ._explore_js import APP_JS, I18N_JS, NUM_JS, PAGE, PORT_JS
from ._geometry import _op_matrix
from ._style import COLORS

__all__ = ["explorer_html", "library_case", "DEFAULT_CASES", "FIELDS"]

#: the page's text fields: (JSON key, label, default value)
FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("input_size", "input size", (4, 4)),
    ("kernel_size", "kernel size", 3),
    ("stride", "stride", 1),
    ("padding", "padding", 0),
    ("dilation", "dilation", 1),
    ("output_padding", "output padding", 0),
)

#: configurations the page checks itself against on load (library results embedded)
DEFAULT_CASES: tuple[dict[str, Any], ...] = tuple(
    dict(transposed=t, input_size=i, kernel_size=k, stride=s, padding=p, dilation=d,
         output_padding=o)
    for t, i, k, s, p, d, o in [
        (False, (4, 4), 3, 1, 0, 1, 0), (True, (2, 2), 3, 1, 0, 1, 0),
        (False, (5, 5), 3, 2, 1, 1, 0), (True, (3, 3), 3, 2, 1, 1, 1),
        (True, (4, 4), 4, 2, 1, 1, 0), (True, (3, 2), (3, 2), (2, 3), (1, 0), (1, 2), (1, 0)),
        (False, (6, 5), 2, 1, "same", 2, 0), (True, (3, 3), 3, 2, "same", 1, 0),
        (True, (3, 3), 2, 3, "same_lower", 1, 0), (False, 7, 3, 2, 1, 1, 0),
        (True, 4, 3, 2, 0, 1, 1), (False, (2, 2), 3, 1, 0, 1, 0),
        (True, (2, 2), 3, 2, 0, 1, 2), (True, (2, 2), 3, 1, 2, 1, 0),
        (False, (4, 4), 3, 2, "same", 1, 0), (False, (4, 4), 0, 1, 0, 1, 0),
        (True, (4, 4), 3, 2, -1, 1, 0), (True, (4, 4), 3, 2, "same", 1, 1),
        (True, (4, 4), 3, (1, 2, 3), 0, 1, 0), (False, "4x4", 3, 1, 0, 1, 0),
        (True, (4, 4), 3, 1, "full", 1, 0), (False, (1, 2, 3, 4), 1, 1, 0, 1, 0),
        (True, (2, 3), 3, 1, 0, 3, 2), (False, (4, 4, 4), 3, 1, 0, 1, 0),
    ])


def _py(value: Any) -> Any:
    """JSON value -> the Python value the page's text stands for (lists become tuples)."""
    if isinstance(value, list):
        return tuple(_py(v) for v in value)
    return value


def _js(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_js(v) for v in value]
    return value


def library_case(params: Mapping[str, Any], max_cells: int = 4096) -> dict[str, Any]:
    """What tconv says about one page configuration: output size or error, and M's non-zeros.

    Args:
        params: ``transposed`` and the :data:`FIELDS` keys, JSON values (int, list, str).
        max_cells: skip the matrix above this many input or output cells.

    Returns:
        ``{"params", "ok", "out"}`` or ``{"params", "ok": False, "error": [type, message]}``;
        valid cases also get ``"entries"``: ``[row, col, tap]`` of every non-zero of ``M``
        (``C`` or ``Cᵀ``), row-major -- from the library's own ops on one-hot inputs -- and
        ``"y"``: the flat output for the input ``x_i = i % 4 + 1`` and the kernel
        ``w_t = t % 3 + 1`` (small integers, so the page must match exactly).

    Examples:
        >>> case = library_case(dict(transposed=True, input_size=[2, 2], kernel_size=3,
        ...                          stride=1, padding=0, dilation=1, output_padding=0))
        >>> case["out"], len(case["entries"]), case["entries"][:2]
        ([4, 4], 36, [[0, 0, 0], [1, 0, 1]])
        >>> bad = library_case(dict(transposed=True, input_size=2, kernel_size=3, stride=2,
        ...                         padding=0, dilation=1, output_padding=2))
        >>> print(bad["error"][0], bad["error"][1][:68])
        ValueError conv_transpose_output_size: output_padding=(2,) must be smaller than
    """
    p = {k: _py(v) for k, v in params.items()}
    case: dict[str, Any] = {"params": {k: _js(v) for k, v in params.items()}}
    try:
        if p["transposed"]:
            out = conv_transpose_output_size(p["input_size"], p["kernel_size"], p["stride"],
                                             p["padding"], p["output_padding"], p["dilation"])
        else:
            out = conv_output_size(p["input_size"], p["kernel_size"], p["stride"],
                                   p["padding"], p["dilation"])
    except (ValueError, TypeError) as exc:
        case.update(ok=False, error=[type(exc).__name__, str(exc)])
        return case
    case.update(ok=True, out=list(out))
    size = (p["input_size"],) if isinstance(p["input_size"], int) else p["input_size"]
    if max(np.prod(size), np.prod(out)) <= max_cells:
        k = _checks.as_int_tuple("explore", "kernel_size", p["kernel_size"], len(size))
        kw: dict[str, Any] = dict(stride=p["stride"], padding=p["padding"],
                                  dilation=p["dilation"])
        if p["transposed"]:
            kw["output_padding"] = p["output_padding"]
        ramp = np.arange(1, int(np.prod(k)) + 1, dtype=np.float64).reshape(k)
        taps = np.rint(_op_matrix(conv_transpose if p["transposed"] else conv, ramp,
                                  tuple(size), **kw)).astype(np.int64) - 1
        rows, cols = np.nonzero(taps >= 0)
        case["entries"] = [[int(r), int(c), int(taps[r, c])] for r, c in zip(rows, cols)]
        x = (np.arange(int(np.prod(size))) % 4 + 1).astype(np.float64).reshape(1, 1, *size)
        w = (np.arange(int(np.prod(k))) % 3 + 1).astype(np.float64).reshape(1, 1, *k)
        y = (conv_transpose if p["transposed"] else conv)(x, w, **kw)
        case["y"] = [int(v) for v in np.rint(y).ravel()]
    return case


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


def explorer_html(config: Mapping[str, Any] | None = None, *,
                  cases: Iterable[Mapping[str, Any]] = DEFAULT_CASES,
                  title: str = "tconv explorer") -> str:
    """The explorer page as one HTML string (write it to a ``.html`` file or serve it).

    Args:
        config: initial values: ``transposed`` and any :data:`FIELDS` key (Python values).
        cases: configurations whose library results are embedded for the page's self-check.
        title: page title.

    Returns:
        A complete HTML document with inline CSS and JavaScript, no external resources.

    Examples:
        >>> page = explorer_html({"transposed": True, "input_size": (2, 2)})
        >>> page.startswith("<!DOCTYPE html>"), "https://" in page, "<script src" in page
        (True, False, False)
    """
    config = dict(config or {})
    fields = []
    for key, label, default in FIELDS:
        value = _text(config.get(key, default))
        fields.append(f'<label class="f"><span data-i18n="{key}">{label}</span>'
                      f'<input id="f-{key}" data-key="{key}" value="{html.escape(value)}" '
                      f'size="9" spellcheck="false"></label>')
    transposed = bool(config.get("transposed", False))
    vectors = [library_case(c, max_cells=64) for c in cases]
    css_vars = "".join(f"--{k.replace('_', '-')}:{v};" for k, v in COLORS.items())
    data = json.dumps(vectors, separators=(",", ":")).replace("</", "<\\/")  # no </script>
    return (PAGE
            .replace("__TITLE__", html.escape(title))
            .replace("__VERSION__", __version__)
            .replace("__CSSVARS__", css_vars)
            .replace("__FIELDS__", "\n    ".join(fields))
            .replace("__CHECKED_CONV__", "" if transposed else "checked")
            .replace("__CHECKED_T__", "checked" if transposed else "")
            .replace("__PORT__", PORT_JS)
            .replace("__NUM__", NUM_JS)
            .replace("__I18N__", I18N_JS)
            .replace("__APP__", APP_JS)
            .replace("__VECTORS__", data))
