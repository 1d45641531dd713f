"""``tconv.resize`` against Pillow, OpenCV, JAX and PyTorch themselves (ONNX: test_resize_onnx).

Each class runs the framework's own resize on seeded inputs over every method and a grid of
up- and down-sampling sizes, 1-3-D where the framework has them. TensorFlow is not
installed here: its methods are checked where they coincide with another framework's
(``ScaleAndTranslate`` is JAX's; ``resize_bilinear`` is PyTorch's bilinear; ``resize_nearest``
is ``nearest-exact``; ``resize_area`` at integer factors is PyTorch's ``area``), and
directly in ``test_resize_tensorflow.py`` where TensorFlow is installed.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tconv import interpolate
from tconv.resizing import METHODS, OPTIONS, convert_resize, resize, resize_matrix

SIZES_2D = [((5, 7), (3, 4)), ((5, 7), (10, 14)), ((16, 9), (17, 5)), ((1, 4), (1, 1)),
            ((13, 13), (13, 31)), ((12, 12), (6, 6)), ((4, 4), (24, 24)), ((9, 16), (40, 3))]


class TestPil:
    PIL = pytest.importorskip("PIL.Image")
    FILTERS = {"nearest": "NEAREST", "box": "BOX", "bilinear": "BILINEAR",
               "hamming": "HAMMING", "bicubic": "BICUBIC", "lanczos": "LANCZOS"}

    def _pil(self, x: np.ndarray, size: tuple[int, int], method: str, box=None) -> np.ndarray:
        Image = self.PIL
        f = getattr(Image.Resampling, self.FILTERS[method])
        img = Image.fromarray(x, mode="F") if x.dtype == np.float32 else Image.fromarray(x)
        return np.asarray(img.resize(size[::-1], f, box=box))

    @pytest.mark.parametrize("method", METHODS["pil"])
    def test_oracle_float32(self, method: str) -> None:
        rng = np.random.default_rng(1)
        for shape, out in SIZES_2D:
            x = rng.random(shape).astype(np.float32)
            got = resize(x, out, method=method, convention="pil")
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, self._pil(x, out, method), rtol=2e-7, atol=2e-7)

    @pytest.mark.parametrize("method", METHODS["pil"])
    def test_oracle_uint8(self, method: str) -> None:
        """8-bit images round as Pillow does: bit for bit, both pass orders."""
        rng = np.random.default_rng(2)
        for shape, out in SIZES_2D + [((16, 9), (10, 14)), ((20, 20), (5, 15))]:
            x = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
            got = resize(x, out, method=method, convention="pil")
            assert got.dtype == np.uint8
            np.testing.assert_array_equal(got, self._pil(x, out, method))

    def test_axes_order(self) -> None:
        """Rows are the first of the two axes in the array, whatever order axes= lists."""
        x = np.random.default_rng(30).integers(0, 256, (16, 9), dtype=np.uint8)
        got = resize(np.ascontiguousarray(x.T), (10, 14), method="lanczos", convention="pil",
                     axes=(1, 0))
        np.testing.assert_array_equal(got.T, self._pil(x, (10, 14), "lanczos"))

    def test_box(self) -> None:
        x = np.random.default_rng(3).random((12, 10)).astype(np.float32)
        for method in ("bilinear", "lanczos", "nearest"):
            box = (1.5, 2.0, 9.0, 11.25)
            np.testing.assert_allclose(
                resize(x, (5, 7), method=method, convention="pil", box=box),
                self._pil(x, (5, 7), method, box=box), rtol=2e-7, atol=2e-7)


class TestOpenCV:
    cv2 = pytest.importorskip("cv2")
    FLAGS = {"nearest": "INTER_NEAREST", "nearest_exact": "INTER_NEAREST_EXACT",
             "linear": "INTER_LINEAR", "cubic": "INTER_CUBIC", "area": "INTER_AREA",
             "lanczos4": "INTER_LANCZOS4"}

    def _cv(self, x: np.ndarray, method: str, size=None, fx=None) -> np.ndarray:
        flag = getattr(self.cv2, self.FLAGS[method])
        if size is not None:
            y = self.cv2.resize(x, size[::-1], interpolation=flag)
        else:
            y = self.cv2.resize(x, (0, 0), fx=fx[1], fy=fx[0], interpolation=flag)
        return y if y.ndim == x.ndim else y[..., None]

    @pytest.mark.parametrize("method", METHODS["opencv"])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_oracle_float(self, method: str, dtype: type) -> None:
        """Float images within float32 rounding (OpenCV's coefficients are float32 and it
        sums in float32: up to ~2e-6 on [0, 1] images with cubic overshoot)."""
        rng = np.random.default_rng(4)
        for shape, out in SIZES_2D:
            x = rng.random(shape + (3,)).astype(dtype)
            got = resize(x, out, method=method, convention="opencv")
            assert got.dtype == dtype
            np.testing.assert_allclose(got, self._cv(x, method, size=out), rtol=0,
                                       atol=5e-6, err_msg=f"{shape} -> {out}")

    @pytest.mark.parametrize("method", METHODS["opencv"])
    def test_oracle_uint8(self, method: str) -> None:
        """8-bit images: nearest modes exact; the others within 1 level (OpenCV rounds
        from fixed point, tconv from float)."""
        rng = np.random.default_rng(5)
        for shape, out in SIZES_2D:
            x = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
            got = resize(x, out, method=method, convention="opencv")
            want = self._cv(x, method, size=out)
            diff = np.abs(got.astype(int) - want.astype(int))
            assert diff.max() <= (0 if method.startswith("nearest") else 1), (shape, out)

    @pytest.mark.parametrize("method", METHODS["opencv"])
    def test_scale(self, method: str) -> None:
        """fx/fy: the size is round(in * f) and the sampling step 1/f."""
        x = np.random.default_rng(6).random((10, 13, 1))
        for f in ((0.37, 0.61), (1.7, 2.3), (0.5, 2.0), (0.5, 1.1), (1.0, 0.4)):
            got = resize(x, scale=f, method=method, convention="opencv")
            np.testing.assert_allclose(got, self._cv(x, method, fx=f), rtol=0, atol=5e-6)

    def test_area_follows_fx(self) -> None:
        """fx = 1.1 on 3 columns keeps 3 columns but is an up-sampling to OpenCV: INTER_AREA
        then uses its bilinear-like weights on both axes, not box averages."""
        x = np.random.default_rng(31).random((10, 3, 1)).astype(np.float32)
        got = resize(x, scale=(0.5, 1.1), method="area", convention="opencv")
        np.testing.assert_allclose(got, self._cv(x, "area", fx=(0.5, 1.1)), rtol=0,
                                   atol=5e-6)

    def test_nearest_exact_grid(self) -> None:
        """INTER_NEAREST_EXACT's index table for every length pair up to 40 x 60."""
        for n, o in itertools.product(range(1, 41), range(1, 61, 3)):
            x = np.arange(n, dtype=np.float32)[None, :].repeat(2, 0)
            want = self.cv2.resize(x, (o, 2), interpolation=self.cv2.INTER_NEAREST_EXACT)
            got = resize(x, (2, o), method="nearest_exact", convention="opencv")
            np.testing.assert_array_equal(got, want)


class TestJax:
    jax = pytest.importorskip("jax")

    def _check(self, method: str, antialias: bool, pairs, shapes) -> None:
        import jax.numpy as jnp

        rng = np.random.default_rng(7)
        with self.jax.enable_x64(True):
            for n, o in pairs:                  # one axis's whole matrix from an identity
                want = np.asarray(self.jax.image.resize(
                    jnp.eye(n, dtype=jnp.float64), (n, o), method=method,
                    antialias=antialias))
                got = resize(np.eye(n), (o,), method=method, convention="jax",
                             antialias=antialias, axes=(1,))
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-13,
                                           err_msg=f"{n} -> {o}")
            for shape, out in shapes:
                x = rng.standard_normal(shape)
                want = np.asarray(self.jax.image.resize(jnp.asarray(x), out, method=method,
                                                        antialias=antialias))
                got = resize(x, out, method=method, convention="jax", antialias=antialias)
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)

    @pytest.mark.parametrize("method", METHODS["jax"])
    def test_oracle(self, method: str) -> None:
        """float64 (x64 enabled in a context): a down- and an up-sampling axis with and
        without antialias, and one anti-aliased 3-D resize."""
        self._check(method, True, ((16, 5), (5, 11)), [((4, 5, 6), (7, 2, 9))])
        self._check(method, False, ((16, 5), (5, 11)), [])

    @pytest.mark.slow
    @pytest.mark.parametrize("method", METHODS["jax"])
    @pytest.mark.parametrize("antialias", [True, False])
    def test_oracle_sweep(self, method: str, antialias: bool) -> None:
        pairs = ((5, 3), (5, 11), (16, 5), (9, 20), (1, 4), (13, 6), (7, 7), (30, 4))
        shapes = [((4, 5, 6), (7, 2, 9)), ((9,), (4,)), ((5, 7), (10, 14)), ((8, 8), (3, 5))]
        self._check(method, antialias, pairs, shapes)

    def test_channels_last(self) -> None:
        """(H, W, C) with a 2-entry size resizes H and W, as jax.image.resize with
        shape (h, w, C)."""
        import jax.numpy as jnp

        x = np.random.default_rng(8).standard_normal((6, 5, 3)).astype(np.float32)
        want = np.asarray(self.jax.image.resize(jnp.asarray(x), (9, 4, 3), "lanczos3"))
        got = resize(x, (9, 4), method="lanczos3", convention="jax")
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


class TestTensorflow:
    """TF's resize methods, checked where another framework computes the same map."""

    @pytest.mark.parametrize("shape,out", SIZES_2D)
    def test_scale_and_translate_is_jax(self, shape, out) -> None:
        x = np.random.default_rng(9).standard_normal(shape)
        for tf_method, jax_method in (("lanczos3", "lanczos3"), ("lanczos5", "lanczos5"),
                                      ("bilinear", "linear"), ("bicubic", "cubic")):
            np.testing.assert_allclose(
                resize(x, out, method=tf_method, convention="tensorflow", antialias=True),
                resize(x, out, method=jax_method, convention="jax", antialias=True),
                rtol=0, atol=1e-5)                  # TF computes positions in float32

    @pytest.mark.parametrize("shape,out", SIZES_2D)
    def test_bilinear_and_nearest_are_torch(self, shape, out) -> None:
        x = np.random.default_rng(10).standard_normal((1, 1) + shape)
        got = resize(x[0, 0], out, method="bilinear", convention="tensorflow")
        # TF computes source positions in float32: agreement to float32 rounding
        np.testing.assert_allclose(got, interpolate(x, out, mode="bilinear")[0, 0],
                                   rtol=0, atol=1e-5)
        got = resize(x[0, 0], out, method="nearest", convention="tensorflow")
        np.testing.assert_array_equal(got, interpolate(x, out, mode="nearest-exact")[0, 0])

    def test_area_integer_factor_is_torch(self) -> None:
        x = np.random.default_rng(11).standard_normal((1, 1, 12, 18))
        got = resize(x[0, 0], (4, 6), method="area", convention="tensorflow")
        np.testing.assert_allclose(got, interpolate(x, (4, 6), mode="area")[0, 0],
                                   rtol=0, atol=1e-12)

    @pytest.mark.parametrize("method", METHODS["tensorflow"])
    def test_rows_sum_to_one(self, method: str) -> None:
        """Every TF method keeps constants (gaussian, mitchellcubic, area at fractional
        factors and the table-quantised bicubic have no other oracle here)."""
        for n, o in ((7, 3), (7, 16), (10, 10), (5, 13)):
            R = resize_matrix(n, o, method, "tensorflow")
            np.testing.assert_allclose(R.sum(axis=1), 1.0, atol=1e-6)


class TestTorch:
    torch = pytest.importorskip("torch")

    @pytest.mark.parametrize("method,options,nd", [
        ("nearest", {}, 2), ("nearest-exact", {}, 1), ("linear", {}, 3),
        ("linear", {"align_corners": True}, 2), ("cubic", {"antialias": True}, 2),
        ("area", {}, 2), ("bilinear", {"antialias": True}, 2)])
    def test_oracle(self, method: str, options: dict, nd: int) -> None:
        import torch.nn.functional as F

        x = np.random.default_rng(12).standard_normal((2, 3) + (7,) * nd)
        mode = {"linear": ("linear", "bilinear", "trilinear")[nd - 1],
                "cubic": "bicubic"}.get(method, method)
        for out in ((4,) * nd, (11,) * nd):
            want = F.interpolate(self.torch.from_numpy(x), size=out, mode=mode,
                                 **options).numpy()
            got = resize(x, out, method=method, convention="torch", **options)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)

    def test_axes(self) -> None:
        """Resizing axes (0, 1) of an (H, W, C) image equals interpolate on (1, C, H, W)."""
        x = np.random.default_rng(13).standard_normal((6, 8, 3))
        got = resize(x, (9, 5), method="linear", convention="torch", axes=(0, 1))
        want = interpolate(np.moveaxis(x, -1, 0)[None], (9, 5), mode="bilinear")[0]
        np.testing.assert_allclose(got, np.moveaxis(want, 0, -1), rtol=0, atol=1e-14)


class TestResize:
    def test_smoke(self) -> None:
        for convention in ("onnx", "tensorflow", "jax", "pil", "opencv"):
            for method in METHODS[convention]:
                y = resize(np.ones((6, 6), np.float32) if convention != "onnx" else
                           np.ones((1, 1, 6, 6), np.float32), (4, 9), method=method,
                           convention=convention)
                np.testing.assert_allclose(y, 1.0, atol=1e-6)

    def test_exception(self) -> None:
        x = np.zeros((4, 4))
        with pytest.raises(ValueError, match="convention='keras'"):
            resize(x, 2, convention="keras")
        with pytest.raises(ValueError, match="method='lanczos3' is not a pil resize method"):
            resize(x, 2, method="lanczos3", convention="pil")
        with pytest.raises(ValueError, match="give exactly one of size"):
            resize(x, 2, scale=2.0, convention="jax")
        with pytest.raises(TypeError, match="antialias do not exist"):
            resize(x, 2, method="bilinear", convention="pil", antialias=True)
        with pytest.raises(TypeError, match="dtype int64 is not supported"):
            resize(x.astype(np.int64), 2, method="linear", convention="jax")
        with pytest.raises(ValueError, match="empty output size"):
            resize(x, scale=0.1, method="linear", convention="jax")
        with pytest.raises(ValueError, match="axes=.*distinct axes"):
            resize(x, 2, method="linear", convention="jax", axes=(0, 0))
        with pytest.raises(ValueError, match=r"resize: size=\(100000, 100000\) gives an "
                                             "output of shape"):
            resize(x, (100000, 100000), method="bilinear", convention="pil")
        with pytest.raises(ValueError, match="more than the limit"):
            resize(x, scale=1e5, method="nearest", convention="opencv")
        with pytest.raises(ValueError, match="cubic 2"):
            resize(np.zeros((1, 1, 4)), 2, method="cubic", convention="torch")

    def test_options_table(self) -> None:
        """Every documented option is accepted with its default."""
        for convention, opts in OPTIONS.items():
            method = METHODS[convention][1]
            x = np.ones((1, 1, 4, 4)) if convention in ("torch", "onnx") else np.ones((4, 4))
            y = resize(x, (2, 3), method=method, convention=convention, **opts)
            # every resize weights sum to one: a constant image stays that constant
            assert y.shape == x.shape[:-2] + (2, 3), (convention, y.shape)
            np.testing.assert_allclose(y, 1.0, rtol=1e-6, err_msg=convention)

    @pytest.mark.parametrize("convention", ["onnx", "tensorflow", "jax", "pil", "opencv"])
    def test_matrix(self, convention: str) -> None:
        """resize_matrix(n, o) @ x equals resize of x along one axis."""
        x = np.random.default_rng(14).standard_normal(9)
        for method in METHODS[convention]:
            R = resize_matrix(9, 5, method, convention)
            if convention == "onnx":
                y = resize(x[None, None], (5,), method=method, convention=convention)
            else:                               # a one-column image
                y = resize(x[:, None], (5, 1), method=method, convention=convention)
            np.testing.assert_allclose(R @ x, y.ravel(), rtol=0, atol=1e-12)


class TestConvertResize:
    def test_pil_bilinear_upsampling_is_torch_bilinear(self) -> None:
        got = convert_resize({"input_size": (4, 6), "size": (8, 12), "method": "bilinear"},
                             "pil", "torch")
        assert got["method"] == "linear" and got["options"] == {}
        x = np.random.default_rng(15).random((4, 6))
        np.testing.assert_allclose(
            resize(x[None, None], got["size"], method=got["method"], convention="torch",
                   **got["options"])[0, 0],
            resize(x, (8, 12), method="bilinear", convention="pil"), atol=1e-12)

    def test_pil_antialias_is_torch_antialias(self) -> None:
        got = convert_resize({"input_size": (12, 12), "size": (5, 5), "method": "bicubic"},
                             "pil", "torch")
        assert got["options"] == {"antialias": True} and got["method"] == "cubic"

    def test_torch_to_onnx(self) -> None:
        cfg = {"input_size": (5,), "size": (9,), "method": "linear", "align_corners": True}
        got = convert_resize(cfg, "torch", "onnx")
        assert got["options"]["coordinate_transformation_mode"] == "align_corners"
        assert "Resize" in got["call"]

    def test_onnx_nearest_to_opencv(self) -> None:
        cfg = {"input_size": (6, 4), "size": (3, 2), "method": "nearest",
               "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
        assert convert_resize(cfg, "onnx", "opencv")["method"] == "nearest"

    def test_scale_sets_the_step(self) -> None:
        """torch's scale_factor=1.7 samples with step 1/1.7, not 5/8: equal to OpenCV's
        fx=1.7 and ONNX's scales=1.7 (float32), to no call given the size 8."""
        cfg = {"input_size": (5, 5), "scale": 1.7, "method": "linear"}
        x = np.random.default_rng(18).random((5, 5))
        want = resize(x[None, None], scale=1.7, method="linear", convention="torch")[0, 0]
        for dst in ("onnx", "opencv"):
            got = convert_resize(cfg, "torch", dst)
            assert got["scale"] == (1.7, 1.7) and got["max_difference"] < 1e-6, got
            y = _run(x, None, got["method"], dst, got["options"], scale=got["scale"])
            np.testing.assert_allclose(y, want, rtol=0, atol=1e-6)
        with pytest.raises(ValueError, match="no pil resize equals"):
            convert_resize(cfg, "torch", "pil")

    def test_refusal_says_by_how_much(self) -> None:
        """torch's bicubic (a = -0.75, clamped) has no Pillow equal: refused with the
        closest filter and its difference."""
        cfg = {"input_size": (6, 6), "size": (13, 13), "method": "cubic"}
        with pytest.raises(ValueError, match=r"no pil resize equals .*closest.*differs "
                                             r"by up to"):
            convert_resize(cfg, "torch", "pil")

    def test_every_pair_round_trips(self) -> None:
        """A found conversion reproduces the source on a random image (all pairs, one
        size pair, every source method with default options)."""
        rng = np.random.default_rng(16)
        x = rng.random((5, 7))
        found = 0
        for src, dst in itertools.permutations(("torch", "onnx", "jax", "pil", "opencv"), 2):
            for method in METHODS[src]:
                cfg = {"input_size": (5, 7), "size": (9, 3), "method": method}
                try:
                    got = convert_resize(cfg, src, dst)
                except ValueError as e:
                    assert "differs by up to" in str(e) or "no " in str(e)
                    continue
                found += 1
                a = _run(x, (9, 3), method, src, {})
                b = _run(x, got["size"], got["method"], dst, got["options"])
                # exact matches to 1e-9; float32-rounded ones (OpenCV, TF) to their rounding
                tol = 1e-9 if got["max_difference"] <= 1e-12 else 1e-5
                np.testing.assert_allclose(a, b, rtol=0, atol=tol, err_msg=f"{src}->{dst}")
        assert found >= 20


def _run(x: np.ndarray, size, method: str, convention: str, options: dict,
         scale=None) -> np.ndarray:
    if convention in ("torch", "onnx"):
        return resize(x[None, None], size, scale, method=method, convention=convention,
                      **options)[0, 0]
    return resize(x, size, scale, method=method, convention=convention, **options)


#: The table of docs/conventions.md: each row's calls have equal matrices (to float32
#: rounding) for every length pair in its scope ("all": up- and down-sampling, integer and
#: fractional factors; "up": up-sampling only; "integer": integer down-sampling factors).
TABLE = [
    ("nearest at pixel centres", "all", [
        ("torch", "nearest-exact", {}),
        ("onnx", "nearest", {"nearest_mode": "round_prefer_ceil"}),
        ("tensorflow", "nearest", {}), ("jax", "nearest", {}), ("pil", "nearest", {}),
        ("opencv", "nearest_exact", {})]),
    ("nearest, legacy floor(i * in / out)", "all", [
        ("torch", "nearest", {}),
        ("onnx", "nearest", {"coordinate_transformation_mode": "asymmetric",
                             "nearest_mode": "floor"}),
        ("opencv", "nearest", {})]),
    ("bilinear, no anti-aliasing", "all", [
        ("torch", "linear", {}), ("onnx", "linear", {}),
        ("tensorflow", "bilinear", {}), ("jax", "linear", {"antialias": False}),
        ("opencv", "linear", {})]),
    ("bilinear, anti-aliased", "all", [
        ("torch", "linear", {"antialias": True}),
        ("onnx", "linear", {"antialias": True, "exclude_outside": True}),
        ("tensorflow", "bilinear", {"antialias": True}), ("jax", "linear", {}),
        ("pil", "bilinear", {})]),
    ("bilinear up-sampling", "up", [
        ("torch", "linear", {}), ("pil", "bilinear", {}), ("opencv", "linear", {}),
        ("jax", "linear", {})]),
    ("bicubic a = -0.75, edges clamped", "all", [
        ("torch", "cubic", {}), ("onnx", "cubic", {}), ("opencv", "cubic", {})]),
    ("Keys cubic a = -0.5, anti-aliased", "all", [
        ("torch", "cubic", {"antialias": True}),
        ("onnx", "cubic", {"cubic_coeff_a": -0.5, "exclude_outside": True,
                           "antialias": True}),
        ("tensorflow", "bicubic", {"antialias": True}), ("jax", "cubic", {}),
        ("pil", "bicubic", {})]),
    ("Keys cubic a = -0.5, no anti-aliasing", "all", [
        ("onnx", "cubic", {"cubic_coeff_a": -0.5, "exclude_outside": True}),
        ("jax", "cubic", {"antialias": False})]),
    ("Lanczos-3, anti-aliased", "all", [
        ("tensorflow", "lanczos3", {"antialias": True}), ("jax", "lanczos3", {}),
        ("pil", "lanczos", {})]),
    ("area (box average)", "integer", [
        ("torch", "area", {}), ("tensorflow", "area", {}), ("pil", "box", {}),
        ("opencv", "area", {})]),
    ("area at any factor", "all", [("tensorflow", "area", {}), ("opencv", "area", {})]),
]

_SCOPES = {"all": [(8, 16), (16, 8), (8, 13), (13, 8), (7, 7), (5, 12), (12, 5)],
           "up": [(8, 16), (8, 13), (5, 12)],
           "integer": [(16, 8), (12, 4), (15, 5), (16, 4)]}


@pytest.mark.parametrize("row", range(len(TABLE)), ids=[r[0] for r in TABLE])
def test_conventions_table(row: int) -> None:
    _, scope, calls = TABLE[row]
    for n, o in _SCOPES[scope]:
        mats = [resize_matrix(n, o, m, c, **opts) for c, m, opts in calls]
        for (c, m, _), R in zip(calls[1:], mats[1:]):
            np.testing.assert_allclose(R, mats[0], rtol=0, atol=2e-6,
                                       err_msg=f"{calls[0][0]} vs {c} {m}, {n} -> {o}")


class TestValidPadding:
    """docs/conventions.md: Keras/JAX "VALID" with a dilated kernel shorter than the
    stride is tconv's "valid" plus output_padding = stride - k_eff."""

    jax = pytest.importorskip("jax")

    @pytest.mark.parametrize("k,d,s", [(1, 1, 3), (2, 2, 4), (2, 1, 3), (3, 1, 2), (3, 2, 4)])
    def test_oracle(self, k: int, d: int, s: int) -> None:
        import jax.numpy as jnp

        import tconv

        rng = np.random.default_rng(17)
        x = rng.standard_normal((1, 2, 5)).astype(np.float32)
        w = rng.standard_normal((2, 3, k)).astype(np.float32)
        # transpose_kernel=True takes the forward conv's OIH kernel: torch's (C_in, C_out, K)
        want = np.asarray(self.jax.lax.conv_transpose(
            jnp.asarray(x), jnp.asarray(w), strides=(s,), padding="VALID",
            rhs_dilation=(d,), dimension_numbers=("NCH", "OIH", "NCH"), transpose_kernel=True))
        k_eff = d * (k - 1) + 1
        assert want.shape[-1] == 5 * s + max(k_eff - s, 0)
        valid = tconv.conv_transpose(x, w, stride=s, dilation=d, padding="valid")
        assert valid.shape[-1] == 4 * s + k_eff
        got = tconv.conv_transpose(x, w, stride=s, dilation=d,
                                   output_padding=max(s - k_eff, 0))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
