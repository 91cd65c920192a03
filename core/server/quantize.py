"""Quantizing a block's linear layers with bitsandbytes (int8 as LLM.int8, or nf4), and measuring what it holds.

Only what core/server/block_cost.py counts is built here: every nn.Linear weight is quantized, and so is every
expert's matrix of a mixture of experts (core/server/experts.py); norms, biases and routers stay in the block's
dtype. bitsandbytes quantizes when the weight moves to its device; on CPU it uses its own CPU kernels, so the
layout can be checked without a GPU.
"""
from __future__ import annotations

from types import ModuleType

import torch

from core.errors import UserFacingError
from core.server.block_cost import NF4_BLOCKSIZE, QUANTIZATIONS
from core.server.experts import QuantizedExperts, is_fused_experts

CPU_PACKED_ROWS = 32


def require_bitsandbytes() -> ModuleType:
    """The bitsandbytes module, or a clear error saying how to get it."""
    try:
        import bitsandbytes
    except ImportError as error:
        raise UserFacingError("Quantization (int8, nf4) needs bitsandbytes, which this install lacks: "
                              "pip install bitsandbytes (or pip install 'meadow[quantization]')") from error
    return bitsandbytes


def quantize_block(block: torch.nn.Module, quantization: str, device: torch.device | str) -> torch.nn.Module:
    """Replace every nn.Linear of `block` (in place) by its bitsandbytes form, and every fused mixture of experts
    by QuantizedExperts, quantized on `device`."""
    if quantization == "none" or quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}")
    bnb = require_bitsandbytes()

    def quantize(linear: torch.nn.Linear) -> torch.nn.Module:
        return _quantized(bnb, linear, quantization)

    for parent in list(block.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(parent, name, quantize(child))
            elif is_fused_experts(child):
                setattr(parent, name, QuantizedExperts(child, quantize))
    return block.to(device)


def _quantized(bnb: ModuleType, linear: torch.nn.Linear, quantization: str) -> torch.nn.Module:
    has_bias = linear.bias is not None
    weight = linear.weight.data
    layer: torch.nn.Module
    if quantization == "int8":
        layer = bnb.nn.Linear8bitLt(linear.in_features, linear.out_features, has_bias, has_fp16_weights=False,
                                    threshold=0.0, device="meta")
        layer.weight = bnb.nn.Int8Params(weight.to(torch.float16), requires_grad=False, has_fp16_weights=False)
    else:
        nf4 = bnb.nn.Linear4bit(linear.in_features, linear.out_features, has_bias, compute_dtype=weight.dtype,
                                compress_statistics=False, quant_type="nf4", device="meta")
        nf4.weight = bnb.nn.Params4bit(weight, requires_grad=False, blocksize=NF4_BLOCKSIZE,
                                       compress_statistics=False, quant_type="nf4")
        if linear.out_features % CPU_PACKED_ROWS or linear.in_features % NF4_BLOCKSIZE:
            # bitsandbytes' fast CPU path (AVX512-BF16) repacks the weight at its first forward and needs rows in
            # multiples of 32 and whole scale blocks per row; other layers take its generic path rather than fail
            # mid-request.
            nf4.support_avx512bf16_for_cpu = False
        layer = nf4
    if has_bias:
        layer.bias = torch.nn.Parameter(linear.bias.data, requires_grad=False)
    return layer


def module_bytes(module: torch.nn.Module) -> int:
    """Bytes of every distinct tensor the module keeps: parameters, buffers and bitsandbytes' scales."""
    seen: dict[tuple[str, int], int] = {}

    def add(tensor: object) -> None:
        if isinstance(tensor, torch.Tensor) and tensor.device.type != "meta":
            storage = tensor.untyped_storage()
            seen[(tensor.device.type, storage.data_ptr())] = storage.nbytes()

    for tensor in [*module.parameters(), *module.buffers()]:
        add(tensor)
        add(getattr(tensor, "SCB", None))  # int8 row scales
        state = getattr(tensor, "quant_state", None)  # nf4 absmax (and its lookup code)
        if state is not None:
            add(state.absmax)
            add(state.code)
    return sum(seen.values())
