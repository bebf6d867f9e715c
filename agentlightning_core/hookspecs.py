"""Every hook a plugin can implement. The project name, the marker and the entry-point group
are all ``agentlightning``.

Each hook receives a ``register`` callback owned by the core: the plugin calls it once per thing
it provides. The core checks the name, refuses duplicates (naming both distributions) and
remembers which plugin gave what, which ``agl plugins`` then shows. Hooks are called once per
plugin, lazily, the first time the core needs that kind of thing.

A plugin module looks like::

    from agentlightning_core import hookimpl

    @hookimpl
    def agl_register_algorithms(register):
        register("my_algo", MyAlgorithm)  # a class, or a factory function returning an instance

and is exposed in its ``pyproject.toml``::

    [project.entry-points.agentlightning]
    my_algo = "my_package.plugin"

Specs only ever grow by optional arguments, so plugins written today keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

PROJECT_NAME = "agentlightning"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

if TYPE_CHECKING:
    import click


class Register(Protocol):
    """The callback handed to every ``agl_register_*`` hook."""

    def __call__(self, name: str, obj: Any, *, description: str = "") -> None: ...


@hookspec
def agl_register_stores(register: Register) -> None:
    """Register store factories by URL scheme.

    :param register: call ``register(scheme, factory)`` where ``factory(url: str)`` returns a
        :class:`~agentlightning_core.store.LightningStore` (not started). ``scheme`` is the URL
        scheme without ``://``, e.g. ``"sqlite"`` or ``"postgresql"``; a URL such as
        ``postgresql+asyncpg://`` is looked up by its part before ``+``.

    Called the first time a store is opened by URL (``open_store``, ``DATABASE_URL``).

    Example::

        @hookimpl
        def agl_register_stores(register):
            register("sqlite", lambda url: SqlStore(url), description="SQLite via SQLAlchemy")
    """


@hookspec
def agl_register_event_buses(register: Register) -> None:
    """Register event-bus factories by name.

    :param register: call ``register(name, factory)`` where ``factory()`` returns an
        :class:`~agentlightning_core.bus.EventBus` (not started) configured from the environment.

    Called when a bus is opened by name (``EVENT_BUS_BACKEND``, ``open_event_bus``).

    Example::

        @hookimpl
        def agl_register_event_buses(register):
            register("redis", RedisEventBus.from_env)
    """


@hookspec
def agl_register_tracers(register: Register) -> None:
    """Register tracers by name.

    :param register: call ``register(name, factory)`` where ``factory()`` returns a
        :class:`~agentlightning_core.tracer.Tracer`.

    Called when a runner picks its tracer (``Trainer(tracer=...)``, ``agl runner --tracer``).

    Example::

        @hookimpl
        def agl_register_tracers(register):
            register("otel", OtelTracer)
    """


@hookspec
def agl_register_adapters(register: Register) -> None:
    """Register agent-framework adapters by name.

    :param register: call ``register(name, factory)`` where ``factory()`` returns an
        :class:`~agentlightning_core.adapter.Adapter` that instruments the framework and wraps
        its agents as ``LitAgent``.

    Called the first time an adapter is requested by name
    (:func:`~agentlightning_core.adapter.get_adapter`, e.g. ``get_adapter("langgraph")``); users
    may also import an adapter class from its distribution directly.

    Example::

        @hookimpl
        def agl_register_adapters(register):
            register("langgraph", LangGraphAdapter)
    """


@hookspec
def agl_register_algorithms(register: Register) -> None:
    """Register training algorithms by name.

    :param register: call ``register(name, algorithm)`` where ``algorithm`` is either a subclass
        of :class:`~agentlightning_core.algorithm.Algorithm` or a factory function returning an
        instance of one. Either way it is called with the user's keyword arguments
        (``Trainer(algorithm="name", **options)``, ``agl train --option k=v``); anything else it
        returns is refused with a ``TypeError`` naming the plugin's algorithm. Register a factory
        when the algorithm's module imports something heavy (torch), and import it inside.

    Called when ``Trainer(algorithm="name")`` or ``agl train --algorithm name`` resolves a name.

    Example::

        @hookimpl
        def agl_register_algorithms(register):
            register("grpo", GRPO, description="group-relative policy optimisation (torch)")

            def load_apo(**options):  # a factory: the heavy import waits until the name is used
                from .apo import APO

                return APO(**options)

            register("apo", load_apo, description="automatic prompt optimisation")
    """


@hookspec
def agl_register_llm_engines(register: Register) -> None:
    """Register inference engines by name.

    :param register: call ``register(name, factory)`` where ``factory(**options)`` returns an
        :class:`~agentlightning_core.engine.LLMEngine` that the LLM proxy forwards calls to.

    Called when the trainer or ``agl serve --engine name`` builds the engine.

    Example::

        @hookimpl
        def agl_register_llm_engines(register):
            register("transformers", TransformersEngine)
    """


@hookspec
def agl_register_metric_sinks(register: Register) -> None:
    """Register metric sinks (experiment trackers) by name.

    :param register: call ``register(name, factory)`` where ``factory(**options)`` returns a
        :class:`~agentlightning_core.metrics.MetricSink`. ``options`` come from
        ``Trainer(metric_sink_options={name: {...}})``; a sink should also read its tracker's own
        environment variables (``MLFLOW_TRACKING_URI``, ``WANDB_PROJECT``, ...). Import the
        tracker's library in ``open``, not in the factory or at module import: a missing library
        then costs one warning, never the run.

    Called when a run resolves the sinks it was asked for (``Trainer(metric_sinks=[...])``,
    ``AGL_METRIC_SINKS=tensorboard,mlflow``, ``agl train --metric-sink NAME``). The built-in
    ``jsonl`` sink (``metrics.jsonl`` and ``config.json`` in the run's output directory) is
    registered here too and is always on. Every ``ctx.log_metrics`` call and the run's config
    reach every selected sink; a sink that raises is reported once and switched off.

    Example::

        class PrintSink(MetricSink):
            name = "print"

            def log_metrics(self, metrics, step, timestamp):
                print(step, dict(metrics))

        @hookimpl
        def agl_register_metric_sinks(register):
            register("print", PrintSink, description="metrics on stdout")
    """


@hookspec
def agl_register_launchers(register: Register) -> None:
    """Register launchers (where runners run) by name.

    :param register: call ``register(name, factory)`` where ``factory(**options)`` returns a
        :class:`~agentlightning_core.launcher.Launcher`. ``options`` come from
        ``Trainer(launcher_options={...})`` or ``agl runner --launcher-option KEY=VALUE``; refuse
        unknown ones with an error naming them. Import the cluster library in ``start``, not in the
        factory or at module import, so ``agl plugins`` lists the launcher on machines without it.

    Called when ``Trainer(launcher="name", n_runners=N)`` or ``agl runner --launcher name
    --replicas N`` picks a launcher. The built-in ``local`` launcher (runners in this process
    for the Trainer, child processes for ``agl runner``) is registered here too.

    Example::

        class ThreadLauncher(Launcher):
            name = "threads"

            async def start(self, spec):
                ...  # start spec.replicas runners against spec.server_url

        @hookimpl
        def agl_register_launchers(register):
            register("threads", ThreadLauncher, description="runners in threads")
    """


@hookspec
def agl_register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``agl`` command line.

    :param cli: the root ``click`` group; call ``cli.add_command(...)``.

    Called once when ``agl`` starts. A plugin that fails here is reported and skipped.

    Example::

        @hookimpl
        def agl_register_commands(cli):
            cli.add_command(demo_command, name="demo")
    """


@hookspec
def agl_server_app(app: Any) -> None:
    """Extend the HTTP server's FastAPI application (extra routes, middleware, a dashboard).

    :param app: the ``fastapi.FastAPI`` instance, after the core routes are mounted. Routes a
        plugin adds sit behind the same bearer-token check as the core's.

    Called once per ``create_app`` (``agl serve``, a Trainer's in-process server). A plugin that
    raises here is logged with its error and the server still starts. ``app.state`` holds the
    ``store``, the ``bus`` and ``auth`` (:class:`~agentlightning_core.server.auth.ServerAuth`).

    Pages a browser opens cannot carry the bearer header: a plugin may take over authentication
    of its own prefix with ``app.state.auth.delegate("/prefix")`` and then must check every
    request under it itself (``auth.check(typed_token)`` at a login form, a cookie signed with
    ``auth.derived_key(...)`` after), as ``agentlightning-dashboard`` does.

    Example::

        @hookimpl
        def agl_server_app(app):
            @app.get("/summary/rollouts")
            async def summary():
                return {"rollouts": await app.state.store.statistics()}
    """
