"""tconv.nn.diagnostics.layer_report: phase sums and artifact score of a layer."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _oracle import assert_close  # noqa: E402

from tconv.nn import Upsample, icnr_transpose_, layer_report  # noqa: E402


def _brute_phase_sums(layer: torch.nn.Module, n: int = 12) -> np.ndarray:
    """Independent reference: run the layer (padding removed) on ones, read one period."""
    ref = torch.nn.ConvTranspose2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                                   stride=layer.stride, groups=layer.groups, bias=False,
                                   dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(layer.weight)
        y = ref(torch.ones(1, layer.in_channels, n, n, dtype=torch.float64))[0].numpy()
    s = layer.stride[0]
    k = layer.kernel_size[0]
    start = (k // s + 1) * s                    # an interior row that is a multiple of s
    return y[:, start:start + s, start:start + s]


class TestLayerReport:
    def test_smoke(self) -> None:
        torch.manual_seed(0)
        rep = layer_report(torch.nn.ConvTranspose2d(3, 2, 3, stride=2))
        assert rep.phase_sums.shape == (2, 2, 2) and rep.artifact_score.shape == (2,)
        assert rep.overlap.tolist() == [[4, 2], [2, 1]]
        assert rep.score > 0.5 and not rep.checkerboard_free()

    def test_exception(self) -> None:
        with pytest.raises(TypeError, match="layer must be an nn.ConvTranspose1d/2d/3d"):
            layer_report(torch.nn.Conv2d(1, 1, 3))

    @pytest.mark.parametrize("k,s,groups", [(3, 2, 1), (4, 2, 1), (5, 3, 2)])
    def test_oracle(self, k: int, s: int, groups: int) -> None:
        """Phase sums equal a brute-force constant response of the same weights."""
        torch.manual_seed(k)
        layer = torch.nn.ConvTranspose2d(2, 4, k, stride=s, padding=1, groups=groups)
        assert_close(layer_report(layer).phase_sums, _brute_phase_sums(layer))

    def test_identity(self) -> None:
        """Checkerboard-free layers score 0; uneven ones do not."""
        free = [Upsample(3, 3, 2, init="bilinear"),
                Upsample(3, 3, 3, init="bilinear", dtype=torch.float64),
                Upsample(3, 2, 2, init="icnr", rng=0),
                Upsample(3, 2, 2, method="pixel_shuffle", init="icnr", rng=0),
                Upsample(2, 2, 2, method="pixel_shuffle", init="bilinear"),
                Upsample(3, 2, 2, method="resize_conv"),
                Upsample(3, 2, 2, method="bilinear"), Upsample(3, 2, 2, ndim=1, init="icnr")]
        for up in free:
            rep = layer_report(up)
            assert rep.checkerboard_free(tol=1e-12), (up, rep.score, rep.amplitude)
            assert rep.score == 0.0
        torch.manual_seed(0)
        for up in (Upsample(3, 2, 2), Upsample(3, 2, 2, method="pixel_shuffle"),
                   Upsample(3, 2, 2, ndim=3)):
            rep = layer_report(up)
            assert rep.score > 0.1 and not rep.checkerboard_free(), up
            assert np.all(rep.amplitude > 1e-3)

    def test_float32_rounding(self) -> None:
        """Bilinear taps 1/3, 2/3 rounded to float32: a ripple of ~3e-8 within the dtype's
        noise floor scores 0, as the same layer in float64; a ripple above the floor (a
        1e-5 relative perturbation) still scores high, whatever the weights' scale."""
        for dtype in (torch.float32, torch.float64):
            rep = layer_report(Upsample(2, 2, 3, init="bilinear", dtype=dtype))
            assert rep.score == 0.0 and rep.checkerboard_free()
            assert np.all(rep.amplitude <= rep.noise_floor)
        rep = layer_report(Upsample(2, 2, 3, init="bilinear"))
        assert 1e-9 < rep.amplitude.max() < 1e-7
        assert not rep.checkerboard_free(tol=1e-9)
        for gain in (1e-6, 1.0, 1e6):
            layer = torch.nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1, bias=False)
            with torch.no_grad():
                layer.weight.fill_(0.25 * gain)
                layer.weight[0, 0, 0, 0] *= 1 + 1e-5
            assert layer_report(layer).score > 0.1, gain

    def test_trained_drift(self) -> None:
        """An ICNR layer stays flat until its phase sub-kernels drift apart."""
        layer = torch.nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1)
        icnr_transpose_(layer.weight, 2, rng=0)
        assert layer_report(layer).score == 0.0
        with torch.no_grad():
            layer.weight[0, 0, 0, 0] += 0.1
        rep = layer_report(layer)
        assert rep.score > 0.1 and rep.phase_spread[0] == pytest.approx(0.1, abs=1e-6)
