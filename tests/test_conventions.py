"""tconv.conventions against PyTorch, onnxruntime, the Keras/ONNX formulas and a NumPy
re-implementation of JAX's lax.conv_transpose."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _oracle import onnx_run
from hypothesis import assume, given
from hypothesis import strategies as st

from tconv import conv_transpose, conv_transpose_output_size
from tconv.checkerboard import is_uneven
from tconv.conventions import FRAMEWORKS, TransposedConvSpec, convert, solve

GEOMETRY = [(k, s, d) for k, s, d in itertools.product(range(1, 6), range(1, 4), range(1, 3))]


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------- independent references
def keras_output_length(n: int, k: int, s: int, d: int, padding: str, op: int | None) -> int:
    """keras/src/backend/common/backend_utils.py::_get_output_shape_given_tf_padding."""
    dk = (k - 1) * d + 1
    if padding == "valid":
        op = max(dk, s) - dk if op is None else op
        return (n - 1) * s + dk + op
    return n * s if op is None else (n - 1) * s + dk % 2 + op


def jax_conv_transpose_1d(x: np.ndarray, w: np.ndarray, s: int, pads: tuple[int, int],
                          d: int) -> np.ndarray:
    """What lax.conv_transpose(transpose_kernel=True) computes for a PyTorch-layout weight:
    zero-insert x (lhs_dilation=s), pad (a, b) (negative crops), correlate with the spatially
    flipped, channel-swapped kernel dilated by d. Loops, NCH layout."""
    n, c_in, length = x.shape
    up = np.zeros((n, c_in, (length - 1) * s + 1))
    up[..., ::s] = x
    a, b = pads
    up = np.pad(up, [(0, 0), (0, 0), (max(a, 0), max(b, 0))])
    up = up[..., max(-a, 0):up.shape[-1] - max(-b, 0)]
    kern = w[..., ::-1]                                   # flip; (C_in, C_out, K)
    k = kern.shape[-1]
    dk = d * (k - 1) + 1
    out = np.zeros((n, w.shape[1], max(up.shape[-1] - dk + 1, 0)))
    for o in range(out.shape[-1]):
        window = up[..., o:o + dk:d]                       # (N, C_in, K)
        out[..., o] = np.einsum("nik,iok->no", window, kern)
    return out


def onnx_reference(x: np.ndarray, w: np.ndarray, **attrs: object) -> np.ndarray:
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], **attrs)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, None),
                      helper.make_tensor_value_info("W", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return ReferenceEvaluator(model).run(None, {"X": x.astype(np.float32),
                                                "W": w.astype(np.float32)})[0]


class TestTorch:
    CONFIGS = [(k, s, p, op, d) for k, s, d in GEOMETRY for p in range(0, d * (k - 1) + 1)
               for op in range(max(s, d))]

    def test_smoke(self) -> None:
        spec = TransposedConvSpec.from_torch(4, 2, 1)
        assert spec.crop == ((1, 1), (1, 1)) and spec.output_size((8, 5)) == (16, 10)

    def test_shape(self) -> None:
        for k, s, p, op, d in self.CONFIGS:
            spec = TransposedConvSpec.from_torch(k, s, p, op, d, ndim=1)
            for n in (1, 2, 5):
                try:
                    ref = conv_transpose_output_size(n, k, s, p, op, d)
                except ValueError:
                    with pytest.raises(ValueError, match="empty output"):
                        spec.output_size(n)
                    continue
                assert spec.output_size(n) == ref

    def test_oracle(self) -> None:
        torch = pytest.importorskip("torch")
        x = rand(2, 2, 5)
        w = rand(2, 3, 5, seed=1)
        for k, s, p, op, d in self.CONFIGS:
            if (5 - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
                continue
            spec = TransposedConvSpec.from_torch(k, s, p, op, d, ndim=1)
            ref = torch.nn.functional.conv_transpose1d(
                torch.tensor(x), torch.tensor(w[..., :k]), stride=s, padding=p,
                output_padding=op, dilation=d).numpy()
            np.testing.assert_allclose(spec.apply(x, w[..., :k]), ref, atol=1e-12)

    def test_oracle_2d(self) -> None:
        torch = pytest.importorskip("torch")
        x, w, b = rand(1, 4, 4, 5), rand(4, 1, 3, 4, seed=1), rand(2, seed=2)
        spec = TransposedConvSpec.from_torch((3, 4), (2, 3), (1, 2), (1, 2), (1, 1))
        ref = torch.nn.functional.conv_transpose2d(
            torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=(2, 3), padding=(1, 2),
            output_padding=(1, 2), groups=2).numpy()
        np.testing.assert_allclose(spec.apply(x, w, b, groups=2), ref, atol=1e-12)

    def test_identity(self) -> None:
        """Round trip and agreement with tconv.conv_transpose given the same arguments."""
        x, w = rand(1, 1, 4), rand(1, 1, 5, seed=1)
        for k, s, p, op, d in self.CONFIGS:
            spec = TransposedConvSpec.from_torch(k, s, p, op, d, ndim=1)
            assert TransposedConvSpec.from_torch(**spec.to_torch()) == spec
            if (4 - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
                continue
            np.testing.assert_allclose(
                spec.apply(x, w[..., :k]),
                conv_transpose(x, w[..., :k], None, s, p, op, 1, d), atol=1e-12)
            np.testing.assert_allclose(
                spec.apply(x, w[..., :k]), conv_transpose(x, w[..., :k], **spec.to_tconv()),
                atol=1e-12)

    def test_output_size(self) -> None:
        spec = TransposedConvSpec.from_torch(3, 2, 1, output_size=(8, 7), input_size=(4, 4))
        assert spec.to_torch()["output_padding"] == (1, 0)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="output_padding=\\(2, 2\\) must be smaller than "
                                             "max\\(stride, dilation\\)=\\(2, 2\\)"):
            TransposedConvSpec.from_torch(3, 2, 1, 2)
        with pytest.raises(ValueError, match="padding=-1 must be >= 0"):
            TransposedConvSpec.from_torch(3, 2, -1)
        with pytest.raises(ValueError, match="to_torch: crop=\\(\\(0, 1\\),\\) cannot be written "
                                             "in PyTorch"):
            TransposedConvSpec.from_keras(3, 2, "same", ndim=1).to_torch()
        with pytest.raises(ValueError, match="needs input_size"):
            TransposedConvSpec.from_torch(3, 2, 1, output_size=8)


class TestTconv:
    def test_oracle(self) -> None:
        """from_tconv(...).apply equals tconv.conv_transpose for strings and pairs."""
        x, w = rand(1, 2, 4), rand(2, 1, 5, seed=3)
        for k, s, d in GEOMETRY:
            paddings: list[object] = ["valid", "same", "same_lower"]
            paddings += [((lo, hi),) for lo in range(3) for hi in range(3)]
            for pad in paddings:
                try:
                    ref = conv_transpose(x, w[..., :k], stride=s, padding=pad, dilation=d)
                except ValueError:
                    continue
                spec = TransposedConvSpec.from_tconv(k, s, pad, 0, d, ndim=1)
                np.testing.assert_allclose(spec.apply(x, w[..., :k]), ref, atol=1e-12)
                kwargs = spec.to_tconv()
                np.testing.assert_allclose(conv_transpose(x, w[..., :k], **kwargs), ref,
                                           atol=1e-12)

    def test_same_is_keras_same(self) -> None:
        """tconv's "same" is Keras/JAX "same" for every kernel, stride and dilation."""
        for k, s, d in itertools.product(range(1, 8), range(1, 5), range(1, 3)):
            ours = TransposedConvSpec.from_tconv(k, s, "same", 0, d, ndim=1).crop
            jax = TransposedConvSpec.from_jax(k, s, "SAME", d, ndim=1).crop
            assert ours == jax, (k, s, d)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="cannot be combined with padding='same'"):
            TransposedConvSpec.from_tconv(3, 2, "same", 1)
        # a negative low side that no padding string gives is written as the pair itself
        assert TransposedConvSpec((3,), (2,), (1,), ((-1, 0),)).to_tconv()["padding"] == (
            (-1, 0),)


class TestKeras:
    def test_shape(self) -> None:
        """Output sizes equal Keras' compute_conv_transpose_output_shape formula."""
        for k, s, d in GEOMETRY:
            if s > 1 and d > 1:
                continue
            for padding, op in itertools.product(("same", "valid"), (None, *range(s))):
                spec = TransposedConvSpec.from_keras(k, s, padding, op, d, ndim=1)
                for n in (1, 3, 6):
                    want = keras_output_length(n, k, s, d, padding, op)
                    if want >= 1:
                        assert spec.output_size(n) == (want,), (k, s, d, padding, op, n)

    def test_same_is_jax_same(self) -> None:
        """Keras 3 (via its JAX padding) and JAX's own SAME/VALID give the same crops."""
        for k, s, d in itertools.product(range(1, 9), range(1, 5), range(1, 3)):
            if s > 1 and d > 1:
                continue
            for mode in ("same", "valid"):
                assert (TransposedConvSpec.from_keras(k, s, mode, None, d, ndim=1)
                        == TransposedConvSpec.from_jax(k, s, mode.upper(), d, ndim=1))

    def test_identity(self) -> None:
        """to_keras round-trips every crop Keras can write; the others raise."""
        for k, s, d in GEOMETRY:
            if s > 1 and d > 1:
                continue
            for lo, hi in itertools.product(range(-1, 3), range(-2, 3)):
                spec = TransposedConvSpec((k,), (s,), (d,), ((lo, hi),))
                try:
                    kw = spec.to_keras()
                except ValueError as exc:
                    assert "cannot be written in Keras" in str(exc)
                    continue
                assert TransposedConvSpec.from_keras(**kw) == spec

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="strides > 1 together with dilation_rate > 1"):
            TransposedConvSpec.from_keras(3, 2, "same", dilation_rate=2)
        with pytest.raises(ValueError, match="output_padding=\\(2, 2\\) must be smaller than "
                                             "strides"):
            TransposedConvSpec.from_keras(3, 2, "valid", 2)
        with pytest.raises(ValueError, match="padding='full' must be 'valid' or 'same'"):
            TransposedConvSpec.from_keras(3, 2, "full")
        with pytest.raises(ValueError, match="Keras does not support strides > 1"):
            TransposedConvSpec.from_torch(3, 2, 0, 0, 2).to_keras()


class TestOnnx:
    CASES = [
        dict(kernel_shape=[3], strides=[2], pads=[1, 1], output_padding=[1]),
        dict(kernel_shape=[4], strides=[3], pads=[2, 0]),
        dict(kernel_shape=[3], strides=[2], dilations=[2], pads=[0, 3], output_padding=[1]),
        dict(kernel_shape=[3], strides=[2], auto_pad="SAME_UPPER"),
        dict(kernel_shape=[5], strides=[2], auto_pad="SAME_LOWER"),
        dict(kernel_shape=[4], strides=[2], auto_pad="SAME_UPPER", output_padding=[1]),
        dict(kernel_shape=[3], strides=[2], auto_pad="VALID", output_padding=[1]),
        dict(kernel_shape=[3], strides=[2], output_shape=[10]),
        dict(kernel_shape=[5], strides=[2], output_shape=[9], auto_pad="SAME_UPPER"),
        dict(kernel_shape=[4], strides=[3], output_shape=[14], auto_pad="SAME_LOWER"),
        dict(kernel_shape=[3, 4], strides=[2, 3], pads=[1, 0, 2, 1], output_padding=[0, 2]),
        dict(kernel_shape=[3, 2], strides=[2, 2], dilations=[1, 2], output_shape=[9, 11]),
        dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    ]

    @pytest.mark.parametrize("attrs", CASES, ids=lambda a: "-".join(
        f"{k}={v}" for k, v in a.items() if k != "kernel_shape"))
    def test_oracle(self, attrs: dict) -> None:
        nd = len(attrs["kernel_shape"])
        x = rand(1, 2, *([5] * nd))
        w = rand(2, 2, *attrs["kernel_shape"], seed=4)
        ref = onnx_run(x, w, **attrs)
        if "output_shape" not in attrs or attrs.get("auto_pad", "NOTSET") != "NOTSET":
            # the onnx package's reference evaluator agrees (it rejects output_shape with
            # auto_pad=NOTSET, which onnxruntime and the spec text accept)
            np.testing.assert_allclose(onnx_reference(x, w, **attrs), ref, atol=1e-4)
        spec = TransposedConvSpec.from_onnx(**attrs, input_size=(5,) * nd)
        np.testing.assert_allclose(spec.apply(x, w), ref, atol=1e-4)
        # written back as explicit pads: the same array from onnxruntime and from tconv
        np.testing.assert_allclose(onnx_run(x, w, **spec.to_onnx()), ref, atol=1e-4)
        np.testing.assert_allclose(conv_transpose(x, w, **spec.to_tconv()), ref, atol=1e-4)

    @pytest.mark.parametrize("k,s,d", [(3, 2, 1), (4, 2, 1), (5, 3, 1), (3, 1, 2), (2, 2, 1)])
    def test_auto_pad(self, k: int, s: int, d: int) -> None:
        """to_onnx(auto_pad=True) finds the mode onnxruntime runs with the same result."""
        x, w = rand(1, 1, 6), rand(1, 1, k, seed=5)
        for mode in ("SAME_UPPER", "SAME_LOWER", "VALID"):
            spec = TransposedConvSpec.from_onnx([k], [s], dilations=[d], auto_pad=mode)
            attrs = spec.to_onnx(auto_pad=True)
            assert attrs["auto_pad"] in (mode, "SAME_UPPER", "SAME_LOWER")
            np.testing.assert_allclose(onnx_run(x, w, **attrs), spec.apply(x, w), atol=1e-4)

    def test_shape(self) -> None:
        """The spec's output formula: s*(in-1) + op + dk - pads_begin - pads_end."""
        for (k, s, d), (b, e) in itertools.product(GEOMETRY, [(0, 0), (1, 2), (2, 0)]):
            for op in range(s):
                spec = TransposedConvSpec.from_onnx([k], [s], [b, e], [op], [d])
                want = s * (7 - 1) + op + (k - 1) * d + 1 - b - e
                assert spec.output_size(7) == (want,)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="pads=\\[1, 1\\] cannot be combined with auto_pad="
                                             "'SAME_UPPER'"):
            TransposedConvSpec.from_onnx([3], [2], [1, 1], auto_pad="SAME_UPPER")
        with pytest.raises(ValueError, match="total padding -1 is negative"):
            TransposedConvSpec.from_onnx([2], [3], auto_pad="SAME_UPPER")
        with pytest.raises(ValueError, match="output_padding=\\[2\\] must be smaller than "
                                             "strides=\\[2\\]"):
            TransposedConvSpec.from_onnx([3], [2], [0, 0], [2])
        with pytest.raises(ValueError, match="needs input_size"):
            TransposedConvSpec.from_onnx([3], [2], output_shape=[10])
        with pytest.raises(ValueError, match="negative low side"):
            TransposedConvSpec((3,), (2,), (1,), ((-1, 0),)).to_onnx()
        with pytest.raises(ValueError, match="not what auto_pad"):
            TransposedConvSpec.from_torch(3, 2, 1, ndim=1).to_onnx(auto_pad=True)


class TestJax:
    def test_oracle(self) -> None:
        """Pairs / SAME / VALID, both padding readings, against the NumPy re-implementation."""
        x, w = rand(2, 2, 5), rand(2, 3, 5, seed=6)
        for k, s, d in GEOMETRY:
            wk = w[..., :k]
            dk = d * (k - 1) + 1
            for a, b in itertools.product(range(-1, dk + 1), repeat=2):
                ref = jax_conv_transpose_1d(x, wk, s, (a, b), d)
                if ref.shape[-1] < 1:
                    continue
                spec = TransposedConvSpec.from_jax(k, s, ((a, b),), d)
                np.testing.assert_allclose(spec.apply(x, wk), ref, atol=1e-12)
                # the same output with use_consistent_padding=True and the written pairs
                kw = spec.to_jax(use_consistent_padding=True)
                consistent = TransposedConvSpec.from_jax(k, s, kw["padding"], d, True)
                assert consistent == spec
                assert TransposedConvSpec.from_jax(k, s, **{
                    key: v for key, v in spec.to_jax().items()
                    if key in ("padding", "use_consistent_padding")}, rhs_dilation=d) == spec
            for mode in ("SAME", "VALID"):
                spec = TransposedConvSpec.from_jax(k, s, mode, d, ndim=1)
                a, b = spec.to_jax()["padding"][0]
                np.testing.assert_allclose(spec.apply(x, wk),
                                           jax_conv_transpose_1d(x, wk, s, (a, b), d),
                                           atol=1e-12)
                if mode == "SAME":
                    assert spec.output_size(5) == (5 * s,)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="padding='SAME_LOWER' must be 'SAME', 'VALID'"):
            TransposedConvSpec.from_jax(3, 2, "SAME_LOWER")
        with pytest.raises(ValueError, match="must be 'SAME', 'VALID' or 2 \\(low, high\\)"):
            TransposedConvSpec.from_jax(3, 2, ((1, 1),), ndim=2)


class TestConvert:
    CONFIGS = {
        "torch": [dict(kernel_size=4, stride=2, padding=1), dict(kernel_size=3, stride=2,
                                                                padding=1, output_padding=1)],
        "tconv": [dict(kernel_size=3, stride=2, padding="same")],
        "keras": [dict(kernel_size=3, strides=2, padding="same"),
                  dict(kernel_size=(5, 2), strides=(3, 2), padding="valid")],
        "onnx": [dict(kernel_shape=[4, 4], strides=[2, 2], auto_pad="SAME_LOWER"),
                 dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                      output_padding=[1, 1])],
        "jax": [dict(kernel_size=3, strides=2, padding="VALID")],
    }

    def test_identity(self) -> None:
        """src -> dst -> spec is the identity wherever dst can express the config."""
        converted = failed = 0
        for src, configs in self.CONFIGS.items():
            for config in configs:
                spec = getattr(TransposedConvSpec, "from_" + src)(**config)
                for dst in FRAMEWORKS:
                    try:
                        out = convert(config, src, dst)
                    except ValueError as exc:
                        assert "cannot" in str(exc) or "negative" in str(exc)
                        failed += 1
                        continue
                    if dst in ("tconv", "jax"):     # call arguments; the kernel is the weight
                        out = {"kernel_size": spec.kernel_size, **out}
                    back = getattr(TransposedConvSpec, "from_" + dst)(**out)
                    assert back == spec, (src, config, dst, out)
                    converted += 1
        assert converted > 20 and failed > 0

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="convert: framework='caffe' must be one of"):
            convert({"kernel_size": 3}, "caffe", "torch")
        with pytest.raises(TypeError, match="must be a mapping"):
            convert([3, 2], "torch", "onnx")  # type: ignore[arg-type]


class TestSolve:
    def test_oracle(self) -> None:
        """Complete and correct: brute force over the same ranges, sizes from tconv.shapes."""
        for n_in, n_out in [(16, 32), (7, 14), (5, 11), (8, 8), (3, 12)]:
            sols = solve(n_in, n_out, dilations=(1, 2))
            want = set()
            for k, s, d in itertools.product(range(1, 9), range(1, 5), (1, 2)):
                for p in range(d * (k - 1) + 1):
                    for op in range(max(s, d)):
                        if conv_transpose_output_size(n_in, k, s, p, op, d) == (n_out,) \
                                if (n_in - 1) * s - 2 * p + d * (k - 1) + op + 1 >= 1 else False:
                            want.add((k, s, p, op, d))
            got = {(z.kernel_size, z.stride, z.padding, z.output_padding, z.dilation)
                   for z in sols}
            assert got == want and len(sols) == len(got)
            for z in sols:
                assert z.uneven == is_uneven(z.kernel_size, z.stride, z.dilation)
                assert ("output_padding" in z.risks) == (z.output_padding > 0)
                assert ("dilation" in z.risks) == (z.dilation > 1)
                assert z.spec.output_size(n_in) == (n_out,)

    def test_order(self) -> None:
        sols = solve(16, 32)
        keys = [(z.uneven, len(z.risks)) for z in sols]
        assert keys == sorted(keys)
        first = sols[0]
        assert not first.uneven and not first.risks
        # the DCGAN layer is found, clean and checkerboard-free
        dcgan = [z for z in sols if (z.kernel_size, z.stride, z.padding) == (4, 2, 1)]
        assert len(dcgan) == 1 and not dcgan[0].uneven and dcgan[0].risks == ()

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="solve: input_size=0 must be positive"):
            solve(0, 4)
        assert solve(4, 1000) == []


class TestCli:
    def run(self, capsys: pytest.CaptureFixture, *argv: str) -> list[str]:
        from tconv.cli import main

        assert main(["shapes", *argv]) == 0
        return capsys.readouterr().out.splitlines()

    def test_size(self, capsys: pytest.CaptureFixture) -> None:
        out = self.run(capsys, "size", "--input", "8,5", "--kernel", "4", "--stride", "2",
                       "--padding", "1")
        assert out[1] == "output size for input (8, 5): (16, 10)"
        assert conv_transpose_output_size((8, 5), 4, 2, 1) == (16, 10)
        out = self.run(capsys, "size", "--from", "keras", "--input", "7", "--kernel", "3",
                       "--stride", "2", "--padding", "same", "--ndim", "1")
        assert out[0].endswith("crop (low, high)=((0, 1),)") and out[1].endswith("(14,)")
        assert "uneven" in out[2]

    def test_convert(self, capsys: pytest.CaptureFixture) -> None:
        out = self.run(capsys, "convert", "--from", "onnx", "--kernel", "3", "--stride", "2",
                       "--auto-pad", "SAME_UPPER", "--input", "5", "--ndim", "1")
        rows = {line.split("  ")[0]: line for line in out[4:]}
        spec = TransposedConvSpec.from_onnx([3], [2], auto_pad="SAME_UPPER")
        assert rows["torch"].split(None, 1)[1].startswith("cannot:")
        assert rows["keras"].endswith("padding='same', output_padding=None, dilation_rate=(1,)")
        assert "pads=[0, 1]" in rows["onnx"] and spec.to_onnx()["pads"] == [0, 1]
        assert "padding=((2, 1),)" in rows["jax"]
        out = self.run(capsys, "convert", "--from", "jax", "--kernel", "3", "--stride", "2",
                       "--padding", "2:1", "--to", "tconv", "--ndim", "1")
        assert out[-1].split(None, 1)[1] == ("stride=(2,), padding=((0, 1),), "
                                             "output_padding=(0,), dilation=(1,)")

    def test_solve(self, capsys: pytest.CaptureFixture) -> None:
        out = self.run(capsys, "solve", "--input", "16", "--output", "32", "--limit", "100")
        assert out[0].startswith("8 configurations map 16 -> 32")
        table = [line.split() for line in out[2:10]]
        got = [tuple(int(v) for v in row[:5]) for row in table]
        want = [(z.kernel_size, z.stride, z.padding, z.output_padding, z.dilation)
                for z in solve(16, 32)]
        assert got == want
        out = self.run(capsys, "solve", "--input", "16", "--output", "32", "--even-only")
        assert out[0].startswith("4 configurations")

    def test_help(self, capsys: pytest.CaptureFixture) -> None:
        from tconv.cli import main

        for argv in (["shapes", "--help"], ["shapes", "solve", "--help"]):
            with pytest.raises(SystemExit):
                main(argv)
            assert "examples:\n  tconv shapes size" in capsys.readouterr().out

    def test_exception(self, capsys: pytest.CaptureFixture) -> None:
        from tconv.cli import main

        assert main(["shapes", "size", "--kernel", "3", "--stride", "2", "--padding", "1",
                     "--output-padding", "2"]) == 1
        assert "must be smaller than max(stride, dilation)" in capsys.readouterr().err

    def test_demo(self, tmp_path) -> None:
        from tconv.cli import shapes

        (path,) = shapes.demo(tmp_path, lambda msg: None)
        text = path.read_text()
        assert text.count("$ tconv shapes") == len(shapes.DEMO_COMMANDS)
        assert "output size for input (8, 8): (16, 16)" in text
        assert "auto_pad='SAME_UPPER'" in text

    def test_epilog_runs(self, capsys: pytest.CaptureFixture) -> None:
        """Every example of the --help epilog runs and exits 0."""
        import shlex

        from tconv.cli import main, shapes

        lines = [ln.strip() for ln in shapes.EPILOG.splitlines() if ln.startswith("  tconv")]
        assert len(lines) >= 6
        for line in lines:
            assert main(shlex.split(line)[1:]) == 0, line
        capsys.readouterr()


@st.composite
def specs(draw: st.DrawFn) -> TransposedConvSpec:
    nd = draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    crop = tuple((draw(st.integers(-2, 5)), draw(st.integers(-3, 5))) for _ in range(nd))
    return TransposedConvSpec(k, s, d, crop)


class TestProperties:
    @given(specs(), st.integers(1, 4))
    def test_round_trip(self, spec: TransposedConvSpec, n: int) -> None:
        """Whatever a framework can write reads back as the same spec; what it cannot raises
        ValueError; tconv's own arguments give the same array as the spec's definition."""
        for dst in FRAMEWORKS:
            try:
                out = spec.to(dst)
            except ValueError:
                continue
            if dst in ("tconv", "jax"):
                out = {"kernel_size": spec.kernel_size, **out}
            assert getattr(TransposedConvSpec, "from_" + dst)(**out) == spec, dst

    @given(specs(), st.integers(1, 4))
    def test_tconv_arguments_run_the_spec(self, spec: TransposedConvSpec, n: int) -> None:
        """tconv's own arguments give the same array as the spec's definition."""
        try:
            size = spec.output_size((n,) * spec.ndim)
            kwargs = spec.to_tconv()
        except ValueError:
            size = None                 # an empty output, or a crop tconv cannot write
        assume(size is not None)
        x = rand(1, 1, *(n,) * spec.ndim)
        w = rand(1, 1, *spec.kernel_size, seed=9)
        y = conv_transpose(x, w, **kwargs)
        assert y.shape[2:] == size
        np.testing.assert_allclose(y, spec.apply(x, w), atol=1e-12)

