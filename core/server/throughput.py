"""This server's throughput, in tokens/s per block: measured compute speed, capped by estimated network speed.

Compute: timed one-token inference steps through one loaded block, cached per device, model and dtype in
MEADOW_HOME (written atomically; many servers may share it). Network: no internet speed test; the link
speed the OS reports for the fastest active interface (or a setting), in hidden states per second.
"""
from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import torch

from core.paths import meadow_home, write_atomically
from core.server.blocks import BlockSpan

logger = logging.getLogger(__name__)
DEFAULT_NETWORK_MBPS = 100.0  # when the OS reports no link speed (Wi-Fi, VMs, loopback)


@dataclass(frozen=True)
class Throughput:
    compute: float
    network: float

    @property
    def effective(self) -> float:
        return min(self.compute, self.network)


def cache_path() -> Path:
    return meadow_home() / "cache" / "throughput.json"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{_cpu_model()}:{torch.get_num_threads()}threads"


def compute_throughput(span: BlockSpan, model: str, budget_s: float = 0.3) -> float:
    """One-token steps/s through one block; measured once per device, model, dtype and quantization, then cached."""
    key = f"{device_name(span.device)}|{model}|{str(span.dtype).removeprefix('torch.')}"
    if span.quantization != "none":
        key += f"|{span.quantization}"
    cached = _read_cache().get(key)
    if isinstance(cached, (int, float)) and cached > 0:
        return float(cached)
    value = measure_steps_per_second(span, budget_s)
    entries = _read_cache()
    entries[key] = value
    write_atomically(cache_path(), json.dumps(entries, indent=1, sort_keys=True).encode())
    logger.info("Measured %.1f steps/s per block on %s", value, key)
    return value


def measure_steps_per_second(span: BlockSpan, budget_s: float, max_steps: int = 64) -> float:
    """Time one-token steps with a growing cache through the span's first block, for about `budget_s`."""
    cache = span.new_cache()
    hidden = torch.randn(1, 1, span.hidden_size, generator=torch.Generator().manual_seed(0)).to(span.dtype) * 0.1
    block = (span.start, span.start + 1)
    for position in range(2):  # warm-up: kernels, allocator
        span.forward(hidden, *block, cache, position)
    _synchronize(span.device)
    steps, started = 0, time.perf_counter()
    while steps < max_steps and (steps < 4 or time.perf_counter() - started < budget_s):
        span.forward(hidden, *block, cache, 2 + steps)
        steps += 1
    _synchronize(span.device)
    return steps / max(time.perf_counter() - started, 1e-9)


def network_throughput(hidden_size: int, dtype_bytes: float, mbps: float = 0.0) -> float:
    """Tokens/s the network carries: each token's hidden state comes in and goes out once."""
    bits_per_second = (mbps or link_speed_mbps()) * 1e6
    return bits_per_second / (8 * 2 * hidden_size * dtype_bytes)


def link_speed_mbps() -> float:
    """The fastest link speed among active non-loopback interfaces, or a modest default."""
    try:
        stats = psutil.net_if_stats()
    except OSError:
        stats = {}
    speeds = [s.speed for name, s in stats.items() if s.isup and s.speed > 0 and not name.startswith("lo")]
    return float(max(speeds)) if speeds else DEFAULT_NETWORK_MBPS


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
