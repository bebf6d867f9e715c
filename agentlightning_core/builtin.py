"""The built-in plugin: registered through the same hooks as every external plugin."""

from __future__ import annotations

from typing import Any

from .hookspecs import Register, hookimpl


def _memory_store(url: str) -> Any:
    from .store.memory import InMemoryStore

    return InMemoryStore.from_url(url)


def _memory_bus() -> Any:
    from .bus.memory import InMemoryEventBus

    return InMemoryEventBus()


def _noop_tracer() -> Any:
    from .tracer import NoopTracer

    return NoopTracer()


def _openai_adapter() -> Any:
    from .adapter import OpenAIAdapter

    return OpenAIAdapter()


def _baseline(**kwargs: Any) -> Any:
    from .algorithm import Baseline

    return Baseline(**kwargs)


def _openai_engine(**kwargs: Any) -> Any:
    from .proxy.upstream import OpenAIEngine

    return OpenAIEngine(**kwargs)


@hookimpl
def agl_register_stores(register: Register) -> None:
    register("memory", _memory_store, description="in-process store; nothing survives a restart")
    register("http", _http_store, description="a remote Agent Lightning server (agl serve)")
    register("https", _http_store, description="a remote Agent Lightning server over TLS")


def _http_store(url: str) -> Any:
    from .client import HttpStore

    return HttpStore(url)


@hookimpl
def agl_register_event_buses(register: Register) -> None:
    register("memory", _memory_bus, description="in-process publish/subscribe with history")


@hookimpl
def agl_register_tracers(register: Register) -> None:
    register("noop", _noop_tracer, description="records rewards and proxy LLM calls only")


@hookimpl
def agl_register_adapters(register: Register) -> None:
    register("openai", _openai_adapter, description="plain openai client; the proxy records every call")


@hookimpl
def agl_register_algorithms(register: Register) -> None:
    register("baseline", _baseline, description="evaluate only")


@hookimpl
def agl_register_llm_engines(register: Register) -> None:
    register("openai", _openai_engine, description="pass-through to any OpenAI-compatible endpoint")


def _jsonl_sink(**kwargs: Any) -> Any:
    from .metrics import JsonlSink

    return JsonlSink(**kwargs)


@hookimpl
def agl_register_metric_sinks(register: Register) -> None:
    register("jsonl", _jsonl_sink, description="metrics.jsonl + config.json in the run's output directory")


def _local_launcher(**kwargs: Any) -> Any:
    from .launcher.local import LocalLauncher

    return LocalLauncher(**kwargs)


@hookimpl
def agl_register_launchers(register: Register) -> None:
    register(
        "local",
        _local_launcher,
        description="runners on this machine: in the Trainer's process, or child processes (agl runner)",
    )
