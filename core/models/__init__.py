"""Architectures Meadow can serve: one module per architecture, registered here by model_type."""
from __future__ import annotations

from transformers import PretrainedConfig

from core.errors import UserFacingError
from core.models.bloom import BLOOM
from core.models.falcon import FALCON
from core.models.family import ModelFamily
from core.models.gemma2 import GEMMA2
from core.models.gemma3 import GEMMA3
from core.models.llama import LLAMA, MISTRAL
from core.models.mixtral import MIXTRAL
from core.models.phi3 import PHI3
from core.models.qwen2 import QWEN2
from core.models.qwen3 import QWEN3
from core.models.qwen3_moe import QWEN3_MOE

FAMILIES: tuple[ModelFamily, ...] = (LLAMA, MISTRAL, MIXTRAL, QWEN2, QWEN3, QWEN3_MOE, PHI3, GEMMA2, GEMMA3, BLOOM,
                                     FALCON)


def supported_model_types() -> list[str]:
    return [model_type for family in FAMILIES for model_type in family.model_types]


def family_for(config: PretrainedConfig) -> ModelFamily:
    return family_of(str(config.model_type))


def family_of(model_type: str) -> ModelFamily:
    """The family serving `model_type`; UserFacingError listing the supported ones if none does."""
    for family in FAMILIES:
        if model_type in family.model_types:
            return family
    raise UserFacingError(f"Architecture {model_type!r} is not supported yet "
                          f"(supported: {', '.join(supported_model_types())}).")
