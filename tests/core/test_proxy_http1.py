"""The proxy's HTTP/1.1 client against raw socket servers that answer in each framing HTTP allows,
close connections when clients do not expect it, or never answer."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest

from agentlightning_core.errors import BackendUnavailableError
from agentlightning_core.proxy.http1 import Http1Pool, UpstreamProtocolError
from agentlightning_core.proxy.upstream import OpenAIEngine, UpstreamError

Handler = Callable[[bytes, bytes, asyncio.StreamWriter, int], Awaitable[bool]]


class RawServer:
    """Reads requests (head + content-length body); ``handler(head, body, writer, n)`` answers the
    n-th request and returns whether to keep the connection open."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[bytes, bytes]] = []
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append((head, body))
                if not await self.handler(head, body, writer, len(self.requests)):
                    return
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[RawServer]]]:
    servers: list[RawServer] = []

    async def start(handler: Handler) -> RawServer:
        raw = RawServer(handler)
        raw.server = await asyncio.start_server(raw._serve, "127.0.0.1", 0)
        servers.append(raw)
        return raw

    yield start
    for raw in servers:
        assert raw.server is not None
        raw.server.close()


def answer(body: bytes, status: int = 200, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %d X\r\ncontent-length: %d\r\n%s\r\n" % (status, len(body), extra) + body


async def test_keep_alive_reuses_one_connection_and_sends_the_headers(serve) -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(answer(b'{"n": %d}' % n))
        return True

    raw = await serve(handler)
    pool = Http1Pool(
        raw.url, {"Authorization": "Bearer k", "content-type": "application/json"}, read_timeout=5
    )
    for i in range(1, 6):
        assert await pool.post("/chat/completions", b'{"q": 1}') == (200, b'{"n": %d}' % i)
    pool.close()
    assert raw.connections == 1
    head, body = raw.requests[0]
    assert head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    lowered = head.lower()
    assert b"authorization: bearer k\r\n" in lowered and b"content-length: 8\r\n" in lowered
    assert b"host: 127.0.0.1:" in lowered
    assert body == b'{"q": 1}'


async def test_chunked_and_connection_delimited_bodies_are_read_whole(serve) -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        if n % 2:
            writer.write(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
            return True
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end")
        await writer.drain()
        return False

    raw = await serve(handler)
    pool = Http1Pool(raw.url, {}, read_timeout=5)
    assert await pool.post("/x", b"{}") == (200, b"hello world")
    assert await pool.post("/x", b"{}") == (200, b"until the end")
    assert await pool.post("/x", b"{}") == (200, b"hello world")  # a new connection after the close
    assert raw.connections == 2


async def test_a_connection_the_upstream_closed_while_idle_is_replaced_without_an_error(serve) -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(answer(b"ok"))  # says keep-alive, then closes: uvicorn's idle timeout
        await writer.drain()
        return False

    raw = await serve(handler)
    pool = Http1Pool(raw.url, {}, read_timeout=5)
    for _ in range(3):
        assert await pool.post("/x", b"{}") == (200, b"ok")
        await asyncio.sleep(0.05)
    assert raw.connections == 3 and len(raw.requests) == 3  # each call reached the server once


async def test_idle_connections_past_max_idle_are_not_reused(serve) -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(answer(b"ok"))
        return True

    raw = await serve(handler)
    pool = Http1Pool(raw.url, {}, read_timeout=5, max_idle=0.05)
    await pool.post("/x", b"{}")
    await pool.post("/x", b"{}")
    await asyncio.sleep(0.1)
    await pool.post("/x", b"{}")
    assert raw.connections == 2


async def test_compressed_bodies_are_decoded_and_unknown_encodings_refused(serve) -> None:
    payload = b'{"answer": "compressed"}'
    bodies = [
        answer(gzip.compress(payload), extra=b"content-encoding: gzip\r\n"),
        answer(zlib.compress(payload), extra=b"content-encoding: deflate\r\n"),
        answer(b"xx", extra=b"content-encoding: br\r\n"),
    ]

    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(bodies[n - 1])
        return True

    raw = await serve(handler)
    pool = Http1Pool(raw.url, {}, read_timeout=5)
    assert await pool.post("/x", b"{}") == (200, payload)
    assert await pool.post("/x", b"{}") == (200, payload)
    with pytest.raises(UpstreamProtocolError, match="content-encoding 'br'"):
        await pool.post("/x", b"{}")
    assert b"accept-encoding: identity" in raw.requests[0][0].lower()


async def test_silence_times_out_and_garbage_is_a_protocol_error(serve) -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        if n == 1:
            await asyncio.sleep(1.0)
            return False
        writer.write(b"SMTP ready\r\n\r\n")
        return True

    raw = await serve(handler)
    pool = Http1Pool(raw.url, {}, read_timeout=0.2)
    with pytest.raises(TimeoutError, match="no byte from the upstream for 0.2s"):
        await pool.post("/x", b"{}")
    with pytest.raises(UpstreamProtocolError, match="not valid HTTP/1.1"):
        await pool.post("/x", b"{}")


async def test_limit_caps_connections_open_at_once(serve) -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        await asyncio.sleep(0.02)
        writer.write(answer(b"ok"))
        return True

    raw = await serve(handler)
    pool = Http1Pool(raw.url, {}, read_timeout=5, limit=2)
    results = await asyncio.gather(*(pool.post("/x", b"{}") for _ in range(8)))
    assert results == [(200, b"ok")] * 8
    assert raw.connections == 2


async def test_engine_maps_transport_failures_to_clear_errors(serve) -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        if n == 1:
            writer.write(answer(b"<html>bad gateway</html>", status=502))
            return True
        if n == 2:
            writer.write(answer(b"[1, 2]"))
            return True
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"trunc')
        await writer.drain()
        return False

    raw = await serve(handler)
    engine = OpenAIEngine(base_url=raw.url, timeout=5)
    request = {"messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(UpstreamError, match="answered 502: <html>bad gateway") as bad:
        await engine.chat_completions(request)
    assert bad.value.status_code == 502
    with pytest.raises(UpstreamError, match="sent a list, not an object"):
        await engine.chat_completions(request)
    with pytest.raises(BackendUnavailableError, match="closed the connection mid-answer"):
        await engine.chat_completions(request)
    sent = orjson.loads(raw.requests[0][1])
    assert sent["stream"] is False and sent["model"] == "default"
    await engine.close()


async def test_engine_reports_a_refused_connection_naming_the_upstream() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    engine = OpenAIEngine(base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(
        BackendUnavailableError, match=f"cannot reach the LLM upstream at http://127.0.0.1:{port}/v1"
    ):
        await engine.chat_completions({"messages": []})
    await engine.close()


def test_the_pool_works_on_uvloop_as_agl_serve_runs_it() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> list[tuple[int, bytes]]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")
                    await reader.readexactly(2)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                writer.write(answer(b'{"ok": true}'))
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = Http1Pool(f"http://127.0.0.1:{port}/v1", {}, read_timeout=5)
        try:
            return [await pool.post("/chat/completions", b"{}") for _ in range(3)]
        finally:
            pool.close()
            server.close()

    assert uvloop.run(main()) == [(200, b'{"ok": true}')] * 3
