"""A body over the server's limit gets a 413 the client can read, not a connection reset.

The issue's case: Python's ``http.client`` sends a 17 MiB body with its Content-Length; the
server used to answer 413 and close at once, the unread upload made the kernel reset the
connection, and the client saw ``ConnectionResetError`` instead of the answer.
"""

from __future__ import annotations

import asyncio
import http.client
import json
from urllib.parse import urlsplit

from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.server import create_app, serve_in_background
from agentlightning_core.store.memory import InMemoryStore

LIMIT = 1024 * 1024


def _post(url: str, body: bytes) -> tuple[int, dict[str, object]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/v1/store/rollouts",
            body=body,
            headers={"content-type": "application/json", "authorization": "Bearer t"},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


async def test_a_17_mib_body_with_content_length_gets_a_readable_413() -> None:
    store = InMemoryStore()
    app = create_app(
        store, token="t", max_body_bytes=LIMIT, manager=AglPluginManager(load_entry_points=False)
    )
    body = b'{"requests": [{"input": "' + b"x" * (17 * 1024 * 1024) + b'"}]}'
    async with store, serve_in_background(app) as url:
        for _ in range(3):  # every time, not by luck of timing
            status, answer = await asyncio.to_thread(_post, url, body)
            assert status == 413
            assert "AGL_MAX_BODY_BYTES" in str(answer)
        status, _ = await asyncio.to_thread(_post, url, b'{"requests": [{"input": 1}]}')
        assert status == 200
    assert (await store.query_rollouts()).total == 1
