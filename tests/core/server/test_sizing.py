"""How many blocks fit: the VRAM path with NVML answers supplied at the boundary, and the RAM path."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig

from core.config import Settings
from core.errors import UserFacingError
from core.models import family_for
from core.models.layout import model_layout
from core.models.source import ModelSource
from core.server.block_cost import block_cost
from core.server.loading import ModelPlan
from core.server.resources import GIB
from core.server.sizing import fitting_blocks
from tests.core.server.test_block_cost import SMOLLM2
from tests.core.server.test_resources import FakeNVML


def plan(device: str, dtype: str = "bfloat16", quantization: str = "none") -> ModelPlan:
    config = LlamaConfig(**SMOLLM2)
    return ModelPlan(ModelSource("smollm2", Path(".")), model_layout(config, family_for(config)), dtype,
                     torch.device(device), quantization)


def settings(*overrides: str) -> Settings:
    return Settings.load(["server.max_length=8192", *overrides], path=Path("/nonexistent/settings.json"))


def test_gpu_blocks_fill_free_vram_minus_the_reserve():
    smol = plan("cuda")
    cost = block_cost(smol.family, smol.config, "bfloat16", cache_tokens=8192).total_bytes
    nvml = FakeNVML([GIB + 7 * cost + cost // 2])  # 7.5 blocks after a 1 GiB reserve
    assert fitting_blocks(smol, settings("server.vram_reserve_gb=1"), nvml) == 7
    assert fitting_blocks(smol, settings("server.vram_reserve_gb=0"), nvml) == 30  # capped at the model
    assert fitting_blocks(plan("cuda:1"), settings(), FakeNVML([0, 100 * GIB])) == 30


def test_quantized_blocks_are_sized_as_quantized():
    free = FakeNVML([GIB + 7 * block_cost(plan("cuda").family, plan("cuda").config, "bfloat16",
                                          cache_tokens=8192).total_bytes])
    counts = {q: fitting_blocks(plan("cuda", quantization=q), settings("server.vram_reserve_gb=1"), free)
              for q in ("none", "int8", "nf4")}
    assert counts["none"] == 7 and 7 < counts["int8"] < counts["nf4"] <= 30, counts


def test_no_room_for_one_block_is_a_clear_error():
    with pytest.raises(UserFacingError, match="vram_reserve_gb"):
        fitting_blocks(plan("cuda"), settings("server.vram_reserve_gb=2"), FakeNVML([GIB]))


def test_cpu_uses_available_ram():
    assert fitting_blocks(plan("cpu", "float32"), settings("server.ram_reserve_gb=0"), FakeNVML([])) >= 1
