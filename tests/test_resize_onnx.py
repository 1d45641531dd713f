"""``resize(..., convention="onnx")`` against onnxruntime and ONNX's reference evaluator.

Every case is one Resize node (opset 19) with its roi/scales/sizes as initializers. The
configurations are those of ONNX's node tests (``onnx/backend/test/case/node/resize.py``)
plus a seeded random sweep over all attributes, 1-D to 3-D.

onnxruntime computes in float32 (tolerance 2e-5). The reference evaluator computes in
float64 and is compared exactly (1e-12; cubic 1e-5, see below) except where it departs
from the operator's specification, which tconv follows with onnxruntime:

- with ``scales`` (or a ``keep_aspect_ratio_policy``), it divides by the real-valued
  ``scale * in - 1`` instead of the integer ``length_resized - 1`` for
  ``align_corners``/``tf_crop_and_resize`` and tests
  ``scale * in == 1`` for ``pytorch_half_pixel`` (whose length-1 position is 0 in the
  specification, -0.5 in the reference);
- it evaluates the roi of ``tf_crop_and_resize`` in float32 (tolerance 1e-5) and
- it evaluates cubic weights in float32 (the float32 attribute ``cubic_coeff_a`` times
  Python floats stays float32 under NumPy 2's promotion rules);
- it places the taps by ``floor(x + pad)`` but weights them by ``x - floor(x)``; when
  ``x`` is within one rounding of an integer the two disagree.

onnxruntime computes source positions in float32: where a nearest position is within
float32 rounding of a rounding boundary (or a crop position of the crop's edge) it may pick
the neighbour; such cases are counted, not failed. Its anti-aliased path also leaves an axis
whose length is unchanged untouched although ``keep_aspect_ratio_policy`` gives it a scale
other than 1 (counted as "onnxruntime departs").
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tconv import _resize_tables as tables
from tconv.resizing import resize

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

COORDS = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
          "asymmetric", "tf_crop_and_resize")
NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _model(ndim: int, attrs: dict, roi=None, scales=None, sizes=None) -> onnx.ModelProto:
    inits, names = [], ["X", "", "", ""]
    if roi is not None:
        inits.append(numpy_helper.from_array(np.asarray(roi, np.float32), "roi"))
        names[1] = "roi"
    if scales is not None:
        inits.append(numpy_helper.from_array(np.asarray(scales, np.float32), "scales"))
        names[2] = "scales"
    if sizes is not None:
        inits.append(numpy_helper.from_array(np.asarray(sizes, np.int64), "sizes"))
        names[3] = "sizes"
    while names[-1] == "":
        names.pop()
    if "keep_aspect_ratio_policy" in attrs:             # the policy over the spatial axes
        attrs = dict(attrs, axes=list(range(2, ndim)))
        if sizes is not None:
            inits[-1] = numpy_helper.from_array(np.asarray(sizes[2:], np.int64), "sizes")
        if roi is not None:
            r = list(roi)
            inits[0] = numpy_helper.from_array(
                np.asarray(r[2:ndim] + r[ndim + 2:], np.float32), "roi")
    node = helper.make_node("Resize", names, ["Y"], **attrs)
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None] * ndim)
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
    graph = helper.make_graph([node], "resize", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


def _ours(x: np.ndarray, attrs: dict, roi, scales, sizes) -> np.ndarray:
    """tconv's call for the node: the resized axes are 2.. (scales 1 on N and C)."""
    nd = x.ndim - 2
    opts = {k: v for k, v in attrs.items() if k != "mode"}
    for k in ("antialias", "exclude_outside"):
        if k in opts:
            opts[k] = bool(opts[k])
    if roi is not None:
        r = np.asarray(roi, np.float32).astype(np.float64)
        opts["roi"] = list(r[2:2 + nd]) + list(r[4 + nd:])
    if sizes is not None:
        return resize(x, tuple(int(v) for v in sizes[2:]), method=attrs["mode"],
                      convention="onnx", **opts)
    return resize(x, scale=tuple(float(v) for v in scales[2:]), method=attrs["mode"],
                  convention="onnx", **opts)


def _reference_departs(x: np.ndarray, attrs: dict, scales, sizes, out_shape, roi) -> bool:
    """True where onnx.reference departs from the specification (module docstring)."""
    mode = attrs.get("coordinate_transformation_mode", "half_pixel")
    n_taps = {"nearest": 2, "linear": 2, "cubic": 4}[attrs["mode"]]
    common = None
    if scales is None and "keep_aspect_ratio_policy" in attrs:
        ratios = [o / n for o, n in zip(sizes[2:], x.shape[2:])]
        common = min(ratios) if attrs["keep_aspect_ratio_policy"] == "not_larger" else max(
            ratios)
    for k, (n, o) in enumerate(zip(x.shape[2:], out_shape[2:])):
        s = float(np.float32(scales[2 + k])) if scales is not None else o / n
        if common is not None:
            s = common
        if mode in ("align_corners", "tf_crop_and_resize", "pytorch_half_pixel") \
                and s * n != o:
            return True
        if mode == "pytorch_half_pixel" and o == 1:
            return True
        r = (0.0, 1.0)
        if roi is not None:
            rr = np.asarray(roi, np.float32).astype(np.float64)
            r = (rr[2 + k], rr[x.ndim + 2 + k])
        pos, _ = tables.onnx_coordinates(n, o, s, mode, r)
        pad = np.ceil(max(n_taps, 2 / min(s, 1) + 2) / 2)
        if np.any(np.floor(pos + pad) - pad != np.floor(pos)) or np.any(
                ((pos + pad) == np.floor(pos + pad)) != (pos == np.floor(pos))):
            return True
    return False


def _nearest_tie(x: np.ndarray, attrs: dict, scales, out_shape, roi) -> bool:
    """A nearest position within float32 rounding of a decision boundary (onnxruntime
    computes positions in float32 and may pick the neighbour there)."""
    mode = attrs.get("coordinate_transformation_mode", "half_pixel")
    if attrs["mode"] != "nearest" and mode != "tf_crop_and_resize":
        return False
    for k, (n, o) in enumerate(zip(x.shape[2:], out_shape[2:])):
        s = float(np.float32(scales[2 + k])) if scales is not None else o / n
        r = (0.0, 1.0)
        if roi is not None:
            rr = np.asarray(roi, np.float32).astype(np.float64)
            r = (rr[2 + k], rr[x.ndim + 2 + k])
        pos, _ = tables.onnx_coordinates(n, o, s, mode, r)
        if mode == "tf_crop_and_resize" and np.any(       # inside / outside the crop
                np.minimum(np.abs(pos), np.abs(pos - (n - 1))) < 1e-5):
            return True
        if attrs["mode"] != "nearest":
            continue
        frac = pos - np.floor(pos)
        if attrs.get("nearest_mode", "round_prefer_floor") in ("floor", "ceil"):
            gap = np.minimum(frac, 1 - frac)          # boundaries at integers
        else:
            gap = np.abs(frac - 0.5)                  # boundaries at half-integers
        if np.any(gap < 1e-5):
            return True
    return False


#: Counts of the cases compared, by oracle (printed with -s; quoted in docs/conventions.md).
COUNTS = {"onnxruntime": 0, "reference": 0, "onnxruntime refused": 0,
          "onnxruntime float32 tie": 0, "onnxruntime departs": 0, "reference departs": 0}


def _tally(before: dict[str, int], label: str, minimum: dict[str, int]) -> None:
    """Print what a test compared (``pytest -s``) and require each oracle's share."""
    done = {k: COUNTS[k] - before[k] for k in COUNTS}
    print(f"onnx resize, {label}:", done)
    for key, least in minimum.items():
        assert done[key] >= least, (key, done)


def _check(x: np.ndarray, attrs: dict, roi=None, scales=None, sizes=None,
           reference: bool = True) -> None:
    model = _model(x.ndim, attrs, roi, scales, sizes)
    ours = _ours(x, attrs, roi, scales, sizes)
    try:
        got = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"]).run(
            None, {"X": x.astype(np.float32)})[0]
    except Exception as e:                       # onnxruntime: cubic only on 2 inner axes
        assert attrs["mode"] == "cubic" and "Cubic" in str(e), e
        COUNTS["onnxruntime refused"] += 1
        got = None
    tie = _nearest_tie(x, attrs, scales, ours.shape, roi)
    if got is not None and attrs.get("antialias") and "keep_aspect_ratio_policy" in attrs \
            and any(o == n for o, n in zip(ours.shape[2:], x.shape[2:])):
        # onnxruntime's anti-aliased path leaves an axis whose length does not change
        # untouched even when the common scale of keep_aspect_ratio_policy is not 1
        COUNTS["onnxruntime departs"] += 1
    elif got is not None:
        assert ours.shape == got.shape, (attrs, ours.shape, got.shape)
        atol = 2e-5 * max(1, np.abs(x).max())
        if tie and not np.allclose(ours, got, rtol=0, atol=atol):
            COUNTS["onnxruntime float32 tie"] += 1
        else:
            np.testing.assert_allclose(ours, got, rtol=0, atol=atol,
                                       err_msg=f"onnxruntime {attrs} scales={scales} "
                                               f"sizes={sizes}")
            COUNTS["onnxruntime"] += 1
    if reference and (_reference_departs(x, attrs, scales, sizes, ours.shape, roi)
                      or (tie and roi is not None)):
        COUNTS["reference departs"] += 1
    elif reference:
        ref = ReferenceEvaluator(model).run(None, {"X": x})[0]
        # the reference evaluates cubic weights with the float32 attribute cubic_coeff_a
        # in float32 arithmetic (NumPy 2 promotion); the rest in float64
        # and the roi in float32 arithmetic
        tol = 1e-5 if attrs["mode"] == "cubic" or roi is not None else 1e-12
        np.testing.assert_allclose(ours, ref, rtol=0, atol=tol * max(1, np.abs(x).max()),
                                   err_msg=f"reference {attrs} scales={scales} sizes={sizes}")
        COUNTS["reference"] += 1


# ONNX's node tests (resize.py): data, attributes and scales/sizes as written there.
_DATA = np.arange(1, 17, dtype=np.float64).reshape(1, 1, 4, 4)
_SMALL = np.array([[[[1, 2], [3, 4]]]], dtype=np.float64)
NODE_TESTS = [
    (_SMALL, dict(mode="nearest"), None, [1, 1, 2, 3], None),
    (_DATA, dict(mode="nearest"), None, [1, 1, 0.6, 0.6], None),
    (_SMALL, dict(mode="linear"), None, [1, 1, 2, 2], None),
    (_SMALL, dict(mode="linear", coordinate_transformation_mode="align_corners"), None,
     [1, 1, 2, 2], None),
    (_DATA, dict(mode="linear"), None, [1, 1, 0.6, 0.6], None),
    (_DATA, dict(mode="linear", coordinate_transformation_mode="align_corners"), None,
     [1, 1, 0.6, 0.6], None),
    (_DATA, dict(mode="cubic"), None, [1, 1, 2, 2], None),
    (_DATA, dict(mode="cubic", coordinate_transformation_mode="align_corners"), None,
     [1, 1, 2, 2], None),
    (_DATA, dict(mode="cubic", coordinate_transformation_mode="asymmetric"), None,
     [1, 1, 2, 2], None),
    (_DATA, dict(mode="cubic"), None, [1, 1, 0.8, 0.8], None),
    (_DATA, dict(mode="cubic", coordinate_transformation_mode="align_corners"), None,
     [1, 1, 0.8, 0.8], None),
    (_DATA, dict(mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1), None,
     [1, 1, 2, 2], None),
    (_DATA, dict(mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1), None,
     [1, 1, 0.8, 0.8], None),
    (_DATA, dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize"),
     [0, 0, 0.4, 0.6, 1, 1, 0.6, 0.8], None, [1, 1, 3, 3]),
    (_DATA, dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize",
                 extrapolation_value=10.0),
     [0, 0, 0.4, 0.6, 1, 1, 1.2, 1.7], None, [1, 1, 3, 3]),
    (_DATA, dict(mode="linear", coordinate_transformation_mode="pytorch_half_pixel"), None,
     None, [1, 1, 3, 1]),
    (_DATA, dict(mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn"
                 if False else "half_pixel", nearest_mode="ceil"), None, None,
     [1, 1, 8, 8]),
    (_DATA, dict(mode="nearest", coordinate_transformation_mode="align_corners",
                 nearest_mode="round_prefer_ceil"), None, None, [1, 1, 8, 8]),
    (_DATA, dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                 nearest_mode="floor"), None, None, [1, 1, 8, 8]),
    (_DATA, dict(mode="nearest"), None, None, [1, 1, 7, 8]),
    (_DATA, dict(mode="nearest"), None, None, [1, 1, 1, 3]),
    (_DATA, dict(mode="cubic"), None, None, [1, 1, 9, 10]),
    (_DATA, dict(mode="cubic"), None, None, [1, 1, 3, 3]),
    (_DATA, dict(mode="linear"), None, None, [1, 1, 3, 3]),
    (_DATA, dict(mode="linear", antialias=1), None, [1, 1, 0.6, 0.6], None),
    (_DATA, dict(mode="cubic", antialias=1), None, [1, 1, 0.6, 0.6], None),
    (_DATA, dict(mode="linear", antialias=1), None, None, [1, 1, 3, 3]),
    (_DATA, dict(mode="cubic", antialias=1), None, None, [1, 1, 3, 3]),
    (_DATA, dict(mode="nearest", keep_aspect_ratio_policy="not_larger"), None, None,
     [1, 1, 7, 8]),
    (_DATA, dict(mode="nearest", keep_aspect_ratio_policy="not_smaller"), None, None,
     [1, 1, 7, 8]),
    (_DATA, dict(mode="linear", coordinate_transformation_mode="half_pixel_symmetric"),
     None, [1, 1, 2.94, 1.29], None),
    (_DATA, dict(mode="linear", coordinate_transformation_mode="half_pixel_symmetric"),
     None, [1, 1, 0.6, 0.6], None),
    (_DATA, dict(mode="linear", coordinate_transformation_mode="asymmetric"), None,
     [1, 1, 2, 2], None),
]


class TestResizeOnnx:
    @pytest.mark.parametrize("case", range(len(NODE_TESTS)))
    def test_node_tests(self, case: int) -> None:
        x, attrs, roi, scales, sizes = NODE_TESTS[case]
        _check(x, attrs, roi, scales, sizes)

    def test_oracle_sweep(self) -> None:
        """A seeded sweep over every attribute, 1-D to 3-D, sizes and scales."""
        rng = np.random.default_rng(23)
        before = dict(COUNTS)
        n = 0
        for _ in range(160):
            nd = int(rng.integers(1, 4))
            shape = tuple(int(v) for v in rng.integers(1, 7, nd))
            x = rng.standard_normal((1, 2) + shape)
            mode = str(rng.choice(["nearest", "linear", "cubic"]))
            attrs: dict = {"mode": mode,
                           "coordinate_transformation_mode": str(rng.choice(COORDS))}
            if mode == "nearest":
                attrs["nearest_mode"] = str(rng.choice(NEAREST))
            else:
                attrs["antialias"] = int(rng.integers(0, 2))
            if mode == "cubic":
                attrs["cubic_coeff_a"] = float(rng.choice([-0.75, -0.5, -0.6]))
                attrs["exclude_outside"] = int(rng.integers(0, 2))
            roi = None
            if attrs["coordinate_transformation_mode"] == "tf_crop_and_resize":
                lo = rng.uniform(-0.3, 0.5, nd)
                hi = rng.uniform(0.6, 1.3, nd)
                roi = [0, 0, *np.round(lo, 2), 1, 1, *np.round(hi, 2)]
                attrs["extrapolation_value"] = float(rng.choice([0.0, -2.5]))
            if rng.random() < 0.5:
                sizes = [1, 2, *(int(v) for v in rng.integers(1, 12, nd))]
                if nd > 1 and rng.random() < 0.3:
                    policy = str(rng.choice(["not_larger", "not_smaller"]))
                    ratios = [o / i for o, i in zip(sizes[2:], shape)]
                    common = min(ratios) if policy == "not_larger" else max(ratios)
                    if all(int(common * i + 0.5) >= 1 for i in shape):
                        attrs["keep_aspect_ratio_policy"] = policy
                _check(x, attrs, roi, None, sizes)
            else:
                scales = [1, 1, *np.round(rng.uniform(0.3, 3.0, nd), 2)]
                if any(int(np.float32(s) * v) < 1 for s, v in zip(scales[2:], shape)):
                    continue
                _check(x, attrs, roi, scales, None)
            n += 1
        assert n > 120
        _tally(before, "random sweep", {"onnxruntime": 100, "reference": 80})

    def test_smoke(self) -> None:
        x = np.arange(6.0).reshape(1, 1, 6)
        y = resize(x, 3, method="nearest", convention="onnx",
                   coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        np.testing.assert_array_equal(y, [[[0.0, 2.0, 4.0]]])

    def test_exception(self) -> None:
        x = np.zeros((1, 1, 4))
        with pytest.raises(ValueError, match="nearest_mode='round'"):
            resize(x, 3, method="nearest", convention="onnx", nearest_mode="round")
        with pytest.raises(ValueError, match="antialias=True needs"):
            resize(x, 3, method="nearest", convention="onnx", antialias=True)
        with pytest.raises(TypeError, match="align_corners do not exist"):
            resize(x, 3, method="linear", convention="onnx", align_corners=True)
        with pytest.raises(ValueError, match="roi="):
            resize(x, 3, method="linear", convention="onnx",
                   coordinate_transformation_mode="tf_crop_and_resize", roi=[0, 1, 1])


def test_all_attribute_combinations() -> None:
    """Every mode x coordinate mode x nearest mode x antialias x exclude_outside once, 2-D
    with sizes and with fractional scales."""
    x = np.random.default_rng(5).standard_normal((1, 1, 5, 7))
    before = dict(COUNTS)
    for mode, coord in itertools.product(("nearest", "linear", "cubic"), COORDS):
        variants = ([{"nearest_mode": m} for m in NEAREST] if mode == "nearest" else
                    [{"antialias": a, "exclude_outside": e} for a in (0, 1) for e in (0, 1)
                     if mode == "cubic" or e == 0])
        for v in variants:
            attrs = {"mode": mode, "coordinate_transformation_mode": coord, **v}
            roi = None
            if coord == "tf_crop_and_resize":
                roi = [0, 0, 0.2, -0.1, 1, 1, 0.8, 1.1]
                attrs["extrapolation_value"] = 3.0
            for sizes in ([1, 1, 3, 4], [1, 1, 9, 13], [1, 1, 1, 1]):
                _check(x, attrs, roi, None, sizes)
            _check(x, attrs, roi, [1, 1, 0.41, 1.73], None)
    _tally(before, "all attribute combinations", {"onnxruntime": 200, "reference": 150})

