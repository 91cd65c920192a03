"""The servicer's compute path: short prefills run as one scheduled task (bit-exact), long ones in chunks."""
from __future__ import annotations

import asyncio

import pytest
import torch
from transformers import LlamaConfig

from core.server.admission import Admission
from core.server.blocks import BlockSpan
from core.server.handler import BlockServicer, ServerLimits, _Session
from core.server.memory import CacheBudget
from tests.helpers.block_spans import reference_and_span
from tests.helpers.tiny_models import TINY_LLAMA


@pytest.fixture(scope="module")
def span() -> BlockSpan:
    return reference_and_span(LlamaConfig(**TINY_LLAMA), 0, 6)[1]


def _servicer(span: BlockSpan, chunk: int) -> tuple[BlockServicer, list[int]]:
    """A servicer whose span records the length of every computed task."""
    lengths: list[int] = []

    class Recording:
        def __getattr__(self, name: str):
            return getattr(span, name)

        def forward(self, hidden, *args):
            lengths.append(hidden.shape[1])
            return span.forward(hidden, *args)

    limits = ServerLimits(8192, 64, 65536, 300.0, 1800.0, prefill_chunk_tokens=chunk)
    servicer = BlockServicer(Recording(), "tiny", limits, None,  # type: ignore[arg-type]  # a span that records
                             Admission(CacheBudget(10**6), 0.0))
    return servicer, lengths


def _prefill(servicer: BlockServicer, span: BlockSpan, hidden: torch.Tensor) -> tuple[torch.Tensor, _Session]:
    session = _Session("s", 0, 6, 512, span.new_cache())
    try:
        return asyncio.run(servicer._compute_step(session, hidden, 0)), session
    finally:
        servicer.shutdown()


def test_prefill_up_to_the_chunk_size_is_one_task_and_exact(span):
    hidden = torch.randn(1, 40, 64, generator=torch.Generator().manual_seed(1))
    servicer, lengths = _servicer(span, chunk=40)
    output, _ = _prefill(servicer, span, hidden)
    assert lengths == [40]
    assert torch.equal(output, span.forward(hidden, 0, 6, span.new_cache(), 0))


def test_long_prefill_is_computed_in_chunks_against_the_session_cache(span):
    hidden = torch.randn(1, 100, 64, generator=torch.Generator().manual_seed(2))
    servicer, lengths = _servicer(span, chunk=32)
    output, session = _prefill(servicer, span, hidden)
    assert lengths == [32, 32, 32, 4]
    assert session.cache.get_seq_length() == 100
    assert torch.allclose(output, span.forward(hidden, 0, 6, span.new_cache(), 0), atol=1e-5)


def test_cache_budget_follows_a_move_to_a_span_of_another_size():
    class MovingSpan:
        start, end = 0, 4

    span = MovingSpan()
    limits = ServerLimits(8192, 64, 65536, 300.0, 1800.0)
    servicer = BlockServicer(span, "tiny", limits, None,  # type: ignore[arg-type]  # a span that moves on demand
                             Admission(CacheBudget(4 * 100), 0.0))  # 100 per block
    try:
        servicer.admission.budget.used = 40
        assert servicer.cache_tokens_free == 90
        span.start, span.end = 2, 4  # a rebalancing move to half as many blocks
        assert servicer.cache_tokens_free == 80 and servicer.admission.budget.total == 200
        span.start, span.end = 0, 6
        assert servicer.cache_tokens_free == (600 - 40) // 6 and servicer.admission.budget.total == 600
    finally:
        servicer.shutdown()
