"""Entry point of ``agentlightning-otel``: registers the ``otel`` tracer. Imports nothing heavy."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"opentelemetry": None}


@needs("agentlightning-otel", DRIVERS, what="tracer 'otel'")
def _otel_tracer() -> Any:
    from .tracer import OtelTracer

    return OtelTracer()


@hookimpl
def agl_register_tracers(register: Register) -> None:
    register(
        "otel",
        _otel_tracer,
        description="OpenTelemetry spans of agent code into the store; trace context to the proxy",
    )
