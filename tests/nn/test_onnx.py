"""ONNX export of every Upsample variant and of the converted layers, checked in onnxruntime.

The TorchScript-based exporter (``dynamo=False``) is used for the sweep because it takes
~0.2 s per model here; the default (dynamo) exporter takes 2-10 s per model on this CPU and
is exercised once, on a converted layer.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from _oracle import assert_close  # noqa: E402

from tconv.nn import METHODS, Upsample, to_pixel_shuffle, to_zero_insertion  # noqa: E402

OPSET = 18


def _export(model: torch.nn.Module, x: torch.Tensor, path: Path, dynamo: bool = False,
            dynamic: bool = False) -> Path:
    kw = {}
    if dynamic:
        nd = x.dim() - 2
        kw["dynamic_axes"] = {"x": {0: "batch", **{2 + i: f"s{i}" for i in range(nd)}}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (x,), str(path), opset_version=OPSET, dynamo=dynamo,
                          input_names=["x"], output_names=["y"], **kw)
    return path


def _run(path: Path, x: torch.Tensor) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]


def _ops(path: Path) -> set[str]:
    return {node.op_type for node in onnx.load(str(path)).graph.node}


VARIANTS = [(nd, m) for nd in (1, 2, 3) for m in METHODS if not (m == "bicubic" and nd != 2)]


class TestOnnx:
    @pytest.mark.parametrize("nd,method", VARIANTS)
    def test_upsample(self, nd: int, method: str, tmp_path: Path) -> None:
        torch.manual_seed(0)
        init = "icnr" if method in ("transposed", "pixel_shuffle") and nd == 2 else "default"
        up = Upsample(2, 3, 2, method=method, ndim=nd, init=init, rng=0)
        x = torch.randn(1, 2, *(5,) * nd)
        path = _export(up, x, tmp_path / "up.onnx")
        out = _run(path, x)
        assert_close(out, up(x).detach().numpy(), np.float32)
        assert out.shape == (1, 3, *(10,) * nd)

    @pytest.mark.parametrize("convert", [to_pixel_shuffle, to_zero_insertion])
    @pytest.mark.parametrize("layer", [
        lambda: torch.nn.ConvTranspose2d(4, 2, 9, stride=2, padding=4, output_padding=1),
        lambda: torch.nn.ConvTranspose2d(4, 2, (3, 4), stride=(2, 3), padding=(0, 2),
                                         output_padding=(1, 0), dilation=(2, 1)),
        lambda: torch.nn.ConvTranspose1d(4, 2, 2, stride=3),
        lambda: torch.nn.ConvTranspose3d(4, 2, 3, stride=2, padding=1, output_padding=1),
    ], ids=["fsrcnn", "2d-dilated", "1d-crop", "3d"])
    def test_converted(self, convert, layer, tmp_path: Path) -> None:
        """Converted layers export without ConvTranspose and run on other input sizes."""
        torch.manual_seed(0)
        layer = layer()
        nd = layer.weight.dim() - 2
        model = convert(layer)
        path = _export(model, torch.randn(1, 4, *(5,) * nd), tmp_path / "c.onnx", dynamic=True)
        assert "ConvTranspose" not in _ops(path)
        x = torch.randn(2, 4, *(4,) * (nd - 1), 7)           # batch and sizes not exported
        assert_close(_run(path, x), layer(x).detach().numpy(), np.float32)

    def test_transposed_op(self, tmp_path: Path) -> None:
        path = _export(Upsample(2, 2, 2), torch.randn(1, 2, 4, 4), tmp_path / "t.onnx")
        assert "ConvTranspose" in _ops(path)

    def test_dynamo(self, tmp_path: Path) -> None:
        """The default torch.onnx exporter (dynamo) handles the custom modules too."""
        torch.manual_seed(0)
        layer = torch.nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1)
        model = to_pixel_shuffle(layer)
        x = torch.randn(1, 3, 6, 5)
        path = _export(model, x, tmp_path / "d.onnx", dynamo=True)
        assert_close(_run(path, x), layer(x).detach().numpy(), np.float32)
