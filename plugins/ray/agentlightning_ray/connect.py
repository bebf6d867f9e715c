"""Joining a Ray cluster, or failing fast with the address and the fix.

``ray.init`` on an address nobody answers can retry for minutes; the launcher first checks that
something accepts TCP connections there, then gives ``ray.init`` the rest of ``connect_timeout``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import Any

from agentlightning_core.launcher import LauncherError

FIX = (
    "start a head there (`ray start --head --port PORT`), or point the launcher at the running one "
    "(launcher option address=HOST:PORT, or RAY_ADDRESS); without an address a Ray instance starts "
    "in this process"
)


def _host_port(address: str) -> tuple[str, int] | None:
    """``host:port`` of an explicit address (``ray://`` too); None for ``auto``/``local``."""
    bare = address.removeprefix("ray://")
    if bare in ("auto", "local") or ":" not in bare:
        return None
    host, _, port = bare.rpartition(":")
    try:
        return host.strip("[]") or "127.0.0.1", int(port)
    except ValueError:
        raise LauncherError(
            f"Ray address {address!r} has no valid port; use HOST:PORT, e.g. 127.0.0.1:6380"
        ) from None


#: a refused connection means nothing listens: retry this long (a head may be starting), not the
#: whole connect_timeout, which is for hosts that do not answer at all
REFUSED_GRACE = 3.0


def wait_for_tcp(address: str, deadline: float) -> None:
    target = _host_port(address)
    if target is None:
        return
    last: Exception | None = None
    refused_until = time.monotonic() + REFUSED_GRACE
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(target, timeout=max(0.1, min(2.0, deadline - time.monotonic()))):
                return
        except ConnectionRefusedError as exc:
            last = exc
            if time.monotonic() > refused_until:
                break
        except OSError as exc:
            last = exc
        time.sleep(0.3)
    raise LauncherError(f"Ray address {address} does not answer ({last}); {FIX}")


async def connect(
    address: str | None, *, timeout: float, runtime_env: dict[str, Any] | None, namespace: str
) -> bool:
    """``ray.init`` within ``timeout`` seconds; True when this call initialised Ray (so it shuts
    it down on stop)."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    deadline = time.monotonic() + timeout
    if address:
        await asyncio.to_thread(wait_for_tcp, address, deadline)

    def init() -> None:
        ray.init(
            address=address,
            runtime_env=runtime_env,
            namespace=namespace,
            log_to_driver=True,
            configure_logging=False,
            include_dashboard=False if not address else None,
        )

    try:
        await asyncio.wait_for(asyncio.to_thread(init), max(1.0, deadline - time.monotonic()))
    except TimeoutError:
        raise LauncherError(
            f"Ray address {address or 'local'} did not finish connecting in {timeout:.0f}s; {FIX}"
        ) from None
    except Exception as exc:  # ConnectionError, RuntimeError: ray's own reasons, kept in the message
        raise LauncherError(
            f"cannot join Ray at {address or 'local'}: {type(exc).__name__}: {exc}; {FIX}"
        ) from exc
    return True
