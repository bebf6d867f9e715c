"""A small HTTP/1.1 keep-alive client for the proxy's plain (non-streamed) upstream calls.

Why not aiohttp for these: its client costs about 0.33 ms per call on the 2-core machine, while
writing the request bytes on a kept-alive connection and parsing the answer with ``httptools``
(the parser uvicorn already uses) costs about 0.17 ms -- and the proxy's whole budget is 1 ms per
call (``benchmarks/proxy_overhead.py``). Streams and ``/models`` stay with aiohttp.

What it does: ``POST`` with a ``content-length`` body; answers framed by ``content-length``,
chunked transfer encoding or the connection's end; ``accept-encoding: identity`` asked for, and
``gzip``/``deflate`` bodies decoded should an upstream compress anyway; a
next-byte timeout; TLS for ``https://``; at most ``limit`` connections at once (0: no cap). A
kept-alive connection the upstream closed while idle (uvicorn, and so vLLM, closes after 5 s) is
detected when it yields no byte at all, and the call is sent once more on a new connection; idle
connections older than ``max_idle`` seconds are not reused in the first place.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from typing import cast
from urllib.parse import urlsplit

import httptools


class UpstreamProtocolError(Exception):
    """The upstream's answer is not valid HTTP/1.1 (or uses an encoding this client cannot read)."""


class _StaleConnection(ConnectionError):
    """A reused connection ended before any byte of the answer: the upstream closed it while idle."""


class _Connection(asyncio.Protocol):
    """One connection; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timeout = 0.0
        self._body: list[bytes] = []
        self._framed = False  # content-length or chunked: the end is known without the close
        self._encoding = b""
        self._got_bytes = False
        self._headers_done = False
        self.closed = False
        self.reused = False
        self.idle_since = 0.0

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check here
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._loop.call_later(self._timeout, self._timed_out)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"the upstream's answer is not valid HTTP/1.1: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        if self._waiter is None or self._waiter.done():
            return
        if self._headers_done and not self._framed:  # the body ends with the connection
            self._finish()
        elif not self._got_bytes and self.reused:
            self._fail(_StaleConnection("the kept-alive connection was closed by the upstream"))
        else:
            self._fail(
                ConnectionResetError(f"the upstream closed the connection mid-answer ({exc or 'EOF'})")
            )

    # ------------------------------------------------------------------ httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or (name == b"transfer-encoding" and b"chunked" in value.lower()):
            self._framed = True
        elif name == b"content-encoding":
            self._encoding = value.strip().lower()

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        keep = self._parser.should_keep_alive()
        self._finish()
        if not keep:
            self.close()

    # ------------------------------------------------------------------ requests
    def request(self, data: bytes, timeout: float) -> asyncio.Future[tuple[int, bytes]]:
        assert self._transport is not None
        self._waiter = self._loop.create_future()
        self._body, self._framed, self._encoding = [], False, b""
        self._got_bytes = self._headers_done = False
        self._timeout = timeout
        self._timer = self._loop.call_later(timeout, self._timed_out)
        self._transport.write(data)
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def _finish(self) -> None:
        self._cancel_timer()
        waiter, self._waiter = self._waiter, None
        body = b"".join(self._body)
        self._body = []
        if waiter is None or waiter.done():
            return
        try:
            body = _decode(body, self._encoding)
        except UpstreamProtocolError as exc:
            waiter.set_exception(exc)
            return
        waiter.set_result((self._parser.get_status_code(), body))

    def _fail(self, exc: BaseException) -> None:
        self._cancel_timer()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _timed_out(self) -> None:
        self._timer = None
        self._fail(TimeoutError(f"no byte from the upstream for {self._timeout:g}s"))
        self.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _decode(body: bytes, encoding: bytes) -> bytes:
    if not encoding or encoding == b"identity":
        return body
    if encoding in (b"gzip", b"x-gzip", b"deflate"):
        try:
            return zlib.decompress(body, 47)  # 32 + 15: gzip or zlib header, detected
        except zlib.error:
            try:
                return zlib.decompress(body, -15)  # raw deflate, as some servers send it
            except zlib.error as exc:
                raise UpstreamProtocolError(
                    f"cannot decode the upstream's {encoding.decode()} body: {exc}"
                ) from None
    raise UpstreamProtocolError(
        f"the upstream answered with content-encoding {encoding.decode('latin-1')!r}, which the proxy "
        "cannot decode; configure it to send identity, gzip or deflate"
    )


class Http1Pool:
    """Kept-alive connections to one origin, for ``POST`` requests with JSON bodies.

    :param base_url: ``http://host:port/prefix`` or ``https://...``; request paths are appended.
    :param headers: sent with every request (``host``, ``content-length`` are added here).
    :param read_timeout: seconds to wait for the upstream's next byte.
    :param connect_timeout: seconds to wait for a new connection.
    :param limit: connections open at once (0: no cap); callers beyond it wait.
    :param max_idle: an idle connection older than this is closed rather than reused.
    """

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        read_timeout: float,
        connect_timeout: float = 10.0,
        limit: int = 0,
        max_idle: float = 4.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url {base_url!r} must be an http:// or https:// URL with a host")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if parts.scheme == "https" else None
        self.prefix = parts.path.rstrip("/").encode()
        default_port = (self.ssl is None and self.port == 80) or (self.ssl is not None and self.port == 443)
        host_header = self.host if default_port else f"{self.host}:{self.port}"
        if ":" in self.host and not self.host.startswith("["):  # IPv6 literal
            host_header = f"[{self.host}]" if default_port else f"[{self.host}]:{self.port}"
        lines = {
            "host": host_header,
            "accept-encoding": "identity",
            **{k.lower(): v for k, v in headers.items()},
        }
        self._head = "".join(f"{k}: {v}\r\n" for k, v in lines.items()).encode("latin-1")
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self._idle: list[_Connection] = []
        self._limit = asyncio.Semaphore(limit) if limit > 0 else None
        self._closed = False

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Send ``POST path`` and return (status, body). Raises ``OSError`` (connecting, reset),
        ``TimeoutError`` and :class:`UpstreamProtocolError`."""
        request = b"".join(
            (
                b"POST ",
                self.prefix,
                path.encode(),
                b" HTTP/1.1\r\n",
                self._head,
                b"content-length: ",
                str(len(body)).encode(),
                b"\r\n\r\n",
                body,
            )
        )
        if self._limit is None:
            return await self._send(request)
        async with self._limit:
            return await self._send(request)

    async def _send(self, request: bytes) -> tuple[int, bytes]:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.closed or now - conn.idle_since > self.max_idle:
                conn.close()
                continue
            try:
                answer = await conn.request(request, self.read_timeout)
            except _StaleConnection:
                continue  # never reached the upstream's handler: send it on another connection
            except BaseException:
                conn.close()
                raise
            self._release(conn)
            return answer
        conn = await self._connect()
        try:
            answer = await conn.request(request, self.read_timeout)
        except BaseException:
            conn.close()
            raise
        self._release(conn)
        return answer

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(
            loop.create_connection(
                lambda: _Connection(loop),
                self.host,
                self.port,
                ssl=self.ssl,
                server_hostname=self.host if self.ssl is not None else None,
            ),
            self.connect_timeout,
        )
        return conn

    def _release(self, conn: _Connection) -> None:
        if conn.closed:
            return
        if self._closed:
            conn.close()
            return
        conn.reused = True
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def close(self) -> None:
        """Close every idle connection (connections in use close when their call ends)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
