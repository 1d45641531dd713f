"""tconv.checkerboard against brute-force counting, tconv.conv_transpose and PyTorch."""

from __future__ import annotations

import itertools
from math import gcd

import numpy as np
import pytest

from tconv import conv_transpose
from tconv.checkerboard import (
    artifact_score,
    is_uneven,
    overlap_map,
    overlap_ratio,
    phase_means,
    phase_sums,
    pixel_shuffle,
    upsampler_responses,
)

SMALL = list(itertools.product(range(1, 9), range(1, 6), range(1, 5)))  # (k, s, d)


def brute_counts(k: int, s: int, d: int) -> np.ndarray:
    """Count (input i, tap j) pairs with i*s + j*d == o for interior o, by enumeration."""
    n_in = 4 * (k * d + s) + 8
    hits: dict[int, int] = {}
    for i in range(n_in):
        for j in range(k):
            o = i * s + j * d
            hits[o] = hits.get(o, 0) + 1
    full = (n_in - 1) * s + d * (k - 1) + 1
    lo, hi = d * (k - 1), full - d * (k - 1)          # interior: every tap has an input
    counts = np.zeros(s, dtype=np.int64)
    seen = np.zeros(s, dtype=bool)
    for o in range(lo, hi):
        r = o % s
        assert not seen[r] or counts[r] == hits.get(o, 0), "interior must be periodic"
        counts[r], seen[r] = hits.get(o, 0), True
    assert seen.all()
    return counts


def smooth_field(rng: np.random.Generator, n: int, cutoff: int = 3) -> np.ndarray:
    """Random image with only frequencies below ``cutoff`` (per dim)."""
    spec = np.zeros((n, n), dtype=complex)
    f = np.r_[0:cutoff, n - cutoff + 1:n]
    spec[np.ix_(f, f)] = rng.standard_normal((f.size, f.size)) + 1j * rng.standard_normal(
        (f.size, f.size))
    return np.fft.ifft2(spec).real


class TestOverlapMap:
    def test_smoke(self) -> None:
        np.testing.assert_array_equal(overlap_map(3, 2, ndim=1), [2, 1])
        np.testing.assert_array_equal(overlap_map(3, 2), [[4, 2], [2, 1]])

    def test_shape(self) -> None:
        assert overlap_map((3, 4, 5), (2, 3, 1)).shape == (2, 3, 1)
        assert overlap_map(5, 3, ndim=3).shape == (3, 3, 3)
        assert overlap_map(5, 3, ndim=3).sum() == 5 ** 3
        assert overlap_map(4, (2, 3)).dtype == np.int64

    @pytest.mark.parametrize("k,s,d", SMALL)
    def test_oracle(self, k: int, s: int, d: int) -> None:
        np.testing.assert_array_equal(overlap_map(k, s, d, ndim=1), brute_counts(k, s, d))

    @pytest.mark.parametrize("k,s,d", [(3, 2, 1), (4, 2, 1), (5, 3, 2), (2, 3, 1), (4, 2, 2)])
    def test_identity(self, k: int, s: int, d: int) -> None:
        """A ones kernel on a ones input counts the taps: the interior tiles the map (2-D)."""
        n = 3 * (d * k + s)
        y = conv_transpose(np.ones((1, 1, n, n)), np.ones((1, 1, k, k)), stride=s,
                           dilation=d)[0, 0]
        m = overlap_map(k, s, d)
        a = d * (k - 1)
        a_up = -(-a // s) * s                                 # first interior row of phase 0
        interior = y[a_up:a_up + 2 * s, a_up:a_up + 2 * s]
        np.testing.assert_array_equal(interior, np.tile(m, (2, 2)))

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="overlap_map: kernel_size=0 must be positive"):
            overlap_map(0, 2)
        with pytest.raises(ValueError, match="stride=.* must be a single int or a tuple of 2"):
            overlap_map(3, (2, 2, 2), ndim=2)
        with pytest.raises(TypeError, match="dilation"):
            overlap_map(3, 2, 1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="ndim=4 must be 1, 2 or 3"):
            overlap_map(3, 2, ndim=4)


class TestIsUneven:
    @pytest.mark.parametrize("k,s,d", SMALL)
    def test_oracle(self, k: int, s: int, d: int) -> None:
        counts = brute_counts(k, s, d)
        assert is_uneven(k, s, d) == bool(counts.min() != counts.max())

    def test_distill(self) -> None:
        """Dilation 1: uneven iff k % s != 0 (Odena, Dumoulin, Olah 2016)."""
        for k, s in itertools.product(range(1, 10), range(1, 6)):
            assert is_uneven(k, s) == (k % s != 0)

    def test_dilation_rule(self) -> None:
        """The derived rule: even iff s == 1 or (gcd(d, s) == 1 and k % s == 0)."""
        for k, s, d in SMALL:
            even = s == 1 or (gcd(d, s) == 1 and k % s == 0)
            assert is_uneven(k, s, d) == (not even)
        assert is_uneven(4, 2, 2) and not is_uneven(4, 2, 3)

    def test_nd(self) -> None:
        assert not is_uneven((4, 6), (2, 3))
        assert is_uneven((4, 5), (2, 3))
        for ks in itertools.product(range(1, 6), repeat=2):
            m = overlap_map(ks, (2, 3))
            assert is_uneven(ks, (2, 3)) == bool(m.min() != m.max())

    def test_ratio(self) -> None:
        assert overlap_ratio(3, 2, ndim=1) == 2.0 and overlap_ratio(3, 2) == 4.0
        assert overlap_ratio(4, 2) == 1.0 and overlap_ratio(2, 3) == float("inf")

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="is_uneven: stride=0 must be positive"):
            is_uneven(3, 0)


class TestPhaseSums:
    @pytest.mark.parametrize("shape,stride,dilation,groups", [
        ((2, 3, 3, 3), 2, 1, 1),
        ((4, 1, 4, 5), (2, 3), 1, 2),
        ((3, 2, 5), 3, 2, 1),
        ((2, 2, 2, 3, 2), (2, 1, 2), (1, 2, 1), 2),
    ])
    def test_oracle(self, shape: tuple[int, ...], stride: object, dilation: object,
                    groups: int) -> None:
        """Interior of conv_transpose(ones) is the tiled phase sums."""
        rng = np.random.default_rng(1)
        w = rng.standard_normal(shape)
        nd = len(shape) - 2
        s = (stride,) * nd if isinstance(stride, int) else stride
        d = (dilation,) * nd if isinstance(dilation, int) else dilation
        n = 12 if nd < 3 else 8
        x = np.ones((1, shape[0]) + (n,) * nd)
        y = conv_transpose(x, w, stride=stride, dilation=dilation, groups=groups)[0]
        ps = phase_sums(w, stride, dilation, groups)
        assert ps.shape == (shape[1] * groups, *s)
        starts = [-(-di * (k - 1) // si) * si for k, si, di in zip(shape[2:], s, d)]
        interior = y[(slice(None),) + tuple(slice(a, a + 2 * si) for a, si in zip(starts, s))]
        np.testing.assert_allclose(interior, np.tile(ps, (1,) + (2,) * nd), atol=1e-12)

    def test_oracle_torch(self) -> None:
        torch = pytest.importorskip("torch")
        rng = np.random.default_rng(2)
        w = rng.standard_normal((3, 2, 4, 3))
        y = torch.nn.functional.conv_transpose2d(torch.ones(1, 3, 10, 10, dtype=torch.float64),
                                                 torch.tensor(w),
                                                 stride=(2, 3), dilation=(1, 2)).numpy()[0]
        ps = phase_sums(w, (2, 3), (1, 2))
        # interior starts at d*(k-1) = (3, 4), rounded up to the phase period: rows 4, cols 6
        np.testing.assert_allclose(y[:, 4:8, 6:12], np.tile(ps, (1, 2, 2)), atol=1e-12)

    def test_identity(self) -> None:
        for k, s, d in [(3, 2, 1), (5, 3, 2), (4, 2, 2)]:
            np.testing.assert_array_equal(phase_sums(np.ones((1, 1, k, k)), s, d)[0],
                                          overlap_map(k, s, d))

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="phase_sums: weight of shape \\(3, 3\\)"):
            phase_sums(np.ones((3, 3)), 2)
        with pytest.raises(ValueError, match="groups=2 must divide the input channels C_in=3"):
            phase_sums(np.ones((3, 1, 2, 2)), 2, groups=2)
        with pytest.raises(ValueError, match="stride=\\(1, 2, 3\\)"):
            phase_sums(np.ones((1, 1, 2, 2)), (1, 2, 3))


class TestArtifactScore:
    def test_constant(self) -> None:
        assert artifact_score(np.full((32, 32), 7.5), 2) == 0.0
        assert artifact_score(np.zeros((32, 32)), 3) == 0.0

    @pytest.mark.parametrize("stride", [2, 3, 4, (2, 3)])
    def test_periodic(self, stride: object) -> None:
        s = (stride, stride) if isinstance(stride, int) else stride
        tile = np.random.default_rng(3).standard_normal(s)
        img = np.tile(tile, (40 // s[0], 36 // s[1]))
        assert artifact_score(img, stride) == pytest.approx(1.0, abs=1e-12)
        # independent of the phase and of scale
        assert artifact_score(5 * np.roll(img, (1, 1), (0, 1)), stride) == pytest.approx(1.0)

    def test_ndim(self) -> None:
        """1-D and 3-D: periodic -> 1, constant -> 0, a smooth ramp -> small."""
        tile3 = np.random.default_rng(10).standard_normal((2, 3, 2))
        vol = np.tile(tile3, (8, 4, 8))
        assert artifact_score(vol, (2, 3, 2), ndim=3) == pytest.approx(1.0, abs=1e-12)
        assert artifact_score(np.full((16, 12, 16), 2.0), (2, 3, 2), ndim=3) == 0.0
        line = np.tile([1.0, -2.0, 0.5], 20)
        assert artifact_score(line, 3, ndim=1) == pytest.approx(1.0, abs=1e-12)
        assert artifact_score(np.linspace(0, 1, 60) ** 2, 3, ndim=1) < 0.01

    def test_smooth(self) -> None:
        rng = np.random.default_rng(4)
        for _ in range(5):
            assert artifact_score(smooth_field(rng, 64), 2) < 0.01

    def test_monotone(self) -> None:
        rng = np.random.default_rng(5)
        base = smooth_field(rng, 64)
        pattern = np.tile([[1.0, -1.0], [-0.5, 0.5]], (32, 32))
        scores = [artifact_score(base + a * pattern, 2) for a in (0, 0.01, 0.03, 0.1, 0.3, 1)]
        assert all(b > a for a, b in zip(scores, scores[1:])), scores
        assert scores[0] < 0.01 and scores[-1] > 0.9

    def test_transposed_conv(self) -> None:
        x = np.ones((1, 1, 16, 16))
        even = conv_transpose(x, np.ones((1, 1, 4, 4)), stride=2, padding=1)[0, 0]
        uneven = conv_transpose(x, np.ones((1, 1, 3, 3)), stride=2, padding=1)[0, 0]
        rand_even = conv_transpose(x, np.random.default_rng(6).standard_normal((1, 1, 4, 4)),
                                   stride=2, padding=1)[0, 0]
        assert artifact_score(even, 2, border=4) == 0.0
        assert artifact_score(uneven, 2, border=4) > 0.99
        assert artifact_score(rand_even, 2, border=4) > 0.99   # even overlap, unequal sums

    def test_batch(self) -> None:
        imgs = np.stack([np.ones((16, 16)), np.tile([[1.0, 0.0], [0.0, 0.0]], (8, 8))])
        out = artifact_score(imgs[:, None], 2)
        assert out.shape == (2, 1)
        np.testing.assert_allclose(out[:, 0], [0.0, 1.0], atol=1e-12)
        assert isinstance(artifact_score(np.ones(16), 2, ndim=1), float)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="must hold at least 4 periods of stride=\\(4, 4\\)"):
            artifact_score(np.ones((12, 12)), 4)
        with pytest.raises(ValueError, match="border=-1 must be >= 0"):
            artifact_score(np.ones((32, 32)), 2, border=-1)
        with pytest.raises(ValueError, match="at least ndim=2 dims"):
            artifact_score(np.ones(32), 2)


class TestPhaseMeans:
    def test_oracle(self) -> None:
        rng = np.random.default_rng(7)
        x = rng.standard_normal((2, 9, 7))
        out = phase_means(x, (2, 3))
        assert out.shape == (2, 2, 3)
        for r, c in itertools.product(range(2), range(3)):
            np.testing.assert_allclose(out[:, r, c], x[:, r:8:2, c:6:3].mean(axis=(1, 2)))

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="spatial size \\(1, 4\\) must be at least stride"):
            phase_means(np.ones((1, 4)), 2)


class TestPixelShuffle:
    def test_oracle(self) -> None:
        torch = pytest.importorskip("torch")
        x = np.random.default_rng(8).standard_normal((2, 18, 3, 4))
        ref = torch.nn.functional.pixel_shuffle(torch.tensor(x), 3).numpy()
        np.testing.assert_array_equal(pixel_shuffle(x, 3), ref)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="divisible by upscale_factor\\*\\*2=4"):
            pixel_shuffle(np.ones((3, 2, 2)), 2)


class TestUpsamplerResponses:
    def test_shape(self) -> None:
        out = upsampler_responses(np.ones((10, 12)), 3, 4)
        assert list(out) == ["transposed", "pixel_shuffle", "pixel_shuffle_icnr", "resize_conv"]
        assert all(y.shape == (30, 36) for y in out.values())

    @pytest.mark.parametrize("s,k", [(2, 3), (2, 4), (3, 3), (3, 5)])
    def test_constant(self, s: int, k: int) -> None:
        """Flat in -> flat interior for ICNR and resize-conv; periodic for the others."""
        out = upsampler_responses(np.full((16, 16), 0.7), s, k, seed=s * 10 + k)
        b = 2 * k
        for name in ("pixel_shuffle_icnr", "resize_conv"):
            inner = out[name][b:-b, b:-b]
            assert np.ptp(inner) < 1e-12 and artifact_score(out[name], s, border=b) == 0.0
        for name in ("transposed", "pixel_shuffle"):
            inner = out[name][b:-b, b:-b]
            assert np.ptp(inner) > 1e-3 and artifact_score(out[name], s, border=b) > 0.99
            # the interior is exactly stride-periodic
            np.testing.assert_allclose(inner[s:], inner[:-s], atol=1e-12)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="must be 2-D"):
            upsampler_responses(np.ones((2, 4, 4)))
