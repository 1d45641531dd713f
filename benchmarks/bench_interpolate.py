"""``tconv.interpolate`` against ``torch.nn.functional.interpolate`` on the resize zoo
(``zoo_interpolate.py``), measured in one run.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_interpolate.py  # headline
    python benchmarks/bench_interpolate.py --cases decoder_bilinear_x2,mel_linear_x4 --rounds 5
    python benchmarks/bench_interpolate.py --no-numpy --json interp.json
    python benchmarks/bench_interpolate.py --sweep 40 --seed 1 --no-zoo   # unseen resizes

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
import os
import sys
import tempfile
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import (  # noqa: E402
    add_paired_arguments,
    budget_timeit,
    geomean,
    median_stats,
    meta_line,
    paired_main,
    paired_rounds,
    run_meta,
    run_worker,
    worker_argv,
)
from zoo_interpolate import CITES, ZOO, kwargs, output_size, sweep  # noqa: E402

#: ratio limits of the targets (tconv / torch, same run)
LIMITS = {"max": 1.10, "geomean": 0.8}


def _cases(args: argparse.Namespace) -> list[dict[str, Any]]:
    every = ([] if args.no_zoo else list(ZOO)) + (sweep(args.sweep, args.seed)
                                                   if args.sweep else [])
    if not args.cases:
        return every
    want = args.cases.split(",")
    unknown = set(want) - {c["name"] for c in every}
    if unknown:
        raise SystemExit(f"bench_interpolate: unknown cases {sorted(unknown)}")
    return [c for c in every if c["name"] in want]


def _input(case: dict[str, Any]) -> Any:
    import numpy as np

    return np.random.default_rng(0).standard_normal(case["x"]).astype(case["dtype"])


def worker(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

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
        out[case["name"]] = budget_timeit(lambda x=x, kw=kw: call(x, kw), args.budget,
                                          cpu=args.cpu)
        if args.check_dir:
            saved[case["name"]] = np.asarray(call(x, kw))
    if ctx is not None:
        ctx.__exit__(None, None, None)
    if args.check_dir:
        np.savez(os.path.join(args.check_dir, f"{args.worker}.npz"), **saved)
    return out


def _spawn(args: argparse.Namespace, library: str, env: dict[str, str],
           check_dir: str | None) -> dict[str, Any]:
    argv = worker_argv(__file__, library, args)
    if args.cases:
        argv += ["--cases", args.cases]
    argv += ["--sweep", str(args.sweep), "--seed", str(args.seed)]
    if args.no_zoo:
        argv.append("--no-zoo")
    if check_dir:
        argv += ["--check-dir", check_dir]
    return run_worker(argv, library, env)


def _errors(check_dir: str) -> dict[str, float]:
    import numpy as np

    ref, got = (np.load(os.path.join(check_dir, f"{w}.npz")) for w in ("torch", "tconv"))
    return {k: float(np.abs(got[k] - ref[k]).max() / max(np.abs(ref[k]).max(), 1e-30))
            for k in ref.files}


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        def spawn(r: int, name: str, lib: str, env: dict[str, str]) -> dict[str, Any]:
            check = tmp if args.check and r == 0 and name in ("torch", "tconv") else None
            return _spawn(args, lib, env, check)

        variants, rounds = paired_rounds(args, spawn)
        errors = _errors(tmp) if args.check else {}
    rows = []
    for case in _cases(args):
        n = case["name"]
        row: dict[str, Any] = {k: case[k] for k in ("name", "cite", "x", "mode", "size",
                                                     "scale", "align_corners", "antialias",
                                                     "dtype")}
        row["out"] = output_size(case)
        torch_runs = [rd["torch"][n] for rd in rounds]
        for v in variants:
            stats = median_stats([rd[v][n] for rd in rounds],
                                 None if v == "torch" else torch_runs)
            for k, val in stats.items():
                row[f"{v}_{k}"] = val
        if n in errors:
            row["max_rel_err"] = errors[n]
        rows.append(row)
    summary = {}
    for v in variants:
        vals = [r[f"{v}_ratio"] for r in rows if f"{v}_ratio" in r]
        if vals:
            summary[v] = {"geomean": geomean(vals), "max": max(vals),
                          "above_1.10": [r["name"] for r in rows
                                         if r[f"{v}_ratio"] > LIMITS["max"]]}
    return {"meta": run_meta(args, rounds), "rows": rows, "summary": summary}


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return f"**{v:.2f}**" if v > LIMITS["max"] else f"{v:.2f}"


def print_table(payload: dict[str, Any], file: Any = sys.stdout) -> None:
    rows, meta = payload["rows"], payload["meta"]
    has_np = any("numpy_ratio" in r for r in rows)
    has_err = any("max_rel_err" in r for r in rows)
    print(meta_line(meta), file=file)
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
    add_paired_arguments(ap, "case")
    ap.add_argument("--check-dir", help=argparse.SUPPRESS)
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--sweep", type=int, default=0,
                    help="also time this many seeded random resizes (zoo_interpolate.sweep)")
    ap.add_argument("--seed", type=int, default=0, help="seed of --sweep (default 0)")
    ap.add_argument("--no-zoo", action="store_true", help="time only the --sweep cases")
    ap.add_argument("--check", action="store_true",
                    help="also report tconv's max relative error against torch per case")
    ap.add_argument("--list", action="store_true", help="list the cases and their sources")
    args = ap.parse_args(argv)
    if args.list:
        for c in _cases(args):
            print(f"{c['name']:26s} {c['x']} -> {output_size(c)} {c['mode']}"
                  f"{' align_corners' if c['align_corners'] else ''}"
                  f"{' antialias' if c['antialias'] else ''} {c['dtype']}: {CITES[c['cite']]}")
        return 0
    return paired_main(args, worker, run, print_table)


if __name__ == "__main__":
    raise SystemExit(main())
