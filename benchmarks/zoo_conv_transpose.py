"""The transposed-conv layer zoo, as data: layers of published architectures, each cited.

Each entry: ``x`` the input ``(N, C_in, *S_in)``, ``w`` the weight ``(C_in, C_out/g, *K)``,
``stride``, ``padding``, ``output_padding``, ``groups``, ``dilation``, ``dtype`` and ``cite``
(the architecture and the paper the layer's geometry comes from). Channel counts and kernel
geometry are the paper's; batch and spatial sizes are chosen so one call takes 0.1-60 ms on two
cores (the whole zoo runs in a few minutes), with both batch-1 inference and training batches.
A ``variant`` note says where a layer changes one thing of the cited one (groups, dtype).

:func:`sweep` adds a seeded random population of valid layers (1-3-D, every geometry knob),
sized the same way, so that rules fitted to the named layers are checked on unseen ones.
"""

from __future__ import annotations

import math
import random
from typing import Any

CITES = {
    "dcgan": "DCGAN generator, Radford et al. 2016, arXiv:1511.06434 (k4 s2 p1; 1x1 -> 4x4 k4 s1)",
    "dcgan28": "DCGAN for 28x28 digits (7 -> 14 -> 28), PyTorch/TF DCGAN tutorials after "
               "Radford et al. 2016",
    "pix2pix": "pix2pix U-Net generator, Isola et al. 2017, arXiv:1611.07004 (k4 s2 p1, skip "
               "concat doubles C_in)",
    "unet": "U-Net up-convolution, Ronneberger et al. 2015, arXiv:1505.04597 (k2 s2)",
    "fcn": "FCN-32s/16s/8s score up-sampling, Long et al. 2015, arXiv:1411.4038 (k2f s f)",
    "caffe_bilinear": "Fixed bilinear up-sampling as a depthwise deconvolution (group = C), "
                      "Caffe BilinearFiller idiom used by FCN and DeepLab v1/v2 "
                      "(Chen et al. 2015, arXiv:1412.7062)",
    "deeplab": "DeepLab v3+ decoder, Chen et al. 2018, arXiv:1802.02611: x4 up-sampling "
               "of the ASPP features, here as a learnable k8 s4 p2 transposed conv",
    "maskrcnn": "Mask R-CNN mask head, He et al. 2017, arXiv:1703.06870 (256 -> 256, 14 -> "
                "28, k2 s2)",
    "fsrcnn": "FSRCNN deconvolution head, Dong et al. 2016, arXiv:1608.00367 (56 -> 1, k9)",
    "lapsrn": "LapSRN feature/image up-sampling, Lai et al. 2017, arXiv:1704.03915 (k4 s2 p1)",
    "srgan_tc": "SRGAN-style x2 block with a transposed conv in place of the sub-pixel "
                "layer (Ledig et al. 2017, arXiv:1609.04802; Shi et al. 2016, "
                "arXiv:1609.05158 compare the two)",
    "enet": "ENet up-sampling, Paszke et al. 2016, arXiv:1606.02147 (k3 s2 p1 op1; final "
            "full conv k2 s2)",
    "erfnet": "ERFNet upsampler block, Romera et al. 2018 (k3 s2 p1 op1)",
    "melgan": "MelGAN generator, Kumar et al. 2019, arXiv:1910.06711 (rates 8 8 2 2, k = 2r)",
    "hifigan": "HiFi-GAN V1/V3 generator, Kong et al. 2020, arXiv:2010.05646 (k16 s8 p4, "
               "k4 s2 p1)",
    "waveglow": "WaveGlow / nv-wavenet mel up-sampling, Prenger et al. 2019, "
                "arXiv:1811.00002 (80 -> 80, k1024 s256)",
    "wavegan": "WaveGAN generator, Donahue et al. 2019, arXiv:1802.04208 (k25 s4 p11 op1)",
    "unet3d": "3-D U-Net up-convolution, Cicek et al. 2016, arXiv:1606.06650 (k2 s2)",
    "vnet": "V-Net de-convolution, Milletari et al. 2016, arXiv:1606.04797 (k2 s2)",
    "vox": "3-D GAN generator, Wu et al. 2016, arXiv:1610.07584 (k4 s2 p1)",
}


def _l(name: str, cite: str, x: tuple[int, ...], w: tuple[int, ...], stride: int,
       padding: int = 0, output_padding: int = 0, groups: int = 1, dilation: int = 1,
       dtype: str = "float32", variant: str = "") -> dict[str, Any]:
    return dict(name=name, cite=cite, x=x, w=w, stride=stride, padding=padding,
                output_padding=output_padding, groups=groups, dilation=dilation, dtype=dtype,
                variant=variant)


ZOO: list[dict[str, Any]] = [
    # GAN generators
    _l("dcgan_z_b128", "dcgan", (128, 100, 1, 1), (100, 512, 4, 4), 1),
    _l("dcgan_z_b1", "dcgan", (1, 100, 1, 1), (100, 512, 4, 4), 1),
    _l("dcgan_512_4", "dcgan", (16, 512, 4, 4), (512, 256, 4, 4), 2, 1),
    _l("dcgan_256_8", "dcgan", (32, 256, 8, 8), (256, 128, 4, 4), 2, 1),
    _l("dcgan_128_16", "dcgan", (16, 128, 16, 16), (128, 64, 4, 4), 2, 1),
    _l("dcgan_rgb_32", "dcgan", (16, 64, 32, 32), (64, 3, 4, 4), 2, 1),
    _l("dcgan_rgb_32_b1", "dcgan", (1, 64, 32, 32), (64, 3, 4, 4), 2, 1),
    _l("dcgan28_7", "dcgan28", (64, 128, 7, 7), (128, 64, 4, 4), 2, 1),
    _l("dcgan28_out", "dcgan28", (64, 64, 14, 14), (64, 1, 4, 4), 2, 1),
    _l("dcgan_512_4_f64", "dcgan", (16, 512, 4, 4), (512, 256, 4, 4), 2, 1,
       dtype="float64", variant="float64"),
    _l("vox3d_64_16", "vox", (2, 64, 16, 16, 16), (64, 32, 4, 4, 4), 2, 1),
    # encoder-decoders for images
    _l("pix2pix_bottleneck", "pix2pix", (1, 512, 1, 1), (512, 512, 4, 4), 2, 1),
    _l("pix2pix_1024_8", "pix2pix", (1, 1024, 8, 8), (1024, 512, 4, 4), 2, 1),
    _l("pix2pix_512_32", "pix2pix", (1, 512, 32, 32), (512, 128, 4, 4), 2, 1),
    _l("pix2pix_out", "pix2pix", (1, 128, 128, 128), (128, 3, 4, 4), 2, 1),
    _l("pix2pix_256_64", "pix2pix", (1, 256, 64, 64), (256, 64, 4, 4), 2, 1),
    _l("unet_1024_28", "unet", (1, 1024, 28, 28), (1024, 512, 2, 2), 2),
    _l("unet_256_64_b8", "unet", (8, 256, 32, 32), (256, 128, 2, 2), 2),
    _l("unet_128_100", "unet", (1, 128, 100, 100), (128, 64, 2, 2), 2),
    _l("unet_128_100_f64", "unet", (1, 128, 100, 100), (128, 64, 2, 2), 2, dtype="float64",
       variant="float64"),
    _l("unet_256_32_g4", "unet", (4, 256, 32, 32), (256, 32, 2, 2), 2, groups=4,
       variant="groups=4"),
    _l("enet_16_256", "enet", (1, 16, 128, 128), (16, 16, 3, 3), 2, 1, 1),
    _l("enet_full_b4", "enet", (4, 16, 128, 128), (16, 12, 2, 2), 2),
    _l("erfnet_128_64", "erfnet", (4, 128, 32, 64), (128, 64, 3, 3), 2, 1, 1),
    _l("erfnet_64_16", "erfnet", (4, 64, 64, 128), (64, 16, 3, 3), 2, 1, 1),
    # segmentation heads
    _l("fcn32s_21", "fcn", (1, 21, 16, 16), (21, 21, 64, 64), 32, 16),
    _l("fcn16s_up2", "fcn", (8, 21, 32, 32), (21, 21, 4, 4), 2, 1),
    _l("fcn8s_up8", "fcn", (1, 21, 64, 64), (21, 21, 16, 16), 8, 4),
    _l("bilinear_dw_x2_21", "caffe_bilinear", (1, 21, 64, 64), (21, 1, 4, 4), 2, 1,
       groups=21),
    _l("bilinear_dw_x8_b8", "caffe_bilinear", (8, 21, 64, 64), (21, 1, 16, 16), 8, 4,
       groups=21),
    _l("bilinear_dw_x32", "caffe_bilinear", (1, 21, 16, 16), (21, 1, 64, 64), 32, 16,
       groups=21),
    _l("bilinear_dw_x2_64_b8", "caffe_bilinear", (8, 64, 64, 64), (64, 1, 4, 4), 2, 1,
       groups=64),
    _l("bilinear_dw_x2_f64", "caffe_bilinear", (4, 21, 64, 64), (21, 1, 4, 4), 2, 1,
       groups=21, dtype="float64", variant="float64"),
    _l("deeplab_x4_256", "deeplab", (1, 256, 32, 32), (256, 64, 8, 8), 4, 2,
       variant="C_out 64"),
    _l("deeplab_x4_dw", "deeplab", (2, 256, 32, 32), (256, 1, 8, 8), 4, 2, groups=256,
       variant="depthwise"),
    _l("maskrcnn_b16", "maskrcnn", (16, 256, 14, 14), (256, 256, 2, 2), 2),
    _l("maskrcnn_b1", "maskrcnn", (1, 256, 14, 14), (256, 256, 2, 2), 2),
    # super-resolution heads
    _l("fsrcnn_x2", "fsrcnn", (1, 56, 128, 128), (56, 1, 9, 9), 2, 4, 1),
    _l("fsrcnn_x3", "fsrcnn", (1, 56, 96, 96), (56, 1, 9, 9), 3, 4, 2),
    _l("fsrcnn_x4_b8", "fsrcnn", (8, 56, 32, 32), (56, 1, 9, 9), 4, 4, 3),
    _l("lapsrn_feat", "lapsrn", (4, 64, 64, 64), (64, 64, 4, 4), 2, 1),
    _l("lapsrn_img", "lapsrn", (4, 1, 64, 64), (1, 1, 4, 4), 2, 1),
    _l("srgan_tc_x2", "srgan_tc", (4, 64, 48, 48), (64, 64, 3, 3), 2, 1, 1),
    _l("srgan_tc_x2_f64", "srgan_tc", (1, 64, 48, 48), (64, 64, 3, 3), 2, 1, 1,
       dtype="float64", variant="float64"),
    # 1-D audio
    _l("melgan_512_k16s8", "melgan", (4, 512, 32), (512, 256, 16), 8, 4),
    _l("melgan_256_k16s8", "melgan", (4, 256, 256), (256, 128, 16), 8, 4),
    _l("melgan_128_k4s2", "melgan", (4, 128, 2048), (128, 64, 4), 2, 1),
    _l("hifigan_512_b1", "hifigan", (1, 512, 128), (512, 256, 16), 8, 4),
    _l("hifigan_64_k4s2", "hifigan", (4, 64, 4096), (64, 32, 4), 2, 1),
    _l("hifigan_v3_k8s4", "hifigan", (4, 64, 2048), (64, 32, 8), 4, 2),
    _l("hifigan_256_f64", "hifigan", (2, 256, 128), (256, 128, 16), 8, 4, dtype="float64",
       variant="float64"),
    _l("waveglow_up", "waveglow", (1, 80, 63), (80, 80, 1024), 256),
    _l("wavegan_k25s4", "wavegan", (4, 256, 256), (256, 128, 25), 4, 11, 1),
    _l("hifigan_512_g8", "hifigan", (4, 512, 32), (512, 32, 16), 8, 4, groups=8,
       variant="groups=8"),
    # 3-D medical
    _l("unet3d_256_8", "unet3d", (1, 256, 8, 8, 8), (256, 256, 2, 2, 2), 2),
    _l("unet3d_128_16", "unet3d", (2, 128, 16, 16, 16), (128, 64, 2, 2, 2), 2),
    _l("vnet_64_32", "vnet", (1, 64, 32, 32, 32), (64, 16, 2, 2, 2), 2),
    _l("unet3d_32_f64", "unet3d", (1, 64, 16, 16, 16), (64, 32, 2, 2, 2), 2, dtype="float64",
       variant="float64"),
    _l("vnet_dw", "vnet", (1, 32, 24, 24, 24), (32, 1, 2, 2, 2), 2, groups=32,
       variant="depthwise"),
]


def geometry(layer: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """``(stride, padding, output_padding, groups, dilation)``: the positional arguments of
    ``tconv.conv_transpose`` after the bias."""
    return (layer["stride"], layer["padding"], layer["output_padding"], layer["groups"],
            layer["dilation"])


def draw_inputs(layer: dict[str, Any], rng: Any) -> tuple[Any, Any]:
    """Standard-normal ``x`` and ``w`` of the layer's shapes and dtype, drawn from ``rng``."""
    import numpy as np

    dt = np.dtype(layer["dtype"])
    return (rng.standard_normal(layer["x"]).astype(dt),
            rng.standard_normal(layer["w"]).astype(dt))


def useful_macs(layer: dict[str, Any]) -> int:
    """``N * C_in * C_out/g * prod(S_in) * prod(K)``."""
    x, w = layer["x"], layer["w"]
    return x[0] * x[1] * w[1] * math.prod(x[2:]) * math.prod(w[2:])


def output_size(layer: dict[str, Any]) -> tuple[int, ...]:
    return tuple((i - 1) * layer["stride"] - 2 * layer["padding"]
                 + layer["dilation"] * (k - 1) + layer["output_padding"] + 1
                 for i, k in zip(layer["x"][2:], layer["w"][2:]))


def sweep(count: int = 20, seed: int = 0, max_macs: int = 150_000_000) -> list[dict[str, Any]]:
    """``count`` seeded random valid layers: 1-3-D, stride 1-8, kernel 1-3x the stride (or
    odd small kernels), padding, output_padding, dilation, groups (incl. depthwise), batch
    1-16, float32 (float64 one in five), at most ``max_macs`` useful multiply-adds."""
    rng = random.Random(seed)
    layers: list[dict[str, Any]] = []
    while len(layers) < count:
        nd = rng.choice((1, 2, 2, 2, 3))
        s = rng.choice((1, 2, 2, 2, 3, 4, 8) if nd < 3 else (1, 2, 2))
        k = rng.choice((s, 2 * s, 2 * s, 3, 4, 2 * s + 1)) if nd < 3 else rng.choice((s, 2, 3, 4))
        k = max(k, 1)
        d = rng.choice((1, 1, 1, 1, 2))
        pad = rng.randint(0, (d * (k - 1)) // 2)
        op = rng.randint(0, max(s, d) - 1) if max(s, d) > 1 else 0
        kind = rng.choice(("dense", "dense", "dense", "thin_out", "depthwise", "grouped"))
        cin = rng.choice((8, 16, 32, 64, 128, 256, 512))
        if kind == "depthwise":
            g, cog = cin, 1
        elif kind == "grouped":
            g = rng.choice((2, 4, 8))
            cin = max(cin, g)
            cog = rng.choice((4, 8, 16, 32))
        elif kind == "thin_out":
            g, cog = 1, rng.choice((1, 3))
        else:
            g, cog = 1, rng.choice((16, 32, 64, 128, 256))
        n = rng.choice((1, 1, 2, 4, 8, 16))
        side = {1: rng.choice((64, 256, 1024, 4096)), 2: rng.choice((4, 8, 16, 32, 64)),
                3: rng.choice((4, 8, 16))}[nd]
        size = tuple(side for _ in range(nd))
        layer = _l(f"sweep{len(layers):02d}", "sweep", (n, cin, *size),
                   (cin, cog, *([k] * nd)), s, pad, op, g, d,
                   "float64" if rng.random() < 0.2 else "float32")
        if min(output_size(layer)) < 1:
            continue
        m = useful_macs(layer)
        if not 200_000 <= m <= max_macs:
            continue
        layers.append(layer)
    return layers
