"""One route through servers of three precisions: blocks 0:2 in float32, 2:4 in bfloat16, 4:6 in nf4 (float32
compute). Hidden states travel in each sender's dtype and every server converts them to its own; the swarm's
greedy tokens and logits equal a local transformers model whose blocks are cast and quantized the same way,
with the same conversions at the same boundaries."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM

from core.server.quantize import quantize_block
from tests.helpers.processes import stop_all
from tests.integration.conftest import PROMPT, client_for, start_servers
from tests.integration.test_placement import swarm_status

pytestmark = pytest.mark.slow

NAMESPACE = "mixed"
NEW_TOKENS = 32
SERVERS = [((0, 2), ["--dtype", "float32"]), ((2, 4), ["--dtype", "bfloat16"]),
           ((4, 6), ["--dtype", "float32", "--quantization", "nf4"])]


@pytest.fixture(scope="module")
def mixed_swarm(bootstrap, tiny_llama):
    servers = start_servers(str(tiny_llama), [span for span, _ in SERVERS], NAMESPACE, bootstrap.multiaddrs,
                            per_server=[extra for _, extra in SERVERS])
    yield servers
    stop_all(servers)


def cast_and_quantized_like_the_servers(folder) -> Any:
    """transformers' own model with blocks 2-3 in bfloat16 and 4-5 quantized to nf4 as servers quantize them, each
    block taking its inputs converted to its dtype, as a server converts what it receives."""
    model: Any = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    layers = model.model.layers
    for index in (2, 3):
        layers[index].to(torch.bfloat16)
    for index in (4, 5):
        layers[index] = quantize_block(layers[index], "nf4", "cpu").eval()
    for index, layer in enumerate(layers):
        dtype = torch.bfloat16 if index in (2, 3) else torch.float32
        layer.register_forward_pre_hook(_converting_to(dtype), with_kwargs=True)
    return model


def _converting_to(dtype: torch.dtype) -> Any:
    def convert(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        cos, sin = kwargs["position_embeddings"]  # a server computes its rotary embedding in its own dtype
        return (args[0].to(dtype), *args[1:]), {**kwargs, "position_embeddings": (cos.to(dtype), sin.to(dtype))}
    return convert


def test_a_route_of_three_precisions_equals_the_same_casts_done_locally(mixed_swarm, bootstrap, tiny_llama):
    options: dict[str, Any] = {"max_new_tokens": NEW_TOKENS, "min_new_tokens": NEW_TOKENS, "do_sample": False,
                               "output_logits": True, "return_dict_in_generate": True}
    with torch.inference_mode():
        expected = cast_and_quantized_like_the_servers(tiny_llama).generate(PROMPT, **options)
        local: Any = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
        full_precision = local.generate(PROMPT, **options)
    model = client_for(str(tiny_llama), NAMESPACE, bootstrap.multiaddrs)
    try:
        with model.inference_session(max_length=PROMPT.shape[1] + NEW_TOKENS) as session:
            got = model.generate(PROMPT, **options)
            route = [(span.record.dtype, span.record.quantization) for span in session.route]
    finally:
        model.shutdown()
    assert route == [("float32", "none"), ("bfloat16", "none"), ("float32", "nf4")]
    assert torch.equal(got.sequences, expected.sequences)
    assert torch.equal(got.logits[0], expected.logits[0])
    assert not torch.equal(got.logits[0], full_precision.logits[0])  # the casts and quantization really happened


def test_swarm_status_shows_each_servers_precision_and_the_architecture(mixed_swarm, bootstrap):
    (model,) = swarm_status(bootstrap, NAMESPACE)["models"]
    assert (model["model"], model["architecture"], model["num_blocks"]) == ("tiny-llama", "llama", 6)
    assert [(server["blocks"], server["dtype"], server["quantization"]) for server in model["servers"]] == [
        ([0, 2], "float32", "none"), ([2, 4], "bfloat16", "none"), ([4, 6], "float32", "nf4")]
