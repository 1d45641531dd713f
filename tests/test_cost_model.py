"""The cost model (``tconv._algorithms._cost``): one decision for ``auto``, explained, with
constants read from a calibration file; ``benchmarks/calibrate.py``'s search, checked on
synthetic timings (no clock)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import pathlib
import random
import re

import numpy as np
import pytest
from _cost_state import avx512_decisions, fresh_decisions

import tconv
from tconv._algorithms import _cost, _native
from tconv.conv import choose_algorithm

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _population(count: int = 60, seed: int = 0):
    """Seeded valid layers: 1-3-D, strides, kernels, padding, groups (depthwise included)."""
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        nd = rng.choice((1, 2, 3))
        s = rng.choice((1, 2, 3, 4, 8))
        k = rng.choice((1, 2, 3, 4, 2 * s, 2 * s + 1))
        g = rng.choice((1, 1, 2, 4))
        cig, cog = rng.choice((1, 3, 8, 64)), rng.choice((1, 3, 16, 64))
        side = rng.choice((1, 3, 7, 16))
        pad = rng.randint(0, (k - 1) // 2)
        op = rng.randint(0, s - 1)
        x, w = (rng.choice((1, 4)), cig * g, *(side,) * nd), (cig * g, cog, *(k,) * nd)
        if (side - 1) * s - 2 * pad + k + op < 1:
            continue
        out.append((x, w, s, pad, op, g))
    return out


@pytest.fixture
def clean(monkeypatch):
    yield from fresh_decisions(monkeypatch, "TCONV_COST_FILE")


@pytest.fixture
def as_avx512(clean, monkeypatch):
    """Decisions as an AVX-512 host makes them, on any host with numba."""
    if not _native.available():
        pytest.skip("numba missing")
    yield from avx512_decisions(monkeypatch)


class TestExplainAlgorithm:
    def test_smoke(self, clean):
        d = tconv.explain_algorithm((4, 512, 32), (512, 256, 16), 8, 4)
        assert d.algorithm in tconv.ALGORITHMS
        text = str(d)
        assert text.startswith(f"algorithm: {d.algorithm}")
        assert "why:" in text and "backward:" in text and d.reasons
        assert d.features.out == (256,) and d.features.macs == 4 * 512 * 256 * 32 * 16

    def test_unbatched_shape(self, clean):
        a = tconv.explain_algorithm((8, 5, 5), (8, 4, 3, 3), 2)
        b = tconv.explain_algorithm((1, 8, 5, 5), (8, 4, 3, 3), 2)
        assert a == b

    def test_exception(self, clean):
        with pytest.raises(ValueError, match="explain_algorithm"):
            tconv.explain_algorithm((1, 8, 5, 5), (8, 4, 3, 3), stride=0)
        with pytest.raises(ValueError, match="explain_algorithm"):
            tconv.explain_algorithm((1, 6, 5, 5), (6, 4, 3, 3), groups=4)

    @pytest.mark.parametrize("numba", ["1", "0"])
    def test_identity_with_choose_algorithm(self, numba, clean, monkeypatch):
        """``choose_algorithm`` (what ``auto`` runs) is the cost model's decision; only
        tconv's four fast algorithms are ever picked, ``direct`` only with the kernels."""
        monkeypatch.setenv("TCONV_NUMBA", numba)
        for x, w, s, pad, op, g in _population():
            for dtype in (np.float32, np.float64):
                d = tconv.explain_algorithm(x, w, s, pad, op, g, dtype=dtype)
                p = _cost.params(x, w, s, pad, op, g)
                assert choose_algorithm(x, w, p, dtype=dtype) == d.algorithm
                assert d.algorithm in ("gemm", "phase", "direct")
                if numba == "0" or not _native._installed():
                    assert d.algorithm != "direct" and not d.backward_compiled
                    assert "unavailable" in d.reasons[0]

    def test_auto_matches_reference(self, clean):
        # whatever is chosen computes the transposed convolution (float64 against scatter)
        rng = np.random.default_rng(0)
        for x, w, s, pad, op, g in _population(25, seed=1):
            xa, wa = rng.standard_normal(x), rng.standard_normal(w)
            np.testing.assert_allclose(
                tconv.conv_transpose(xa, wa, None, s, pad, op, g),
                tconv.conv_transpose(xa, wa, None, s, pad, op, g, algorithm="scatter"),
                atol=1e-10)


    def test_refusal_of_the_compiled_loops_names_a_rule_that_fails(self, clean):
        """Where the compiled loops are refused, the reason names a rule the layer breaks,
        with its numbers: every ``a > name=b`` (or ``>=``) it states holds."""
        if not _native.available():
            pytest.skip("numba missing")
        c = dataclasses.replace(_cost.Constants(), direct_max_overhead=1.5)
        rng = random.Random(8)
        seen = set()
        for _ in range(400):
            nd = rng.choice((1, 2, 3))
            s = rng.choice((1, 2, 3, 4, 8))
            k = rng.choice((1, s, s + 1, 2 * s))
            g = rng.choice((1, 1, 2, 4))
            cig, cog = rng.choice((1, 4, 16, 48, 128, 512)), rng.choice((1, 3, 16, 64))
            side = rng.choice((1, 2, 5, 16))
            x, w = (2, cig * g, *(side,) * nd), (cig * g, cog, *(k,) * nd)
            p = _cost.params(x, w, s, 0, 0, g)
            text = str(_cost.decide(x, w, p, "float32", c))
            line = next((ln for ln in text.splitlines() if "compiled loops not chosen" in ln),
                        None)
            if line is None:
                continue
            assert not _cost.compiled_loops(x, w, p, c), text
            claims = re.findall(r"(\d+(?:\.\d+)?) (>=?) [^=,]*=(\d+(?:\.\d+)?)", line)
            for a, op, b in claims:
                assert float(a) >= float(b) if op == ">=" else float(a) > float(b), line
            assert claims or "one tap" in line, line
            seen.add(line.split(":", 1)[1].split("=", 1)[0].strip())
        # the population reaches several of the rules
        assert len(seen) >= 3, seen


class TestConstants:
    def test_defaults_without_a_file(self, clean, monkeypatch, tmp_path):
        monkeypatch.setenv("TCONV_COST_FILE", str(tmp_path / "missing.json"))
        assert _cost.constants() == _cost.Constants()
        bad = tmp_path / "bad.json"
        bad.write_text("not json")
        monkeypatch.setenv("TCONV_COST_FILE", str(bad))
        assert _cost.constants() == _cost.Constants()

    def test_file_changes_the_decision(self, clean, monkeypatch, tmp_path):
        # a layer phase takes by default; a calibration that prices gemm's strided adds
        # lower (phase's extra products here: 0.13 x 32 x 16 = 66) moves it, and says so
        monkeypatch.setenv("TCONV_NUMBA", "0")
        x, w = (2, 32, 16, 16), (32, 32, 4, 4)
        base = tmp_path / "defaults.json"
        base.write_text(json.dumps({"constants": {}}))
        monkeypatch.setenv("TCONV_COST_FILE", str(base))
        assert tconv.explain_algorithm(x, w, 2, 1).algorithm == "phase"
        f = tmp_path / "c.json"
        # (without numba the NumPy-only rule applies)
        f.write_text(json.dumps({"constants": {"numpy_gemm_extra": 30, "unknown": 3}}))
        monkeypatch.setenv("TCONV_COST_FILE", str(f))
        d = tconv.explain_algorithm(x, w, 2, 1)
        assert d.algorithm == "gemm" and any("= 66 > 30" in r for r in d.reasons), str(d)
        assert _cost.constants().numpy_gemm_extra == 30

    def test_host_section_overrides_the_general_set(self, clean, monkeypatch, tmp_path):
        # a processor's own set replaces only the constants it names, on that processor
        f = tmp_path / "c.json"
        f.write_text(json.dumps({
            "constants": {"numpy_gemm_extra": 30, "gemm_wide": 4},
            "hosts": {"cpu-a": {"constants": {"gemm_wide": 16, "scatter_max": 0}},
                      "cpu-b": "not a set"}}))
        monkeypatch.setenv("TCONV_COST_FILE", str(f))
        base = _cost.Constants().scatter_max
        for host, wide, scatter in (("cpu-a", 16, 0), ("cpu-b", 4, base), ("", 4, base),
                                    ("cpu-c", 4, base)):
            monkeypatch.setattr(_cost, "host_cpu", lambda h=host: h)
            c = _cost.constants()
            assert (c.gemm_wide, c.scatter_max, c.numpy_gemm_extra) == (wide, scatter, 30), host

    def test_host_cpu_is_a_name(self):
        name = _cost.host_cpu()
        assert isinstance(name, str) and name == name.strip()
        if _native.available():
            assert name                     # numba's llvmlite knows the processor

    def test_shipped_host_sets_are_valid(self):
        path = _cost.CONSTANTS_FILE
        if not path.exists():
            pytest.skip("no calibration shipped: the defaults apply")
        names = {f for f in _cost.Constants.__dataclass_fields__}
        for host, block in json.loads(path.read_text()).get("hosts", {}).items():
            assert host and set(block["constants"]) <= names, host
            assert block["command"] and block["machine"], host

    def test_shipped_file_is_valid(self):
        path = _cost.CONSTANTS_FILE
        if not path.exists():
            pytest.skip("no calibration shipped: the defaults apply")
        data = json.loads(path.read_text())
        names = {f for f in _cost.Constants.__dataclass_fields__}
        assert set(data["constants"]) <= names


def _calibrate_module():
    spec = importlib.util.spec_from_file_location("calibrate",
                                                  ROOT / "benchmarks" / "calibrate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_calibration_search_on_synthetic_timings(clean, monkeypatch):
    """The search moves a constant when the timings say so and never scores worse than the
    defaults: probes where gemm is 3x faster than every other algorithm pull
    ``numpy_gemm_extra`` down."""
    monkeypatch.setenv("TCONV_NUMBA", "0")
    cal = _calibrate_module()
    probes = []
    for cog in (8, 16):
        x, w = (2, 32, 16, 16), (32, cog, 4, 4)
        probes.append({"name": f"c{cog}", "x": x, "w": w, "geo": (2, 1, 0, 1, 1),
                       "dtype": "float32", "times": {"gemm": 1.0, "phase": 3.0}})
    found = cal.calibrate(probes)
    assert found.numpy_gemm_extra < 66                          # (NumPy-only decisions)
    assert cal.score(probes, found) < cal.score(probes, _cost.Constants())
    assert cal.score(probes, found) == pytest.approx(0.0)          # log(1 ms): all gemm


def test_calibration_fits_the_backward_rules(clean, monkeypatch):
    """Per-gradient timings: where im2col and BLAS beat the compiled input-gradient loops
    and the compiled correlation sums on their planes, the fitted constants pick exactly
    those paths (each gradient scored on its own; the forward choice separately)."""
    cal = _calibrate_module()
    x, w, geo = (2, 8, 16, 16), (8, 5, 4, 4), (2, 1, 0, 1, 1)
    p = _cost.params(x, w, *geo[:4])
    defaults = _cost.Constants()
    assert _cost.compiled_loops(x, w, p, defaults, backward=True, dtype="float32")
    assert _cost.weight_sums(x, w, p, defaults, dtype="float32")
    back = {"gx_numpy": 1.0, "gx_compiled": 5.0, "gw_numpy": 1.0, "gw_sums": 3.0}
    probes = [{"name": "b", "x": x, "w": w, "geo": geo, "dtype": "float32",
               "times": {"gemm": 1.0, "phase": 1.0, "direct": 1.0}, "backward": back}]
    # the backward scores both gradients' time (5 + 3), as two halves
    assert cal.score(probes, defaults) == pytest.approx(2 * math.log(4.0))
    found = cal.calibrate(probes)
    assert not _cost.compiled_loops(x, w, p, found, backward=True, dtype="float32")
    assert not _cost.weight_sums(x, w, p, found, dtype="float32")
    assert cal.score(probes, found) == pytest.approx(0.0)
    assert cal.best_score(probes[0]) == pytest.approx(0.0)


@pytest.mark.parametrize("shared_ms,want", [(1.5, 1), (2.5, 0)])
def test_calibration_scores_the_shared_im2col(clean, monkeypatch, shared_ms, want):
    """A probe's both-gradients time from one shared im2col competes with the best pair of
    separate paths (here 1 + 1 ms): the search keeps ``shared_im2col`` where it is faster
    and turns it off where it is slower; the oracle takes the faster of the two."""
    cal = _calibrate_module()
    x, w, geo = (2, 8, 16, 16), (8, 5, 4, 4), (2, 1, 0, 1, 1)
    p = _cost.params(x, w, *geo[:4])
    start = dataclasses.replace(_cost.Constants(), input_grad_depth=0.0, shared_im2col=1)
    assert not _cost.compiled_loops(x, w, p, start, backward=True, dtype="float32")
    back = {"gx_numpy": 1.0, "gx_compiled": 5.0, "gw_numpy": 1.0, "gw_sums": 5.0,
            "grads_shared": shared_ms}
    probes = [{"name": "b", "x": x, "w": w, "geo": geo, "dtype": "float32",
               "times": {"gemm": 1.0, "phase": 1.0, "direct": 1.0}, "backward": back}]
    assert cal.score(probes, start) == pytest.approx(2 * math.log(shared_ms / 2))
    found = cal.calibrate(probes, start=start, names=["shared_im2col"])
    assert found.shared_im2col == want
    assert cal.best_score(probes[0]) == pytest.approx(2 * math.log(min(shared_ms, 2.0) / 2))


@pytest.mark.parametrize("gather_ms,fits", [(0.5, True), (4.0, False)])
@pytest.mark.parametrize("depthwise", [False, True])
def test_calibration_scores_the_gather(clean, gather_ms, fits, depthwise):
    """A probe's both-gradients time by the small-layer gather competes with the paths it
    would take over (here 1 + 1 ms, or a depthwise pass of 2 ms): the search raises
    ``gather_max`` over the layer's product where the gather is faster and lowers it below
    where it is slower; the oracle takes the fastest."""
    pytest.importorskip("numba")
    cal = _calibrate_module()
    x, w, geo = (2, 8, 16, 16), (8, 1 if depthwise else 5, 4, 4), \
        (2, 1, 0, 8 if depthwise else 1, 1)
    p = _cost.params(x, w, *geo[:4])
    numbers = 2 * w[1] * geo[3] * 16 * 256
    back = {"gx_numpy": 1.0, "gx_compiled": 5.0, "gw_numpy": 1.0, "gw_sums": 5.0,
            "grads_shared": 9.0, "grads_gather": gather_ms}
    if depthwise:
        back["grads_depthwise"] = 2.0
    probes = [{"name": "g", "x": x, "w": w, "geo": geo, "dtype": "float32",
               "times": {"gemm": 1.0, "phase": 1.0, "direct": 1.0}, "backward": back}]
    start = dataclasses.replace(_cost.Constants(), input_grad_depth=0.0, shared_im2col=0,
                                gather_max=numbers if not fits else 0)
    assert _cost.gather_gradients(x, w, p, start) == (not fits)
    found = cal.calibrate(probes, start=start, names=["gather_max"])
    assert _cost.gather_gradients(x, w, p, found) == fits
    assert cal.score(probes, found) == pytest.approx(
        math.log(1.0) + 2 * math.log(min(gather_ms, 2.0) / 2))
    assert cal.best_score(probes[0]) == pytest.approx(2 * math.log(min(gather_ms, 2.0) / 2))


@pytest.mark.parametrize("take_ms,fits", [(0.5, True), (4.0, False)])
def test_calibration_scores_the_take(clean, take_ms, fits):
    """A probe's both-gradients time with the im2col taken through an index competes with
    the window copy (2 ms): the search turns the short-row rule on for the probe where the
    take is faster and off where it is slower; the oracle takes the fastest; a probe
    without a take time scores the copy."""
    cal = _calibrate_module()
    x, w, geo = (2, 8, 6, 6), (8, 4, 3, 3), (2, 1, 0, 1, 1)
    p = _cost.params(x, w, *geo[:4])
    back = {"gx_numpy": 5.0, "gx_compiled": 5.0, "gw_numpy": 5.0, "gw_sums": 5.0,
            "grads_shared": 2.0, "grads_take": take_ms}
    probes = [{"name": "t", "x": x, "w": w, "geo": geo, "dtype": "float32",
               "times": {"gemm": 1.0, "phase": 1.0, "direct": 1.0}, "backward": back}]
    start = dataclasses.replace(_cost.Constants(), shared_im2col=1,
                                take_cols_run=0 if fits else 32)
    assert _cost.take_cols(x, w, p, start) == (not fits)
    found = cal.calibrate(probes, start=start, names=["take_cols_run"])
    assert _cost.take_cols(x, w, p, found) == fits
    assert cal.score(probes, found) == pytest.approx(2 * math.log(min(take_ms, 2.0) / 2))
    assert cal.best_score(probes[0]) == pytest.approx(2 * math.log(min(take_ms, 2.0) / 2))
    del back["grads_take"]
    assert cal.score(probes, found) == pytest.approx(2 * math.log(2.0 / 2))


@pytest.mark.parametrize("folded_ms,fold", [(0.5, True), (3.0, False)])
def test_calibration_scores_the_folded_phases(clean, monkeypatch, folded_ms, fold):
    """A probe's ``folded`` time competes with the other algorithms: the search lowers
    ``fold_min_phases`` to the layer's 4 phases where folding is faster, and keeps it
    above them where it is slower; a probe without a folded time scores the fold as
    ``phase``."""
    monkeypatch.setenv("TCONV_NUMBA", "0")
    cal = _calibrate_module()
    x, w, geo = (2, 8, 16, 16), (8, 16, 4, 4), (2, 1, 0, 1, 1)
    probes = [{"name": "f", "x": x, "w": w, "geo": geo, "dtype": "float32",
               "times": {"gemm": 2.0, "phase": 2.0, "folded": folded_ms}}]
    start = dataclasses.replace(_cost.Constants(), fold_min_phases=1 if not fold else 64)
    found = cal.calibrate(probes, start=start, names=["fold_min_phases"])
    assert (found.fold_min_phases <= 4) == fold
    assert cal.score(probes, found) == pytest.approx(math.log(min(folded_ms, 2.0)))
    folding = dataclasses.replace(_cost.Constants(), fold_min_phases=1)
    old = [{**probes[0], "times": {"gemm": 2.0, "phase": 1.5}}]
    assert cal.score(old, folding) == pytest.approx(math.log(1.5))


def test_refresh_backward_retimes_every_gradient_path(clean):
    """``--refresh-backward`` replaces a saved probe's gradient times with this run's, every
    path included (the shared im2col too, copied and, on these short rows, taken);
    probes measured forward only gain them."""
    pytest.importorskip("numba")
    cal = _calibrate_module()
    probe = {"name": "t", "x": (2, 4, 6, 6), "w": (4, 3, 4, 4), "geo": (2, 1, 0, 1, 1),
             "dtype": "float32", "times": {"gemm": 1.0}, "backward": {"gx_numpy": -1.0}}
    plain = {"name": "u", "x": (2, 4, 6, 6), "w": (4, 3, 4, 4), "geo": (2, 1, 0, 1, 1),
             "dtype": "float32", "times": {"gemm": 1.0}}
    cal.refresh_backward([probe, plain], budget=0.01)
    for pr in (probe, plain):
        assert set(pr["backward"]) == {"gx_numpy", "gx_compiled", "gw_numpy", "gw_sums",
                                       "grads_shared", "grads_take", "grads_gather"}
        assert all(v > 0 for v in pr["backward"].values())
    assert plain["times"] == {"gemm": 1.0}                  # the forward times kept


def test_calibration_start_and_min_gain(clean, monkeypatch):
    """The search starts where it is told and moves a constant only for a gain above
    ``min_gain``: gemm 3 % faster moves nothing at 5 %, and moves ``numpy_gemm_extra`` at
    1 %; ``names`` limits the search."""
    monkeypatch.setenv("TCONV_NUMBA", "0")
    cal = _calibrate_module()
    x, w = (2, 32, 16, 16), (32, 8, 4, 4)
    probes = [{"name": "c", "x": x, "w": w, "geo": (2, 1, 0, 1, 1), "dtype": "float32",
               "times": {"gemm": 1.0, "phase": 1.03}}]
    start = dataclasses.replace(_cost.Constants(), numpy_gemm_extra=1e9, gemm_wide=1e9,
                                scatter_max=0, numpy_scatter_max=0)
    assert cal.calibrate(probes, start=start, min_gain=0.05) == start
    found = cal.calibrate(probes, start=start, min_gain=0.01)
    assert found.numpy_gemm_extra < 66 and found.gemm_wide == start.gemm_wide
    only = cal.calibrate(probes, start=start, min_gain=0.01, names=["gemm_wide"])
    assert only.numpy_gemm_extra == 1e9                          # not among the names


def test_calibration_scores_the_numpy_only_choice(clean, monkeypatch):
    """A probe's NumPy-only times (``times_numpy``) score what ``TCONV_NUMBA=0`` picks: with
    numba the compiled loops run, without it the constants still choose gemm or phase."""
    if not _native.available():
        pytest.skip("numba missing")
    cal = _calibrate_module()
    x, w = (4, 8, 16, 16), (8, 16, 4, 4)
    c = _cost.Constants()
    p = _cost.params(x, w, 2, 1)
    assert _cost.decide(x, w, p, "float32", c).algorithm == "direct"
    probe = {"name": "n", "x": x, "w": w, "geo": (2, 1, 0, 1, 1), "dtype": "float32",
             "times": {"gemm": 2.0, "phase": 2.0, "direct": 1.0},
             "times_numpy": {"gemm": 4.0, "phase": 8.0}}
    with cal.numpy_only():
        plain = _cost.decide(x, w, p, "float32", c).algorithm
    assert plain in ("gemm", "phase")
    assert os.environ.get("TCONV_NUMBA") != "0"                 # restored after the block
    assert cal.score([probe], c) == pytest.approx(math.log(probe["times_numpy"][plain]))
    assert cal.best_score(probe) == pytest.approx(math.log(4.0))


@pytest.mark.parametrize("dtype", ["float64", np.float64])
def test_float64_gradients(dtype):
    """float64: the compiled input gradient only for few input channels (the bound times
    ``input_grad_float64``); the correlation sums follow the input gradient."""
    c = _cost.Constants()
    x, w = (2, 8, 16, 16), (8, 5, 4, 4)
    p = _cost.params(x, w, 2, 1)
    assert _cost.compiled_loops(x, w, p, c, backward=True, dtype=dtype)
    assert _cost.weight_sums(x, w, p, c, dtype=dtype)
    wide = (2, 64, 16, 16), (64, 5, 4, 4)
    p = _cost.params(*wide, 2, 1)
    assert _cost.compiled_loops(*wide, p, c, backward=True, dtype="float32")
    assert not _cost.compiled_loops(*wide, p, c, backward=True, dtype=dtype)
    assert not _cost.weight_sums(*wide, p, c, dtype=dtype)


def test_few_positions_keep_blas_input_gradient():
    """A short input (a vocoder's first up-sampling layer on 32 samples): the compiled
    loops' vector rows are too short, im2col and BLAS take the input gradient."""
    c = _cost.Constants()
    p = _cost.params((4, 64, 32), (64, 32, 8), 4, 2)
    assert not _cost.compiled_loops((4, 64, 32), (64, 32, 8), p, c, backward=True,
                                    dtype="float32")
    p = _cost.params((4, 64, 512), (64, 32, 8), 4, 2)
    assert _cost.compiled_loops((4, 64, 512), (64, 32, 8), p, c, backward=True,
                                dtype="float32")


def test_no_overlap_keeps_blas_gradients():
    """A kernel no longer than the stride (U-Net's 2x2, stride 2): every phase has one tap,
    im2col copies nothing twice, BLAS's gradients stay."""
    x, w = (1, 16, 64, 64), (16, 8, 2, 2)
    p = _cost.params(x, w, 2)
    assert not _cost.compiled_loops(x, w, p, backward=True, dtype="float32")
    assert not _cost.weight_sums(x, w, p, dtype="float32")


def test_thin_outputs_take_the_compiled_gradients(clean):
    """``input_grad_max_cout``: a thin output (an RGB head) takes the compiled input
    gradient at any depth; float64 keeps BLAS's input gradient; 0 switches the clause
    off."""
    x, w = (4, 256, 64, 64), (256, 3, 4, 4)
    p = _cost.params(x, w, 2, 1)
    off = dataclasses.replace(_cost.Constants(), input_grad_depth=1.0)
    on = dataclasses.replace(off, input_grad_max_cout=4)
    assert not _cost.compiled_loops(x, w, p, off, backward=True, dtype="float32")
    assert _cost.compiled_loops(x, w, p, on, backward=True, dtype="float32")
    assert not _cost.compiled_loops(x, w, p, on, backward=True, dtype="float64")
    wide = (4, 256, 64, 64), (256, 8, 4, 4)                 # 8 output channels: not thin
    pw = _cost.params(*wide, 2, 1)
    assert not _cost.compiled_loops(*wide, pw, on, backward=True, dtype="float32")


def test_direct_max_overhead(clean):
    """``direct_max_overhead``: the compiled forward loops walk the phase grid's zero gap,
    so a small input with a large stride (grid overhead 1.56) leaves them; a large input of
    the same layer keeps them."""
    if not _native.available():
        pytest.skip("numba missing")
    c = dataclasses.replace(_cost.Constants(), direct_max_overhead=1.25)
    small, big, w = (1, 8, 4, 4), (1, 8, 64, 64), (8, 32, 16, 16)
    ps, pb = _cost.params(small, w, 8), _cost.params(big, w, 8)
    assert _cost.features(small, w, ps).grid_overhead > 1.25
    assert _cost.features(big, w, pb).grid_overhead <= 1.25
    assert _cost.compiled_loops(small, w, ps, _cost.Constants())
    assert not _cost.compiled_loops(small, w, ps, c)
    assert _cost.compiled_loops(big, w, pb, c)


def test_gemm_bound_per_install(clean, monkeypatch):
    """``gemm_max_cout`` bounds gemm's few-output-channel rule where the compiled kernels
    run (their col2im pass is cheap); without them ``numpy_gemm_extra`` weighs phase's
    extra products against gemm's strided adds: here (1.13 - 1) x 512 x 16 = 1065."""
    if not _native.available():
        pytest.skip("numba missing")
    x, w = (2, 512, 16, 16), (512, 8, 4, 4)                   # deep: no compiled loops
    p = _cost.params(x, w, 2, 1)
    c = dataclasses.replace(_cost.Constants(), gemm_max_cout=16, numpy_gemm_extra=1e4,
                            scatter_max=0, numpy_scatter_max=0)
    assert _cost.decide(x, w, p, "float64", c).algorithm == "gemm"
    monkeypatch.setenv("TCONV_NUMBA", "0")
    assert _cost.decide(x, w, p, "float64", c).algorithm == "phase"
    c = dataclasses.replace(c, numpy_gemm_extra=1000)
    assert _cost.decide(x, w, p, "float64", c).algorithm == "gemm"
    c = dataclasses.replace(c, numpy_gemm_extra=1100)
    assert _cost.decide(x, w, p, "float64", c).algorithm == "phase"



def test_one_dim_gemm_rule(clean, monkeypatch):
    """float32 1-D layers with the compiled kernels and several taps a phase run ``gemm``
    (one long product, col2im over contiguous runs) from ``gemm_min_depth_1d`` input
    channels on rows of at least ``gemm_min_run_1d`` positions, ahead of the register-block
    segments; shallower layers, shorter rows, float64, 2-D layers and the NumPy-only
    choice are not this rule's."""
    if not _native.available():
        pytest.skip("numba missing")
    c = dataclasses.replace(_cost.Constants(), gemm_min_depth_1d=128, gemm_min_run_1d=64,
                            scatter_max=0, numpy_scatter_max=0, gemm_max_cout=4)
    rng = random.Random(3)
    hits = 0
    for _ in range(60):
        cig, cog = rng.choice((16, 64, 128, 512)), rng.choice((8, 32, 256))
        s = rng.choice((1, 2, 4, 8))
        k = rng.choice((s, s + 1, 2 * s, 3 * s))
        length = rng.choice((16, 32, 64, 256, 4096))
        x, w = (rng.choice((1, 4)), cig, length), (cig, cog, k)
        p = _cost.params(x, w, s, s // 2)
        d = _cost.decide(x, w, p, "float32", c)
        rule = "1-D, a long reduction" in str(d)
        earlier = _cost.compiled_loops(x, w, p, c) or (d.folded and d.algorithm == "phase")
        want = (not earlier and k > s and cig >= 128 and length >= 64)
        assert rule == want, (x, w, s, str(d))
        hits += rule
        if rule:
            assert d.algorithm == "gemm" and not d.segments
            for other in (dataclasses.replace(c, gemm_min_depth_1d=cig + 1),
                          dataclasses.replace(c, gemm_min_run_1d=length + 1)):
                assert "1-D, a long reduction" not in str(_cost.decide(x, w, p, "float32",
                                                                       other))
            assert "1-D, a long reduction" not in str(_cost.decide(x, w, p, "float64", c))
    assert hits >= 10
    # the same reduction and row length in 2-D: not this rule
    x2, w2 = (4, 256, 64, 64), (256, 128, 4, 4)
    assert "1-D" not in str(_cost.decide(x2, w2, _cost.params(x2, w2, 2, 1), "float32", c))
    # NumPy only: the grid-overhead trade decides, not this rule
    x, w = (4, 256, 256), (256, 128, 16)
    p = _cost.params(x, w, 8, 4)
    assert _cost.decide(x, w, p, "float32", c).algorithm == "gemm"
    monkeypatch.setenv("TCONV_NUMBA", "0")
    assert "1-D, a long reduction" not in str(_cost.decide(x, w, p, "float32", c))


def test_large_layers_run_register_blocks_where_a_host_says_so(as_avx512, monkeypatch):
    """``blocks_min_macs`` (a processor's own set turns it on): float32 2-D and 3-D layers of
    at least that many multiply-adds and ``blocks_min_positions`` input positions in the
    batch, a kernel of several taps, output channels that fill the register blocks, run
    ``direct`` while their phase grid costs at most ``blocks_max_overhead`` times the
    useful products; smaller layers, fewer positions, a larger zero gap, 1-D, depthwise,
    1x1 kernels, float64 and the NumPy-only choice do not, and 0 turns it off."""
    c = dataclasses.replace(_cost.Constants(), blocks_min_macs=30_000_000,
                            blocks_min_positions=2048, blocks_max_overhead=1.25)
    tag = "a large float32 layer"
    rng = random.Random(11)
    hits = misses = 0
    for _ in range(160):
        nd = rng.choice((1, 2, 3))
        s = rng.choice((1, 2, 4))
        k = rng.choice((1, s, 2 * s, 3))
        g = rng.choice((1, 1, 1, 4))
        cig, cog = rng.choice((1, 16, 64, 256)), rng.choice((1, 8, 32, 128))
        side = rng.choice({1: (64, 1024, 4096), 2: (8, 16, 32, 64), 3: (4, 8, 16)}[nd])
        x, w = (rng.choice((1, 2, 8)), cig * g, *(side,) * nd), (cig * g, cog, *(k,) * nd)
        p = _cost.params(x, w, s, 0, 0, g)
        f = _cost.features(x, w, p, "float32")
        positions = x[0] * side ** nd
        want = (nd >= 2 and not (cig == 1 and cog == 1) and f.macs >= 30_000_000
                and positions >= 2048 and k > 1 and f.grid_overhead <= 1.25
                and _cost.register_blocks("float32", cog))
        d = _cost.decide(x, w, p, "float32", c)
        rule = tag in str(d)
        if d.scatter or (cig == 1 and cog == 1):
            assert not rule
            continue
        assert rule == want, (x, w, s, g, str(d))
        hits += rule
        misses += not rule
        if rule:
            assert d.algorithm == "direct"
            for other in (dataclasses.replace(c, blocks_min_macs=f.macs + 1),
                          dataclasses.replace(c, blocks_min_positions=positions + 1),
                          dataclasses.replace(c, blocks_max_overhead=f.grid_overhead * 0.99),
                          dataclasses.replace(c, blocks_min_macs=0)):
                assert tag not in str(_cost.decide(x, w, p, "float32", other))
            assert tag not in str(_cost.decide(x, w, p, "float64", c))
    assert hits >= 8 and misses >= 8
    # the defaults leave it off; without numba it never fires
    x, w = (8, 256, 32, 32), (256, 128, 4, 4)
    p = _cost.params(x, w, 2, 1)
    assert tag not in str(_cost.decide(x, w, p, "float32", _cost.Constants()))
    assert tag in str(_cost.decide(x, w, p, "float32", c))
    monkeypatch.setenv("TCONV_NUMBA", "0")
    assert tag not in str(_cost.decide(x, w, p, "float32", c))


def test_single_product_short_reduction_runs_direct(as_avx512):
    """``single_direct_depth``: a layer whose outputs are each one term of one product runs
    the compiled register blocks (``direct``, each output written once) where its reduction
    is short and the blocks apply (float32 on AVX-512, output channels that fill them);
    deeper layers, float64 and thin outputs keep gemm's one product; 0 turns it off."""
    c = dataclasses.replace(_cost.Constants(), single_direct_depth=16, scatter_max=0,
                            single_phase_overhead=0.0)
    rng = random.Random(4)
    hits = misses = 0
    while hits + misses < 50:
        nd = rng.choice((1, 2, 3))
        s = rng.choice((2, 3, 4, 8))
        k = rng.choice((1, s - 1, s))
        cig, cog = rng.choice((2, 8, 16, 32, 256)), rng.choice((3, 4, 12, 32, 128))
        x, w = (rng.choice((1, 4)), cig, *(rng.choice((4, 16)),) * nd), (cig, cog, *(k,) * nd)
        p = _cost.params(x, w, s)
        if not _cost.single_product(x, w, p):
            continue
        want = cig <= 16 and _cost.register_blocks("float32", cog)
        d = _cost.decide(x, w, p, "float32", c)
        assert (d.algorithm == "direct") == want, (x, w, s, str(d))
        assert _cost.decide(x, w, p, "float64", c).algorithm != "direct"
        off = dataclasses.replace(c, single_direct_depth=0)
        assert _cost.decide(x, w, p, "float32", off).algorithm == "gemm"
        hits += want
        misses += not want
    assert hits >= 10 and misses >= 10


def test_wide_outputs_on_small_images_leave_the_loops(clean):
    """``loops_wide``: where the compiled loops apply, an output of at least ``loops_wide``
    x ``S_in[-1]`` channels a group runs gemm's one product instead (a phase's rows are
    that short); 0 keeps the loops."""
    if not _native.available():
        pytest.skip("numba missing")
    c = dataclasses.replace(_cost.Constants(), loops_wide=16.0, scatter_max=0)
    for x, w, s, wide in (((1, 8, 8, 8), (8, 256, 4, 4), 2, True),
                          ((1, 16, 8, 8), (16, 128, 8, 8), 4, True),
                          ((8, 16, 4, 4), (16, 64, 4, 4), 2, True),
                          ((1, 8, 32, 32), (8, 256, 4, 4), 2, False),
                          ((1, 8, 8, 8), (8, 64, 4, 4), 2, False)):
        p = _cost.params(x, w, s, 1)
        assert _cost.compiled_loops(x, w, p, c)
        d = _cost.decide(x, w, p, "float32", c)
        assert (d.algorithm == "gemm" and "wide output" in str(d)) == wide, str(d)
        assert wide == (w[1] >= 16 * x[-1])
        off = dataclasses.replace(c, loops_wide=0.0)
        assert _cost.decide(x, w, p, "float32", off).algorithm == "direct"


def test_numpy_only_one_dim_layers_run_phase(clean, monkeypatch):
    """``numpy_phase_1d``: without the compiled kernels a 1-D layer runs ``phase`` where the
    grid-overhead trade would send it to gemm; 0 hands 1-D layers back to the trade; 2-D
    layers are the trade's either way."""
    monkeypatch.setenv("TCONV_NUMBA", "0")
    x, w = (4, 512, 32), (512, 256, 16)                          # a MelGAN layer
    p = _cost.params(x, w, 8, 4)
    c = dataclasses.replace(_cost.Constants(), numpy_gemm_extra=300.0, scatter_max=0,
                            numpy_scatter_max=0, fold_min_phases=1 << 30)
    d = _cost.decide(x, w, p, "float32", c)
    assert d.algorithm == "phase" and "1-D" in str(d)
    trade = dataclasses.replace(c, numpy_phase_1d=0)
    assert _cost.decide(x, w, p, "float32", trade).algorithm == "gemm"
    x2, w2 = (2, 512, 16, 16), (512, 8, 4, 4)
    p2 = _cost.params(x2, w2, 2, 1)
    assert _cost.decide(x2, w2, p2, "float64", c).algorithm == \
        _cost.decide(x2, w2, p2, "float64", trade).algorithm


def test_host_section_keeps_only_what_differs(tmp_path):
    """``calibrate.py --install-host`` records a processor's own set as the constants that
    differ from the file's general set, beside the other hosts' sets and the general one."""
    cal = _calibrate_module()
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"constants": {"gemm_wide": 4}, "scores_geomean_ms": {},
                                "hosts": {"other": {"constants": {"scatter_max": 0}}}}))
    found = dataclasses.asdict(dataclasses.replace(_cost.Constants(), gemm_wide=4,
                                                   direct_depth=2))
    data = cal.host_section(str(path), "cpu-a", {"constants": found, "command": "c",
                                                 "machine": {}})
    assert data["constants"] == {"gemm_wide": 4} and data["scores_geomean_ms"] == {}
    assert data["hosts"]["other"] == {"constants": {"scatter_max": 0}}
    assert data["hosts"]["cpu-a"]["constants"] == {"direct_depth": 2}
    assert data["hosts"]["cpu-a"]["command"] == "c"
    with pytest.raises(SystemExit):
        cal.host_section(str(path), "", {"constants": found})
