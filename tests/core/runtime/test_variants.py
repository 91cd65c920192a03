"""The CUDA build table: the newest build the driver runs and every GPU's architecture supports."""
from __future__ import annotations

import pytest

from core.errors import UserFacingError
from core.runtime.variants import check_variant_name, choose_variant


@pytest.mark.parametrize(("driver", "capabilities", "expected"), [
    ((12, 8), [(8, 9)], "cu128"),
    ((12, 9), [(8, 6)], "cu128"),
    ((13, 1), [(12, 0)], "cu130"),
    ((12, 6), [(8, 6)], "cu126"),
    ((12, 4), [(8, 6)], None),  # a driver older than every build
    ((12, 8), [(6, 1)], "cu126"),  # Pascal: newer builds dropped it
    ((13, 0), [(8, 9), (7, 0)], "cu128"),  # the oldest GPU decides (Volta left cu130)
    ((12, 8), [], "cu128"),  # capability unknown: the driver decides
])
def test_choose_variant(driver, capabilities, expected):
    chosen = choose_variant(driver, capabilities)
    assert (chosen.name if chosen else None) == expected


def test_variant_names_are_checked():
    assert check_variant_name("cpu") == "cpu"
    assert check_variant_name("cu129") == "cu129"  # not in the table, but an index may offer it
    for wrong in ("cuda12", "cu128/../x", "cu12", "cu128\n"):
        with pytest.raises(UserFacingError, match="cu126, cu128, cu130"):
            check_variant_name(wrong)
