"""A fast index of a GGUF file's tensors: reads the header, skips metadata values, maps tensor data.

gguf.GGUFReader decodes every metadata value (the whole vocabulary) on open, which takes seconds;
servers only need the tensor table and the architecture name. The tensor arrays here have the same
dtype and shape as GGUFReader's, so gguf.dequantize treats them identically.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf.quants import quant_shape_to_byte_shape

_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
_PLAIN_TYPES = {
    GGMLQuantizationType.F16: np.float16, GGMLQuantizationType.F32: np.float32, GGMLQuantizationType.F64: np.float64,
    GGMLQuantizationType.I8: np.int8, GGMLQuantizationType.I16: np.int16, GGMLQuantizationType.I32: np.int32,
    GGMLQuantizationType.I64: np.int64,
}


@dataclass(frozen=True)
class IndexedTensor:
    name: str
    tensor_type: GGMLQuantizationType
    data: np.ndarray  # a view into the memory-mapped file


class GGUFIndex:
    def __init__(self, path: Path):
        self._memory = np.memmap(path, mode="r", dtype=np.uint8)
        self._buffer = memoryview(self._memory.data)  # the memmap's own buffer, as memoryview(memmap) gives
        self.architecture = ""
        self.alignment = 32
        self.tensors = self._parse()

    def _parse(self) -> list[IndexedTensor]:
        offset = 0

        def take(fmt: str) -> tuple[Any, ...]:
            nonlocal offset
            values = struct.unpack_from("<" + fmt, self._buffer, offset)
            offset += struct.calcsize("<" + fmt)
            return values

        def take_string() -> str:
            nonlocal offset
            (length,) = take("Q")
            text = bytes(self._buffer[offset:offset + length]).decode("utf-8", errors="replace")
            offset += length
            return text

        def skip_value(value_type: int) -> None:
            nonlocal offset
            if value_type == _STRING:
                (length,) = take("Q")
                offset += length
            elif value_type == _ARRAY:
                item_type, count = take("IQ")
                if item_type in _SCALAR_SIZES:
                    offset += _SCALAR_SIZES[item_type] * count
                else:
                    for _ in range(count):
                        skip_value(item_type)
            else:
                offset += _SCALAR_SIZES[value_type]

        magic, version, tensor_count, kv_count = take("4sIQQ")
        if magic != b"GGUF" or version < 2:
            raise ValueError("not a GGUF (v2+) file")
        for _ in range(kv_count):
            key = take_string()
            (value_type,) = take("I")
            if key == "general.architecture" and value_type == _STRING:
                self.architecture = take_string()
            elif key == "general.alignment" and value_type == 4:
                (self.alignment,) = take("I")
            else:
                skip_value(value_type)
        infos = []
        for _ in range(tensor_count):
            name = take_string()
            (n_dims,) = take("I")
            dims = take("Q" * n_dims)
            raw_type, data_offset = take("IQ")
            infos.append((name, dims, GGMLQuantizationType(raw_type), data_offset))
        data_start = -(-offset // self.alignment) * self.alignment
        return [self._tensor(name, dims, kind, data_start + rel) for name, dims, kind, rel in infos]

    def _tensor(self, name: str, dims: tuple[int, ...], kind: GGMLQuantizationType, start: int) -> IndexedTensor:
        elements = int(np.prod(dims))
        shape = tuple(reversed(dims))
        if kind in _PLAIN_TYPES:
            item_type = np.dtype(_PLAIN_TYPES[kind])
            count = elements
        else:
            block_size, type_size = GGML_QUANT_SIZES[kind]
            item_type, count = np.dtype(np.uint8), elements * type_size // block_size
            shape = quant_shape_to_byte_shape(shape, kind)
        data = self._memory[start:start + count * item_type.itemsize].view(item_type).reshape(shape)
        return IndexedTensor(name, kind, data)
