"""The ``demobus`` event bus.

It starts as the in-process bus, so the conformance suite passes from the first minute. To carry
events between processes, implement the abstract methods of
:class:`agentlightning_core.bus.EventBus` (``publish``, ``subscribe``, ``get_event_history``,
``clear_event_history``) over your broker; ``agentlightning-redis`` is a complete example.
"""

from __future__ import annotations

from agentlightning_core.bus import InMemoryEventBus


class DemobusEventBus(InMemoryEventBus):
    """Selected with ``EVENT_BUS_BACKEND=demobus``."""
