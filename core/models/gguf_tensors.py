"""Reading a GGUF checkpoint's tensors by their model names, as transformers' GGUF loader reads them.

The names, the dequantization and each architecture's corrections (Q/K un-permutation for Llama, BLOOM's
fused QKV layout, Gemma's norms stored as w + 1, MoE experts written per projection) are transformers' own:
its name map and tensor processors. Only the tensors behind the requested names are read from the
memory-mapped file.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedModel

from core.models.gguf_index import GGUFIndex

ProgressCallback = Callable[[int, int], None]
_BLOCK = re.compile(r"^blk\.(\d+)\.")


class GGUFNames:
    """A GGUF file's tensors, each mapped to the model name transformers' GGUF loader gives it."""

    def __init__(self, path: Path, model: PreTrainedModel):
        from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, TensorProcessor, get_gguf_hf_weights_map

        self.index = GGUFIndex(path)  # memory-mapped: tensors not asked for are never read
        self.config = model.config.to_dict()
        processor_class: type[TensorProcessor] = TENSOR_PROCESSORS.get(self.index.architecture, TensorProcessor)
        self.processor = processor_class(config=self.config)
        self.mapping: dict[str, str] = get_gguf_hf_weights_map(model, self.processor)
        # Experts are mapped by their name without ".weight" (the processor writes them into place itself).
        self.model_names = {tensor.name: self.mapping.get(tensor.name, self.mapping.get(_stem(tensor.name)))
                            for tensor in self.index.tensors}

    @property
    def block_indices(self) -> set[int]:
        """The blocks the file holds tensors of (llama.cpp names them blk.N.*)."""
        return {int(match.group(1)) for tensor in self.index.tensors if (match := _BLOCK.match(tensor.name))}

    def read(self, names: set[str], progress: ProgressCallback | None = None) -> dict[str, torch.Tensor]:
        from gguf import dequantize

        wanted = [tensor for tensor in self.index.tensors if self.model_names[tensor.name] in names]
        parsed: dict[str, Any] = {"tensors": {}, "config": self.config}
        tensors: dict[str, torch.Tensor] = {}
        for done, tensor in enumerate(wanted, start=1):
            # The same steps, in the same order, as transformers' load_gguf_checkpoint.
            weights = dequantize(tensor.data, tensor.tensor_type)
            result = self.processor.process(weights=weights, name=tensor.name, tensor_key_mapping=self.mapping,
                                            parsed_parameters=parsed)
            if result.name in self.mapping:
                tensors[self.mapping[result.name]] = torch.from_numpy(np.copy(result.weights))
            if progress:
                progress(done, len(wanted))
        tensors.update(parsed["tensors"])  # fused experts, assembled by the processor
        return tensors


def _stem(name: str) -> str:
    return name.removesuffix(".weight")
