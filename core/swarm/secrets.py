"""Where private-swarm secrets live: the OS keyring (service `meadow`), or memory for a supervisor.

Only real OS stores count: Secret Service (GNOME Keyring, KWallet's bridge), macOS Keychain, Windows
Credential Manager, KWallet. keyring's fail, null and chainer-of-nothing backends, and third-party
plaintext files, are refused with a message that names the fix: a secret in a file anyone who copies
the disk can read is worse than no private swarm. Entries are keyed by the swarm's namespace (unique,
unlike its display name). Secrets are never logged.
"""
from __future__ import annotations

import base64
import os
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

import contextlib

from core.errors import UserFacingError

SERVICE = "meadow"
_OS_BACKENDS = ("keyring.backends.SecretService", "keyring.backends.libsecret", "keyring.backends.macOS",
                "keyring.backends.Windows", "keyring.backends.kwallet")
_FIX = ("Meadow keeps swarm secrets only in the OS keyring. On Linux install and unlock one: "
        "`sudo apt install gnome-keyring` in a desktop session; on a headless machine or over SSH run Meadow inside "
        "`dbus-run-session -- sh -c 'echo -n PASSWORD | gnome-keyring-daemon --unlock --components=secrets; "
        "meadow ...'`. "
        "macOS Keychain and Windows Credential Manager work as they are.")


class KeyringUnavailable(UserFacingError):
    """No usable OS keyring: the message says how to get one."""


class SecretStore(Protocol):
    def put(self, namespace: str, secret: bytes) -> None:
        """Keep `secret` for the swarm with this namespace."""

    def get(self, namespace: str, name: str) -> bytes:
        """The secret of the swarm with this namespace (`name` only for messages)."""

    def delete(self, namespace: str) -> None:
        """Forget the secret; no error when there is none."""


def encode_secret(secret: bytes) -> str:
    """Text form of a secret (for the keyring and for `--secret-stdin`)."""
    return base64.urlsafe_b64encode(secret).decode()


def decode_secret(text: str) -> bytes:
    try:
        secret = base64.urlsafe_b64decode(text.strip().encode())
    except ValueError:
        secret = b""
    if len(secret) < 16:
        raise UserFacingError("The swarm secret given is malformed (expected base64 text of at least 16 bytes)")
    return secret


def os_keyring() -> KeyringBackend:
    """The OS keyring backend, or KeyringUnavailable naming the fix."""
    import keyring
    from keyring.backends.chainer import ChainerBackend

    backend = keyring.get_keyring()
    candidates = list(backend.backends) if isinstance(backend, ChainerBackend) else [backend]
    for candidate in candidates:
        if type(candidate).__module__ in _OS_BACKENDS:
            return candidate
    found = ", ".join(type(candidate).__module__ for candidate in candidates) or "none"
    raise KeyringUnavailable(f"No usable OS keyring was found (keyring backend: {found}). {_FIX}")


class KeyringSecrets:
    """Secrets in the OS keyring: survives restarts, readable by the user's own processes only."""

    def put(self, namespace: str, secret: bytes) -> None:
        self._call("store the swarm secret in", "set_password", SERVICE, namespace, encode_secret(secret))

    def get(self, namespace: str, name: str) -> bytes:
        text = self._call("read the swarm secret from", "get_password", SERVICE, namespace)
        if text is None:
            raise UserFacingError(f"The OS keyring holds no secret for swarm {name!r}. Join it again with "
                                  f"`meadow swarm leave {name}` and `meadow swarm join TOKEN`.")
        return decode_secret(text)

    def delete(self, namespace: str) -> None:
        from keyring.errors import PasswordDeleteError

        with contextlib.suppress(PasswordDeleteError):
            self._call("delete the swarm secret from", "delete_password", SERVICE, namespace)

    @staticmethod
    def _call(what: str, method: str, *args: str) -> Any:
        from keyring.errors import KeyringError, PasswordDeleteError

        backend = os_keyring()
        try:
            return getattr(backend, method)(*args)
        except PasswordDeleteError:
            raise
        except KeyringError as error:  # locked, no D-Bus, user refused the prompt
            raise KeyringUnavailable(f"Could not {what} the OS keyring ({type(error).__name__}: {error}). "
                                     f"{_FIX}") from None


class MemorySecrets:
    """Secrets held in this process only: for a supervisor given them over its API (the node on Windows)."""

    def __init__(self) -> None:
        self._secrets: dict[str, bytes] = {}

    def put(self, namespace: str, secret: bytes) -> None:
        self._secrets[namespace] = secret

    def get(self, namespace: str, name: str) -> bytes:
        if namespace not in self._secrets:
            raise UserFacingError(f"No secret for swarm {name!r} was handed to this process; join it again.")
        return self._secrets[namespace]

    def delete(self, namespace: str) -> None:
        self._secrets.pop(namespace, None)

    def __repr__(self) -> str:
        return f"MemorySecrets({len(self._secrets)} swarms)"


def read_secret_stdin(timeout: float = 10.0) -> bytes:
    """The secret a supervisor writes to this process's stdin (one line of base64 text), within `timeout`.

    This is how a server child gets a secret its supervisor holds only in memory: never argv or environment,
    which other local users can read (`ps`, /proc).
    """
    import select
    import sys

    if sys.stdin is None or sys.stdin.isatty():
        raise UserFacingError("--secret-stdin expects the swarm secret on a pipe from a supervisor, not a terminal")
    if os.name == "posix":
        ready, _, _ = select.select([sys.stdin], [], [], timeout)
        if not ready:
            raise UserFacingError(f"--secret-stdin: no secret arrived on stdin within {timeout:.0f} s")
    return decode_secret(sys.stdin.readline())
