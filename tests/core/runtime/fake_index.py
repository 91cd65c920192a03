"""Fake wheels, a PEP 503 index of them on disk, and an HTTP server for it on 127.0.0.1.

The fake torch is pure Python, so a test can tell it from the real (CPU) torch by `cuda_marker`.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import html
import http.server
import io
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, AnyStr

from packaging.tags import sys_tags
from packaging.utils import canonicalize_name

if TYPE_CHECKING:
    from _typeshed import SupportsRead, SupportsWrite

HERE_TAG = next(iter(sys_tags()))  # the most specific tag this interpreter accepts, like a real torch wheel
FAKE_TORCH = '''__version__ = "2.13.0+cu128"
cuda_marker = True


class _Cuda:
    @staticmethod
    def is_available():
        return True

    @staticmethod
    def device_count():
        return 1

    @staticmethod
    def get_device_name(index):
        return "Fake GPU"


cuda = _Cuda()
'''


@dataclass
class FakeWheel:
    project: str
    version: str
    files: dict[str, bytes | str]
    requires: list[str] = field(default_factory=list)
    tag: str = "py3-none-any"
    executables: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return f"{canonicalize_name(self.project).replace('-', '_')}-{self.version}-{self.tag}.whl"

    @property
    def metadata(self) -> str:
        lines = ["Metadata-Version: 2.1", f"Name: {self.project}", f"Version: {self.version}"]
        return "\n".join(lines + [f"Requires-Dist: {requirement}" for requirement in self.requires]) + "\n"

    def build(self) -> bytes:
        dist_info = f"{canonicalize_name(self.project).replace('-', '_')}-{self.version}.dist-info"
        entries = {**{name: _bytes(data) for name, data in self.files.items()},
                   f"{dist_info}/METADATA": self.metadata.encode(),
                   f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {self.tag}\n".encode()}
        record = [f"{name},sha256={_record_hash(data)},{len(data)}" for name, data in entries.items()]
        entries[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for name, data in entries.items():
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.external_attr = (0o755 if name in self.executables else 0o644) << 16
                archive.writestr(info, data)
        return buffer.getvalue()


def fake_torch(version: str = "2.13.0+cu128", init: str = FAKE_TORCH, requires: list[str] | None = None) -> FakeWheel:
    return FakeWheel("torch", version, {"torch/__init__.py": init, "torch/nn/__init__.py": "LINEAR = 'fake'\n",
                                        "torchgen/__init__.py": ""},
                     requires=requires if requires is not None else [
                         "nvidia-cublas-cu12==12.8.4.1; python_version >= '3'",
                         "numpy", "typing-extensions>=4.10.0", "opt-einsum>=3.3; extra == 'opt-einsum'",
                         "never-needed; sys_platform == 'nonexistent-os'"], tag=str(HERE_TAG))


def fake_cublas(payload: bytes = b"\x7fELF fake cublas") -> FakeWheel:
    return FakeWheel("nvidia-cublas-cu12", "12.8.4.1",
                     {"nvidia/cublas/__init__.py": "", "nvidia/cublas/lib/libcublas.so.12": payload,
                      "nvidia/cublas/bin/tool": "#!/bin/sh\n",
                      "nvidia_cublas_cu12-12.8.4.1.data/purelib/cublas_extra.py": "EXTRA = 1\n",
                      "nvidia_cublas_cu12-12.8.4.1.data/scripts/ignored": "#!/bin/sh\n"},
                     requires=["nvidia-cuda-runtime-cu12"], executables=("nvidia/cublas/bin/tool",))


def fake_cudart() -> FakeWheel:
    return FakeWheel("nvidia-cuda-runtime-cu12", "12.8.90", {"nvidia/cuda_runtime/lib/libcudart.so.12": b"fake"})


def decoys() -> list[FakeWheel]:
    """Wheels the fetcher must pass over: a newer torch, foreign platforms, an older cublas."""
    return [fake_torch("2.14.0+cu128"), FakeWheel("torch", "2.13.0+cu128", {"torch/__init__.py": "WRONG"},
                                                  tag="cp27-cp27m-win32"),
            FakeWheel("nvidia-cublas-cu12", "12.6.0.1", {"nvidia/cublas/old.py": ""})]


def write_index(root: Path, wheels: list[FakeWheel], bad_sha: tuple[str, ...] = (), missing: tuple[str, ...] = (),
                with_metadata: tuple[str, ...] = ("torch",)) -> Path:
    """Lay out root/files/*.whl and root/simple/<project>/index.html; returns root/simple."""
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    pages: dict[str, list[str]] = {}
    for wheel in wheels:
        data = wheel.build()
        if wheel.filename not in missing:
            (files / wheel.filename).write_bytes(data)
        digest = "0" * 64 if wheel.filename in bad_sha else hashlib.sha256(data).hexdigest()
        attributes = ""
        if wheel.project in with_metadata:
            (files / (wheel.filename + ".metadata")).write_text(wheel.metadata)
            attributes = f' data-dist-info-metadata="sha256={hashlib.sha256(wheel.metadata.encode()).hexdigest()}"'
        href = f"../../files/{urllib.parse.quote(wheel.filename)}#sha256={digest}"
        pages.setdefault(canonicalize_name(wheel.project), []).append(
            f'<a href="{html.escape(href)}"{attributes}>{html.escape(wheel.filename)}</a><br/>')
    for project, anchors in pages.items():
        page = root / "simple" / project
        page.mkdir(parents=True, exist_ok=True)
        (page / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "\n".join(anchors) + "\n</body></html>\n")
    return root / "simple"


class _Handler(http.server.SimpleHTTPRequestHandler):
    delay_per_chunk = 0.0

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass

    def copyfile(self, source: SupportsRead[AnyStr], outputfile: SupportsWrite[AnyStr]) -> None:
        while chunk := source.read(64 * 1024):
            outputfile.write(chunk)
            time.sleep(self.delay_per_chunk)


@contextmanager
def serve_directory(root: Path, delay_per_chunk: float = 0.0) -> Iterator[str]:
    """Serve `root` over HTTP on 127.0.0.1 in a thread; yields the base URL."""
    handler = type("Handler", (_Handler,), {"delay_per_chunk": delay_per_chunk})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
