"""Greedy generation through real servers equals local transformers token for token (fp32, CPU)."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from core.models.prompts import encode_prompt
from core.models.source import resolve_model
from core.models.weights import load_tokenizer
from tests.integration.conftest import SMOLLM, client_for

PROMPT = [{"role": "user", "content": "Write a short story about a lighthouse keeper."}]


@pytest.fixture(scope="module")
def prompt_ids():
    tokenizer = load_tokenizer(resolve_model(SMOLLM))
    return encode_prompt(tokenizer, PROMPT)


@pytest.fixture(scope="module")
def local_tokens(smollm_local, prompt_ids):
    # min_new_tokens keeps EOS away so that all 64 tokens are compared.
    return smollm_local.generate(prompt_ids, max_new_tokens=64, min_new_tokens=64, do_sample=False)


@pytest.mark.slow
@pytest.mark.parametrize("namespace", ["one", "two", "three"])
def test_greedy_64_tokens_equal_local(smollm_swarms, bootstrap, prompt_ids, local_tokens, namespace):
    model = client_for(SMOLLM, namespace, bootstrap.multiaddrs)
    try:
        swarm_tokens = model.generate(prompt_ids, max_new_tokens=64, min_new_tokens=64, do_sample=False)
        with model.inference_session(max_length=8) as session:
            assert len(session.route) == len(smollm_swarms[namespace])  # really split across the servers
    finally:
        model.shutdown()
    assert swarm_tokens.shape == local_tokens.shape == (1, prompt_ids.shape[1] + 64)
    assert torch.equal(swarm_tokens, local_tokens)


@pytest.mark.slow
def test_tiny_llama_from_safetensors_equals_local(tiny_swarm, bootstrap, tiny_llama):
    local = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32).eval()
    prompt = torch.tensor([[1, 17, 42, 99, 7, 300]])
    expected = local.generate(prompt, max_new_tokens=32, min_new_tokens=32, do_sample=False)
    model = client_for(str(tiny_llama), "tiny", bootstrap.multiaddrs)
    try:
        got = model.generate(prompt, max_new_tokens=32, min_new_tokens=32, do_sample=False)
        logits = model(prompt).logits  # a plain forward pass (one-shot session)
    finally:
        model.shutdown()
    assert torch.equal(got, expected)
    assert torch.allclose(logits, local(prompt).logits, atol=1e-5)


@pytest.mark.slow
def test_multi_call_generation_in_one_session(tiny_swarm, bootstrap, tiny_llama):
    """Two generate() calls in one session send only new tokens and equal one long local run."""
    local = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32).eval()
    prompt = torch.tensor([[1, 5, 6, 7]])
    model = client_for(str(tiny_llama), "tiny", bootstrap.multiaddrs)
    try:
        with model.inference_session(max_length=64) as session:
            first = model.generate(prompt, max_new_tokens=8, min_new_tokens=8, do_sample=False)
            position_after_first = session.position
            second = model.generate(first, max_new_tokens=8, min_new_tokens=8, do_sample=False)
            assert session.position == position_after_first + 8  # the last token of the first call, then 7 more
    finally:
        model.shutdown()
    expected = local.generate(prompt, max_new_tokens=16, min_new_tokens=16, do_sample=False)
    assert torch.equal(second, expected)
