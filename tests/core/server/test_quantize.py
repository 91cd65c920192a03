"""A real block quantized by bitsandbytes (on CPU) holds exactly what block_cost estimates, and still computes."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import LlamaConfig

from core.errors import UserFacingError
from core.models import family_for
from core.server.block_cost import block_cost
from core.server.experts import QuantizedExperts, is_fused_experts
from core.server.quantize import _quantized, module_bytes, quantize_block, require_bitsandbytes
from tests.helpers.block_spans import reference_and_span, span_of
from tests.helpers.tiny_models import tiny_config, tiny_model

ROOT = Path(__file__).resolve().parents[3]
# Odd row counts and a weight count that is not a multiple of the nf4 block size (64): the layout's edges.
SHAPE: dict[str, Any] = {"hidden_size": 192, "intermediate_size": 520, "num_hidden_layers": 2, "num_attention_heads": 6,
             "num_key_value_heads": 2, "vocab_size": 100}
# Relative error of a quantized layer's output: nf4 keeps 4 bits, int8 8 bits per weight.
TOLERANCE = {"int8": 0.02, "nf4": 0.15}
# Experts given the weights their quantized layers compute with: int8 still rounds activations (LLM.int8), nf4
# computes with exactly its dequantized weights.
EXPERTS_TOLERANCE = {"int8": 0.02, "nf4": 1e-6}


def block(config: LlamaConfig) -> torch.nn.Module:
    torch.manual_seed(0)
    return family_for(config).build_block(config, 0, 0).to(torch.bfloat16).eval()


@pytest.mark.parametrize("quantization", ["int8", "nf4"])
def test_quantized_block_holds_what_the_estimate_says(quantization):
    config = LlamaConfig(**SHAPE)
    original = block(config)
    quantized = quantize_block(block(config), quantization, "cpu")
    assert module_bytes(quantized) == block_cost(family_for(config), config, "bfloat16", quantization, 0).weight_bytes
    assert module_bytes(quantized) < module_bytes(original) * (0.55 if quantization == "int8" else 0.3)

    inputs = torch.randn(3, SHAPE["hidden_size"], dtype=torch.bfloat16)
    layers = dict(quantized.named_modules())
    checked = 0
    for name, linear in original.named_modules():
        if not isinstance(linear, torch.nn.Linear):
            continue
        layer = layers[name]
        assert type(layer) is not torch.nn.Linear  # replaced by bitsandbytes' layer
        assert layer.weight.dtype in (torch.int8, torch.uint8)
        x = inputs if linear.in_features == SHAPE["hidden_size"] else torch.randn(3, linear.in_features,
                                                                                   dtype=torch.bfloat16)
        with torch.no_grad():
            expected, got = linear(x).float(), layer(x).float()
        error = ((got - expected).norm() / expected.norm()).item()
        assert 0 < error < TOLERANCE[quantization], (name, error)
        checked += 1
    assert checked == 7  # q, k, v, o, gate, up, down


@pytest.mark.parametrize("quantization", ["int8", "nf4"])
def test_a_quantized_span_computes_close_to_the_float_one_with_and_without_a_cache(quantization):
    config = LlamaConfig(**SHAPE)
    model, exact = reference_and_span(config, 0, 2)
    span = span_of(model, 0, 2, quantization)
    assert span.memory_bytes() == 2 * block_cost(family_for(config), config, "float32", quantization, 0).weight_bytes
    assert span.memory_bytes() < exact.memory_bytes() * (0.3 if quantization == "int8" else 0.2)  # from float32

    prompt, step = (torch.randn(1, length, SHAPE["hidden_size"], generator=torch.Generator().manual_seed(length))
                    for length in (5, 1))
    caches = exact.new_cache(8), span.new_cache(8)
    for hidden, position in ((prompt, 0), (step, 5)):
        expected = exact.forward(hidden, 0, 2, caches[0], position)
        got = span.forward(hidden, 0, 2, caches[1], position)
        assert got.dtype == torch.float32 and got.shape == expected.shape
        error = ((got - expected).norm() / expected.norm()).item()
        assert 0 < error < TOLERANCE[quantization], (position, error)
    # On CPUs with AVX512-BF16, bitsandbytes repacks nf4 weights at their first forward, into a little less.
    assert span.memory_bytes() <= 2 * block_cost(family_for(config), config, "float32", quantization, 0).weight_bytes


def test_float_block_is_left_as_it_is_and_unknown_kinds_are_refused():
    config = LlamaConfig(**SHAPE)
    assert module_bytes(block(config)) == block_cost(family_for(config), config, "bfloat16", "none", 0).weight_bytes
    with pytest.raises(ValueError, match="fp8"):
        quantize_block(block(config), "fp8", "cpu")


def test_missing_bitsandbytes_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # makes `import bitsandbytes` fail
    with pytest.raises(UserFacingError, match="pip install bitsandbytes"):
        quantize_block(block(LlamaConfig(**SHAPE)), "nf4", "cpu")


def test_block_memory_bench_runs_on_cpu(tmp_path):
    """The script the GPU check runs, on CPU with a small shape, so it works the day a GPU is lent."""
    report_file = tmp_path / "report.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "block_memory.py"), "--device", "cpu", "--shape",
                             "small", "--json", str(report_file)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(report_file.read_text())
    assert [row["quantization"] for row in report["blocks"]] == ["none", "int8", "nf4"]
    assert all(row["ratio"] == 1.0 for row in report["blocks"]), report["blocks"]
    assert report["cache"]["ratio"] == 1.0
    assert report["sizing"]["blocks_chosen"] == 4 and report["sizing"]["gpu_free_bytes"] == []
    assert "estimate/real = 1.0000" in result.stdout


@pytest.mark.parametrize("name", ["mixtral", "qwen3_moe"])
@pytest.mark.parametrize("quantization", ["int8", "nf4"])
def test_quantized_experts_compute_what_transformers_computes_with_their_weights(name, quantization):
    """Each expert's matrices are quantized on their own, and the block routes through them as transformers'
    eager experts forward does: the same output as transformers' own experts holding the dequantized weights."""
    config = tiny_config(name, hidden_size=128, moe_intermediate_size=64, intermediate_size=64)
    torch.manual_seed(0)
    experts: Any = next(module for module in family_for(config).build_block(config, 1, 0).modules()
                        if is_fused_experts(module))
    for parameter in experts.parameters():  # decoder layers leave expert weights uninitialised (torch.empty)
        torch.nn.init.normal_(parameter, std=0.05)
    quantized = QuantizedExperts(copy.deepcopy(experts), lambda linear: _quantized_linear(linear, quantization))
    assert module_bytes(quantized) < module_bytes(experts) * (0.3 if quantization == "int8" else 0.16)
    dequantized: Any = copy.deepcopy(experts)
    dequantized.config._experts_implementation = "eager"
    with torch.no_grad():
        dequantized.gate_up_proj.copy_(torch.stack([_dequantized(layer) for layer in quantized.gate_up]))
        dequantized.down_proj.copy_(torch.stack([_dequantized(layer) for layer in quantized.down]))
        hidden = torch.randn(6, 128)
        top_k_index = torch.tensor([[0, 1], [1, 2], [3, 0], [2, 3], [1, 3], [0, 2]])
        top_k_weights = torch.rand(6, 2)
        expected = dequantized(hidden, top_k_index, top_k_weights)
        got = quantized(hidden, top_k_index, top_k_weights)
    assert ((got - expected).norm() / expected.norm()).item() < EXPERTS_TOLERANCE[quantization]


def _quantized_linear(linear: torch.nn.Linear, quantization: str) -> torch.nn.Module:
    bnb = require_bitsandbytes()
    return _quantized(bnb, linear, quantization).to("cpu")


def _dequantized(layer: Any) -> torch.Tensor:
    """The float weight a bitsandbytes layer computes with."""
    bnb = require_bitsandbytes()
    eye = torch.eye(layer.in_features)
    with torch.no_grad():
        return layer(eye).T.float() if isinstance(layer, bnb.nn.Linear8bitLt) else \
            bnb.functional.dequantize_4bit(layer.weight.data, layer.weight.quant_state).float()


@pytest.mark.parametrize("quantization", ["int8", "nf4"])
def test_a_quantized_mixture_of_experts_span_computes_close_to_the_float_one(quantization):
    model = tiny_model("mixtral", hidden_size=128, intermediate_size=64)
    exact, span = span_of(model, 0, 4), span_of(model, 0, 4, quantization)
    assert span.memory_bytes() == sum(block_cost(family_for(model.config), model.config, "float32", quantization, 0,
                                                 index=index).weight_bytes for index in range(4))
    hidden = torch.randn(1, 6, 128, generator=torch.Generator().manual_seed(0))
    expected, got = exact.forward(hidden, 0, 4), span.forward(hidden, 0, 4)
    assert 0 < ((got - expected).norm() / expected.norm()).item() < TOLERANCE[quantization]
