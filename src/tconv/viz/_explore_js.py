# ruff: noqa: E501  (the page's HTML, CSS and JavaScript keep their natural line lengths)
"""The explorer page's HTML and JavaScript: a port of tconv's shape arithmetic, validation messages
and convolution-matrix structure (``_checks.as_int_tuple``, ``as_padding_pairs``,
``shapes.conv_output_size``, ``shapes.conv_transpose_output_size``, ``matrix._pairs_1d``).

It is checked against the library on shared test vectors: ``tests/viz/test_explore_browser.py``
runs ``TC.outputSize`` / ``TC.entries`` in Chromium on configurations the library computed.
"""

PORT_JS = r"""
const TC = (() => {
  class PyError extends Error {
    constructor(type, message) { super(message); this.pytype = type; }
  }
  const isInt = v => typeof v === "number" && Number.isInteger(v);
  function typeName(v) {
    if (typeof v === "string") return "str";
    if (v === null || v === undefined) return "NoneType";
    if (typeof v === "boolean") return "bool";
    if (typeof v === "number") return isInt(v) ? "int" : "float";
    return "object";
  }
  function reprStr(s) {                          // Python repr() of a str
    const q = s.includes("'") && !s.includes('"') ? '"' : "'";
    let body = s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r")
      .replace(/\t/g, "\\t");
    if (q === "'") body = body.replace(/'/g, "\\'");
    return q + body + q;
  }
  function fmt(v) {                              // _checks.fmt / repr of ints and tuples
    if (typeof v === "string") return reprStr(v);
    if (Array.isArray(v)) return tup(v);
    if (v === null || v === undefined) return "None";
    if (typeof v === "boolean") return v ? "True" : "False";
    return String(v);
  }
  function tup(a) { return "(" + a.map(fmt).join(", ") + (a.length === 1 ? ",)" : ")"); }
  const VE = (m) => new PyError("ValueError", m);
  const TE = (m) => new PyError("TypeError", m);

  function asIntTuple(fn, name, value, ndim, minimum) {
    let out;
    if (isInt(value)) out = Array(ndim).fill(value);
    else if (Array.isArray(value)) {
      if (!value.every(isInt)) throw TE(`${fn}: ${name}=${fmt(value)} must be an int or a tuple of ints`);
      if (value.length === 1) out = Array(ndim).fill(value[0]);
      else if (value.length === ndim) out = value.slice();
      else throw VE(`${fn}: ${name}=${fmt(value)} must be a single int or a tuple of ${ndim} ints ` +
                    `to match the ${ndim} spatial dims`);
    } else {
      throw TE(`${fn}: ${name}=${fmt(value)} must be an int or a tuple of ints, not ${typeName(value)}`);
    }
    if (minimum !== null && out.some(v => v < minimum)) {
      const rule = minimum === 1 ? "positive" : `>= ${minimum}`;
      throw VE(`${fn}: ${name}=${fmt(value)} must be ${rule} in every spatial dim`);
    }
    return out;
  }

  function asPaddingPairs(fn, padding, ndim, strings) {
    if (typeof padding === "string") {
      const p = padding.toLowerCase();
      if (!strings.includes(p)) {
        const allowed = strings.map(reprStr).join(", ") || "none";
        throw VE(`${fn}: padding=${reprStr(padding)} is not a valid padding string; ` +
                 `allowed strings: ${allowed}`);
      }
      return p;
    }
    let pairs;
    if (Array.isArray(padding) && padding.length > 0 && padding.every(Array.isArray)) {
      if (padding.length !== ndim || !padding.every(p => p.length === 2))
        throw VE(`${fn}: padding=${fmt(padding)} given as (low, high) pairs must have ` +
                 `one pair per spatial dim (${ndim})`);
      if (!padding.every(p => p.every(isInt))) throw TE(`${fn}: padding=${fmt(padding)} pairs must hold ints`);
      pairs = padding.map(p => [p[0], p[1]]);
    } else {
      pairs = asIntTuple(fn, "padding", padding, ndim, null).map(p => [p, p]);
    }
    if (pairs.some(p => p[0] < 0 || p[1] < 0))
      throw VE(`${fn}: padding=${fmt(padding)} must be non-negative (negative padding is not supported)`);
    return pairs;
  }

  function dims(fn, inputSize) {                 // shapes._dims
    if (isInt(inputSize)) return [inputSize];
    if (!(typeof inputSize === "string" || Array.isArray(inputSize)))
      throw TE(`object of type '${typeName(inputSize)}' has no len()`);
    const size = asIntTuple(fn, "input_size", inputSize, inputSize.length, 1);
    if (size.length < 1 || size.length > 3)
      throw VE(`${fn}: input_size=${tup(size)} must have 1, 2 or 3 spatial dims`);
    return size;
  }
  const floorDiv = (a, b) => Math.floor(a / b);
  const zip = (...arrs) => arrs[0].map((_, i) => arrs.map(a => a[i]));

  // shapes.conv_output_size, plus the resolved geometry the page draws
  function convGeometry(inputSize, kernelSize, stride, padding, dilation) {
    const fn = "conv_output_size";
    const size = dims(fn, inputSize), nd = size.length;
    const k = asIntTuple(fn, "kernel_size", kernelSize, nd, 1);
    const s = asIntTuple(fn, "stride", stride, nd, 1);
    const d = asIntTuple(fn, "dilation", dilation, nd, 1);
    let pad = asPaddingPairs(fn, padding, nd, ["valid", "same"]);
    if (pad === "valid") pad = size.map(() => [0, 0]);
    else if (pad === "same") {
      if (s.some(v => v !== 1))
        throw VE(`${fn}: padding='same' is not supported for strided convolutions (stride=${tup(s)})`);
      pad = zip(k, d).map(([kk, dd]) => {
        const lo = floorDiv(dd * (kk - 1), 2); return [lo, dd * (kk - 1) - lo];
      });
      return {fn, transposed: false, inSize: size, outSize: size.slice(), kernel: k, stride: s,
              dilation: d, pad, outputPadding: size.map(() => 0)};
    }
    const out = size.map((i, a) => floorDiv(i + pad[a][0] + pad[a][1] - d[a] * (k[a] - 1) - 1, s[a]) + 1);
    if (out.some(o => o < 1)) {
      const reach = k.map((kk, a) => d[a] * (kk - 1) + 1);
      const padded = size.map((i, a) => i + pad[a][0] + pad[a][1]);
      throw VE(`${fn}: the dilated kernel dilation*(kernel-1)+1=${tup(reach)} does not fit in ` +
               `the padded input ${tup(padded)}`);
    }
    return {fn, transposed: false, inSize: size, outSize: out, kernel: k, stride: s, dilation: d,
            pad, outputPadding: size.map(() => 0)};
  }

  // shapes.conv_transpose_output_size -> _checks.conv_params(transposed=True)
  function convTransposeGeometry(inputSize, kernelSize, stride, padding, outputPadding, dilation) {
    const fn = "conv_transpose_output_size";
    const size = dims(fn, inputSize), nd = size.length;
    const k = asIntTuple(fn, "kernel_size", kernelSize, nd, 1);
    const s = asIntTuple(fn, "stride", stride, nd, 1);
    const d = asIntTuple(fn, "dilation", dilation, nd, 1);
    let pad = asPaddingPairs(fn, padding, nd, ["valid", "same", "same_lower"]);
    const op = asIntTuple(fn, "output_padding", outputPadding, nd, 0);
    const limit = s.map((v, a) => Math.max(v, d[a]));
    if (op.some((o, a) => o >= limit[a]))
      throw VE(`${fn}: output_padding=${tup(op)} must be smaller than max(stride, dilation)=` +
               `${tup(limit)} in every spatial dim`);
    if (typeof pad === "string") {
      if (op.some(o => o !== 0))
        throw VE(`${fn}: output_padding=${tup(op)} cannot be combined with padding=` +
                 `${reprStr(padding)}, which fixes the output size itself`);
      const mode = pad;
      pad = k.map((kk, a) => {
        if (mode === "valid") return [0, 0];
        // _checks._transposed_string_padding: a negative total appends zeros at one end
        const total = d[a] * (kk - 1) + 1 - s[a], small = floorDiv(Math.max(total, 0), 2);
        return mode === "same" ? [small, total - small] : [total - small, small];
      });
    }
    const out = size.map((i, a) => (i - 1) * s[a] - pad[a][0] - pad[a][1] + d[a] * (k[a] - 1) + op[a] + 1);
    if (out.some(o => o < 1))
      throw VE(`${fn}: output size ${tup(out)} is empty for input spatial size ${tup(size)}, ` +
               `kernel ${tup(k)}, stride ${tup(s)}, padding ${tup(pad)}, dilation ${tup(d)}, ` +
               `output_padding ${tup(op)}: the padding removes more than the full output ` +
               `(input-1)*stride + dilation*(kernel-1) + 1`);
    return {fn, transposed: true, inSize: size, outSize: out, kernel: k, stride: s, dilation: d,
            pad, outputPadding: op};
  }

  function resolve(p) {
    return p.transposed
      ? convTransposeGeometry(p.input_size, p.kernel_size, p.stride, p.padding, p.output_padding, p.dilation)
      : convGeometry(p.input_size, p.kernel_size, p.stride, p.padding, p.dilation);
  }

  // {ok, out} or {ok: false, error: [type, message]} -- what the test compares
  function outputSize(p) {
    try { return {ok: true, out: resolve(p).outSize}; }
    catch (e) { if (e instanceof PyError) return {ok: false, error: [e.pytype, e.message]}; throw e; }
  }

  function pairs1d(nIn, nOut, k, s, d, lo) {   // matrix._pairs_1d: valid (o, t, i)
    const res = [];
    for (let o = 0; o < nOut; o++)
      for (let t = 0; t < k; t++) {
        const i = o * s + t * d - lo;
        if (i >= 0 && i < nIn) res.push([o, t, i]);
      }
    return res;
  }
  const ravel = (idx, shape) => idx.reduce((acc, v, a) => acc * shape[a] + v, 0);
  const prod = a => a.reduce((x, y) => x * y, 1);

  // Non-zeros [row, col, tap] of M (C for conv, C^T for conv_transpose), row-major order
  function entries(g) {
    // C of the direct conv maps convIn -> convOut; conv_transpose reads it transposed
    const convIn = g.transposed ? g.outSize : g.inSize;
    const convOut = g.transposed ? g.inSize : g.outSize;
    const per = g.kernel.map((k, a) => pairs1d(convIn[a], convOut[a], k, g.stride[a], g.dilation[a], g.pad[a][0]));
    let combos = [[]];
    for (const list of per) combos = combos.flatMap(c => list.map(t => c.concat([t])));
    const res = combos.map(c => {
      const o = ravel(c.map(t => t[0]), convOut), t = ravel(c.map(x => x[1]), g.kernel);
      const i = ravel(c.map(x => x[2]), convIn);
      return g.transposed ? [i, o, t] : [o, i, t];
    });
    res.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return res;
  }

  function unravel(i, shape) {
    const out = Array(shape.length);
    for (let a = shape.length - 1; a >= 0; a--) { out[a] = i % shape[a]; i = Math.floor(i / shape[a]); }
    return out;
  }

  return {PyError, fmt, tup, asIntTuple, asPaddingPairs, convGeometry, convTransposeGeometry,
          resolve, outputSize, entries, ravel, unravel, prod};
})();
"""

#: the page; ``explorer_html`` fills the ``__NAME__`` placeholders
PAGE = r"""<!DOCTYPE html>
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
.cell.pad{background:#fff !important;border:1px dashed #888;cursor:default}
.cell.pad.padhit{background:var(--zero-active) !important}
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
.sw.padding{background:#fff;border-style:dashed}.sw.zero_active{background:var(--zero-active)}
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

// ring: per displayed dim [lo, hi] padding cells drawn dashed around the grid (no data)
function makeGrid(el, shape, kind, labels, ring) {
  el.innerHTML = "";
  const [r, c] = grid2(shape);
  const [[r0, r1], [c0, c1]] = ring || [[0, 0], [0, 0]];
  el.style.gridTemplateColumns = `repeat(${c + c0 + c1}, 34px)`;
  for (let pr = 0; pr < r + r0 + r1; pr++) for (let pc = 0; pc < c + c0 + c1; pc++) {
    const d = document.createElement("div");
    d.className = "cell";
    const rr = pr - r0, cc = pc - c0;
    if (rr < 0 || rr >= r || cc < 0 || cc >= c) {
      d.classList.add("pad"); d.dataset.pr = pr; d.dataset.pc = pc; d.title = "padding zero";
      el.appendChild(d);
      continue;
    }
    const i = rr * c + cc;
    d.dataset.idx = i;
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

// the padding ring (non-negative (lo, hi) per displayed dim) of the grid the direct conv reads:
// conv: its input; conv_transpose: its output (the crop of the full one-to-many output)
function ringOf(g) {
  // conv_transpose: output_padding re-extends the high side, so only hi - output_padding is cropped
  const pads = g.pad.map(([lo, hi], a) => [Math.max(lo, 0), Math.max(hi - g.outputPadding[a], 0)]);
  return pads.length === 1 ? [[0, 0], pads[0]] : pads;
}

// padding cells under the kernel window of the direct conv's output cell co
function markWindow(g, co) {
  const ring = ringOf(g);
  const convOut = g.transposed ? g.inSize : g.outSize;
  const pos = TC.unravel(co, convOut);
  const dims = pos.length === 1 ? [[0], pos] : [[pos[0]], [pos[1]]];
  const axes = pos.length === 1 ? [null, 0] : [0, 1];
  const rows = [], cols = [];
  [rows, cols].forEach((out, a) => {
    const ax = axes[a];
    if (ax === null) { out.push(0); return; }
    for (let t = 0; t < g.kernel[ax]; t++)
      out.push(dims[a][0] * g.stride[ax] + t * g.dilation[ax] - g.pad[ax][0] + ring[a][0]);
  });
  const grid = g.transposed ? "grid-out" : "grid-in";
  let n = 0;
  for (const pr of rows) for (const pc of cols) {
    const el = document.querySelector(`#${grid} .cell.pad[data-pr="${pr}"][data-pc="${pc}"]`);
    if (el) { el.classList.add("padhit"); n++; }
  }
  return n;
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
  makeGrid($("grid-in"), g.inSize, "input", null, g.transposed ? null : ringOf(g));
  makeGrid($("grid-out"), g.outSize, "output", null, g.transposed ? ringOf(g) : null);
  const ringed = ringOf(g).some(([lo, hi]) => lo + hi > 0);
  if (ringed) $(g.transposed ? "h-out" : "h-in").textContent +=
    g.transposed ? " (dashed: cropped by padding)" : " (dashed: padding)";
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
  for (const el of document.querySelectorAll(".cell.src, .cell.hit, .cell.padhit, .m.sel-row, .m.sel-col")) {
    el.classList.remove("src", "hit", "padhit", "sel-row", "sel-col");
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
  // the direct conv's output cell: conv output i, or conv_transpose input i
  const padHits = (kind === "output") !== g.transposed ? markWindow(g, i) : 0;
  const shapeSrc = kind === "input" ? g.inSize : g.outSize, shapeDst = kind === "input" ? g.outSize : g.inSize;
  const verb = kind === "input" ? "reaches" : "reads";
  const line = kind === "input" ? `column ${i} of ${name}` : `row ${i} of ${name}`;
  const many = g.transposed ? "one-to-many" : "many-to-one";
  $("info").textContent = `${kind} cell ${idxText(i, shapeSrc)} = ${line}: ${verb} ${reached.length} ` +
    `${kind === "input" ? "output" : "input"} cells (${many})\n` +
    reached.map(j => idxText(j, shapeDst)).join(" ") +
    (padHits ? `\n+ ${padHits} padding cells under the kernel (${g.transposed ? "cropped away" : "zeros"})` : "");
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

// text fields re-render while typing ("input"); a "change" on blur would rebuild the grids
// under the mouse and swallow the click that caused the blur
for (const el of document.querySelectorAll("#controls input[data-key]")) el.addEventListener("input", render);
for (const el of document.querySelectorAll("#controls input[type=radio]")) el.addEventListener("change", render);
render(); selfCheck();
</script>
</body></html>
"""
