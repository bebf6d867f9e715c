"""Secrets in resources are encrypted at rest; without a key they are refused, never stored in clear."""

from __future__ import annotations

import pytest
from agentlightning_sql.encryption import (
    SecretBox,
    SecretDecryptionError,
    SecretKeyMissingError,
    seal_model,
    unseal,
)
from agentlightning_sql.store import SqlStore
from cryptography.fernet import Fernet
from pydantic import BaseModel, Field
from sqlalchemy import Connection, text

from agentlightning_core.errors import InvalidRequestError
from agentlightning_core.types import LLM, PromptTemplate

from .conftest import KEY

SECRET = "sk-live-0123456789abcdef"


async def _raw_resources(store: SqlStore) -> str:
    def read(conn: Connection) -> str:
        rows = conn.execute(text("SELECT resources_id, data FROM agl_resources")).all()
        return "\n".join(f"{r[0]} {r[1]}" for r in rows)

    return await store.pools.read(read)


async def test_api_key_is_not_in_the_table_and_reads_back(db_url: str) -> None:
    async with SqlStore(db_url, encryption_key=KEY) as store:
        update = await store.add_resources(
            {
                "llm": LLM(endpoint="http://x/v1", model="m", api_key=SECRET),
                "p": PromptTemplate(template="hi"),
            }
        )
        raw = await _raw_resources(store)
        assert SECRET not in raw and "sk-live" not in raw
        assert "$agl_secret" in raw and "http://x/v1" in raw  # only the secret is sealed
        got = await store.get_resources(update.resources_id)
    assert got is not None
    llm = got.resources["llm"]
    assert isinstance(llm, LLM) and llm.api_key is not None and llm.api_key.get_secret_value() == SECRET


async def test_key_from_environment(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGL_ENCRYPTION_KEY", KEY)
    async with SqlStore(sqlite_url) as store:
        await store.add_resources({"llm": LLM(endpoint="http://x/v1", model="m", api_key=SECRET)})
        assert SECRET not in await _raw_resources(store)
        assert (await store.statistics())["encryption"] == {"key_configured": True}


async def test_without_key_a_secret_is_refused_and_nothing_is_written(sqlite_url: str) -> None:
    async with SqlStore(sqlite_url) as store:
        with pytest.raises(SecretKeyMissingError, match="AGL_ENCRYPTION_KEY") as info:
            await store.add_resources({"main": LLM(endpoint="http://x/v1", model="m", api_key=SECRET)})
        assert "'main'" in str(info.value) and "api_key" in str(info.value)
        assert await _raw_resources(store) == ""
        # resources without a secret need no key
        update = await store.add_resources({"main": LLM(endpoint="http://x/v1", model="m")})
        assert update.version == 1


async def test_wrong_key_cannot_read_and_rotation_can(sqlite_url: str) -> None:
    async with SqlStore(sqlite_url, encryption_key=KEY) as store:
        update = await store.add_resources({"llm": LLM(endpoint="http://x/v1", model="m", api_key=SECRET)})
    other = Fernet.generate_key().decode()
    async with SqlStore(sqlite_url, encryption_key=other) as store:
        with pytest.raises(SecretDecryptionError, match="rotated"):
            await store.get_resources(update.resources_id)
    async with SqlStore(sqlite_url, encryption_key=f"{other},{KEY}") as store:
        got = await store.get_resources(update.resources_id)
        assert got is not None and got.resources["llm"].api_key.get_secret_value() == SECRET


def test_invalid_key_names_the_variable() -> None:
    with pytest.raises(InvalidRequestError, match="AGL_ENCRYPTION_KEY"):
        SqlStore("sqlite:///:memory:", encryption_key="not-a-fernet-key")


class _Vault(BaseModel):
    token: str = Field(json_schema_extra={"secret": True})
    label: str = "public"


class _Custom(BaseModel):
    password: str | None = Field(default=None, json_schema_extra={"secret": True})
    vault: _Vault
    note: str = ""


def test_any_field_marked_secret_is_sealed_nested_too() -> None:
    box = SecretBox(KEY)
    data = seal_model(_Custom(password="p4ss", vault=_Vault(token="t0k")), box, "resource 'c'")
    assert "p4ss" not in str(data) and "t0k" not in str(data) and data["vault"]["label"] == "public"
    assert unseal(data, box) == {"password": "p4ss", "vault": {"token": "t0k", "label": "public"}, "note": ""}
