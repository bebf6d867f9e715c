"""Everything one ``fit``/``dev`` call runs, started in order and stopped in reverse.

Store → event bus → engine → HTTP server with the LLM proxy → runners (through the launcher:
in this process by default, Ray actors with ``launcher="ray"``); the algorithm
then runs while the session watches the runners, so a runner that crashes stops training with
its error instead of leaving the algorithm waiting for rollouts nobody runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..agent import LitAgent
from ..bus.base import EventBus
from ..bus.open import open_event_bus
from ..engine import LLMEngine
from ..launcher import Launcher, LaunchSpec, open_launcher
from ..plugin_manager import AglPluginManager
from ..runner import default_worker_id
from ..store.base import LightningStore
from ..tracer import Tracer

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class SessionPlan:
    """What to start; built by the Trainer from its arguments."""

    store: LightningStore
    #: the store's base URL when it is a remote server (runners elsewhere, proxy there)
    remote_url: str | None = None
    bus: EventBus | str | None = None
    open_bus: bool = True
    engine: LLMEngine | None = None
    close_engine: bool = False
    serve: bool = True
    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None
    n_runners: int = 1
    concurrency: int = 1
    tracer: Tracer | None = None
    runner_options: dict[str, Any] = field(default_factory=dict)
    manager: AglPluginManager | None = None
    #: where the ``n_runners`` runners run: a registered launcher name or a ``Launcher``
    launcher: str | Launcher = "local"
    launcher_options: dict[str, Any] = field(default_factory=dict)


class RunnerCrashed(RuntimeError):
    """An in-process runner stopped with an error while the algorithm was running."""


class TrainerSession:
    """``async with TrainerSession(plan, agent) as session: await session.run(coro_factory)``."""

    def __init__(self, plan: SessionPlan, agent: LitAgent[Any] | None) -> None:
        self.plan = plan
        self.agent = agent
        self.store = plan.store
        self.bus: EventBus | None = None
        self.server_url: str | None = plan.remote_url
        self.launcher: Launcher | None = None
        self._runner_tasks: list[asyncio.Task[Any]] = []
        self._stack = contextlib.AsyncExitStack()
        self._before_finish: Any = None

    @property
    def proxy_url(self) -> str | None:
        return f"{self.server_url.rstrip('/')}/v1" if self.server_url else None

    async def __aenter__(self) -> TrainerSession:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        plan, stack = self.plan, self._stack
        # Event bus: the store publishes on it, runners wake on it, waits end on it.
        if isinstance(plan.bus, EventBus):
            self.bus = plan.bus  # given started by the caller, who also closes it
        elif plan.open_bus and self.store.bus is None:
            self.bus = await open_event_bus(plan.bus, manager=plan.manager)
            stack.push_async_callback(self.bus.close)
        if self.bus is not None and self.store.bus is None:
            self.store.bus = self.bus
            stack.callback(setattr, self.store, "bus", None)
        # Store: start it unless the caller already did (then the caller closes it too).
        if not self.store.started:
            await self.store.start()
            stack.push_async_callback(self.store.close)
        # Engine.
        if plan.engine is not None:
            await plan.engine.start()
            if plan.close_engine:
                stack.push_async_callback(plan.engine.close)
        # Server with the LLM proxy, in this event loop.
        if plan.serve and plan.remote_url is None:
            from ..server import create_app
            from ..server.run import serve_in_background

            app = create_app(
                self.store, engine=plan.engine, bus=self.bus, token=plan.token, manager=plan.manager
            )
            recorder = getattr(app.state, "span_recorder", None)
            if recorder is not None:
                # In-process runners finish attempts on the store directly, not through the
                # server's route that first writes the proxy's buffered LLM spans; do it for them.
                async def flush_proxy_spans(rollout_id: str, attempt_id: str) -> None:
                    await recorder.flush(attempt_id)

                self._before_finish = flush_proxy_spans
            self.server_url = await stack.enter_async_context(
                serve_in_background(app, host=plan.host, port=plan.port)
            )
            log.info("trainer: server and LLM proxy at %s", self.server_url)
        # Runners last: they need everything above.
        if self.agent is not None and plan.n_runners > 0:
            launcher = open_launcher(plan.launcher, plan.launcher_options, plan.manager)
            spec = LaunchSpec(
                agent=self.agent,
                replicas=plan.n_runners,
                server_url=self.server_url,
                concurrency=plan.concurrency,
                tracer=plan.tracer,
                worker_id=default_worker_id(),
                runner_options=dict(plan.runner_options),
                token=plan.token,
                store=self.store,
                bus=self.bus,
                before_finish=self._before_finish,
            )
            await launcher.start(spec)
            self.launcher = launcher
            stack.push_async_callback(self._stop_runners)
            self._runner_tasks.append(asyncio.create_task(launcher.wait(), name=f"launcher {launcher.name}"))

    async def _stop_runners(self) -> None:
        assert self.launcher is not None
        # the algorithm is done: what still runs is nobody's business
        await self.launcher.stop(grace=0.0)
        for task in self._runner_tasks:
            task.cancel()
        await asyncio.gather(*self._runner_tasks, return_exceptions=True)

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Await ``work()`` while watching the runners; a runner crash cancels it and raises."""
        task: asyncio.Task[T] = asyncio.ensure_future(work())
        watched = {t for t in self._runner_tasks if not t.done()}
        while True:
            done, _ = await asyncio.wait({task, *watched}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                return task.result()
            for finished in done:
                watched.discard(finished)
                error = None if finished.cancelled() else finished.exception()
                if error is not None:
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
                    raise RunnerCrashed(str(error)) from error
