"""The plugin is installed, found through its entry point, and is the embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.store import default_store_url, open_store


def test_entry_point_registers_sqlite_and_postgresql() -> None:
    manager = AglPluginManager()
    registry = manager.registry("agl_register_stores")
    assert {"sqlite", "postgresql", "postgres"} <= set(registry.names())
    assert registry.entries["sqlite"].provider.distribution == "agentlightning-sql"


@pytest.mark.parametrize(
    "url",
    ["sqlite:///x.db", "sqlite+aiosqlite:///x.db", "postgresql://u@h/db", "postgresql+asyncpg://u@h/db"],
)
def test_every_url_form_opens_a_sql_store(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentlightning_sql.store import SqlStore

    monkeypatch.chdir(tmp_path)
    store = open_store(url, manager=AglPluginManager())
    assert isinstance(store, SqlStore)
    assert "+" in store.url.drivername


async def test_no_database_url_means_sqlite_file_in_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    manager = AglPluginManager()
    assert default_store_url(manager) == "sqlite:///agentlightning.db"
    async with open_store(manager=manager) as store:
        await store.enqueue_rollout("task")
    assert (tmp_path / "agentlightning.db").exists()
    async with open_store(manager=manager) as store:  # and it is there again after a restart
        assert (await store.query_rollouts()).total == 1


def test_unknown_database_folder_is_a_clear_error(tmp_path: Path) -> None:
    from agentlightning_sql.store import SqlStore

    from agentlightning_core.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="does not exist"):
        SqlStore(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")


async def test_unreachable_postgres_is_backend_unavailable() -> None:
    from agentlightning_sql.store import SqlStore

    from agentlightning_core.errors import BackendUnavailableError

    store = SqlStore("postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(BackendUnavailableError, match="127.0.0.1:1"):
        await store.start()
