"""A tracer provider that tags every span its tracers start as AgentOps'.

AgentOps' instrumentors name their tracers after the library they instrument (``openai``), so a
span alone does not tell who made it. The instrumentors are given this provider instead of the
real one: it hands out the real provider's tracers, wrapped to add ``agentlightning.source =
agentops`` to each span's attributes at its start. The spans still go through the real
provider's processors (and so to the store).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

SOURCE = "agentlightning.source"


def _tagged(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**(attributes or {}), SOURCE: "agentops"}


class MarkingTracer(trace.Tracer):
    def __init__(self, inner: trace.Tracer) -> None:
        self._inner = inner

    def start_span(self, name: str, *args: Any, attributes: Any = None, **kwargs: Any) -> trace.Span:
        inner: Any = self._inner
        return inner.start_span(name, *args, attributes=_tagged(attributes), **kwargs)

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, name: str, *args: Any, attributes: Any = None, **kwargs: Any
    ) -> Iterator[trace.Span]:
        inner: Any = self._inner
        with inner.start_as_current_span(name, *args, attributes=_tagged(attributes), **kwargs) as span:
            yield span


class MarkingProvider(trace.TracerProvider):
    def __init__(self, inner: trace.TracerProvider) -> None:
        self._inner = inner

    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> trace.Tracer:
        return MarkingTracer(self._inner.get_tracer(instrumenting_module_name, *args, **kwargs))
