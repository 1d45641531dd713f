"""One oracle helper: compare a NumPy function with its PyTorch twin.

``check_against_torch`` draws seeded inputs, compares shape and dtype before values, then
compares the gradients of ``.sum() * g`` (a random cotangent). ``check_same_error`` asserts
that both sides reject the same arguments for the same reason: ours with a
``ValueError``/``TypeError`` whose message matches ``match``, torch with the exception type
and message :data:`TORCH_REASONS` records for that reason.

:data:`TOL` is the tests' one tolerance table (``conftest.py`` re-exports it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

#: absolute tolerance per dtype, for values of order 1 (scaled by the reference's magnitude)
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}

#: how PyTorch reports each reason tconv gives: the ``match`` of tconv's message -> (the
#: exception type torch raises, a regex of torch's message)
TORCH_REASONS: dict[str, tuple[type[BaseException], str]] = {
    # conv / conv_transpose
    "stride": (RuntimeError, r"stride"),
    "dilation": (RuntimeError, r"dilation should be greater than zero"),
    "padding": (RuntimeError, r"padding"),
    "output_padding": (RuntimeError, r"output padding must be smaller than either stride"),
    "groups": (RuntimeError, r"groups"),
    "channels": (RuntimeError, r"to have \d+ channels, but got \d+ channels"),
    "empty": (RuntimeError, r"Output size is too small"),
    "dims": (RuntimeError, r"Expected \dD \(unbatched\) or \dD \(batched\) input"),
    "bias": (RuntimeError, r"expected bias to be 1-dimensional"),
    "dtype": (RuntimeError, r"expected scalar type|should be the same"),
    "kernel": (RuntimeError, r"Kernel size can't be greater than actual input size"),
    "strided": (RuntimeError, r"padding='same' is not supported for strided convolutions"),
    # interpolate
    "mode='cubic' must be one of": (NotImplementedError, r"for the modes: nearest"),
    "align_corners": (ValueError, r"align_corners option can only be set"),
    "antialias=True needs": (ValueError, r"Anti-alias option is restricted"),
    "both None": (ValueError, r"either size or scale_factor should be defined"),
    "both given": (ValueError, r"only one of size or scale_factor should be defined"),
    "empty output size": (RuntimeError, r"sizes should be greater than 0"),
    "finite and positive": (RuntimeError, r"sizes should be greater than 0|without overflow"),
    "must be an int": (TypeError, r"expected size to be one of int"),
    "must be positive": (RuntimeError, r"sizes should be greater than 0"),
    "must have 2 entries": (ValueError, r"must have the same number of spatial dimensions"),
    "must have 3, 4 or 5 dims": (NotImplementedError, r"Only 3D, 4D and 5D input"),
    "needs 3-D input": (NotImplementedError, r"linear mode needs 3D input"),
    "needs 4-D input": (NotImplementedError, r"mode needs 4D input|Only 3D, 4D and 5D input"),
    "needs 5-D input": (NotImplementedError, r"trilinear mode needs 5D input"),
    "non-zero size": (RuntimeError, r"Non-empty \dD data tensor|sizes should be greater than 0"),
    "not meaningful": (ValueError, r"recompute_scale_factor is not meaningful"),
}


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype: np.dtype | None = None,
                 tol: float | None = None) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    if dtype is not None:
        assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype} != {dtype}"
    tol = TOL[np.dtype(dtype or np.float64)] if tol is None else tol
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * scale)


def check_against_torch(fn_np: Callable[..., np.ndarray], fn_torch: Callable[..., object],
                        shapes: Sequence[tuple[int, ...]], dtype: np.dtype = np.float64,
                        seed: int = 0, grad: bool = True,
                        grad_np: Callable[..., Sequence[np.ndarray]] | None = None) -> None:
    """Run both functions on the same seeded inputs; compare outputs (and gradients).

    ``grad_np(g, *inputs)`` returns the gradients of ``sum(fn(*inputs) * g)`` w.r.t. each
    input; they are compared with torch autograd's.
    """
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    inputs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    out = fn_np(*inputs)
    ts = [torch.tensor(a, requires_grad=grad) for a in inputs]
    ref = fn_torch(*ts)
    assert_close(out, ref.detach().numpy(), dtype)
    if grad and grad_np is not None:
        g = rng.standard_normal(ref.shape).astype(dtype)
        (ref * torch.tensor(g)).sum().backward()
        for mine, t in zip(grad_np(g, *inputs), ts):
            assert_close(mine, t.grad.numpy(), dtype)


def check_same_error(fn_np: Callable[[], object], fn_torch: Callable[[], object],
                     match: str | None = None, *,
                     torch_error: type[BaseException] | tuple[type[BaseException], ...] | None
                     = None, torch_match: str | None = None) -> None:
    """Both sides reject the call for the same reason.

    Ours raises ``ValueError``/``TypeError`` matching ``match``; torch raises ``torch_error``
    with a message matching ``torch_match`` -- by default the entry of :data:`TORCH_REASONS`
    for ``match`` (a reason without an entry fails, asking for one).
    """
    if torch_error is None or torch_match is None:
        if match not in TORCH_REASONS:
            pytest.fail(f"check_same_error: no torch reason recorded for match={match!r}; add "
                        "its exception type and message regex to TORCH_REASONS in "
                        "tests/_oracle.py, or pass torch_error= and torch_match=")
        default_error, default_match = TORCH_REASONS[match]
        torch_error = default_error if torch_error is None else torch_error
        torch_match = default_match if torch_match is None else torch_match
    with pytest.raises((ValueError, TypeError), match=match):
        fn_np()
    try:
        fn_torch()
    except BaseException as exc:  # noqa: BLE001 - the type is checked below
        assert isinstance(exc, torch_error), (
            f"torch raised {type(exc).__name__}({exc}), expected {torch_error} for the reason "
            f"{match!r}")
        assert re.search(torch_match, str(exc)), (
            f"torch's message {str(exc)!r} does not give the reason {match!r} "
            f"(regex {torch_match!r})")
    else:
        pytest.fail(f"torch accepted a call tconv rejects ({match!r})")


def onnx_model(op_type: str, x: np.ndarray, w: np.ndarray, double: bool = False,
               **attrs: object) -> object:
    """An ONNX model (opset 17) of one ``op_type`` node ``Y = op(X, W)`` with ``attrs``, on
    float32 tensors of ``x``'s and ``w``'s shapes (float64 with ``double``)."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    dtype = TensorProto.DOUBLE if double else TensorProto.FLOAT
    node = helper.make_node(op_type, ["X", "W"], ["Y"], **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("X", dtype, list(x.shape)),
         helper.make_tensor_value_info("W", dtype, list(w.shape))],
        [helper.make_tensor_value_info("Y", dtype, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def onnx_run(x: np.ndarray, w: np.ndarray, op_type: str = "ConvTranspose",
             **attrs: object) -> np.ndarray:
    """One ONNX ``op_type`` node (``ConvTranspose`` by default, or ``Conv``) with ``attrs``
    run by onnxruntime (float32)."""
    ort = pytest.importorskip("onnxruntime")
    model: Any = onnx_model(op_type, x, w, **attrs)
    model.ir_version = 8
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, {"X": x.astype(np.float32), "W": w.astype(np.float32)})[0]
