"""Learned image up-scaler: FSRCNN-style body + transposed-convolution head on luminance.

* :mod:`.model` -- ``UpscalerConfig`` and the torch module (torch extra);
* :mod:`.data` -- training / held-out data from scikit-image's bundled photos;
* :mod:`.train` -- deterministic, resumable training (torch extra);
* :mod:`.infer` -- tiled inference on the NumPy engine (no torch) or torch;
* :mod:`.evaluate` -- PSNR / SSIM / checkerboard / throughput on the held-out photos;
* ``weights/`` -- shipped x2/x3/x4 weights (``.npz``) and their sha256 ``manifest.json``.

Nothing is imported eagerly: ``import tconv.apps.upscale`` needs no extra.
"""

from __future__ import annotations

__all__: list[str] = []
