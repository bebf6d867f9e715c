"""Hook implementations: the ``mongodb`` and ``mongodb+srv`` store schemes."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


def make_store(url: str) -> Any:
    from .store import MongoStore

    return MongoStore(url)


@hookimpl
def agl_register_stores(register: Register) -> None:
    register("mongodb", make_store, description="MongoDB via motor")
    register("mongodb+srv", make_store, description="MongoDB (DNS seed list) via motor")
