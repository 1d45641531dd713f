"""A self-contained, offline HTML page to explore (transposed) convolution geometry.

The page holds a JavaScript port of the library's shape arithmetic, validation messages and
convolution-matrix structure (:mod:`tconv.viz._explore_js`). The port is proven equal to the
library twice: the page embeds test vectors computed here by tconv and checks itself on load
(``#selfcheck``), and the browser tests compare it with tconv on many more configurations.
No network access: no CDN, no fonts, no images.
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
from ._explore_js import PORT_JS
from ._geometry import _op_matrix
from ._style import COLORS, LEGEND

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
        (``C`` or ``Cᵀ``), row-major -- from the library's own ops on one-hot inputs.
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
    """
    config = dict(config or {})
    fields = []
    for key, label, default in FIELDS:
        value = _text(config.get(key, default))
        fields.append(f'<label>{label}<input id="f-{key}" data-key="{key}" '
                      f'value="{html.escape(value)}" size="8" spellcheck="false"></label>')
    transposed = bool(config.get("transposed", False))
    vectors = [library_case(c, max_cells=64) for c in cases]
    css_vars = "".join(f"--{k.replace('_', '-')}:{v};" for k, v in COLORS.items())
    legend = "".join(f'<span class="key"><span class="sw {k}"></span>{html.escape(t)}</span>'
                     for k, t in LEGEND if k not in ("padding", "inserted", "zero_active"))
    return (_PAGE
            .replace("__TITLE__", html.escape(title))
            .replace("__VERSION__", __version__)
            .replace("__CSSVARS__", css_vars)
            .replace("__FIELDS__", "\n    ".join(fields))
            .replace("__CHECKED_CONV__", "" if transposed else "checked")
            .replace("__CHECKED_T__", "checked" if transposed else "")
            .replace("__LEGEND__", legend)
            .replace("__PORT__", PORT_JS)
            .replace("__VECTORS__", json.dumps(vectors, separators=(",", ":")).replace("</", "<\\/")))


_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
:root{__CSSVARS__}
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#111;max-width:1400px}
h1{font-size:20px;margin:0 0 8px}
#controls{display:flex;flex-wrap:wrap;gap:10px;align-items:end;margin-bottom:8px}
#controls label{display:flex;flex-direction:column;font-size:12px}
#controls input[type=text],#controls input:not([type]){font:13px monospace;padding:3px}
#call,#arith{font:13px monospace;white-space:pre-wrap;margin:4px 0}
#result{font-weight:bold}
#error{color:#a00000;background:#fff0f0;border:1px solid #e0a0a0;padding:6px;font:13px monospace;
  white-space:pre-wrap}
.hidden{display:none}
#panels{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start;margin-top:10px}
.panel h2{font-size:14px;margin:0 0 4px}
.grid{display:grid;gap:0;width:max-content}
.cell{width:34px;height:34px;box-sizing:border-box;border:1px solid var(--edge);font:10px monospace;
  display:flex;align-items:center;justify-content:center;cursor:pointer;user-select:none}
.g-in .cell{background:var(--input)} .g-out .cell{background:var(--output)}
.g-k .cell{background:var(--kernel);color:#fff;cursor:default}
.g-in .cell.src,.g-in .cell.hit{background:var(--input-active);color:#fff}
.g-out .cell.src,.g-out .cell.hit{background:var(--output-active);color:#fff}
.cell.src{outline:3px solid #f0a000;outline-offset:-3px}
#matrix{display:grid;gap:0;width:max-content;border:1px solid #888}
.m{width:18px;height:18px;box-sizing:border-box;border-right:1px solid #eee;border-bottom:1px solid #eee;
  font:8px monospace;display:flex;align-items:center;justify-content:center;cursor:pointer;background:#fff}
.m.nz{background:#c6dbef} .m.sel-row,.m.sel-col{background:#fff3c4} .m.nz.sel-row{background:var(--output-active);color:#fff}
.m.nz.sel-col{background:var(--input-active);color:#fff}
.m.blk-c{border-right:1px solid #888} .m.blk-r{border-bottom:1px solid #888}
#legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;margin:6px 0}
.sw{display:inline-block;width:14px;height:14px;border:1px solid #333;margin-right:4px;vertical-align:middle}
.sw.input{background:var(--input)}.sw.input_active{background:var(--input-active)}
.sw.output{background:var(--output)}.sw.output_active{background:var(--output-active)}
.sw.kernel{background:var(--kernel)}.sw.zero{background:#fff}
#info{min-height:2.8em;font:13px monospace;white-space:pre-wrap;background:#f6f6f6;padding:6px;margin-top:8px}
#selfcheck{font-size:12px;color:#555;margin-top:12px}
#selfcheck.fail{color:#a00000;font-weight:bold}
</style></head>
<body>
<h1>__TITLE__ <small style="font-weight:normal;font-size:12px">tconv __VERSION__ &middot; works offline</small></h1>
<div id="controls">
    <label>operation<span>
      <label style="display:inline"><input type="radio" name="mode" id="mode-conv" value="conv" __CHECKED_CONV__> conv</label>
      <label style="display:inline"><input type="radio" name="mode" id="mode-transpose" value="conv_transpose" __CHECKED_T__> conv_transpose</label></span></label>
    __FIELDS__
</div>
<div style="font-size:12px;color:#555">Fields take Python values: <code>3</code>, <code>2, 1</code> (a tuple),
<code>same</code> (a string). Hover or click a cell of the input, the output or the matrix.</div>
<div id="call"></div>
<div>output size: <span id="out-size"></span></div>
<div id="arith"></div>
<div id="error" class="hidden"></div>
<div id="legend">__LEGEND__</div>
<div id="panels">
  <div class="panel"><h2 id="h-in">input</h2><div id="grid-in" class="grid g-in"></div></div>
  <div class="panel"><h2 id="h-k">kernel</h2><div id="grid-k" class="grid g-k"></div></div>
  <div class="panel"><h2 id="h-out">output</h2><div id="grid-out" class="grid g-out"></div></div>
  <div class="panel"><h2 id="matrix-name">matrix</h2><div id="matrix"></div></div>
</div>
<div id="info"></div>
<div id="selfcheck"></div>
<script>
__PORT__
const VECTORS = __VECTORS__;
const MAX_GRID = 4096, MAX_MATRIX = 40000;

function parseField(text) {      // the page's text -> the Python value it stands for
  let t = text.trim();
  const inner = t.startsWith("(") && t.endsWith(")") ? t.slice(1, -1).trim() : t;
  if (/^-?\d+$/.test(inner)) return parseInt(inner, 10);
  if (/^-?\d+(\s*,\s*-?\d+)*\s*,?$/.test(inner))
    return inner.split(",").map(s => s.trim()).filter(s => s !== "").map(s => parseInt(s, 10));
  return text.trim();
}
function readParams() {
  const p = {transposed: document.getElementById("mode-transpose").checked};
  for (const el of document.querySelectorAll("#controls input[data-key]")) p[el.dataset.key] = parseField(el.value);
  return p;
}
const S = {g: null, entries: [], byRow: new Map(), byCol: new Map(), pinned: null};
const $ = id => document.getElementById(id);
const idxText = (i, shape) => TC.tup(TC.unravel(i, shape));
function tapName(t, k) {
  const idx = TC.unravel(t, k);
  return "w" + (k.every(v => v <= 10) ? idx.join("") : idx.join(","));
}
function grid2(shape) { return shape.length === 1 ? [1, shape[0]] : shape; }

function makeGrid(el, shape, kind, labels) {
  el.innerHTML = "";
  const [r, c] = grid2(shape);
  el.style.gridTemplateColumns = `repeat(${c}, 34px)`;
  for (let i = 0; i < r * c; i++) {
    const d = document.createElement("div");
    d.className = "cell"; d.dataset.idx = i;
    d.title = kind + " " + idxText(i, shape);
    if (labels) d.textContent = labels[i];
    if (kind !== "kernel") {
      d.addEventListener("mouseenter", () => show(kind, i));
      d.addEventListener("mouseleave", () => show(S.pinned && S.pinned[0], S.pinned && S.pinned[1]));
      d.addEventListener("click", () => { S.pinned = [kind, i]; show(kind, i); });
    }
    el.appendChild(d);
  }
}

function render() {
  const p = readParams();
  $("f-output_padding").disabled = !p.transposed;
  const fn = p.transposed ? "conv_transpose_output_size" : "conv_output_size";
  const args = p.transposed
    ? `${TC.fmt(p.input_size)}, ${TC.fmt(p.kernel_size)}, stride=${TC.fmt(p.stride)}, padding=${TC.fmt(p.padding)}, output_padding=${TC.fmt(p.output_padding)}, dilation=${TC.fmt(p.dilation)}`
    : `${TC.fmt(p.input_size)}, ${TC.fmt(p.kernel_size)}, stride=${TC.fmt(p.stride)}, padding=${TC.fmt(p.padding)}, dilation=${TC.fmt(p.dilation)}`;
  $("call").textContent = `tconv.${fn}(${args})`;
  let g;
  try { g = TC.resolve(p); }
  catch (e) {
    if (!(e instanceof TC.PyError)) throw e;
    S.g = null; $("error").textContent = `${e.pytype}: ${e.message}`; $("error").classList.remove("hidden");
    $("out-size").textContent = "error"; $("arith").textContent = "";
    for (const id of ["grid-in", "grid-k", "grid-out", "matrix"]) $(id).innerHTML = "";
    $("info").textContent = ""; $("matrix-name").textContent = "matrix";
    return;
  }
  $("error").classList.add("hidden"); $("error").textContent = "";
  S.g = g;
  $("out-size").textContent = TC.tup(g.outSize);
  $("arith").textContent = g.inSize.map((n, a) => {
    const [lo, hi] = g.pad[a], k = g.kernel[a], s = g.stride[a], d = g.dilation[a];
    return p.transposed
      ? `dim ${a}: (${n} - 1)*${s} - ${lo} - ${hi} + ${d}*(${k} - 1) + ${g.outputPadding[a]} + 1 = ${g.outSize[a]}`
      : `dim ${a}: floor((${n} + ${lo} + ${hi} - ${d}*(${k} - 1) - 1) / ${s}) + 1 = ${g.outSize[a]}`;
  }).join("\n");
  const nIn = TC.prod(g.inSize), nOut = TC.prod(g.outSize);
  $("h-in").textContent = `input ${g.inSize.join("x")}`;
  $("h-out").textContent = `output ${g.outSize.join("x")}`;
  $("h-k").textContent = `kernel ${g.kernel.join("x")}`;
  const name = g.transposed ? "C\u1d40" : "C";
  if (g.inSize.length > 2 || nIn > MAX_GRID || nOut > MAX_GRID) {
    for (const id of ["grid-in", "grid-k", "grid-out", "matrix"]) $(id).innerHTML = "";
    $("info").textContent = g.inSize.length > 2 ? "the page draws 1-D and 2-D configurations" : "too many cells to draw";
    $("matrix-name").textContent = `${name}: ${nOut}x${nIn}`;
    return;
  }
  S.entries = TC.entries(g);
  S.byRow = new Map(); S.byCol = new Map();
  for (const e of S.entries) {
    if (!S.byRow.has(e[0])) S.byRow.set(e[0], []); S.byRow.get(e[0]).push(e);
    if (!S.byCol.has(e[1])) S.byCol.set(e[1], []); S.byCol.get(e[1]).push(e);
  }
  makeGrid($("grid-in"), g.inSize, "input", null);
  makeGrid($("grid-out"), g.outSize, "output", null);
  makeGrid($("grid-k"), g.kernel, "kernel", Array.from({length: TC.prod(g.kernel)}, (_, t) => tapName(t, g.kernel)));
  $("matrix-name").textContent = `${name} (${nOut}x${nIn}), ${S.entries.length} non-zeros: rows = output cells, columns = input cells`;
  const m = $("matrix"); m.innerHTML = "";
  if (nIn * nOut <= MAX_MATRIX) {
    m.style.gridTemplateColumns = `repeat(${nIn}, 18px)`;
    const taps = new Map(S.entries.map(e => [e[0] * nIn + e[1], e[2]]));
    const inW = grid2(g.inSize)[1], outW = grid2(g.outSize)[1];
    const frag = document.createDocumentFragment();
    for (let r = 0; r < nOut; r++) for (let c = 0; c < nIn; c++) {
      const d = document.createElement("div");
      d.className = "m"; d.dataset.row = r; d.dataset.col = c;
      const t = taps.get(r * nIn + c);
      if (t !== undefined) { d.classList.add("nz"); d.textContent = tapName(t, g.kernel).slice(1); }
      if ((c + 1) % inW === 0) d.classList.add("blk-c");
      if ((r + 1) % outW === 0) d.classList.add("blk-r");
      d.title = `row ${r} = output ${idxText(r, g.outSize)}, column ${c} = input ${idxText(c, g.inSize)}` +
        (t !== undefined ? `, ${tapName(t, g.kernel)}` : ", 0");
      d.addEventListener("click", () => { S.pinned = ["output", r]; show("output", r); });
      frag.appendChild(d);
    }
    m.appendChild(frag);
  } else {
    m.textContent = `${name} is ${nOut}x${nIn}: too large to draw`;
  }
  if (S.pinned && S.pinned[1] >= (S.pinned[0] === "input" ? nIn : nOut)) S.pinned = null;
  show(S.pinned && S.pinned[0], S.pinned && S.pinned[1]);
}

function show(kind, i) {
  const g = S.g; if (!g) return;
  for (const el of document.querySelectorAll(".cell.src, .cell.hit, .m.sel-row, .m.sel-col")) {
    el.classList.remove("src", "hit", "sel-row", "sel-col");
    if (el.classList.contains("cell")) el.textContent = "";
  }
  if (kind === null || kind === undefined) { $("info").textContent = "hover or click a cell"; return; }
  const name = g.transposed ? "C\u1d40" : "C";
  const srcGrid = kind === "input" ? "grid-in" : "grid-out", dstGrid = kind === "input" ? "grid-out" : "grid-in";
  const list = (kind === "input" ? S.byCol.get(i) : S.byRow.get(i)) || [];
  const src = document.querySelector(`#${srcGrid} .cell[data-idx="${i}"]`); if (src) src.classList.add("src");
  const reached = [];
  for (const e of list) {
    const j = kind === "input" ? e[0] : e[1];
    const el = document.querySelector(`#${dstGrid} .cell[data-idx="${j}"]`);
    if (el) { el.classList.add("hit"); el.textContent = tapName(e[2], g.kernel); }
    reached.push(j);
  }
  const sel = kind === "input" ? `#matrix .m[data-col="${i}"]` : `#matrix .m[data-row="${i}"]`;
  for (const el of document.querySelectorAll(sel)) el.classList.add(kind === "input" ? "sel-col" : "sel-row");
  const shapeSrc = kind === "input" ? g.inSize : g.outSize, shapeDst = kind === "input" ? g.outSize : g.inSize;
  const verb = kind === "input" ? "reaches" : "reads";
  const line = kind === "input" ? `column ${i} of ${name}` : `row ${i} of ${name}`;
  const many = g.transposed === (kind === "input") ? "one-to-many" : "many-to-one";
  $("info").textContent = `${kind} cell ${idxText(i, shapeSrc)} = ${line}: ${verb} ${reached.length} ` +
    `${kind === "input" ? "output" : "input"} cells (${many})\n` +
    reached.map(j => idxText(j, shapeDst)).join(" ");
}

function selfCheck() {
  let bad = [];
  for (const v of VECTORS) {
    const got = TC.outputSize(v.params);
    let same = got.ok === v.ok && JSON.stringify(v.ok ? got.out : got.error) === JSON.stringify(v.ok ? v.out : v.error);
    if (same && v.entries) same = JSON.stringify(TC.entries(TC.resolve(v.params))) === JSON.stringify(v.entries);
    if (!same) bad.push(v);
  }
  const el = $("selfcheck");
  el.textContent = bad.length ? `SELF-CHECK FAILED: the JavaScript port disagrees with tconv on ${bad.length} of ${VECTORS.length} embedded configurations`
    : `self-check: the JavaScript port agrees with tconv __VERSION__ on all ${VECTORS.length} embedded configurations (output sizes, error messages, non-zeros of C)`;
  el.classList.toggle("fail", bad.length > 0);
  return bad;
}

for (const el of document.querySelectorAll("#controls input")) {
  el.addEventListener("input", render); el.addEventListener("change", render);
}
render(); selfCheck();
</script>
</body></html>
"""
