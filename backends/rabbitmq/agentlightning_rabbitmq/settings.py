"""Settings of the RabbitMQ bus from ``RABBITMQ_*`` variables, validated (errors name the variable)."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentlightning_core.settings import settings_error


class RabbitMQSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RABBITMQ_", case_sensitive=False, extra="ignore")

    host: str = Field(default="localhost", min_length=1, description="broker host (RABBITMQ_HOST)")
    port: int = Field(default=5672, ge=1, le=65535, description="AMQP port (RABBITMQ_PORT)")
    username: str = Field(default="guest", min_length=1, description="RABBITMQ_USERNAME")
    password: SecretStr = Field(default=SecretStr("guest"), description="RABBITMQ_PASSWORD")
    vhost: str = Field(default="/", min_length=1, description="virtual host (RABBITMQ_VHOST)")
    exchange: str = Field(
        default="agentlightning.events",
        min_length=1,
        max_length=200,
        description="topic exchange the bus publishes to (RABBITMQ_EXCHANGE); deployments or tests "
        "sharing a broker each take their own",
    )
    retry_seconds: float = Field(
        default=10.0,
        ge=0,
        description="how long publish keeps retrying while the broker is unreachable (RABBITMQ_RETRY_SECONDS)",
    )
    connect_timeout: float = Field(default=5.0, gt=0, description="RABBITMQ_CONNECT_TIMEOUT, seconds")
    prefetch: int = Field(
        default=1000,
        ge=1,
        le=65535,
        description="unacknowledged messages a durable subscription may hold (RABBITMQ_PREFETCH)",
    )

    @field_validator("exchange")
    @classmethod
    def _exchange_name(cls, value: str) -> str:
        if value.startswith("amq.") or any(c.isspace() for c in value):
            raise ValueError(
                f"RABBITMQ_EXCHANGE={value!r}: names starting with 'amq.' are reserved by RabbitMQ and "
                "whitespace is not allowed (e.g. agentlightning.events)"
            )
        return value

    def url(self) -> str:
        """The AMQP URL (password included: never log it; ``safe_url`` is for messages)."""
        password = quote(self.password.get_secret_value(), safe="")
        return f"amqp://{quote(self.username, safe='')}:{password}@{self.host}:{self.port}/{quote(self.vhost, safe='')}"

    def safe_url(self) -> str:
        return f"amqp://{self.username}@{self.host}:{self.port}/{quote(self.vhost, safe='')}"


def load_rabbitmq_settings() -> RabbitMQSettings:
    """Read ``RABBITMQ_*`` now; a bad value fails naming the variable as the operator wrote it
    (pydantic's own error names only the field, ``port``). A password is never echoed."""
    try:
        return RabbitMQSettings()
    except ValidationError as exc:
        raise settings_error(
            exc,
            "rabbitmq bus",
            variable=lambda field: f"RABBITMQ_{field.upper()}",
            secret=frozenset({"password"}),
        ) from None
