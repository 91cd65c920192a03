"""Activation in fresh interpreters: the fetched torch wins over the installed one and over a frozen importer,
`--cpu` bypasses it, and a build that fails to import is reported and skipped from the next start on."""
from __future__ import annotations

import json
from pathlib import Path

from core.runtime.layout import MANIFEST, python_tag
from core.runtime.unpack import unpack_wheel
from tests.core.runtime.cli_runs import FIND_TORCH, IMPORT_TORCH, meadow, python
from tests.core.runtime.fake_index import FakeWheel, fake_cublas, fake_torch

GREEDY_FROZEN_IMPORTER = """
import importlib.machinery, importlib.util, json, sys

class FrozenLike:  # claims torch before the path finder, as PyInstaller < 6 put its importer in sys.meta_path
    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torch":
            return importlib.util.spec_from_loader(fullname, self)
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        module.cuda_marker = False
        module.__version__ = "2.13.0+cpu"

sys.meta_path.insert(0, FrozenLike())
from core.runtime.activate import activate_runtime
variant = activate_runtime() if sys.argv[-1] == "activate" else None
import torch
print(json.dumps({"variant": variant, "cuda_marker": torch.cuda_marker, "version": torch.__version__}))
"""


def install_directly(home: Path, wheels: list[FakeWheel], variant: str = "cu128", torch_version: str = "2.13.0+cu128",
                     python: str | None = None, active: bool = True) -> Path:
    """What `install-cuda` leaves behind, built without HTTP (the fetch tests cover that path)."""
    site = home / "runtime" / f"torch-{variant}"
    site.mkdir(parents=True)
    for wheel in wheels:
        archive = site.parent / wheel.filename
        archive.write_bytes(wheel.build())
        unpack_wheel(archive, site)
        archive.unlink()
    manifest = {"variant": variant, "torch_version": torch_version, "python": python or python_tag()}
    (site / MANIFEST).write_text(json.dumps(manifest))
    if active:
        (home / "runtime" / "active").write_text(variant + "\n")
    return site


def test_the_fetched_torch_wins_over_a_frozen_importer_in_front(tmp_path):
    home = tmp_path / "home"
    install_directly(home, [fake_torch(), fake_cublas()])
    code, seen, stderr = python(home, GREEDY_FROZEN_IMPORTER.replace("sys.argv[-1]", "'plain'"))
    assert code == 0 and seen == {"variant": None, "cuda_marker": False, "version": "2.13.0+cpu"}, stderr
    code, seen, stderr = python(home, GREEDY_FROZEN_IMPORTER.replace("sys.argv[-1]", "'activate'"))
    assert code == 0 and seen == {"variant": "cu128", "cuda_marker": True, "version": "2.13.0+cu128"}, stderr


def test_cpu_flag_and_environment_bypass_the_fetched_torch(tmp_path):
    home = tmp_path / "home"
    site = install_directly(home, [fake_torch(), fake_cublas()])
    code, seen, _ = python(home, FIND_TORCH)
    assert code == 0 and seen == {"variant": "cu128", "origin": str(site / "torch" / "__init__.py")}
    code, seen, _ = python(home, FIND_TORCH, MEADOW_TORCH="cpu")
    assert code == 0 and seen["variant"] is None and not seen["origin"].startswith(str(home))
    status = meadow(home, "--cpu", "runtime", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["bypass"] == "cpu"  # children of this process inherit the bypass


def test_a_build_that_fails_to_import_is_reported_then_skipped(tmp_path):
    home = tmp_path / "home"
    install_directly(home, [fake_torch(init="raise OSError('libcudart.so.12: cannot open shared object file')\n")])
    code, _, stderr = python(home, IMPORT_TORCH)
    assert code != 0
    assert "the CUDA build of torch (cu128" in stderr and "libcudart.so.12" in stderr
    assert "bundled CPU torch from the next start on" in stderr
    assert json.loads((home / "runtime" / "failed.json").read_text())["variant"] == "cu128"

    code, seen, stderr = python(home, FIND_TORCH)  # the next start: not silent, and the bundled torch
    assert code == 0 and seen["variant"] is None and not seen["origin"].startswith(str(home))
    assert "failed to load at an earlier start" in stderr and "meadow runtime use cu128" in stderr
    status = json.loads(meadow(home, "runtime", "status", "--json").stdout)
    assert status["active"] == "cu128" and "failed to load" in status["problem"]

    again = meadow(home, "runtime", "use", "cu128")  # the check in a child still fails: nothing changes
    assert again.returncode == 2 and "does not load" in again.named("error")[0]["message"]
    assert (home / "runtime" / "failed.json").exists()
    switched = meadow(home, "runtime", "use", "cpu")
    assert switched.returncode == 0 and switched.named("activated") == [{"event": "activated", "variant": "cpu"}]
    code, seen, stderr = python(home, FIND_TORCH)
    assert code == 0 and seen["variant"] is None and "meadow:" not in stderr


def test_stale_or_missing_builds_are_skipped_with_a_message(tmp_path):
    old_torch = tmp_path / "old"
    install_directly(old_torch, [fake_torch("2.12.0+cu128")], torch_version="2.12.0+cu128")
    other_python = tmp_path / "other"
    install_directly(other_python, [fake_torch()], python="cp27")
    missing = tmp_path / "missing"
    (missing / "runtime").mkdir(parents=True)
    (missing / "runtime" / "active").write_text("cu126\n")
    garbage = tmp_path / "garbage"
    (garbage / "runtime").mkdir(parents=True)
    (garbage / "runtime" / "active").write_text("../../elsewhere\n")
    for home, expected in ((old_torch, "is torch 2.12.0, but this Meadow needs torch 2.13.0"),
                           (other_python, "was fetched for cp27"), (missing, "cu126 is not installed"),
                           (garbage, "which is not cpu or a cuXYZ build")):
        code, seen, stderr = python(home, FIND_TORCH)
        assert code == 0 and seen["variant"] is None, stderr
        assert expected in stderr and "using the bundled CPU torch" in stderr


def test_use_checks_the_build_in_a_child_before_switching(tmp_path):
    home = tmp_path / "home"
    install_directly(home, [fake_torch(), fake_cublas()], active=False)
    run = meadow(home, "runtime", "use", "cu128")
    assert run.returncode == 0, run.stderr
    assert [event["event"] for event in run.events] == ["torch_checked", "activated"]
    assert run.named("torch_checked")[0]["torch_version"] == "2.13.0+cu128"
    code, seen, stderr = python(home, IMPORT_TORCH)
    assert code == 0 and seen["cuda_marker"] and seen["nn"] == "fake", stderr
    checked = meadow(home, "runtime", "check")  # the active build, with no override
    assert checked.returncode == 0 and checked.named("torch_checked")[0]["variant"] == "cu128", checked.stderr
