"""The NumPy engine's banded path: its threads and its agreement with the core path.

``NumpyUpscaler`` runs the transposed and pixel-shuffle heads on its banded engine (bands of
rows on one thread pool shared by every model); ``_layerwise`` runs every layer through
``tconv.conv`` and is the reference. Models are built from seeded random weights of
``weight_shapes`` (no torch needed), over heads, scales, head sizes, body widths and gates.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading

import numpy as np
import pytest

import tconv
from tconv.apps.upscale import infer
from tconv.apps.upscale.model import UpscalerConfig, weight_shapes


def _model(cfg: UpscalerConfig, seed: int = 0) -> infer.NumpyUpscaler:
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, shape in weight_shapes(cfg).items():
        scale = 0.25 if len(shape) == 1 else 1.0 / np.sqrt(np.prod(shape[1:]))
        arrays[name] = rng.normal(0.0, scale, shape).astype(np.float32)
    return infer.NumpyUpscaler(cfg, arrays)


def _configs(n: int, seed: int = 0) -> list[UpscalerConfig]:
    """A seeded population of banded-engine models (transposed and pixel-shuffle heads)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        scale = int(rng.integers(2, 5))
        head = ("transposed", "pixel_shuffle")[i % 2]
        size = 0
        if rng.random() < 0.5:                      # another head kernel than the default
            size = int(rng.integers(scale, 8)) if head == "transposed" else \
                int(rng.choice([1, 3, 5]))
        gate = (1.5, 3.0) if rng.random() < 0.5 else (0.0, 0.0)
        out.append(UpscalerConfig(scale=scale, head=head, d=int(rng.integers(3, 9)),
                                  s=int(rng.integers(2, 6)), m=int(rng.integers(0, 3)),
                                  skip=bool(rng.random() < 0.7), skip_a=-0.5, head_size=size,
                                  gate_low=gate[0], gate_high=gate[1]))
    return out


@pytest.fixture
def threads():
    """Set tconv's thread count inside a test; back to the default afterwards."""
    yield tconv.set_num_threads
    tconv.set_num_threads(None)


@pytest.fixture
def small_bands(monkeypatch):
    """Bands of 40 output pixels: even small images run as many bands on the pool."""
    monkeypatch.setattr(infer.NumpyUpscaler, "BAND_PIXELS", 40)


#: what a forked child runs (inherited through fork: the model holds locks, never pickled)
_FORKED: dict[str, object] = {}


def _run_forked() -> np.ndarray:
    return _FORKED["model"](_FORKED["input"])  # type: ignore[operator]


def _engine_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("tconv-upscale")]


class TestBandedEngine:
    @pytest.mark.parametrize("cfg", _configs(12), ids=lambda c: f"x{c.scale}-{c.head}")
    def test_identity_threads(self, cfg, threads, small_bands):
        """Any thread count gives the same bits (each band is computed alike on any thread),
        and the layer-by-layer core path to float32 rounding."""
        model = _model(cfg, seed=cfg.scale)
        rng = np.random.default_rng(1)
        for shape in ((1, 1), (7, 12), (19, 6)):
            y = rng.random(shape).astype(np.float32)
            outs = []
            for n in (1, 2, 3):
                threads(n)
                outs.append(model(y))
            assert outs[0].shape == (shape[0] * cfg.scale, shape[1] * cfg.scale)
            assert outs[0].dtype == np.float32
            for got in outs[1:]:
                np.testing.assert_array_equal(got, outs[0])
            np.testing.assert_allclose(outs[0], model._layerwise(y), atol=1e-5)

    def test_one_pool_for_every_model(self, threads, small_bands):
        """Models of every scale share one pool of ``tconv.get_num_threads()`` threads; a new
        thread count replaces it (never a pool per model or per size)."""
        models = [_model(UpscalerConfig(scale=s, d=6, s=3, m=1), seed=s) for s in (2, 3, 4)]
        y = np.random.default_rng(2).random((9, 11)).astype(np.float32)
        for n in (2, 3, 2):
            threads(n)
            for m in models:
                m(y)
            assert list(infer._POOLS) == [n]
            assert len({t.ident for t in _engine_threads()}) <= 3 + n   # old ones exiting
        threads(1)
        before = {t.ident for t in _engine_threads()}
        for m in models:
            m(y)                                     # one thread: in order, no pool started
        assert {t.ident for t in _engine_threads()} <= before

    def test_concurrent_callers(self, threads, small_bands):
        """User threads calling models at once (sharing the pool) get the serial results."""
        threads(2)
        models = [_model(c, seed=i) for i, c in enumerate(_configs(3, seed=4))]
        rng = np.random.default_rng(3)
        inputs = [rng.random((int(rng.integers(3, 15)), int(rng.integers(3, 15))))
                  .astype(np.float32) for _ in range(6)]
        want = [models[i % 3](y) for i, y in enumerate(inputs)]
        got: list[np.ndarray | None] = [None] * len(inputs)

        def work(i: int) -> None:
            got[i] = models[i % 3](inputs[i])

        workers = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
        for t in workers:
            t.start()
        for t in workers:
            t.join(timeout=120)
        for g, w in zip(got, want, strict=True):
            assert g is not None
            np.testing.assert_array_equal(g, w)

    @pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
    def test_forked_child_starts_its_own_pool(self, threads, small_bands):
        """A child forked after the pool started runs the engine (its own threads)."""
        threads(2)
        model = _model(UpscalerConfig(scale=2, d=6, s=3, m=1))
        y = np.random.default_rng(5).random((8, 10)).astype(np.float32)
        want = model(y)
        assert infer._POOLS
        _FORKED.update(model=model, input=y)
        ctx = multiprocessing.get_context("fork")
        try:
            with ctx.Pool(1) as pool:
                got = pool.apply_async(_run_forked).get(timeout=120)
        finally:
            _FORKED.clear()
        np.testing.assert_array_equal(got, want)


def test_engine_bands_run_as_tconv_workers(threads):
    """The engine's band threads count as tconv's workers (their name): the core's calls
    inside a band run in order on that thread, no second level of threads beside the
    engine's."""
    from tconv._algorithms import _parallel

    model = _model(_configs(1)[0], seed=2)
    threads(2)
    seen: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def band(_: int) -> None:
        with lock:
            seen.append((threading.current_thread().name, _parallel.in_worker()))

    model._for_each(band, list(range(8)))
    assert seen and all(name.startswith("tconv-upscale") and worker for name, worker in seen)
    assert not _parallel.in_worker()
