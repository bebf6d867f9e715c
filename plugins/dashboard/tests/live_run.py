"""A real training-like run for the browser tests: ``agl serve`` as a process (SQLite store, LLM
proxy in front of a scripted OpenAI-compatible upstream) and a core ``Runner`` executing a small
calculator agent through ``HttpStore``, all driven from a background thread so the (synchronous)
Playwright tests can enqueue rollouts and watch them in the browser.

With ``redis-server`` and agentlightning-redis installed the server's bus is Redis (a private server on port 18192) and
this process joins it, as an algorithm on another machine would: ``log_metrics`` here then
reaches the dashboard's reward chart. Without it the bus is in-process and no metrics are shown.

The agent records an ``agent`` span and a ``tool`` span itself and sends a W3C ``traceparent`` to
the proxy, so the proxy's recorded LLM calls hang under the agent span: a real span tree.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import openai

from agentlightning_core import rollout
from agentlightning_core.algorithm import TrainerContext
from agentlightning_core.bus.open import open_event_bus
from agentlightning_core.client import HttpStore
from agentlightning_core.runner import Runner
from agentlightning_core.runtime.context import current_context
from agentlightning_core.testing.scripted_llm import ScriptedUpstream, last_user_text, tool_call
from agentlightning_core.types import LLM, PromptTemplate, Span, semconv

T = TypeVar("T")
#: the server's token, which the agent sends to the proxy (a published LLM carries no secret)
PROXY_TOKEN: dict[str, str] = {}
AGL = str(Path(sys.executable).with_name("agl"))
TOOL = {
    "type": "function",
    "function": {
        "name": "calculate",
        "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}},
    },
}


def responder(body: dict[str, Any]) -> dict[str, Any]:
    """First turn: ask for the tool; second turn: answer with the tool's result."""
    messages = body.get("messages") or []
    if messages and messages[-1].get("role") == "tool":
        return {"content": str(messages[-1].get("content"))}
    expression = last_user_text(body).rsplit(" ", 1)[-1].rstrip("?")
    return {"tool_calls": [tool_call("calculate", {"expression": expression})]}


@rollout
async def calculator(task: dict[str, Any], llm: LLM, prompt_template: PromptTemplate) -> float:
    ctx = current_context()
    assert ctx is not None
    agent = Span(
        rollout_id=ctx.rollout_id,
        attempt_id=ctx.attempt_id,
        name="calculator",
        attributes={semconv.SPAN_TYPE: "agent", semconv.AGENT_NAME: "calculator"},
    )
    client = openai.AsyncOpenAI(
        base_url=llm.endpoint,
        api_key=PROXY_TOKEN["token"],
        max_retries=0,
        default_headers={"traceparent": f"00-{agent.trace_id}-{agent.span_id}-01"},
    )
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": prompt_template.template},
        {"role": "user", "content": task["question"]},
    ]
    first = await client.chat.completions.create(model=llm.model, messages=messages, tools=[TOOL])  # type: ignore[arg-type,list-item]
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    expression = json.loads(call.function.arguments)["expression"]  # type: ignore[union-attr]
    started = time.time()
    result = str(eval(expression, {"__builtins__": {}}))  # the test's own arithmetic strings
    ctx.record_span(
        Span(
            rollout_id=ctx.rollout_id,
            attempt_id=ctx.attempt_id,
            trace_id=agent.trace_id,
            parent_id=agent.span_id,
            name="calculate",
            start_time=started,
            end_time=time.time(),
            attributes={
                semconv.SPAN_TYPE: "tool",
                semconv.GEN_AI_TOOL_NAME: "calculate",
                semconv.TOOL_ARGUMENTS: {"expression": expression},
                semconv.TOOL_RESULT: result,
            },
        )
    )
    messages += [first.choices[0].message.model_dump(exclude_none=True)]
    messages += [{"role": "tool", "tool_call_id": call.id, "content": result}]
    final = await client.chat.completions.create(model=llm.model, messages=messages)  # type: ignore[arg-type]
    agent.end_time = time.time()
    ctx.record_span(agent)
    return 1.0 if final.choices[0].message.content == str(task["answer"]) else 0.0


class LiveRun:
    """``with LiveRun(tmp, token) as run: run.enqueue(...)``; ``run.url`` is the server."""

    def __init__(self, workdir: Path, token: str, redis_port: int = 18192) -> None:
        self.workdir = workdir
        self.token = token
        self.redis_port = redis_port
        self.redis: subprocess.Popen[bytes] | None = None
        self.context: TrainerContext | None = None
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stopping: asyncio.Event | None = None
        self._main: Any = None
        self.store: HttpStore | None = None
        self.log = workdir / "serve.log"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self) -> LiveRun:
        self._thread.start()
        ready = threading.Event()
        self._main = asyncio.run_coroutine_threadsafe(self._run(ready), self._loop)
        deadline = time.monotonic() + 60
        while not ready.wait(0.2) and not self._main.done() and time.monotonic() < deadline:
            pass
        if not ready.is_set():
            raise RuntimeError(f"the live run did not start; see {self.log}: {self._failure()}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        try:
            self._main.result(60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def _failure(self) -> str:
        return str(self._main.exception(0)) if self._main.done() else "still starting"

    def enqueue(self, questions: list[tuple[str, int]], mode: str = "train") -> list[str]:
        assert self.store is not None
        store = self.store

        async def go() -> list[str]:
            out = []
            for question, answer in questions:
                r = await store.enqueue_rollout({"question": question, "answer": answer}, mode=mode)  # type: ignore[arg-type]
                out.append(r.rollout_id)
            return out

        return self.call(go())

    def log_metrics(self, metrics: dict[str, float], step: int) -> bool:
        """Log like an algorithm does; False when the run has no shared bus (no redis-server)."""
        if self.context is None:
            return False
        context = self.context

        async def go() -> None:
            context.log_metrics(metrics, step=step)
            await asyncio.sleep(0.2)  # the outbox sends it

        self.call(go())
        return True

    def wait(self, ids: list[str], timeout: float = 60) -> None:
        assert self.store is not None
        done = self.call(self.store.wait_for_rollouts(ids, timeout=timeout), timeout + 5)
        assert len(done) == len(ids), f"{len(done)} of {len(ids)} rollouts finished"

    async def _run(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        upstream = ScriptedUpstream(responder)
        bus_env = {"EVENT_BUS_BACKEND": "memory"}
        if redis_bus_available():
            self.redis = start_redis(self.workdir, self.redis_port)
            bus_env = {
                "EVENT_BUS_BACKEND": "redis",
                "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}",
                "REDIS_BUS_PREFIX": "i19-live",
            }
        async with upstream.serve() as upstream_url:
            env = {**os.environ, "AGL_SERVER_TOKEN": self.token, **bus_env}
            env["AGL_NO_PLUGIN_COMMANDS"] = "1"
            with self.log.open("wb") as log:
                proc = await asyncio.create_subprocess_exec(
                    AGL,
                    "serve",
                    "--store",
                    f"sqlite:///{self.workdir / 'run.db'}",
                    "--engine",
                    "openai",
                    "--engine-option",
                    f"base_url={upstream_url}",
                    "--port",
                    "0",
                    env=env,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=log,
                )
            try:
                assert proc.stdout is not None
                line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
                if "listening on http://" not in line:
                    raise RuntimeError(f"agl serve did not start: {line!r}; see {self.log}")
                self.url = line.rsplit(" ", 1)[1].strip()
                async with HttpStore(self.url, token=self.token) as store:
                    self.store = store
                    if self.redis is not None:
                        saved = {k: os.environ.get(k) for k in bus_env}
                        os.environ.update(bus_env)
                        try:
                            store.bus = await open_event_bus()
                        finally:
                            for k, v in saved.items():
                                if v is None:
                                    os.environ.pop(k, None)
                                else:
                                    os.environ[k] = v
                        self.context = TrainerContext(store, output_dir=self.workdir / "run")
                    llm = LLM(endpoint=f"{self.url}/v1", model="scripted", proxied=True)
                    PROXY_TOKEN["token"] = self.token
                    await store.add_resources(
                        {
                            "llm": llm,
                            "system": PromptTemplate(template="You are a calculator.\nReply with a number."),
                        }
                    )
                    await store.add_resources(
                        {
                            "llm": llm,
                            "system": PromptTemplate(
                                template="You are a calculator.\nUse the tool, then reply with only the number."
                            ),
                        }
                    )
                    runner = Runner(calculator, store, concurrency=2, heartbeat_interval=1.0)
                    task = asyncio.create_task(runner.run())
                    ready.set()
                    await self._stopping.wait()
                    runner.stop(grace=5)
                    await asyncio.wait_for(task, 30)
            finally:
                if proc.returncode is None:
                    proc.terminate()
                    await asyncio.wait_for(proc.wait(), 30)
                if self.store is not None and self.store.bus is not None:
                    await self.store.bus.close()
                if self.redis is not None:
                    self.redis.kill()
                    self.redis.wait(10)


def start_redis(directory: Path, port: int) -> subprocess.Popen[bytes]:
    """A private ``redis-server`` (own port, own directory, no persistence) that answers."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        probe = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True)
        if probe.stdout.strip() == "PONG":
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"redis-server did not answer on port {port}")


def redis_bus_available() -> bool:
    """A ``redis-server`` to start and the ``redis`` bus plugin to reach it (agentlightning-redis)."""
    from agentlightning_core.plugin_manager import get_plugin_manager

    if shutil.which("redis-server") is None:
        return False
    return "redis" in get_plugin_manager().registry("agl_register_event_buses")
