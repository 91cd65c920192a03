"""A server that moves refuses steps while moving and sessions opened before the move, then serves the new span."""
from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig

from core.models import family_for
from core.server.blocks import BlockSpan
from core.server.moving import MovableSpan
from core.wire import WireError
from tests.helpers.tiny_models import TINY_LLAMA


def tiny_span(start: int, end: int) -> BlockSpan:
    config = LlamaConfig(**TINY_LLAMA)
    config._attn_implementation = "sdpa"
    family = family_for(config)
    torch.manual_seed(start)
    state = {}
    for index in range(start, end):
        block = family.build_block(config, index, index - start)
        state.update({f"model.layers.{index}.{name}": tensor for name, tensor in block.state_dict().items()})
    return BlockSpan(family, config, start, end, state, torch.float32, torch.device("cpu"))


def test_move_refuses_old_sessions_and_serves_the_new_span():
    movable = MovableSpan(tiny_span(0, 2))
    hidden = torch.randn(1, 3, 64)
    old_cache = movable.new_cache()
    movable.forward(hidden, 0, 2, old_cache, 0)
    assert (movable.start, movable.end, movable.hidden_size) == (0, 2, 64)

    movable.stop_computing()
    with pytest.raises(WireError, match="moving"):
        movable.forward(hidden, 0, 2)
    movable.release_blocks()
    new = tiny_span(3, 5)
    movable.replace(new)
    assert (movable.start, movable.end) == (3, 5)
    with pytest.raises(WireError, match="open a new session"):
        movable.forward(hidden[:, :1], 3, 5, old_cache, 3)
    assert torch.equal(movable.forward(hidden, 3, 5), new.forward(hidden, 3, 5))
    assert movable.forward(hidden, 3, 4, movable.new_cache(), 0).shape == hidden.shape
