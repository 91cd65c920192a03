"""Block memory: the server's cost estimate against what one real block takes, and the blocks it would choose.

For a model shape (Llama-3-8B by default, random weights built from the config, nothing downloaded):
  1. free memory as the server reads it (NVML per GPU, or available RAM), the usable part after the
     reserve, and the blocks `meadow serve` without --blocks would take (core/server/sizing.py);
  2. one block in the float dtype, then quantized to int8 and to nf4 with bitsandbytes
     (core/server/quantize.py): core/server/block_cost.py's estimate against the memory it really holds
     (on CUDA: torch.cuda.memory_allocated before and after; on CPU: the tensors' storage), with the peak
     while quantizing;
  3. the attention cache of one session of server.max_length tokens in the server's own cache layer.
Each line ends with the estimate/real ratio. `--json FILE` writes the same figures.

    python bench/block_memory.py                      # CUDA when present, else CPU
    python bench/block_memory.py --device cpu --shape small
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from transformers import LlamaConfig

from core.config import Settings
from core.dtypes import FLOAT_DTYPES
from core.models import family_for
from core.models.layout import model_layout
from core.models.source import ModelSource
from core.server.block_cost import block_cost, kv_bytes_per_token, kv_heads_and_dim
from core.server.loading import ModelPlan, open_device
from core.server.preallocated_cache import PreallocatedLayer
from core.server.quantize import module_bytes, quantize_block
from core.server.resources import gpu_free_bytes
from core.server.sizing import fit

SHAPES: dict[str, dict[str, Any]] = {
    "llama3-8b": {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                      "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 8192,
                      "rope_theta": 500000.0},
    "small": {"hidden_size": 512, "intermediate_size": 1408, "num_hidden_layers": 4, "num_attention_heads": 8,
                  "num_key_value_heads": 2, "vocab_size": 1000},
}
MIB = 2**20


class Memory:
    """Bytes a device holds since `settle()` and its peak: the CUDA allocator's counters; on CPU, the bytes
    the caller counted in the tensors it made (CPU has no allocator counters to read)."""

    def __init__(self, device: torch.device):
        self.device = device

    def settle(self) -> int:
        gc.collect()
        if self.device.type != "cuda":
            return 0
        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        return torch.cuda.memory_allocated(self.device)

    def held(self, before: int, counted: int) -> tuple[int, int | None]:
        """(bytes held since `before`, peak since `before` or None on CPU)."""
        if self.device.type != "cuda":
            return counted, None
        torch.cuda.synchronize(self.device)
        return (torch.cuda.memory_allocated(self.device) - before,
                torch.cuda.max_memory_allocated(self.device) - before)


def sizing(config: LlamaConfig, dtype: str, device: torch.device, settings: Settings) -> dict[str, Any]:
    plan = ModelPlan(ModelSource("bench-shape", Path(".")), model_layout(config, family_for(config)), dtype, device)
    chosen = fit(plan, settings)
    return {"gpu_free_bytes": gpu_free_bytes(), "usable_bytes": chosen.usable_bytes,
            "block_bytes": chosen.cost.total_bytes, "blocks_chosen": chosen.blocks,
            "blocks_that_would_fit": chosen.usable_bytes // chosen.cost.total_bytes, "num_blocks": plan.num_blocks}


def one_block(config: LlamaConfig, dtype: str, quantization: str, device: torch.device) -> dict[str, Any]:
    family = family_for(config)
    torch.manual_seed(0)
    block = family.build_block(config, 0, 0).to(FLOAT_DTYPES[dtype]).eval()
    memory = Memory(device)
    before = memory.settle()
    started = time.perf_counter()
    with torch.no_grad():
        block = block.to(device) if quantization == "none" else quantize_block(block, quantization, device)
    counted = module_bytes(block)
    held, peak = memory.held(before, counted)
    estimate = block_cost(family, config, dtype, quantization, cache_tokens=0).weight_bytes
    result = {"quantization": quantization, "estimate_bytes": estimate, "real_bytes": held,
              "peak_bytes": peak, "module_bytes": counted, "seconds": time.perf_counter() - started,
              "ratio": estimate / held}
    del block
    return result


def attention_cache(config: LlamaConfig, dtype: str, device: torch.device, tokens: int) -> dict[str, Any]:
    heads, head_dim = kv_heads_and_dim(config)
    memory = Memory(device)
    before = memory.settle()
    layer = PreallocatedLayer(tokens)
    step = torch.zeros(1, heads, 1, head_dim, dtype=FLOAT_DTYPES[dtype], device=device)
    layer.update(step, step.clone())
    buffers = layer.keys.untyped_storage().nbytes() + layer.values.untyped_storage().nbytes()  # views of them
    held, _ = memory.held(before, buffers)
    if device.type == "cuda":
        held -= 2 * step.untyped_storage().nbytes()  # the two one-token inputs, not part of the cache
    estimate = tokens * kv_bytes_per_token(config, dtype)
    return {"tokens": tokens, "estimate_bytes": estimate, "real_bytes": held, "ratio": estimate / held}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="llama3-8b")
    parser.add_argument("--dtype", choices=sorted(FLOAT_DTYPES), default="bfloat16")
    parser.add_argument("--quantizations", default="none,int8,nf4")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    device = open_device(args.device)  # as the server does: the CUDA context exists before sizing
    config = LlamaConfig(**SHAPES[args.shape])
    settings = Settings.load([], path=Path("/nonexistent/meadow-bench-settings.json"))  # the defaults
    import bitsandbytes

    report: dict[str, Any] = {"device": str(device), "shape": args.shape, "dtype": args.dtype,
                              "torch": torch.__version__, "bitsandbytes": bitsandbytes.__version__,
                              "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                              "vram_reserve_gb": settings["server.vram_reserve_gb"],
                              "max_length": settings["server.max_length"]}
    report["sizing"] = sizing(config, args.dtype, device, settings)
    s = report["sizing"]
    free = ", ".join(f"{b / 2**30:.1f} GiB" for b in s["gpu_free_bytes"]) or "no NVIDIA GPU"
    print(f"{args.shape} in {args.dtype} on {device} ({report['gpu'] or 'CPU'}); NVML free: {free}")
    print(f"usable {s['usable_bytes'] / 2**30:.1f} GiB, {s['block_bytes'] / MIB:.0f} MiB per block with a "
          f"{report['max_length']}-token cache: {s['blocks_chosen']} of {s['num_blocks']} blocks chosen "
          f"({s['blocks_that_would_fit']} would fit)")
    report["blocks"] = []
    for quantization in args.quantizations.split(","):
        row = one_block(config, args.dtype, quantization, device)
        report["blocks"].append(row)
        peak = f", peak {row['peak_bytes'] / MIB:.1f} MiB" if row["peak_bytes"] is not None else ""
        print(f"block {quantization:>4}: estimate {row['estimate_bytes'] / MIB:8.2f} MiB, real "
              f"{row['real_bytes'] / MIB:8.2f} MiB{peak}, {row['seconds']:.2f} s; estimate/real = {row['ratio']:.4f}")
    report["cache"] = attention_cache(config, args.dtype, device, settings["server.max_length"])
    c = report["cache"]
    print(f"cache {c['tokens']} tokens: estimate {c['estimate_bytes'] / MIB:.2f} MiB, real "
          f"{c['real_bytes'] / MIB:.2f} MiB; estimate/real = {c['ratio']:.4f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
