"""``tconv bench``: run the conv_transpose benchmark suite against PyTorch.

Runs ``benchmarks/bench_conv_transpose.py`` from a source checkout (the suite is not part
of the installed package): every tconv algorithm and ``auto`` against PyTorch, each library
in its own processes, median and IQR over rounds, GFLOP/s and % of the measured matrix-
product peak, peak memory, and the multiply-adds of each algorithm. The method is written
down in ``benchmarks/README.md``; measured tables live in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
from types import ModuleType

from ._outputs import add_overwrite, check_file_in, check_file_out
from ._train_options import int_at_least

SUITE = "bench_conv_transpose.py"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench", help="benchmark conv_transpose (every algorithm and auto) against PyTorch",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=__doc__,
        epilog="examples:\n"
               "  tconv bench                                  # the whole suite, ~15 min\n"
               "  tconv bench --shapes a1,c2 --rounds 5 --json bench.json\n"
               "  tconv bench --algorithms auto --no-backward --no-memory\n"
               "  tconv bench --no-torch --shapes e1           # tconv only\n"
               "  tconv bench --from-json bench.json           # a saved run's targets")
    p.add_argument("--shapes", help="comma-separated shape names (a1..a4, b1, b2, c1, c2, d, "
                   "e1, e2; default all)")
    p.add_argument("--algorithms", help="comma-separated: auto, gemm, phase, matrix, "
                   "scatter, zero_insertion (default all)")
    p.add_argument("--rounds", type=int_at_least(1, 1000), default=3,
                   help="torch/tconv process pairs per shape")
    p.add_argument("--repeat", type=int_at_least(1, 100000), default=7,
                   help="timed calls per process, at least")
    p.add_argument("--no-backward", action="store_true", help="skip grad_input/grad_weight")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    p.add_argument("--no-torch", action="store_true", help="tconv only")
    p.add_argument("--json", metavar="PATH", help="also write every result as JSON")
    add_overwrite(p, "the --json file")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--from-json", metavar="PATH", help="measure nothing: print the tables "
                   "and the targets met of a run saved with --json")
    p.add_argument("--suite", metavar="PATH", help=f"path to {SUITE} (default: found in "
                   "./benchmarks or next to the tconv sources)")
    p.set_defaults(func=run)


def find_suite(path: str | None = None) -> pathlib.Path:
    """The benchmark script: ``path``, ``./benchmarks``, or the checkout tconv runs from."""
    import tconv

    candidates = [pathlib.Path(path)] if path else [
        pathlib.Path.cwd() / "benchmarks" / SUITE,
        pathlib.Path(tconv.__file__).resolve().parents[2] / "benchmarks" / SUITE,
    ]
    for cand in candidates:
        if cand.is_file():
            return cand
    raise FileNotFoundError(
        f"cannot find the benchmark suite {SUITE} (looked at "
        f"{', '.join(str(c) for c in candidates)}); run from a tconv source checkout or pass "
        "--suite PATH")


def _load(path: pathlib.Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("tconv_bench_suite", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (SyntaxError, ValueError) as exc:          # not Python (a picture, a text file)
        raise ValueError(f"--suite {str(path)!r} is not the benchmark suite "
                         f"({type(exc).__name__}: {exc})") from None
    if not callable(getattr(module, "main", None)):
        raise ValueError(f"--suite {str(path)!r} is not the benchmark suite (it has no "
                         f"main(argv)); name {SUITE} of a tconv source checkout")
    return module


def suite_argv(args: argparse.Namespace) -> list[str]:
    """The suite's own command line for these options."""
    argv = ["--rounds", str(args.rounds), "--repeat", str(args.repeat)]
    for name in ("shapes", "algorithms", "json", "from_json"):
        if getattr(args, name):
            argv += [f"--{name.replace('_', '-')}", getattr(args, name)]
    for flag in ("no_backward", "no_memory", "no_torch", "quiet"):
        if getattr(args, flag):
            argv.append("--" + flag.replace("_", "-"))
    return argv


def run(args: argparse.Namespace) -> int:
    path = find_suite(args.suite)
    if args.from_json is not None:
        check_file_in("--from-json", pathlib.Path(args.from_json))
    if args.json is not None:                  # refused now, not after the measurements
        check_file_out("--json", pathlib.Path(args.json), args.overwrite)
    return int(_load(path).main(suite_argv(args)) or 0)
