"""Settings of the Redis bus, read from the environment and validated (a bad value names its variable)."""

from __future__ import annotations

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentlightning_core.settings import settings_error


class RedisBusSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    redis_url: str = Field(default="redis://localhost:6379", description="server to use (REDIS_URL)")
    redis_bus_prefix: str = Field(
        default="agl:events",
        min_length=1,
        max_length=200,
        description="key prefix of every stream (REDIS_BUS_PREFIX); separate deployments or tests "
        "sharing one server by giving each its own",
    )
    redis_bus_history: int = Field(
        default=10_000,
        ge=1,
        le=100_000_000,
        description="events kept per topic (REDIS_BUS_HISTORY); older ones are trimmed on publish",
    )
    redis_bus_retry_seconds: float = Field(
        default=10.0,
        ge=0,
        description="how long publish and history calls keep retrying while Redis is unreachable "
        "before raising BackendUnavailableError (REDIS_BUS_RETRY_SECONDS)",
    )
    redis_bus_connect_timeout: float = Field(
        default=2.0, gt=0, description="seconds to wait for a TCP connection (REDIS_BUS_CONNECT_TIMEOUT)"
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"REDIS_URL={value!r} must start with redis://, rediss:// or unix:// "
                "(e.g. redis://localhost:6379/0)"
            )
        return value

    @field_validator("redis_bus_prefix")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        if any(c.isspace() for c in value):
            raise ValueError(f"REDIS_BUS_PREFIX={value!r} must not contain whitespace (e.g. agl:events)")
        return value


def load_redis_bus_settings() -> RedisBusSettings:
    """Read ``REDIS_URL`` and ``REDIS_BUS_*`` now; a bad value fails naming the variable as the
    operator wrote it (pydantic's own error names only the field, ``redis_bus_history``)."""
    try:
        return RedisBusSettings()
    except ValidationError as exc:
        raise settings_error(exc, "redis bus") from None
