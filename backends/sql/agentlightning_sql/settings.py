"""Settings of the SQL store, from the environment, validated.

A bad value fails with an error that names the environment variable, its value and what is
allowed, so an operator can fix the deployment without reading code.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentlightning_core.settings import settings_error


class SqlSettings(BaseSettings):
    """Pool settings (defaults as documented in the README) and the encryption key."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    db_pool_size: int = Field(default=10, ge=1, description="connections kept open (readers on SQLite)")
    db_max_overflow: int = Field(default=20, ge=0, description="extra connections under load")
    db_pool_timeout: float = Field(default=30.0, gt=0, description="seconds to wait for a connection")
    db_pool_recycle: int = Field(
        default=3600, ge=-1, description="reconnect after this many seconds; -1 never"
    )
    db_pool_pre_ping: bool = Field(default=True, description="test a connection before handing it out")
    agl_encryption_key: SecretStr | None = Field(
        default=None, description="Fernet key(s), comma-separated; the first encrypts, all decrypt"
    )


def load_sql_settings() -> SqlSettings:
    """Read the environment now; turn pydantic's error into one naming the variable."""
    try:
        return SqlSettings()
    except ValidationError as exc:
        raise settings_error(exc, "SQL store") from None
