"""Error kinds shared by every boundary: user-facing errors carry a message that says what to do next."""
from __future__ import annotations


class UserFacingError(Exception):
    """An error the user can act on; printed without a traceback."""


class SettingsError(UserFacingError):
    """A setting value or the settings file is invalid."""


class ModelNotFoundError(UserFacingError):
    """A model id resolves to nothing usable."""


class MissingBlocksError(UserFacingError):
    """No server in the swarm holds some blocks of the model."""

    def __init__(self, model: str, missing: list[int], num_blocks: int):
        self.model = model
        self.missing = missing
        self.num_blocks = num_blocks
        ranges = format_ranges(missing)
        super().__init__(
            f"No server in the swarm holds blocks {ranges} of {model} ({len(missing)} of {num_blocks} blocks missing). "
            f"Start one with `meadow serve --model {model} --blocks {missing[0]}:{contiguous_end(missing)}`, "
            f"or check that --initial-peers / --swarm point at the right swarm."
        )


class RemoteCallError(Exception):
    """A server refused or failed a call (its message says why)."""


def contiguous_end(indices: list[int]) -> int:
    end = indices[0] + 1
    while end in indices:
        end += 1
    return end


def format_ranges(indices: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    parts: list[str] = []
    start: int | None = None
    prev = 0
    for index in sorted(indices):
        if start is None:
            start = prev = index
        elif index == prev + 1:
            prev = index
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = index
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)
