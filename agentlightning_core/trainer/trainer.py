"""``Trainer``: one object that wires algorithm, store, bus, engine, server and runners.

By default everything runs in this process and this event loop: the store, the event bus, the
inference engine, the HTTP server with the LLM proxy, ``n_runners`` runners, and the algorithm.
Point ``store`` at a server (``"http://host:4747"``) to run against ``agl serve`` instead, with
runners started elsewhere by ``agl runner --server URL`` (then ``n_runners=0``).

Typical use::

    trainer = Trainer(algorithm="apo", n_runners=4, initial_resources={"prompt": PromptTemplate(...)})
    result = trainer.fit(my_agent, train_data, val_data)
    best = trainer.best_resources()          # the ResourcesUpdate to deploy
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from ..agent import LitAgent, as_agent
from ..algorithm import Algorithm, AlgorithmResult, Baseline
from ..bus.base import EventBus
from ..engine import LLMEngine
from ..launcher import Launcher, check_replicas
from ..metrics import MetricSink, MetricSinks, RunInfo, resolve_metric_sinks
from ..plugin_manager import AglPluginManager, get_plugin_manager
from ..settings import load_settings
from ..store.base import LightningStore
from ..store.open import open_store, url_scheme
from ..tracer import Tracer
from ..types import LLM, AttemptStatus, Resource, ResourcesUpdate, RolloutConfig
from .context import TrainerRunContext
from .dev import DevReport, DevRollout
from .progress import make_progress, metrics_printer
from .resolve import resolve_algorithm, resolve_engine, resolve_tracer
from .run_config import run_config
from .session import SessionPlan, TrainerSession

log = logging.getLogger(__name__)

REMOTE_SCHEMES = ("http", "https")
#: what rollouts run with unless ``Trainer(rollout_config=...)`` says otherwise
DEFAULT_ROLLOUT_CONFIG = RolloutConfig(
    unresponsive_seconds=60.0, max_attempts=3, retry_on=[AttemptStatus.UNRESPONSIVE, AttemptStatus.TIMEOUT]
)
#: name of the proxy LLM resource added to ``initial_resources`` when an engine is served
DEFAULT_LLM_NAME = "main_llm"


class Trainer:
    """Train (or evaluate) an agent with an algorithm.

    :param algorithm: a registered name (``"baseline"``, ``"apo"``, ``"grpo"``, ...), an
        :class:`Algorithm` subclass, or an instance. ``**algorithm_kwargs`` go to its constructor.
    :param n_runners: runners the ``launcher`` starts (each running up to ``concurrency``
        rollouts at once). ``0`` when runners run elsewhere (``agl runner --server URL``).
    :param launcher: where those runners run: ``"local"`` (default: async tasks in this
        process), ``"ray"`` (Ray actors, ``pip install agentlightning-ray``), any registered
        launcher name, or a :class:`~agentlightning_core.launcher.Launcher`. Launchers other
        than ``local`` reach the Trainer's server over HTTP, so they need ``serve`` (the default).
    :param launcher_options: keyword arguments of the named launcher (for Ray: ``address``,
        ``num_cpus``, ``num_gpus``, ``resources``, ``max_restarts``, ``runtime_env``, ...).
    :param concurrency: rollouts each in-process runner runs at once.
    :param store: a store URL (``"memory://"``, ``"sqlite:///run.db"``, ``"postgresql://..."``,
        or ``"http://host:port"`` for a running ``agl serve``) or a ``LightningStore``; default:
        ``open_store()`` (``DATABASE_URL``, else SQLite when installed, else memory). A store
        opened from a URL is kept across ``fit``/``dev`` calls of this Trainer.
    :param bus: an event-bus name or a started ``EventBus``; default: ``open_event_bus()``
        (Redis when it answers, else in-process). Not used with a remote (``http://``) store.
    :param tracer: a registered tracer name or a ``Tracer`` for the in-process runners; default
        ``otel`` when ``agentlightning-otel`` is installed, else ``noop``.
    :param engine: an ``LLMEngine`` or a registered engine name built with ``engine_options``;
        the LLM proxy forwards the agent's calls to it. Algorithms reach it as ``ctx.engine``.
    :param initial_resources: the resources algorithms start from (an ``LLM``, prompt templates).
        With an ``engine`` and no ``LLM`` among them, the Trainer adds ``"main_llm"``: an ``LLM``
        pointing at its proxy (``ctx.default_llm()``), so agents reach the engine.
    :param output_dir: where ``metrics.jsonl``, ``config.json`` and ``result.json`` go; default ``runs/<timestamp>``.
    :param rollout_config: timeouts and retries of every rollout (``RolloutConfig``). Default:
        :data:`DEFAULT_ROLLOUT_CONFIG` — a runner silent for 60 s (dead, killed, cut off) loses
        the attempt and the rollout is retried (up to 3 attempts); errors raised by the agent
        are not retried, so a bug shows at once.
    :param rollout_timeout: seconds an algorithm waits for a batch before cancelling the rest.
    :param progress: show rich progress bars and metric lines.
    :param serve: run the HTTP server and LLM proxy in this process; default: yes unless the
        store is remote. Without it there is no ``ctx.proxy_url``: agents must reach their LLM
        some other way (an ``LLM`` resource with a real endpoint).
    :param host, port: where the server listens (``port=0``: a free port).
    :param token: bearer token the server requires; default ``AGL_SERVER_TOKEN``.
    :param runner_options: extra keyword arguments for each :class:`~agentlightning_core.runner.Runner`
        (``heartbeat_interval``, ``flush_interval``, ...).
    :param metric_sinks: where ``ctx.log_metrics`` records and the run's config go besides
        ``metrics.jsonl`` (always written): sink names (``["tensorboard", "mlflow", "wandb"]``,
        or one comma-separated string) and/or ``MetricSink`` instances; default
        ``AGL_METRIC_SINKS``. A sink that is not installed or that fails is reported once and
        skipped; training goes on.
    :param metric_sink_options: keyword arguments per sink name, e.g.
        ``{"mlflow": {"tracking_uri": "sqlite:///mlflow.db", "experiment": "calc"}}``.
    :param manager: the plugin manager names are resolved through; default the process-wide one
        (tests and embedders pass ``AglPluginManager(plugins=[...])``).
    """

    def __init__(
        self,
        algorithm: str | Algorithm | type[Algorithm] = "baseline",
        *,
        n_runners: int = 1,
        launcher: str | Launcher = "local",
        launcher_options: Mapping[str, Any] | None = None,
        concurrency: int = 1,
        store: str | LightningStore | None = None,
        bus: str | EventBus | None = None,
        tracer: str | Tracer | None = None,
        engine: str | LLMEngine | None = None,
        engine_options: Mapping[str, Any] | None = None,
        initial_resources: Mapping[str, Resource] | None = None,
        output_dir: str | Path | None = None,
        rollout_config: RolloutConfig | None = None,
        rollout_timeout: float | None = None,
        progress: bool = True,
        serve: bool | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        runner_options: Mapping[str, Any] | None = None,
        metric_sinks: str | Sequence[str | MetricSink] | None = None,
        metric_sink_options: Mapping[str, Mapping[str, Any]] | None = None,
        manager: AglPluginManager | None = None,
        **algorithm_kwargs: Any,
    ) -> None:
        if n_runners < 0:
            raise ValueError(f"n_runners must be >= 0 (got {n_runners})")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1 (got {concurrency})")
        self.manager = manager or get_plugin_manager()
        self.algorithm = resolve_algorithm(algorithm, algorithm_kwargs, self.manager)
        self.algorithm_kwargs = dict(algorithm_kwargs)
        self.n_runners = n_runners
        self.launcher = launcher
        self.launcher_options = dict(launcher_options or {})
        if isinstance(launcher, str):
            self.manager.launcher_factory(launcher)  # a missing plugin fails here, with its pip command
        if launcher != "local" and n_runners == 0:
            check_replicas(n_runners, "n_runners")
        self.concurrency = concurrency
        self.tracer = resolve_tracer(tracer, self.manager)
        self.initial_resources: dict[str, Resource] = dict(initial_resources or {})
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.rollout_config = rollout_config if rollout_config is not None else DEFAULT_ROLLOUT_CONFIG
        self.rollout_timeout = rollout_timeout
        self.progress = progress
        self.host = host
        self.port = port
        self.token = token if token is not None else load_settings().agl_server_token
        self.runner_options = dict(runner_options or {})
        self._store_arg = store
        self._store: LightningStore | None = store if isinstance(store, LightningStore) else None
        self.remote_url = _remote_url(store)
        if self.remote_url is not None and engine is not None:
            raise ValueError(
                "engine= cannot be used with a remote store: the server's proxy serves the LLM; "
                "give the engine to `agl serve --engine ...` instead"
            )
        self._engine_given = isinstance(engine, LLMEngine)
        self.engine = resolve_engine(engine, engine_options, self.manager)
        self.engine_options = dict(engine_options or {})
        #: the run's sinks (``jsonl`` first); reused by each ``fit``, opened and closed per run
        self.metric_sinks = resolve_metric_sinks(metric_sinks, metric_sink_options, self.manager)
        self.serve = (self.remote_url is None) if serve is None else serve
        if self.serve and self.remote_url is not None:
            raise ValueError(
                f"serve=True conflicts with the remote store {self.remote_url}; it already serves"
            )
        if launcher != "local" and n_runners and not self.serve and self.remote_url is None:
            raise ValueError(
                f"launcher={launcher!r} starts runners that reach the store over HTTP, but serve=False "
                "leaves no server: drop serve=False, or pass store='http://host:port' of an `agl serve`"
            )
        self._bus_arg = bus
        self.console = Console(stderr=True)
        self.last_result: AlgorithmResult | None = None
        self._best: ResourcesUpdate | None = None

    # ------------------------------------------------------------------ public API
    def fit(
        self, agent: LitAgent[Any] | Any, train_data: Sequence[Any], val_data: Sequence[Any] | None = None
    ) -> AlgorithmResult:
        """Train ``agent`` on ``train_data`` (validating on ``val_data``) and return the result.

        The best resources are then in :meth:`best_resources`. Blocks; inside a running event
        loop use ``await fit_async(...)``. With ``n_runners=0`` the agent runs in runners started
        elsewhere (``agl runner --server URL --agent ...``, possibly in another venv), so
        ``agent`` may be ``None``: this process then never imports the agent's framework.
        """
        return _run_sync(self._fit(agent, train_data, val_data, owns_loop=True), "fit", self._threads())

    async def fit_async(
        self, agent: LitAgent[Any] | Any, train_data: Sequence[Any], val_data: Sequence[Any] | None = None
    ) -> AlgorithmResult:
        """The asynchronous form of :meth:`fit`. An engine instance you passed stays open (close
        it yourself); :meth:`fit` closes it, because its event loop ends with the call."""
        return await self._fit(agent, train_data, val_data, owns_loop=False)

    async def _fit(
        self,
        agent: LitAgent[Any] | Any,
        train_data: Sequence[Any],
        val_data: Sequence[Any] | None,
        *,
        owns_loop: bool,
    ) -> AlgorithmResult:
        lit_agent = self._local_agent(agent)
        output_dir = self._output_dir()
        sinks = MetricSinks(self.metric_sinks)
        config = run_config(self, len(train_data), None if val_data is None else len(val_data))
        sinks.open(RunInfo(output_dir, output_dir.name, config))
        error: BaseException | None = None
        try:
            async with TrainerSession(self._plan(owns_loop), lit_agent) as session:
                ctx = self._context(session, train_data, val_data, output_dir, self.rollout_config, sinks)
                result = await self._run_algorithm(self.algorithm, ctx, session)
                self._best = await self._fetch_best(session.store, result)
        except BaseException as exc:
            error = exc
            raise
        finally:
            sinks.close(error)
        self.last_result = result
        self._write_result(output_dir, result)
        return result

    def _local_agent(self, agent: LitAgent[Any] | Any) -> LitAgent[Any] | None:
        """The agent the in-process runners run; ``None`` only when no runner runs here."""
        if agent is None:
            if self.n_runners > 0:
                raise ValueError(
                    f"agent is None but n_runners={self.n_runners}: pass the agent, or n_runners=0 when "
                    "runners started elsewhere (agl runner --server URL --agent ...) run it"
                )
            return None
        return as_agent(agent)

    def dev(
        self,
        agent: LitAgent[Any] | Any,
        data: Sequence[Any],
        *,
        limit: int | None = 5,
        show_spans: bool = True,
        quiet: bool = False,
    ) -> DevReport:
        """Dry run: run the agent once on the first ``limit`` tasks with the initial resources
        (the ``Baseline`` algorithm, one attempt per rollout), print each rollout's status,
        reward, error and spans, and return them. Nothing is trained."""
        return _run_sync(
            self._dev(agent, data, limit=limit, show_spans=show_spans, quiet=quiet, owns_loop=True),
            "dev",
            self._threads(),
        )

    async def dev_async(
        self,
        agent: LitAgent[Any] | Any,
        data: Sequence[Any],
        *,
        limit: int | None = 5,
        show_spans: bool = True,
        quiet: bool = False,
    ) -> DevReport:
        """The asynchronous form of :meth:`dev`."""
        return await self._dev(agent, data, limit=limit, show_spans=show_spans, quiet=quiet, owns_loop=False)

    async def _dev(
        self,
        agent: LitAgent[Any] | Any,
        data: Sequence[Any],
        *,
        limit: int | None,
        show_spans: bool,
        quiet: bool,
        owns_loop: bool,
    ) -> DevReport:
        lit_agent = as_agent(agent)
        tasks = list(data)[:limit] if limit is not None else list(data)
        if not tasks:
            raise ValueError("dev() needs at least one task in data")
        config = self.rollout_config.model_copy(update={"max_attempts": 1})
        report = DevReport()
        async with TrainerSession(self._plan(owns_loop), lit_agent) as session:
            ctx = self._context(session, tasks, None, self._output_dir() / "dev", config)
            await self._run_algorithm(Baseline(), ctx, session)
            for evaluation in ctx.evaluations:
                for outcome in evaluation.outcomes:
                    attempts = await session.store.get_attempts(outcome.rollout.rollout_id)
                    report.rollouts.append(DevRollout(outcome, attempts))
        if not quiet:
            report.print(self.console, show_spans=show_spans)
        return report

    def best_resources(self) -> ResourcesUpdate:
        """THE way to get what training found: the resources version the algorithm judged best
        (its ``best_resources_id``; failing that, the latest version published), as saved at the
        end of the last :meth:`fit`. Its ``resources`` map names to ``LLM`` / ``PromptTemplate``."""
        if self.last_result is None:
            raise RuntimeError("best_resources() is only known after fit(); call trainer.fit(...) first")
        if self._best is None:
            raise LookupError(
                "the last fit() published no resources (the algorithm gave none and none were in "
                "initial_resources); pass initial_resources=... or use an algorithm that publishes some"
            )
        return self._best

    # ------------------------------------------------------------------ internals
    def _threads(self) -> int:
        """Threads for synchronous agents: every rollout that may run at once gets one."""
        return max(32, self.n_runners * self.concurrency + 8)

    def _open_store(self) -> LightningStore:
        if self._store is None:
            if self.remote_url is not None:
                from ..client import HttpStore

                self._store = HttpStore(self.remote_url, token=self.token)
            else:
                arg = self._store_arg
                self._store = open_store(arg if isinstance(arg, str) else None, manager=self.manager)
        return self._store

    def _plan(self, owns_loop: bool) -> SessionPlan:
        return SessionPlan(
            store=self._open_store(),
            remote_url=self.remote_url,
            bus=self._bus_arg,
            open_bus=self.remote_url is None or self._bus_arg is not None,
            engine=self.engine,
            # An engine we built is ours; one given to us is closed only when the event loop ends
            # with the call (sync fit/dev), since it cannot be closed from another loop later.
            close_engine=self.engine is not None and (owns_loop or not self._engine_given),
            serve=self.serve,
            host=self.host,
            port=self.port,
            token=self.token,
            n_runners=self.n_runners,
            concurrency=self.concurrency,
            tracer=self.tracer,
            runner_options=self.runner_options,
            manager=self.manager,
            launcher=self.launcher,
            launcher_options=self.launcher_options,
        )

    def _output_dir(self) -> Path:
        if self.output_dir is None:
            self.output_dir = Path("runs") / time.strftime("%Y%m%d-%H%M%S")
        return self.output_dir

    def _context(
        self,
        session: TrainerSession,
        train_data: Sequence[Any],
        val_data: Sequence[Any] | None,
        output_dir: Path,
        rollout_config: RolloutConfig | None,
        metric_sinks: MetricSinks | None = None,
    ) -> TrainerRunContext:
        ctx = TrainerRunContext(
            session.store,
            train_data=train_data,
            val_data=val_data,
            engine=self.engine,
            proxy_url=session.proxy_url,
            output_dir=output_dir,
            rollout_config=rollout_config,
            rollout_timeout=self.rollout_timeout,
            initial_resources=self.initial_resources,
            api_key=self.token,
            on_metrics=metrics_printer(self.console) if self.progress else None,
            metric_sinks=metric_sinks,
        )
        has_llm = any(isinstance(r, LLM) for r in self.initial_resources.values())
        if self.engine is not None and session.proxy_url is not None and not has_llm:
            # The engine is only reachable through the proxy: hand agents that endpoint.
            ctx.initial_resources[DEFAULT_LLM_NAME] = ctx.default_llm()
        return ctx

    async def _run_algorithm(
        self, algorithm: Algorithm, ctx: TrainerRunContext, session: TrainerSession
    ) -> AlgorithmResult:
        if session.server_url and self.n_runners == 0:
            self.console.print(f"waiting for runners: agl runner --server {session.server_url} --agent ...")
        if self.progress:
            ctx.progress = make_progress(self.console)
            ctx.progress.start()
        try:
            result = await session.run(lambda: algorithm.run(ctx))
        finally:
            if ctx.progress is not None:
                ctx.progress.stop()
        if result is None:
            result = AlgorithmResult(best_resources_id=ctx.best_resources_id, metrics=ctx.metrics_history)
        if result.best_resources_id is None:
            result.best_resources_id = ctx.best_resources_id
        return result

    async def _fetch_best(self, store: LightningStore, result: AlgorithmResult) -> ResourcesUpdate | None:
        if result.best_resources_id is not None:
            return await store.get_resources(result.best_resources_id)
        return await store.get_resources(None)

    def _write_result(self, output_dir: Path, result: AlgorithmResult) -> None:
        output_dir.mkdir(parents=True, exist_ok=True)
        best = None
        if self._best is not None:
            best = {
                "resources_id": self._best.resources_id,
                "version": self._best.version,
                "resources": {
                    name: r.model_dump(mode="json", exclude={"api_key"} if isinstance(r, LLM) else None)
                    for name, r in self._best.resources.items()
                },
            }
        record = {
            "algorithm": type(self.algorithm).__name__,
            "best_resources_id": result.best_resources_id,
            "best_score": result.best_score,
            "best_resources": best,
            "extra": result.extra,
        }
        (output_dir / "result.json").write_text(json.dumps(record, indent=2, default=str) + "\n")


def _remote_url(store: str | LightningStore | None) -> str | None:
    if isinstance(store, str):
        return store.rstrip("/") if url_scheme(store) in REMOTE_SCHEMES else None
    if isinstance(store, LightningStore) and not store.runs_watchdog:
        url = getattr(store, "base_url", None) or getattr(store, "url", None)
        return str(url).rstrip("/") if url else None
    return None


def _run_sync(coro: Any, name: str, threads: int) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise RuntimeError(
            f"Trainer.{name}() was called inside a running event loop (a notebook, an async app); "
            f"use `await trainer.{name}_async(...)` there"
        )

    async def main() -> Any:
        # Synchronous agents run in threads; give each concurrent rollout one.
        loop = asyncio.get_running_loop()
        loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="agl-agent")
        )
        return await coro

    return asyncio.run(main())
