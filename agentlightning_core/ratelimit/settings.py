"""Rate limiting settings from the environment (``RATE_LIMIT_*``), validated.

A limit is written ``"N/S"``: at most N requests in any S seconds (``"100/60"``), or ``"off"``.
Per-route overrides (``RATE_LIMIT_ROUTES``) and per-provider limits of the LLM proxy
(``RATE_LIMIT_PROVIDERS``) are JSON objects::

    RATE_LIMIT_ROUTES='{"POST /v1/spans": "2000/60", "/v1/rollouts/{rollout_id}": "off"}'
    RATE_LIMIT_PROVIDERS='{"openai": "500/60", "*": "100/60"}'

A route key is a path template as the OpenAPI spec writes it, with an optional method in front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*s?\s*$")
ROUTE_KEY = re.compile(r"^(?:(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) )?(/\S*)$")


@dataclass(frozen=True)
class Limit:
    """At most ``max_requests`` in any window of ``window_seconds``."""

    max_requests: int
    window_seconds: int

    def __str__(self) -> str:
        return f"{self.max_requests}/{self.window_seconds}s"


def parse_limit(text: str, where: str) -> Limit | None:
    """``"100/60"`` → Limit(100, 60); ``"off"`` → None; anything else names ``where`` and the fix."""
    if text.strip().lower() in ("off", "none", "unlimited"):
        return None
    match = LIMIT.match(text)
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise ValueError(
            f"{where}: {text!r} is not a limit; write 'N/S' (at most N requests in any S seconds, both "
            "whole numbers >= 1, e.g. '100/60') or 'off'"
        )
    return Limit(int(match.group(1)), int(match.group(2)))


def parse_routes(routes: dict[str, str]) -> dict[tuple[str | None, str], Limit | None]:
    """``{"POST /v1/x": "10/60"}`` → ``{("POST", "/v1/x"): Limit(10, 60)}``; errors name the entry."""
    out: dict[tuple[str | None, str], Limit | None] = {}
    for key, limit in routes.items():
        match = ROUTE_KEY.match(key)
        if not match:
            raise ValueError(
                f"RATE_LIMIT_ROUTES: key {key!r} is not a route; write '/path/{{param}}' or 'POST /path'"
            )
        out[(match.group(1), match.group(2))] = parse_limit(limit, f"RATE_LIMIT_ROUTES[{key!r}]")
    return out


class RateLimitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RATE_LIMIT_", case_sensitive=False, extra="ignore")

    enabled: bool = Field(default=True, description="RATE_LIMIT_ENABLED: false turns every limit off")
    max_requests: int = Field(
        default=6000, ge=1, description="RATE_LIMIT_MAX_REQUESTS: per client, in any window"
    )
    window_seconds: int = Field(default=60, ge=1, description="RATE_LIMIT_WINDOW_SECONDS")
    strategy: Literal["moving-window", "sliding-window-counter"] = Field(
        default="moving-window",
        description="moving-window: exact, keeps one timestamp per admitted request; "
        "sliding-window-counter: two counters per key, approximate (see docs/security.md)",
    )
    storage_url: str = Field(
        default="memory://",
        description="RATE_LIMIT_STORAGE_URL: memory:// (one process) or redis://host:port/db (shared)",
    )
    key_prefix: str = Field(default="agl-ratelimit", min_length=1, description="Redis key prefix")
    key_by: Literal["token", "ip", "token+ip"] = Field(
        default="token",
        description="who a limit counts: the bearer token (the client IP when none is sent), the IP, or both",
    )
    trust_forwarded_for: bool = Field(
        default=False,
        description="take the client IP from X-Forwarded-For (only behind a proxy you run)",
    )
    routes: dict[str, str] = Field(default_factory=dict, description="RATE_LIMIT_ROUTES (JSON)")
    providers: dict[str, str] = Field(default_factory=dict, description="RATE_LIMIT_PROVIDERS (JSON)")
    provider_max_wait_seconds: float = Field(
        default=10.0,
        ge=0,
        description="how long a proxied LLM call waits for its provider's limit before a 429",
    )

    @field_validator("storage_url")
    @classmethod
    def _storage_url(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
            raise ValueError(
                f"RATE_LIMIT_STORAGE_URL: {value!r} is not supported; use memory:// or redis://host:port/db"
            )
        return value

    @field_validator("routes")
    @classmethod
    def _routes(cls, value: dict[str, str]) -> dict[str, str]:
        parse_routes(value)
        return value

    @field_validator("providers")
    @classmethod
    def _providers(cls, value: dict[str, str]) -> dict[str, str]:
        for key, limit in value.items():
            parse_limit(limit, f"RATE_LIMIT_PROVIDERS[{key!r}]")
        return value

    @property
    def default_limit(self) -> Limit:
        return Limit(self.max_requests, self.window_seconds)

    def route_limits(self) -> dict[tuple[str | None, str], Limit | None]:
        """``{(method or None, path template): limit or None (off)}``."""
        return parse_routes(self.routes)

    def provider_limit(self, provider: str) -> Limit | None:
        """The proxy's limit for ``provider``: its own entry, else ``"*"``, else none."""
        text = self.providers.get(provider, self.providers.get("*"))
        return None if text is None else parse_limit(text, f"RATE_LIMIT_PROVIDERS[{provider!r}]")


def load_rate_limit_settings() -> RateLimitSettings:
    return RateLimitSettings()
