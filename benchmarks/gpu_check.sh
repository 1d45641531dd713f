#!/usr/bin/env bash
# GPU-only checks of the training commands, for whenever a CUDA machine is at hand.
#
#   bash benchmarks/gpu_check.sh            # checks 1-5, a few minutes on one GPU
#   GPU_CHECK_TRAIN=1 bash benchmarks/gpu_check.sh   # also 6: the long up-scaler runs
#
# 1. CUDA matches the CPU: each command trains 5 steps on the CPU and on CUDA from the same
#    seed; the weights agree within 1e-3 (relative to their scale; cuDNN picks other
#    summation orders, so not bit for bit).
# 2. --amp trains: 30 steps in float16 autocast + GradScaler give a finite, lower loss.
# 3. Checkpoints cross devices: a CUDA checkpoint resumes on the CPU and the other way.
# 4. Throughput: optimizer steps per second of train-upscaler (batch 32, 24x24 patches) on
#    the CPU (1 thread), on CUDA, and on CUDA with --amp.
# 5. With 2+ GPUs: torchrun --nproc_per_node=2 (NCCL, SyncBatchNorm) equals 1 GPU with the
#    same global batch, within 1e-3, for all three commands.
# 6. (GPU_CHECK_TRAIN=1) the stronger shipped-model candidates: x2/x3/x4 up-scalers trained
#    on the scikit-image photos (the data the package can ship) for 200000 steps, evaluated
#    by eval-upscaler on the held-out photos (gain over PIL bicubic per scale).
#
# Exit status 0 when every check passes; prints SKIP and exits 0 without a CUDA device.
set -euo pipefail
PY=${PYTHON:-python}
OUT=${GPU_CHECK_OUT:-$(mktemp -d)}
export TQDM_DISABLE=1

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null
then
    echo "SKIP: $PY has no torch, or torch sees no CUDA device"
    exit 0
fi
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name(0), '| torch', torch.__version__, '| GPUs', torch.cuda.device_count())"
echo "output folder: $OUT"

# small, deterministic runs of each command (DATA: a folder of generated photos and masks)
"$PY" - "$OUT" <<'EOF'
import pathlib, sys
import numpy as np
from PIL import Image
root = pathlib.Path(sys.argv[1]) / "data"
(root / "photos").mkdir(parents=True, exist_ok=True)
(root / "images").mkdir(exist_ok=True)
(root / "masks").mkdir(exist_ok=True)
rng = np.random.default_rng(0)
r, c = np.mgrid[0:128, 0:128]
for i in range(8):
    img = 128 + 90 * np.sin(r / rng.uniform(3, 12)) * np.cos(c / rng.uniform(3, 12))
    rgb = np.clip(np.stack([img, img[::-1], img[:, ::-1]], -1) + rng.normal(0, 5, (128, 128, 3)), 0, 255)
    Image.fromarray(rgb.astype(np.uint8)).save(root / "photos" / f"p{i}.png")
    m = np.zeros((64, 64), np.uint8)
    r0, c0 = rng.integers(0, 32, 2)
    m[r0:r0 + 32, c0:c0 + 32] = 1 + i % 2
    im = np.repeat(m[..., None] * 90.0 + 20, 3, -1) + rng.normal(0, 5, (64, 64, 3))
    Image.fromarray(np.clip(im, 0, 255).astype(np.uint8)).save(root / "images" / f"s{i}.png")
    Image.fromarray(m).save(root / "masks" / f"s{i}.png")
EOF
D="$OUT/data"
UP=(train-upscaler --scale 2 --data "$D/photos" --batch 8 --patch 16 --eval-every 0 --no-progress)
GAN=(dcgan train --data "$D/photos" --batch-size 8 --sample-every 0 --no-progress)
SEG=(segment train --images "$D/images" --masks "$D/masks" --size 64 --batch-size 8 --no-progress)

compare() {  # compare DIR_A DIR_B TOLERANCE
    "$PY" - "$1" "$2" "$3" <<'EOF'
import sys, torch
a, b, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
sa = torch.load(a + "/checkpoint.pt", map_location="cpu", weights_only=True)
sb = torch.load(b + "/checkpoint.pt", map_location="cpu", weights_only=True)
worst = 0.0
for net in ("model", "generator", "discriminator"):
    if net in sa:
        for k, t in sa[net].items():
            if t.is_floating_point():
                u = sb[net][k]
                worst = max(worst, float((t - u).abs().max() / t.abs().max().clamp_min(1e-6)))
print(f"  max relative difference {worst:.2e} (tolerance {tol:g})")
sys.exit(0 if worst <= tol else 1)
EOF
}

echo "== 1. CUDA matches the CPU (5 steps)"
for cmd in UP GAN SEG; do
    declare -n args=$cmd
    "$PY" -m tconv "${args[@]}" --steps 5 --device cpu --out "$OUT/c1-$cmd-cpu" >/dev/null
    "$PY" -m tconv "${args[@]}" --steps 5 --device cuda --out "$OUT/c1-$cmd-cuda" >/dev/null
    echo "$cmd:"; compare "$OUT/c1-$cmd-cpu" "$OUT/c1-$cmd-cuda" 1e-3
done

echo "== 2. --amp trains (30 steps)"
for cmd in UP GAN SEG; do
    declare -n args=$cmd
    "$PY" -m tconv "${args[@]}" --steps 30 --device cuda --amp --out "$OUT/c2-$cmd" >/dev/null
    "$PY" - "$OUT/c2-$cmd/checkpoint.pt" <<'EOF'
import math, sys, torch
st = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
h = st["history"]
loss = [x["loss"] if isinstance(x, dict) else x[1] for x in h]
assert "scaler" in st, "no GradScaler state in an --amp checkpoint"
if len(loss) >= 2:
    print(f"  loss {loss[0]:.4g} -> {loss[-1]:.4g}")
    assert all(math.isfinite(v) for v in loss)
print("  ok")
EOF
done

echo "== 3. checkpoints cross devices"
for cmd in UP GAN SEG; do
    declare -n args=$cmd
    "$PY" -m tconv "${args[@]}" --steps 3 --device cuda --out "$OUT/c3-$cmd" >/dev/null
    "$PY" -m tconv "${args[@]}" --steps 6 --device cpu --resume --out "$OUT/c3-$cmd" >/dev/null
    "$PY" -m tconv "${args[@]}" --steps 9 --device cuda --resume --out "$OUT/c3-$cmd" >/dev/null
    echo "  $cmd: cuda -> cpu -> cuda ok"
done

echo "== 4. throughput of train-upscaler (steps/s, batch 32, 24x24 LR patches, 200 steps)"
for dev in "cpu" "cuda" "cuda --amp"; do
    rm -rf "$OUT/c4"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$PY" -m tconv train-upscaler --scale 2 --steps 200 --batch 32 --eval-every 0 \
        --checkpoint-every 0 --no-progress --device $dev --out "$OUT/c4" >/dev/null
    end=$(date +%s.%N)
    "$PY" -c "print(f'  {\"$dev\":12s} {200 / ($end - $start):8.1f} steps/s (start-up included)')"
done

if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.device_count() >= 2 else 1)"; then
    echo "== 5. 2 GPUs (torchrun, NCCL) equal 1 GPU, same global batch"
    for cmd in UP GAN SEG; do
        declare -n args=$cmd
        "$PY" -m tconv "${args[@]}" --steps 5 --device cuda --out "$OUT/c5-$cmd-1" >/dev/null
        torchrun --standalone --nproc_per_node=2 -m tconv "${args[@]}" --steps 5 \
            --device cuda --out "$OUT/c5-$cmd-2" >/dev/null 2>&1
        echo "$cmd:"; compare "$OUT/c5-$cmd-1" "$OUT/c5-$cmd-2" 1e-3
    done
else
    echo "== 5. SKIP: fewer than 2 GPUs"
fi

if [[ "${GPU_CHECK_TRAIN:-0}" == "1" ]]; then
    echo "== 6. stronger up-scaler candidates (scikit-image photos, 200000 steps each)"
    for s in 2 3 4; do
        "$PY" -m tconv train-upscaler --scale "$s" --steps 200000 --batch 64 --smooth-frac 0.1 \
            --balance-phases --eval-every 20000 --device cuda --amp --no-progress \
            --out "$OUT/c6-x$s"
    done
    echo "  evaluate each with: tconv eval-upscaler --scales S (weights: OUT/c6-xS/weights.npz)"
fi
echo "all GPU checks passed"
