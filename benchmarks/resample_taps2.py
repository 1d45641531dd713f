"""The two compiled loops of 2-D linear resizing, side by side, against the row reuse.

``resample2d_planes`` resamples each band's input rows along the last axis into a buffer,
then combines the rows: a row's horizontal sums are computed once and read by every output
row that needs it. ``resample2d_taps2`` computes every output from its four inputs: no
buffer, but a row's sums again for each output row that reads it. The reuse (taps of all
output rows over the rows the bands resample) decides which costs less;
``tconv.interpolate`` switches at ``_TAPS2_MAX_REUSE``.

Usage::

    python benchmarks/resample_taps2.py [--seed 0] [--count 24] [--repeat 40]

Seeded frames, shrinking and growing along each axis; one thread, process CPU time, the
20th percentile of ``repeat`` interleaved calls of each loop. Prints one line a shape
(``taps2/banded`` below 1: the direct loop is faster) and the ratio's geometric mean on
each side of the switch.
"""

from __future__ import annotations

import argparse
import importlib
import math
import time
from functools import partial

import numpy as np


def cpu_ms(fns: list, repeat: int) -> list[float]:
    """Per function, the 20th percentile of ``repeat`` interleaved calls (CPU ms)."""
    for f in fns:
        f()
    times: list[list[int]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, f in enumerate(fns):
            t0 = time.process_time_ns()
            f()
            times[i].append(time.process_time_ns() - t0)
    return [float(np.percentile(t, 20)) / 1e6 for t in times]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", type=int, default=24, help="shapes (default 24)")
    ap.add_argument("--repeat", type=int, default=40, help="calls a loop and shape")
    args = ap.parse_args(argv)
    interp = importlib.import_module("tconv.interpolate")
    from tconv._algorithms import _native

    kern = _native.kernels()
    banded, taps2 = kern["resample2d_planes"], kern["resample2d_taps2"]
    rng = np.random.default_rng(args.seed)
    below: list[float] = []
    above: list[float] = []
    print(f"{'input':>14} {'output':>12} {'reuse':>6} {'banded ms':>10} {'taps2 ms':>9} "
          f"{'taps2/banded':>12}")
    for _ in range(args.count):
        h, w = (int(v) for v in rng.integers(48, 1200, size=2))
        oh, ow = (max(2, int(v * rng.uniform(0.15, 3.0))) for v in (h, w))
        planes = max(1, int(2e6 // (h * w + oh * ow)))
        x = rng.standard_normal((planes, h, w)).astype(np.float32)
        rows, ih, wh, span, reuse = interp._read_rows(h, oh, "linear", False, None,
                                                      np.float32, x.dtype)
        iw, ww = interp._padded_table(w, ow, "linear", False, None, np.float32, x.dtype)
        fh, fw = interp._padded_table(h, oh, "linear", False, None, np.float32, x.dtype)
        out, out2 = np.empty((planes, oh, ow), np.float32), np.empty((planes, oh, ow),
                                                                       np.float32)
        tmp = np.empty((span, ow), np.float32)
        a, b = cpu_ms([
            partial(banded, x, rows, ih, wh, iw, ww, out, tmp, 0, planes, 0, oh,
                    interp._COMPILED_BAND),
            partial(taps2, x, fh, fw, iw, ww, out2, 0, planes, 0, oh)], args.repeat)
        if not np.array_equal(out, out2):
            raise AssertionError(f"the loops differ on {h}x{w} -> {oh}x{ow}")
        (below if reuse < interp._TAPS2_MAX_REUSE else above).append(b / a)
        print(f"{planes:>3}x{h:>4}x{w:<5} {oh:>5}x{ow:<6} {reuse:>6.2f} {a:>10.3f} {b:>9.3f} "
              f"{b / a:>12.2f}")
    for name, vals in (("reuse below", below), ("reuse at or above", above)):
        if vals:
            gm = math.exp(sum(math.log(v) for v in vals) / len(vals))
            print(f"{name} {interp._TAPS2_MAX_REUSE}: {len(vals)} shapes, taps2/banded "
                  f"geomean {gm:.2f}, max {max(vals):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
