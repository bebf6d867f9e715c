"""Finding the tracer provider to hook into, without taking one away from the user.

If the application (or a tool such as AgentOps) already installed an SDK ``TracerProvider`` as
the global one, the router is added to it as one more span processor: the user's exporters keep
receiving everything, and rollout spans additionally reach the store. Otherwise a provider is
created and made global, so framework instrumentation that asks the global provider (AutoGen,
user code calling ``trace.get_tracer``) is seen as well. One router serves the whole process.
"""

from __future__ import annotations

import logging
import threading

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from .router import AttemptRouter

log = logging.getLogger(__name__)

_lock = threading.Lock()
_routers: dict[int, tuple[TracerProvider, AttemptRouter]] = {}


def _global_sdk_provider() -> TracerProvider | None:
    current = trace.get_tracer_provider()
    return current if isinstance(current, TracerProvider) else None


def acquire_router(provider: TracerProvider | None = None) -> tuple[TracerProvider, AttemptRouter, bool]:
    """The (provider, router) pair to trace with, and whether the provider was created here.

    :param provider: use this provider instead of the global one (the router is added to it).
    """
    with _lock:
        created = False
        if provider is None:
            provider = _global_sdk_provider()
        if provider is None:
            provider = TracerProvider(resource=Resource.create({"service.name": "agentlightning-runner"}))
            trace.set_tracer_provider(provider)
            created = True
            if trace.get_tracer_provider() is not provider:
                log.warning(
                    "the global OpenTelemetry tracer provider is not an SDK TracerProvider and cannot be "
                    "replaced; agent spans are recorded, but framework spans sent to the global provider "
                    "are not. Install an opentelemetry.sdk.trace.TracerProvider as the global provider."
                )
        existing = _routers.get(id(provider))
        if existing is not None and existing[0] is provider:
            return provider, existing[1], False
        router = AttemptRouter()
        provider.add_span_processor(router)
        _routers[id(provider)] = (provider, router)
        if not created:
            log.info("agentlightning: added a span processor to the existing OpenTelemetry provider")
        return provider, router, created
