"""Core settings from the environment, validated (a bad value names the variable).

Plugins keep their own settings classes for their own variables (``DB_POOL_*`` in the sql
plugin, ``RABBITMQ_*`` in the rabbitmq plugin, ...); this class holds what the core reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import InvalidRequestError

#: heartbeat limit (seconds) a store applies to a rollout whose config sets no ``unresponsive_seconds``
DEFAULT_UNRESPONSIVE_SECONDS = 300.0

#: values of ``AGL_DEFAULT_UNRESPONSIVE_SECONDS`` that turn the default limit off
UNRESPONSIVE_LIMIT_OFF = frozenset({"0", "off", "none", "never"})


class StoreSettings(BaseSettings):
    """What every store reads when it is built; on its own so that an unrelated bad variable
    cannot stop a store from being made."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    agl_default_unresponsive_seconds: float | None = Field(
        default=DEFAULT_UNRESPONSIVE_SECONDS,
        gt=0,
        description=(
            "seconds without a heartbeat after which the watchdog marks an attempt unresponsive "
            "when its rollout's config sets no unresponsive_seconds; 0, off, none or never: no limit"
        ),
    )

    @field_validator("agl_default_unresponsive_seconds", mode="before")
    @classmethod
    def _opt_out(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower()
            if not word:  # set but empty: as if unset, the limit stays on
                return DEFAULT_UNRESPONSIVE_SECONDS
            if word in UNRESPONSIVE_LIMIT_OFF or _is_zero(word):
                return None
        elif value == 0 and not isinstance(value, bool):
            return None
        return value


def _is_zero(word: str) -> bool:
    try:
        return float(word) == 0
    except ValueError:
        return False


class CoreSettings(StoreSettings):
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


def default_unresponsive_seconds() -> float | None:
    """``AGL_DEFAULT_UNRESPONSIVE_SECONDS`` read now: 300 s unless set; ``None`` when turned off."""
    return StoreSettings().agl_default_unresponsive_seconds


def settings_error(
    exc: ValidationError,
    what: str,
    *,
    variable: Callable[[str], str] = str.upper,
    secret: frozenset[str] = frozenset(),
) -> InvalidRequestError:
    """pydantic-settings' error as one naming each variable as the operator wrote it.

    pydantic names only the field (``port``); an operator set ``RABBITMQ_PORT``. ``variable``
    maps a field to its variable; values of fields in ``secret`` are shown as ``***``.
    """
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        shown = "***" if field in secret else repr(error.get("input"))
        problems.append(f"{variable(field)}={shown}: {error['msg']}")
    return InvalidRequestError(
        f"invalid {what} setting(s): " + "; ".join(problems) + " (fix or unset the variable)"
    )
