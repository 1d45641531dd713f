"""``tconv.conventions.solve`` over N-d sizes, and layers built from a solution."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tconv import conv_transpose_output_size
from tconv.conventions import RISKS, Solution, TransposedConvSpec, solve

CASES = [((16, 12), (32, 24)), ((5, 7), (10, 21)), ((4,), (9,)), ((3, 4, 5), (6, 8, 10)),
         ((8, 8), (15, 16)), ((7, 3), (7, 9))]


class TestSolveNd:
    @pytest.mark.parametrize("size_in,size_out", CASES)
    def test_every_solution_reaches_the_size(self, size_in, size_out) -> None:
        sols = solve(size_in, size_out, kernel_sizes=range(1, 6), strides=range(1, 4))
        assert sols, "no solution"
        for sol in sols:
            assert sol.ndim == len(size_in)
            kw = sol.to_torch()
            assert conv_transpose_output_size(size_in, **{k: v for k, v in kw.items()
                                                          if k != "kernel_size"},
                                              kernel_size=kw["kernel_size"]) == size_out
            assert sol.spec.output_size(size_in) == size_out

    @pytest.mark.parametrize("size_in,size_out", CASES)
    def test_combines_the_per_dim_solutions(self, size_in, size_out) -> None:
        """Exactly the cartesian product of the 1-D solutions, flags combined."""
        kw = dict(kernel_sizes=range(1, 5), strides=range(1, 4))
        per_dim = [solve(i, o, **kw) for i, o in zip(size_in, size_out)]
        sols = solve(size_in, size_out, **kw)
        assert len(sols) == np.prod([len(p) for p in per_dim])
        one = {(s.kernel_size, s.stride, s.padding, s.output_padding, s.dilation): s
               for s in sols}
        for combo in itertools.product(*per_dim):
            key = tuple(tuple(getattr(c, f) for c in combo) for f in
                        ("kernel_size", "stride", "padding", "output_padding", "dilation"))
            sol = one[key]
            assert sol.uneven == any(c.uneven for c in combo)
            assert set(sol.risks) == {r for c in combo for r in c.risks}
            assert list(sol.risks) == [r for r in RISKS if r in sol.risks]
            assert sol.overlap_ratio == pytest.approx(np.prod([c.overlap_ratio for c in combo]))

    def test_sorted_even_and_safe_first(self) -> None:
        sols = solve((16, 12), (32, 24))
        keys = [(s.uneven, len(s.risks)) for s in sols]
        assert keys == sorted(keys)
        assert sols[0].kernel_size == (2, 2) and sols[0].stride == (2, 2)

    def test_size_one(self) -> None:
        """An input (or output) of one sample is a valid size in every dim."""
        sols = solve((1, 4), (2, 8))
        assert sols and all(s.spec.output_size((1, 4)) == (2, 8) for s in sols)
        assert solve((3, 1), (5, 1))[0].spec.output_size((3, 1)) == (5, 1)
        assert solve(1, 3)[0].spec.output_size(1) == (3,)

    def test_int_output_repeated(self) -> None:
        assert solve((4, 4), 8)[:5] == solve((4, 4), (8, 8))[:5]

    def test_1d_unchanged(self) -> None:
        sol = solve(16, 32)[0]
        assert (sol.kernel_size, sol.stride, sol.padding) == (2, 2, 0) and sol.ndim == 1

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="must have the same 1, 2 or 3 spatial dims"):
            solve((4, 4), (8, 8, 8))
        with pytest.raises(ValueError, match="must have the same 1, 2 or 3 spatial dims"):
            solve((1, 2, 3, 4), (2, 4, 6, 8))
        with pytest.raises(ValueError, match="input_size=.* must be positive"):
            solve((0, 4), (8, 8))


class TestBuildLayer:
    def test_to_module_2d(self) -> None:
        torch = pytest.importorskip("torch")
        sol = solve((16, 12), (32, 24))[0]
        layer = sol.to_module(3, 5)
        assert isinstance(layer, torch.nn.ConvTranspose2d)
        assert layer(torch.zeros(1, 3, 16, 12)).shape == (1, 5, 32, 24)

    @pytest.mark.parametrize("size_in,size_out", CASES)
    def test_to_module_matches_the_spec(self, size_in, size_out) -> None:
        """The built layer's output equals the spec run by tconv, for the first solutions."""
        torch = pytest.importorskip("torch")
        rng = np.random.default_rng(len(size_in))
        for sol in solve(size_in, size_out, kernel_sizes=range(1, 5))[:4]:
            layer = sol.to_module(2, 3, dtype=torch.float64, bias=False)
            x = rng.standard_normal((1, 2, *size_in))
            with torch.no_grad():
                y = layer(torch.tensor(x)).numpy()
            assert y.shape[2:] == tuple(size_out)
            want = sol.spec.apply(x, layer.weight.detach().numpy())
            np.testing.assert_allclose(y, want, atol=1e-10)

    def test_1d_solution_in_2d_layer(self) -> None:
        """``ndim=`` repeats a 1-D solution: the layer passed to a 2-D model works there."""
        torch = pytest.importorskip("torch")
        sol = solve(16, 32)[1]                            # kernel 4, stride 2, padding 1
        layer = sol.to_module(1, 1, ndim=2)
        assert isinstance(layer, torch.nn.ConvTranspose2d)
        assert layer(torch.zeros(1, 1, 16, 16)).shape == (1, 1, 32, 32)
        assert isinstance(sol.to_module(1, 1), torch.nn.ConvTranspose1d)
        with pytest.raises(ValueError, match="only a 1-D solution is repeated"):
            solve((4, 4), (8, 8))[0].to_module(1, 1, ndim=3)

    def test_keyword_arguments(self) -> None:
        sol = solve((16, 12), (32, 24), kernel_sizes=(4,))[0]
        assert sol.to_keras() == {"kernel_size": (4, 4), "strides": (2, 2), "padding": "same",
                                  "output_padding": None, "dilation_rate": (1, 1)}
        assert sol.to_onnx(auto_pad=True) == {"kernel_shape": [4, 4], "strides": [2, 2],
                                              "dilations": [1, 1], "auto_pad": "SAME_UPPER"}
        assert sol.to_onnx()["pads"] == [1, 1, 1, 1]
        assert sol.spec == TransposedConvSpec.from_torch(4, 2, 1, ndim=2)
        assert isinstance(sol, Solution)
