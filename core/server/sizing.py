"""How many blocks a server takes when the user does not say: as many as fit in its free memory."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from core.config import Settings
from core.server.block_cost import BlockCost, block_cost, blocks_that_fit
from core.server.loading import ModelPlan
from core.server.resources import usable_bytes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fit:
    usable_bytes: int  # free memory of the device after the reserve
    cost: BlockCost  # one block with a session cache of server.max_length tokens
    blocks: int  # how many the server takes: as many as fit, at most the model's


def fit(plan: ModelPlan, settings: Settings, nvml: Any | None = None) -> Fit:
    """Blocks of `plan` whose weights and attention cache fit in the device's free memory after the reserve."""
    cost = block_cost(plan.family, plan.config, plan.dtype_name, plan.quantization, settings["server.max_length"])
    usable = usable_bytes(plan.device.type, plan.device.index or 0, settings["server.vram_reserve_gb"],
                          settings["server.ram_reserve_gb"], nvml)
    count = blocks_that_fit(usable, cost, plan.num_blocks)
    logger.info("%d of %d blocks fit (%.0f MiB each, %.0f MiB usable on %s)", count, plan.num_blocks,
                cost.total_bytes / 2**20, usable / 2**20, plan.device)
    return Fit(usable, cost, count)


def fitting_blocks(plan: ModelPlan, settings: Settings, nvml: Any | None = None) -> int:
    return fit(plan, settings, nvml).blocks
