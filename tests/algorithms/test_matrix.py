"""``algorithm="matrix"``: the sparse transposed convolution matrix."""

from __future__ import annotations

import numpy as np
import pytest
from _oracle import assert_close
from algorithms._cases import EDGE_CASES, case_ids, make_case, run, torch_reference
from hypothesis import given, settings
from strategies import Config, transposed_configs

ALGO = "matrix"


class TestConvTransposeMatrix:
    @pytest.mark.parametrize("case", EDGE_CASES, ids=case_ids())
    def test_oracle(self, case, dtype):
        x, w, kw = make_case(case, dtype)
        assert_close(run(ALGO, x, w, kw), torch_reference(x, w, kw), dtype)

    @settings(max_examples=30)
    @given(cfg=transposed_configs())
    def test_identity(self, cfg: Config):
        # agrees with the one-to-many definition on random valid configurations
        rng = np.random.default_rng(1)
        x = rng.standard_normal((cfg.batch, cfg.c_in, *cfg.size))
        w = rng.standard_normal((cfg.c_in, cfg.cog, *cfg.kernel))
        kw = dict(stride=cfg.stride, padding=cfg.padding, output_padding=cfg.output_padding,
                  groups=cfg.groups, dilation=cfg.dilation)
        assert_close(run(ALGO, x, w, kw), run("scatter", x, w, kw))

    def test_smoke(self):
        y = run(ALGO, np.arange(4.0).reshape(1, 1, 2, 2), np.ones((1, 1, 3, 3)),
                dict(stride=2, padding=0, output_padding=0, groups=1, dilation=1))
        assert y.shape == (1, 1, 5, 5) and y.sum() == 6.0 * 9
