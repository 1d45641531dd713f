"""Benchmark ``tconv.interpolate`` against ``torch.nn.functional.interpolate``.

The grid (declared as data below): bilinear and bicubic, x2 and x4, on one
``1 x 3 x 1024 x 1024`` float32 image, ``align_corners=False`` -- the fixed-phase fast path
-- plus a few cases on the generic path (non-integer factor, nearest, area).
PyTorch runs in a child process (this script with ``--torch-worker``) right before tconv
runs here, so their thread pools never compete; the child also saves its outputs on a
small image so that the table can show tconv's max abs difference from torch.

Usage::

    python benchmarks/bench_interpolate.py                 # table
    python benchmarks/bench_interpolate.py --json out.json --repeat 9 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import metadata, timeit, write_json  # noqa: E402

#: (mode, scale factor) pairs timed: the fixed-phase fast path (integer factors), then
#: cases on the generic gather path, published whether they win or lose
CASES = [("bilinear", 2), ("bicubic", 2), ("bilinear", 4), ("bicubic", 4),
         ("bilinear", 1.5), ("bicubic", 1.5), ("nearest", 2), ("area", 0.5)]
SHAPE = (1, 3, 1024, 1024)
CHECK_SHAPE = (2, 3, 61, 47)      # small image for the accuracy column


def _inputs(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def torch_worker(repeat: int, shape: tuple[int, ...], check_path: str) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(_inputs(shape))
    xs = torch.from_numpy(_inputs(CHECK_SHAPE))
    results: dict[str, Any] = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    outputs = {}
    with torch.inference_mode():
        for mode, s in CASES:
            key = f"{mode} x{s}"
            results[key] = timeit(lambda s=s, mode=mode: F.interpolate(x, scale_factor=s,
                                                                       mode=mode),
                                  repeat=repeat)
            outputs[key] = F.interpolate(xs, scale_factor=s, mode=mode).numpy()
    np.savez(check_path, **outputs)
    return results


def run_torch(repeat: int, shape: tuple[int, ...], check_path: str) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", "--repeat",
           str(repeat), "--size", str(shape[-1]), "--check-path", check_path]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_tconv(repeat: int, shape: tuple[int, ...]) -> dict[str, Any]:
    from tconv.interpolate import interpolate

    x = _inputs(shape)
    return {f"{mode} x{s}": timeit(lambda s=s, mode=mode: interpolate(x, scale_factor=s,
                                                                      mode=mode),
                                   repeat=repeat) for mode, s in CASES}


def max_errors(check_path: str) -> dict[str, float]:
    from tconv.interpolate import interpolate

    xs = _inputs(CHECK_SHAPE)
    ref = np.load(check_path)
    return {f"{m} x{s}": float(np.abs(interpolate(xs, scale_factor=s, mode=m)
                                      - ref[f"{m} x{s}"]).max()) for m, s in CASES}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=7, help="timed calls per case (median)")
    p.add_argument("--rounds", type=int, default=1,
                   help="alternate torch/tconv rounds; the best median of each is kept")
    p.add_argument("--size", type=int, default=SHAPE[-1], help="image height = width")
    p.add_argument("--json", metavar="PATH", help="write all results as JSON")
    p.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--check-path", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    shape = (*SHAPE[:2], args.size, args.size)
    if args.torch_worker:
        print(json.dumps(torch_worker(args.repeat, shape, args.check_path)))
        return 0

    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        check_path = os.path.join(tmp, "torch_outputs.npz")
        for _ in range(args.rounds):
            rounds.append({"torch": run_torch(args.repeat, shape, check_path),
                           "tconv": run_tconv(args.repeat, shape)})
        errors = max_errors(check_path)

    def best(lib: str, key: str) -> dict[str, float]:
        return min((r[lib][key] for r in rounds), key=lambda t: t["median_ms"])

    rows = []
    print(f"interpolate, {shape} float32, align_corners=False; "
          f"torch {rounds[0]['torch']['torch']} ({rounds[0]['torch']['threads']} threads) in "
          "a separate process; median [IQR] ms")
    print(f"{'case':<12} {'tconv':>16} {'torch':>16} {'tconv/torch':>12} {'max|diff|':>10}")
    for mode, s in CASES:
        key = f"{mode} x{s}"
        a, b = best("tconv", key), best("torch", key)
        ratio = a["median_ms"] / b["median_ms"]
        rows.append({"case": key, "tconv": a, "torch": b, "ratio": ratio,
                     "max_abs_diff": errors[key]})
        print(f"{key:<12} {a['median_ms']:8.1f} [{a['iqr_ms']:5.1f}] "
              f"{b['median_ms']:8.1f} [{b['iqr_ms']:5.1f}] {ratio:12.2f} {errors[key]:10.1e}")
    if args.json:
        write_json(args.json, {"benchmark": "interpolate", "shape": shape, "rows": rows,
                               "rounds": rounds, "metadata": metadata()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
