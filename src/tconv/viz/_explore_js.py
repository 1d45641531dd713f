"""The explorer page's JavaScript: a port of tconv's shape arithmetic, validation messages
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
        const total = d[a] * (kk - 1) + 1 - s[a], small = floorDiv(total, 2);
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
