"""The ``agentops`` tracer: AgentOps' instrumentation, recorded into the store, nothing sent away.

Two cases, told apart by whether the application initialised AgentOps itself:

* **It did not** (the default): AgentOps' instrumentors for the libraries that are installed
  (OpenAI, Anthropic, CrewAI, AG2, the OpenAI Agents SDK, LangGraph, ...) are pointed at this
  tracer's own OpenTelemetry provider. AgentOps' client is never initialised, so no API key is
  needed and no byte leaves the machine.
* **It did** (``agentops.init(api_key=...)`` before training, the seed's caveat 1): AgentOps
  already instruments into its own provider and exports to its service. This tracer adds its
  span processor to that provider and instruments nothing again, so the user's AgentOps
  dashboard keeps receiving everything and rollout spans also reach the store.

Everything else (attempt routing, trace context to the proxy, conversion) is the ``otel``
tracer's, which this class extends.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, ClassVar

from agentlightning_otel.tracer import OtelTracer
from opentelemetry.sdk.trace import TracerProvider

from .kinds import AgentOpsKinds
from .marking import MarkingProvider

log = logging.getLogger(__name__)

# AgentOps writes ``agentops.log`` into the working directory on import unless told not to; a
# trainer's runners should not litter the user's folder. An explicit setting is respected.
os.environ.setdefault("AGENTOPS_LOGGING_TO_FILE", "false")

_lock = threading.Lock()
#: provider id → the instrumentors pointed at it (instrumenting twice would double every span)
_instrumented: dict[int, list[Any]] = {}
_kinds_added: set[int] = set()


def user_provider() -> TracerProvider | None:
    """AgentOps' own provider when the application initialised AgentOps, else ``None``."""
    from agentops.sdk.core import tracer as core

    provider = core.provider if core.initialized else None
    return provider if isinstance(provider, TracerProvider) else None


def instrument_installed(provider: TracerProvider) -> list[str]:
    """Point AgentOps' instrumentor of every installed library it knows at ``provider``.

    Returns the libraries instrumented. A library whose instrumentor fails is logged and skipped:
    tracing must never stop a rollout.
    """
    from agentops.instrumentation import AGENTIC_LIBRARIES, PROVIDERS, InstrumentorLoader

    with _lock:
        if id(provider) in _instrumented:
            return [type(i).__name__ for i in _instrumented[id(provider)]]
        done: list[Any] = []
        for library, config in {**PROVIDERS, **AGENTIC_LIBRARIES}.items():
            loader = InstrumentorLoader(**config)
            if not loader.should_activate:
                continue
            try:
                instrumentor = loader.get_instance()
                instrumentor.instrument(tracer_provider=MarkingProvider(provider))
            except Exception as exc:  # a broken instrumentor costs its spans, not the run
                log.warning(
                    "agentops: could not instrument %s (%s); its spans are not recorded", library, exc
                )
                continue
            done.append(instrumentor)
        _instrumented[id(provider)] = done
        return [type(i).__name__ for i in done]


def uninstrument_all() -> None:
    """Undo :func:`instrument_installed` for every provider (tests, and a clean shutdown)."""
    with _lock:
        for instrumentors in _instrumented.values():
            for instrumentor in instrumentors:
                try:
                    instrumentor.uninstrument()
                except Exception:  # already undone by the library itself
                    pass
        _instrumented.clear()


class AgentOpsTracer(OtelTracer):
    """The ``agentops`` tracer.

    :param provider: an SDK ``TracerProvider`` to record from; default AgentOps' own when the
        application initialised AgentOps, else the global SDK provider, else a new one.
    :param instrument: point AgentOps' instrumentors at the provider when AgentOps is not
        initialised (turn off to record only what your own instrumentation produces).
    """

    name: ClassVar[str] = "agentops"

    def __init__(
        self, provider: TracerProvider | None = None, *, propagate: bool = True, instrument: bool = True
    ) -> None:
        super().__init__(provider, propagate=propagate)
        self._explicit = provider is not None
        self.instrument = instrument
        self.instrumented: list[str] = []
        self.mode = "unset"

    def init_worker(self, worker_id: str) -> None:
        users = user_provider()
        if not self._explicit and users is not None:
            self._given = users
        super().init_worker(worker_id)
        assert self.provider is not None
        with _lock:
            if id(self.provider) not in _kinds_added:
                self.provider.add_span_processor(AgentOpsKinds())
                _kinds_added.add(id(self.provider))
        if users is not None and self.provider is users:
            self.mode = "alongside the application's AgentOps client"
        else:
            self.mode = "local"
            if self.instrument:
                self.instrumented = instrument_installed(self.provider)
        log.info(
            "agentops tracer (%s): instrumented %s", self.mode, ", ".join(self.instrumented) or "nothing new"
        )
