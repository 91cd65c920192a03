"""Choosing the wheel that fits this interpreter, reading requirements, unpacking safely."""
from __future__ import annotations

import zipfile

import pytest
from packaging.requirements import Requirement

from core.errors import UserFacingError
from core.runtime.index import FileLink
from core.runtime.resolve import is_present
from core.runtime.unpack import unpack_wheel
from core.runtime.wheels import best_wheel, requirements_of, wheel_metadata
from tests.core.runtime.fake_index import HERE_TAG, fake_cublas

HERE = str(HERE_TAG)


def _links(*names: str, **options) -> list[FileLink]:
    return [FileLink(name, f"https://i.example/{name}", **options) for name in names]


def test_the_newest_fitting_version_and_the_most_specific_tag_win():
    links = _links(f"torch-2.13.0+cu128-{HERE}.whl", "torch-2.13.0+cu128-py3-none-any.whl",
                   "torch-2.13.0+cu128-cp27-cp27m-win32.whl", f"torch-2.14.0+cu128-{HERE}.whl",
                   "torch-2.13.0.tar.gz", "nvidia_cublas_cu12-12.8-py3-none-any.whl", "not a wheel.whl")
    chosen = best_wheel(links, Requirement("torch==2.13.0"))  # a local version (+cu128) matches ==2.13.0
    assert chosen is not None and chosen.link.filename == f"torch-2.13.0+cu128-{HERE}.whl"
    assert best_wheel(links, Requirement("torch>=2")).link.filename == f"torch-2.14.0+cu128-{HERE}.whl"
    assert best_wheel(links, Requirement("torch==2.12.0")) is None


def test_yanked_files_and_foreign_pythons_are_passed_over():
    assert best_wheel(_links("a-1.0-py3-none-any.whl", yanked=True), Requirement("a")) is None
    assert best_wheel(_links("a-1.0-py3-none-any.whl", requires_python=">=4"), Requirement("a")) is None
    assert best_wheel(_links("a-1.0-py3-none-any.whl", requires_python=">=3.8"), Requirement("a")) is not None


def test_requirements_keep_those_whose_markers_hold_here():
    metadata = ("Metadata-Version: 2.1\nName: torch\nVersion: 2.13.0\nRequires-Dist: filelock\n"
                "Requires-Dist: nvidia-cublas-cu12==12.8.4.1; python_version >= '3'\n"
                "Requires-Dist: opt-einsum>=3.3; extra == 'opt-einsum'\n"
                "Requires-Dist: never; sys_platform == 'nonexistent-os'\n")
    assert [str(req) for req in requirements_of(metadata, "torch.whl")] == [
        "filelock", 'nvidia-cublas-cu12==12.8.4.1; python_version >= "3"']
    with pytest.raises(UserFacingError, match="unreadable requirement"):
        requirements_of("Requires-Dist: ???\n", "bad.whl")


def test_unpack_maps_data_dirs_and_refuses_unsafe_paths(tmp_path):
    wheel = tmp_path / "cublas.whl"
    wheel.write_bytes(fake_cublas().build())
    assert "Name: nvidia-cublas-cu12" in wheel_metadata(wheel)
    site = tmp_path / "site"
    unpack_wheel(wheel, site)
    assert (site / "cublas_extra.py").exists() and (site / "nvidia" / "cublas" / "lib" / "libcublas.so.12").exists()
    evil = tmp_path / "evil.whl"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../outside.py", "")
    with pytest.raises(UserFacingError, match="unsafe path"):
        unpack_wheel(evil, tmp_path / "site2")
    assert not (tmp_path / "outside.py").exists()
    (tmp_path / "broken.whl").write_bytes(b"not a zip")
    with pytest.raises(UserFacingError, match="not a valid wheel"):
        wheel_metadata(tmp_path / "broken.whl")


def test_requirements_the_running_program_can_import_come_from_it(tmp_path):
    assert is_present("numpy", tmp_path) and is_present("typing-extensions", tmp_path)
    assert is_present("PyYAML", tmp_path)  # through its distribution metadata (its module is `yaml`)
    assert not is_present("nvidia-cublas-cu12", tmp_path) and not is_present("triton-nonexistent", tmp_path)
