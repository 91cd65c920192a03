"""How many blocks a server takes when the user does not say: as many as fit in its free memory."""
from __future__ import annotations

import logging
from typing import Any

from core.config import Settings
from core.server.block_cost import block_cost, blocks_that_fit
from core.server.loading import ModelPlan
from core.server.resources import usable_bytes

logger = logging.getLogger(__name__)


def fitting_blocks(plan: ModelPlan, settings: Settings, nvml: Any | None = None) -> int:
    """Blocks of `plan` whose weights and attention cache fit in the device's free memory after the reserve."""
    cost = block_cost(plan.family, plan.config, plan.dtype_name, "none", settings["server.max_length"])
    usable = usable_bytes(plan.device.type, plan.device.index or 0, settings["server.vram_reserve_gb"],
                          settings["server.ram_reserve_gb"], nvml)
    count = blocks_that_fit(usable, cost, plan.num_blocks)
    logger.info("%d of %d blocks fit (%.0f MiB each, %.0f MiB usable on %s)", count, plan.num_blocks,
                cost.total_bytes / 2**20, usable / 2**20, plan.device)
    return count
