"""Access control of a private swarm's DHT: every DHT request and response carries an HMAC from the secret.

hivemind's DHTProtocol wraps its RPCs (ping, store, find) with an AuthorizerBase: a caller signs each
request, the callee validates it before doing anything (so bootstrap, get and store all pass here), then
signs the response, which the caller validates. Our signature is an HMAC over the whole serialized message
(with the signature field empty), under a key derived from the swarm secret; the request also carries the
time and a random nonce, and a callee refuses stale requests and nonces it has seen (replays).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
from typing import Any

from hivemind.utils.auth import AuthorizerBase
from hivemind.utils.timed_storage import TimedStorage, get_dht_time

from core.swarm.auth import derive_key

logger = logging.getLogger(__name__)


class DhtAccessDenied(Exception):
    """Raised to the p2p layer, which sends its message back to the refused caller."""


class SecretDhtAuthorizer(AuthorizerBase):
    """Signs and checks DHT traffic of one private swarm (a no-auth or wrong-secret peer gets nothing)."""

    def __init__(self, secret: bytes, max_clock_skew: float = 60.0):
        self._key = derive_key(secret, "dht")
        self.max_clock_skew = max_clock_skew
        self._recent_nonces: TimedStorage = TimedStorage()

    async def sign_request(self, request: Any, service_public_key: Any) -> None:
        auth = request.auth
        auth.time = get_dht_time()
        auth.nonce = os.urandom(16)
        auth.signature = b""
        auth.signature = self._mac(b"request", request)

    async def validate_request(self, request: Any) -> bool:
        auth = request.auth
        signature = auth.signature
        auth.signature = b""
        if not hmac.compare_digest(signature, self._mac(b"request", request)):
            raise DhtAccessDenied("access denied: this DHT belongs to a private swarm and the request "
                                  "carries no valid proof of its secret")
        now = get_dht_time()
        with self._recent_nonces.freeze():
            stale = not abs(auth.time - now) <= self.max_clock_skew
            replayed = auth.nonce in self._recent_nonces
        if stale or replayed:
            raise DhtAccessDenied("access denied: stale or replayed DHT request (check this machine's clock)")
        self._recent_nonces.store(auth.nonce, None, now + 3 * self.max_clock_skew)
        return True

    async def sign_response(self, response: Any, request: Any) -> None:
        auth = response.auth
        auth.nonce = request.auth.nonce  # binds the answer to its question
        auth.signature = b""
        auth.signature = self._mac(b"response", response)

    async def validate_response(self, response: Any, request: Any) -> bool:
        auth = response.auth
        signature = auth.signature
        auth.signature = b""
        if auth.nonce != request.auth.nonce or not hmac.compare_digest(signature, self._mac(b"response", response)):
            logger.debug("Dropped a DHT response without a valid proof of the swarm secret")
            return False
        return True

    def _mac(self, kind: bytes, message: Any) -> bytes:
        return hmac.new(self._key, kind + message.SerializeToString(deterministic=True), hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "SecretDhtAuthorizer(<secret hidden>)"
