"""Hook implementations: the ``mongodb`` and ``mongodb+srv`` store schemes."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"motor": None, "pymongo": None, "pydantic_settings": None}


@needs("agentlightning-mongodb", DRIVERS, what="store 'mongodb'")
def make_store(url: str) -> Any:
    from .store import MongoStore

    return MongoStore(url)


@hookimpl
def agl_register_stores(register: Register) -> None:
    register("mongodb", make_store, description="MongoDB via motor")
    register("mongodb+srv", make_store, description="MongoDB (DNS seed list) via motor")
