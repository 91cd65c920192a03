"""Secrets in the real OS keyring (Secret Service under dbus-run-session in CI), and the no-backend path.

These tests fail, never skip, without a usable keyring: `make test` runs them inside a D-Bus session with an
unlocked gnome-keyring.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import ClassVar

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from core.errors import UserFacingError
from core.swarm.secrets import (
    SERVICE,
    KeyringSecrets,
    KeyringUnavailable,
    MemorySecrets,
    decode_secret,
    encode_secret,
    os_keyring,
)

SECRET = os.urandom(32)


class _PlaintextDict(KeyringBackend):
    """Stands in for a plaintext-file backend (keyrings.alt): it works, but must be refused."""

    priority = 1
    values: ClassVar[dict[tuple[str, str], str]] = {}

    def get_password(self, service, username):
        return self.values.get((service, username))

    def set_password(self, service, username, password):
        self.values[(service, username)] = password

    def delete_password(self, service, username):
        self.values.pop((service, username), None)


class _EmptyChainer(chainer.ChainerBackend):
    backends: ClassVar[list[KeyringBackend]] = []


@pytest.fixture
def namespace():
    name = f"test-{uuid.uuid4().hex}"
    yield name
    KeyringSecrets().delete(name)


def test_the_os_keyring_is_secret_service():
    backend = os_keyring()
    assert type(backend).__module__ in ("keyring.backends.SecretService", "keyring.backends.libsecret"), backend


def test_keyring_round_trip_under_service_meadow(namespace):
    secrets = KeyringSecrets()
    secrets.put(namespace, SECRET)
    assert secrets.get(namespace, "team") == SECRET
    assert keyring.get_password(SERVICE, namespace) == encode_secret(SECRET)  # really in the OS store
    secrets.delete(namespace)
    secrets.delete(namespace)  # deleting twice is fine
    with pytest.raises(UserFacingError, match="holds no secret for swarm 'team'"):
        secrets.get(namespace, "team")


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring(), _PlaintextDict(), _EmptyChainer()],
                         ids=["fail", "null", "plaintext", "empty-chainer"])
def test_no_usable_backend_is_a_clear_error_and_nothing_is_written(backend, namespace):
    original = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        with pytest.raises(KeyringUnavailable, match="gnome-keyring-daemon --unlock"):
            KeyringSecrets().put(namespace, SECRET)
        with pytest.raises(KeyringUnavailable):
            KeyringSecrets().get(namespace, "team")
    finally:
        keyring.set_keyring(original)
    assert _PlaintextDict.values == {}
    assert keyring.get_password(SERVICE, namespace) is None


def test_cli_without_a_backend_fails_clearly_and_stores_nothing(tmp_path):
    env = {**os.environ, "MEADOW_HOME": str(tmp_path), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    done = subprocess.run([sys.executable, "-m", "core", "swarm", "create", "team"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "No usable OS keyring" in done.stderr and "dbus-run-session" in done.stderr
    assert not (tmp_path / "swarms.json").exists()


def test_memory_secrets_for_a_supervisor():
    secrets = MemorySecrets()
    secrets.put("ns", SECRET)
    assert secrets.get("ns", "team") == SECRET and "ns" not in repr(secrets)
    secrets.delete("ns")
    with pytest.raises(UserFacingError, match="join it again"):
        secrets.get("ns", "team")


def test_secret_text_form():
    assert decode_secret(encode_secret(SECRET) + "\n") == SECRET
    for bad in ("", "!!!", encode_secret(b"short")):
        with pytest.raises(UserFacingError, match="malformed"):
            decode_secret(bad)
