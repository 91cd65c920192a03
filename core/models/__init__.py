"""Architectures Meadow can serve: one module per architecture, registered here by model_type."""
from __future__ import annotations

from transformers import PretrainedConfig

from core.errors import UserFacingError
from core.models.family import ModelFamily
from core.models.llama import LLAMA, MISTRAL

FAMILIES: tuple[ModelFamily, ...] = (LLAMA, MISTRAL)


def family_for(config: PretrainedConfig) -> ModelFamily:
    for family in FAMILIES:
        if config.model_type in family.model_types:
            return family
    supported = ", ".join(t for family in FAMILIES for t in family.model_types)
    raise UserFacingError(f"Architecture {config.model_type!r} is not supported yet (supported: {supported}).")
