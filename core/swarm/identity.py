"""Peer identities: one RSA key is both the libp2p identity (peer id) and the owner key of DHT records.

That makes "the record's peer id matches its owner key" checkable by any reader.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import multihash
from cryptography.hazmat.primitives import serialization
from hivemind.p2p import PeerID
from hivemind.proto import crypto_pb2
from hivemind.utils.crypto import RSAPrivateKey


class Identity:
    """An RSA private key with its peer id; ephemeral unless loaded from a file."""

    def __init__(self, private_key: RSAPrivateKey):
        self.private_key = private_key
        self.peer_id = peer_id_from_public_key(private_key.get_public_key().to_bytes())

    @classmethod
    def ephemeral(cls) -> Identity:
        return cls(RSAPrivateKey())

    @classmethod
    def from_file(cls, path: Path) -> Identity:
        """Load a libp2p protobuf RSA identity; create it (mode 0400) if the file does not exist."""
        if not path.exists():
            identity = cls.ephemeral()
            path.parent.mkdir(parents=True, exist_ok=True)
            identity.write(path)
            return identity
        data = crypto_pb2.PrivateKey.FromString(path.read_bytes())
        if data.key_type != crypto_pb2.KeyType.RSA:
            raise ValueError(f"{path} is not an RSA identity; delete it to create a new one")
        key = RSAPrivateKey.__new__(RSAPrivateKey)
        key._private_key = serialization.load_der_private_key(data.data, password=None)
        return cls(key)

    def write(self, path: Path) -> None:
        protobuf = crypto_pb2.PrivateKey(key_type=crypto_pb2.KeyType.RSA, data=self.private_key.to_bytes())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "wb") as handle:
            handle.write(protobuf.SerializeToString())

    def temporary_file(self, folder: Path) -> Path:
        """Write the key to a fresh private file for p2pd to read at start; the caller deletes it."""
        folder.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mktemp(prefix="identity-", suffix=".key", dir=folder))
        self.write(path)
        return path


def peer_id_from_public_key(openssh_public_key: bytes) -> PeerID:
    """The libp2p peer id of an RSA public key given in the OpenSSH form used by owner markers."""
    public_key = serialization.load_ssh_public_key(openssh_public_key)
    der = public_key.public_bytes(
        encoding=serialization.Encoding.DER, format=serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = crypto_pb2.PublicKey(key_type=crypto_pb2.RSA, data=der).SerializeToString()
    return PeerID(multihash.encode(hashlib.sha256(encoded).digest(), multihash.coerce_code("sha2-256")))
