"""The ``demostore://`` store.

It starts as the in-memory store, so the conformance suite passes from the first minute. To keep
data somewhere else, implement the abstract methods of
:class:`agentlightning_core.store.LightningStore` instead (``agentlightning-sql`` is a complete
example); the tests in ``tests/`` say what every store must do.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from agentlightning_core.store import InMemoryStore


class DemostoreStore(InMemoryStore):
    """A store chosen by URLs such as ``demostore://``."""

    @classmethod
    def from_url(cls, url: str) -> DemostoreStore:
        scheme = urlsplit(url).scheme.split("+")[0]
        if scheme != "demostore":
            raise ValueError(f"DemostoreStore got URL {url!r}; its scheme must be demostore://")
        return cls()
