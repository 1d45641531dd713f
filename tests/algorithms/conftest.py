"""The algorithm tests check the cost model's rules at its documented default constants
(``tconv._algorithms._cost.Constants``), not at a machine's calibration."""

from __future__ import annotations

import pytest

from tconv._algorithms import _cost


@pytest.fixture(autouse=True)
def default_cost_constants(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("TCONV_COST_FILE", str(tmp_path_factory.getbasetemp() / "none.json"))
    _cost.clear_decisions()
    yield
    _cost.clear_decisions()
