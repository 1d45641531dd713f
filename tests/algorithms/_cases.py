"""Shared cases for the per-algorithm tests: an edge-case table and a torch reference.

The reference runs PyTorch's ``conv_transpose`` with no padding (the full one-to-many
output) and then takes the window ``[low, low + out)`` per spatial dim, zeros outside: that
covers what torch's symmetric ``padding`` cannot express -- ``(low, high)`` pairs and the
negative crop of ``padding="same"`` with kernel < stride.
"""

from __future__ import annotations

import numpy as np
import pytest
from _oracle import assert_close
from hypothesis import HealthCheck, given, settings
from strategies import Config, transposed_configs

import tconv
from tconv.conv import transposed_params

#: (name, N, groups, C_in/g, C_out/g, S_in, K, stride, padding, output_padding, dilation)
EDGE_CASES = [
    ("1d-basic", 2, 1, 2, 3, (5,), (3,), (2,), 1, 0, 1),
    ("1d-op", 3, 1, 1, 2, (4,), (4,), (3,), 1, 2, 1),
    ("1d-dilation", 1, 1, 2, 2, (6,), (3,), (2,), 2, 1, 2),
    ("1d-k<s-same", 2, 1, 2, 1, (4,), (2,), (3,), "same", 0, 1),
    ("1d-same-lower", 1, 1, 1, 2, (5,), (4,), (2,), "same_lower", 0, 1),
    ("1d-batch0", 0, 1, 2, 2, (4,), (3,), (2,), 0, 0, 1),
    ("2d-dcgan", 2, 1, 3, 2, (4, 4), (4, 4), (2, 2), 1, 0, 1),
    ("2d-k=s", 2, 1, 4, 3, (3, 5), (2, 2), (2, 2), 0, 0, 1),
    ("2d-k<s", 1, 1, 2, 2, (3, 3), (2, 1), (3, 2), 0, (1, 1), 1),
    ("2d-pairs", 2, 1, 2, 2, ((4, 3)), (3, 4), (2, 3), ((1, 2), (0, 3)), 0, 1),
    ("2d-same-k<s", 3, 1, 1, 2, (3, 4), (1, 2), (3, 4), "same", 0, 1),
    ("2d-groups", 2, 3, 2, 1, (4, 3), (3, 3), (2, 1), 1, (1, 0), 1),
    ("2d-depthwise", 1, 4, 1, 1, (5, 5), (4, 4), (2, 2), 1, 0, 1),
    ("2d-depthwise-big", 1, 3, 1, 1, (3, 3), (8, 8), (4, 4), 2, 0, 1),
    ("2d-depthwise-s8", 2, 3, 1, 1, (3, 4), (16, 12), (8, 8), 4, (3, 0), 1),
    ("2d-depthwise-s9-same", 1, 2, 1, 1, (3, 3), (5, 20), (9, 9), "same", 0, 1),
    ("2d-depthwise-fcn", 1, 2, 1, 1, (3, 2), (16, 16), (8, 8), 4, 0, 1),
    ("1d-depthwise-s10", 2, 2, 1, 1, (4,), (25,), (10,), 7, 3, 1),
    ("3d-depthwise-s8", 1, 2, 1, 1, (2, 2, 2), (3, 9, 16), (8, 8, 8), (1, 3, 4), 0, 1),
    ("2d-dilation-groups", 2, 2, 2, 2, (4, 4), (3, 2), (2, 3), (2, 1), (1, 2), (2, 2)),
    ("2d-fsrcnn", 1, 1, 4, 1, (6, 6), (9, 9), (3, 3), 4, 2, 1),
    ("2d-batch3-op", 3, 1, 2, 2, (2, 3), (3, 3), (2, 2), 1, 1, 1),
    ("3d-basic", 2, 1, 2, 2, (3, 3, 2), (4, 4, 4), (2, 2, 2), 1, 0, 1),
    ("3d-mixed", 1, 2, 1, 2, (2, 3, 2), (2, 3, 1), (1, 2, 3), (0, 1, 0), (0, 1, 2), (1, 1, 2)),
    ("3d-same", 2, 1, 1, 1, (2, 2, 3), (1, 3, 2), (2, 2, 3), "same", 0, 1),
]


def case_ids() -> list[str]:
    return [c[0] for c in EDGE_CASES]


def make_case(case: tuple, dtype: np.dtype = np.float64, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray, dict]:
    _, n, g, cig, cog, size, kernel, stride, padding, op, dil = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, g * cig, *size)).astype(dtype)
    w = rng.standard_normal((g * cig, cog, *kernel)).astype(dtype)
    kw = dict(stride=stride, padding=padding, output_padding=op, groups=g, dilation=dil)
    return x, w, kw


def torch_reference(x: np.ndarray, w: np.ndarray, kw: dict) -> np.ndarray:
    """conv_transpose by PyTorch's full output and a zero-extended window."""
    torch = pytest.importorskip("torch")
    fn = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d,
          3: torch.nn.functional.conv_transpose3d}[x.ndim - 2]
    p, out = transposed_params("ref", x.shape, w.shape, None, kw["stride"], kw["padding"],
                               kw["output_padding"], kw["groups"], kw["dilation"], None)
    if x.shape[0] == 0:
        return np.zeros((0, w.shape[1] * p.groups, *out), dtype=x.dtype)
    full = fn(torch.from_numpy(x), torch.from_numpy(w), None, p.stride, 0, 0, p.groups,
              p.dilation).numpy()
    y = np.zeros((*full.shape[:2], *out), dtype=full.dtype)
    src, dst = [], []
    for a, (lo, o) in enumerate(zip(p.pad_lo, out)):
        first, last = max(lo, 0), min(lo + o, full.shape[2 + a])
        src.append(slice(first, last))
        dst.append(slice(first - lo, last - lo))
    y[(Ellipsis, *dst)] = full[(Ellipsis, *src)]
    return y


def run(algorithm: str, x: np.ndarray, w: np.ndarray, kw: dict) -> np.ndarray:
    return tconv.conv_transpose(x, w, None, kw["stride"], kw["padding"],
                                kw["output_padding"], kw["groups"], kw["dilation"],
                                algorithm=algorithm)


class AlgorithmContract:
    """What every ``algorithm=`` must satisfy; a test module subclasses it with ``ALGO``.

    ``REFERENCE`` is the independent algorithm it is compared with on random configurations:
    the one-to-many definition (``scatter``), or the sparse matrix for ``scatter`` itself.
    """

    ALGO = ""
    REFERENCE = "scatter"

    @pytest.mark.parametrize("case", EDGE_CASES, ids=case_ids())
    def test_oracle(self, case, dtype):
        x, w, kw = make_case(case, dtype)
        assert_close(run(self.ALGO, x, w, kw), torch_reference(x, w, kw), dtype)

    # one method shared by every subclass: hypothesis sees several executors, by design
    @settings(max_examples=40, suppress_health_check=[HealthCheck.differing_executors])
    @given(cfg=transposed_configs())
    def test_identity(self, cfg: Config):
        rng = np.random.default_rng(1)
        x = rng.standard_normal((cfg.batch, cfg.c_in, *cfg.size))
        w = rng.standard_normal((cfg.c_in, cfg.cog, *cfg.kernel))
        kw = dict(stride=cfg.stride, padding=cfg.padding, output_padding=cfg.output_padding,
                  groups=cfg.groups, dilation=cfg.dilation)
        assert_close(run(self.ALGO, x, w, kw), run(self.REFERENCE, x, w, kw))

    def test_smoke(self):
        # 2x2 ramp, 3x3 ones, stride 2: every input spreads 9 copies of itself -> sum 6 * 9
        y = run(self.ALGO, np.arange(4.0).reshape(1, 1, 2, 2), np.ones((1, 1, 3, 3)),
                dict(stride=2, padding=0, output_padding=0, groups=1, dilation=1))
        assert y.shape == (1, 1, 5, 5) and y.sum() == 6.0 * 9
