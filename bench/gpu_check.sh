#!/usr/bin/env bash
# The checks that need a real NVIDIA GPU, as one run on a lent GPU machine (no internet there).
#
#   bash bench/gpu_check.sh prepare     # here: our pinned transformers, gguf and bitsandbytes wheels into .whl/
#   bash bench/gpu_check.sh run         # there, with .whl carried along; figures go to $OUT (or ./gpu-check)
#
# What it reports: nvidia-smi's view; free VRAM read through NVML by core/server/resources.py and the blocks
# `meadow serve` would choose for a Llama-3-8B-shaped model in bf16; one real block in bf16, int8 and nf4
# (bitsandbytes) against block_cost's estimate (bench/block_memory.py); the cache of one session; and NVML's
# per-process VRAM and graphics-process listing as the node and the pause detectors read them.
# The wheels (about 57 MB) and the checkout must stay under the 64 MiB a call may carry: hivemind is not
# needed, nothing here imports it.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS="transformers==5.24.0 gguf==0.19.0 bitsandbytes==0.50.2"

if [ "${1:-}" = prepare ]; then
  rm -rf .whl && mkdir -p .whl
  for p in $WHEELS; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform any -d .whl "$p"
  done
  du -sh .whl
  exit 0
fi
[ "${1:-}" = run ] || { echo "usage: $0 prepare|run" >&2; exit 2; }

set +e  # each part reports on its own; the exit status says whether any failed
failed=0
out="${OUT:-$PWD/gpu-check}"
mkdir -p "$out"
site=/tmp/meadow-gpu-site
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" .whl/*.whl
export PYTHONPATH="$site:$PWD" MEADOW_HOME="$(mktemp -d)"
if ! python3 -c "import transformers" 2>"$out/transformers-import.txt"; then
  echo "our transformers does not import with this machine's packages; using the machine's own" | tee -a "$out/notes.txt"
  rm -rf "$site"/transformers "$site"/transformers-*
fi
python3 -c "import torch, transformers, bitsandbytes; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'transformers', transformers.__version__, 'bitsandbytes', bitsandbytes.__version__)" | tee "$out/versions.txt"
nvidia-smi --query-gpu=name,memory.total,memory.used,memory.free,driver_version --format=csv | tee "$out/nvidia-smi.csv"

python3 bench/block_memory.py --device cuda --json "$out/block_memory.json" 2>&1 | tee "$out/block_memory.txt" || failed=1

python3 - <<'EOF' 2>&1 | tee "$out/nvml.txt"
import os
import torch
from core.nvml import process_gpu_bytes
from core.pause.gpu import GraphicsProcessDetector
from core.server.resources import gpu_free_bytes

before = gpu_free_bytes()
tensor = torch.empty(4 * 2**30, dtype=torch.uint8, device="cuda")
torch.cuda.synchronize()
after = gpu_free_bytes()
print("NVML free before/after a 4 GiB tensor (GiB):", [round(b / 2**30, 2) for b in before],
      [round(b / 2**30, 2) for b in after])
print("NVML bytes used by this process (GiB):", (process_gpu_bytes({os.getpid()}) or 0) / 2**30,
      "(None or 0 where the container hides pids from NVML)")
print("graphics-process detector:", GraphicsProcessDetector().detect())
EOF
[ "${PIPESTATUS[0]}" = 0 ] || failed=1
exit $failed
