"""Run an agent for real — store, LLM proxy, runner, tracer — against any engine, for tests.

``async with ProxyHarness(engine) as h: result = await h.run(agent, inputs, tracer=...)``
starts an in-memory store and the HTTP server with the proxy on an ephemeral port, publishes an
LLM resource pointing at the proxy, runs one runner over the inputs and returns each rollout
with its spans and triplets. Adapter tests and example smoke tests share it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..engine import LLMEngine
from ..reward import final_reward
from ..store.memory import InMemoryStore
from ..tracer import Tracer
from ..triplet import TraceToTriplet
from ..types import LLM, PromptTemplate, Rollout, Span, Triplet


@dataclass
class RolloutResult:
    rollout: Rollout
    spans: list[Span]
    reward: float | None

    def triplets(self, agent_match: Any = None) -> list[Triplet]:
        return TraceToTriplet(agent_match=agent_match).transform(self.spans)

    def spans_of_type(self, span_type: str) -> list[Span]:
        return [s for s in self.spans if s.span_type == span_type]


@dataclass
class ProxyHarness:
    engine: LLMEngine
    model: str = "scripted"
    store: InMemoryStore = field(default_factory=InMemoryStore)
    url: str = ""
    app: Any = None
    _stack: contextlib.AsyncExitStack | None = None

    async def __aenter__(self) -> ProxyHarness:
        from ..server.app import create_app
        from ..server.run import serve_in_background

        self._stack = contextlib.AsyncExitStack()
        await self.store.start()
        self.app = create_app(self.store, engine=self.engine, token="")
        self.url = await self._stack.enter_async_context(serve_in_background(self.app))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._stack is not None
        await self._stack.aclose()
        await self.engine.close()
        await self.store.close()

    @property
    def proxy_url(self) -> str:
        return f"{self.url}/v1"

    async def run(
        self,
        agent: Any,
        inputs: Sequence[Any],
        *,
        tracer: Tracer | None = None,
        prompts: dict[str, str] | None = None,
        concurrency: int = 1,
        timeout: float = 120.0,
    ) -> list[RolloutResult]:
        from ..runner import Runner
        from ..types import RolloutRequest

        resources: dict[str, Any] = {"main_llm": LLM(endpoint=self.proxy_url, model=self.model, proxied=True)}
        for name, template in (prompts or {}).items():
            resources[name] = PromptTemplate(template=template)
        update = await self.store.add_resources(resources)
        rollouts = await self.store.enqueue_rollouts(
            [RolloutRequest(input=item, mode="train", resources_id=update.resources_id) for item in inputs]
        )
        runner = Runner(
            agent,
            self.store,
            tracer=tracer,
            concurrency=concurrency,
            max_rollouts=len(rollouts),
            flush_interval=0.2,
        )
        await runner.run()
        # the runner writes to the store directly here, not through the server, so the proxy's
        # buffered LLM spans are flushed explicitly (the server does it when a remote runner
        # finishes an attempt)
        await self.app.state.span_recorder.flush()
        finished = await self.store.wait_for_rollouts([r.rollout_id for r in rollouts], timeout)
        by_id = {r.rollout_id: r for r in finished}
        results = []
        for rollout in rollouts:
            done = by_id.get(rollout.rollout_id, rollout)
            spans = await self.store.query_spans(rollout.rollout_id, attempt_id="latest")
            results.append(RolloutResult(done, spans, final_reward(spans)))
        return results
