"""`meadow runtime install-cuda` against a local PEP 503 index: the real CLI in a child, real HTTP on 127.0.0.1."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from tests.core.runtime.cli_runs import FIND_TORCH, IMPORT_TORCH, environment, meadow, python
from tests.core.runtime.fake_index import decoys, fake_cublas, fake_cudart, fake_torch, serve_directory, write_index


def _install(home: Path, index_url: str, timeout: float = 120):
    return meadow(home, "runtime", "install-cuda", "--variant", "cu128", "--index-url", index_url, timeout=timeout)


def _assert_nothing_installed(home: Path) -> None:
    runtime = home / "runtime"
    leftovers = sorted(path.name for path in runtime.iterdir()) if runtime.exists() else []
    assert leftovers == [], leftovers


def test_install_fetches_torch_and_the_requirements_the_bundle_lacks(tmp_path):
    wheels = [fake_torch(), fake_cublas(), fake_cudart(), *decoys()]
    index = write_index(tmp_path / "index", wheels)
    home = tmp_path / "home"
    with serve_directory(tmp_path / "index") as base:
        run = _install(home, f"{base}/{index.name}")
    assert run.returncode == 0, run.stderr
    resolved = run.named("resolved")[0]
    assert resolved["files"] == [wheels[0].filename, wheels[1].filename, wheels[2].filename]
    assert {"numpy", "typing-extensions"} <= set(resolved["from_bundle"])
    finals = {event["file"]: event for event in run.named("downloading") if event["done"] == event["total"] > 0}
    assert set(finals) == set(resolved["files"])
    assert [event["event"] for event in run.events[-3:]] == ["installed", "torch_checked", "activated"]
    site = home / "runtime" / "torch-cu128"
    assert run.named("installed")[0] == {"event": "installed", "variant": "cu128", "path": str(site),
                                         "torch_version": "2.13.0+cu128"}
    checked = run.named("torch_checked")[0]
    assert checked["cuda_available"] and checked["devices"] == ["Fake GPU"] and checked["path"] == str(site / "torch")
    assert (site / "torch" / "__init__.py").read_text().startswith('__version__ = "2.13.0+cu128"')
    assert (site / "nvidia" / "cublas" / "lib" / "libcublas.so.12").read_bytes() == b"\x7fELF fake cublas"
    assert (site / "nvidia" / "cuda_runtime" / "lib" / "libcudart.so.12").exists()
    assert (site / "cublas_extra.py").exists() and not (site / "ignored").exists()  # .data/purelib only
    assert os.stat(site / "nvidia" / "cublas" / "bin" / "tool").st_mode & stat.S_IXUSR
    assert not (site / "nvidia" / "cublas" / "old.py").exists()  # the older cublas decoy was passed over
    assert sorted(path.name for path in (home / "runtime").iterdir()) == ["active", "torch-cu128"]
    assert (home / "runtime" / "active").read_text().strip() == "cu128"

    code, seen, stderr = python(home, IMPORT_TORCH)
    assert code == 0, stderr
    assert seen == {"variant": "cu128", "file": str(site / "torch" / "__init__.py"), "cuda_marker": True,
                    "nn": "fake", "metadata": "2.13.0+cu128"}

    status = meadow(home, "runtime", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert '"installed": ["cu128"]' in status.stdout and '"active": "cu128"' in status.stdout
    text = meadow(home, "runtime", "status").stdout
    assert "Installed:       cu128" in text and "Active:          cu128\n" in text


def test_a_sha256_mismatch_fails_clearly_and_installs_nothing(tmp_path):
    cudart = fake_cudart()
    index = write_index(tmp_path / "index", [fake_torch(), fake_cublas(), cudart], bad_sha=(cudart.filename,))
    home = tmp_path / "home"
    with serve_directory(tmp_path / "index") as base:
        run = _install(home, f"{base}/{index.name}")
    assert run.returncode == 2
    message = run.named("error")[0]["message"]
    assert cudart.filename in message and "sha256" in message and "Try again" in message
    _assert_nothing_installed(home)


def test_a_missing_file_fails_clearly_and_installs_nothing(tmp_path):
    cublas = fake_cublas()
    index = write_index(tmp_path / "index", [fake_torch(), cublas, fake_cudart()], missing=(cublas.filename,))
    home = tmp_path / "home"
    with serve_directory(tmp_path / "index") as base:
        run = _install(home, f"{base}/{index.name}")
    assert run.returncode == 2
    message = run.named("error")[0]["message"]
    assert "404" in message and "nvidia_cublas_cu12" in message and "--index-url" in message
    _assert_nothing_installed(home)


def test_an_index_without_this_torch_version_names_what_is_missing(tmp_path):
    index = write_index(tmp_path / "index", [fake_torch("2.12.0+cu128"), fake_cublas(), fake_cudart()])
    home = tmp_path / "home"
    with serve_directory(tmp_path / "index") as base:
        run = _install(home, f"{base}/{index.name}")
        unreachable = _install(home, f"{base}/nothing-here", timeout=60)
    assert run.returncode == 2
    assert "has no wheel of torch==2.13.0" in run.named("error")[0]["message"]
    assert unreachable.returncode == 2 and "404" in unreachable.named("error")[0]["message"]
    _assert_nothing_installed(home)


def test_cancelling_a_download_leaves_nothing_behind(tmp_path):
    big = fake_cublas(payload=os.urandom(4 << 20))  # about 64 slow chunks
    index = write_index(tmp_path / "index", [fake_torch(), big, fake_cudart()])
    home = tmp_path / "home"
    with serve_directory(tmp_path / "index", delay_per_chunk=0.05) as base:
        process = subprocess.Popen(
            [sys.executable, "-m", "core", "runtime", "install-cuda", "--variant", "cu128", "--index-url",
             f"{base}/{index.name}"], env=environment(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for line in process.stdout:
                if '"downloading"' in line and big.filename in line:
                    break
            time.sleep(0.3)
            assert any(path.name.startswith(".staging-") for path in (home / "runtime").iterdir())
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 130
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    _assert_nothing_installed(home)


def test_a_build_that_does_not_import_is_installed_but_not_activated(tmp_path):
    broken = fake_torch(init="raise ImportError('libcudart.so.12: cannot open shared object file')\n")
    write_index(tmp_path / "good", [fake_torch(), fake_cublas(), fake_cudart()])
    write_index(tmp_path / "bad", [broken, fake_cublas(), fake_cudart()])
    home, reinstalled = tmp_path / "home", tmp_path / "reinstalled"
    with serve_directory(tmp_path) as base:
        run = _install(home, f"{base}/bad/simple")
        assert _install(reinstalled, f"{base}/good/simple").returncode == 0
        over_the_active_one = _install(reinstalled, f"{base}/bad/simple")
    assert run.returncode == 2
    assert [event["event"] for event in run.events][-2:] == ["installed", "error"]
    message = run.named("error")[0]["message"]
    assert "does not load" in message and "libcudart.so.12" in message
    assert not (home / "runtime" / "active").exists()
    assert not (home / "runtime" / "failed.json").exists()  # nothing was active, so no start needs to skip it

    # Replacing the active build with a broken one: the next starts skip it (with a message), not crash.
    assert over_the_active_one.returncode == 2
    assert (reinstalled / "runtime" / "active").read_text().strip() == "cu128"
    code, seen, stderr = python(reinstalled, FIND_TORCH)
    assert code == 0 and seen["variant"] is None and not seen["origin"].startswith(str(reinstalled)), stderr
    assert "failed to load at an earlier start" in stderr
