"""``tconv.interpolate`` against ``torch.nn.functional.interpolate`` on the resize zoo
(``zoo_interpolate.py``), measured in one run.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_interpolate.py  # headline
    python benchmarks/bench_interpolate.py --cases decoder_bilinear_x2,mel_linear_x4 --rounds 5
    python benchmarks/bench_interpolate.py --no-numpy --json interp.json

Method (benchmarks/README.md): each library runs in its own fresh process (``--worker``) that
times every case and prints JSON; one round runs the torch worker, then tconv (default
install), then tconv with ``TCONV_NUMBA=0``, alternating the order from round to round. A
case's ratio in a round is tconv's median / torch's median of that round; the table shows the
median over rounds of those ratios, the median per-call IQR (as a percentage of the median)
and geometric means. Both libraries use the same thread count (``--threads``, default 2).
``--check`` also compares tconv's output with torch's on every case (max relative error).
On a shared machine add ``--cpu``: every library on one thread, timed by process CPU time,
which other processes' load inflates far less than wall time (torch's spinning OpenMP
threads suffer most from load, which flatters tconv's wall-time ratios).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import metadata, timeit, write_json  # noqa: E402
from zoo_interpolate import CITES, ZOO, kwargs, output_size  # noqa: E402

#: ratio limits of the targets (tconv / torch, same run)
LIMITS = {"max": 1.10, "geomean": 0.8}


def _cases(args: argparse.Namespace) -> list[dict[str, Any]]:
    if not args.cases:
        return list(ZOO)
    want = args.cases.split(",")
    unknown = set(want) - {c["name"] for c in ZOO}
    if unknown:
        raise SystemExit(f"bench_interpolate: unknown cases {sorted(unknown)}")
    return [c for c in ZOO if c["name"] in want]


def _input(case: dict[str, Any]) -> Any:
    import numpy as np

    return np.random.default_rng(0).standard_normal(case["x"]).astype(case["dtype"])


#: the clock: wall time (``perf_counter``), or process CPU time with ``--cpu``
CLOCK = time.perf_counter


def _cpu_timeit(fn: Any, repeat: int, max_seconds: float) -> dict[str, float]:
    """``common.timeit`` on the process CPU-time clock."""
    times: list[float] = []
    start = time.perf_counter()
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append((time.process_time() - t0) * 1e3)
        if time.perf_counter() - start > max_seconds and len(times) >= 3:
            break
    q = statistics.quantiles(times, n=4) if len(times) >= 2 else [times[0]] * 3
    return {"median_ms": statistics.median(times), "iqr_ms": q[2] - q[0],
            "min_ms": min(times), "n": float(len(times))}


def _time(fn: Any, budget: float) -> dict[str, float]:
    """Two warm-up calls, then calls for about ``budget`` seconds (5 to 50 calls; 3 for
    calls longer than the budget)."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    repeat = max(3 if once > budget else 5, min(50, int(budget / max(once, 1e-6))))
    if CLOCK is time.process_time:
        return _cpu_timeit(fn, repeat, 4 * budget)
    return timeit(fn, warmup=0, repeat=repeat, max_seconds=4 * budget)


def worker(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    global CLOCK
    if args.cpu:
        CLOCK = time.process_time
    out: dict[str, Any] = {}
    if args.worker == "torch":
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(args.threads)
        out["_threads"] = torch.get_num_threads()

        def call(x: Any, kw: dict[str, Any]) -> Any:
            return F.interpolate(x, **kw)

        def wrap(a: Any) -> Any:
            return torch.from_numpy(a)
    else:
        from tconv.interpolate import interpolate as call_np

        def call(x: Any, kw: dict[str, Any]) -> Any:
            return call_np(x, **kw)

        def wrap(a: Any) -> Any:
            return a

    saved = {}
    ctx: Any = __import__("torch").inference_mode() if args.worker == "torch" else None
    if ctx is not None:
        ctx.__enter__()
    for case in _cases(args):
        x, kw = wrap(_input(case)), kwargs(case)
        out[case["name"]] = _time(lambda x=x, kw=kw: call(x, kw), args.budget)
        if args.check_dir:
            saved[case["name"]] = np.asarray(call(x, kw))
    if ctx is not None:
        ctx.__exit__(None, None, None)
    if args.check_dir:
        np.savez(os.path.join(args.check_dir, f"{args.worker}.npz"), **saved)
    return out


def _spawn(args: argparse.Namespace, library: str, env: dict[str, str],
           check_dir: str | None) -> dict[str, Any]:
    argv = [sys.executable, os.path.abspath(__file__), "--worker", library,
            "--threads", str(args.threads), "--budget", str(args.budget)]
    if args.cases:
        argv += ["--cases", args.cases]
    if check_dir:
        argv += ["--check-dir", check_dir]
    if args.cpu:
        argv.append("--cpu")
    proc = subprocess.run(argv, env=dict(os.environ, **env), capture_output=True, text=True,
                          check=False)
    if proc.returncode:
        raise RuntimeError(f"worker {library} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _geomean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def _errors(check_dir: str) -> dict[str, float]:
    import numpy as np

    ref, got = (np.load(os.path.join(check_dir, f"{w}.npz")) for w in ("torch", "tconv"))
    return {k: float(np.abs(got[k] - ref[k]).max() / max(np.abs(ref[k]).max(), 1e-30))
            for k in ref.files}


def run(args: argparse.Namespace) -> dict[str, Any]:
    threads = str(args.threads)
    base = {"TCONV_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
    if args.cpu:
        base |= {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    variants = {"torch": ("torch", base), "tconv": ("tconv", base)}
    if args.numpy:
        variants["numpy"] = ("tconv", dict(base, TCONV_NUMBA="0"))
    rounds: list[dict[str, Any]] = []
    errors: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            names = list(variants) if r % 2 == 0 else list(reversed(variants))
            got = {}
            for name in names:
                lib, env = variants[name]
                check = tmp if args.check and r == 0 and name in ("torch", "tconv") else None
                got[name] = _spawn(args, lib, env, check)
                print(f"round {r + 1}/{args.rounds}: {name} done", file=sys.stderr)
            rounds.append(got)
        if args.check:
            errors = _errors(tmp)
    rows = []
    for case in _cases(args):
        n = case["name"]
        row: dict[str, Any] = {k: case[k] for k in ("name", "cite", "x", "mode", "size",
                                                     "scale", "align_corners", "antialias",
                                                     "dtype")}
        row["out"] = output_size(case)
        row["torch_ms"] = statistics.median(rd["torch"][n]["median_ms"] for rd in rounds)
        row["torch_iqr"] = statistics.median(rd["torch"][n]["iqr_ms"]
                                             / rd["torch"][n]["median_ms"] for rd in rounds)
        for v in variants:
            if v == "torch":
                continue
            row[f"{v}_ms"] = statistics.median(rd[v][n]["median_ms"] for rd in rounds)
            row[f"{v}_iqr"] = statistics.median(rd[v][n]["iqr_ms"] / rd[v][n]["median_ms"]
                                                for rd in rounds)
            row[f"{v}_ratio"] = statistics.median(rd[v][n]["median_ms"]
                                                  / rd["torch"][n]["median_ms"]
                                                  for rd in rounds)
        if n in errors:
            row["max_rel_err"] = errors[n]
        rows.append(row)
    summary = {}
    for v in variants:
        vals = [r[f"{v}_ratio"] for r in rows if f"{v}_ratio" in r]
        if vals:
            summary[v] = {"geomean": _geomean(vals), "max": max(vals),
                          "above_1.10": [r["name"] for r in rows
                                         if r[f"{v}_ratio"] > LIMITS["max"]]}
    return {"meta": metadata() | {"threads": args.threads, "rounds": args.rounds,
                                  "clock": "process CPU time" if args.cpu else "wall",
                                  "torch_threads": rounds[0]["torch"]["_threads"],
                                  "command": " ".join(sys.argv)},
            "rows": rows, "summary": summary}


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return f"**{v:.2f}**" if v > LIMITS["max"] else f"{v:.2f}"


def print_table(payload: dict[str, Any], file: Any = sys.stdout) -> None:
    rows, meta = payload["rows"], payload["meta"]
    has_np = any("numpy_ratio" in r for r in rows)
    has_err = any("max_rel_err" in r for r in rows)
    print(f"machine: {meta['processor']}, {meta['cpus']} CPUs; python {meta['python']}, "
          f"numpy {meta['numpy']}, numba {meta['numba']}; threads {meta['threads']}; "
          f"rounds {meta['rounds']}; clock {meta.get('clock', 'wall')}; "
          f"OPENBLAS/TCONV env: {meta['env'] or 'none'}", file=file)
    head = ["case", "input -> output", "mode", "torch ms (IQR)", "tconv/torch"]
    head += ["numpy-only/torch"] if has_np else []
    head += ["max rel err"] if has_err else []
    print("| " + " | ".join(head) + " |", file=file)
    print("|" + "---|" * len(head), file=file)
    for r in rows:
        mode = r["mode"] + (" ac" if r["align_corners"] else "") + \
            (" aa" if r["antialias"] else "") + (" f64" if r["dtype"] == "float64" else "")
        cells = [r["name"], f"{tuple(r['x'])} -> {tuple(r['out'])}", mode,
                 f"{r['torch_ms']:.3g} ({100 * r['torch_iqr']:.0f}%)", _fmt(r["tconv_ratio"])]
        if has_np:
            cells.append(_fmt(r.get("numpy_ratio")))
        if has_err:
            cells.append(f"{r.get('max_rel_err', float('nan')):.1e}")
        print("| " + " | ".join(cells) + " |", file=file)
    print(file=file)
    for v, s in payload["summary"].items():
        print(f"{v}/torch: geomean {s['geomean']:.3f}, max {s['max']:.2f}, above 1.10: "
              f"{', '.join(s['above_1.10']) or 'none'}", file=file)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", choices=("torch", "tconv"), help=argparse.SUPPRESS)
    ap.add_argument("--check-dir", help=argparse.SUPPRESS)
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--rounds", type=int, default=3, help="paired rounds (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads of both libraries")
    ap.add_argument("--budget", type=float, default=0.15,
                    help="seconds of timed calls per case (default 0.15)")
    ap.add_argument("--cpu", action="store_true",
                    help="process CPU time with one thread everywhere (a shared machine's "
                         "proxy: load inflates it far less than wall time)")
    ap.add_argument("--no-numpy", dest="numpy", action="store_false",
                    help="skip the TCONV_NUMBA=0 column")
    ap.add_argument("--check", action="store_true",
                    help="also report tconv's max relative error against torch per case")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--from-json", help="print a saved run's table, measuring nothing")
    ap.add_argument("--list", action="store_true", help="list the cases and their sources")
    args = ap.parse_args(argv)
    if args.list:
        for c in _cases(args):
            print(f"{c['name']:26s} {c['x']} -> {output_size(c)} {c['mode']}"
                  f"{' align_corners' if c['align_corners'] else ''}"
                  f"{' antialias' if c['antialias'] else ''} {c['dtype']}: {CITES[c['cite']]}")
        return 0
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    if args.from_json:
        with open(args.from_json) as f:
            print_table(json.load(f))
        return 0
    if args.cpu:
        args.threads = 1
    payload = run(args)
    print_table(payload)
    if args.json:
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
