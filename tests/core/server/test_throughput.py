"""Throughput: measured once per device, model and dtype, cached atomically; network from link speed."""
from __future__ import annotations

import json

import pytest
import torch
from transformers import LlamaConfig

from core.models import family_for
from core.server.blocks import BlockSpan
from core.server.throughput import (
    Throughput,
    cache_path,
    compute_throughput,
    link_speed_mbps,
    measure_steps_per_second,
    network_throughput,
)
from tests.helpers.tiny_models import TINY_LLAMA


@pytest.fixture(scope="module")
def span() -> BlockSpan:
    config = LlamaConfig(**TINY_LLAMA)
    config._attn_implementation = "sdpa"
    family = family_for(config)
    torch.manual_seed(0)
    state = {f"model.layers.2.{name}": tensor for name, tensor in family.build_block(config, 2, 0).state_dict().items()}
    return BlockSpan(family, config, 2, 3, state, torch.float32, torch.device("cpu"))


def test_measurement_is_fast_and_positive(span):
    assert measure_steps_per_second(span, budget_s=0.05) > 10


def test_measurement_is_cached_per_device_model_and_dtype(span, monkeypatch, tmp_path):
    monkeypatch.setenv("MEADOW_HOME", str(tmp_path))
    first = compute_throughput(span, "tiny-a", budget_s=0.05)
    entries = json.loads(cache_path().read_text())
    assert list(entries.values()) == [first] and "|tiny-a|float32" in next(iter(entries))
    assert compute_throughput(span, "tiny-a") == first  # read back, not measured again
    compute_throughput(span, "tiny-b", budget_s=0.05)
    assert len(json.loads(cache_path().read_text())) == 2
    assert not [p for p in cache_path().parent.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_network_throughput_in_hidden_states_per_second():
    # 100 Mbit/s, 576 fp16 values in and out per token.
    assert network_throughput(576, 2, mbps=100) == pytest.approx(100e6 / (8 * 2 * 576 * 2))
    assert link_speed_mbps() > 0


def test_effective_throughput_is_the_lower_one():
    assert Throughput(compute=80.0, network=5000.0).effective == 80.0
