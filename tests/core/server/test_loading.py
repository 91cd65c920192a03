"""Where a server's blocks run and in what number format, when the user leaves it to `auto`."""
from __future__ import annotations

import sys

import pytest
import torch

from core.errors import UserFacingError
from core.server.loading import choose_device_and_dtype, plan_model
from tests.helpers.tiny_models import save_tiny_llama


@pytest.mark.parametrize("device, dtype, cuda, bfloat16, expected", [
    ("auto", "auto", True, True, ("cuda", "bfloat16")),
    ("auto", "auto", True, False, ("cuda", "float16")),  # a GPU older than Ampere
    ("auto", "auto", False, False, ("cpu", "float32")),
    ("cpu", "auto", True, True, ("cpu", "float32")),  # the user keeps the GPU for themselves
    ("auto", "float32", True, True, ("cuda", "float32")),
    ("cuda", "bfloat16", False, False, ("cuda", "bfloat16")),  # explicit: refused later, with a clear error
])
def test_auto_prefers_the_gpu_and_its_fastest_format(device, dtype, cuda, bfloat16, expected):
    assert choose_device_and_dtype(device, dtype, cuda, bfloat16) == expected


def test_auto_on_this_cpu_only_torch_plans_float32_on_cpu(tmp_path):
    assert not torch.cuda.is_available()
    plan = plan_model(str(save_tiny_llama(tmp_path / "tiny")), "auto", "auto")
    assert plan.device == torch.device("cpu") and plan.dtype_name == "float32"
    with pytest.raises(UserFacingError, match="needs an NVIDIA GPU"):
        plan_model(str(tmp_path / "tiny"), "cuda", "auto")


def test_quantization_without_bitsandbytes_is_refused_before_anything_loads(tmp_path, monkeypatch):
    model = str(save_tiny_llama(tmp_path / "tiny"))
    assert plan_model(model, "cpu", "float32", "int8").quantization == "int8"
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # makes `import bitsandbytes` fail
    with pytest.raises(UserFacingError, match="pip install bitsandbytes"):
        plan_model(model, "cpu", "float32", "nf4")
