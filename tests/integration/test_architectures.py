"""Every supported architecture, a tiny random config served by two real `meadow serve` processes: greedy
generation of 64 tokens past every sliding window equals local transformers' token for token, and the first
step's logits equal transformers' bit for bit (float32, CPU).

One architecture's two servers run at a time (started together), sharing the session's `meadow dht`. The
multimodal Gemma 3 is served and read by hub id, from a local hub cache laid out as a download leaves it.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import huggingface_hub.constants
import pytest
import torch
from transformers import AutoModelForCausalLM, Gemma3ForCausalLM

from core.child_output import ChildFailedError
from core.events import ServerReady
from tests.core.models.test_architectures import PROMPT
from tests.core.models.test_checkpoints import edit_config
from tests.helpers.hub_layout import gemma3_multimodal_hub_names, publish_to_hub_cache, write_hub_checkpoint
from tests.helpers.processes import MeadowProcess, stop_all
from tests.helpers.tiny_models import ARCHITECTURES, WINDOW, save_tiny, tiny_model
from tests.integration.conftest import client_for, start_servers

pytestmark = pytest.mark.slow

NEW_TOKENS = 64
# transformers' multimodal Gemma 3 gives its text decoder explicit attention masks (built for its image-token
# overlay) where its own text-only model lets SDPA mask causally; on the same weights the two models' logits
# differ by 4.7e-5. Meadow serves the text decoder and equals the text-only model bit for bit, so against the
# multimodal model its logits hold within this bound.
MULTIMODAL_BOUND = 1e-4
HUB_ID = "meadow-tests/tiny-gemma3-multimodal"
# gemma3: the multimodal checkpoint, by hub id. Falcon RW (ALiBi) differs from Falcon 7B only in the block inputs,
# which tests/core/models/test_architectures.py holds to transformers' bit for bit; it has no servers of its own.
SERVED = [*sorted(set(ARCHITECTURES) - {"falcon-rw"}), "gemma3"]


@contextlib.contextmanager
def offline_hub(cache: Path) -> Iterator[None]:
    """Hub ids resolve from `cache`, offline, in this process and in the servers it starts."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_CACHE", str(cache))
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        yield


@pytest.fixture(scope="module", params=SERVED)
def served(request, bootstrap, tmp_path_factory) -> Iterator[tuple[str, str, Path]]:
    """(architecture, model id, folder): the tiny model split over two servers, blocks 0:2 and 2:4."""
    name = request.param
    root = tmp_path_factory.mktemp(f"arch-{name}")
    with contextlib.ExitStack() as stack:
        if name == "gemma3":
            folder = write_hub_checkpoint(tiny_model("gemma3"), root / "checkpoint", gemma3_multimodal_hub_names)
            publish_to_hub_cache(folder, HUB_ID, root / "hub")
            stack.enter_context(offline_hub(root / "hub"))
            model_id = HUB_ID
        else:
            folder = save_tiny(name, root / f"tiny-{name}")
            model_id = str(folder)
        servers = start_servers(model_id, [(0, 2), (2, 4)], f"arch-{name}", bootstrap.multiaddrs)
        stack.callback(stop_all, servers)
        yield name, model_id, folder


def test_two_servers_generate_what_transformers_generates(served, bootstrap):
    name, model_id, folder = served
    assert PROMPT.shape[1] > WINDOW
    options: dict[str, Any] = {"max_new_tokens": NEW_TOKENS, "min_new_tokens": NEW_TOKENS, "do_sample": False,
                               "output_logits": True, "return_dict_in_generate": True}
    local: Any = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.inference_mode():
        expected = local.generate(PROMPT, **options)
    model = client_for(model_id, f"arch-{name}", bootstrap.multiaddrs)
    assert model.generation_config.eos_token_id == local.generation_config.eos_token_id
    try:
        with model.inference_session(max_length=PROMPT.shape[1] + NEW_TOKENS) as session:
            got = model.generate(PROMPT, **options)
            assert [(span.start, span.end) for span in session.route] == [(0, 2), (2, 4)]
    finally:
        model.shutdown()
    assert torch.equal(got.sequences, expected.sequences), name
    if name == "gemma3":
        assert (got.logits[0] - expected.logits[0]).abs().max().item() < MULTIMODAL_BOUND
        with torch.inference_mode():
            expected = text_decoder_of(local).generate(PROMPT, **{**options, "max_new_tokens": 1, "min_new_tokens": 1})
    assert torch.equal(got.logits[0], expected.logits[0]), (got.logits[0] - expected.logits[0]).abs().max()


def text_decoder_of(multimodal: Any) -> Any:
    """transformers' text-only Gemma 3 holding the multimodal model's text decoder weights."""
    text = Gemma3ForCausalLM(multimodal.config.text_config).eval()
    prefix = "model.language_model."
    state = {name.replace(prefix, "model."): tensor for name, tensor in multimodal.state_dict().items()
             if name.startswith(prefix) or name == "lm_head.weight"}
    text.load_state_dict(state, strict=True)
    return text


def test_serve_refuses_an_unsupported_architecture_and_a_config_that_disagrees_with_its_weights(bootstrap, tmp_path):
    unsupported = save_tiny("qwen2", tmp_path / "unsupported")
    edit_config(unsupported, '"model_type": "qwen2"', '"model_type": "gpt_neox"')
    mismatched = save_tiny("falcon", tmp_path / "mismatched")
    edit_config(mismatched, '"num_hidden_layers": 4', '"num_hidden_layers": 6')
    servers = [MeadowProcess.start(["serve", "--model", str(folder), "--blocks", "0:1", "--initial-peers",
                                    *bootstrap.multiaddrs, "--set", "swarm.namespace=refused"], wait_ready=False)
               for folder in (unsupported, mismatched)]
    try:
        for server, expected in zip(servers, [
                r"Architecture 'gpt_neox' is not supported yet \(supported: llama, mistral, mixtral, qwen2, .*falcon\)",
                r"says the model has 6 blocks \(num_hidden_layers\), but its weights hold blocks 0-3 \(4 blocks\)"],
                                    strict=True):
            with pytest.raises(ChildFailedError, match=expected):
                server.wait_for(ServerReady, 120)
            assert server.process.wait(30) != 0
    finally:
        stop_all(servers)
