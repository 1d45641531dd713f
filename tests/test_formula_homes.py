"""The core's structure: one home per formula, no import cycle, one home per public name.

Two static checks of ``src/tconv`` (the NumPy core: the top-level modules and
``_algorithms``), read with :mod:`ast`, so that the next copy of a formula or the next
cycle is caught where it is written:

- the output-size arithmetic of a convolution or a transposed convolution appears only in
  its home (:meth:`tconv._checks.ConvParams.conv_size` / ``transposed_size``);
- the import graph of the core modules (module-level and function-level imports) has no
  cycle.

Both functions take the source folder, so they can be run on another checkout:
``python tests/test_formula_homes.py [src/tconv]`` prints the findings.
"""

from __future__ import annotations

import ast
import re
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import tconv
from tconv import _checks, kernels, shapes
from tconv._algorithms import zero_insertion
from tconv._checks import ConvParams

SRC = Path(tconv.__file__).parent

#: the homes of the size formulas: (file, function)
HOMES = {("_checks.py", "conv_size"), ("_checks.py", "transposed_size")}

_TERM = re.compile(r"\([\w\[\]\.]+ - 1\)")                 # (k - 1), (size[i] - 1), ...
_DILATED = re.compile(r"\b(dk|span|reach|dilated_kernel)\b")
_CONV_TAIL = re.compile(r"//\s*[\w\[\]\.]+\s*\+\s*1\s*$")  # ... // stride + 1


def core_files(src: Path = SRC) -> list[Path]:
    return sorted([*src.glob("*.py"), *(src / "_algorithms").glob("*.py")])


def size_formula_kind(expr: str) -> str | None:
    """``"conv"`` / ``"transposed"`` when ``expr`` (an unparsed arithmetic expression) is
    the convolution or transposed-convolution output size, else ``None``."""
    if " / " in expr:               # sizes are integer arithmetic; resize maps are not
        return None
    terms = set(_TERM.findall(expr))
    if terms and _CONV_TAIL.search(expr):
        return "conv"
    if "*" in expr and (len(terms) >= 2 or (len(terms) == 1 and _DILATED.search(expr))):
        return "transposed"
    return None


def size_formulas(src: Path = SRC) -> list[tuple[str, int, str, str, str]]:
    """Every maximal arithmetic expression of the core computing an output size, as
    ``(file, line, function, kind, expression)``."""
    found = []
    for path in core_files(src):
        tree = ast.parse(path.read_text(), str(path))

        def visit(node: ast.AST, func: str, in_binop: bool, name: str = path.name) -> None:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                func = node.name
            if isinstance(node, ast.BinOp) and not in_binop:
                expr = ast.unparse(node)
                kind = size_formula_kind(expr)
                if kind:
                    found.append((name, node.lineno, func, kind, expr))
            for child in ast.iter_child_nodes(node):
                visit(child, func, isinstance(node, ast.BinOp))

        visit(tree, "<module>", False)
    return found


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Core module -> the core modules it imports (at module level or inside a function).

    A module-level ``__getattr__`` is skipped: it forwards moved names for compatibility
    and is not a dependency of the module's own code."""
    files = core_files(src)
    names = {}
    for path in files:
        parts = ["tconv"] + ([] if path.parent == src else [path.parent.name])
        names[path] = ".".join(parts + ([] if path.stem == "__init__" else [path.stem]))
    modules = set(names.values())
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for path in files:
        me = names[path]
        package = me if path.stem == "__init__" else me.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(), str(path))
        skip = {id(n) for f in tree.body if isinstance(f, ast.FunctionDef)
                and f.name == "__getattr__" for n in ast.walk(f)}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # ``from pkg import sub`` depends on pkg.sub; ``from pkg import name`` on pkg
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod
                           for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                if t in modules and t != me:
                    graph[me].add(t)
                elif t.endswith(".*"):
                    continue
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(1000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


class TestFormulaHomes:
    def test_size_arithmetic_only_in_its_home(self) -> None:
        strays = [f for f in size_formulas() if (f[0], f[2]) not in HOMES]
        assert not strays, ("output-size arithmetic outside ConvParams.conv_size / "
                            f"transposed_size (call them instead): {strays}")

    def test_homes_are_found(self) -> None:
        """The guard sees the homes themselves (so a renamed home fails here, not silently)."""
        kinds = {(f[0], f[2], f[3]) for f in size_formulas()}
        assert ("_checks.py", "conv_size", "conv") in kinds
        assert ("_checks.py", "transposed_size", "transposed") in kinds

    @pytest.mark.parametrize("expr,kind", [
        ("(i + lo + hi - d * (k - 1) - 1) // s + 1", "conv"),
        ("(size[i] + 2 * p - dil * (ks - 1) - 1) // st + 1", "conv"),
        ("(i - 1) * s - lo - hi + d * (k - 1) + op + 1", "transposed"),
        ("s[i] * (size[i] - 1) + op[i] + dk[i] - want[i]", "transposed"),
        ("(n - 1) * s + span - 2 * p", "transposed"),
        ("(o - 1) * s + 1", None),                       # the zero-inserted size
        ("d * (k - 1) - lo", None),                      # a zero-insertion pad
        ("d * (k - 1) + 1", None),                       # the dilated kernel
        ("di * (k - 1) - di * (k - 1) // 2", None),      # the high half of "same"
        ("y * (n_in - 1) / (n_out - 1)", None),          # align_corners coordinates
    ])
    def test_guard_patterns(self, expr: str, kind: str | None) -> None:
        assert size_formula_kind(expr) == kind

    def test_homes_agree_with_the_definitions(self) -> None:
        """conv_size / transposed_size / output_padding_for on a grid of 1-D layers, against
        the sizes counted by running the ops (shapes of conv / conv_transpose)."""
        for k, s, d, p, n in np.ndindex(4, 3, 2, 3, 5):
            k, s, d, n = k + 1, s + 1, d + 1, n + 1
            prm = ConvParams((k,), (s,), ((p, p),), (d,), 1)
            if n + 2 * p >= d * (k - 1) + 1:
                y = tconv.conv(np.ones((1, 1, n)), np.ones((1, 1, k)), None, s, p, d)
                assert prm.conv_size((n,)) == y.shape[2:]
            if (n - 1) * s - 2 * p + d * (k - 1) + 1 >= 1:
                y = tconv.conv_transpose(np.ones((1, 1, n)), np.ones((1, 1, k)), None, s, p,
                                         0, 1, d, algorithm="scatter")
                assert prm.transposed_size((n,)) == y.shape[2:]
                for op in range(s):
                    assert prm.output_padding_for("f", (n,), (y.shape[2] + op,)) == (op,)
                with pytest.raises(ValueError, match="valid sizes range from"):
                    prm.output_padding_for("f", (n,), (y.shape[2] + s,))


#: cycles that exist and are to be removed, each with its reason; a cycle not inside one of
#: these fails the test (so the next one is caught), and an entry no cycle needs fails too
KNOWN_CYCLES: dict[frozenset[str], str] = {
    # the cost model (_cost) asks direct/phase/conv for their geometry through lazy
    # imports while they import its rules: open, for the performance work to untangle
    frozenset({"tconv._algorithms._cost", "tconv._algorithms.depthwise",
               "tconv._algorithms.direct", "tconv._algorithms.gemm",
               "tconv._algorithms.phase", "tconv.conv", "tconv.grad"}):
        "cost model <-> algorithms (lazy imports)",
    # _native loads _native_kernels lazily; _native_kernels reads _native's constants
    frozenset({"tconv._algorithms._native", "tconv._algorithms._native_kernels"}):
        "compiled-kernel loader <-> kernels (lazy import)",
}


#: Keys' cubic kernel, either branch: ((a + 2) d - (a + 3)) d d + 1, ((a d - 5a) d + 8a) d - 4a
_CUBIC = re.compile(r"\(a \+ 2\) \* .* - \(a \+ 3\)|\(a \* .* - 5 \* a\) \* .* \+ 8 \* a")
#: the cubic kernel's home (interpolate.cubic_near / cubic_far) and the copies still to be
#: replaced by calls to it, each with its reason
CUBIC_HOMES = {("interpolate.py", "cubic_near"), ("interpolate.py", "cubic_far")}
KNOWN_CUBIC_COPIES: dict[str, str] = {}


def cubic_formulas(src: Path = SRC) -> list[tuple[str, int, str]]:
    """``(file, line, function)`` of every expression of the core computing Keys' kernel."""
    found = []
    for path in core_files(src):
        tree = ast.parse(path.read_text(), str(path))
        for func in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))]:
            name = getattr(func, "name", "<module>")
            body = func.body if isinstance(func, ast.FunctionDef) else [
                n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))]
            for stmt in body:
                for node in ast.walk(stmt):
                    if isinstance(node, ast.BinOp) and _CUBIC.search(ast.unparse(node)):
                        found.append((path.name, node.lineno, name))
                        break
    return found


class TestCubicHome:
    def test_cubic_kernel_only_in_its_home(self) -> None:
        found = cubic_formulas()
        strays = sorted({(f, line) for f, line, fn in found if (f, fn) not in CUBIC_HOMES
                         and f not in KNOWN_CUBIC_COPIES})
        assert not strays, ("Keys' cubic kernel written outside tconv.interpolate.cubic_near"
                            f" / cubic_far (call them instead): {strays}")
        stale = [f for f in KNOWN_CUBIC_COPIES
                 if (SRC / f).exists() and not any(x[0] == f for x in found)]
        assert not stale, f"KNOWN_CUBIC_COPIES entries no longer needed: {stale}"

    def test_home_is_found(self) -> None:
        names = {(f, fn) for f, _, fn in cubic_formulas()}
        assert CUBIC_HOMES <= names

    @pytest.mark.parametrize("expr,hit", [
        ("((a + 2) * d - (a + 3)) * d * d + 1", True),
        ("((a * d - 5 * a) * d + 8 * a) * d - 4 * a", True),
        ("((a + 2) * (one - x) - (a + 3)) * (one - x) * (one - x) + one", True),
        ("(a + 2) * d", False),
    ])
    def test_pattern(self, expr: str, hit: bool) -> None:
        assert bool(_CUBIC.search(expr)) == hit


class TestImportGraph:
    def test_no_cycles(self) -> None:
        found = cycles(import_graph())
        new = [c for c in found if not any(set(c) <= known for known in KNOWN_CYCLES)]
        assert not new, f"import cycles among core modules: {new}"
        stale = [k for k in KNOWN_CYCLES if not any(set(c) <= k for c in found)]
        assert not stale, f"KNOWN_CYCLES entries no longer needed (remove them): {stale}"

    def test_the_shapes_conventions_cycle_is_gone(self) -> None:
        assert not any({"tconv.shapes", "tconv.conventions"} <= set(c)
                       for c in cycles(import_graph()))

    def test_graph_is_read(self) -> None:
        """The parser sees the known edges (relative, lazy and package imports)."""
        g = import_graph()
        assert "tconv.shapes" in g["tconv.conventions"]
        assert "tconv._checks" in g["tconv.shapes"]
        assert "tconv.conv" in g["tconv.checkerboard"]              # a lazy import
        assert "tconv._algorithms.phase" in g["tconv.conv"]          # from ._algorithms import
        assert "tconv.conventions" not in g["tconv.shapes"]

    def test_cycle_detection(self) -> None:
        g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
        assert cycles(g) == [["a", "b", "c"]]


class TestOneHome:
    def test_shapes_does_not_reexport_conventions(self) -> None:
        assert set(shapes.__all__) == {"conv_output_size", "conv_transpose_output_size",
                                       "output_padding_for"}
        assert "convert" not in vars(shapes) and "TransposedConvSpec" not in vars(shapes)

    def test_moved_names_still_readable(self) -> None:
        from tconv import conventions

        for name in ("convert", "solve", "TransposedConvSpec"):
            with pytest.warns(DeprecationWarning, match=f"tconv.conventions.{name}"):
                assert getattr(shapes, name) is getattr(conventions, name)
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            shapes.nope  # noqa: B018

    def test_cubic_kernel_one_home(self) -> None:
        """kernels' exact cubic and interpolate's table weights are the same kernel."""
        from tconv import interpolate as _  # noqa: F401 - the function; the module below
        interp = sys.modules["tconv.interpolate"]
        assert kernels.CUBIC_A == Fraction(interp.CUBIC_A)
        for t in np.linspace(0, 1, 9):
            want = [float(kernels._cubic(Fraction(float(u)))) for u in (t + 1, t, 1 - t, 2 - t)]
            np.testing.assert_allclose(interp._cubic_weights(np.array(t)), want, atol=1e-15)
        assert kernels._cubic(Fraction(5, 2)) == 0

    def test_flip_and_swap_one_home(self) -> None:
        """kernels.zero_insertion_form's weight and pads are zero_insertion's."""
        rng = np.random.default_rng(0)
        w = rng.standard_normal((4, 3, 3, 2))
        form = kernels.zero_insertion_form(w, stride=2, padding=1, output_padding=1, groups=2)
        np.testing.assert_array_equal(form.weight, zero_insertion.flipped_conv_weight(w, 2))
        p = _checks.conv_params("t", x_shape=(1, 4, 3, 3), weight_shape=w.shape,
                                bias_shape=None, stride=2, padding=1, dilation=1, groups=2,
                                transposed=True, output_padding=1)
        assert form.pad == zero_insertion.zero_insertion_padding(p) == ((1, 2), (0, 1))


if __name__ == "__main__":       # report on another checkout: python tests/... src/tconv
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else SRC
    for f in size_formulas(root):
        print("formula", *f)
    print("cycles", cycles(import_graph(root)))
