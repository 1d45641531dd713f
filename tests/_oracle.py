"""One oracle helper: compare a NumPy function with its PyTorch twin.

``check_against_torch`` draws seeded inputs, compares shape and dtype before values, then
compares the gradients of ``.sum() * g`` (a random cotangent). ``check_same_error`` asserts
that both sides reject the same arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


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
                     match: str | None = None) -> None:
    """Both sides must raise: ours ValueError/TypeError (matching ``match``), torch anything."""
    with pytest.raises((ValueError, TypeError), match=match):
        fn_np()
    with pytest.raises(Exception):  # noqa: B017 - torch raises RuntimeError/ValueError/TypeError
        fn_torch()
