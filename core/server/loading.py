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
from core.models.layout import ModelLayout
from core.models.source import ModelSource
from core.server.blocks import BlockSpan
from core.server.quantize import require_bitsandbytes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelPlan:
    """What a server needs to load blocks of one model: its files, layout and architecture."""

    source: ModelSource
    layout: ModelLayout
    dtype_name: str
    device: torch.device
    quantization: str = "none"  # of the blocks' weight matrices (experts' too): none, int8, nf4

    @property
    def config(self) -> PretrainedConfig:
        """The decoder's config: what blocks are built from."""
        return self.layout.decoder_config

    @property
    def family(self) -> ModelFamily:
        return self.layout.family

    @property
    def name(self) -> str:
        return self.source.dht_name

    @property
    def architecture(self) -> str:
        """The checkpoint's model_type (gemma3 for a multimodal Gemma 3 whose text decoder is served)."""
        return str(self.layout.config.model_type)

    @property
    def num_blocks(self) -> int:
        return int(self.config.num_hidden_layers)

    @property
    def dtype(self) -> torch.dtype:
        return FLOAT_DTYPES[self.dtype_name]


def plan_model(model: str, device_name: str, dtype_name: str, quantization: str = "none") -> ModelPlan:
    """The model's files, config and architecture, on `device_name` in `dtype_name` (either may be "auto"),
    its weight matrices quantized as asked."""
    from core.models.source import resolve_model
    from core.models.weights import check_block_count, load_layout

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
    layout = load_layout(source)
    check_block_count(source, layout)
    return ModelPlan(source, layout, dtype_name, device, quantization)


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
    from core.models.weights import load_tensors

    if not 0 <= start < end <= plan.num_blocks:
        raise UserFacingError(f"--blocks {start}:{end} is outside the model's {plan.num_blocks} blocks "
                              f"(0:{plan.num_blocks})")
    names = plan.layout.block_names(range(start, end))

    def progress(done: int, count: int) -> None:
        events.Loading(model=plan.name, done=done, total=count).emit()

    tensors = load_tensors(plan.source, plan.layout, names, plan.dtype, progress)
    span = BlockSpan(plan.family, plan.config, start, end, tensors, plan.dtype, plan.device, plan.quantization,
                     plan.layout.block_prefix)
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
