"""Prove that code under test reaches no host but this machine.

Plugins that wrap a vendor SDK (AgentOps, CrewAI, ...) promise to run locally; their tests hold
them to it by refusing, and recording, every socket connection to an address that is not a
loopback one.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@contextmanager
def refuse_remote_connections() -> Iterator[list[Any]]:
    """Inside the block a connection to a non-loopback address fails with ``OSError``; the list
    yielded collects the addresses tried (a test asserts it stays empty)."""
    attempts: list[Any] = []
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[0] not in LOCAL_HOSTS:
            attempts.append(address)
            raise OSError(f"no network in this test (tried {address})")
        return connect(self, address)

    socket.socket.connect = guarded  # type: ignore[method-assign,assignment]
    try:
        yield attempts
    finally:
        socket.socket.connect = connect  # type: ignore[method-assign]
