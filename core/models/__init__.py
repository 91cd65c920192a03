"""Architectures Meadow can serve: one module per architecture, registered here by model_type."""
from __future__ import annotations

from transformers import PretrainedConfig

from core.errors import UserFacingError
from core.models.family import ModelFamily
from core.models.llama import LLAMA, MISTRAL

FAMILIES: tuple[ModelFamily, ...] = (LLAMA, MISTRAL)


def supported_model_types() -> list[str]:
    return [model_type for family in FAMILIES for model_type in family.model_types]


def family_for(config: PretrainedConfig) -> ModelFamily:
    for family in FAMILIES:
        if config.model_type in family.model_types:
            return family
    raise UserFacingError(f"Architecture {config.model_type!r} is not supported yet "
                          f"(supported: {', '.join(supported_model_types())}).")
