"""Mutation testing of tconv's NumPy core: does a changed line make a test fail?

Each mutant is one single-node change of one core module -- a flipped comparison
(``<`` / ``<=``, ``==`` / ``!=``, ``in`` / ``not in``), an off-by-one integer constant, ``+``
/ ``-`` or ``*`` / ``//`` swapped, ``min`` / ``max`` swapped, ``and`` / ``or`` swapped, a
``not`` dropped, or a keyword argument of a call dropped (an ignored argument). Error-message
text (f-strings) and docstrings are never mutated.

A seeded sample of the mutation sites is drawn; each mutant is written into a private copy
of ``src/`` (the working tree is never modified) and the module's mirror tests run against
it (``tests/test_<module>.py`` and friends, see ``MIRRORS``, plus every
``tests/test_mutation_gaps*.py``), stopping at the first failure. A mutant is *killed* when
a test fails (or the run exceeds the timeout), *survives* when all pass. Survivors are
printed with their diff line so each can be triaged as equivalent or as a missing test.

Usage::

    python tools/mutation.py --sample 60 --seed 26            # `make mutation`
    python tools/mutation.py --modules shapes,conventions --sample 0   # every site
    python tools/mutation.py --list                           # sites per module

Why not mutmut / cosmic-ray: this samples sites across modules with a seed and runs each
module's own tests from a copy of ``src`` while other work goes on in the tree; mutmut 3
runs the whole suite per mutant from its ``mutants/`` copy and has no seeded sample, and
cosmic-ray needs a session database and one test command for all modules.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "tconv"

#: module (path under src/tconv) -> its mirror tests
MIRRORS: dict[str, list[str]] = {
    "_checks.py": ["tests/test_conv.py", "tests/test_shapes.py", "tests/test_grad.py"],
    "shapes.py": ["tests/test_shapes.py"],
    "conventions.py": ["tests/test_conventions.py", "tests/test_conventions_onnx.py",
                       "tests/test_conventions_solve.py"],
    "matrix.py": ["tests/test_matrix.py", "tests/algorithms/test_matrix.py"],
    "kernels.py": ["tests/test_kernels.py"],
    "checkerboard.py": ["tests/test_checkerboard.py"],
    "conv.py": ["tests/test_conv.py"],
    "grad.py": ["tests/test_grad.py"],
    "interpolate.py": ["tests/test_interpolate.py"],
    # macs() (the multiply-adds each algorithm performs) is tested in test_macs.py
    "_algorithms/phase.py": ["tests/algorithms/test_phase.py", "tests/algorithms/test_macs.py"],
    "_algorithms/gemm.py": ["tests/algorithms/test_gemm.py", "tests/algorithms/test_macs.py"],
    "_algorithms/scatter.py": ["tests/algorithms/test_scatter.py"],
    "_algorithms/zero_insertion.py": ["tests/algorithms/test_zero_insertion.py",
                                      "tests/algorithms/test_macs.py"],
    "_algorithms/_im2col.py": ["tests/algorithms/test_gemm.py", "tests/test_grad.py"],
}

_COMPARE_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
                 ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
                 ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BINOP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv,
               ast.FloorDiv: ast.Mult}


@dataclass
class Site:
    module: str
    index: int          # position of the node in ast.walk order
    variant: str        # what is changed
    line: int
    col: int
    text: str           # the original source line
    node: str           # the mutated node's source before the change

    @property
    def key(self) -> str:
        return f"{self.module}:{self.line}:{self.col}:{self.variant}"


def _skipped(tree: ast.AST) -> set[int]:
    """Nodes never mutated: f-strings (messages), docstrings, ``__all__``, type annotations."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip |= {id(n) for n in ast.walk(node)}
        if isinstance(node, (ast.AnnAssign, ast.arg)) and getattr(node, "annotation", None):
            skip |= {id(n) for n in ast.walk(node.annotation)}
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            skip |= {id(n) for n in ast.walk(node.returns)}
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            skip |= {id(n) for n in ast.walk(node)}
    return skip


def _variants(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE_SWAP:
        return [f"compare {type(node.ops[0]).__name__}->"
                f"{_COMPARE_SWAP[type(node.ops[0])].__name__}"]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
        return [f"binop {type(node.op).__name__}->{_BINOP_SWAP[type(node.op)].__name__}"]
    if (isinstance(node, ast.Constant) and type(node.value) is int):
        return ["const +1"] + (["const -1"] if node.value != 0 else [])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in ("min", "max"):
        return [f"call {node.func.id}->{'max' if node.func.id == 'min' else 'min'}"]
    if isinstance(node, ast.BoolOp):
        swapped = "Or" if isinstance(node.op, ast.And) else "And"
        return [f"boolop {type(node.op).__name__}->{swapped}"]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ["drop not"]
    if isinstance(node, ast.Call):
        return [f"drop keyword {kw.arg}" for kw in node.keywords if kw.arg is not None]
    return []


def sites(module: str, root: Path = SRC) -> list[Site]:
    path = root / module
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    skip = _skipped(tree)
    found = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skip or not hasattr(node, "lineno"):
            continue
        for variant in _variants(node):
            found.append(Site(module, index, variant, node.lineno, node.col_offset,
                              lines[node.lineno - 1].strip(), ast.unparse(node)[:60]))
    return found


def mutate(module: str, site: Site, root: Path = SRC) -> str:
    """The module's source (under ``root``) with ``site`` changed."""
    tree = ast.parse((root / module).read_text())
    node = list(ast.walk(tree))[site.index]
    v = site.variant
    if v.startswith("compare"):
        node.ops = [_COMPARE_SWAP[type(node.ops[0])]()]
    elif v.startswith("binop"):
        node.op = _BINOP_SWAP[type(node.op)]()
    elif v == "const +1":
        node.value += 1
    elif v == "const -1":
        node.value -= 1
    elif v.startswith("call"):
        node.func.id = "max" if node.func.id == "min" else "min"
    elif v.startswith("boolop"):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif v == "drop not":
        parent = next(p for p in ast.walk(tree) for f, val in ast.iter_fields(p)
                      if val is node or (isinstance(val, list) and any(x is node for x in val)))
        for field, value in ast.iter_fields(parent):
            if value is node:
                setattr(parent, field, node.operand)
            elif isinstance(value, list):
                setattr(parent, field, [node.operand if x is node else x for x in value])
    elif v.startswith("drop keyword"):
        name = v.split()[-1]
        node.keywords = [kw for kw in node.keywords if kw.arg != name]
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def run_tests(copy_src: Path, tests: list[str], timeout: float) -> tuple[str, float, str]:
    env = dict(os.environ, PYTHONPATH=str(copy_src), HYPOTHESIS_PROFILE="mutation",
               PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:xdist", "-p",
           "no:cacheprovider", "--no-header", "-o", "addopts=--import-mode=importlib",
           *tests]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "killed (timeout)", time.perf_counter() - start, ""
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
    # 1: a test failed, 2: collection failed (the mutant breaks an import), < 0: the test
    # process died of a signal (a crash the mutant caused)
    status = "survived" if proc.returncode == 0 else (
        "killed" if proc.returncode in (1, 2) else
        "killed (crash)" if proc.returncode < 0 else f"error rc={proc.returncode}")
    return status, time.perf_counter() - start, tail[0]


def _replay(log: Path) -> set[tuple[str, str, str, str, int, int]]:
    """``(module, variant, node, source line, column, line number)`` of the survivors and
    the not-run mutants of a printed log (killed ones and crashes are left out)."""
    wanted = set()
    for line in log.read_text().splitlines():
        if not line.startswith("["):
            continue
        status = line.split("] ", 1)[1]
        if status.startswith("killed") or status.startswith("error rc=-"):
            continue
        head, node, text = line.split("  | ", 2)
        module, line_no, col, variant = head.rsplit("s ", 1)[1].split(":", 3)
        wanted.add((module, variant, node, text, int(col), int(line_no)))
    return wanted


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modules", default=",".join(MIRRORS),
                    help="comma-separated modules under src/tconv (default: all in MIRRORS)")
    ap.add_argument("--sample", type=int, default=60, help="mutants drawn (0: every site)")
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--timeout", type=float, default=300, help="seconds per mutant")
    ap.add_argument("--only", default="", help="comma-separated site keys to run")
    ap.add_argument("--replay", default="",
                    help="a previous run's printed log: re-run its survivors and the mutants it "
                         "could not run, found by their source (lines may have moved since)")
    ap.add_argument("--list", action="store_true", help="print sites per module and exit")
    ap.add_argument("--json", default="", help="write the results here")
    ap.add_argument("--without-gaps", action="store_true",
                    help="leave tests/test_mutation_gaps*.py out (the score before them)")
    args = ap.parse_args(argv)

    modules = [m if m.endswith(".py") else m + ".py" for m in args.modules.split(",") if m]
    for m in modules:
        if m not in MIRRORS:
            ap.error(f"--modules: {m} has no mirror tests in MIRRORS")
    gaps = [] if args.without_gaps else sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_mutation_gaps*.py"))

    results = []
    with tempfile.TemporaryDirectory(prefix="tconv-mutants-") as tmp:
        # a snapshot of src: sites and mutants come from it, whatever happens in the tree
        copy_src = Path(tmp) / "src"
        shutil.copytree(ROOT / "src", copy_src, ignore=shutil.ignore_patterns("__pycache__"))
        all_sites = [s for m in modules for s in sites(m, copy_src / "tconv")]
        if args.list:
            for m in modules:
                print(f"{m}: {sum(s.module == m for s in all_sites)} sites")
            return 0
        if args.replay:
            wanted = _replay(Path(args.replay))
            chosen = []
            for *sig, line in sorted(wanted):     # the same source nearest its old line
                hits = [s for s in all_sites
                        if (s.module, s.variant, s.node, s.text, s.col) == tuple(sig)]
                if hits:
                    chosen.append(min(hits, key=lambda s: abs(s.line - line)))
            missing = len(wanted) - len(chosen)
            if missing:
                print(f"--replay: {missing} mutants no longer found (their line changed)")
        elif args.only:
            keys = set(args.only.split(","))
            chosen = [s for s in all_sites if s.key in keys]
        elif args.sample:
            chosen = random.Random(args.seed).sample(all_sites, min(args.sample, len(all_sites)))
        else:
            chosen = all_sites
        baseline: dict[str, str] = {}
        for n, site in enumerate(chosen, 1):
            tests = [t for t in MIRRORS[site.module] if (ROOT / t).exists()] + gaps
            key = " ".join(tests)
            if key not in baseline:     # the unmutated copy must pass the same tests
                baseline[key] = run_tests(copy_src, tests, args.timeout)[0]
            if baseline[key] != "survived":
                status, secs, tail = "skipped (baseline fails)", 0.0, ""
            else:
                target = copy_src / "tconv" / site.module
                original = target.read_text()
                target.write_text(mutate(site.module, site, copy_src / "tconv"))
                try:
                    status, secs, tail = run_tests(copy_src, tests, args.timeout)
                finally:
                    target.write_text(original)
            results.append({**asdict(site), "status": status, "seconds": round(secs, 1),
                            "tail": tail})
            print(f"[{n}/{len(chosen)}] {status:<22} {secs:6.1f}s {site.key}  | {site.node}  "
                  f"| {site.text}", flush=True)

    counted = [r for r in results if not r["status"].startswith(("skipped", "error"))]
    killed = [r for r in counted if r["status"].startswith("killed")]
    survivors = [r for r in counted if r["status"] == "survived"]
    print(f"\nkilled {len(killed)} of {len(counted)} mutants "
          f"({100 * len(killed) / max(len(counted), 1):.1f} %); "
          f"{len(results) - len(counted)} not run (baseline failing or errors)")
    for r in survivors:
        print(f"  survived: {r['module']}:{r['line']}:{r['col']} {r['variant']}  | {r['node']}"
              f"  | {r['text']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
