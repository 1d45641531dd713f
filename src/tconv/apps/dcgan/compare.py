"""Compare generator up-sampling methods under one training budget.

Each variant (a method and its initialisation, :data:`VARIANTS`) trains from the same seed
on the same data for the same number of steps; then ``n_eval`` samples (one fixed set of
``z``) are scored:

* **artifact score** -- :func:`tconv.checkerboard.artifact_score`, the share of an image's
  non-DC spectral energy on the stride lattice, at stride 2 (the last up-sampling layer)
  and 4 (the last two); the same score of real training crops is the reference, and the
  score of the *untrained* generator shows what each method starts from;
* **layer amplitude** -- :func:`tconv.nn.layer_report` of the generator's last up-sampling
  layer: the relative peak-to-peak size of its response to a constant input (0: the layer
  itself cannot paint a checkerboard), before and after training;
* **patch SWD** -- sliced Wasserstein distance between the distributions of 7x7 patches of
  generated and real images (lower is closer to the data; the distance between two real
  sets is the floor).

Outputs: ``grid_<variant>.png`` per variant, ``comparison.png`` (real | each variant),
``results.json`` and ``report.md``.
"""

from __future__ import annotations

import json
import pathlib
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from .data import ImageSource, load_source
from .infer import sample, save_png, to_grid
from .model import VARIANTS, DCGANConfig
from .train import TrainConfig, build, train

__all__ = ["compare", "artifact_scores", "patch_swd", "last_layer_amplitude", "MethodResult",
           "report_markdown"]


def artifact_scores(images: torch.Tensor, strides: tuple[int, ...] = (2, 4),
                    ) -> dict[int, tuple[float, float]]:
    """Mean and standard deviation over images (and channels) of the artifact score."""
    from tconv.checkerboard import artifact_score

    x = images.detach().cpu().double().numpy()
    out = {}
    for s in strides:
        sc = np.asarray(artifact_score(x, s))
        out[s] = (float(sc.mean()), float(sc.std()))
    return out


def patch_swd(a: torch.Tensor, b: torch.Tensor, patch: int = 7, n_patches: int = 8192,
              n_proj: int = 256, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between the ``patch x patch`` patches of two image sets.

    Random unit directions project both patch sets to 1-D, where the Wasserstein distance is
    the mean gap between sorted values; the result averages the directions.
    """
    g = torch.Generator().manual_seed(seed)

    def patches(x: torch.Tensor) -> torch.Tensor:
        p = F.unfold(x.double(), patch)                       # (N, C*p*p, L)
        p = p.transpose(1, 2).reshape(-1, p.shape[1])         # (N*L, C*p*p)
        return p[torch.randint(len(p), (n_patches,), generator=g)]

    pa, pb = patches(a), patches(b)
    dirs = torch.randn(pa.shape[1], n_proj, generator=g, dtype=torch.float64)
    dirs /= dirs.norm(dim=0, keepdim=True)
    qa = (pa @ dirs).sort(dim=0).values
    qb = (pb @ dirs).sort(dim=0).values
    return float((qa - qb).abs().mean())


def last_layer_amplitude(generator: torch.nn.Module) -> float:
    """Mean over channels of ``layer_report(last Upsample).amplitude`` (0: no checkerboard)."""
    from tconv.nn import Upsample, layer_report

    last = [m for m in generator.modules() if isinstance(m, Upsample)][-1]
    return float(np.mean(layer_report(last).amplitude))


@dataclass
class MethodResult:
    variant: str
    method: str
    init: str
    params_g: int
    steps: int
    seconds: float
    loss_d: float
    loss_g: float
    artifact_s2: float
    artifact_s2_sd: float
    artifact_s4: float
    artifact_init_s2: float
    amplitude_init: float
    amplitude: float
    swd: float
    grid: str


def compare(variants: list[str], model_cfg: DCGANConfig, cfg: TrainConfig,
            out_dir: str | pathlib.Path, n_eval: int = 256, source: ImageSource | None = None,
            log=print) -> tuple[list[MethodResult], dict[str, float]]:
    """Train one DCGAN per method with the same budget; score and picture the samples.

    Args:
        variants: labels of :data:`VARIANTS` (``"transposed"``, ``"pixel_shuffle_icnr"`` ...).
        model_cfg: the architecture (its ``method`` and ``init`` are replaced per run).
        cfg: training budget (its ``out_dir`` becomes ``out_dir/<variant>``).
        out_dir: report folder.
        n_eval: samples scored per method (and real crops for the references).

    Returns:
        per-method results, and the real-data references (``artifact_s2``, ``artifact_s4``,
        ``swd`` between two real sets).
    """
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"dcgan compare: unknown variants {unknown}; choose from "
                         f"{', '.join(VARIANTS)}")
    out = pathlib.Path(out_dir)
    if source is None:
        source = load_source(cfg.data, model_cfg.image_size, model_cfg.channels,
                             cfg.shrink_to)
    real = source.preview(n_eval, seed=10_000 + cfg.seed)
    real2 = source.preview(n_eval, seed=20_000 + cfg.seed)
    ref_art = artifact_scores(real)
    reference = {"artifact_s2": ref_art[2][0], "artifact_s4": ref_art[4][0],
                 "swd": patch_swd(real, real2)}
    log(f"{'real data':>14}: artifact s=2 {reference['artifact_s2']:.4f}  s=4 "
        f"{reference['artifact_s4']:.4f}  patch SWD real-vs-real {reference['swd']:.4f}")
    z = torch.randn(n_eval, model_cfg.latent_dim,
                    generator=torch.Generator().manual_seed(30_000 + cfg.seed))
    columns = [("real", real[:64])]
    results = []
    for m in variants:
        method, init = VARIANTS[m]
        mcfg = replace(model_cfg, method=method, init=init)
        g0, _ = build(mcfg, cfg.seed)
        init_art = artifact_scores(sample(g0, 0, z=z), (2,))[2][0]
        init_amp = last_layer_amplitude(g0)
        t0 = time.perf_counter()
        res = train(mcfg, replace(cfg, out_dir=str(out / m)), source=source)
        seconds = time.perf_counter() - t0
        fake = sample(res.generator, 0, z=z)
        art = artifact_scores(fake)
        grid = save_png(to_grid(fake[:64]), out / f"grid_{m}.png", scale=2)
        tail = res.history[-100:]
        params = sum(p.numel() for p in res.generator.parameters())
        r = MethodResult(m, method, init, params, cfg.steps, seconds,
                         float(np.mean([h[1] for h in tail])),
                         float(np.mean([h[2] for h in tail])), art[2][0], art[2][1],
                         art[4][0], init_art, init_amp,
                         last_layer_amplitude(res.generator), patch_swd(fake, real), grid.name)
        results.append(r)
        columns.append((m, fake[:64]))
        log(f"{m:>14}: artifact s=2 {r.artifact_s2:.4f} (untrained {init_art:.4f})  s=4 "
            f"{r.artifact_s4:.4f}  last-layer amplitude {r.amplitude_init:.3f} -> "
            f"{r.amplitude:.3f}  patch SWD {r.swd:.4f}  ({seconds:.0f} s)")
    save_png(_side_by_side(columns), out / "comparison.png", scale=2)
    (out / "results.json").write_text(json.dumps(
        {"reference": reference, "results": [asdict(r) for r in results]}, indent=2))
    (out / "report.md").write_text(report_markdown(results, reference, model_cfg, cfg, n_eval))
    return results, reference


def _side_by_side(columns: list[tuple[str, torch.Tensor]]) -> np.ndarray:
    from PIL import Image, ImageDraw

    tiles = []
    for name, imgs in columns:
        g = to_grid(imgs, nrow=8)
        g = np.repeat(g, 3, axis=2) if g.shape[2] == 1 else g
        strip = Image.new("RGB", (g.shape[1], 12), (255, 255, 255))
        ImageDraw.Draw(strip).text((2, 0), name, fill=(0, 0, 0))
        tiles.append(np.concatenate([np.asarray(strip), g], axis=0))
        tiles.append(np.full((tiles[-1].shape[0], 6, 3), 255, dtype=np.uint8))
    return np.concatenate(tiles[:-1], axis=1)


def report_markdown(results: list[MethodResult], reference: dict[str, float],
                    model_cfg: DCGANConfig, cfg: TrainConfig, n_eval: int) -> str:
    """The comparison as a markdown table."""
    lines = [
        f"Setup: data={cfg.data} image_size={model_cfg.image_size} "
        f"channels={model_cfg.channels} latent={model_cfg.latent_dim} "
        f"g_features={model_cfg.g_features} d_features={model_cfg.d_features}; "
        f"steps={cfg.steps} batch={cfg.batch_size} lr={cfg.lr} beta1={cfg.beta1} "
        f"seed={cfg.seed}; {n_eval} samples scored per method.",
        "",
        "| generator up-sampling (variant) | init | G params | steps | train s | D loss | G loss "
        "| artifact s=2 (untrained) | artifact s=2 | artifact s=4 "
        "| last-layer amplitude (untrained -> trained) | patch SWD | grid |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| real data (reference) | - | - | - | - | - | - | - | {reference['artifact_s2']:.4f} | "
        f"{reference['artifact_s4']:.4f} | - | {reference['swd']:.4f} (real vs real) | - |",
    ]
    for r in results:
        lines.append(
            f"| {r.variant} | {r.init} | {r.params_g} | {r.steps} | {r.seconds:.0f} | "
            f"{r.loss_d:.3f} | "
            f"{r.loss_g:.3f} | {r.artifact_init_s2:.4f} | **{r.artifact_s2:.4f}** "
            f"(sd {r.artifact_s2_sd:.4f}) | {r.artifact_s4:.4f} | {r.amplitude_init:.3f} -> "
            f"{r.amplitude:.3f} | {r.swd:.4f} | {r.grid} |")
    return "\n".join(lines + [""])
