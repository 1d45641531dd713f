"""conv_transpose on the layer zoo (``zoo_conv_transpose.py``): tconv ``auto`` against PyTorch,
forward and backward, with and without numba, measured in one run.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_zoo.py   # headline
    python benchmarks/bench_zoo.py --layers melgan_512_k16s8,fsrcnn_x2 --rounds 5
    python benchmarks/bench_zoo.py --sweep 0 --no-backward --json zoo.json

Method (benchmarks/README.md): each library runs in its own fresh process (``--worker``) that
times every layer and prints JSON; one round runs the torch worker, then tconv (default
install), then tconv with ``TCONV_NUMBA=0``, alternating the order from round to round. A
layer's ratio in a round is tconv's median / torch's median of that round; the table shows the
median over rounds of those ratios, the median per-call IQR (as a percentage of the median)
and geometric means. Both libraries use the same thread count (``--threads``, default 2).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import metadata, timeit, write_json  # noqa: E402
from zoo_conv_transpose import CITES, ZOO, output_size, sweep, useful_macs  # noqa: E402

#: ratio limits of the targets (tconv / torch, same run)
LIMITS = {"forward_max": 1.10, "forward_geomean": 0.6, "backward_geomean": 0.8,
          "numpy_geomean": 1.0, "numpy_max": 1.5}


def _layers(args: argparse.Namespace) -> list[dict[str, Any]]:
    layers = list(ZOO) + sweep(args.sweep, args.seed)
    if args.layers:
        want = set(args.layers.split(","))
        layers = [lay for lay in layers if lay["name"] in want]
    return layers


def _inputs(layer: dict[str, Any]) -> tuple[Any, Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    dt = np.dtype(layer["dtype"])
    x = rng.standard_normal(layer["x"]).astype(dt)
    w = (rng.standard_normal(layer["w"]) / math.sqrt(math.prod(layer["w"][1:]))).astype(dt)
    gy = rng.standard_normal((layer["x"][0], layer["w"][1] * layer["groups"],
                              *output_size(layer))).astype(dt)
    return x, w, gy


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
    """Warm-up (two calls: the first pays one-off compilation or cache loads), then calls for
    about ``budget`` seconds (at least 5, at most 50; 3 for calls longer than the budget)."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    repeat = max(3 if once > budget else 5, min(50, int(budget / max(once, 1e-6))))
    if CLOCK is time.process_time:
        return _cpu_timeit(fn, repeat, 4 * budget)
    return timeit(fn, warmup=0, repeat=repeat, max_seconds=4 * budget)


def _torch_layer(lay: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import torch

    x, w, gy = (torch.from_numpy(a) for a in _inputs(lay))
    nd = x.dim() - 2
    s, p, d, op = ([lay[k]] * nd for k in ("stride", "padding", "dilation", "output_padding"))
    g = lay["groups"]
    with torch.inference_mode():
        fwd = _time(lambda: torch.ops.aten.convolution(x, w, None, s, p, d, True, op, g),
                    args.budget)
        bwd = _time(lambda: torch.ops.aten.convolution_backward(
            gy, x, w, [w.shape[1] * g], s, p, d, True, op, g, [True, True, True]),
            args.budget) if args.backward else None
    return {"forward": fwd, "backward": bwd}


def _tconv_layer(lay: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import tconv
    from tconv._algorithms import _cost

    x, w, gy = _inputs(lay)
    geo = (lay["stride"], lay["padding"], lay["output_padding"], lay["groups"],
           lay["dilation"])
    fwd = _time(lambda: tconv.conv_transpose(x, w, None, *geo), args.budget)
    bwd = _time(lambda: tconv.conv_transpose_backward(gy, x, w, *geo), args.budget) \
        if args.backward else None
    choice = tconv.explain_algorithm(x.shape, w.shape, *geo, dtype=x.dtype)
    return {"forward": fwd, "backward": bwd, "algorithm": choice.algorithm,
            "compiled": _cost.features(x.shape, w.shape, _cost.params(x.shape, w.shape, *geo),
                                       x.dtype).compiled}


def worker(args: argparse.Namespace) -> dict[str, Any]:
    global CLOCK
    if args.cpu:
        CLOCK = time.process_time
    out: dict[str, Any] = {}
    if args.worker == "torch":
        import torch

        torch.set_num_threads(args.threads)
        out["_threads"] = torch.get_num_threads()
    run_one = _torch_layer if args.worker == "torch" else _tconv_layer
    for lay in _layers(args):
        t0 = time.perf_counter()
        out[lay["name"]] = run_one(lay, args)
        out[lay["name"]]["wall_s"] = time.perf_counter() - t0
    return out


def _spawn(args: argparse.Namespace, library: str, env: dict[str, str]) -> dict[str, Any]:
    argv = [sys.executable, os.path.abspath(__file__), "--worker", library,
            "--threads", str(args.threads), "--budget", str(args.budget),
            "--sweep", str(args.sweep), "--seed", str(args.seed)]
    if args.layers:
        argv += ["--layers", args.layers]
    if not args.backward:
        argv.append("--no-backward")
    if args.cpu:
        argv.append("--cpu")
    full = dict(os.environ, **env)
    proc = subprocess.run(argv, env=full, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"worker {library} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _geomean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def run(args: argparse.Namespace) -> dict[str, Any]:
    threads = str(args.threads)
    base = {"TCONV_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
    if args.cpu:
        base |= {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    variants = {"torch": ("torch", base), "tconv": ("tconv", base)}
    if args.numpy:
        variants["numpy"] = ("tconv", dict(base, TCONV_NUMBA="0"))
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        names = list(variants) if r % 2 == 0 else list(reversed(variants))
        got = {}
        for name in names:
            lib, env = variants[name]
            got[name] = _spawn(args, lib, env)
            print(f"round {r + 1}/{args.rounds}: {name} done", file=sys.stderr)
        rounds.append(got)
    rows = []
    for lay in _layers(args):
        row: dict[str, Any] = {"name": lay["name"], "cite": lay["cite"],
                               "variant": lay["variant"], "dtype": lay["dtype"],
                               "x": lay["x"], "w": lay["w"], "stride": lay["stride"],
                               "groups": lay["groups"], "macs": useful_macs(lay),
                               "algorithm": rounds[0]["tconv"][lay["name"]]["algorithm"]}
        for op in ("forward", "backward") if args.backward else ("forward",):
            torch_ms = [rd["torch"][lay["name"]][op]["median_ms"] for rd in rounds]
            row[f"torch_{op}_ms"] = statistics.median(torch_ms)
            row[f"torch_{op}_iqr"] = statistics.median(
                rd["torch"][lay["name"]][op]["iqr_ms"] / rd["torch"][lay["name"]][op]
                ["median_ms"] for rd in rounds)
            for v in variants:
                if v == "torch":
                    continue
                ms = [rd[v][lay["name"]][op]["median_ms"] for rd in rounds]
                ratios = [rd[v][lay["name"]][op]["median_ms"]
                          / rd["torch"][lay["name"]][op]["median_ms"] for rd in rounds]
                row[f"{v}_{op}_ms"] = statistics.median(ms)
                row[f"{v}_{op}_iqr"] = statistics.median(
                    rd[v][lay["name"]][op]["iqr_ms"] / rd[v][lay["name"]][op]["median_ms"]
                    for rd in rounds)
                row[f"{v}_{op}_ratio"] = statistics.median(ratios)
        rows.append(row)
    return {"meta": metadata() | {"threads": args.threads, "rounds": args.rounds,
                                  "clock": "process CPU time" if args.cpu else "wall",
                                  "torch_threads": rounds[0]["torch"]["_threads"],
                                  "command": " ".join(sys.argv)},
            "rows": rows, "summary": summary(rows, args)}


def summary(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for v in ("tconv", "numpy"):
        for op in ("forward", "backward"):
            key = f"{v}_{op}_ratio"
            vals = [r[key] for r in rows if key in r]
            if not vals:
                continue
            out[key] = {"geomean": _geomean(vals), "max": max(vals),
                        "above_1.10": [r["name"] for r in rows if r.get(key, 0) > 1.10]}
    return out


def _fmt_ratio(v: float | None) -> str:
    if v is None:
        return ""
    return f"**{v:.2f}**" if v > LIMITS["forward_max"] else f"{v:.2f}"


def print_table(payload: dict[str, Any], file: Any = sys.stdout) -> None:
    rows = payload["rows"]
    meta = payload["meta"]
    has_bwd = any("torch_backward_ms" in r for r in rows)
    has_np = any("numpy_forward_ratio" in r for r in rows)
    print(f"machine: {meta['processor']}, {meta['cpus']} CPUs; python {meta['python']}, "
          f"numpy {meta['numpy']}, numba {meta['numba']}; threads {meta['threads']}; "
          f"clock {meta.get('clock', 'wall')}; "
          f"OPENBLAS/TCONV env: {meta['env'] or 'none'}", file=file)
    head = ["layer", "shape", "auto", "torch fwd ms", "fwd ratio"]
    if has_np:
        head.append("numpy-only fwd")
    if has_bwd:
        head += ["torch bwd ms", "bwd ratio"]
        if has_np:
            head.append("numpy-only bwd")
    print("| " + " | ".join(head) + " |", file=file)
    print("|" + "---|" * len(head), file=file)
    for r in rows:
        shape = f"{tuple(r['x'])} w{tuple(r['w'])} s{r['stride']} g{r['groups']}" + \
            (" f64" if r["dtype"] == "float64" else "")
        cells = [r["name"], shape, r["algorithm"], f"{r['torch_forward_ms']:.3g}",
                 _fmt_ratio(r["tconv_forward_ratio"])]
        if has_np:
            cells.append(_fmt_ratio(r.get("numpy_forward_ratio")))
        if has_bwd:
            cells += [f"{r['torch_backward_ms']:.3g}", _fmt_ratio(r["tconv_backward_ratio"])]
            if has_np:
                cells.append(_fmt_ratio(r.get("numpy_backward_ratio")))
        print("| " + " | ".join(cells) + " |", file=file)
    print(file=file)
    for key, s in payload["summary"].items():
        print(f"{key}: geomean {s['geomean']:.3f}, max {s['max']:.2f}, above 1.10: "
              f"{', '.join(s['above_1.10']) or 'none'}", file=file)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", choices=("torch", "tconv"), help=argparse.SUPPRESS)
    ap.add_argument("--layers", default="", help="comma-separated layer names (default: all)")
    ap.add_argument("--sweep", type=int, default=20, help="random layers added (default 20)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random sweep")
    ap.add_argument("--rounds", type=int, default=3, help="paired rounds (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads of both libraries")
    ap.add_argument("--budget", type=float, default=0.15,
                    help="seconds of timed calls per layer and op (default 0.15)")
    ap.add_argument("--no-backward", dest="backward", action="store_false")
    ap.add_argument("--cpu", action="store_true",
                    help="process CPU time with one thread everywhere (a shared machine's "
                         "proxy: load inflates it far less than wall time)")
    ap.add_argument("--no-numpy", dest="numpy", action="store_false",
                    help="skip the TCONV_NUMBA=0 column")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--from-json", help="print a saved run's tables, measuring nothing")
    ap.add_argument("--list", action="store_true", help="list the layers and citations")
    args = ap.parse_args(argv)
    if args.list:
        for lay in _layers(args):
            print(f"{lay['name']:22s} x{lay['x']} w{lay['w']} s{lay['stride']} "
                  f"p{lay['padding']} op{lay['output_padding']} g{lay['groups']} "
                  f"d{lay['dilation']} {lay['dtype']}: {CITES.get(lay['cite'], lay['cite'])}"
                  + (f" ({lay['variant']})" if lay["variant"] else ""))
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
