"""Depth-to-space / space-to-depth in both channel orders, NumPy and torch.

Oracles: onnxruntime's ``DepthToSpace`` (modes DCR and CRD) and ``SpaceToDepth`` (DCR) on
4-D tensors, ``torch.nn.functional.pixel_shuffle``/``pixel_unshuffle`` (CRD, 2-D) and
``tconv.nn.pixel_shuffle`` (CRD, 1-3-D); DCR in 1-D and 3-D against its definition as a
channel regrouping of CRD.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tconv.shuffle import depth_to_space, pixel_shuffle, pixel_unshuffle, space_to_depth


def _ort(op: str, x: np.ndarray, block: int, mode: str | None = None) -> np.ndarray:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    attrs = {"blocksize": block} | ({"mode": mode} if mode else {})
    node = helper.make_node(op, ["X"], ["Y"], **attrs)
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT,
                                                             list(x.shape))],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"X": x})[0]


SHAPES = [((1, 8, 3, 5), 2), ((2, 18, 2, 4), 3), ((1, 4, 1, 1), 2), ((3, 27, 2, 3), 3)]


class TestDepthToSpace:
    @pytest.mark.parametrize("mode", ["DCR", "CRD"])
    @pytest.mark.parametrize("shape,block", SHAPES)
    def test_oracle_onnxruntime(self, mode: str, shape, block: int) -> None:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        want = _ort("DepthToSpace", x, block, mode)
        np.testing.assert_array_equal(depth_to_space(x, block, mode), want)
        torch = pytest.importorskip("torch")
        from tconv.nn import depth_to_space as torch_d2s

        np.testing.assert_array_equal(torch_d2s(torch.from_numpy(x), block, mode).numpy(),
                                      want)

    @pytest.mark.parametrize("shape,block", SHAPES)
    def test_space_to_depth_onnxruntime(self, shape, block: int) -> None:
        n, c, h, w = shape
        x = np.random.default_rng(1).standard_normal((n, c, h * block, w * block)).astype(
            np.float32)
        want = _ort("SpaceToDepth", x, block)
        np.testing.assert_array_equal(space_to_depth(x, block), want)
        torch = pytest.importorskip("torch")
        from tconv.nn import space_to_depth as torch_s2d

        np.testing.assert_array_equal(torch_s2d(torch.from_numpy(x), block).numpy(), want)

    @pytest.mark.parametrize("ndim", [1, 2, 3])
    def test_crd_is_pixel_shuffle(self, ndim: int) -> None:
        torch = pytest.importorskip("torch")
        import tconv.nn as tnn

        rng = np.random.default_rng(2)
        for r in itertools.product((1, 2, 3), repeat=ndim):
            x = rng.standard_normal((2, 2 * int(np.prod(r))) + (3,) * ndim)
            want = tnn.pixel_shuffle(torch.from_numpy(x), r, ndim=ndim).numpy()
            np.testing.assert_array_equal(pixel_shuffle(x, r), want)
            np.testing.assert_array_equal(depth_to_space(x, r, "CRD"), want)
            back = tnn.pixel_unshuffle(torch.from_numpy(want), r, ndim=ndim).numpy()
            np.testing.assert_array_equal(pixel_unshuffle(want, r), back)
            if ndim == 2:
                np.testing.assert_array_equal(
                    pixel_unshuffle(want, r[0]) if r[0] == r[1] else back, back)

    def test_torch_pixel_unshuffle(self) -> None:
        torch = pytest.importorskip("torch")
        x = np.random.default_rng(3).standard_normal((2, 3, 6, 9))
        want = torch.nn.functional.pixel_unshuffle(torch.from_numpy(x), 3).numpy()
        np.testing.assert_array_equal(pixel_unshuffle(x, 3), want)

    @pytest.mark.parametrize("ndim", [1, 2, 3])
    def test_dcr_is_crd_of_regrouped_channels(self, ndim: int) -> None:
        """DCR reads channel p * C + c where CRD reads c * R + p, in every dim count; and
        torch's DCR equals NumPy's."""
        torch = pytest.importorskip("torch")
        from tconv.nn import depth_to_space as torch_d2s
        from tconv.nn import space_to_depth as torch_s2d

        rng = np.random.default_rng(4)
        for r in itertools.product((1, 2, 3), repeat=ndim):
            R, C = int(np.prod(r)), 2
            x = rng.standard_normal((1, R * C) + (2,) * ndim)
            regrouped = x.reshape((1, R, C) + x.shape[2:]).swapaxes(1, 2).reshape(x.shape)
            y = depth_to_space(x, r, "DCR")
            np.testing.assert_array_equal(y, depth_to_space(regrouped, r, "CRD"))
            np.testing.assert_array_equal(
                torch_d2s(torch.from_numpy(x), r, "DCR", ndim=ndim).numpy(), y)
            for mode in ("DCR", "CRD"):
                z = depth_to_space(x, r, mode)
                np.testing.assert_array_equal(space_to_depth(z, r, mode), x)
                np.testing.assert_array_equal(
                    torch_s2d(torch.from_numpy(z), r, mode, ndim=ndim).numpy(), x)

    def test_batch_dims(self) -> None:
        x = np.arange(2 * 3 * 8 * 2).reshape(2, 3, 8, 2)
        y = depth_to_space(x, 2, ndim=1)
        assert y.shape == (2, 3, 4, 4)
        np.testing.assert_array_equal(y[1, 2], depth_to_space(x[1, 2][None], 2, ndim=1)[0])

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="depth_to_space: x has 6 channels, not "
                                             "divisible by prod"):
            depth_to_space(np.zeros((1, 6, 2, 2)), 2)
        with pytest.raises(ValueError, match="mode='RCD' must be"):
            depth_to_space(np.zeros((1, 4, 2, 2)), 2, "RCD")
        with pytest.raises(ValueError, match=r"space_to_depth: spatial size \(3, 4\) must "
                                             "be divisible"):
            space_to_depth(np.zeros((1, 1, 3, 4)), 2)
        with pytest.raises(ValueError, match="ndim=4 must be 1, 2 or 3"):
            depth_to_space(np.zeros((1, 1, 1, 1, 1, 1)), 1)
