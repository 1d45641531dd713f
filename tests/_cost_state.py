"""A clean cost-model state for tests that steer ``tconv``'s algorithm choice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tconv._algorithms import _cost, _native


def fresh_decisions(monkeypatch: Any, *unset_env: str) -> Iterator[None]:
    """A fixture's body: no compiled kernel given up, the variables ``unset_env`` unset and
    the cached algorithm decisions cleared, before the test and after it."""
    monkeypatch.setattr(_native, "_DISABLED", [])
    for name in unset_env:
        monkeypatch.delenv(name, raising=False)
    _cost.clear_decisions()
    yield
    _cost.clear_decisions()


def without_scatter(monkeypatch: Any) -> None:
    """The small-layer paths off -- the forward's bincount (``scatter_max`` and
    ``numpy_scatter_max`` 0) and the backward's gather (``gather_max`` and
    ``numpy_gather_max`` 0), the other constants as in force -- and the cached decisions
    cleared: for tests of the paths they would pre-empt on their small layers."""
    import dataclasses

    c = dataclasses.replace(_cost.constants(), scatter_max=0, numpy_scatter_max=0,
                            gather_max=0, numpy_gather_max=0)
    monkeypatch.setattr(_cost, "constants", lambda: c)
    _cost.clear_decisions()


def avx512_decisions(monkeypatch: Any) -> Iterator[None]:
    """A fixture's body: the cost model decides as on an AVX-512 host, wherever the tests
    run (for tests of decisions only: no kernel runs under it), the cached decisions cleared
    before the test and after it."""
    monkeypatch.setattr(_cost, "host_avx512", lambda: True)
    _cost.clear_decisions()
    yield
    _cost.clear_decisions()
