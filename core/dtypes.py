"""The float dtypes blocks are served in, by the names settings, CLI flags and DHT records use."""
from __future__ import annotations

import torch

FLOAT_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
