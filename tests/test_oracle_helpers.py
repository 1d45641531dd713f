"""The oracle helpers themselves: ``check_same_error`` fails when torch raises another kind
of error, or the same kind for another reason, or nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _oracle import check_same_error


def _raise(exc: BaseException):
    def fn() -> None:
        raise exc
    return fn


def test_same_reason_passes() -> None:
    check_same_error(_raise(ValueError("f: stride=0 must be positive")),
                     _raise(RuntimeError("non-positive stride is not supported")),
                     match="stride")


@pytest.mark.parametrize("torch_side", [
    _raise(TypeError("non-positive stride is not supported")),        # another kind
    _raise(RuntimeError("Kernel size can't be greater than actual input size")),  # reason
])
def test_other_kind_or_reason_fails(torch_side) -> None:
    with pytest.raises(AssertionError):
        check_same_error(_raise(ValueError("f: stride=0 must be positive")), torch_side,
                         match="stride")


def test_torch_accepting_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match="torch accepted"):
        check_same_error(_raise(ValueError("f: stride=0")), lambda: None, match="stride")


def test_ours_must_raise_value_or_type_error() -> None:
    with pytest.raises(RuntimeError):
        check_same_error(_raise(RuntimeError("stride")), _raise(RuntimeError("stride")),
                         match="stride")


def test_unknown_reason_asks_for_an_entry() -> None:
    with pytest.raises(pytest.fail.Exception, match="no torch reason recorded"):
        check_same_error(_raise(ValueError("x")), _raise(RuntimeError("x")), match="x")
    check_same_error(_raise(ValueError("x")), _raise(KeyError("why")), match="x",
                     torch_error=KeyError, torch_match="why")


def test_one_tolerance_table() -> None:
    """Tolerances per dtype are written in one place (tests/_oracle.py)."""
    tests = Path(__file__).parent
    tables = [p.relative_to(tests).as_posix() for p in tests.rglob("*.py")
              if re.search(r"^\s*\w*TOL\w*\s*=\s*\{", p.read_text(), re.M)]
    assert tables == ["_oracle.py"]


def _bare_returns_in_given_tests(path: Path) -> list[tuple[str, int, str]]:
    """``return`` without a value inside a ``@given`` test: a silently passing draw."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test"):
            continue
        decorators = [ast.unparse(d) for d in node.decorator_list]
        if not any(d.startswith(("given", "hypothesis.given")) for d in decorators):
            continue
        stack = list(node.body)
        while stack:
            sub = stack.pop()
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                ast.ClassDef)):
                continue                    # a nested helper's return is its own
            if isinstance(sub, ast.Return) and sub.value is None:
                found.append((path.name, sub.lineno, node.name))
            stack.extend(ast.iter_child_nodes(sub))
    return found


def test_hypothesis_tests_assume_instead_of_return() -> None:
    """Invalid draws are rejected with ``assume(...)`` (hypothesis then draws another one
    and reports the filter rate) instead of passing silently through a bare ``return``."""
    tests = Path(__file__).parent
    found = [f for p in sorted(tests.rglob("test_*.py")) for f in _bare_returns_in_given_tests(p)]
    assert not found, found
