"""ONNX ``ConvTranspose`` read by :class:`tconv.conventions.TransposedConvSpec`, checked
against ONNX's own conformance data (the node-test generators shipped in the ``onnx``
package) and against onnxruntime on a sweep of ``output_shape`` requests."""

from __future__ import annotations

import importlib
import itertools

import numpy as np
import pytest
from _oracle import onnx_run

from tconv import conv_transpose
from tconv.conventions import TransposedConvSpec, convert

pytest.importorskip("onnx")


def _conformance_cases() -> list[tuple[str, dict, list[np.ndarray], np.ndarray]]:
    """Every ``expect(...)`` of ``onnx.backend.test.case.node.convtranspose``: the node's
    attributes, its inputs and the expected output (ONNX's conformance data)."""
    from onnx import helper

    module = importlib.import_module("onnx.backend.test.case.node.convtranspose")
    cases = []

    def expect(node, inputs, outputs, name, **_):   # the generators' sink
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
        cases.append((name, attrs, list(inputs), outputs[0]))

    real = module.expect
    module.expect = expect
    try:
        for fname in dir(module.ConvTranspose):
            if fname.startswith("export"):
                getattr(module.ConvTranspose, fname)()
    finally:
        module.expect = real
    return cases


CASES = _conformance_cases()


def test_conformance_cases_found() -> None:
    names = {name for name, *_ in CASES}
    assert {"test_convtranspose_output_shape", "test_convtranspose_kernel_shape",
            "test_convtranspose_pads", "test_convtranspose_autopad_same"} <= names


@pytest.mark.parametrize("name,attrs,inputs,expected", CASES, ids=[c[0] for c in CASES])
def test_conformance(name: str, attrs: dict, inputs: list, expected: np.ndarray) -> None:
    """The spec read from the node's attributes reproduces ONNX's expected output, and
    so do the tconv arguments it converts to."""
    x, w = inputs[0].astype(np.float64), inputs[1].astype(np.float64)
    bias = inputs[2].astype(np.float64) if len(inputs) > 2 else None
    groups = attrs.pop("group", 1)
    attrs.setdefault("kernel_shape", list(w.shape[2:]))
    spec = TransposedConvSpec.from_onnx(**attrs, input_size=x.shape[2:])
    np.testing.assert_allclose(spec.apply(x, w, bias, groups), expected, rtol=1e-6, atol=1e-4)
    y = conv_transpose(x, w, bias, groups=groups, **spec.to_tconv())
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-4)


def test_issue_example() -> None:
    """ONNX's ``test_convtranspose_output_shape``: the extra row and column go at the end,
    exactly ``output_padding=(1, 1)``."""
    config = {"kernel_shape": [3, 3], "strides": [3, 2], "output_shape": [10, 8],
              "input_size": (3, 3)}
    assert convert(config, "onnx", "tconv") == {
        "stride": (3, 2), "padding": ((0, 0), (0, 0)), "output_padding": (1, 1),
        "dilation": (1, 1)}
    assert convert(config, "onnx", "torch")["output_padding"] == (1, 1)
    (_, _, inputs, expected), = [c for c in CASES if c[0] == "test_convtranspose_output_shape"]
    y = conv_transpose(inputs[0], inputs[1], stride=(3, 2), output_padding=(1, 1))
    np.testing.assert_allclose(y, expected)


@pytest.mark.parametrize("auto_pad", ["NOTSET", "SAME_UPPER", "SAME_LOWER"])
def test_output_shape_sweep_onnxruntime(auto_pad: str) -> None:
    """Every ``output_shape`` from a few below the full size to ``stride - 1`` above it,
    with and without ``output_padding``, in 1-D and 2-D: onnxruntime's output, or its
    refusal, is what ``from_onnx`` gives."""
    rng = np.random.default_rng(23)
    geometries = [(k, s, d) for k, s, d in itertools.product((1, 2, 3, 4), (1, 2, 3), (1, 2))
                  if not (d > 1 and k == 1)]
    checked = refused = 0
    for (k, s, d), n, op in itertools.product(geometries, (2, 3), (0, 1, 2)):
        if op >= s:
            continue
        full = (n - 1) * s + d * (k - 1) + 1
        x, w = rng.standard_normal((1, 2, n)), rng.standard_normal((2, 1, k))
        for want in range(max(1, full - 2), full + s + 1):
            attrs = dict(kernel_shape=[k], strides=[s], dilations=[d], output_shape=[want],
                         output_padding=[op])
            if auto_pad != "NOTSET":
                attrs["auto_pad"] = auto_pad
            try:
                ref = onnx_run(x, w, **attrs)
            except Exception:                    # onnxruntime refuses: so must from_onnx
                with pytest.raises(ValueError):
                    TransposedConvSpec.from_onnx(**attrs, input_size=n).output_size(n)
                refused += 1
                continue
            spec = TransposedConvSpec.from_onnx(**attrs, input_size=n)
            np.testing.assert_allclose(spec.apply(x, w), ref, rtol=1e-5, atol=1e-5,
                                       err_msg=str(attrs))
            checked += 1
    assert checked > 100 and refused > 10


def test_output_shape_2d_onnxruntime() -> None:
    """2-D, one dim above the full size and one below."""
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((1, 1, 3, 4)), rng.standard_normal((1, 2, 3, 2))
    attrs = dict(kernel_shape=[3, 2], strides=[3, 2], output_shape=[10, 6])
    spec = TransposedConvSpec.from_onnx(**attrs, input_size=(3, 4))
    assert spec.crop == ((0, -1), (1, 1))
    np.testing.assert_allclose(spec.apply(x, w), onnx_run(x, w, **attrs), atol=1e-5)


def test_output_shape_too_large() -> None:
    with pytest.raises(ValueError, match=r"output_shape=\[12\] is 3 beyond the full output "
                                         r"\[9\] in dim 0; at most strides - 1 = 2"):
        TransposedConvSpec.from_onnx([3], [3], output_shape=[12], input_size=3)
