"""Settings of the MongoDB store, from the environment, validated."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentlightning_core.errors import InvalidRequestError

DEFAULT_DATABASE = "agentlightning"


class MongoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    mongodb_database: str | None = Field(
        default=None, min_length=1, max_length=63, description="database when the URL names none"
    )


def load_mongo_settings() -> MongoSettings:
    try:
        return MongoSettings()
    except ValidationError as exc:
        problems = [f"{str(e['loc'][0]).upper()}={e.get('input')!r}: {e['msg']}" for e in exc.errors()]
        raise InvalidRequestError("invalid MongoDB store setting(s): " + "; ".join(problems)) from None


def database_name(url: str, settings: MongoSettings) -> str:
    """The database named in the URL path (``mongodb://host/db``), else ``MONGODB_DATABASE``,
    else ``agentlightning``. Read without resolving ``mongodb+srv`` hosts (no DNS at parse time)."""
    path = urlsplit(url).path.lstrip("/")
    return path or settings.mongodb_database or DEFAULT_DATABASE
