"""What the RabbitMQ bus promises beyond the shared suite: no history (said clearly), repeats of an
event id dropped, literal topics only, validated settings, wrong credentials named."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from agentlightning_rabbitmq import RabbitMQEventBus, RabbitMQSettings
from agentlightning_rabbitmq.settings import load_rabbitmq_settings
from pydantic import ValidationError

from agentlightning_core.bus import open_event_bus
from agentlightning_core.errors import BackendUnavailableError, InvalidRequestError, NotSupportedError
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.types import Event

HOST = os.environ.get("AGL_TEST_RABBITMQ_HOST", "127.0.0.1")


@pytest.fixture
async def bus() -> AsyncIterator[RabbitMQEventBus]:
    settings = RabbitMQSettings(host=HOST, exchange=f"agl-test.{uuid.uuid4().hex[:12]}")
    async with RabbitMQEventBus(settings) as b:
        yield b
        await b.delete_exchange()


async def test_history_is_refused_with_a_pointer_to_redis(bus: RabbitMQEventBus) -> None:
    with pytest.raises(NotSupportedError, match="not supported by the rabbitmq backend; use redis"):
        await bus.get_event_history("t")
    with pytest.raises(NotSupportedError, match="not supported by the rabbitmq backend; use redis"):
        await bus.clear_event_history("t")


async def test_a_resent_event_is_handed_out_once(bus: RabbitMQEventBus) -> None:
    async with bus.subscribe(["t"]) as sub:
        event = Event(topic="t", type="x", payload={"n": 1})
        await bus.publish(event)
        await bus.publish(event)  # what a retry after a lost confirm does
        await bus.emit("t", "after", {})
        got = [await sub.get(timeout=5), await sub.get(timeout=5)]
        assert [e.type for e in got if e is not None] == ["x", "after"]
        assert sub.duplicates == 1


async def test_wildcard_topic_words_are_refused(bus: RabbitMQEventBus) -> None:
    with pytest.raises(InvalidRequestError, match="wildcard"):
        bus.subscribe(["rollouts.#"])
    # a star inside a word is an ordinary character
    async with bus.subscribe(["a*b"]) as sub:
        await bus.emit("a*b", "x", {})
        assert await sub.get(timeout=5) is not None


async def test_routing_key_limit_is_refused_before_sending(bus: RabbitMQEventBus) -> None:
    with pytest.raises(InvalidRequestError, match="255"):
        await bus.emit("é" * 150, "x", {})


async def test_wrong_password_is_reported_as_unavailable() -> None:
    settings = RabbitMQSettings(host=HOST, password="definitely-wrong", connect_timeout=3)
    with pytest.raises(BackendUnavailableError, match="RABBITMQ_PASSWORD"):
        await RabbitMQEventBus(settings).start()


def test_settings_name_the_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RABBITMQ_PORT", "99999")
    with pytest.raises(ValidationError, match="port"):
        RabbitMQSettings()
    monkeypatch.setenv("RABBITMQ_PORT", "5672")
    monkeypatch.setenv("RABBITMQ_EXCHANGE", "amq.mine")
    with pytest.raises(ValidationError, match="RABBITMQ_EXCHANGE"):
        RabbitMQSettings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("RABBITMQ_PORT", "99999"), ("RABBITMQ_PREFETCH", "lots"), ("RABBITMQ_EXCHANGE", "amq.mine")],
)
async def test_bad_environment_fails_naming_the_variable(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an operator sees: the variable as they wrote it, not pydantic's field name (``port``)."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidRequestError, match=f"{variable}={value!r}"):
        RabbitMQEventBus.from_env()
    with pytest.raises(InvalidRequestError, match=variable):
        await open_event_bus("rabbitmq", manager=AglPluginManager())


def test_every_connection_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"HOST": "mq.internal", "PORT": "5673", "USERNAME": "agl user", "PASSWORD": "p@ss/word"}
    for name, value in {**values, "VHOST": "/agl"}.items():
        monkeypatch.setenv(f"RABBITMQ_{name}", value)
    settings = load_rabbitmq_settings()
    assert (settings.host, settings.port, settings.username, settings.vhost) == (
        "mq.internal",
        5673,
        "agl user",
        "/agl",
    )
    assert settings.url() == "amqp://agl%20user:p%40ss%2Fword@mq.internal:5673/%2Fagl"  # quoted, not split


async def test_vhost_from_the_environment_reaches_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local broker has only ``/``: a vhost it lacks is refused by the broker, naming it."""
    monkeypatch.setenv("RABBITMQ_HOST", HOST)
    monkeypatch.setenv("RABBITMQ_VHOST", "agl-no-such-vhost")
    monkeypatch.setenv("RABBITMQ_CONNECT_TIMEOUT", "3")
    with pytest.raises(BackendUnavailableError, match="agl-no-such-vhost"):
        await open_event_bus("rabbitmq", manager=AglPluginManager())


def test_password_never_shows_in_repr_or_safe_url() -> None:
    settings = RabbitMQSettings(password="s3cret")
    assert "s3cret" not in repr(settings) and "s3cret" not in settings.safe_url()
    assert "s3cret" in settings.url()
