"""A mixture of experts' weights, quantized per expert.

transformers 5 keeps a block's experts as two fused 3-D parameters: `gate_up_proj` [experts, 2 x width, hidden]
(gate and up projections stacked by rows) and `down_proj` [experts, hidden, width]. bitsandbytes quantizes
2-D linear weights only, so for int8 and nf4 each expert's two matrices become one bitsandbytes linear layer
each, and QuantizedExperts computes what transformers' eager experts forward computes, expert by expert, with
them. core/server/block_cost.py counts the same per-expert matrices. Experts in any other layout (transposed,
with biases, without a gate) are refused rather than left unquantized behind the user's back.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from core.errors import UserFacingError

LinearQuantizer = Callable[[nn.Linear], nn.Module]


def is_fused_experts(module: nn.Module) -> bool:
    """Whether `module` holds a mixture's experts as transformers' fused 3-D parameters."""
    return any(isinstance(parameter, nn.Parameter) and parameter.dim() == 3
               for parameter in module.parameters(recurse=False))


def quantizable_expert_parameters(module: nn.Module) -> tuple[nn.Parameter, nn.Parameter]:
    """The fused gate/up and down parameters of `module`; UserFacingError for experts laid out otherwise."""
    gate_up, down = getattr(module, "gate_up_proj", None), getattr(module, "down_proj", None)
    laid_out_as_expected = (
        isinstance(gate_up, nn.Parameter) and isinstance(down, nn.Parameter) and gate_up.dim() == down.dim() == 3
        and gate_up.shape[0] == down.shape[0] and gate_up.shape[1] == 2 * down.shape[2]
        and getattr(module, "has_gate", True) and not getattr(module, "has_bias", False)
        and not getattr(module, "is_transposed", False) and getattr(module, "is_concatenated", True)
    )
    if not laid_out_as_expected:
        raise UserFacingError(f"int8/nf4 cannot quantize the experts of {type(module).__name__} (their weights are "
                              "not in transformers' fused gate_up/down layout); serve this model with "
                              "--quantization none")
    assert isinstance(gate_up, nn.Parameter) and isinstance(down, nn.Parameter)
    return gate_up, down


class QuantizedExperts(nn.Module):
    """A block's experts with each expert's gate/up and down projections as quantized linear layers."""

    def __init__(self, experts: nn.Module, quantize: LinearQuantizer):
        super().__init__()
        gate_up, down = quantizable_expert_parameters(experts)
        self.num_experts = int(gate_up.shape[0])
        activation = experts.act_fn
        assert isinstance(activation, nn.Module)
        self.act_fn = activation
        self.gate_up = nn.ModuleList(quantize(_linear(weights)) for weights in gate_up.data)
        self.down = nn.ModuleList(quantize(_linear(weights)) for weights in down.data)

    def forward(self, hidden_states: torch.Tensor, top_k_index: torch.Tensor,
                top_k_weights: torch.Tensor) -> torch.Tensor:
        """Each token's hidden states through its chosen experts, weighted by the router: the arithmetic of
        transformers' eager experts forward, with each expert's matrices quantized."""
        output = torch.zeros_like(hidden_states)
        with torch.no_grad():
            chosen = nn.functional.one_hot(top_k_index, num_classes=self.num_experts).permute(2, 1, 0)
            used = torch.greater(chosen.sum(dim=(-1, -2)), 0).nonzero()
        for expert in used[:, 0].tolist():
            rank, token = torch.where(chosen[expert])
            gate, up = self.gate_up[expert](hidden_states[token]).chunk(2, dim=-1)
            expert_output = self.down[expert](self.act_fn(gate) * up) * top_k_weights[token, rank, None]
            output.index_add_(0, token, expert_output.to(output.dtype))
        return output


def _linear(weights: torch.Tensor) -> nn.Linear:
    """An nn.Linear over one expert's [out, in] matrix (a view of the fused parameter, not a copy)."""
    with torch.device("meta"):
        linear = nn.Linear(weights.shape[1], weights.shape[0], bias=False, dtype=weights.dtype)
    linear.weight = nn.Parameter(weights, requires_grad=False)
    return linear
