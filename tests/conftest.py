"""Shared fixtures: dtype, rng, tolerance table, hypothesis profile."""

from __future__ import annotations

import os

import _oracle
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
# tools/mutation.py: fewer examples per mutant; survivors are re-run with "ci"
settings.register_profile("mutation", derandomize=True, max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: the one tolerance table lives in tests/_oracle.py
TOL = _oracle.TOL


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request: pytest.FixtureRequest) -> np.dtype:
    return np.dtype(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def cost_file(monkeypatch, tmp_path):
    """``write(**constants)``: run the cost model on these constants (the others at the
    package defaults)."""
    import json

    def write(**constants: float) -> None:
        path = tmp_path / f"cost{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps({"constants": constants}))
        monkeypatch.setenv("TCONV_COST_FILE", str(path))
    return write
