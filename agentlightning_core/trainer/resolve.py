"""Turning what the user passed (a name, a class, an instance) into algorithm, tracer and engine.

Names go through the plugin registries, never through imports of a plugin by name, so
``Trainer(algorithm="grpo")`` works for whatever distribution registered ``grpo`` and fails with
the pip command to install one when nothing did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..algorithm import Algorithm
from ..engine import LLMEngine
from ..plugin_manager import AglPluginManager, get_plugin_manager
from ..tracer import Tracer


def resolve_algorithm(
    algorithm: str | Algorithm | type[Algorithm],
    kwargs: Mapping[str, Any],
    manager: AglPluginManager | None = None,
) -> Algorithm:
    """An ``Algorithm`` instance from a registered name, a subclass, or an instance."""
    if isinstance(algorithm, Algorithm):
        if kwargs:
            raise TypeError(
                f"Trainer got algorithm options {sorted(kwargs)} together with an algorithm instance "
                f"({type(algorithm).__name__}); pass the options to its constructor instead"
            )
        return algorithm
    if isinstance(algorithm, type) and issubclass(algorithm, Algorithm):
        return algorithm(**kwargs)
    if isinstance(algorithm, str):
        factory = (manager or get_plugin_manager()).algorithm_factory(algorithm)
        built = factory(**kwargs)
        if not isinstance(built, Algorithm):
            raise TypeError(
                f"the plugin registering algorithm {algorithm!r} returned {type(built).__name__}, "
                "not an Algorithm subclass instance"
            )
        return built
    raise TypeError(
        f"algorithm must be a registered name, an Algorithm subclass or instance; got {type(algorithm).__name__}"
    )


def resolve_tracer(tracer: str | Tracer | None, manager: AglPluginManager | None = None) -> Tracer:
    """A tracer from a registered name (``None``: ``"noop"``) or an instance."""
    if isinstance(tracer, Tracer):
        return tracer
    if tracer is None or isinstance(tracer, str):
        built = (manager or get_plugin_manager()).tracer_factory(tracer or "noop")()
        if not isinstance(built, Tracer):
            raise TypeError(f"tracer {tracer!r} is a {type(built).__name__}, not a Tracer")
        return built
    raise TypeError(f"tracer must be a registered name or a Tracer instance; got {type(tracer).__name__}")


def resolve_engine(
    engine: str | LLMEngine | None,
    options: Mapping[str, Any] | None,
    manager: AglPluginManager | None = None,
) -> LLMEngine | None:
    """An engine from a registered name plus ``options``, an instance, or ``None``."""
    if engine is None:
        if options:
            raise TypeError("engine_options were given without an engine; pass engine='<name>' too")
        return None
    if isinstance(engine, LLMEngine):
        if options:
            raise TypeError("engine_options only apply to an engine given by name, not to an instance")
        return engine
    if isinstance(engine, str):
        built = (manager or get_plugin_manager()).llm_engine_factory(engine)(**dict(options or {}))
        if not isinstance(built, LLMEngine):
            raise TypeError(f"engine {engine!r} is a {type(built).__name__}, not an LLMEngine")
        return built
    raise TypeError(f"engine must be a registered name or an LLMEngine instance; got {type(engine).__name__}")
