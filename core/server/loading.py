"""Resolve the model a server serves once, then load any span of its blocks (at start and after a move)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from transformers import PretrainedConfig

from core import events
from core.dtypes import FLOAT_DTYPES
from core.errors import UserFacingError
from core.models.family import ModelFamily
from core.models.source import ModelSource
from core.server.blocks import BlockSpan
from core.server.quantize import require_bitsandbytes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelPlan:
    """What a server needs to load blocks of one model: its files, config and architecture."""

    source: ModelSource
    config: PretrainedConfig
    family: ModelFamily
    dtype_name: str
    device: torch.device
    quantization: str = "none"  # of the blocks' linear weights: none, int8 or nf4

    @property
    def name(self) -> str:
        return self.source.dht_name

    @property
    def num_blocks(self) -> int:
        return int(self.config.num_hidden_layers)

    @property
    def dtype(self) -> torch.dtype:
        return FLOAT_DTYPES[self.dtype_name]


def plan_model(model: str, device_name: str, dtype_name: str, quantization: str = "none") -> ModelPlan:
    """The model's files, config and architecture, on `device_name` in `dtype_name` (either may be "auto"),
    its linear weights quantized as asked."""
    from core.models import family_for
    from core.models.source import resolve_model
    from core.models.weights import load_config

    cuda = device_name in ("auto", "cuda") and torch.cuda.is_available()
    device_name, dtype_name = choose_device_and_dtype(device_name, dtype_name, cuda,
                                                      cuda and torch.cuda.is_bf16_supported())
    device = open_device(device_name)
    logger.info("Blocks will run on %s in %s", device, dtype_name)
    if device.type == "cpu" and dtype_name == "float16":
        raise UserFacingError("float16 is not supported on CPU; use --dtype float32 or bfloat16")
    if quantization != "none":
        require_bitsandbytes()  # before anything is announced or loaded
    source = resolve_model(model)
    config = load_config(source)
    return ModelPlan(source, config, family_for(config), dtype_name, device, quantization)


def choose_device_and_dtype(device: str, dtype: str, cuda_available: bool, bfloat16_supported: bool) -> tuple[str, str]:
    """Settle "auto": the GPU when torch can reach one; there bfloat16 (float16 on GPUs without it), float32 on
    the CPU. Explicit choices are kept, and checked later."""
    if device == "auto":
        device = "cuda" if cuda_available else "cpu"
    if dtype == "auto":
        dtype = "float32" if device == "cpu" else "bfloat16" if bfloat16_supported else "float16"
    return device, dtype


def load_span(plan: ModelPlan, start: int, end: int) -> BlockSpan:
    """Read blocks [start, end) (and nothing else) and build them on the plan's device, with progress events."""
    from core.models.weights import block_tensor_names, load_tensors

    if not 0 <= start < end <= plan.num_blocks:
        raise UserFacingError(f"--blocks {start}:{end} is outside the model's {plan.num_blocks} blocks "
                              f"(0:{plan.num_blocks})")
    names = block_tensor_names(plan.config, plan.family.block_prefix, range(start, end))

    def progress(done: int, count: int) -> None:
        events.Loading(model=plan.name, done=done, total=count).emit()

    tensors = load_tensors(plan.source, plan.config, names, plan.dtype, progress)
    span = BlockSpan(plan.family, plan.config, start, end, tensors, plan.dtype, plan.device, plan.quantization)
    del tensors
    return span


def open_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise UserFacingError("--device cuda needs an NVIDIA GPU with a CUDA build of torch")
    device = torch.device(name)
    if device.type == "cuda":
        # Start the CUDA context now: its few hundred MiB are then already used when the server reads free
        # memory to size its blocks, rather than coming out of the reserve the pause monitor guards.
        torch.empty(0, device=device)
    return device
