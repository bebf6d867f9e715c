"""The mongodb plugin: registered through its entry point, database naming, indexes, errors."""

from __future__ import annotations

from typing import Any

import pytest
from agentlightning_mongodb.settings import database_name, load_mongo_settings
from agentlightning_mongodb.store import MongoStore

from agentlightning_core.errors import BackendUnavailableError
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.store import open_store


def test_entry_point_registers_both_schemes() -> None:
    registry = AglPluginManager().registry("agl_register_stores")
    assert {"mongodb", "mongodb+srv"} <= set(registry.names())
    assert registry.entries["mongodb"].provider.distribution == "agentlightning-mongodb"
    store = open_store("mongodb://127.0.0.1:27017/agl", manager=AglPluginManager())
    assert isinstance(store, MongoStore) and store.database_name == "agl"


def test_database_from_url_then_environment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONGODB_DATABASE", raising=False)
    settings = load_mongo_settings()
    assert database_name("mongodb://h:27017/fromurl?authSource=admin", settings) == "fromurl"
    assert database_name("mongodb+srv://user:pw@cluster.example.net/", settings) == "agentlightning"
    monkeypatch.setenv("MONGODB_DATABASE", "fromenv")
    settings = load_mongo_settings()
    assert database_name("mongodb+srv://cluster.example.net", settings) == "fromenv"
    assert database_name("mongodb://h/fromurl", settings) == "fromurl"


async def test_indexes_are_created_on_start() -> None:
    from mongomock_motor import AsyncMongoMockClient

    client: Any = AsyncMongoMockClient()
    async with MongoStore("mongodb://mock", database="agl_idx", client=client):
        rollout_indexes = await client["agl_idx"]["agl_rollouts"].index_information()
        resource_indexes = await client["agl_idx"]["agl_resources"].index_information()
        span_indexes = await client["agl_idx"]["agl_spans"].index_information()
    keys = [tuple(k for k, _ in info["key"]) for info in rollout_indexes.values()]
    assert ("status", "queue_seq") in keys and ("seq",) in keys
    assert any(info.get("unique") for info in resource_indexes.values())
    assert any(
        tuple(k for k, _ in i["key"]) == ("rollout_id", "attempt_seq", "sequence_id")
        for i in span_indexes.values()
    )


async def test_unreachable_server_is_backend_unavailable() -> None:
    store = MongoStore("mongodb://127.0.0.1:1/agl", server_selection_timeout_ms=300)
    with pytest.raises(BackendUnavailableError, match="agl"):
        await store.start()
