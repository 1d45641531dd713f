"""The resize zoo, as data: ``interpolate`` calls of real pipelines, each with its source.

Each entry: ``x`` the input shape ``(N, C, *S)``, ``size`` or ``scale`` (exactly one),
``mode``, ``align_corners``, ``antialias``, ``dtype`` and ``cite`` (the pipeline the call
comes from). Shapes are the pipelines' own (photo and video frames, training-batch feature
maps, mel spectrograms, volumes); batches are cut where one call would take more than about
0.1 s on two cores, so the whole zoo runs in a few minutes.

:func:`sweep` adds a seeded random population of valid resizes that no pipeline named: every
mode and rank, align_corners and antialias, sizes or scale factors, from maps of a few
hundred values (one small image or feature map, where a call's fixed costs dominate) to
millions.
"""

from __future__ import annotations

import math
import random
from typing import Any

CITES = {
    "torchvision": "torchvision.transforms.v2.Resize on a decoded frame or photo "
                   "(bilinear, antialias=True by default for tensors since 0.17)",
    "timm": "timm eval transforms: resize the short side, bicubic (ViT / ConvNeXt at 224, "
            "384)",
    "clip": "CLIP / OpenCLIP pre-processing: bicubic resize to 224 (Radford et al. 2021, "
            "arXiv:2103.00020)",
    "video": "video models (X3D / SlowFast, Feichtenhofer et al. 2019, arXiv:1812.03982): "
             "frame batches resized to the crop size",
    "sr": "super-resolution training baselines (bicubic / nearest-exact LR->HR, SRCNN, "
          "Dong et al. 2014; EDSR, Lim et al. 2017, arXiv:1707.02921)",
    "thumbnail": "anti-aliased thumbnails and detector inputs (Pillow's resampling, as "
                 "tconv and torch's antialias=True)",
    "unet": "U-Net decoder with bilinear up-sampling (milesial/Pytorch-UNet, "
            "align_corners=True; Ronneberger et al. 2015, arXiv:1505.04597)",
    "fpn": "FPN top-down pathway, nearest x2 (Lin et al. 2017, arXiv:1612.03144; "
           "torchvision FeaturePyramidNetwork)",
    "deeplab": "DeepLab v3 / v3+ decoders: bilinear x4 and logits x8 to the 513 crop, "
               "align_corners=True (Chen et al. 2017/2018, arXiv:1706.05587, "
               "arXiv:1802.02611)",
    "segformer": "semantic-segmentation heads (SegFormer, Xie et al. 2021, "
                 "arXiv:2105.15203; Cityscapes 512x1024): logits resized to the label "
                 "size, bilinear align_corners=False",
    "decoder": "decoder feature maps up-sampled bilinear x2 (LinkNet / UPerNet-style "
               "decoders, Chaurasia & Culurciello 2017, arXiv:1707.03718)",
    "pool": "adaptive average pooling as interpolate(mode='area') (torchvision "
            "AdaptiveAvgPool2d in VGG's 7x7 head; PSPNet pyramid pooling, Zhao et al. 2017, "
            "arXiv:1612.01105)",
    "vocoder": "mel / feature up-sampling in vocoders and TTS (WaveNet conditioning, "
               "van den Oord et al. 2016, arXiv:1609.03499; linear interpolation of "
               "frame-rate features to sample rate)",
    "audio": "waveform resampling by linear interpolation (torchaudio-style 22.05 kHz -> "
             "16 kHz and 8 -> 16 kHz)",
    "unet3d": "3-D U-Net / nnU-Net decoders: trilinear and nearest x2 (Cicek et al. 2016, "
              "arXiv:1606.06650; Isensee et al. 2021)",
    "volume": "medical volume pre-processing: resample a CT crop to a target spacing "
              "(trilinear, area)",
    "sweep": "seeded random valid resize (zoo_interpolate.sweep), no pipeline's",
}


def _c(name: str, cite: str, x: tuple[int, ...], mode: str, *, size: Any = None,
       scale: Any = None, align_corners: bool | None = None, antialias: bool = False,
       dtype: str = "float32") -> dict[str, Any]:
    return dict(name=name, cite=cite, x=x, mode=mode, size=size, scale=scale,
                align_corners=align_corners, antialias=antialias, dtype=dtype)


ZOO: list[dict[str, Any]] = [
    # image pre-processing, photo and video sizes
    _c("frame540_bilinear_x2", "sr", (1, 3, 540, 960), "bilinear", scale=2),
    _c("frame540_bicubic_x2", "sr", (1, 3, 540, 960), "bicubic", scale=2),
    _c("photo1024_bilinear_x2", "sr", (1, 3, 1024, 1024), "bilinear", scale=2),
    _c("photo1024_bicubic_x2", "sr", (1, 3, 1024, 1024), "bicubic", scale=2),
    _c("hd1080_to224_bilinear", "torchvision", (1, 3, 1080, 1920), "bilinear",
       size=(224, 224)),
    _c("hd1080_to256_bilinear_aa", "torchvision", (1, 3, 1080, 1920), "bilinear",
       size=(256, 455), antialias=True),
    _c("hd1080_to384_bicubic", "timm", (1, 3, 1080, 1920), "bicubic", size=(384, 682)),
    _c("hd1080_to224_bicubic_aa", "clip", (1, 3, 1080, 1920), "bicubic", size=(224, 398),
       antialias=True),
    _c("photo1024_aa_300x400", "thumbnail", (1, 3, 1024, 1024), "bilinear",
       size=(300, 400), antialias=True),
    _c("video8_240x320_to224", "video", (8, 3, 240, 320), "bilinear", size=(224, 224)),
    _c("hd1080_nearest_half", "video", (1, 3, 1080, 1920), "nearest", size=(540, 960)),
    _c("sr_nearest_exact_x3", "sr", (16, 3, 64, 64), "nearest-exact", scale=3),
    _c("sr_bicubic_x4_b16", "sr", (16, 3, 48, 48), "bicubic", scale=4),
    _c("photo1024_area_379", "pool", (1, 3, 1024, 1024), "area", size=(379, 379)),
    _c("photo1024_area_379_f64", "pool", (1, 3, 1024, 1024), "area", size=(379, 379),
       dtype="float64"),
    # feature maps in decoders and FPNs, training batches
    _c("decoder_bilinear_x2", "decoder", (8, 64, 64, 64), "bilinear", scale=2),
    _c("decoder_bilinear_x2_f64", "decoder", (4, 32, 64, 64), "bilinear", scale=2,
       dtype="float64"),
    _c("unet_bilinear_x2_ac", "unet", (8, 128, 32, 32), "bilinear", scale=2,
       align_corners=True),
    _c("fpn_nearest_x2_p4", "fpn", (8, 256, 64, 64), "nearest", scale=2),
    _c("fpn_nearest_x2_p6", "fpn", (8, 256, 16, 16), "nearest", scale=2),
    _c("deeplab_bilinear_x4_ac", "deeplab", (8, 256, 33, 33), "bilinear", size=(129, 129),
       align_corners=True),
    _c("deeplab_logits_x8_ac", "deeplab", (4, 21, 65, 65), "bilinear", size=(513, 513),
       align_corners=True),
    _c("segformer_logits_x4", "segformer", (2, 19, 128, 256), "bilinear", scale=4),
    _c("psp_area_6", "pool", (8, 512, 60, 60), "area", size=(6, 6)),
    _c("vgg_area_7", "pool", (16, 512, 14, 14), "area", size=(7, 7)),
    _c("bicubic_down_ac_f64", "sr", (4, 3, 256, 256), "bicubic", size=(170, 170),
       align_corners=True, dtype="float64"),
    # 1-D audio
    _c("mel_linear_x4", "vocoder", (8, 80, 800), "linear", scale=4),
    _c("mel_nearest_x256", "vocoder", (1, 80, 200), "nearest", scale=256),
    _c("wave_linear_22k_16k", "audio", (8, 1, 22050), "linear", size=16000),
    _c("wave_linear_x2_ac_f64", "audio", (8, 1, 8000), "linear", scale=2,
       align_corners=True, dtype="float64"),
    # 3-D volumes
    _c("unet3d_trilinear_x2", "unet3d", (1, 16, 32, 32, 32), "trilinear", scale=2),
    _c("unet3d_trilinear_x2_ac", "unet3d", (1, 32, 24, 24, 24), "trilinear", scale=2,
       align_corners=True),
    _c("unet3d_nearest_x2", "unet3d", (2, 32, 16, 16, 16), "nearest", scale=2),
    _c("ct_trilinear_spacing", "volume", (1, 1, 64, 160, 160), "trilinear",
       size=(96, 128, 128)),
    _c("ct_area_half", "volume", (1, 1, 64, 128, 128), "area", size=(32, 64, 64)),
]


#: the modes of each number of spatial dims
_MODES = {1: ("nearest", "nearest-exact", "linear", "area"),
          2: ("nearest", "nearest-exact", "bilinear", "bicubic", "area"),
          3: ("nearest", "nearest-exact", "trilinear", "area")}


def sweep(count: int = 30, seed: int = 0, max_out: int = 4_000_000) -> list[dict[str, Any]]:
    """``count`` seeded random valid resizes ``sweepNN``: 1-3 spatial dims (2-D most often),
    every mode, input maps of 2**7 to 2**21 values (log-uniform, batch 1-16, 1-256
    channels), per-axis factors 1/8 to 8 given as a size or a scale factor, align_corners
    for the interpolating modes, antialias for 2-D bilinear/bicubic, float32 (float64 one
    in five); at most ``max_out`` output values."""
    rng = random.Random(seed)
    cases: list[dict[str, Any]] = []
    while len(cases) < count:
        nd = rng.choice((1, 2, 2, 2, 3))
        mode = rng.choice(_MODES[nd])
        total = 2 ** rng.uniform(7, 21)                 # input values
        n = rng.choice((1, 1, 1, 2, 4, 8, 16))
        c = rng.choice((1, 3, 3, 8, 16, 64, 256))
        side = max(2, round((total / (n * c)) ** (1 / nd)))
        spatial = tuple(max(1, round(side * 2 ** rng.uniform(-0.5, 0.5))) for _ in range(nd))
        if rng.random() < 0.5:
            f = rng.choice((0.125, 0.25, 0.5, 1.5, 2, 2, 3, 4, 8))
            scale: Any = f
            size: Any = None
            out = tuple(int(v * f) for v in spatial)
        else:
            out = tuple(max(1, round(v * 2 ** rng.uniform(-3, 3))) for v in spatial)
            size, scale = (out if nd > 1 else out[0]), None
        if min(out) < 1 or n * c * math.prod(out) > max_out:
            continue
        interp = mode in ("linear", "bilinear", "bicubic", "trilinear")
        ac = rng.choice((None, False, True)) if interp else None
        aa = mode in ("bilinear", "bicubic") and rng.random() < 0.3
        dtype = "float64" if rng.random() < 0.2 else "float32"
        cases.append(_c(f"sweep{len(cases):02d}", "sweep", (n, c, *spatial), mode, size=size,
                        scale=scale, align_corners=ac, antialias=aa, dtype=dtype))
    return cases


def output_size(case: dict[str, Any]) -> tuple[int, ...]:
    """The case's output spatial size (``floor(in * scale)`` for a scale)."""
    spatial = case["x"][2:]
    if case["size"] is not None:
        size = case["size"]
        return tuple(size) if isinstance(size, tuple) else (size,) * len(spatial)
    return tuple(int(n * case["scale"]) for n in spatial)


def kwargs(case: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the case's ``interpolate`` call (tconv's and torch's)."""
    kw: dict[str, Any] = {"mode": case["mode"]}
    if case["size"] is not None:
        kw["size"] = case["size"]
    else:
        kw["scale_factor"] = case["scale"]
    if case["align_corners"] is not None:
        kw["align_corners"] = case["align_corners"]
    if case["antialias"]:
        kw["antialias"] = True
    return kw
