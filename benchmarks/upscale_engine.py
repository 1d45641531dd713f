"""The up-scaler's NumPy engine: its banded path against the core's convolution.

``NumpyUpscaler`` runs the transposed and pixel-shuffle models on its banded engine
(``_banded``: per band of rows an im2col and one matrix product per layer, with bias, PReLU
and the following 1x1 convs applied while the band is in cache, the head as a product to
``K*K*P`` planes and shifted adds). This script measures it against engines built on the
core's ``tconv.conv``, on the shipped x2/x3/x4 models (``load_model(scale=s)``):

* ``banded``       -- the engine as shipped (bands on the model's own threads);
* ``shared_pool``  -- the same code with its bands on tconv's shared pool and scratch
  (``tconv._algorithms._parallel.for_each`` / ``scratch``, patched in here only);
* ``layerwise``    -- ``NumpyUpscaler._layerwise``: layer by layer on whole arrays, every conv
  a ``tconv.conv`` call (``conv_same``), PReLU in place;
* ``core_bands``   -- the banded schedule on core convolutions: every KxK body conv of a band
  a ``tconv.conv`` call (which runs its im2col blocks on the shared pool), the 1x1 convs
  matrix products, PReLU in place, the head ``conv_same`` (a 1x1 ``tconv.conv`` to
  ``K*K*P`` planes and shifted adds) per band;
* ``core_bands_pooled`` -- the same with the bands on the engine's own pool, as ``banded``
  runs them.

Cases: gray ``S x S`` images (seeded uniform noise; the work does not depend on the values)
through the model itself, and the RGB photo ``skimage.data.astronaut()`` (512 x 512) through
the public path, ``upscale_array`` with ``UpscaleOptions(scale=s)`` -- the default tile, as
``tconv upscale`` runs it. Each case is timed at every ``--threads`` (``tconv.set_num_threads``;
BLAS keeps its own setting) in ``--rounds`` paired rounds: every variant once per round, the
order reversed every other round, wall clock (``--cpu``: process CPU time on one thread,
BLAS's included -- far less inflated by other processes' load on a shared machine); the
table shows the median over rounds. Peak
memory is the ``tracemalloc`` peak of one call after every kept buffer is dropped (the
model's and tconv's), which also serves as the warm-up call. The table adds each call's
process CPU time (all threads, BLAS's included) and minor page faults (first writes to
freshly allocated memory), medians over rounds. Outputs are compared with the shipped
engine's (``max|d|``).

    python benchmarks/upscale_engine.py                          # the full grid (long)
    python benchmarks/upscale_engine.py --sizes 256 --scales 2 --threads 1 --rounds 3
    python benchmarks/upscale_engine.py --json upscale_engine.json
    python benchmarks/upscale_engine.py --cpu                    # shared machine: CPU time
    python benchmarks/upscale_engine.py --from-json upscale_engine.json
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import metadata, write_json  # noqa: E402

#: the grid, as data: scales, gray image sides, tconv threads; "photo" is astronaut()
GRID: dict[str, tuple[Any, ...]] = {"scales": (2, 3, 4), "sizes": (256, 512, 1024, "photo"),
                                    "threads": (2, 1)}
VARIANTS = ("banded", "shared_pool", "layerwise", "core_bands", "core_bands_pooled")


# -- the variants ------------------------------------------------------------------------

def _on_shared_pool(model: Any) -> Any:
    """``model`` with its bands on tconv's shared pool and per-thread scratch."""
    from tconv._algorithms._parallel import for_each, scratch

    model._for_each = lambda fn, items: for_each(fn, items)
    model._scratch = lambda name, size: scratch(name, size, np.float32)
    return model


def _core_bands(model: Any, y: np.ndarray, pooled: bool = False) -> np.ndarray:
    """The banded schedule on core convolutions: per band of rows, ``tconv.conv`` for the KxK
    conv of each segment (``conv_same`` for the head), the following 1x1 convs as matrix
    products, bias and PReLU in place; bands in order (``tconv.conv`` threads each one), or
    with ``pooled`` on the engine's own pool (``tconv.conv`` then runs in order inside)."""
    import tconv
    from tconv.apps.upscale.infer import _gate64, _skip64, conv_same
    from tconv.checkerboard import pixel_shuffle

    cfg, s = model.cfg, model.cfg.scale
    each = model._for_each if pooled else (lambda fn, items: [fn(i) for i in items])
    x = np.asarray(y, dtype=np.float32)
    rows, cols = x.shape
    band = max(1, model.BAND_PIXELS // cols)
    segs = model._segs
    pad = segs[0][0][3] // 2
    cur = np.pad(x, pad)[None]                                  # (1, H + 2p, W + 2p)
    # the first layer of each segment as a (C_out, C_in, K, K) conv weight
    weights = [seg[0][0].reshape(seg[0][0].shape[0], -1, seg[0][3], seg[0][3]) for seg in segs]
    for n, seg in enumerate(segs):
        k = seg[0][3]
        last = n + 1 == len(segs)
        if last and cfg.head == "transposed":
            (pr, qr), (pc, qc) = model.head_pad
        else:
            kk = model.head_w.shape[-1] if last else segs[n + 1][0][3]
            pr = qr = pc = qc = kk // 2
        nxt = np.zeros((seg[-1][0].shape[0], rows + pr + qr, cols + pc + qc), np.float32)

        def run(r0: int, n: int = n, seg: list = seg, k: int = k, cur: np.ndarray = cur,
                nxt: np.ndarray = nxt, pr: int = pr, pc: int = pc) -> None:
            r1 = min(r0 + band, rows)
            h = tconv.conv(cur[:, r0:r1 + k - 1], weights[n])    # valid conv of the band
            h = h.reshape(h.shape[0], -1)
            for idx, (w, b, am1, _) in enumerate(seg):
                if idx:
                    h = w @ h                                   # a 1x1 conv
                h += b
                h += np.minimum(h, 0.0) * am1                   # PReLU: h + (a-1)*min(h, 0)
            nxt[:, pr + r0:pr + r1, pc:pc + cols] = h.reshape(-1, r1 - r0, cols)

        each(run, list(range(0, rows, band)))
        cur = nxt
    kh = model.head_w.shape[-1]
    hr_rows = cur.shape[1] - kh + 1
    hb = max(1, model.BAND_PIXELS // cur.shape[2])
    phases = np.empty((model.head_w.shape[0], hr_rows, cur.shape[2] - kh + 1), np.float32)

    def head(t: int) -> None:
        t1 = min(t + hb, hr_rows)
        phases[:, t:t1] = conv_same(cur[:, t:t1 + kh - 1], model.head_w, model.head_b, 0)

    each(head, list(range(0, hr_rows, hb)))
    out = pixel_shuffle(phases[None], s)[0, 0]
    if cfg.head == "transposed":
        (cr0, cr1), (cc0, cc1) = model.head_crop
        out = out[cr0:out.shape[0] - cr1, cc0:out.shape[1] - cc1]
    if cfg.gated:
        out = out * _gate64(x, cfg)
    if cfg.skip:
        out = out + _skip64(x, cfg)
    return np.ascontiguousarray(out, dtype=np.float32)


class _Engine:
    """A model-like object (``cfg`` and ``__call__``) running one variant."""

    def __init__(self, model: Any, run: Callable[[np.ndarray], np.ndarray]) -> None:
        self.cfg, self.model, self.run = model.cfg, model, run

    def __call__(self, y: np.ndarray) -> np.ndarray:
        return self.run(y)

    def release(self) -> None:
        import tconv

        self.model.release_memory()
        tconv.release_memory()


def engines(scale: int, names: tuple[str, ...]) -> dict[str, _Engine]:
    from tconv.apps.upscale.infer import load_model

    out = {}
    for name in names:
        m = load_model(scale=scale)                             # one model (buffers) each
        if name == "banded":
            out[name] = _Engine(m, m._banded)
        elif name == "shared_pool":
            out[name] = _Engine(_on_shared_pool(m), m._banded)
        elif name == "layerwise":
            out[name] = _Engine(m, m._layerwise)
        elif name == "core_bands":
            out[name] = _Engine(m, lambda y, m=m: _core_bands(m, y))
        else:
            out[name] = _Engine(m, lambda y, m=m: _core_bands(m, y, pooled=True))
    return out


# -- measuring ---------------------------------------------------------------------------

def case_input(size: int | str) -> np.ndarray:
    if size == "photo":
        from skimage.data import astronaut

        return astronaut()
    return np.random.default_rng(0).random((int(size), int(size))).astype(np.float32)


def call(engine: _Engine, size: int | str, data: np.ndarray) -> np.ndarray:
    if size == "photo":
        from tconv.apps.upscale.infer import UpscaleOptions, upscale_array

        return upscale_array(data, UpscaleOptions(scale=engine.cfg.scale), model=engine)
    return engine(data)


def peak_bytes(engine: _Engine, size: int | str, data: np.ndarray) -> tuple[int, np.ndarray]:
    """tracemalloc peak of one call with nothing kept from before (also the warm-up)."""
    engine.release()
    tracemalloc.start()
    out = call(engine, size, data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import tconv

    clock = time.process_time if args.cpu else time.perf_counter
    results: list[dict[str, Any]] = []
    payload: dict[str, Any] = {"meta": metadata() | {
        "rounds": args.rounds, "clock": "process CPU time" if args.cpu else "wall",
        "variants": list(args.variants),
        "loadavg_start": os.getloadavg(), "command": " ".join(sys.argv)}, "rows": results}
    old = tconv.get_num_threads()
    try:
        for threads in args.threads:
            tconv.set_num_threads(threads)
            for scale in args.scales:
                eng = engines(scale, tuple(args.variants))
                for size in args.sizes:
                    data = case_input(size)
                    row: dict[str, Any] = {"scale": scale, "case": str(size),
                                           "threads": threads, "load": os.getloadavg()[0],
                                           "ms": {}, "peak_mb": {}, "max_diff": {}}
                    outs = {}
                    for name, e in eng.items():
                        peak, outs[name] = peak_bytes(e, size, data)
                        row["peak_mb"][name] = peak / 2**20
                    ref = outs[args.variants[0]].astype(np.float64)
                    for name in eng:
                        row["max_diff"][name] = float(np.abs(outs[name] - ref).max())
                    times: dict[str, list[float]] = {name: [] for name in eng}
                    cpu: dict[str, list[float]] = {name: [] for name in eng}
                    faults: dict[str, list[int]] = {name: [] for name in eng}
                    for r in range(args.rounds):
                        order = list(eng) if r % 2 == 0 else list(reversed(eng))
                        for name in order:
                            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                            c0, t0 = time.process_time(), clock()
                            call(eng[name], size, data)
                            times[name].append((clock() - t0) * 1e3)
                            cpu[name].append((time.process_time() - c0) * 1e3)
                            faults[name].append(
                                resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
                    row["ms"] = {n: statistics.median(t) for n, t in times.items()}
                    row["all_ms"] = times
                    row["cpu_ms"] = {n: statistics.median(t) for n, t in cpu.items()}
                    row["faults"] = {n: statistics.median(t) for n, t in faults.items()}
                    results.append(row)
                    print(format_row(row, args.variants), file=sys.stderr, flush=True)
                    if args.json:
                        write_json(args.json, payload)
                for e in eng.values():
                    e.release()
    finally:
        tconv.set_num_threads(old)
    payload["meta"]["loadavg_end"] = os.getloadavg()
    if args.json:
        write_json(args.json, payload)
    return payload


def header(variants: list[str]) -> str:
    ref = variants[0]
    cols = "".join(f" {v + ' ms':>16}" for v in variants)
    ratios = "".join(f" {v + '/' + ref:>22}" for v in variants[1:])
    mems = "".join(f" {v + ' MB':>16}" for v in variants)
    cpus = "".join(f" {v + ' cpu ms':>20}" for v in variants)
    faults = "".join(f" {v + ' faults':>20}" for v in variants)
    return f"{'scale':>5} {'case':>6} {'thr':>3} {'load':>5}{cols}{ratios}{mems}{cpus}{faults}"


def format_row(row: dict[str, Any], variants: list[str]) -> str:
    ref = variants[0]
    ms, mb = row["ms"], row["peak_mb"]
    cols = "".join(f" {ms[v]:16.0f}" for v in variants)
    ratios = "".join(f" {ms[v] / ms[ref]:22.2f}" for v in variants[1:])
    mems = "".join(f" {mb[v]:16.1f}" for v in variants)
    cpus = "".join(f" {row['cpu_ms'][v]:20.0f}" for v in variants) if "cpu_ms" in row else ""
    faults = "".join(f" {row['faults'][v]:20.0f}" for v in variants) if "faults" in row else ""
    return f"x{row['scale']:<4} {row['case']:>6} {row['threads']:>3} {row['load']:5.2f}" \
           f"{cols}{ratios}{mems}{cpus}{faults}"


def print_table(payload: dict[str, Any]) -> None:
    meta, rows = payload["meta"], payload["rows"]
    variants = meta["variants"]
    print(f"# {meta['processor']}, {meta['cpus']} CPUs, numpy {meta['numpy']}, "
          f"{meta['rounds']} paired rounds, {meta['clock']}, medians; load average "
          f"{tuple(round(v, 2) for v in meta['loadavg_start'])} at start, "
          f"{tuple(round(v, 2) for v in meta.get('loadavg_end', ()))} at end")
    print(f"# command: {meta['command']}")
    print(header(variants))
    for row in rows:
        print(format_row(row, variants))
    diff = max((d for row in rows for d in row["max_diff"].values()), default=0.0)
    print(f"# largest output difference from {variants[0]}: {diff:.3g} (gray: float32 Y; "
          "photo: uint8 levels)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="+", default=list(GRID["scales"]),
                    choices=(2, 3, 4))
    ap.add_argument("--sizes", nargs="+", default=[str(s) for s in GRID["sizes"]],
                    help="gray image sides, and/or 'photo' (astronaut, RGB, default tile)")
    ap.add_argument("--threads", type=int, nargs="+", default=list(GRID["threads"]))
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS,
                    help="the first is the reference of the ratios")
    ap.add_argument("--rounds", type=int, default=3, help="paired rounds (default 3)")
    ap.add_argument("--cpu", action="store_true",
                    help="process CPU time, one tconv and one BLAS thread (re-runs itself with "
                         "OPENBLAS_NUM_THREADS=1 etc.)")
    ap.add_argument("--json", help="write the results here (after every case)")
    ap.add_argument("--from-json", help="print a saved run's table, measuring nothing")
    args = ap.parse_args(argv)
    if args.from_json:
        import json

        with open(args.from_json) as f:
            print_table(json.load(f))
        return 0
    for s in args.sizes:
        if s != "photo" and not (s.isdigit() and int(s) >= 8):
            ap.error(f"--sizes {s!r} must be an int >= 8 or 'photo'")
    if args.rounds < 1 or any(t < 1 for t in args.threads):
        ap.error("--rounds and --threads must be positive")
    args.sizes = [s if s == "photo" else int(s) for s in args.sizes]
    if args.cpu:
        args.threads = [1]
        one = {v: "1" for v in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")}
        if any(os.environ.get(k) != "1" for k in one):   # BLAS reads them at start-up only
            os.execve(sys.executable, [sys.executable, *sys.argv], dict(os.environ, **one))
    print_table(measure(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
