"""Core settings from the environment, validated (a bad value names the variable).

Plugins keep their own settings classes for their own variables (``DB_POOL_*`` in the sql
plugin, ``RABBITMQ_*`` in the rabbitmq plugin, ...); this class holds what the core reads.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str | None = Field(
        default=None, description="store URL; unset → SQLite file if installed, else memory"
    )
    event_bus_backend: str | None = Field(
        default=None, description="memory | redis | rabbitmq; unset → redis if it answers"
    )
    redis_url: str = Field(default="redis://localhost:6379")
    agl_server_host: str = Field(default="127.0.0.1")
    agl_server_port: int = Field(default=4747, ge=0, le=65535)
    agl_server_token: str | None = Field(
        default=None, description="bearer token every endpoint but /health requires"
    )
    agl_max_body_bytes: int = Field(
        default=16 * 1024 * 1024, gt=0, description="request body limit of the server"
    )
    agent_lightning_pii_masking_enabled: bool = True


def load_settings() -> CoreSettings:
    """Read the environment now (tests change it between calls)."""
    return CoreSettings()
