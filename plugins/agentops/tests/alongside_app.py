"""An application that initialised its own AgentOps client (the seed's caveat 1), then trains.

Run as a script by ``test_alongside_the_users_agentops.py``: AgentOps' client is process-global,
so it gets a process of its own. AgentOps' service is a local HTTP server here (the auth call and
the OTLP export land on it). Prints one JSON line with what the store and the service received.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

received: list[tuple[str, bytes]] = []


class FakeAgentOps(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        received.append((self.path, body))
        answer = (
            b'{"token": "jwt-local", "project_id": "local"}' if self.path.endswith("/auth/token") else b"{}"
        )
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


async def main() -> None:
    service = ThreadingHTTPServer(("127.0.0.1", 0), FakeAgentOps)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{service.server_port}"

    os.environ.setdefault("AGENTOPS_LOGGING_TO_FILE", "false")  # as the tracer does
    import agentops

    agentops.init(
        api_key="00000000-0000-0000-0000-000000000000",
        endpoint=base,
        exporter_endpoint=f"{base}/v1/traces",
        auto_start_session=False,
    )
    from agentlightning_agentops import AgentOpsTracer
    from agentops.sdk.core import tracer as core
    from openai import AsyncOpenAI

    from agentlightning_core.testing.proxy_harness import ProxyHarness
    from agentlightning_core.testing.scripted_llm import ForwardingEngine, ScriptedUpstream
    from agentlightning_core.types import LLM

    async def solver(task: str, llm: LLM) -> float:
        client = AsyncOpenAI(base_url=llm.endpoint, api_key="none")
        reply = await client.chat.completions.create(
            model=llm.model, messages=[{"role": "user", "content": task}]
        )
        return 1.0 if "42" in (reply.choices[0].message.content or "") else 0.0

    tracer = AgentOpsTracer()
    upstream = ScriptedUpstream(lambda body: {"content": "42"})
    async with upstream.serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
        (result,) = await harness.run(solver, ["6 times 7?"], tracer=tracer)
    assert core.provider is not None
    core.provider.force_flush()
    exported = b"".join(body for path, body in received if path.endswith("/v1/traces"))
    print(
        "RESULT "
        + json.dumps(
            {
                "mode": tracer.mode,
                "same_provider": tracer.provider is core.provider,
                "status": result.rollout.status.value,
                "span_names": sorted(s.name for s in result.spans),
                "llm_spans": len(result.spans_of_type("llm")),
                "service_paths": sorted({path for path, _ in received}),
                "exported_chat_span": b"openai.chat.completion" in exported,
                "exported_rollout_span": b"agentlightning.rollout" in exported,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
