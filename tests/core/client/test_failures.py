"""Step failures are told apart: busy servers, leaving servers, and faulty ones."""
from __future__ import annotations

from hivemind.p2p.p2p_daemon_bindings.control import P2PHandlerError

from core.client.failures import ServerBusyError, ServerLeavingError, classify
from core.errors import RemoteCallError


def test_busy_and_draining_errors_from_the_server_are_recognised():
    busy = P2PHandlerError("Failed to call handler `BlockServicer.rpc_inference` at Qm1: busy: cache is full")
    draining = P2PHandlerError("Failed to call handler `BlockServicer.rpc_inference` at Qm1: draining: stopping")
    assert isinstance(classify("Qm1", busy), ServerBusyError)
    assert isinstance(classify("Qm1", draining), ServerLeavingError)


def test_an_ended_stream_means_the_server_is_leaving():
    assert isinstance(classify("Qm1", StopAsyncIteration()), ServerLeavingError)


def test_other_failures_stay_plain_remote_call_errors():
    error = classify("Qm1", ConnectionResetError("Connection lost"))
    assert type(error) is RemoteCallError and "Qm1" in str(error) and "Connection lost" in str(error)
    original = RemoteCallError("out of step")
    assert classify("Qm1", original) is original
