# ruff: noqa: E501  (the page's HTML, CSS and JavaScript keep their natural line lengths)
"""The explorer page's HTML and JavaScript.

``PORT_JS`` (``TC``) ports tconv's shape arithmetic, validation messages and convolution-matrix
structure (``_checks.as_int_tuple``, ``as_padding_pairs``, ``shapes.conv_output_size``,
``shapes.conv_transpose_output_size``, ``matrix._pairs_1d``). ``NUM_JS`` (``EX``) computes the
numbers of every view from it: ``y = M @ x`` over M's non-zeros, the scatter's partial sums,
the zero-inserted (or padded) grid and its sliding window, the stride^d output phases
(``_algorithms.phase.phase_taps``), the checkerboard overlap (``checkerboard.overlap_map``,
``is_uneven``) and the constant-input responses of conv_transpose, resize-conv and pixel
shuffle + ICNR. ``APP_JS`` draws them on canvases; ``I18N_JS`` holds the English and Chinese
text.

All of it is checked against the library: ``tests/viz/test_explore_browser.py`` runs ``TC`` and
``EX`` in Chromium on seeded configurations the library computed.
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

  function intSequence(fn, name, value) {       // _checks.int_sequence
    if (isInt(value)) return [value];
    if (Array.isArray(value)) {
      if (!value.every(isInt)) throw TE(`${fn}: ${name}=${fmt(value)} must be an int or a tuple of ints`);
      return value.slice();
    }
    throw TE(`${fn}: ${name}=${fmt(value)} must be an int or a tuple of ints, not ${typeName(value)}`);
  }
  const MAX_ELEMENTS = 2 ** 31;
  const magnitude = v => isInt(v) ? Math.abs(v) : Array.isArray(v) ? Math.max(0, ...v.map(magnitude)) : 0;
  function checkElements(fn, what, shape, args) {  // _checks.check_elements
    const count = shape.reduce((p, v) => p * BigInt(Math.max(v, 1)), 1n);   // exact, as Python
    if (count <= BigInt(MAX_ELEMENTS)) return;
    const named = args.map((kv, i) => [kv, i]).sort((a, b) => magnitude(b[0][1]) - magnitude(a[0][1]) || a[1] - b[1])
      .map(([[k, v]]) => `${k}=${fmt(v)}`).join(", ");
    // short(): 10**300 as 1e+300 (Python's f"{float(v):.3g}" from 10**15 up)
    const short = v => {
      if ((typeof v === "bigint" ? (v < 0n ? -v : v) : Math.abs(v)) < 10 ** 15) return String(v);
      const [m, e] = Number(v).toExponential(2).split("e");
      const mant = m.replace(/\.?0+$/, ""), ex = parseInt(e, 10);
      return `${mant}e${ex < 0 ? "-" : "+"}${String(Math.abs(ex)).padStart(2, "0")}`;
    };
    const shown = "(" + shape.map(short).join(", ") + (shape.length === 1 ? "," : "") + ")";
    throw VE(`${fn}: ${named} give ${what} of shape ${shown}, ${short(count)} numbers, more than ` +
             `the limit of ${MAX_ELEMENTS} (tconv.MAX_ELEMENTS) numbers in one array`);
  }
  function dims(fn, inputSize) {                 // shapes._dims
    const size = intSequence(fn, "input_size", inputSize);
    if (size.some(v => v < 1)) throw VE(`${fn}: input_size=${fmt(inputSize)} must be positive in every spatial dim`);
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
    checkElements(fn, "a padded input", size.map((i, a) => i + pad[a][0] + pad[a][1]),
                  [["input_size", inputSize], ["padding", padding]]);
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
                 `${reprStr(pad)}, which fixes the output size itself`);
      const mode = pad;
      pad = k.map((kk, a) => {
        if (mode === "valid") return [0, 0];
        // _checks._transposed_string_padding: a negative total appends zeros at one end
        const total = d[a] * (kk - 1) + 1 - s[a], small = floorDiv(Math.max(total, 0), 2);
        return mode === "same" ? [small, total - small] : [total - small, small];
      });
    }
    const out = size.map((i, a) => (i - 1) * s[a] - pad[a][0] - pad[a][1] + d[a] * (k[a] - 1) + op[a] + 1);
    const sizeArgs = [["stride", stride], ["padding", padding], ["output_padding", outputPadding], ["dilation", dilation]];
    checkElements(fn, "an uncropped output", [1, 1, ...size.map((i, a) => (i - 1) * s[a] + d[a] * (k[a] - 1) + 1)], sizeArgs);
    checkElements(fn, "an output", [1, 1, ...out], sizeArgs);
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


#: the numbers of every view (``EX``)
NUM_JS = r"""
// EX: the numbers of every view, computed from the port's geometry (TC.resolve) and M's
// non-zeros (TC.entries). x, w: flat row-major arrays of the input and kernel values.
const EX = (() => {
  const prod = TC.prod, ravel = TC.ravel, unravel = TC.unravel;
  const mod = (a, b) => ((a % b) + b) % b;
  const gcd = (a, b) => (b === 0 ? a : gcd(b, a % b));
  const zeros = n => new Array(n).fill(0);
  function combos(lists) {          // cartesian product, last list fastest (row-major)
    let out = [[]];
    for (const l of lists) out = out.flatMap(c => l.map(v => c.concat([v])));
    return out;
  }
  // y = M @ x: conv (M = C) or conv_transpose (M = C^T)
  function forward(g, x, w, ents) {
    const y = zeros(prod(g.outSize));
    for (const [r, c, t] of ents || TC.entries(g)) y[r] += w[t] * x[c];
    return y;
  }
  // scatter (one-to-many): after `step` inputs each added x_i * (column i of M)
  function scatter(g, x, w, step, ents) {
    const y = zeros(prod(g.outSize));
    for (const [r, c, t] of ents || TC.entries(g)) if (c < step) y[r] += w[t] * x[c];
    return y;
  }
  // the values of M as [row, column, value]
  function matrix(g, w, ents) { return (ents || TC.entries(g)).map(([r, c, t]) => [r, c, w[t]]); }

  // The direct convolution the op is: conv slides w with stride s over the padded input;
  // conv_transpose slides the flipped w with stride 1 over the zero-inserted input, padded by
  // dilation*(k-1) - crop (+ output_padding on the high side; negative = cropped).
  // kind: 0 data, 1 inserted zero, 2 padding zero
  function sliding(g, x, w) {
    const T = g.transposed, nd = g.inSize.length;
    const up = T ? g.inSize.map((n, a) => (n - 1) * g.stride[a] + 1) : g.inSize.slice();
    const pad = T ? g.kernel.map((k, a) => [g.dilation[a] * (k - 1) - g.pad[a][0],
                                            g.dilation[a] * (k - 1) - g.pad[a][1] + g.outputPadding[a]])
                  : g.pad.map(p => p.slice());
    const shape = up.map((n, a) => n + pad[a][0] + pad[a][1]);
    const N = prod(shape), kind = zeros(N), values = zeros(N), source = new Array(N).fill(-1);
    for (let G = 0; G < N; G++) {
      const idx = unravel(G, shape), src = [];
      let k = 0;
      for (let a = 0; a < nd; a++) {
        const u = idx[a] - pad[a][0];
        if (u < 0 || u >= up[a]) { k = 2; break; }
        if (T && u % g.stride[a]) k = 1;
        src.push(T ? u / g.stride[a] : u);
      }
      kind[G] = k;
      if (k === 0) { source[G] = ravel(src, g.inSize); values[G] = x[source[G]]; }
    }
    const K = prod(g.kernel);
    const kernel = T ? w.slice(0, K).reverse() : w.slice(0, K);   // flipping every dim = reversing
    const step = T ? g.kernel.map(() => 1) : g.stride.slice();
    const nOut = prod(g.outSize), y = zeros(nOut), wasted = zeros(nOut);
    const tapIdx = [];
    for (let t = 0; t < K; t++) tapIdx.push(unravel(t, g.kernel));
    const window = o => {           // grid cells under the kernel for output o, tap order
      const oi = unravel(o, g.outSize);
      return tapIdx.map(ti => ravel(oi.map((v, a) => v * step[a] + ti[a] * g.dilation[a]), shape));
    };
    for (let o = 0; o < nOut; o++) {
      const cells = window(o);
      for (let t = 0; t < K; t++) {
        y[o] += values[cells[t]] * kernel[t];
        if (kind[cells[t]] !== 0) wasted[o]++;
      }
    }
    return {shape, kind, values, source, pad, kernel, step, y, wasted, macs: K, window};
  }

  // taps of output phase r in one dim (phase.phase_taps): t with (r + lo - t*d) % s == 0 and
  // their input offset c = (r + lo - t*d) / s:  y[q*s + r] = sum_t x[q + c_t] * w[t]
  function phaseTaps(r, k, s, d, lo) {
    const taps = [];
    for (let t = 0; t < k; t++) {
      const num = r + lo - t * d;
      if (mod(num, s) === 0) taps.push([t, Math.round(num / s)]);
    }
    return taps;
  }
  // conv_transpose as prod(stride) small dense convolutions, one per output phase, interleaved
  function phases(g, x, w) {
    if (!g.transposed) return null;
    const nd = g.inSize.length, out = g.outSize;
    const perDim = g.stride.map((s, a) => Array.from({length: s}, (_, r) => ({
      r, taps: phaseTaps(r, g.kernel[a], s, g.dilation[a], g.pad[a][0]),
      nq: r < out[a] ? Math.ceil((out[a] - r) / s) : 0})));
    const y = zeros(prod(out));
    const list = combos(perDim).map(dimsOf => {
      const r = dimsOf.map(p => p.r), nq = dimsOf.map(p => p.nq);
      const kshape = dimsOf.map(p => p.taps.length);
      const taps = combos(dimsOf.map(p => p.taps)).map(c => [ravel(c.map(v => v[0]), g.kernel), c.map(v => v[1])]);
      const n = prod(nq), values = zeros(n), where = zeros(n);
      for (let q = 0; q < n; q++) {
        const qi = unravel(q, nq);
        for (const [t, off] of taps) {
          const ii = qi.map((v, a) => v + off[a]);
          if (ii.every((v, a) => v >= 0 && v < g.inSize[a])) values[q] += x[ravel(ii, g.inSize)] * w[t];
        }
        where[q] = ravel(qi.map((v, a) => v * g.stride[a] + r[a]), out);
        y[where[q]] = values[q];
      }
      return {r, nq, kshape, taps, values, where};
    });
    return {phases: list, y, nd};
  }

  // stride-1 "same" correlation with zero padding (lo = floor(d*(k-1)/2), as tconv.conv)
  function convSame(x, shape, w, k, d) {
    const n = prod(shape), K = prod(k), y = zeros(n);
    for (let o = 0; o < n; o++) {
      const oi = unravel(o, shape);
      for (let t = 0; t < K; t++) {
        const ti = unravel(t, k);
        const ii = oi.map((v, a) => v + ti[a] * d[a] - Math.floor(d[a] * (k[a] - 1) / 2));
        if (ii.every((v, a) => v >= 0 && v < shape[a])) y[o] += x[ravel(ii, shape)] * w[t];
      }
    }
    return y;
  }
  function nearest(x, shape, s) {     // nearest up-sampling by s (= pixel shuffle of s^d copies)
    const big = shape.map((n, a) => n * s[a]), y = zeros(prod(big));
    for (let o = 0; o < y.length; o++)
      y[o] = x[ravel(unravel(o, big).map((v, a) => Math.floor(v / s[a])), shape)];
    return {values: y, shape: big};
  }

  // The checkerboard: taps per phase (overlap), the even/uneven rule, the overlap count and the
  // response to a constant input of every cell of the up-sampled side, and what resize-conv and
  // pixel shuffle + ICNR make of the same constant input with the same kernel.
  function checker(g, w, ents) {
    ents = ents || TC.entries(g);
    const T = g.transposed;
    const big = T ? g.outSize : g.inSize, small = T ? g.inSize : g.outSize;
    const counts = g.kernel.map((k, a) => {
      const c = zeros(g.stride[a]);
      for (let t = 0; t < k; t++) c[(t * g.dilation[a]) % g.stride[a]]++;
      return c;
    });
    const overlap = combos(counts).map(c => c.reduce((p, v) => p * v, 1));
    const unevenDims = g.kernel.map((k, a) => g.stride[a] > 1 &&
      (gcd(g.dilation[a], g.stride[a]) > 1 || k % g.stride[a] !== 0));
    const count = zeros(prod(big)), constant = zeros(prod(big));
    for (const [r, c, t] of ents) { const i = T ? r : c; count[i]++; constant[i] += w[t]; }
    const ones = new Array(prod(small)).fill(1);
    const up = nearest(ones, small, g.stride);
    const resize = convSame(up.values, up.shape, w, g.kernel, g.dilation);
    const icnr = nearest(convSame(ones, small, w, g.kernel, g.dilation), small, g.stride).values;
    return {counts, overlap, uneven: unevenDims.some(v => v), unevenDims, count, constant,
            big, small, upShape: up.shape, resize, icnr};
  }
  return {forward, scatter, matrix, sliding, phaseTaps, phases, checker, convSame, nearest, gcd, mod, combos};
})();
"""

#: the page's text in English and Chinese (``I18N``)
I18N_JS = r"""
const I18N = {
  en: {
    title: "tconv explorer", offline: "works offline", operation: "operation",
    input_size: "input size", kernel_size: "kernel size", stride: "stride", padding: "padding",
    dilation: "dilation", output_padding: "output padding",
    hint: "Fields take Python values: 3, 2, 1 (a tuple), (1, 2), (0, 1) (low, high pairs), same. Click a cell to type a value; arrows move, Enter edits. Space: play / pause, . and , step, 1-5 switch views, Esc unpins a clicked cell.",
    preset_in: "input values", preset_k: "kernel values", article: "the article's numbers",
    ones: "ones", random: "random integers 1-4", impulse: "impulse", custom: "edited",
    input: "input", kernel: "kernel", output: "output", out_size: "output size",
    v_scatter: "1 scatter", v_sliding: "2 zero insertion", v_sliding_conv: "2 sliding window",
    v_matrix: "3 matrix", v_phase: "4 sub-pixel", v_checker: "5 checkerboard",
    play: "play", pause: "pause", step: "step", back: "back", reset: "reset", speed: "speed",
    zoom: "zoom", theme: "dark theme", step_of: (k, n) => `step ${k} of ${n}`,
    error_note: "", too_big: (n) => `${n} cells: too many to draw; use smaller sizes`,
    nd3: "the page draws 1-D and 2-D configurations",
    scatter_cap: (i, v, n) => `input ${i} = ${v} adds ${v} × kernel into ${n} output cells (one-to-many); the output shows the partial sums so far`,
    scatter_start: "press play or step: each input cell adds its value times the kernel into the output",
    scatter_done: "every input added: the partial sums are the output",
    footprint: "value × kernel", partial: "partial sums",
    sliding_cap: (T) => T ? "zeros inserted between inputs (dotted), padded (dashed), the flipped kernel slides with stride 1" : "the kernel slides over the padded input (dashed: padding zeros)",
    grid_t: "zero-inserted, padded input", grid_c: "padded input", flipped: "flipped kernel",
    macs: (n, w, p) => `multiplications so far: ${n}, wasted on zeros: ${w} (${p}%)`,
    matrix_cap: (m, r, c) => `${m} (${r}×${c}): row = output cell, column = input cell; x is the input flattened, y = ${m}·x is reshaped to the output`,
    ntaps: (n) => n === 1 ? "1 tap" : `${n} taps`,
    matrix_other: (o) => `the current row is a column of ${o}`,
    checker_step: (r, n) => `highlighted: output phase ${r} (phase = (o + crop) mod s), ${n} taps`,
    flat_x: "x flattened", prod_y: "M·x", reshaped: "reshaped",
    phase_cap: (n) => `${n} output phases: each is a small dense convolution of the input with the kernel taps that reach it; interleaving them gives the output (how fast implementations compute it)`,
    phase_conv: "the sub-pixel (phase) decomposition is of conv_transpose: switch the operation",
    phase: "phase", interleaved: "interleaved",
    checker_rule: "Rule: an output phase r (per dim) is reached by the taps t with t·d ≡ r (mod s). The overlap is even when every phase gets the same number of taps: k % s == 0 with dilation 1; with dilation, gcd(d, s) == 1 and k % s == 0 (s = 1 is always even).",
    even: "even overlap: no checkerboard from the overlap (a constant input still shows one if the phase sums of the weights differ)",
    uneven: "UNEVEN overlap: checkerboard (棋盘效应) on a constant input",
    taps_per_phase: (a, k, s, d, c) => `dim ${a}: k=${k}, s=${s}, d=${d}: taps per phase ${c.join(", ")}`,
    overlap_h: "overlap count per output cell", const_h: "constant input through this kernel",
    resize_h: "resize-conv: nearest ×s, then conv", icnr_h: "pixel shuffle + ICNR",
    checker_conv: "conv: the checkerboard belongs to its transpose (the gradient); counts are per input cell",
    hover: "hover or click a cell", selfcheck_ok: (n) => `self-check: the JavaScript port agrees with tconv on all ${n} embedded configurations (output sizes, error messages, non-zeros of C, output values)`,
    selfcheck_bad: (b, n) => `SELF-CHECK FAILED: the JavaScript port disagrees with tconv on ${b} of ${n} embedded configurations`,
    reads: (o, n) => `output ${o} = row of M: reads ${n} input cells`,
    reaches: (i, n) => `input ${i} = column of M: reaches ${n} output cells`,
    value: "value", min: "min", max: "max",
  },
  zh: {
    title: "tconv 转置卷积演示", offline: "可离线使用", operation: "运算",
    input_size: "输入尺寸", kernel_size: "卷积核尺寸", stride: "步长 (stride)", padding: "填充 (padding)",
    dilation: "膨胀 (dilation)", output_padding: "输出填充 (output_padding)",
    hint: "参数框填 Python 值：3、2, 1（元组）、(1, 2), (0, 1)（前后填充对）、same。点击格子输入数值；方向键移动，回车编辑。空格：播放/暂停，. 和 , 单步，1-5 切换视图，Esc 取消固定的格子。",
    preset_in: "输入数值", preset_k: "卷积核数值", article: "原文的数字", ones: "全 1",
    random: "随机整数 1-4", impulse: "冲激", custom: "已编辑",
    input: "输入", kernel: "卷积核", output: "输出", out_size: "输出尺寸",
    v_scatter: "1 一对多散射", v_sliding: "2 插零", v_sliding_conv: "2 滑动窗口",
    v_matrix: "3 卷积矩阵", v_phase: "4 子像素", v_checker: "5 棋盘效应",
    play: "播放", pause: "暂停", step: "单步", back: "后退", reset: "重置", speed: "速度",
    zoom: "缩放", theme: "深色主题", step_of: (k, n) => `第 ${k} 步，共 ${n} 步`,
    error_note: "（tconv 库的原始报错）", too_big: (n) => `${n} 个格子，太多无法绘制；请减小尺寸`,
    nd3: "页面只绘制一维和二维的情形",
    scatter_cap: (i, v, n) => `输入 ${i} = ${v}：把 ${v} × 卷积核 加到 ${n} 个输出格子上（一对多）；输出显示到目前为止的部分和`,
    scatter_start: "按播放或单步：每个输入格子把它的值乘以卷积核加到输出上",
    scatter_done: "所有输入都已加上：部分和就是输出",
    footprint: "值 × 卷积核", partial: "部分和",
    sliding_cap: (T) => T ? "在输入元素之间插入 0（点线），再填充（虚线），翻转后的卷积核以步长 1 滑动" : "卷积核在填充后的输入上滑动（虚线：填充的 0）",
    grid_t: "插零并填充后的输入", grid_c: "填充后的输入", flipped: "翻转的卷积核",
    macs: (n, w, p) => `目前的乘法次数：${n}，浪费在 0 上：${w}（${p}%）`,
    matrix_cap: (m, r, c) => `${m}（${r}×${c}）：每行是一个输出格子，每列是一个输入格子；x 是摊平的输入列向量，y = ${m}·x 再重新塑形为输出`,
    ntaps: (n) => `${n} 个元素`,
    matrix_other: (o) => `当前行是 ${o} 的一列`,
    checker_step: (r, n) => `高亮：输出相位 ${r}（相位 = (o + 裁剪) mod s），${n} 个元素`,
    flat_x: "x 摊平", prod_y: "M·x", reshaped: "重新塑形",
    phase_cap: (n) => `${n} 个输出相位：每个相位是输入与到达它的卷积核元素的小型稠密卷积；交错拼接即得输出（快速实现就是这样计算的）`,
    phase_conv: "子像素（相位）分解针对转置卷积：请切换运算",
    phase: "相位", interleaved: "交错拼接",
    checker_rule: "规则：（每一维）输出相位 r 由满足 t·d ≡ r (mod s) 的卷积核元素 t 到达。各相位得到的元素个数相同时重叠均匀：膨胀为 1 时即 k % s == 0；有膨胀时需 gcd(d, s) == 1 且 k % s == 0（s = 1 总是均匀）。",
    even: "重叠均匀：重叠本身不产生棋盘效应（若各相位的权重和不同，常数输入仍会出现）",
    uneven: "重叠不均匀：常数输入会出现棋盘效应 (checkerboard artifacts)",
    taps_per_phase: (a, k, s, d, c) => `第 ${a} 维：k=${k}，s=${s}，d=${d}：每个相位的元素个数 ${c.join("、")}`,
    overlap_h: "每个输出格子的重叠次数", const_h: "常数输入经过此卷积核",
    resize_h: "先最近邻放大 ×s 再卷积", icnr_h: "像素重排 (pixel shuffle) + ICNR",
    checker_conv: "普通卷积：棋盘效应属于它的转置（梯度）；这里按输入格子计数",
    hover: "把鼠标移到格子上或点击格子",
    selfcheck_ok: (n) => `自检：JavaScript 实现与 tconv 在全部 ${n} 个内置配置上一致（输出尺寸、错误信息、卷积矩阵 C 的非零元、输出数值）`,
    selfcheck_bad: (b, n) => `自检失败：JavaScript 实现在 ${n} 个内置配置中的 ${b} 个上与 tconv 不一致`,
    reads: (o, n) => `输出 ${o} = M 的一行：读取 ${n} 个输入格子（多对一）`,
    reaches: (i, n) => `输入 ${i} = M 的一列：到达 ${n} 个输出格子（一对多）`,
    value: "数值", min: "最小", max: "最大",
  },
};
"""

#: drawing, linking, playback, editing, URL state (runs on load)
APP_JS = r"""
const VIEWS = ["scatter", "sliding", "matrix", "phase", "checker"];
const ARTICLE = {x44: [4, 5, 8, 7, 1, 8, 8, 8, 3, 6, 6, 4, 6, 5, 7, 8], x22: [2, 1, 4, 4],
                 w33: [1, 4, 1, 1, 4, 3, 3, 3, 1]};
const $ = id => document.getElementById(id);
const S = {g: null, ents: [], byRow: new Map(), byCol: new Map(), x: [], w: [], xp: "article",
           wp: "article", seed: 1, view: "scatter", steps: {}, playing: false, timer: null,
           hover: null, pinned: null, cursor: {in: 0, k: 0, out: 0}, lang: "en", dark: false,
           zoom: 1, cache: {}};
let LANG = "en";
function t(key, ...a) {
  const s = (I18N[LANG] && key in I18N[LANG]) ? I18N[LANG][key] : I18N.en[key];
  return typeof s === "function" ? s(...a) : (s === undefined ? key : s);
}
const fmtNum = v => {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2).replace(/0$/, "");
};
const idxText = (i, shape) => TC.tup(TC.unravel(i, shape));
function grid2(shape) { return shape.length === 1 ? [1, shape[0]] : shape; }

// ---------------------------------------------------------------- values: presets and fields
function mulberry32(a) {
  return () => { a |= 0; a = a + 0x6D2B79F5 | 0; let q = Math.imul(a ^ a >>> 15, 1 | a);
    q = q + Math.imul(q ^ q >>> 7, 61 | q) ^ q; return ((q ^ q >>> 14) >>> 0) / 4294967296; };
}
function presetValues(name, shape, which) {
  const n = TC.prod(shape);
  const key = shape.join("x");
  if (name === "ones") return new Array(n).fill(1);
  if (name === "impulse") {
    const v = new Array(n).fill(0); v[TC.ravel(shape.map(s => Math.floor((s - 1) / 2)), shape)] = 1; return v;
  }
  if (name === "random") {
    const r = mulberry32(S.seed * 7919 + (which === "w" ? 17 : 3));
    return Array.from({length: n}, () => 1 + Math.floor(r() * 4));
  }
  // the article's numbers: its 4x4 input, its 2x2 small input, its 3x3 kernel, else repeated
  const src = which === "w" ? ARTICLE.w33 : (key === "2x2" ? ARTICLE.x22 : ARTICLE.x44);
  return Array.from({length: n}, (_, i) => src[i % src.length]);
}
function parseField(text) {      // the page's text -> the Python value it stands for
  const t = text.trim();
  const inner = t.startsWith("(") && t.endsWith(")") ? t.slice(1, -1).trim() : t;
  if (/^-?\d+$/.test(inner)) return parseInt(inner, 10);
  if (/^-?\d+(\s*,\s*-?\d+)*\s*,?$/.test(inner))
    return inner.split(",").map(s => s.trim()).filter(s => s !== "").map(s => parseInt(s, 10));
  // (low, high) pairs: "(1, 0), (0, 1)" or "((1, 0), (0, 1))"
  const pair = /\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)/g;
  const pairs = /^\(\s*-?\d+\s*,\s*-?\d+\s*\)(\s*,\s*\(\s*-?\d+\s*,\s*-?\d+\s*\))*\s*,?$/;
  for (const cand of [t, inner]) if (pairs.test(cand))
    return [...cand.matchAll(pair)].map(m => [parseInt(m[1], 10), parseInt(m[2], 10)]);
  return t;
}
const FIELD_KEYS = ["input_size", "kernel_size", "stride", "padding", "dilation", "output_padding"];
function readParams() {
  const p = {transposed: $("mode-transpose").checked};
  for (const k of FIELD_KEYS) p[k] = parseField($("f-" + k).value);
  return p;
}

// ---------------------------------------------------------------- URL hash
const HASH_KEYS = {op: null, input: "input_size", kernel: "kernel_size", stride: "stride",
                   padding: "padding", dilation: "dilation", output_padding: "output_padding"};
function writeHash() {
  const q = [["op", $("mode-transpose").checked ? "conv_transpose" : "conv"]];
  for (const [h, f] of Object.entries(HASH_KEYS)) if (f) q.push([h, $("f-" + f).value.replace(/\s+/g, "")]);
  q.push(["x", S.xp === "custom" ? S.x.map(fmtNum).join(",") : S.xp]);
  q.push(["w", S.wp === "custom" ? S.w.map(fmtNum).join(",") : S.wp]);
  q.push(["seed", S.seed], ["view", S.view], ["step", S.steps[S.view] || 0], ["lang", LANG],
         ["theme", S.dark ? "dark" : "light"]);
  const h = "#" + q.map(([k, v]) => k + "=" + encodeURIComponent(String(v)).replace(/%2C/g, ",")).join("&");
  if (location.hash !== h) history.replaceState(null, "", h);
}
function readHash() {
  if (!location.hash || location.hash.length < 2) return false;
  const q = new Map(location.hash.slice(1).split("&").map(kv => {
    const i = kv.indexOf("="); return i < 0 ? [kv, ""] : [kv.slice(0, i), decodeURIComponent(kv.slice(i + 1))]; }));
  if (q.has("op")) { $("mode-transpose").checked = q.get("op") === "conv_transpose"; $("mode-conv").checked = !$("mode-transpose").checked; }
  for (const [h, f] of Object.entries(HASH_KEYS)) if (f && q.has(h)) $("f-" + f).value = q.get(h).replace(/,(?=\S)/g, ", ");
  if (q.has("seed") && /^\d+$/.test(q.get("seed"))) S.seed = parseInt(q.get("seed"), 10);
  for (const [key, which] of [["x", "x"], ["w", "w"]]) if (q.has(key)) {
    const v = q.get(key);
    if (["article", "ones", "random", "impulse"].includes(v)) S[which + "p"] = v;
    else { const nums = v.split(",").map(Number); if (nums.every(Number.isFinite)) { S[which + "p"] = "custom"; S[which] = nums; } }
  }
  if (q.has("view") && VIEWS.includes(q.get("view"))) S.view = q.get("view");
  if (q.has("step") && /^\d+$/.test(q.get("step"))) S.pendingStep = parseInt(q.get("step"), 10);
  if (q.has("lang")) LANG = q.get("lang") === "zh" ? "zh" : "en";
  if (q.has("theme")) S.dark = q.get("theme") === "dark";
  return true;
}

// ---------------------------------------------------------------- compute
function compute() {
  const p = readParams();
  $("f-output_padding").disabled = !p.transposed;
  const fn = p.transposed ? "conv_transpose" : "conv";
  const kw = p.transposed
    ? `stride=${TC.fmt(p.stride)}, padding=${TC.fmt(p.padding)}, output_padding=${TC.fmt(p.output_padding)}, dilation=${TC.fmt(p.dilation)}`
    : `stride=${TC.fmt(p.stride)}, padding=${TC.fmt(p.padding)}, dilation=${TC.fmt(p.dilation)}`;
  $("call").textContent = `tconv.${fn}(x, w, ${kw})   # x: input ${TC.fmt(p.input_size)}, w: kernel ${TC.fmt(p.kernel_size)}`;
  let g;
  try { g = TC.resolve(p); }
  catch (e) {
    if (!(e instanceof TC.PyError)) throw e;
    S.g = null; $("error").textContent = `${e.pytype}: ${e.message}`; $("error").classList.remove("hidden");
    $("error-note").textContent = t("error_note");
    $("out-size").textContent = "error"; $("arith").textContent = ""; $("main").classList.add("hidden");
    $("too-big").classList.add("hidden");
    return;
  }
  $("error").classList.add("hidden"); $("error").textContent = ""; $("error-note").textContent = "";
  $("out-size").textContent = TC.tup(g.outSize);
  $("arith").textContent = g.inSize.map((n, a) => {
    const [lo, hi] = g.pad[a], k = g.kernel[a], s = g.stride[a], d = g.dilation[a];
    return p.transposed
      ? `dim ${a}: (${n} - 1)*${s} - ${lo} - ${hi} + ${d}*(${k} - 1) + ${g.outputPadding[a]} + 1 = ${g.outSize[a]}`
      : `dim ${a}: floor((${n} + ${lo} + ${hi} - ${d}*(${k} - 1) - 1) / ${s}) + 1 = ${g.outSize[a]}`;
  }).join("\n");
  const nIn = TC.prod(g.inSize), nOut = TC.prod(g.outSize);
  if (g.inSize.length > 2 || nIn > 4096 || nOut > 16384) {
    S.g = null; $("main").classList.add("hidden");
    $("too-big").textContent = g.inSize.length > 2 ? t("nd3") : t("too_big", Math.max(nIn, nOut));
    $("too-big").classList.remove("hidden");
    return;
  }
  $("too-big").classList.add("hidden"); $("main").classList.remove("hidden");
  S.g = g;
  S.ents = TC.entries(g);
  S.byRow = new Map(); S.byCol = new Map();
  for (const e of S.ents) {
    if (!S.byRow.has(e[0])) S.byRow.set(e[0], []); S.byRow.get(e[0]).push(e);
    if (!S.byCol.has(e[1])) S.byCol.set(e[1], []); S.byCol.get(e[1]).push(e);
  }
  if (S.xp !== "custom" || S.x.length !== nIn) { if (S.xp === "custom") S.xp = "article"; S.x = presetValues(S.xp, g.inSize, "x"); }
  const nK = TC.prod(g.kernel);
  if (S.wp !== "custom" || S.w.length !== nK) { if (S.wp === "custom") S.wp = "article"; S.w = presetValues(S.wp, g.kernel, "w"); }
  $("preset-x").value = S.xp; $("preset-w").value = S.wp;
  recompute();
}
function recompute() {
  const g = S.g; if (!g) return;
  S.y = EX.forward(g, S.x, S.w, S.ents);
  S.slide = EX.sliding(g, S.x, S.w);
  S.ph = EX.phases(g, S.x, S.w);
  S.chk = EX.checker(g, S.w, S.ents);
  for (const v of VIEWS) S.steps[v] = Math.min(S.steps[v] || 0, nSteps(v));
  if (S.pendingStep !== undefined) { S.steps[S.view] = Math.min(S.pendingStep, nSteps(S.view)); S.pendingStep = undefined; }
  const nIn = TC.prod(g.inSize), nOut = TC.prod(g.outSize);
  for (const k of ["in", "out"]) if (S.cursor[k] >= (k === "in" ? nIn : nOut)) S.cursor[k] = 0;
  if (S.cursor.k >= S.w.length) S.cursor.k = 0;
  if (S.pinned && S.pinned.idx >= (S.pinned.kind === "in" ? nIn : S.pinned.kind === "out" ? nOut : S.w.length)) S.pinned = null;
  draw();
}
function nSteps(view) {
  const g = S.g; if (!g) return 0;
  if (view === "scatter") return TC.prod(g.inSize);
  if (view === "sliding" || view === "matrix") return TC.prod(g.outSize);
  return TC.prod(g.stride);
}

// ---------------------------------------------------------------- drawing primitives
function colors() {
  const cs = getComputedStyle(document.body), v = n => cs.getPropertyValue("--" + n).trim();
  const o = {};
  for (const n of ["input", "input-active", "output", "output-active", "kernel", "kernel-active",
                   "pad", "inserted", "zero-active", "edge", "ink", "ink-light", "bg", "mark", "heat0",
                   "heat1", "done", "nz"]) o[n] = v(n);
  return o;
}
let C = null;
function hexRGB(h) { const m = h.replace("#", ""); return [0, 2, 4].map(i => parseInt(m.slice(i, i + 2), 16)); }
function mix(a, b, f) {
  const A = hexRGB(a), B = hexRGB(b);
  return "rgb(" + A.map((v, i) => Math.round(v + (B[i] - v) * f)).join(",") + ")";
}
function lum(color) {
  const m = color.startsWith("#") ? hexRGB(color) : color.match(/\d+/g).map(Number);
  return (0.299 * m[0] + 0.587 * m[1] + 0.114 * m[2]) / 255;
}
const PHASE_COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#469990"];

function scene(canvas, w, h) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.ceil(w * dpr); canvas.height = Math.ceil(h * dpr);
  canvas.style.width = w + "px"; canvas.style.height = h + "px";
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = C.bg; ctx.fillRect(0, 0, w, h);
  canvas._regions = [];
  return ctx;
}
// a grid of rows x cols cells at (x, y); o.fill(i), o.text(i), o.dash(i), o.mark(i) per flat cell
function cells(ctx, x, y, rows, cols, cell, o) {
  const fs = Math.min(13, Math.max(6, Math.floor(cell * 0.42)));
  ctx.textAlign = "center"; ctx.textBaseline = "middle";
  const lines = cell >= 6;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
    const i = r * cols + c, X = x + c * cell, Y = y + r * cell;
    const f = o.fill(i);
    if (f) { ctx.fillStyle = f; ctx.fillRect(X, Y, cell, cell); }
    const dash = o.dash ? o.dash(i) : null;
    if (lines || dash) {
      ctx.strokeStyle = C.edge; ctx.lineWidth = dash ? 1 : 0.6; ctx.setLineDash(dash || []);
      ctx.strokeRect(X + 0.5, Y + 0.5, cell - 1, cell - 1); ctx.setLineDash([]);
    }
    const m = o.mark ? o.mark(i) : null;
    if (m) { ctx.strokeStyle = m; ctx.lineWidth = Math.max(2, cell / 10); ctx.strokeRect(X + 1.5, Y + 1.5, cell - 3, cell - 3); }
    if (cell >= 13 && o.text) {
      const s = o.text(i);
      if (s !== null && s !== undefined && s !== "") {
        let size = fs; ctx.font = `${size}px monospace`;
        while (size > 6 && ctx.measureText(s).width > cell - 2) { size--; ctx.font = `${size}px monospace`; }
        if (ctx.measureText(s).width <= cell - 1) {
          ctx.fillStyle = o.ink ? o.ink(i) : (f && lum(f) < 0.5 ? C["ink-light"] : C.ink);
          ctx.fillText(s, X + cell / 2, Y + cell / 2 + 0.5);
        }
      }
    }
  }
  if (!lines) { ctx.strokeStyle = C.edge; ctx.lineWidth = 1; ctx.strokeRect(x + 0.5, y + 0.5, cols * cell - 1, rows * cell - 1); }
  if (o.region) ctx.canvas._regions.push({x, y, rows, cols, cell, ...o.region});
}
function label(ctx, text, x, y, size, color, align) {
  ctx.font = `${size || 12}px system-ui, sans-serif`; ctx.fillStyle = color || C.ink;
  ctx.textAlign = align || "left"; ctx.textBaseline = "alphabetic"; ctx.fillText(text, x, y);
}
// cells too small for numbers show their value as a shade between the light and the dark colour
const RANGES = new WeakMap();     // value array -> [min, max], computed once per array
function range(vals) {
  let r = RANGES.get(vals);
  if (!r) {
    r = [Infinity, -Infinity];
    for (const u of vals) if (u !== null) { if (u < r[0]) r[0] = u; if (u > r[1]) r[1] = u; }
    RANGES.set(vals, r);
  }
  return r;
}
function shade(light, dark, v, vals, cell) {
  if (cell >= 13 || !vals.length) return C[light];
  const [lo, hi] = range(vals);
  return mix(C[light].startsWith("#") ? C[light] : "#888888", C[dark], hi > lo ? 0.1 + 0.6 * (v - lo) / (hi - lo) : 0.3);
}
function heat(v, lo, hi) { return mix(C.heat0, C.heat1, hi > lo ? (v - lo) / (hi - lo) : 0.5); }
function fitCell(rows, cols, maxW, maxH, cap) {
  const c = Math.floor(Math.min(maxW / cols, maxH / rows) * S.zoom);
  return Math.max(2, Math.min(cap || 40, c));
}

// ---------------------------------------------------------------- linked highlight
function linked() {
  const h = S.hover || S.pinned, L = {in: new Set(), out: new Set(), tap: new Set(), row: -1, col: -1, h};
  if (!h || !S.g) return L;
  if (h.kind === "out") {
    L.out.add(h.idx); L.row = h.idx;
    for (const [, c, tp] of S.byRow.get(h.idx) || []) { L.in.add(c); L.tap.add(tp); }
  } else if (h.kind === "in") {
    L.in.add(h.idx); L.col = h.idx;
    for (const [r, , tp] of S.byCol.get(h.idx) || []) { L.out.add(r); L.tap.add(tp); }
  } else if (h.kind === "tap") {             // a kernel tap: every entry of M it makes
    L.tap.add(h.idx);
    const nIn = TC.prod(S.g.inSize);
    L.pairs = new Set(S.ents.filter(e => e[2] === h.idx).map(e => e[0] * nIn + e[1]));
  }
  return L;
}
function info(L) {
  const g = S.g, h = L.h;
  if (!h || !g) { $("info").textContent = t("hover"); return; }
  if (h.kind === "out")
    $("info").textContent = `${t("reads", idxText(h.idx, g.outSize), L.in.size)}; y = ${fmtNum(S.y[h.idx])} = ` +
      (S.byRow.get(h.idx) || []).map(([, c, tp]) => `${fmtNum(S.x[c])}·${fmtNum(S.w[tp])}`).join(" + ");
  else if (h.kind === "in")
    $("info").textContent = `${t("reaches", idxText(h.idx, g.inSize), L.out.size)}; x = ${fmtNum(S.x[h.idx])}: ` +
      [...L.out].map(o => idxText(o, g.outSize)).join(" ");
  else $("info").textContent = `${t("kernel")} ${idxText(h.idx, g.kernel)} = ${fmtNum(S.w[h.idx])}: ` +
    `${L.pairs.size} ${LANG === "zh" ? "个矩阵元素" : "entries of M"}`;
}

// ---------------------------------------------------------------- data panels: input, kernel, output
function drawData(L) {
  const g = S.g;
  const [ri, ci] = grid2(g.inSize), [rk, ck] = grid2(g.kernel), [ro, co] = grid2(g.outSize);
  const panelW = Math.max(220, Math.min(420, (document.body.clientWidth - 80) / 3));
  let cell = fitCell(ri, ci, panelW, 360, 38);
  let ctx = scene($("cv-in"), ci * cell + 2, ri * cell + 2);
  const sel = id => document.activeElement === $(id);
  cells(ctx, 1, 1, ri, ci, cell, {
    fill: i => L.in.has(i) ? C["input-active"] : shade("input", "input-active", S.x[i], S.x, cell), text: i => fmtNum(S.x[i]),
    mark: i => (L.h && L.h.kind === "in" && L.h.idx === i) || (sel("cv-in") && S.cursor.in === i) ? C.mark : null,
    region: {kind: "in", edit: "x"}});
  cell = fitCell(rk, ck, 200, 200, 38);
  ctx = scene($("cv-k"), ck * cell + 2, rk * cell + 2);
  cells(ctx, 1, 1, rk, ck, cell, {
    fill: i => L.tap.has(i) ? C["kernel-active"] : C.kernel, text: i => fmtNum(S.w[i]),
    mark: i => (L.h && L.h.kind === "tap" && L.h.idx === i) || (sel("cv-k") && S.cursor.k === i) ? C.mark : null,
    region: {kind: "tap", edit: "w"}});
  cell = fitCell(ro, co, panelW, 360, 38);
  ctx = scene($("cv-out"), co * cell + 2, ro * cell + 2);
  cells(ctx, 1, 1, ro, co, cell, {
    fill: i => L.out.has(i) ? C["output-active"] : shade("output", "output-active", S.y[i], S.y, cell), text: i => fmtNum(S.y[i]),
    mark: i => (L.h && L.h.kind === "out" && L.h.idx === i) || (sel("cv-out") && S.cursor.out === i) ? C.mark : null,
    region: {kind: "out"}});
  $("h-in").textContent = `${t("input")} x ${g.inSize.join("×")}`;
  $("h-k").textContent = `${t("kernel")} w ${g.kernel.join("×")}`;
  $("h-out").textContent = `${t("output")} y ${g.outSize.join("×")}`;
}

// ---------------------------------------------------------------- the five views
function viewWidth() { return Math.max(600, Math.min(1300, $("view").clientWidth - 8)); }

function drawScatter(L) {
  const g = S.g, n = TC.prod(g.inSize), k = S.steps.scatter;
  const partial = EX.scatter(g, S.x, S.w, k, S.ents);
  const cur = k > 0 ? k - 1 : -1;
  const curOut = new Map();
  if (cur >= 0) for (const [r, , tp] of S.byCol.get(cur) || []) curOut.set(r, tp);
  const [ri, ci] = grid2(g.inSize), [rk, ck] = grid2(g.kernel), [ro, co] = grid2(g.outSize);
  const W = viewWidth(), total = ci + ck + co + 6;
  const cell = fitCell(Math.max(ri, ro, rk), total, W, 520, 40);
  const gap = Math.max(3 * cell, 44), top = 22, kc = Math.max(cell, 24);
  const wid = (ci + co) * cell + ck * kc + 2 * gap + 4, hgt = Math.max(ri * cell, rk * kc, ro * cell) + top + 4;
  const ctx = scene($("cv-view"), Math.max(wid, 300), hgt);
  label(ctx, t("input"), 2, 14);
  cells(ctx, 2, top, ri, ci, cell, {
    fill: i => i === cur ? C["input-active"] : L.in.has(i) ? C["input-active"] : i < k ? C.done : C.input,
    text: i => fmtNum(S.x[i]), mark: i => i === cur ? C.mark : null, region: {kind: "in"}});
  const x1 = 2 + ci * cell + gap;
  label(ctx, cur >= 0 ? `${fmtNum(S.x[cur])} × w` : t("footprint"), x1, 14);
  cells(ctx, x1, top, rk, ck, kc, {
    fill: i => L.tap.has(i) ? C["kernel-active"] : C.kernel,
    text: i => cur >= 0 ? fmtNum(S.x[cur] * S.w[i]) : fmtNum(S.w[i]), region: {kind: "tap"}});
  const x2 = x1 + ck * kc + gap;
  label(ctx, `${t("output")}: ${t("partial")}`, x2, 14);
  cells(ctx, x2, top, ro, co, cell, {
    fill: i => curOut.has(i) || L.out.has(i) ? C["output-active"] : shade("output", "output-active", partial[i], partial, cell),
    text: i => fmtNum(partial[i]), mark: i => curOut.has(i) ? C.mark : null, region: {kind: "out"}});
  ctx.font = "22px system-ui"; ctx.fillStyle = C.ink; ctx.textAlign = "center";
  ctx.fillText("→", x1 - gap / 2, top + rk * kc / 2 + 6);
  ctx.fillText("+=", x2 - gap / 2, top + rk * kc / 2 + 6);
  $("caption").textContent = k === 0 ? t("scatter_start") : k === n && cur < 0 ? t("scatter_done")
    : t("scatter_cap", idxText(cur, g.inSize), fmtNum(S.x[cur]), curOut.size) + (k === n ? " · " + t("scatter_done") : "");
  S.viewData = {partial};
}

function drawSliding(L) {
  const g = S.g, sl = S.slide, k = S.steps.sliding, nOut = TC.prod(g.outSize);
  const cur = k > 0 ? k - 1 : -1;
  const hov = L.h && L.h.kind === "out" ? L.h.idx : cur;
  const win = new Map();
  if (hov >= 0) sl.window(hov).forEach((G, tp) => win.set(G, tp));
  const [rg, cg] = grid2(sl.shape), [rk, ck] = grid2(g.kernel), [ro, co] = grid2(g.outSize);
  const W = viewWidth(), cell = fitCell(Math.max(rg, ro), cg + ck + co + 8, W, 520, 40);
  const gap = Math.max(3 * cell, 44), top = 22, kc = Math.max(cell, 24);
  const ctx = scene($("cv-view"), Math.max(300, (cg + co) * cell + ck * kc + 2 * gap + 4),
                    Math.max(rg * cell, rk * kc, ro * cell) + top + 4);
  label(ctx, g.transposed ? t("grid_t") : t("grid_c"), 2, 14);
  const dash = {1: [1, 2], 2: [4, 3]};
  cells(ctx, 2, top, rg, cg, cell, {
    fill: i => win.has(i) ? (sl.kind[i] === 0 ? C["input-active"] : C["zero-active"])
      : sl.kind[i] === 0 ? (L.in.has(sl.source[i]) ? C["input-active"] : C.input) : sl.kind[i] === 1 ? C.inserted : C.pad,
    dash: i => cell >= 8 ? dash[sl.kind[i]] || null : null,
    text: i => win.has(i) && cell >= 26 ? `${fmtNum(sl.values[i])}·${fmtNum(sl.kernel[win.get(i)])}` : fmtNum(sl.values[i]),
    region: {kind: "grid"}});
  const x1 = 2 + cg * cell + gap;
  label(ctx, g.transposed ? t("flipped") : t("kernel"), x1, 14);
  cells(ctx, x1, top, rk, ck, kc, {fill: () => C.kernel, text: i => fmtNum(sl.kernel[i])});
  const x2 = x1 + ck * kc + gap;
  label(ctx, t("output"), x2, 14);
  cells(ctx, x2, top, ro, co, cell, {
    fill: i => i === hov ? C["output-active"] : i < k ? C.output : C.bg,
    text: i => i < k || i === hov ? fmtNum(sl.y[i]) : "", mark: i => i === cur ? C.mark : null, region: {kind: "out"}});
  let wasted = 0;
  for (let o = 0; o < k; o++) wasted += sl.wasted[o];
  const macs = k * sl.macs;
  S.viewData = {macs, wasted};
  $("caption").textContent = t("sliding_cap", g.transposed) + " · " +
    t("macs", macs, wasted, macs ? Math.round(100 * wasted / macs) : 0);
}

function drawMatrix(L) {
  const g = S.g, k = S.steps.matrix, nIn = TC.prod(g.inSize), nOut = TC.prod(g.outSize);
  const cur = k > 0 ? k - 1 : -1;
  const row = L.row >= 0 ? L.row : cur, col = L.col;
  const part = new Array(nOut).fill(null);
  for (const [r, c, tp] of S.ents) if (r < k) part[r] = (part[r] || 0) + S.w[tp] * S.x[c];
  for (let r = 0; r < k; r++) if (part[r] === null) part[r] = 0;
  const name = g.transposed ? "C\u1d40" : "C", other = g.transposed ? "C" : "C\u1d40";
  const [ro, co] = grid2(g.outSize);
  const W = viewWidth();
  // M (nOut x nIn) | x (nIn x 1) | = | y (nOut x 1) | reshaped; below: the other matrix (nIn x nOut)
  let cell = Math.min(26, (W - 200) / (nIn + co + 2), 760 / Math.max(nOut + nIn, 1)) * S.zoom;
  if (cell > 3) cell = Math.floor(cell);
  const cv = cell < 6 ? 10 : cell, top = 22, gap = Math.max(44, 2 * cell);
  const mW = nIn * cell, mH = nOut * cell, oW = nOut * cell, oH = nIn * cell;
  const xX = 2 + mW + gap, yX = xX + cv + gap, rX = yX + cv + gap;
  const rightEnd = rX + co * Math.max(cell, 4) + gap, sideX = rightEnd;
  const side = rightEnd + oW + 4 <= W;          // room for the other matrix on the right
  const belowY = top + Math.max(mH, nIn * cell, ro * Math.max(cell, 4)) + 30;
  const totalW = Math.max(side ? sideX + Math.max(oW, 120) + 4 : Math.max(rightEnd, oW + 4), 320);
  const ctx = scene($("cv-view"), totalW, side ? top + Math.max(mH, oH, nIn * cell, ro * Math.max(cell, 4)) + 4 : belowY + oH + 4);
  const mats = new Map(S.ents.map(([r, c, tp]) => [r * nIn + c, tp]));
  const sparse = cell < 6;
  label(ctx, `${name} (${nOut}×${nIn})`, 2, 14);
  const drawM = (x0, y0, R, Cc, key, hiRow, hiCol, regionKind) => {
    if (!sparse) {
      cells(ctx, x0, y0, R, Cc, cell, {
        fill: i => { const r = Math.floor(i / Cc), c = i % Cc, has = mats.has(key(r, c));
          if (L.pairs && L.pairs.has(key(r, c))) return C["kernel-active"];
          if (r === hiRow || c === hiCol) return has ? (regionKind === "M" ? C["output-active"] : C["input-active"]) : C.mark + "55";
          return has ? C.nz : C.bg; },
        text: i => { const r = Math.floor(i / Cc), c = i % Cc, tp = mats.get(key(r, c)); return tp === undefined ? (cell >= 18 ? "0" : "") : fmtNum(S.w[tp]); },
        ink: i => { const r = Math.floor(i / Cc), c = i % Cc; return mats.has(key(r, c)) ? ((r === hiRow || c === hiCol) ? C["ink-light"] : C.ink) : C.edge; },
        region: {kind: regionKind}});
    } else {                     // too many cells for lines: non-zeros as dots, the current row a band
      ctx.strokeStyle = C.edge; ctx.lineWidth = 1; ctx.strokeRect(x0 - 0.5, y0 - 0.5, Cc * cell + 1, R * cell + 1);
      ctx.fillStyle = C.mark + "55";
      if (hiRow >= 0) ctx.fillRect(x0, y0 + hiRow * cell, Cc * cell, Math.max(cell, 2));
      if (hiCol >= 0) ctx.fillRect(x0 + hiCol * cell, y0, Math.max(cell, 2), R * cell);
      const d = Math.max(cell, 1);
      for (const [r, c] of S.ents) {
        const rr = regionKind === "M" ? r : c, cc = regionKind === "M" ? c : r;
        ctx.fillStyle = rr === hiRow || cc === hiCol ? C["output-active"] : C.kernel;
        ctx.fillRect(x0 + cc * cell, y0 + rr * cell, d, d);
      }
      ctx.canvas._regions.push({x: x0, y: y0, rows: R, cols: Cc, cell, kind: regionKind});
    }
  };
  drawM(2, top, nOut, nIn, (r, c) => r * nIn + c, row, col, "M");
  // x and y as columns: square cells with numbers, or value-shaded strips when rows are thin
  const column = (x0, n, vals, light, dark, hot, kind) => {
    if (!sparse) {
      cells(ctx, x0, top, n, 1, cell, {fill: i => hot(i) ? C[dark] : vals[i] === null ? C.bg : C[light],
        text: i => vals[i] === null ? "" : fmtNum(vals[i]), region: {kind}});
      return;
    }
    const known = vals.filter(v => v !== null);
    for (let i = 0; i < n; i++) {
      ctx.fillStyle = hot(i) ? C.mark : vals[i] === null ? C.bg : shade(light, dark, vals[i], known, 0);
      ctx.fillRect(x0, top + i * cell, cv, Math.max(cell, 0.5));
    }
    ctx.strokeStyle = C.edge; ctx.lineWidth = 1; ctx.strokeRect(x0 - 0.5, top - 0.5, cv + 1, n * cell + 1);
    ctx.canvas._regions.push({x: x0, y: top, rows: n, cols: 1, cell, cw: cv, ch: cell, kind});
  };
  const rowIns = new Set(row >= 0 ? (S.byRow.get(row) || []).map(e => e[1]) : []);
  label(ctx, "x", xX, 14);
  column(xX, nIn, S.x, "input", "input-active", i => L.in.has(i) || rowIns.has(i), "in");
  label(ctx, "=", yX - gap / 2, top + Math.min(mH, 200) / 2, 16, C.ink, "center");
  label(ctx, "y", yX, 14);
  column(yX, nOut, part, "output", "output-active", i => i === row, "out");
  const rc = Math.max(cell, 4);
  label(ctx, t("reshaped"), rX, 14);
  const known = part.filter(v => v !== null);
  cells(ctx, rX, top, ro, co, rc, {fill: i => i === row ? C["output-active"] : part[i] === null ? C.bg : shade("output", "output-active", part[i], known, rc),
    text: i => part[i] === null ? "" : fmtNum(part[i]), region: {kind: "out"}});
  const oLabel = `${other} (${nIn}×${nOut}) = (${name})\u1d40`;
  if (side) {
    label(ctx, oLabel, sideX, 14);
    drawM(sideX, top, nIn, nOut, (r, c) => c * nIn + r, col, row, "MT");
  } else {
    label(ctx, oLabel, 2, belowY - 8);
    drawM(2, belowY, nIn, nOut, (r, c) => c * nIn + r, col, row, "MT");
  }
  $("caption").textContent = t("matrix_cap", name, nOut, nIn) + " · " + t("matrix_other", other) +
    (k ? " · " + t("step_of", k, nOut) : "");
  S.viewData = {part};
}

function drawPhase(L) {
  const g = S.g, ph = S.ph;
  if (!ph) {
    const ctx = scene($("cv-view"), 10, 10);
    $("caption").textContent = t("phase_conv"); S.viewData = null; return ctx;
  }
  const k = S.steps.phase, list = ph.phases, n = list.length;
  const cur = k > 0 ? k - 1 : -1;
  const [ro, co] = grid2(g.outSize), [ri, ci] = grid2(g.inSize);
  const W = viewWidth();
  const maxQ = Math.max(...list.map(p => grid2(p.nq)[1])), maxKc = Math.max(1, ...list.map(p => grid2(p.kshape)[1]));
  const maxQr = Math.max(...list.map(p => grid2(p.nq)[0])), maxKr = Math.max(1, ...list.map(p => grid2(p.kshape)[0]));
  const blockCols = maxQ + 3;
  const perRow = Math.max(1, Math.min(n, g.stride.length === 2 ? g.stride[1] : n));
  const cell = fitCell(Math.max(maxQr, maxKr) * Math.ceil(n / perRow) + ro, Math.max(blockCols * perRow, co), W - 20, 620, 34);
  const kc = Math.max(cell, 18);
  const bw = blockCols * cell + maxKc * kc + 16, bh = Math.max(maxQr * cell, maxKr * kc) + 30;
  let lo = Infinity, hi = -Infinity;
  for (const v of ph.y) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const tone = (j, v) => mix(C.bg.startsWith("#") ? C.bg : "#ffffff", PHASE_COLORS[j % PHASE_COLORS.length],
                             cell >= 13 || hi === lo ? 0.45 : 0.15 + 0.6 * (v - lo) / (hi - lo));
  const rowsB = Math.ceil(n / perRow);
  const outY = rowsB * bh + 24;
  const ctx = scene($("cv-view"), Math.max(perRow * bw, co * cell + 4, 320), outY + ro * cell + 4);
  const where = new Map();            // output cell -> phase number
  list.forEach((p, j) => p.where.forEach(o => where.set(o, j)));
  list.forEach((p, j) => {
    const bx = (j % perRow) * bw + 2, by = Math.floor(j / perRow) * bh + 2;
    const col = PHASE_COLORS[j % PHASE_COLORS.length];
    label(ctx, `${t("phase")} ${TC.tup(p.r)}: ${t("ntaps", p.taps.length)}`, bx, by + 12, 12, j === cur ? C.mark : C.ink);
    const [kr, kc_] = grid2(p.kshape.length ? p.kshape : [0]);
    if (p.taps.length) cells(ctx, bx, by + 18, kr, kc_, kc, {fill: () => C.kernel, text: i => fmtNum(S.w[p.taps[i][0]]),
      mark: i => L.tap.has(p.taps[i][0]) ? C.mark : null});
    const [qr, qc] = grid2(p.nq);
    const qx = bx + maxKc * kc + 1.5 * cell + 8;
    if (qr * qc) cells(ctx, qx, by + 18, qr, qc, cell, {
      fill: i => L.out.has(p.where[i]) ? C["output-active"] : j < k ? tone(j, p.values[i]) : C.bg,
      text: i => fmtNum(p.values[i]), dash: () => j < k || cell < 8 ? null : [2, 2],
      region: {kind: "out", map: i => p.where[i]}});
  });
  label(ctx, `${t("interleaved")} → ${t("output")} ${g.outSize.join("×")}`, 2, outY - 6);
  cells(ctx, 2, outY, ro, co, cell, {
    fill: i => { const j = where.get(i); if (L.out.has(i)) return C["output-active"];
      return j !== undefined && j < k ? tone(j, ph.y[i]) : C.bg; },
    text: i => { const j = where.get(i); return j !== undefined && j < k ? fmtNum(ph.y[i]) : ""; },
    mark: i => where.get(i) === cur ? C.mark : null, region: {kind: "out"}});
  $("caption").textContent = t("phase_cap", n);
  S.viewData = null;
}

function drawChecker(L) {
  const g = S.g, ck = S.chk, k = S.steps.checker;
  const [rb, cb] = grid2(ck.big), [ru, cu] = grid2(ck.upShape);
  const W = viewWidth();
  const cell = fitCell(Math.max(rb, ru), 2 * (cb + cu) + 6, W, 440, 32);
  const lo = (ck.big.length === 1 ? [0, g.pad[0][0]] : g.pad.map(p => p[0]));
  // the phase of a cell of the up-sampled side (transposed: (o + crop) mod s)
  const s2 = grid2(g.stride);
  const phaseOf = i => { const [r, c] = TC.unravel(i, grid2(ck.big));
    const pr = g.transposed ? EX.mod(r + lo[0], s2[0]) : 0, pc = g.transposed ? EX.mod(c + lo[1], s2[1]) : 0;
    return pr * s2[1] + pc; };
  const panels = [[t("overlap_h"), ck.count, ck.big, "out"], [t("const_h"), ck.constant, ck.big, "out"],
                  [t("resize_h"), ck.resize, ck.upShape, null], [t("icnr_h"), ck.icnr, ck.upShape, null]];
  const top = 36, gapX = 24;
  let x = 2, maxH = 0;
  const meter = document.createElement("canvas").getContext("2d");
  meter.font = "12px system-ui, sans-serif";
  const widths = panels.map(([title, , sh]) => Math.max(grid2(sh)[1] * cell, meter.measureText(title).width + 4, 150));
  const ctx = scene($("cv-view"), Math.max(320, widths.reduce((a, b) => a + b + gapX, 0)), Math.max(rb, ru) * cell + top + 24);
  panels.forEach(([title, vals, sh, kind], j) => {
    const [r, c] = grid2(sh);
    const mn = Math.min(...vals), mx = Math.max(...vals);
    label(ctx, title, x, 14, 12);
    label(ctx, `${t("min")} ${fmtNum(mn)}, ${t("max")} ${fmtNum(mx)}`, x, 29, 11);
    const big = kind === "out" && g.transposed ? "out" : kind === "out" ? "in" : null;
    cells(ctx, x, top, r, c, cell, {fill: i => heat(vals[i], mn, mx), text: i => fmtNum(vals[i]),
      mark: i => (big && (big === "out" ? L.out : L.in).has(i)) || (kind && k > 0 && phaseOf(i) === k - 1) ? C.mark : null,
      region: big ? {kind: big} : null});
    x += widths[j] + gapX;
  });
  const ev = ck.uneven ? t("uneven") : t("even");
  $("verdict").textContent = ev;
  $("verdict").className = ck.uneven ? "bad" : "good";
  $("rule").textContent = t("checker_rule") + "\n" + g.kernel.map((kk, a) =>
    t("taps_per_phase", a, kk, g.stride[a], g.dilation[a], ck.counts[a])).join("\n") +
    (g.transposed ? "" : "\n" + t("checker_conv"));
  const s2d = grid2(g.stride);
  $("caption").textContent = k > 0 && g.transposed
    ? t("checker_step", TC.tup(g.stride.length === 1 ? [k - 1] : [Math.floor((k - 1) / s2d[1]), (k - 1) % s2d[1]]), ck.overlap[k - 1]) : "";
  S.viewData = null;
}

function draw() {
  C = colors();
  const g = S.g; if (!g) return;
  const L = linked();
  drawData(L);
  for (const b of document.querySelectorAll(".tab")) {
    const on = b.dataset.view === S.view; b.classList.toggle("on", on); b.setAttribute("aria-selected", on);
  }
  $("tab-sliding").textContent = g.transposed ? t("v_sliding") : t("v_sliding_conv");
  $("checker-text").classList.toggle("hidden", S.view !== "checker");
  ({scatter: drawScatter, sliding: drawSliding, matrix: drawMatrix, phase: drawPhase, checker: drawChecker})[S.view](L);
  const n = nSteps(S.view);
  $("step-label").textContent = t("step_of", S.steps[S.view] || 0, n);
  $("btn-play").textContent = S.playing ? "⏸ " + t("pause") : "▶ " + t("play");
  info(L);
  writeHash();
}

// ---------------------------------------------------------------- interaction
function hitTest(canvas, ev) {
  const rect = canvas.getBoundingClientRect(), px = ev.clientX - rect.left, py = ev.clientY - rect.top;
  for (const R of canvas._regions || []) {
    const c = Math.floor((px - R.x) / (R.cw || R.cell)), r = Math.floor((py - R.y) / (R.ch || R.cell));
    if (c >= 0 && c < R.cols && r >= 0 && r < R.rows) return {R, i: r * R.cols + c, r, c, px, py};
  }
  return null;
}
function toLink(hit) {
  const R = hit.R;
  if (R.kind === "in" || R.kind === "out" || R.kind === "tap") return {kind: R.kind, idx: R.map ? R.map(hit.i) : hit.i};
  if (R.kind === "grid") { const src = S.slide.source[hit.i]; return src >= 0 ? {kind: "in", idx: src} : null; }
  const nIn = TC.prod(S.g.inSize);
  if (R.kind === "M") return {kind: "out", idx: hit.r};            // row of M = output cell
  if (R.kind === "MT") return {kind: "out", idx: hit.c};           // column of the transpose
  return null;
}
function onMove(ev) {
  const hit = hitTest(ev.currentTarget, ev);
  const link = hit ? toLink(hit) : null;
  const same = JSON.stringify(link) === JSON.stringify(S.hover);
  S.hover = link; if (!same) draw();
}
function onLeave() { if (S.hover) { S.hover = null; draw(); } }
function onClick(ev) {
  const cv = ev.currentTarget, hit = hitTest(cv, ev);
  if (!hit) return;
  const link = toLink(hit);
  S.pinned = link;
  if (hit.R.edit) { const key = hit.R.edit === "x" ? "in" : "k"; S.cursor[key] = hit.i; openEditor(cv, hit.R, hit.i); }
  draw();
}
function openEditor(cv, R, i, initial) {
  const ed = $("editor"), rect = cv.getBoundingClientRect();
  const r = Math.floor(i / R.cols), c = i % R.cols;
  const arr = R.edit === "x" ? S.x : S.w;
  ed.style.left = (rect.left + window.scrollX + R.x + c * R.cell) + "px";
  ed.style.top = (rect.top + window.scrollY + R.y + r * R.cell) + "px";
  ed.style.width = Math.max(R.cell, 44) + "px"; ed.style.height = Math.max(R.cell, 24) + "px";
  ed.value = initial !== undefined ? initial : fmtNum(arr[i]);
  ed.dataset.which = R.edit; ed.dataset.idx = i; ed.dataset.canvas = cv.id;
  ed.classList.remove("hidden"); ed.focus(); if (initial === undefined) ed.select();
}
function commitEditor(keep) {
  const ed = $("editor"); if (ed.classList.contains("hidden")) return;
  const v = parseFloat(ed.value), which = ed.dataset.which, i = +ed.dataset.idx;
  ed.classList.add("hidden");
  if (keep && Number.isFinite(v)) {
    S[which] = S[which].slice(); S[which][i] = v; S[which + "p"] = "custom";   // a new array: ranges are cached per array $("preset-" + which).value = "custom";
    recompute();
  }
  $(ed.dataset.canvas).focus();
}
function setView(v) { S.view = v; stop(); draw(); }
function stepBy(d) {
  const n = nSteps(S.view), v = (S.steps[S.view] || 0) + d;
  S.steps[S.view] = Math.max(0, Math.min(n, v)); draw();
}
function tick() { const n = nSteps(S.view); if ((S.steps[S.view] || 0) >= n) { stop(); draw(); return; } stepBy(1); }
function play() {
  if (!S.g) return;
  if ((S.steps[S.view] || 0) >= nSteps(S.view)) S.steps[S.view] = 0;
  S.playing = true; clearInterval(S.timer); S.timer = setInterval(tick, 1000 / +$("speed").value); draw();
}
function stop() { S.playing = false; clearInterval(S.timer); S.timer = null; }
function togglePlay() { if (S.playing) { stop(); draw(); } else play(); }
function moveCursor(key, shape, dr, dc) {
  const [R, Cc] = grid2(shape);
  const r = Math.floor(S.cursor[key] / Cc), c = S.cursor[key] % Cc;
  S.cursor[key] = Math.max(0, Math.min(R - 1, r + dr)) * Cc + Math.max(0, Math.min(Cc - 1, c + dc));
}
function canvasKey(ev) {
  const id = ev.currentTarget.id, g = S.g; if (!g) return;
  const key = id === "cv-in" ? "in" : id === "cv-k" ? "k" : "out";
  const shape = key === "in" ? g.inSize : key === "k" ? g.kernel : g.outSize;
  const arrows = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};
  if (arrows[ev.key]) { moveCursor(key, shape, ...arrows[ev.key]); }
  else if (key !== "out" && (ev.key === "Enter" || /^[-0-9.]$/.test(ev.key))) {
    const cv = ev.currentTarget, R = cv._regions[0];
    ev.preventDefault(); ev.stopPropagation();
    openEditor(cv, R, S.cursor[key], ev.key === "Enter" ? undefined : ev.key); return;
  } else return;
  ev.preventDefault(); ev.stopPropagation();
  S.hover = {kind: key === "k" ? "tap" : key, idx: S.cursor[key]}; S.pinned = S.hover; draw();
}
function globalKey(ev) {
  const tag = (document.activeElement && document.activeElement.tagName) || "";
  if (["INPUT", "SELECT", "TEXTAREA"].includes(tag) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === " ") { ev.preventDefault(); togglePlay(); }
  else if (ev.key === "." || ev.key === "ArrowRight") { stop(); stepBy(1); }
  else if (ev.key === "," || ev.key === "ArrowLeft") { stop(); stepBy(-1); }
  else if (ev.key === "Home") { stop(); S.steps[S.view] = 0; draw(); }
  else if (ev.key === "End") { stop(); S.steps[S.view] = nSteps(S.view); draw(); }
  else if (/^[1-5]$/.test(ev.key)) setView(VIEWS[+ev.key - 1]);
  else if (ev.key === "Escape") { S.pinned = null; S.hover = null; draw(); }   // unpin a clicked cell
}
function setLang(l) {
  LANG = l === "zh" ? "zh" : "en";
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("option[data-i18n]")) el.textContent = t(el.dataset.i18n);
  $("lang-en").classList.toggle("on", LANG === "en"); $("lang-zh").classList.toggle("on", LANG === "zh");
  $("lang-en").setAttribute("aria-pressed", LANG === "en"); $("lang-zh").setAttribute("aria-pressed", LANG === "zh");
  selfCheck();
  if (S.g) draw(); else compute();
}
function setTheme(dark) { S.dark = dark; document.body.classList.toggle("dark", dark); $("theme").checked = dark; if (S.g) draw(); }

function selfCheck() {
  const bad = [];
  for (const v of VECTORS) {
    const got = TC.outputSize(v.params);
    let same = got.ok === v.ok && JSON.stringify(v.ok ? got.out : got.error) === JSON.stringify(v.ok ? v.out : v.error);
    if (same && v.entries) same = JSON.stringify(TC.entries(TC.resolve(v.params))) === JSON.stringify(v.entries);
    if (same && v.y) {
      const g = TC.resolve(v.params);
      const x = Array.from({length: TC.prod(g.inSize)}, (_, i) => i % 4 + 1), w = Array.from({length: TC.prod(g.kernel)}, (_, i) => i % 3 + 1);
      same = JSON.stringify(EX.forward(g, x, w)) === JSON.stringify(v.y);
    }
    if (!same) bad.push(v);
  }
  const el = $("selfcheck");
  el.textContent = bad.length ? t("selfcheck_bad", bad.length, VECTORS.length) : t("selfcheck_ok", VECTORS.length);
  el.classList.toggle("fail", bad.length > 0);
  return bad;
}

function init() {
  const fromHash = readHash();
  setTheme(S.dark || (!fromHash && window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches && false));
  for (const k of FIELD_KEYS) $("f-" + k).addEventListener("input", () => { stop(); compute(); });
  for (const el of document.querySelectorAll("input[name=mode]")) el.addEventListener("change", () => { stop(); compute(); });
  for (const which of ["x", "w"]) $("preset-" + which).addEventListener("change", ev => {
    S[which + "p"] = ev.target.value === "custom" ? "article" : ev.target.value;
    if (ev.target.value === "random") S.seed++;
    compute(); });
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => setView(b.dataset.view));
  $("btn-play").addEventListener("click", togglePlay);
  $("btn-step").addEventListener("click", () => { stop(); stepBy(1); });
  $("btn-back").addEventListener("click", () => { stop(); stepBy(-1); });
  $("btn-reset").addEventListener("click", () => { stop(); S.steps[S.view] = 0; draw(); });
  $("btn-end").addEventListener("click", () => { stop(); S.steps[S.view] = nSteps(S.view); draw(); });
  $("speed").addEventListener("input", () => { if (S.playing) play(); });
  $("zoom").addEventListener("input", () => { S.zoom = +$("zoom").value; draw(); });
  $("lang-en").addEventListener("click", () => setLang("en"));
  $("lang-zh").addEventListener("click", () => setLang("zh"));
  $("theme").addEventListener("change", () => setTheme($("theme").checked));
  for (const id of ["cv-in", "cv-k", "cv-out", "cv-view"]) {
    const cv = $(id);
    cv.addEventListener("mousemove", onMove); cv.addEventListener("mouseleave", onLeave);
    cv.addEventListener("click", onClick);
    if (id !== "cv-view") { cv.addEventListener("keydown", canvasKey); cv.addEventListener("focus", draw); cv.addEventListener("blur", draw); }
  }
  const ed = $("editor");
  ed.addEventListener("keydown", ev => {
    if (ev.key === "Enter") { ev.preventDefault(); commitEditor(true); }
    else if (ev.key === "Escape") { ev.preventDefault(); commitEditor(false); }
    else if (ev.key === "Tab") { ev.preventDefault(); const which = ed.dataset.which, cv = $(ed.dataset.canvas);
      commitEditor(true); const key = which === "x" ? "in" : "k", n = (which === "x" ? S.x : S.w).length;
      S.cursor[key] = (S.cursor[key] + (ev.shiftKey ? n - 1 : 1)) % n; openEditor(cv, cv._regions[0], S.cursor[key]); }
    ev.stopPropagation();
  });
  ed.addEventListener("blur", () => commitEditor(true));
  document.addEventListener("keydown", globalKey);
  window.addEventListener("hashchange", () => { if (readHash()) { setTheme(S.dark); setLang(LANG); compute(); } });
  window.addEventListener("resize", () => draw());
  // printing uses the light colours (CSS): redraw the canvases with them, and back after
  if (window.matchMedia) window.matchMedia("print").addEventListener("change", () => draw());
  window.addEventListener("beforeprint", () => draw());
  window.addEventListener("afterprint", () => draw());
  compute();
  setLang(LANG);
}
init();
"""

#: the page; ``explorer_html`` fills the ``__NAME__`` placeholders
PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
:root{__CSSVARS__}
body{--bg:#ffffff;--ink:#111111;--ink-light:#ffffff;--edge:#555555;--pad:#ffffff;--mark:#f0a000;
  --heat0:#f7fbff;--heat1:#08306b;--done:#b9cfe6;--nz:#c6dbef;--kernel-active:#b5651d;--panel:#f6f6f6;
  --muted:#555555;--err-bg:#fff0f0;--err:#a00000;
  font:14px/1.4 system-ui,sans-serif;margin:12px 16px;color:var(--ink);background:var(--bg)}
@media screen{body.dark{--bg:#15171c;--ink:#e8e8e8;--ink-light:#ffffff;--edge:#8a8f99;--pad:#15171c;--mark:#ffb000;
  --input:#2f5f8f;--input-active:#8cc4ff;--output:#1f6b66;--output-active:#5fe0d6;--kernel:#6b6b6b;
  --inserted:#2a2d35;--zero-active:#4a5566;--heat0:#1b1e27;--heat1:#ffd166;--done:#2b4057;--nz:#34506d;
  --kernel-active:#f0a060;--panel:#20232b;--muted:#aab0ba;--err-bg:#3a1a1a;--err:#ff9a9a}}  /* print: always the light theme */
h1{font-size:19px;margin:0 0 6px;display:flex;gap:14px;align-items:baseline;flex-wrap:wrap}
h1 small{font-weight:normal;font-size:12px;color:var(--muted)}
.bar{display:flex;flex-wrap:wrap;gap:10px;align-items:end;margin:4px 0}
.bar label.f{display:flex;flex-direction:column;font-size:12px}
input,select,button{font:13px monospace;color:var(--ink);background:var(--bg);border:1px solid var(--edge);padding:3px 5px;border-radius:3px}
input:disabled{opacity:.45}
button{cursor:pointer;font-family:system-ui,sans-serif}
button.on,.tab.on{background:var(--ink);color:var(--bg)}
button:focus-visible,canvas:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid var(--mark);outline-offset:1px}
#hint{font-size:12px;color:var(--muted);max-width:1100px}
#call,#arith{font:13px monospace;white-space:pre-wrap;margin:3px 0}
#error{color:var(--err);background:var(--err-bg);border:1px solid var(--err);padding:6px;font:13px monospace;white-space:pre-wrap}
.hidden{display:none !important}
#too-big{padding:8px;background:var(--panel);border:1px solid var(--edge);white-space:normal;max-width:700px;min-width:280px}
#data{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start;margin-top:8px}
.panel h2{font-size:13px;margin:0 0 3px;font-weight:600}
.scroll{max-width:min(440px,92vw);max-height:380px;overflow:auto}
#view-wrap{margin-top:10px;border-top:1px solid var(--edge);padding-top:8px}
#tabs{display:flex;flex-wrap:wrap;gap:4px;margin-bottom:6px}
#transport{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:4px 0}
#view{max-width:100%;max-height:640px;overflow:auto;border:1px solid var(--panel)}
#caption,#info{font:13px monospace;white-space:pre-wrap;background:var(--panel);padding:5px 7px;margin-top:6px;min-height:1.4em}
#checker-text{margin:4px 0}
#verdict{font-weight:bold;font-size:14px}
#verdict.bad{color:var(--err)} #verdict.good{color:#2a8a2a}
#rule{font:12px monospace;white-space:pre-wrap;color:var(--ink)}
#selfcheck{font-size:12px;color:var(--muted);margin-top:10px}
#selfcheck.fail{color:var(--err);font-weight:bold}
#editor{position:absolute;z-index:5;box-sizing:border-box;text-align:center;padding:0;font:13px monospace}
canvas{display:block}
@media print{
  body{--panel:#ffffff;background:#fff;color:#000}
  .noprint,#transport,#tabs,#editor{display:none !important}
  .scroll,#view{max-height:none;overflow:visible;border:0}
}
</style></head>
<body>
<h1><span data-i18n="title">tconv explorer</span> <small>tconv __VERSION__ &middot; <span data-i18n="offline">works offline</span></small>
  <span class="noprint" style="font-size:13px;font-weight:normal">
    <button id="lang-en" aria-pressed="true">English</button><button id="lang-zh" aria-pressed="false">中文</button>
    <label style="margin-left:10px"><input type="checkbox" id="theme"> <span data-i18n="theme">dark theme</span></label>
  </span></h1>
<div class="bar" id="controls">
  <label class="f"><span data-i18n="operation">operation</span><span>
    <label><input type="radio" name="mode" id="mode-conv" value="conv" __CHECKED_CONV__> conv</label>
    <label><input type="radio" name="mode" id="mode-transpose" value="conv_transpose" __CHECKED_T__> conv_transpose</label></span></label>
  __FIELDS__
</div>
<div class="bar noprint">
  <label class="f"><span data-i18n="preset_in">input values</span><select id="preset-x">
    <option value="article" data-i18n="article">the article's numbers</option><option value="ones" data-i18n="ones">ones</option>
    <option value="random" data-i18n="random">random integers 1-4</option><option value="impulse" data-i18n="impulse">impulse</option>
    <option value="custom" data-i18n="custom">edited</option></select></label>
  <label class="f"><span data-i18n="preset_k">kernel values</span><select id="preset-w">
    <option value="article" data-i18n="article">the article's numbers</option><option value="ones" data-i18n="ones">ones</option>
    <option value="random" data-i18n="random">random integers 1-4</option><option value="impulse" data-i18n="impulse">impulse</option>
    <option value="custom" data-i18n="custom">edited</option></select></label>
  <label class="f"><span data-i18n="zoom">zoom</span><input type="range" id="zoom" min="0.5" max="3" step="0.25" value="1"></label>
</div>
<div id="hint" data-i18n="hint"></div>
<div id="call"></div>
<div><span data-i18n="out_size">output size</span>: <span id="out-size"></span></div>
<div id="arith"></div>
<div id="error" class="hidden"></div><div id="error-note" style="font-size:12px"></div>
<div id="too-big" class="hidden"></div>
<div id="main">
<div id="data">
  <div class="panel"><h2 id="h-in">input</h2><div class="scroll"><canvas id="cv-in" tabindex="0" aria-label="input values: arrows move, Enter or a digit edits"></canvas></div></div>
  <div class="panel"><h2 id="h-k">kernel</h2><div class="scroll"><canvas id="cv-k" tabindex="0" aria-label="kernel values: arrows move, Enter or a digit edits"></canvas></div></div>
  <div class="panel"><h2 id="h-out">output</h2><div class="scroll"><canvas id="cv-out" tabindex="0" aria-label="output: arrows move the highlighted cell"></canvas></div></div>
</div>
<div id="info"></div>
<div id="view-wrap">
  <div id="tabs" role="tablist">
    <button class="tab" role="tab" data-view="scatter" id="tab-scatter" data-i18n="v_scatter">1 scatter</button>
    <button class="tab" role="tab" data-view="sliding" id="tab-sliding">2 zero insertion</button>
    <button class="tab" role="tab" data-view="matrix" id="tab-matrix" data-i18n="v_matrix">3 matrix</button>
    <button class="tab" role="tab" data-view="phase" id="tab-phase" data-i18n="v_phase">4 sub-pixel</button>
    <button class="tab" role="tab" data-view="checker" id="tab-checker" data-i18n="v_checker">5 checkerboard</button>
  </div>
  <div id="transport">
    <button id="btn-reset">« <span data-i18n="reset">reset</span></button>
    <button id="btn-back">◀ <span data-i18n="back">back</span></button>
    <button id="btn-play">▶ play</button>
    <button id="btn-step"><span data-i18n="step">step</span> ▶</button>
    <button id="btn-end">»</button>
    <label><span data-i18n="speed">speed</span> <input type="range" id="speed" min="0.5" max="20" step="0.5" value="2"></label>
    <span id="step-label"></span>
  </div>
  <div id="checker-text" class="hidden"><div id="verdict"></div><div id="rule"></div></div>
  <div id="view"><canvas id="cv-view" tabindex="0" aria-label="the current view: Space plays, arrows or . and , step"></canvas></div>
  <div id="caption"></div>
</div>
</div>
<input id="editor" class="hidden" aria-label="cell value">
<div id="selfcheck"></div>
<script>
__PORT__
__NUM__
__I18N__
const VECTORS = __VECTORS__;
__APP__
</script>
</body></html>
"""
