"""Evaluate segmentation: mean IoU on a held-out split, pictures, and a method comparison.

IoU of class ``k`` over a whole split is ``TP_k / (TP_k + FP_k + FN_k)`` summed over all
pixels of all images (the PASCAL VOC convention); mean IoU averages the classes that occur
in the ground truth or the prediction. Checkerboard artifacts of a decoder are measured on
its class-probability maps with :func:`tconv.checkerboard.artifact_score` at the decoder's
last stride (2), and on its layers with :func:`tconv.nn.layer_report` (relative amplitude
of each up-sampling layer's response to a constant input; 0 = cannot paint a checkerboard).
"""

from __future__ import annotations

import json
import pathlib
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from .data import IGNORE, SegData, colorize
from .model import FCN, VARIANTS, SegConfig
from .train import TrainConfig, load_data, train

__all__ = ["predict", "confusion_matrix", "iou_per_class", "evaluate", "Evaluation",
           "prediction_panel", "compare", "CompareResult", "decoder_amplitude"]


@torch.no_grad()
def predict(model: FCN, images: np.ndarray, batch_size: int = 32,
            ) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``(N, H, W)`` int64 and softmax probabilities ``(N, K, H, W)`` float32."""
    model.eval()
    labels, probs = [], []
    for i in range(0, len(images), batch_size):
        p = torch.softmax(model(torch.from_numpy(images[i:i + batch_size])), dim=1)
        probs.append(p.numpy())
        labels.append(p.argmax(1).numpy())
    return np.concatenate(labels), np.concatenate(probs)


def confusion_matrix(pred: np.ndarray, true: np.ndarray, num_classes: int) -> np.ndarray:
    """``(K, K)`` pixel counts, rows = true class, columns = predicted class.

    Examples:
        >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), 2)
        array([[1, 1],
               [0, 1]])
    """
    idx = np.asarray(true).ravel() * num_classes + np.asarray(pred).ravel()
    return np.bincount(idx, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def iou_per_class(conf: np.ndarray) -> np.ndarray:
    """IoU of each class from a confusion matrix; NaN where a class is absent from both.

    Examples:
        >>> iou_per_class(np.array([[1, 1], [0, 1]]))
        array([0.5, 0.5])
    """
    tp = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def decoder_amplitude(model: FCN) -> float:
    """Mean over the decoder's up-sampling layers (and channels) of the relative amplitude of
    their constant-input response (:func:`tconv.nn.layer_report`); 0 for fixed resizes."""
    from tconv.nn import layer_report

    return float(np.mean([np.mean(layer_report(up).amplitude) for up in model.up]))


@dataclass
class Evaluation:
    mean_iou: float
    iou: dict[str, float | None]
    pixel_accuracy: float
    artifact_score: float          # mean over images and classes, stride 2
    predictions: np.ndarray        # (N, H, W) labels

    def summary(self) -> dict[str, object]:
        """Everything but the predictions (JSON-ready)."""
        d = asdict(self)
        d.pop("predictions")
        return d


def evaluate(model: FCN, data: SegData, batch_size: int = 32) -> Evaluation:
    """Mean IoU, IoU per class, pixel accuracy and the probability maps' artifact score."""
    from tconv.checkerboard import artifact_score

    pred, probs = predict(model, data.images, batch_size)
    k = model.cfg.num_classes
    scored = data.masks != IGNORE                 # 255 = ignore (Pascal VOC)
    iou = iou_per_class(confusion_matrix(pred[scored], data.masks[scored], k))
    names = list(data.classes) + [f"class{i}" for i in range(len(data.classes), k)]
    return Evaluation(
        mean_iou=float(np.nanmean(iou)),
        iou={names[i]: (None if np.isnan(v) else float(v)) for i, v in enumerate(iou)},
        pixel_accuracy=float((pred == data.masks)[scored].mean()) if scored.any() else 0.0,
        artifact_score=float(np.mean(artifact_score(probs, 2))),
        predictions=pred)


def _label(picture: np.ndarray, text: str, height: int = 14) -> np.ndarray:
    """Put a white strip with ``text`` above an RGB uint8 picture (Pillow's default font)."""
    from PIL import Image, ImageDraw

    strip = Image.new("RGB", (picture.shape[1], height), (255, 255, 255))
    ImageDraw.Draw(strip).text((2, 1), text, fill=(0, 0, 0))
    return np.concatenate([np.asarray(strip), picture], axis=0)


def prediction_panel(data: SegData, predictions: dict[str, np.ndarray], n: int = 6,
                     scale: int = 2, pad: int = 2) -> np.ndarray:
    """uint8 RGB picture: one row per image; columns input, truth, then each prediction."""
    cols = [("input", (data.images[:n].transpose(0, 2, 3, 1) * 255 + 0.5).astype(np.uint8)),
            ("truth", colorize(data.masks[:n]))]
    cols += [(name, colorize(p[:n])) for name, p in predictions.items()]
    columns = []
    for name, stack in cols:
        tiles = [np.pad(np.repeat(np.repeat(t, scale, 0), scale, 1),
                        ((pad, pad), (pad, pad), (0, 0)), constant_values=255) for t in stack]
        column = np.concatenate(tiles, axis=0)
        width = max(column.shape[1], 7 * len(name) + 4)
        column = np.pad(column, ((0, 0), (0, width - column.shape[1]), (0, 0)),
                        constant_values=255)
        columns.append(_label(column, name))
    return np.concatenate(columns, axis=1)


@dataclass
class CompareResult:
    variant: str
    method: str
    init: str
    params: int
    steps: int
    seconds: float
    final_loss: float
    mean_iou: float
    pixel_accuracy: float
    artifact_score: float
    amplitude_init: float
    amplitude: float
    iou: dict[str, float | None]


def compare(variants: list[str], model_kwargs: dict[str, object], cfg: TrainConfig,
            out_dir: str | pathlib.Path, n_test: int = 200, log=print,
            ) -> list[CompareResult]:
    """Train one FCN per decoder variant with the same budget and data; evaluate each on the
    held-out split; write ``report.md``, ``results.json`` and ``predictions.png``.

    Args:
        variants: labels of :data:`VARIANTS`.
        model_kwargs: other :class:`SegConfig` fields (width, depth, num_classes ...).
        cfg: the training budget (its ``out_dir`` is replaced by ``out_dir/<variant>``).
        out_dir: report folder.
        n_test: held-out images (generated data).
    """
    from ..dcgan.infer import save_png

    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"segment compare: unknown variants {unknown}; choose from "
                         f"{', '.join(VARIANTS)}")
    out = pathlib.Path(out_dir)
    train_data = load_data(cfg, "train")
    test_data = load_data(cfg, "test", n=n_test)
    results, preds = [], {}
    for v in variants:
        mcfg = SegConfig.from_variant(v, **model_kwargs)
        torch.manual_seed(cfg.seed)
        amp0 = decoder_amplitude(FCN(mcfg))           # the same init train() starts from
        t0 = time.perf_counter()
        res = train(mcfg, replace(cfg, out_dir=str(out / v)), data=train_data, label=v)
        seconds = time.perf_counter() - t0
        ev = evaluate(res.model, test_data)
        preds[v] = ev.predictions
        last = [loss for _, loss in res.history[-50:]]
        r = CompareResult(v, mcfg.method, mcfg.init,
                          sum(p.numel() for p in res.model.parameters()), cfg.steps, seconds,
                          float(np.mean(last)), ev.mean_iou, ev.pixel_accuracy,
                          ev.artifact_score, amp0, decoder_amplitude(res.model), ev.iou)
        results.append(r)
        log(f"{v:>20}: mIoU {r.mean_iou:.3f}  pixel acc {r.pixel_accuracy:.3f}  artifact "
            f"{r.artifact_score:.4f}  decoder amplitude {amp0:.3f} -> {r.amplitude:.3f}  "
            f"({seconds:.0f} s)")
    save_png(prediction_panel(test_data, preds), out / "predictions.png")
    (out / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    (out / "report.md").write_text(report_markdown(results, cfg, model_kwargs, n_test))
    return results


def report_markdown(results: list[CompareResult], cfg: TrainConfig,
                    model_kwargs: dict[str, object], n_test: int) -> str:
    """A markdown table of :func:`compare` results."""
    classes = list(results[0].iou) if results else []
    head = ("| decoder up-sampling | method | init | params | steps | train s | final loss "
            "| mean IoU | pixel acc | artifact score (probs, s=2) "
            "| decoder amplitude (untrained -> trained) | "
            + " | ".join(f"IoU {c}" for c in classes) + " |")
    rule = "|" + "---|" * (11 + len(classes))
    rows = []
    for r in results:
        ious = " | ".join("-" if r.iou[c] is None else f"{r.iou[c]:.3f}" for c in classes)
        rows.append(f"| {r.variant} | {r.method} | {r.init} | {r.params} | {r.steps} | "
                    f"{r.seconds:.0f} | {r.final_loss:.3f} | **{r.mean_iou:.3f}** | "
                    f"{r.pixel_accuracy:.3f} | {r.artifact_score:.4f} | "
                    f"{r.amplitude_init:.3f} -> {r.amplitude:.3f} | {ious} |")
    setup = (f"data={cfg.data} size={cfg.size} n_train={cfg.n_train} n_test={n_test} "
             f"data_seed={cfg.data_seed}; steps={cfg.steps} batch={cfg.batch_size} "
             f"lr={cfg.lr} seed={cfg.seed}; model {model_kwargs}")
    return "\n".join([f"Setup: {setup}", "", head, rule, *rows, ""])
